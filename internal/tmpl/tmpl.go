// Package tmpl runs text templates whose text may come from a URL (provider
// templates, notification payloads) at a bounded cost. The functions are
// sprig's and text/template's, each result capped in size, the ones that
// build large values checked before they allocate, and the costly crypto
// ones left out; execution stops with an error naming the template when its
// output passes a limit, its functions make more than an allocation budget,
// or its loops and template calls pass a step budget or its time budget.
//
// Every range body and every template starts with a hidden step, a call that
// counts and checks the budgets, so a rendering stops where it is, even in
// nested loops that call no function: it is stopped, not abandoned.
package tmpl

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"sync"
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
	// Steps is the most range iterations and template calls a rendering
	// may make (0: DefaultSteps).
	Steps int
	// Alloc is the most bytes the functions of a rendering may return in
	// all, strings and lists together (0: DefaultAlloc): it bounds the
	// memory a rendering holds, whatever it keeps in variables.
	Alloc int
}

// The default step and allocation budgets.
const (
	DefaultSteps = 10_000_000
	DefaultAlloc = 64 << 20
)

// DefaultLimits returns 1 MiB of output, lists of 100,000 items, and a
// budget of 5 seconds, 10 million steps and 64 MiB made by functions.
func DefaultLimits() Limits {
	return Limits{Output: 1 << 20, Items: 100_000, Time: 5 * time.Second, Steps: DefaultSteps, Alloc: DefaultAlloc}
}

func (l Limits) steps() int64 {
	if l.Steps <= 0 {
		return DefaultSteps
	}
	return int64(l.Steps)
}

func (l Limits) alloc() int64 {
	if l.Alloc <= 0 {
		return DefaultAlloc
	}
	return int64(l.Alloc)
}

// ErrCost marks a template stopped by its limits.
var ErrCost = errors.New("template cost")

// unsafe are functions left out: they read the environment (where secrets
// live) or resolve names, or cost much CPU for one call (key generation,
// password hashing).
var unsafe = []string{"env", "expandenv", "getHostByName", "genPrivateKey", "genCA", "genCAWithKey",
	"genSelfSignedCert", "genSelfSignedCertWithKey", "genSignedCert", "genSignedCertWithKey",
	"buildCustomCert", "bcrypt", "htpasswd", "derivePassword"}

// Budget is checked by every function call of a rendering: Check returns an
// error once the rendering must stop (its time is up), and Made is told the
// size of each result (bytes of a string, 8 per list item) and returns an
// error once the rendering has made too much.
type Budget interface {
	Check() error
	Made(n int) error
}

// Funcs returns sprig's functions (without the unsafe ones) and extra, every
// one bounded by l, plus bounded versions of text/template's print, printf,
// println, html, js and urlquery. budget, when not nil, is checked before
// every call and told the size of every result.
func Funcs(l Limits, extra template.FuncMap, budget Budget) template.FuncMap {
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
		out[k] = bounded(k, v, l, budget)
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

// bounded wraps fn so that it fails once the budget says so and when it
// returns a string or list larger than the limits.
func bounded(name string, fn any, l Limits, budget Budget) any {
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
		if budget != nil {
			if err := budget.Check(); err != nil {
				return fail(err)
			}
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
		size := 0
		switch r.Kind() {
		case reflect.String:
			if r.Len() > l.Output {
				return fail(fmt.Errorf("%w: %s returned %d bytes, more than the %d allowed", ErrCost, name, r.Len(), l.Output))
			}
			size = r.Len()
		case reflect.Slice, reflect.Map:
			limit, per := l.Items, 8
			if r.Type().Elem().Kind() == reflect.Uint8 {
				limit, per = l.Output, 1
			}
			if r.Len() > limit {
				return fail(fmt.Errorf("%w: %s returned %d items, more than the %d allowed", ErrCost, name, r.Len(), limit))
			}
			size = r.Len() * per
		}
		if budget != nil {
			if err := budget.Made(size); err != nil {
				return fail(fmt.Errorf("%s: %w", name, err))
			}
		}
		return []reflect.Value{r, reflect.Zero(errorType)}
	}).Interface()
}

// stepFunc is the hidden step Parse puts at the start of every range body
// and every template.
const stepFunc = "iter8step"

// Parse parses text as the template name with Funcs(l, extra, ...) and
// refuses a range over a literal count larger than l.Items. Every range
// body and every template starts with a step that counts against the step
// budget and checks the time budget.
func Parse(name, text string, l Limits, extra template.FuncMap, opts ...string) (*Template, error) {
	t := &Template{limits: l, extra: extra, now: time.Now}
	first := &Meter{limits: l, now: t.clock}
	funcs := Funcs(l, extra, first)
	funcs[stepFunc] = first.step
	tt, err := template.New(name).Funcs(funcs).Option(opts...).Parse(text)
	if err != nil {
		return nil, err
	}
	st, err := template.New("step").Funcs(template.FuncMap{stepFunc: first.step}).Parse("{{" + stepFunc + "}}")
	if err != nil {
		return nil, err
	}
	step := st.Root.Nodes[0]
	for _, x := range tt.Templates() {
		if x.Tree == nil || x.Root == nil {
			continue
		}
		if err := checkRanges(x.Root, l); err != nil {
			return nil, err
		}
		addSteps(x.Root, step)
		x.Root.Nodes = append([]parse.Node{step.Copy()}, x.Root.Nodes...)
	}
	t.t = tt
	first.t = tt
	t.runs.Put(first)
	return t, nil
}

// addSteps puts a step at the start of every range body under n.
func addSteps(n parse.Node, step parse.Node) {
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return
		}
		for _, c := range x.Nodes {
			addSteps(c, step)
		}
	case *parse.RangeNode:
		addSteps(x.List, step)
		addSteps(x.ElseList, step)
		if x.List != nil {
			x.List.Nodes = append([]parse.Node{step.Copy()}, x.List.Nodes...)
		}
	case *parse.IfNode:
		addSteps(x.List, step)
		addSteps(x.ElseList, step)
	case *parse.WithNode:
		addSteps(x.List, step)
		addSteps(x.ElseList, step)
	}
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

// Template is a parsed template with bounded cost. It may render
// concurrently: each rendering has its own budgets.
type Template struct {
	t      *template.Template
	limits Limits
	extra  template.FuncMap
	// now is the clock of the time budget (tests give a fake one).
	now func() time.Time
	// runs are copies of t, each with its functions bound to its own
	// Meter, ready to render.
	runs sync.Pool
	// steps is how many steps the last rendering took (for tests).
	steps atomic.Int64
}

func (t *Template) clock() time.Time { return t.now() }

// Meter keeps the budgets of one rendering: the deadline, the steps taken
// and the bytes functions made. It is a Budget; NewMeter makes one for
// templates iter8 does not parse itself (a Helm chart's).
type Meter struct {
	t        *template.Template
	limits   Limits
	now      func() time.Time
	deadline time.Time
	steps    int64
	made     int64
}

// NewMeter returns a Meter whose time budget starts now.
func NewMeter(l Limits) *Meter {
	m := &Meter{limits: l, now: time.Now}
	m.Start()
	return m
}

// Start starts the meter's budgets afresh.
func (m *Meter) Start() {
	m.deadline = m.now().Add(m.limits.Time)
	m.steps, m.made = 0, 0
}

// Check is the time budget: an error once the rendering's time is up.
func (m *Meter) Check() error {
	if m.now().After(m.deadline) {
		return fmt.Errorf("%w: rendering took longer than its time budget of %s", ErrCost, m.limits.Time)
	}
	return nil
}

// Made counts n bytes made by a function against the allocation budget.
func (m *Meter) Made(n int) error {
	m.made += int64(n)
	if m.made > m.limits.alloc() {
		return fmt.Errorf("%w: the template's functions made more than the %d bytes allowed in all", ErrCost, m.limits.alloc())
	}
	return nil
}

// step counts a range iteration or a template call against the step budget
// and checks the time budget.
func (m *Meter) step() (string, error) {
	m.steps++
	if m.steps > m.limits.steps() {
		return "", fmt.Errorf("%w: more than the %d loop iterations and template calls allowed", ErrCost, m.limits.steps())
	}
	return "", m.Check()
}

// run returns a copy of the template ready to render, with its own meter.
func (t *Template) run() (*Meter, error) {
	if m, ok := t.runs.Get().(*Meter); ok {
		return m, nil
	}
	c, err := t.t.Clone()
	if err != nil {
		return nil, err
	}
	m := &Meter{t: c, limits: t.limits, now: t.clock}
	f := Funcs(t.limits, t.extra, m)
	f[stepFunc] = m.step
	c.Funcs(f)
	return m, nil
}

// Execute renders the template with data. It fails, with an error matching
// ErrCost, when the output would pass the output limit, the functions make
// more than the allocation budget, or the rendering passes its step or time
// budget. The rendering runs in the caller's goroutine and has ended when
// Execute returns: a rendering past a budget is stopped at its next step,
// function call or write, not left running.
func (t *Template) Execute(data any) ([]byte, error) {
	m, err := t.run()
	if err != nil {
		return nil, err
	}
	defer t.runs.Put(m)
	m.Start()
	w := &limitWriter{max: t.limits.Output, check: m.Check}
	err = m.t.Execute(w, data)
	t.steps.Store(m.steps)
	if err != nil {
		return nil, err
	}
	return w.buf.Bytes(), nil
}

type limitWriter struct {
	buf   bytes.Buffer
	max   int
	check func() error
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if err := w.check(); err != nil {
		return 0, err
	}
	if w.buf.Len()+len(p) > w.max {
		return 0, fmt.Errorf("%w: the output is larger than the %d bytes allowed", ErrCost, w.max)
	}
	return w.buf.Write(p)
}
