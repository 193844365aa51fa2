package k8s

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
)

// ReadyCheck waits for one object to exist and, optionally, to have a
// condition with status True.
type ReadyCheck struct {
	Resource  schema.GroupVersionResource
	Namespace string
	Name      string
	// Condition is a status condition type such as Available or Ready;
	// empty means existence is enough.
	Condition string
	// Timeout bounds the wait.
	Timeout time.Duration
	// Interval is the time between attempts; one second when zero.
	Interval time.Duration
	// OnAttempt, when set, is told why each attempt found the object not
	// ready.
	OnAttempt func(reason string)
}

// ErrNotReady marks an object that was not ready within the timeout.
var ErrNotReady = errors.New("not ready")

// NotReadyError says which object was not ready and why, as last seen.
type NotReadyError struct {
	Object  string
	Timeout time.Duration
	Reason  string
	Err     error // the last API error, if any
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("%s is not ready after %v: %s", e.Object, e.Timeout, e.Reason)
}

// Unwrap returns the last API error.
func (e *NotReadyError) Unwrap() error { return e.Err }

// Is makes NotReadyError match ErrNotReady.
func (e *NotReadyError) Is(target error) bool { return target == ErrNotReady }

// ResourceName is the resource as RBAC and kubectl write it: deployments.apps,
// services.
func ResourceName(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return gvr.Resource
	}
	return gvr.Resource + "." + gvr.Group
}

func (c ReadyCheck) object() string {
	return fmt.Sprintf("%s %q in namespace %s", ResourceName(c.Resource), c.Name, c.Namespace)
}

// Wait gets the object every interval until it is ready, ctx ends, or the
// timeout passes. Errors (the object is missing, RBAC refuses, the API
// server is unreachable) are retried until then: permissions and objects
// created together with the experiment may take a moment to appear.
func (c ReadyCheck) Wait(ctx context.Context, client dynamic.Interface) error {
	interval := c.Interval
	if interval <= 0 {
		interval = time.Second
	}
	var (
		reason  string
		lastErr error
	)
	err := wait.PollUntilContextTimeout(ctx, interval, c.Timeout, true, func(context.Context) (bool, error) {
		// Each attempt has its own time limit, not the poll's: the last
		// attempt is not cut short by the deadline.
		actx, cancel := context.WithTimeout(ctx, max(interval, 10*time.Second))
		reason, lastErr = c.check(actx, client)
		cancel()
		if reason == "" && lastErr == nil {
			return true, nil
		}
		if lastErr != nil {
			reason = lastErr.Error()
		}
		if c.OnAttempt != nil {
			c.OnAttempt(reason)
		}
		return false, nil
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("waiting for %s: %w", c.object(), context.Cause(ctx))
	}
	return &NotReadyError{Object: c.object(), Timeout: c.Timeout, Reason: reason, Err: lastErr}
}

// check returns why the object is not ready, or "" when it is.
func (c ReadyCheck) check(ctx context.Context, client dynamic.Interface) (string, error) {
	obj, err := client.Resource(c.Resource).Namespace(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "it does not exist", nil
	case err != nil:
		return "", access(err, "get", ResourceName(c.Resource), c.Namespace, c.Name)
	}
	if c.Condition == "" {
		return "", nil
	}
	return conditionReason(obj, c.Condition), nil
}

// conditionReason returns "" when obj has the condition with status True,
// and otherwise what it has instead.
func conditionReason(obj *unstructured.Unstructured, condition string) string {
	conds, found, err := unstructured.NestedSlice(obj.Object, "status", "conditions")
	if err != nil || !found {
		return fmt.Sprintf("it has no status conditions yet (waiting for condition %s)", condition)
	}
	for _, x := range conds {
		m, ok := x.(map[string]any)
		if !ok || m["type"] != condition {
			continue
		}
		status, _ := m["status"].(string)
		if strings.EqualFold(status, "True") {
			return ""
		}
		why := fmt.Sprintf("condition %s is %s", condition, status)
		var details []string
		for _, k := range []string{"reason", "message"} {
			if s, _ := m[k].(string); s != "" {
				details = append(details, k+": "+s)
			}
		}
		if len(details) > 0 {
			why += " (" + strings.Join(details, "; ") + ")"
		}
		return why
	}
	return fmt.Sprintf("it has no condition %s", condition)
}
