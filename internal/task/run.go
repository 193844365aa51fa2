package task

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
)

// runInputs hold a run task's script. The run task executes trusted input
// only: whoever writes the experiment can run any command as the user.
type runInputs struct {
	Script string `json:"script"`
}

type runTask struct {
	in runInputs
}

func newRun(with map[string]any) (experiment.Task, error) {
	t := &runTask{}
	if err := inputs.Decode(with, &t.in); err != nil {
		return nil, err
	}
	if strings.TrimSpace(t.in.Script) == "" {
		return nil, &inputs.FieldError{Field: "run", Value: t.in.Script, Expected: "a non-empty shell script"}
	}
	return t, nil
}

// Run executes the script with bash in the run directory. Its combined output
// is logged; a non-zero exit fails the task with the output's tail.
func (t *runTask) Run(ctx context.Context, env *experiment.Env) error {
	cmd := exec.CommandContext(ctx, "/bin/bash", "-c", t.in.Script)
	cmd.Dir = env.Dir
	cmd.Env = append(os.Environ(), "TEMP_DIR="+os.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Run in its own process group so cancellation stops its children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if out.Len() > 0 {
		env.Logger.Debug("run output", "output", out.String())
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("script stopped: %w", context.Cause(ctx))
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("script exited with code %d: %s", ee.ExitCode(), tail(out.String(), 20))
		}
		return fmt.Errorf("running script: %w", err)
	}
	return nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "(no output)"
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return "output:\n" + strings.Join(lines, "\n")
}
