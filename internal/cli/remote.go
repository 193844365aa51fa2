package cli

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/secret"
	"iter8.tools/iter8/internal/source"
)

// allowLocalSecretsFlag permits content from a URL (values files, provider
// templates) to read local secrets and files.
const allowLocalSecretsFlag = "allow-local-secrets"

// allowLocalSecretsInput is the custommetrics task input the CLI sets with
// --allow-local-secrets: templates fetched from a URL may then render
// ${env:...} and ${file:...} references.
const allowLocalSecretsInput = "allowLocalSecrets"

// pathInputs are the task inputs that name local files; the *URL inputs
// name files too when they are not http(s) URLs.
var pathInputs = map[string]bool{
	"payloadFile": true, "caCertFile": true, "certFile": true, "keyFile": true,
	"proto": true, "protoset": true, "import-paths": true, "data-file": true,
	"binary-file": true, "metadata-file": true, "cacert": true, "cert": true, "key": true,
	"payloadTemplateURL": true, "payloadURL": true, "protoURL": true, "dataURL": true,
	"binaryDataURL": true, "metadataURL": true,
}

// checkRemoteInputs refuses, in an experiment rendered from values fetched
// from remote, task inputs that read local secrets or files outside the run
// directory: ${env:...} and ${file:...} references, absolute or
// parent-escaping file paths, and the allowLocalSecrets input itself. own
// are the references iter8 made itself to the literal secrets it keeps
// beside the experiment: refused too (remote values choose where requests
// go, and a secret given on the command line would follow), but named as
// such.
func checkRemoteInputs(spec []experiment.TaskSpec, remote string, own []string) error {
	for i, ts := range spec {
		where := fmt.Sprintf("task %d (%s)", i+1, ts.Name())
		if ts.If != nil && secret.Contains(*ts.If) {
			return remoteRefusal(where, "if", *ts.If, "a secret reference", remote)
		}
		if err := checkRemoteMap(where, "", ts.With, true, remote, own); err != nil {
			return err
		}
	}
	return nil
}

// checkRemoteMap walks one map of task inputs; paths says whether its keys
// are task inputs (the top level, an endpoint) whose file paths are checked.
func checkRemoteMap(where, prefix string, m map[string]any, paths bool, remote string, own []string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		field := prefix + k
		if prefix == "" && k == allowLocalSecretsInput {
			return remoteRefusal(where, field, fmt.Sprint(m[k]), "a permission only the command line gives", remote)
		}
		pathKey := paths && pathInputs[k]
		// endpoints.<name> and custommetrics' templates hold inputs and paths.
		subPaths := prefix == "" && k == "endpoints"
		if prefix == "" && k == "templates" {
			if t, ok := m[k].(map[string]any); ok {
				for _, name := range slices.Sorted(maps.Keys(t)) {
					if s, ok := t[name].(string); ok && !source.IsURL(s) && strings.ContainsAny(s, "/.") && escapes(s) {
						return remoteRefusal(where, field+"."+name, s, "a file path outside the run directory", remote)
					}
				}
			}
		}
		if err := checkRemoteValue(where, field, m[k], pathKey, subPaths, remote, own); err != nil {
			return err
		}
	}
	return nil
}

func checkRemoteValue(where, field string, v any, pathKey, subPaths bool, remote string, own []string) error {
	switch v := v.(type) {
	case string:
		if secret.Contains(withoutOwn(v, own)) {
			return remoteRefusal(where, field, v, "a secret reference", remote)
		}
		if secret.Contains(v) {
			return remoteRefusal(where, field, v, "a secret given as it is (kept beside the experiment, where this reference points)", remote)
		}
		if pathKey && !source.IsURL(v) && escapes(v) {
			return remoteRefusal(where, field, v, "a file path outside the run directory", remote)
		}
	case map[string]any:
		if subPaths {
			for _, name := range slices.Sorted(maps.Keys(v)) {
				if ep, ok := v[name].(map[string]any); ok {
					if err := checkRemoteMap(where, field+"."+name+".", ep, true, remote, own); err != nil {
						return err
					}
					continue
				}
				if err := checkRemoteValue(where, field+"."+name, v[name], false, false, remote, own); err != nil {
					return err
				}
			}
			return nil
		}
		return checkRemoteMap(where, field+".", v, false, remote, own)
	case []any:
		for i, e := range v {
			if err := checkRemoteValue(where, fmt.Sprintf("%s[%d]", field, i), e, pathKey, false, remote, own); err != nil {
				return err
			}
		}
	}
	return nil
}

// withoutOwn returns s without the references iter8 made itself to kept
// secrets.
func withoutOwn(s string, own []string) string {
	for _, r := range own {
		s = strings.ReplaceAll(s, r, "")
	}
	return s
}

// escapes reports whether a file path (or file:// URL) is absolute or
// leaves the run directory.
func escapes(p string) bool {
	p = strings.TrimPrefix(p, "file://")
	return p != "" && !filepath.IsLocal(p)
}

func remoteRefusal(where, field, value, what, remote string) error {
	return usagef("%s input %s: %q is %s and the values come from %s: iter8 lets remote values read local secrets and files only with --%s",
		where, field, value, what, remote, allowLocalSecretsFlag)
}

// grantLocalSecrets sets the custommetrics value allowLocalSecrets, so
// that the task, run here or in a cluster, lets templates fetched from a URL
// render secret references.
func grantLocalSecrets(vals map[string]any) {
	if cm, ok := vals["custommetrics"].(map[string]any); ok && len(cm) > 0 {
		cm[allowLocalSecretsInput] = true
	}
}
