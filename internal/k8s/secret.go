package k8s

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
)

// MaxSecretBytes is the most data a Secret may hold (the API server's limit).
const MaxSecretBytes = 1 << 20

// ErrConflict marks a save refused because another writer changed the same
// part of the experiment.
var ErrConflict = errors.New("conflicting update")

// ConflictError names the parts of the experiment two writers both changed.
type ConflictError struct {
	Secret string
	Paths  []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("saving experiment to Secret %s: another writer changed %s since this one read it: refusing to overwrite its update (is another iter8 k run working on this group, or was the experiment relaunched?)",
		e.Secret, strings.Join(e.Paths, ", "))
}

// Is makes ConflictError match ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ErrTooLarge marks an experiment that does not fit in a Secret.
var ErrTooLarge = errors.New("experiment too large for a Secret")

// TooLargeError says how large the experiment is and what takes the room.
type TooLargeError struct {
	Secret string
	Size   int
	Limit  int
	// Parts are the largest parts of the experiment, largest first.
	Parts []string
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("saving experiment to Secret %s: the experiment takes %d bytes even without its per-loop history, but a Secret holds at most %d bytes (1 MiB); the largest parts are %s: reduce the endpoints, versions, percentiles or tasks",
		e.Secret, e.Size, e.Limit, strings.Join(e.Parts, ", "))
}

// Is makes TooLargeError match ErrTooLarge.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Secret keeps an experiment in key experiment.yaml of a Kubernetes Secret.
//
// Writes are optimistic: each carries the resourceVersion last read. When
// another writer got there first, Save re-reads the Secret and applies only
// the changes this writer made since its last load or save; when both
// changed the same field it fails with a ConflictError rather than lose
// either update. Update is the read-modify-write form for writers that can
// re-apply their change. Writes keep the Secret under 1 MiB, dropping the
// oldest per-loop summaries when needed, and fail with a TooLargeError when
// even that is not enough.
type Secret struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
	// Logger receives warnings (history dropped to fit the limit); nil
	// discards them.
	Logger *slog.Logger
	// MaxBytes bounds the Secret's data; MaxSecretBytes when zero.
	MaxBytes int
	// ForbiddenWait is how long Load retries a read RBAC refuses, every
	// second: a Role created with the experiment may take a moment to reach
	// the API server's authorizer. Zero fails at once.
	ForbiddenWait time.Duration

	mu     sync.Mutex
	obj    *corev1.Secret // as last read or written
	base   document       // this writer's experiment as last loaded or saved
	stored document       // the experiment in obj
	// retries counts writes repeated after a resourceVersion conflict.
	retries int
	// trimWarned is set once the history trimming was logged.
	trimWarned bool
}

var _ experiment.Store = (*Secret)(nil)

// NewSecret returns the store for an experiment group.
func NewSecret(c kubernetes.Interface, namespace, group string, log *slog.Logger) *Secret {
	return &Secret{Client: c, Namespace: namespace, Name: group, Logger: log}
}

// String names the Secret as namespace/name.
func (s *Secret) String() string { return s.Namespace + "/" + s.Name }

// Retries returns how many writes were repeated because another writer
// changed the Secret first.
func (s *Secret) Retries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retries
}

// Size returns the bytes of experiment data in the Secret as last read or
// written (0 before the first).
func (s *Secret) Size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.obj == nil {
		return 0
	}
	return len(s.obj.Data[ExperimentKey])
}

// Load reads the experiment.
func (s *Secret) Load(ctx context.Context) (*experiment.Experiment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		exp     *experiment.Experiment
		lastErr error
	)
	// A refused read is retried for ForbiddenWait: RBAC made with the
	// release may reach the authorizer after the pod starts.
	err := wait.PollUntilContextTimeout(ctx, time.Second, s.ForbiddenWait, true, func(context.Context) (bool, error) {
		e, doc, err := s.fetch(ctx)
		switch {
		case err == nil:
			exp, s.base = e, doc
			return true, nil
		case errors.Is(err, ErrForbidden):
			lastErr = err
			return false, nil
		}
		return false, err
	})
	if exp != nil {
		return exp, nil
	}
	if lastErr != nil && wait.Interrupted(err) {
		return nil, lastErr
	}
	return nil, err
}

// fetch reads the Secret into s.obj and s.stored.
func (s *Secret) fetch(ctx context.Context) (*experiment.Experiment, document, error) {
	obj, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, inputs.Invalidf("experiment group %q not found in namespace %s: there is no Secret %s (launch one with iter8 k launch -g %s, or pass -n)", s.Name, s.Namespace, s.Name, s.Name)
		}
		return nil, nil, fmt.Errorf("reading experiment from Secret %s: %w", s, access(err, "get", "secrets", s.Namespace, s.Name))
	}
	raw, ok := obj.Data[ExperimentKey]
	if !ok {
		return nil, nil, inputs.Invalidf("reading experiment from Secret %s: it has no key %s: expected the Secret iter8 k launch creates", s, ExperimentKey)
	}
	exp, err := experiment.Decode(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("reading experiment from Secret %s: %w", s, err)
	}
	doc, err := toDocument(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("reading experiment from Secret %s: %w", s, err)
	}
	s.obj, s.stored = obj, doc
	return exp, doc, nil
}

// conflictBackoff paces writes retried after a conflict. Each retry re-reads
// the Secret first, so the pause only spreads contending writers apart.
var conflictBackoff = wait.Backoff{Steps: 60, Duration: 2 * time.Millisecond, Factor: 1.5, Jitter: 1, Cap: 200 * time.Millisecond}

// Save writes exp, applying this writer's changes on top of whatever another
// writer stored meanwhile.
func (s *Secret) Save(ctx context.Context, exp *experiment.Experiment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	mine, err := experimentDocument(exp)
	if err != nil {
		return err
	}
	if s.obj == nil {
		if _, _, err := s.fetch(ctx); err != nil {
			return err
		}
		s.base = s.stored
	}
	changes := diff(s.base, mine)
	err = s.write(ctx, func() (document, error) {
		if paths := conflicts(s.base, s.stored, changes); len(paths) > 0 {
			return nil, &ConflictError{Secret: s.String(), Paths: paths}
		}
		next := deepCopy(s.stored).(document)
		apply(next, changes)
		return next, nil
	})
	if err != nil {
		return err
	}
	s.base = mine
	return nil
}

// Update applies fn to the stored experiment and writes the result; when
// another writer changed the Secret first, it re-reads it and applies fn
// again, so no update is lost. It returns the experiment as written.
func (s *Secret) Update(ctx context.Context, fn func(*experiment.Experiment) error) (*experiment.Experiment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.obj == nil {
		if _, _, err := s.fetch(ctx); err != nil {
			return nil, err
		}
	}
	var out *experiment.Experiment
	err := s.write(ctx, func() (document, error) {
		b, err := encodeDocument(s.stored)
		if err != nil {
			return nil, err
		}
		exp, err := experiment.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("reading experiment from Secret %s: %w", s, err)
		}
		if err := fn(exp); err != nil {
			return nil, err
		}
		out = exp
		return experimentDocument(exp)
	})
	if err != nil {
		return nil, err
	}
	s.base = s.stored
	return out, nil
}

// write stores the document next() computes from s.stored, re-reading the
// Secret and calling next again after each resourceVersion conflict.
func (s *Secret) write(ctx context.Context, next func() (document, error)) error {
	backoff := conflictBackoff
	for {
		doc, err := next()
		if err != nil {
			return err
		}
		data, doc, err := s.fit(doc)
		if err != nil {
			return err
		}
		obj := s.obj.DeepCopy()
		if obj.Data == nil {
			obj.Data = map[string][]byte{}
		}
		obj.Data[ExperimentKey] = data
		obj.StringData = nil
		updated, err := s.Client.CoreV1().Secrets(s.Namespace).Update(ctx, obj, metav1.UpdateOptions{FieldManager: "iter8"})
		if err == nil {
			s.obj, s.stored = updated, doc
			return nil
		}
		if !apierrors.IsConflict(err) {
			return fmt.Errorf("saving experiment to Secret %s: %w", s, access(err, "update", "secrets", s.Namespace, s.Name))
		}
		if backoff.Steps <= 1 {
			return fmt.Errorf("saving experiment to Secret %s: still conflicting after %d attempts: %w", s, conflictBackoff.Steps, err)
		}
		s.retries++
		select {
		case <-ctx.Done():
			return fmt.Errorf("saving experiment to Secret %s: %w", s, context.Cause(ctx))
		case <-time.After(backoff.Step()):
		}
		if _, _, err := s.fetch(ctx); err != nil {
			return err
		}
	}
}

// fit encodes doc within the Secret's limit, dropping the oldest per-loop
// summaries (result.history) when it is too large.
func (s *Secret) fit(doc document) ([]byte, document, error) {
	limit := s.MaxBytes
	if limit <= 0 {
		limit = MaxSecretBytes
	}
	for k, v := range s.obj.Data {
		if k != ExperimentKey {
			limit -= len(v)
		}
	}
	data, err := encodeDocument(doc)
	if err != nil {
		return nil, nil, err
	}
	if len(data) <= limit {
		return data, doc, nil
	}
	hist, _ := lookup(doc, []string{"result", "history"})
	list, _ := hist.([]any)
	dropped := 0
	if len(list) > 0 {
		doc = deepCopy(doc).(document)
		for len(list) > 0 && len(data) > limit {
			n := max(1, len(list)/4)
			list = list[n:]
			dropped += n
			apply(doc, []change{{path: []string{"result", "history"}, value: list}})
			if data, err = encodeDocument(doc); err != nil {
				return nil, nil, err
			}
		}
	}
	if len(data) > limit {
		return nil, nil, &TooLargeError{Secret: s.String(), Size: len(data), Limit: limit, Parts: largestParts(doc, 3)}
	}
	if s.Logger != nil && !s.trimWarned {
		s.trimWarned = true
		s.Logger.Warn("dropped the oldest loop summaries from result.history to fit the Secret's 1 MiB limit",
			"secret", s.String(), "dropped", dropped, "kept", len(list), "bytes", len(data))
	}
	return data, doc, nil
}

// largestParts names the n largest parts of doc (top-level keys, and the
// keys of result and result.insights) with their encoded sizes.
func largestParts(doc document, n int) []string {
	type part struct {
		name string
		size int
	}
	var parts []part
	var add func(prefix string, m map[string]any, depth int)
	add = func(prefix string, m map[string]any, depth int) {
		for k, v := range m {
			name := prefix + k
			if sub, ok := v.(map[string]any); ok && depth < 2 && (name == "result" || name == "result.insights") {
				add(name+".", sub, depth+1)
				continue
			}
			b, err := encodeDocument(document{k: v})
			if err == nil {
				parts = append(parts, part{name, len(b)})
			}
		}
	}
	add("", doc, 0)
	sort.Slice(parts, func(i, j int) bool { return parts[i].size > parts[j].size })
	var out []string
	for i := 0; i < len(parts) && i < n; i++ {
		out = append(out, fmt.Sprintf("%s (%d bytes)", parts[i].name, parts[i].size))
	}
	return out
}

// experimentDocument converts an experiment to a document the way it is
// stored (YAML), so documents read back compare equal.
func experimentDocument(exp *experiment.Experiment) (document, error) {
	b, err := experiment.Encode(exp)
	if err != nil {
		return nil, err
	}
	return toDocument(b)
}
