// Package tmpl runs text templates whose text may come from a URL (provider
// templates, notification payloads) at a bounded cost. The functions are
// sprig's and text/template's, each result capped in size, the ones that
// build large values checked before they allocate, and the costly crypto
// ones left out; execution stops with an error naming the template when its
// output passes a limit or its time budget ends.
package tmpl

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"sync/atomic"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/Masterminds/sprig/v3"
)

// Limits bound a template's cost.
type Limits struct {
	// Output is the most bytes a rendering may write, and the largest
	// string any function may return.
	Output int
	// Items is the largest list a function may return, and the largest
	// literal count a range may iterate.
	Items int
	// Time is the rendering's time budget.
	Time time.Duration
}

// DefaultLimits returns 1 MiB of output, lists of 100,000 items, and a
// budget of 5 seconds.
func DefaultLimits() Limits { return Limits{Output: 1 << 20, Items: 100_000, Time: 5 * time.Second} }

// ErrCost marks a template stopped by its limits.
var ErrCost = errors.New("template cost")

// unsafe are functions left out: they read the environment (where secrets
// live) or resolve names, or cost much CPU for one call (key generation,
// password hashing).
var unsafe = []string{"env", "expandenv", "getHostByName", "genPrivateKey", "genCA", "genCAWithKey",
	"genSelfSignedCert", "genSelfSignedCertWithKey", "genSignedCert", "genSignedCertWithKey",
	"buildCustomCert", "bcrypt", "htpasswd", "derivePassword"}

// Funcs returns sprig's functions (without the unsafe ones) and extra, every
// one bounded by l, plus bounded versions of text/template's print, printf,
// println, html, js and urlquery. stop, when it returns true, makes every
// function fail: Execute uses it to end a rendering past its time budget.
func Funcs(l Limits, extra template.FuncMap, stop func() bool) template.FuncMap {
	f := sprig.TxtFuncMap()
	for _, n := range unsafe {
		delete(f, n)
	}
	for k, v := range extra {
		f[k] = v
	}
	f["print"] = fmt.Sprint
	f["println"] = fmt.Sprintln
	f["printf"] = func(format string, args ...any) (string, error) {
		if err := checkFormat(format, l); err != nil {
			return "", err
		}
		return fmt.Sprintf(format, args...), nil
	}
	f["html"] = template.HTMLEscaper
	f["js"] = template.JSEscaper
	f["urlquery"] = template.URLQueryEscaper
	// Functions that allocate from their arguments: checked before.
	f["until"] = func(n int) ([]int, error) {
		if err := checkCount("until", n, l); err != nil {
			return nil, err
		}
		return untilStep(0, n, 1), nil
	}
	f["untilStep"] = func(start, stop, step int) ([]int, error) {
		if step != 0 {
			if err := checkCount("untilStep", (stop-start)/step, l); err != nil {
				return nil, err
			}
		}
		return untilStep(start, stop, step), nil
	}
	seq := f["seq"]
	f["seq"] = func(params ...int) (string, error) {
		if n := seqCount(params); n > l.Items {
			return "", checkCount("seq", n, l)
		}
		return seq.(func(...int) string)(params...), nil
	}
	repeat := f["repeat"].(func(int, string) string)
	f["repeat"] = func(count int, s string) (string, error) {
		if count > 0 && len(s) > 0 && count > l.Output/len(s) {
			return "", fmt.Errorf("%w: repeat %d times of %d bytes is more than the %d bytes allowed", ErrCost, count, len(s), l.Output)
		}
		return repeat(count, s), nil
	}
	for _, n := range []string{"indent", "nindent"} {
		ind := f[n].(func(int, string) string)
		f[n] = func(spaces int, s string) (string, error) {
			if spaces > l.Output || (spaces > 0 && (len(s)+1)*spaces > l.Output) {
				return "", fmt.Errorf("%w: %s %d of %d bytes is more than the %d bytes allowed", ErrCost, n, spaces, len(s), l.Output)
			}
			return ind(spaces, s), nil
		}
	}
	for _, n := range []string{"randAlphaNum", "randAlpha", "randAscii", "randNumeric"} {
		rnd := f[n].(func(int) string)
		f[n] = func(count int) (string, error) {
			if count > l.Output {
				return "", fmt.Errorf("%w: %s %d is more than the %d bytes allowed", ErrCost, n, count, l.Output)
			}
			return rnd(count), nil
		}
	}
	if rb, ok := f["randBytes"].(func(int) (string, error)); ok {
		f["randBytes"] = func(count int) (string, error) {
			if count > l.Output {
				return "", fmt.Errorf("%w: randBytes %d is more than the %d bytes allowed", ErrCost, count, l.Output)
			}
			return rb(count)
		}
	}
	out := make(template.FuncMap, len(f))
	for k, v := range f {
		out[k] = bounded(k, v, l, stop)
	}
	return out
}

func untilStep(start, stop, step int) []int {
	var v []int
	if step == 0 || (stop < start && step > 0) || (stop > start && step < 0) {
		return v
	}
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		v = append(v, i)
	}
	return v
}

func seqCount(p []int) int {
	start, end, step := 1, 0, 1
	switch len(p) {
	case 1:
		end = p[0]
	case 2:
		start, end = p[0], p[1]
	case 3:
		start, step, end = p[0], p[1], p[2]
	default:
		return 0
	}
	if step == 0 {
		return 0
	}
	n := (end - start) / step
	if n < 0 {
		n = -n
	}
	return n + 1
}

func checkCount(fn string, n int, l Limits) error {
	if n > l.Items {
		return fmt.Errorf("%w: %s would make %d items, more than the %d allowed", ErrCost, fn, n, l.Items)
	}
	return nil
}

// width finds the widths and precisions of a format's verbs.
var width = regexp.MustCompile(`%[-+# 0]*(\*|\d*)(?:\.(\*|\d*))?`)

func checkFormat(format string, l Limits) error {
	for _, m := range width.FindAllStringSubmatch(format, -1) {
		for _, w := range m[1:] {
			if w == "*" {
				return fmt.Errorf("%w: printf widths from arguments (*) are not allowed", ErrCost)
			}
			if n, err := strconv.Atoi(w); err == nil && n > l.Output {
				return fmt.Errorf("%w: printf width %d is more than the %d bytes allowed", ErrCost, n, l.Output)
			}
		}
	}
	return nil
}

var errorType = reflect.TypeFor[error]()

// bounded wraps fn so that it fails once stop returns true and when it
// returns a string or list larger than the limits.
func bounded(name string, fn any, l Limits, stop func() bool) any {
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func || t.NumOut() == 0 || t.NumOut() > 2 || (t.NumOut() == 2 && t.Out(1) != errorType) {
		return fn
	}
	in := make([]reflect.Type, t.NumIn())
	for i := range in {
		in[i] = t.In(i)
	}
	wt := reflect.FuncOf(in, []reflect.Type{t.Out(0), errorType}, t.IsVariadic())
	zero := reflect.Zero(t.Out(0))
	return reflect.MakeFunc(wt, func(args []reflect.Value) []reflect.Value {
		fail := func(err error) []reflect.Value { return []reflect.Value{zero, reflect.ValueOf(&err).Elem()} }
		if stop != nil && stop() {
			return fail(fmt.Errorf("%w: the time budget of %s has run out", ErrCost, l.Time))
		}
		var res []reflect.Value
		if t.IsVariadic() {
			res = v.CallSlice(args)
		} else {
			res = v.Call(args)
		}
		if len(res) == 2 && !res[1].IsNil() {
			return []reflect.Value{zero, res[1]}
		}
		r := res[0]
		switch r.Kind() {
		case reflect.String:
			if r.Len() > l.Output {
				return fail(fmt.Errorf("%w: %s returned %d bytes, more than the %d allowed", ErrCost, name, r.Len(), l.Output))
			}
		case reflect.Slice, reflect.Map:
			limit := l.Items
			if r.Type().Elem().Kind() == reflect.Uint8 {
				limit = l.Output
			}
			if r.Len() > limit {
				return fail(fmt.Errorf("%w: %s returned %d items, more than the %d allowed", ErrCost, name, r.Len(), limit))
			}
		}
		return []reflect.Value{r, reflect.Zero(errorType)}
	}).Interface()
}

// Parse parses text as the template name with Funcs(l, extra, ...) and
// refuses a range over a literal count larger than l.Items.
func Parse(name, text string, l Limits, extra template.FuncMap, opts ...string) (*Template, error) {
	t := &Template{limits: l}
	tt, err := template.New(name).Funcs(Funcs(l, extra, t.stopped)).Option(opts...).Parse(text)
	if err != nil {
		return nil, err
	}
	for _, x := range tt.Templates() {
		if x.Tree == nil {
			continue
		}
		if err := checkRanges(x.Root, l); err != nil {
			return nil, err
		}
	}
	t.t = tt
	return t, nil
}

func checkRanges(n parse.Node, l Limits) error {
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return nil
		}
		for _, c := range x.Nodes {
			if err := checkRanges(c, l); err != nil {
				return err
			}
		}
	case *parse.RangeNode:
		if x.Pipe != nil && len(x.Pipe.Cmds) == 1 && len(x.Pipe.Cmds[0].Args) == 1 {
			if num, ok := x.Pipe.Cmds[0].Args[0].(*parse.NumberNode); ok && num.IsInt && num.Int64 > int64(l.Items) {
				return fmt.Errorf("%w: range %d is more than the %d iterations allowed", ErrCost, num.Int64, l.Items)
			}
		}
		return errors.Join(checkRanges(x.List, l), checkRanges(x.ElseList, l))
	case *parse.IfNode:
		return errors.Join(checkRanges(x.List, l), checkRanges(x.ElseList, l))
	case *parse.WithNode:
		return errors.Join(checkRanges(x.List, l), checkRanges(x.ElseList, l))
	}
	return nil
}

// Template is a parsed template with bounded cost.
type Template struct {
	t      *template.Template
	limits Limits
	stop   atomic.Bool
}

func (t *Template) stopped() bool { return t.stop.Load() }

// Execute renders the template with data. It fails, with an error matching
// ErrCost, when the output would pass the output limit or the rendering
// outlasts the time budget; a rendering past its budget is told to stop at
// its next function call or write.
func (t *Template) Execute(data any) ([]byte, error) {
	w := &limitWriter{max: t.limits.Output, stop: t.stopped}
	done := make(chan error, 1)
	go func() { done <- t.t.Execute(w, data) }()
	timer := time.NewTimer(t.limits.Time)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return nil, err
		}
		return w.buf.Bytes(), nil
	case <-timer.C:
		t.stop.Store(true)
		return nil, fmt.Errorf("%w: rendering took longer than its time budget of %s", ErrCost, t.limits.Time)
	}
}

type limitWriter struct {
	buf  bytes.Buffer
	max  int
	stop func() bool
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.stop() {
		return 0, fmt.Errorf("%w: the time budget has run out", ErrCost)
	}
	if w.buf.Len()+len(p) > w.max {
		return 0, fmt.Errorf("%w: the output is larger than the %d bytes allowed", ErrCost, w.max)
	}
	return w.buf.Write(p)
}
