package report

import (
	"fmt"
	"strconv"

	"iter8.tools/iter8/internal/experiment"
)

// Pod is one load generator pod's share of a distributed run (a load task
// with replicas) and its health.
type Pod struct {
	Pod          int     `json:"pod"`
	Host         string  `json:"host,omitempty"`
	Requests     int64   `json:"requests"`
	Errors       int64   `json:"errors"`
	IntendedRate float64 `json:"intendedRate,omitempty"`
	AchievedRate float64 `json:"achievedRate"`
	// StartLagMs is how long after the common start the pod was ready;
	// LatenessMs the median lateness of its requests.
	StartLagMs       float64 `json:"startLagMs,omitempty"`
	LatenessMs       float64 `json:"latenessMs,omitempty"`
	LatencyP99Ms     float64 `json:"latencyP99Ms,omitempty"`
	CPUUtilization   float64 `json:"cpuUtilization,omitempty"`
	ConnectionBound  bool    `json:"connectionBound,omitempty"`
	Saturated        bool    `json:"saturated"`
	SaturationReason string  `json:"saturationReason,omitempty"`
}

// pods converts the stored per-pod load.
func pods(in []experiment.PodLoad) []Pod {
	if len(in) == 0 {
		return nil
	}
	out := make([]Pod, len(in))
	for i, p := range in {
		out[i] = Pod{Pod: p.Pod, Host: p.Host, Requests: p.Requests, Errors: p.Errors,
			IntendedRate: p.IntendedRate, AchievedRate: p.AchievedRate, StartLagMs: p.StartLagMs,
			LatenessMs: p.LatenessMs, LatencyP99Ms: p.LatencyP99Ms, CPUUtilization: p.CPUUtilization,
			ConnectionBound: p.ConnectionBound, Saturated: p.Saturated, SaturationReason: p.SaturationReason}
	}
	return out
}

// Health names a pod's health: ok, connection-bound or saturated.
func (p Pod) Health() string {
	switch {
	case p.Saturated:
		return "saturated"
	case p.ConnectionBound:
		return "connection-bound"
	}
	return "ok"
}

// podRows is the text table of every distributed load's pods.
func podRows(r *Report) [][]cell {
	rows := [][]cell{texts("Provider", "Pod", "Name", "Requests", "Errors", "Rate (intended / achieved)", "Start lag", "Lateness", "p99 latency", "CPU", "Health")}
	for _, l := range r.Load {
		for _, p := range l.Pods {
			intended := "-"
			if p.IntendedRate > 0 {
				intended = textValue(p.IntendedRate)
			}
			row := texts(l.Provider, strconv.Itoa(p.Pod), dash(p.Host), strconv.FormatInt(p.Requests, 10), strconv.FormatInt(p.Errors, 10),
				intended+" / "+textValue(p.AchievedRate)+" req/s", textValue(p.StartLagMs)+" ms", textValue(p.LatenessMs)+" ms",
				textValue(p.LatencyP99Ms)+" ms", fmt.Sprintf("%.1f%%", 100*p.CPUUtilization), p.Health())
			if p.Saturated {
				row[10].style = yellow
			}
			if p.Errors > 0 {
				row[4].style = red
			}
			rows = append(rows, row)
		}
	}
	if len(rows) == 1 {
		return nil
	}
	return rows
}

// podNotes says why pods were saturated, and whether it said anything.
func (p *printer) podNotes(r *Report) bool {
	said := false
	for _, l := range r.Load {
		for _, pod := range l.Pods {
			if pod.Saturated {
				p.wrapped("SATURATED POD: ", fmt.Sprintf("%s: pod %d (%s): %s", l.Provider, pod.Pod, dash(pod.Host), pod.SaturationReason), yellow)
				said = true
			}
		}
	}
	return said
}

// podView is a pod's row of the HTML report.
type podView struct {
	Pod
	Intended, Achieved, StartLag, Lateness, P99, CPU string
}

func podViews(ps []Pod) []podView {
	out := make([]podView, len(ps))
	for i, p := range ps {
		v := podView{Pod: p, Intended: "–", Achieved: num(p.AchievedRate) + " req/s", StartLag: num(p.StartLagMs) + " ms",
			Lateness: num(p.LatenessMs) + " ms", P99: num(p.LatencyP99Ms) + " ms",
			CPU: strconv.FormatFloat(100*p.CPUUtilization, 'f', 1, 64) + "%"}
		if p.IntendedRate > 0 {
			v.Intended = num(p.IntendedRate) + " req/s"
		}
		out[i] = v
	}
	return out
}
