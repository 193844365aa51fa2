package experiment

import "time"

// Distributed is the coordination record of a load task that several
// generator pods (an Indexed Job) run together in the latest loop: the
// pods waiting for the start, the common start of the one global schedule,
// and each pod's part, merged by pod 0 once every part is in. It lives in
// the result only while the task runs; pod 0 then keeps the per-pod
// summaries in the task's load stats (LoadStats.Pods) and drops the parts.
type Distributed struct {
	// Task is the load task's position in the spec; Loop the loop it ran in.
	Task int `json:"task"`
	Loop int `json:"loop"`
	// Pods is how many generator pods share the task.
	Pods int `json:"pods"`
	// Ready lists the pods, by index, that are ready for the start.
	Ready []int `json:"ready,omitempty"`
	// Start is the common start of the schedule, set by pod 0 once every
	// pod is ready.
	Start *time.Time `json:"start,omitempty"`
	// Parts are the pods' measurements, in the order they arrived.
	Parts []LoadPart `json:"parts,omitempty"`
}

// LoadPart is what one generator pod measured of a distributed load task:
// its counters, its health and its HDR histograms (V2 compressed, base64),
// from which pod 0 merges the run exactly.
type LoadPart struct {
	Pod int `json:"pod"`
	// Host is the pod's name.
	Host string `json:"host,omitempty"`
	// ElapsedNs is how long the pod's run took, from the common start.
	ElapsedNs          int64   `json:"elapsedNs"`
	Sent               int64   `json:"sent"`
	Delayed            int64   `json:"delayed,omitempty"`
	Unsent             int64   `json:"unsent,omitempty"`
	UnsentHeld         int64   `json:"unsentHeld,omitempty"`
	Ignored            int64   `json:"ignored,omitempty"`
	IntendedRate       float64 `json:"intendedRate,omitempty"`
	AchievedRate       float64 `json:"achievedRate"`
	Connections        int     `json:"connections,omitempty"`
	InitialConnections int     `json:"initialConnections,omitempty"`
	MaxConnections     int     `json:"maxConnections,omitempty"`
	LatenessNs         int64   `json:"latenessNs,omitempty"`
	AllowedNs          int64   `json:"allowedNs,omitempty"`
	GeneratorLag       string  `json:"generatorLag,omitempty"`
	ConnectionBound    bool    `json:"connectionBound,omitempty"`
	Warning            string  `json:"warning,omitempty"`
	Saturated          bool    `json:"saturated,omitempty"`
	// SaturationReason says why the pod fell behind its share.
	SaturationReason string  `json:"saturationReason,omitempty"`
	CPUUtilization   float64 `json:"cpuUtilization,omitempty"`
	CPUWait          float64 `json:"cpuWait,omitempty"`
	Stopped          string  `json:"stopped,omitempty"`
	// StartLagMs is how long after the common start the pod was ready to
	// send (0 when it was ready before): the start skew.
	StartLagMs float64 `json:"startLagMs,omitempty"`
	// Error says why the pod could not run its share; pod 0 then fails
	// the task with it.
	Error string `json:"error,omitempty"`
	// Endpoints are the pod's measurements per endpoint of the task.
	Endpoints []PartStats `json:"endpoints,omitempty"`
}

// PartStats are one pod's counters and histograms for one endpoint.
type PartStats struct {
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors,omitempty"`
	TimedOut int64 `json:"timedOut,omitempty"`
	Replayed int64 `json:"replayed,omitempty"`
	// the endpoint's share of the pod's delayed and unsent requests
	Delayed    int64            `json:"delayed,omitempty"`
	Unsent     int64            `json:"unsent,omitempty"`
	UnsentHeld int64            `json:"unsentHeld,omitempty"`
	Codes      map[string]int64 `json:"codes,omitempty"`
	Latency    string           `json:"latency,omitempty"`
	Service    string           `json:"service,omitempty"`
}

// PodLoad is one generator pod's share of a distributed load run and its
// health, kept in the run's LoadStats for k report.
type PodLoad struct {
	Pod          int     `json:"pod"`
	Host         string  `json:"host,omitempty"`
	Requests     int64   `json:"requests"`
	Errors       int64   `json:"errors"`
	IntendedRate float64 `json:"intendedRate,omitempty"`
	AchievedRate float64 `json:"achievedRate"`
	LatenessMs   float64 `json:"latenessMs,omitempty"`
	StartLagMs   float64 `json:"startLagMs,omitempty"`
	// LatencyP99Ms is the 99th percentile of the pod's own latency.
	LatencyP99Ms     float64 `json:"latencyP99Ms,omitempty"`
	CPUUtilization   float64 `json:"cpuUtilization,omitempty"`
	ConnectionBound  bool    `json:"connectionBound,omitempty"`
	Saturated        bool    `json:"saturated,omitempty"`
	SaturationReason string  `json:"saturationReason,omitempty"`
}

// DistributedTask returns the coordination record of task i in loop, or nil.
func (r *Result) DistributedTask(i, loop int) *Distributed {
	if r == nil {
		return nil
	}
	for j := range r.Distributed {
		if d := &r.Distributed[j]; d.Task == i && d.Loop == loop {
			return d
		}
	}
	return nil
}
