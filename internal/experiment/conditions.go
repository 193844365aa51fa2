package experiment

import (
	"fmt"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"iter8.tools/iter8/internal/inputs"
)

// Condition is a compiled if: expression. Expressions are written in
// expr-lang (https://expr-lang.org) and see what the original's saw (its
// environment was the experiment itself): Spec (the task list, so len(Spec)
// works), Result with Go field names (Result.NumLoops,
// Result.Insights.NumVersions, Result.Insights.ScalarMetricValue(0, "m")...),
// SLOs(), Completed() and NoFailure(); plus lower-case aliases
// result.numLoops, spec, slos(), completed() and noFailure().
type Condition struct {
	src  string
	prog *vm.Program
}

// maxConditionNodes bounds an if: expression's size.
const maxConditionNodes = 1000

// CompileCondition compiles an if: expression, which must yield a boolean.
// Its cost is bounded: at most maxConditionNodes nodes, and no construct
// whose cost is not bounded by the expression's size (repeat, closures such
// as map or reduce, ranges a..b, let), so evaluation time and memory grow at
// most with the length of the expression and the experiment.
func CompileCondition(src string) (*Condition, error) {
	if why := unboundedCost(src); why != "" {
		return nil, &inputs.FieldError{Field: "if", Value: src, Expected: "a boolean expression of bounded cost, such as SLOs() or Result.NumLoops == 3 (" + why + ")"}
	}
	prog, err := expr.Compile(src, expr.Env(conditionEnv(&Experiment{Result: &Result{}})), expr.AsBool(), expr.MaxNodes(maxConditionNodes))
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

// unboundedCost says why an expression's cost may not be bounded by its
// size, or "" when it is. It works on the parse tree, before compiling: the
// compiler folds constants, so compiling repeat("x", 1e12) would allocate.
func unboundedCost(src string) string {
	tree, err := parser.Parse(src)
	if err != nil {
		return "" // the compiler reports it
	}
	v := &costCheck{}
	ast.Walk(&tree.Node, v)
	if v.nodes > maxConditionNodes {
		return fmt.Sprintf("more than %d nodes", maxConditionNodes)
	}
	return v.why
}

type costCheck struct {
	why   string
	nodes int
}

func (c *costCheck) Visit(node *ast.Node) {
	c.nodes++
	if c.why != "" {
		return
	}
	switch n := (*node).(type) {
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == "repeat" {
			c.why = "repeat is not allowed"
		}
	case *ast.BuiltinNode:
		if n.Name == "repeat" {
			c.why = "repeat is not allowed"
		}
	case *ast.PredicateNode:
		c.why = "closures such as map, filter or reduce are not allowed"
	case *ast.VariableDeclaratorNode:
		c.why = "let is not allowed"
	case *ast.BinaryNode:
		if n.Operator == ".." {
			c.why = "ranges (a..b) are not allowed"
		}
	}
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
		"Spec":      exp.Spec,
		"spec":      exp.Spec,
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
