package task

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
)

// The ready task's checks against a real API server are in internal/k8s and
// cmd/iter8; these cover its inputs.
func TestReadyInputs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		with map[string]any
		want string // error, or the inputs with defaults as JSON
	}{
		{"defaults", map[string]any{"name": "web", "group": "apps", "resource": "deployments", "condition": "Available"},
			`{"name":"web","group":"apps","version":"v1","resource":"deployments","condition":"Available","timeout":"1m0s"}`},
		{"all inputs", map[string]any{"name": "m", "group": "serving.kserve.io", "version": "v1beta1", "resource": "inferenceservices", "namespace": "models", "condition": "Ready", "timeout": "2m"},
			`{"name":"m","group":"serving.kserve.io","version":"v1beta1","resource":"inferenceservices","namespace":"models","condition":"Ready","timeout":"2m0s"}`},
		{"missing name", map[string]any{"resource": "services"}, `field "name" is missing: expected the name of the object to check`},
		{"missing resource", map[string]any{"name": "web"}, `field "resource" is missing: expected a plural resource name`},
		{"kind instead of resource", map[string]any{"name": "web", "resource": "Deployment"}, `field "resource": invalid value "Deployment": expected a lower-case plural resource name`},
		{"bad timeout", map[string]any{"name": "web", "resource": "services", "timeout": "soon"}, `field "timeout": invalid value "soon": expected a duration`},
		{"zero timeout", map[string]any{"name": "web", "resource": "services", "timeout": "0s"}, `field "timeout": invalid value "0s": expected a positive duration`},
		{"unknown field", map[string]any{"name": "web", "resource": "services", "namespce": "x"}, `unknown field "namespce": did you mean "namespace"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tk, err := NewReady(nil)(tt.with)
			if strings.HasPrefix(tt.want, "{") {
				if err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(tk.(experiment.Inputs).Inputs())
				if string(b) != tt.want {
					t.Errorf("inputs %s, want %s", b, tt.want)
				}
				return
			}
			if !errors.Is(err, inputs.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrInvalid containing %q", err, tt.want)
			}
		})
	}
}
