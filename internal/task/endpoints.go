package task

import (
	"errors"
	"math"
	"regexp"
	"sort"

	"iter8.tools/iter8/internal/inputs"
)

var endpointID = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)

// mixEndpoint is one endpoint of a load task's mix, decoded.
type mixEndpoint[T any] struct {
	id     string
	in     T
	weight float64
}

// decodeEndpoints decodes a load task's endpoints, sorted by name. Names must
// be usable in metric names (<provider>-<name>/...); the task's run-level
// inputs (runLevel) cannot be set per endpoint, since endpoints run together;
// each endpoint decodes strictly into T, errors naming endpoints.<name>.<field>.
// weight returns an endpoint's weight input, if any (default 1).
func decodeEndpoints[T any](raw map[string]map[string]any, provider string, runLevel []string, weight func(*T) *float64) ([]mixEndpoint[T], error) {
	ids := make([]string, 0, len(raw))
	for id := range raw {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]mixEndpoint[T], 0, len(ids))
	for _, id := range ids {
		prefix := "endpoints." + id + "."
		if !endpointID.MatchString(id) {
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
		w := 1.0
		if p := weight(&e); p != nil {
			w = *p
		}
		if w <= 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, &inputs.FieldError{Field: prefix + "weight", Value: w, Expected: "a positive number"}
		}
		out = append(out, mixEndpoint[T]{id: id, in: e, weight: w})
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
