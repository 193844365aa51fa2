package cli

import (
	"strings"
	"testing"

	"iter8.tools/iter8/internal/experiment"
)

func TestCheckRemoteInputs(t *testing.T) {
	t.Parallel()
	name := func(s string) *string { return &s }
	const remote = "http://127.0.0.1:9/v.yaml"
	tests := []struct {
		name string
		spec experiment.TaskSpec
		want string // "" means allowed
	}{
		{"relative paths and URLs", experiment.TaskSpec{Task: name("grpc"), With: map[string]any{
			"proto": "a/b.proto", "import-paths": []any{"protos", "./more"}, "dataURL": "http://127.0.0.1:9/d.json",
			"metadata": map[string]any{"key": "/not/a/path"}}}, ""},
		{"escaped literal", experiment.TaskSpec{Task: name("http"), With: map[string]any{"headers": map[string]any{"X": "$${env:HOME}"}}}, ""},
		{"env in a header", experiment.TaskSpec{Task: name("http"), With: map[string]any{"headers": map[string]any{"X": "a ${env:HOME}"}}},
			`task 1 (http) input headers.X: "a ${env:HOME}" is a secret reference and the values come from ` + remote},
		{"file in an if", experiment.TaskSpec{Task: name("http"), If: name(`"${file:/x}" == ""`)}, `task 1 (http) input if:`},
		{"absolute import path", experiment.TaskSpec{Task: name("grpc"), With: map[string]any{"import-paths": []any{"ok", "/etc"}}},
			`input import-paths[1]: "/etc" is a file path outside the run directory`},
		{"file URL", experiment.TaskSpec{Task: name("http"), With: map[string]any{"payloadURL": "file:///etc/passwd"}},
			`input payloadURL: "file:///etc/passwd" is a file path`},
		{"endpoint key", experiment.TaskSpec{Task: name("http"), With: map[string]any{"endpoints": map[string]any{"a": map[string]any{"keyFile": "../k.pem"}}}},
			`input endpoints.a.keyFile: "../k.pem" is a file path`},
		{"template path", experiment.TaskSpec{Task: name("custommetrics"), With: map[string]any{"templates": map[string]any{"p": "prometheus", "q": "/var/run/q.tpl"}}},
			`input templates.q: "/var/run/q.tpl" is a file path`},
		{"template secret", experiment.TaskSpec{Task: name("custommetrics"), With: map[string]any{"values": map[string]any{"token": "${file:/var/run/secrets/token}"}}},
			`input values.token: "${file:/var/run/secrets/token}" is a secret reference`},
		{"the permission itself", experiment.TaskSpec{Task: name("custommetrics"), With: map[string]any{"allowLocalSecrets": true}},
			`input allowLocalSecrets: "true" is a permission only the command line gives`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := checkRemoteInputs([]experiment.TaskSpec{tc.spec}, remote, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--allow-local-secrets")):
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}
