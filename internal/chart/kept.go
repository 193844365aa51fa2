package chart

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/secret"
)

// KeptValues is the values key through which k launch hands the chart the
// literal secrets taken out of the values (Keep): the chart writes each
// under its own key of the experiment's Secret and mounts them, read-only,
// at KeptMount in the pod. The experiment references them there.
const KeptValues = "keptSecrets"

// KeptMount is where the pod sees the kept secrets, one file per key.
const KeptMount = "/var/run/secrets/iter8"

// secretMaps are the values maps whose entries are sent as they are
// (headers, gRPC metadata, query parameters, custom metrics template
// values): a secret-looking entry in them (secret.Literal, name and value
// rules) is a literal secret.
var secretMaps = map[string]bool{
	"headers": true, "metadata": true, "reflect-metadata": true, "params": true,
	"values": true, "versionValues": true,
}

// secretValues are the values that are secrets whatever they look like:
// the Slack incoming webhook URL and the GitHub token. A value of
// webhook.url is one when secret.Literal's value rules say so.
var secretValues = map[string]bool{"slack.url": true, "github.token": true}

// Kept are the literal secrets Keep took out of the values: the secrets by
// key, the references that replaced them, and the values paths they were
// given at (for the warning, which never shows a secret).
type Kept struct {
	Secrets map[string]string
	Refs    []string
	Paths   []string
}

// Keep takes the literal secrets out of vals, in place, and returns them:
// each is replaced by a reference ${file:<dir>/<key>}, resolved when the
// value is used. The caller stores each secret under its key in dir (a
// 0600 file beside experiment.yaml, or the Secret mounted at KeptMount).
// A value that already references a file in dir is refused: those
// references are iter8's own, made here.
func Keep(vals map[string]any, dir string) (*Kept, error) {
	if _, ok := vals[KeptValues]; ok {
		return nil, inputs.Invalidf("value %s: reserved for the secrets iter8 keeps beside the experiment", KeptValues)
	}
	k := &Kept{Secrets: map[string]string{}}
	kp, err := k.keeper(dir, true, literal)
	if err != nil {
		return nil, err
	}
	if err := kp.walk(nil, vals, false); err != nil {
		return nil, err
	}
	return k, nil
}

// KeepTasks takes the literal secrets out of an experiment's task inputs,
// in place, as Keep does out of values: an experiment file written by hand
// or by the original Iter8, run as it is. Each task's inputs are keyed
// task<N>; a notify task's url is a secret when secret.Literal's value
// rules say so. with returns task i's name and inputs, or nil when it has
// none.
func KeepTasks(n int, with func(i int) (string, map[string]any), dir string) (*Kept, error) {
	k := &Kept{Secrets: map[string]string{}}
	for i := range n {
		task, m := with(i)
		if m == nil {
			continue
		}
		prefix := fmt.Sprintf("task%d", i+1)
		kp, err := k.keeper(dir, false, func(dotted, name, s string, free bool) bool {
			if task == "notify" && dotted == prefix+".url" {
				return secret.Literal("", s) != ""
			}
			return free && secret.Literal(name, s) != ""
		})
		if err != nil {
			return nil, err
		}
		if err := kp.walk([]string{prefix}, m, false); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// keeper walks a tree of values, keeping the literal secrets it finds in k.
type keeper struct {
	k      *Kept
	prefix string // of the references made: ${file:<dir>/
	// own refuses values that reference a secret in dir.
	own     bool
	dir     string
	literal func(dotted, name, s string, free bool) bool
}

func (k *Kept) keeper(dir string, own bool, lit func(dotted, name, s string, free bool) bool) (*keeper, error) {
	if strings.ContainsAny(dir, "}") {
		return nil, inputs.Invalidf("run directory %s: a secret reference cannot name a path holding '}'", dir)
	}
	return &keeper{k: k, prefix: "${file:" + dir + "/", own: own, dir: dir, literal: lit}, nil
}

// base returns a key for the value at dotted that no kept secret uses, as
// key or as the prefix of Lift's key.2, key.3.
func (k *Kept) base(dotted string) string {
	key := secret.KeyOf(dotted)
	for n := 2; k.taken(key); n++ {
		key = fmt.Sprintf("%s-%d", secret.KeyOf(dotted), n)
	}
	return key
}

func (kp *keeper) walk(path []string, m map[string]any, free bool) error {
	for _, name := range slices.Sorted(maps.Keys(m)) {
		p := append(slices.Clip(path), name)
		switch v := m[name].(type) {
		case map[string]any:
			if err := kp.walk(p, v, free || secretMaps[name]); err != nil {
				return err
			}
		case []any:
			for i, e := range v {
				if em, ok := e.(map[string]any); ok {
					ip := append(slices.Clip(p), strconv.Itoa(i))
					if err := kp.walk(ip, em, free || secretMaps[name]); err != nil {
						return err
					}
				}
			}
		default:
			s, ok := scalar(v)
			if !ok {
				continue
			}
			dotted := strings.Join(p, ".")
			if kp.own && strings.Contains(s, kp.prefix) {
				return inputs.Invalidf("value %s: references a secret iter8 keeps beside the experiment (%s); give the secret itself or your own reference", dotted, kp.dir)
			}
			if !kp.literal(dotted, name, s, free) {
				continue
			}
			lifted, secrets := secret.Lift(s, kp.k.base(dotted), func(key string) string {
				r := kp.prefix + key + "}"
				kp.k.Refs = append(kp.k.Refs, r)
				return r
			})
			if len(secrets) == 0 {
				continue
			}
			maps.Copy(kp.k.Secrets, secrets)
			kp.k.Paths = append(kp.k.Paths, dotted)
			m[name] = lifted
		}
	}
	return nil
}

// taken reports whether key, or a key Lift derives from it, is in use.
func (k *Kept) taken(key string) bool {
	if key == "experiment.yaml" {
		return true
	}
	for s := range k.Secrets {
		if s == key || strings.HasPrefix(s, key+".") {
			return true
		}
	}
	return false
}

// literal reports whether the value at dotted path, named name, is a
// secret given as it is.
func literal(dotted, name, s string, free bool) bool {
	switch {
	case secretValues[dotted]:
		return !secret.Contains(s) || secret.Literal("", s) != ""
	case dotted == "webhook.url":
		return secret.Literal("", s) != ""
	case free:
		return secret.Literal(name, s) != ""
	}
	return false
}

// scalar returns a values leaf as the chart writes it (--set gives numbers
// for digits-only values).
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int:
		return strconv.Itoa(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// Redact returns err with its message cleaned of the kept secrets (a
// template or schema error may quote a value); its exit code stays.
func (k *Kept) Redact(err error) error {
	if err == nil || k == nil || len(k.Secrets) == 0 {
		return err
	}
	var r secret.Redactor
	for _, s := range k.Secrets {
		r.Remember(s)
	}
	msg := r.Redact(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{err: err, msg: msg}
}

// redactedError is an error whose message is redacted; errors.Is and As
// (and so the exit code) see the error it wraps.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
