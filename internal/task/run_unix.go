//go:build unix

package task

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup runs cmd in its own process group, and cancellation kills
// the whole group, so a script's children stop with it.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
