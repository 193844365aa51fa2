package task

import (
	"errors"
	"maps"
	"math"
	"reflect"
	"slices"

	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/metrics"
)

// mixEndpoint is one endpoint of a load task's mix, decoded.
type mixEndpoint[T any] struct {
	id     string
	in     T
	weight float64
}

// The endpoints of a mix decode as their protocol's request inputs plus a
// weight, their share of the requests (default 1). The original ran
// endpoints one after another at their own rates; here they run together,
// and a per-endpoint rate (qps for http, rps for grpc) becomes the weight.
type (
	endpointInputs struct {
		requestInputs
		Weight *float64 `json:"weight,omitempty"`
		QPS    *float64 `json:"qps,omitempty"`
	}
	grpcEndpointInputs struct {
		grpcCallInputs
		Weight *float64 `json:"weight,omitempty"`
		RPS    *float64 `json:"rps,omitempty"`
	}
)

func (e *endpointInputs) split() (requestInputs, *float64) {
	return e.requestInputs, firstSet(e.Weight, e.QPS)
}

func (e *grpcEndpointInputs) split() (grpcCallInputs, *float64) {
	return e.grpcCallInputs, firstSet(e.Weight, e.RPS)
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
// alone, or each endpoint with the top-level inputs as defaults. split
// returns a decoded endpoint's request inputs and its weight, if any.
func resolveEndpoints[R request, T any](top R, raw map[string]map[string]any, provider string, runLevel []string, split func(*T) (R, *float64)) ([]mixEndpoint[R], error) {
	if len(raw) == 0 {
		if err := top.check(""); err != nil {
			return nil, err
		}
		return []mixEndpoint[R]{{in: top, weight: 1}}, nil
	}
	eps, err := decodeEndpoints(raw, provider, runLevel, split)
	if err != nil {
		return nil, err
	}
	for i, e := range eps {
		eps[i].in = inherit(e.in, top)
		if err := eps[i].in.check("endpoints." + e.id + "."); err != nil {
			return nil, err
		}
	}
	return eps, nil
}

// decodeEndpoints decodes a load task's endpoints, sorted by name. Names must
// be usable in metric names (<provider>-<name>/...); the task's run-level
// inputs cannot be set per endpoint, since endpoints run together; each
// endpoint decodes strictly into T, errors naming endpoints.<name>.<field>.
func decodeEndpoints[R, T any](raw map[string]map[string]any, provider string, runLevel []string, split func(*T) (R, *float64)) ([]mixEndpoint[R], error) {
	ids := slices.Sorted(maps.Keys(raw))
	out := make([]mixEndpoint[R], 0, len(ids))
	for _, id := range ids {
		prefix := "endpoints." + id + "."
		if !metrics.ValidSegment(id) {
			return nil, &inputs.FieldError{Field: "endpoints", Value: id, Expected: "endpoint names made of letters, digits, '.', '_' and '-' (they become metric names " + provider + "-<name>/...)"}
		}
		for _, k := range runLevel {
			if v, ok := raw[id][k]; ok {
				return nil, &inputs.FieldError{Field: prefix + k, Value: v, Expected: "no value here: endpoints run together under the task's " + k + " (set it at the top level; use weight to share the load)"}
			}
		}
		var e T
		if err := inputs.Decode(raw[id], &e); err != nil {
			var fe *inputs.FieldError
			if errors.As(err, &fe) {
				fe.Field = prefix + fe.Field
			}
			return nil, err
		}
		req, p := split(&e)
		w := 1.0
		if p != nil {
			w = *p
		}
		if w <= 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, &inputs.FieldError{Field: prefix + "weight", Value: w, Expected: "a positive number"}
		}
		out = append(out, mixEndpoint[R]{id: id, in: req, weight: w})
	}
	return out, nil
}

// firstSet returns the first non-nil pointer.
func firstSet(ps ...*float64) *float64 {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}
