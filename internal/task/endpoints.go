package task

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"

	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/metrics"
)

// mixEndpoint is one endpoint of a load task, decoded: its weight in a
// mix, or (endpoints run in turn) the budget it sets for its own run.
type mixEndpoint[T any] struct {
	id     string
	in     T
	weight float64
	own    budget
}

// Endpoints run in one of two ways. Without weights, as in the original,
// each endpoint runs in turn with a budget of its own: its numRequests (or
// total), duration, rate, connections (or concurrency), timeout, extra
// percentiles and (http) allowInitialErrors, each inherited from the top
// level unless set on the endpoint. With a weight on every endpoint, they run
// together as one mix under the task's budget, each request going to an
// endpoint in proportion to its weight.
type (
	endpointInputs struct {
		requestInputs
		Weight      *float64         `json:"weight,omitempty"`
		NumRequests *int64           `json:"numRequests,omitempty"`
		Duration    *inputs.Duration `json:"duration,omitempty"`
		QPS         *float64         `json:"qps,omitempty"`
		Connections *int             `json:"connections,omitempty"`
		Timeout     *inputs.Duration `json:"timeout,omitempty"`
		Percentiles []float64        `json:"percentiles,omitempty"`
		// AllowInitialErrors is the http endpoint's own (see httpInputs).
		AllowInitialErrors *bool `json:"allowInitialErrors,omitempty"`
		endpointWarmup
	}
	grpcEndpointInputs struct {
		grpcCallInputs
		Weight      *float64         `json:"weight,omitempty"`
		Total       *int64           `json:"total,omitempty"`
		Duration    *inputs.Duration `json:"duration,omitempty"`
		RPS         *float64         `json:"rps,omitempty"`
		Concurrency *int             `json:"concurrency,omitempty"`
		Timeout     *inputs.Duration `json:"timeout,omitempty"`
		Percentiles []float64        `json:"percentiles,omitempty"`
		endpointWarmup
	}
	// endpointWarmup are chart values the original's docs list for an
	// endpoint too ("all the parameters described above"); its chart and
	// task ignored them there, and so does iter8.
	endpointWarmup struct {
		WarmupNumRequests any `json:"warmupNumRequests,omitempty"`
		WarmupDuration    any `json:"warmupDuration,omitempty"`
	}
)

// budget is what an endpoint run in turn may set for its own run; nil
// fields are inherited from the task's top level.
type budget struct {
	requests    *int64
	duration    *inputs.Duration
	rate        *float64
	connections *int
	timeout     *inputs.Duration
	// percentiles are recorded for the endpoint besides the defaults;
	// allowInitialErrors is an http endpoint's own.
	percentiles        []float64
	allowInitialErrors *bool
}

// budgetNames names a protocol's budget inputs.
type budgetNames struct{ requests, rate, connections string }

var (
	httpBudget = budgetNames{"numRequests", "qps", "connections"}
	grpcBudget = budgetNames{"total", "rps", "concurrency"}
)

// share is how an endpoint takes part in a task's load: its weight in a
// mix, if given, and the budget it sets for its own run.
type share struct {
	weight *float64
	own    budget
	names  budgetNames
}

func (e *endpointInputs) split() (requestInputs, share) {
	return e.requestInputs, share{e.Weight, budget{e.NumRequests, e.Duration, e.QPS, e.Connections, e.Timeout, e.Percentiles, e.AllowInitialErrors}, httpBudget}
}

func (e *grpcEndpointInputs) split() (grpcCallInputs, share) {
	total := e.Total
	if e.Duration != nil {
		total = nil // as ghz: a duration wins over total
	}
	return e.grpcCallInputs, share{e.Weight, budget{total, e.Duration, e.RPS, e.Concurrency, e.Timeout, e.Percentiles, nil}, grpcBudget}
}

// set lists the budget inputs given, by name.
func (b budget) set(n budgetNames) map[string]any {
	out := map[string]any{}
	if b.requests != nil {
		out[n.requests] = *b.requests
	}
	if b.duration != nil {
		out["duration"] = b.duration.String()
	}
	if b.rate != nil {
		out[n.rate] = *b.rate
	}
	if b.connections != nil {
		out[n.connections] = *b.connections
	}
	if b.timeout != nil {
		out["timeout"] = b.timeout.String()
	}
	if len(b.percentiles) > 0 {
		out["percentiles"] = b.percentiles
	}
	if b.allowInitialErrors != nil {
		out["allowInitialErrors"] = *b.allowInitialErrors
	}
	return out
}

// check validates the budget an endpoint sets; prefix names the endpoint.
func (b budget) check(prefix string, n budgetNames) error {
	if b.requests != nil && (*b.requests < 1 || *b.requests > load.MaxRequestCount) {
		return &inputs.FieldError{Field: prefix + n.requests, Value: *b.requests, Expected: fmt.Sprintf("a whole number from 1 to %d", int64(load.MaxRequestCount))}
	}
	if d := b.duration; d != nil && (d.Duration <= 0 || d.Duration > load.MaxRunDuration) {
		return &inputs.FieldError{Field: prefix + "duration", Value: d.String(), Expected: "a positive duration of at most 168h, such as 30s"}
	}
	if err := checkRate(prefix+n.rate, b.rate, "a rate >= 0 (0: as fast as responses return)"); err != nil {
		return err
	}
	if err := checkPositive(prefix+n.connections, b.connections); err != nil {
		return err
	}
	if b.timeout != nil && b.timeout.Duration <= 0 {
		return &inputs.FieldError{Field: prefix + "timeout", Value: b.timeout.String(), Expected: "a positive duration such as 10s"}
	}
	for _, p := range b.percentiles {
		if p <= 0 || p > 100 || math.IsNaN(p) {
			return &inputs.FieldError{Field: prefix + "percentiles", Value: p, Expected: "percentiles greater than 0 and at most 100"}
		}
	}
	return checkRanges(prefix+n.rate, b.rate, map[string]*int{prefix + n.connections: b.connections}, prefix+n.requests, nil, nil)
}

// request is a protocol's request inputs, a struct: an endpoint's inherit
// the task's top-level ones (see inherit), and each resolved request is
// checked.
type request interface {
	// check validates resolved inputs; prefix names the endpoint.
	check(prefix string) error
}

// inherit fills an endpoint's unset inputs from the top level's. An input
// is unset when zero, or an empty list or map. Inputs tagged
// inherit:"<choice>" are alternatives (payloadStr, payloadFile, payloadURL):
// they are inherited together, when the endpoint sets none of them. Maps
// (headers, metadata) merge, the endpoint's entries winning.
func inherit[R any](ep, top R) R {
	out := ep
	v, tv := reflect.ValueOf(&out).Elem(), reflect.ValueOf(top)
	typ := v.Type()
	chosen := map[string]bool{}
	for i := range typ.NumField() {
		if c := typ.Field(i).Tag.Get("inherit"); c != "" && !unset(v.Field(i)) {
			chosen[c] = true
		}
	}
	for i := range typ.NumField() {
		f, t := v.Field(i), tv.Field(i)
		c := typ.Field(i).Tag.Get("inherit")
		switch {
		case f.Kind() == reflect.Map:
			if t.Len() == 0 {
				break // nothing to merge: the endpoint's map stands
			}
			m := reflect.MakeMapWithSize(f.Type(), t.Len()+f.Len())
			for _, src := range []reflect.Value{t, f} {
				for it := src.MapRange(); it.Next(); {
					m.SetMapIndex(it.Key(), it.Value())
				}
			}
			f.Set(m)
		case c != "":
			if !chosen[c] {
				f.Set(t)
			}
		case unset(f):
			f.Set(t)
		}
	}
	return out
}

func unset(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return v.IsZero()
}

// resolveEndpoints returns the endpoints to load: the top-level request
// alone, or each endpoint with the top-level inputs as defaults; inTurn is
// set when the endpoints run in turn, each with its own budget (no
// weights). split returns a decoded endpoint's request inputs and share.
func resolveEndpoints[R request, T any](top R, raw map[string]map[string]any, provider string, runLevel []string, split func(*T) (R, share)) (eps []mixEndpoint[R], inTurn bool, err error) {
	if len(raw) == 0 {
		if err := top.check(""); err != nil {
			return nil, false, err
		}
		return []mixEndpoint[R]{{in: top, weight: 1}}, false, nil
	}
	eps, inTurn, err = decodeEndpoints(raw, provider, runLevel, split)
	if err != nil {
		return nil, false, err
	}
	for i, e := range eps {
		eps[i].in = inherit(e.in, top)
		if err := eps[i].in.check("endpoints." + e.id + "."); err != nil {
			return nil, false, err
		}
	}
	return eps, inTurn, nil
}

// decodeEndpoints decodes a load task's endpoints, sorted by name. Names must
// be usable in metric names (<provider>-<name>/...); the task's run-level
// inputs cannot be set per endpoint; each endpoint decodes strictly into T,
// errors naming endpoints.<name>.<field>. Weights go on every endpoint (a
// mix) or on none (in turn); a weighted endpoint takes no budget of its own.
func decodeEndpoints[R, T any](raw map[string]map[string]any, provider string, runLevel []string, split func(*T) (R, share)) ([]mixEndpoint[R], bool, error) {
	ids := slices.Sorted(maps.Keys(raw))
	out := make([]mixEndpoint[R], 0, len(ids))
	var weighted, unweighted string // the first endpoint of each kind
	for _, id := range ids {
		prefix := "endpoints." + id + "."
		if !metrics.ValidSegment(id) {
			return nil, false, &inputs.FieldError{Field: "endpoints", Value: id, Expected: "endpoint names made of letters, digits, '.', '_' and '-' (they become metric names " + provider + "-<name>/...)"}
		}
		for _, k := range runLevel {
			if v, ok := raw[id][k]; ok {
				return nil, false, &inputs.FieldError{Field: prefix + k, Value: v, Expected: "no value here: the task's " + k + " applies to every endpoint (set it at the top level)"}
			}
		}
		var e T
		if err := inputs.Decode(raw[id], &e); err != nil {
			var fe *inputs.FieldError
			if errors.As(err, &fe) {
				fe.Field = prefix + fe.Field
			}
			return nil, false, err
		}
		req, sh := split(&e)
		me := mixEndpoint[R]{id: id, in: req, weight: 1, own: sh.own}
		if sh.weight == nil {
			if unweighted == "" {
				unweighted = id
			}
			if err := sh.own.check(prefix, sh.names); err != nil {
				return nil, false, err
			}
		} else {
			if weighted == "" {
				weighted = id
			}
			me.weight = *sh.weight
			if w := me.weight; w <= 0 || math.IsNaN(w) || math.IsInf(w, 0) {
				return nil, false, &inputs.FieldError{Field: prefix + "weight", Value: w, Expected: "a positive number"}
			}
			set := sh.own.set(sh.names)
			for _, k := range slices.Sorted(maps.Keys(set)) {
				return nil, false, &inputs.FieldError{Field: prefix + k, Value: set[k], Expected: "no value here: weighted endpoints share the task's " + k + " as one mix (set it at the top level, or drop the weights to run each endpoint in turn with its own " + k + ")"}
			}
		}
		out = append(out, me)
	}
	if weighted != "" && unweighted != "" {
		return nil, false, &inputs.FieldError{Field: "endpoints." + unweighted + ".weight", Missing: true,
			Expected: fmt.Sprintf("a weight on every endpoint or on none, as endpoints.%s has one (with weights the endpoints share the task's load as one mix; without, each runs in turn with its own budget)", weighted)}
	}
	return out, weighted == "", nil
}
