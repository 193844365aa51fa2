package experiment

import (
	"fmt"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"iter8.tools/iter8/internal/inputs"
)

// Condition is a compiled if: expression. Expressions are written in
// expr-lang (https://expr-lang.org) and see what the original's saw:
// Result (with Go field names, e.g. Result.NumLoops), SLOs(), Completed() and
// NoFailure(); plus lower-case aliases result.numLoops, slos(), completed()
// and noFailure().
type Condition struct {
	src  string
	prog *vm.Program
}

// CompileCondition compiles an if: expression, which must yield a boolean.
func CompileCondition(src string) (*Condition, error) {
	prog, err := expr.Compile(src, expr.Env(conditionEnv(&Experiment{Result: &Result{}})), expr.AsBool())
	if err != nil {
		return nil, &inputs.FieldError{Field: "if", Value: src, Expected: "a boolean expression such as SLOs(), not SLOs() or Result.NumLoops == 3 (" + err.Error() + ")"}
	}
	return &Condition{src: src, prog: prog}, nil
}

// String returns the expression's source.
func (c *Condition) String() string { return c.src }

// Eval evaluates the condition against an experiment.
func (c *Condition) Eval(exp *Experiment) (bool, error) {
	if exp.Result == nil {
		exp.Result = &Result{}
	}
	out, err := expr.Run(c.prog, conditionEnv(exp))
	if err != nil {
		return false, fmt.Errorf("evaluating if: %q: %w", c.src, err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("evaluating if: %q: got %T, expected a boolean", c.src, out)
	}
	return b, nil
}

type resultView struct {
	NumLoops          int       `expr:"numLoops"`
	NumCompletedTasks int       `expr:"numCompletedTasks"`
	Failure           bool      `expr:"failure"`
	StartTime         time.Time `expr:"startTime"`
}

func conditionEnv(exp *Experiment) map[string]any {
	r := exp.Result
	slos, completed, noFailure := exp.SLOs, exp.Completed, exp.NoFailure
	return map[string]any{
		"Result":    r,
		"result":    resultView{NumLoops: r.NumLoops, NumCompletedTasks: r.NumCompletedTasks, Failure: r.Failure, StartTime: r.StartTime},
		"SLOs":      slos,
		"slos":      slos,
		"Completed": completed,
		"completed": completed,
		"NoFailure": noFailure,
		"noFailure": noFailure,
		"nofailure": noFailure,
	}
}
