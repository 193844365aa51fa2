//go:build !unix

package task

import "os/exec"

// ownProcessGroup does nothing where there are no process groups (Windows):
// cancellation kills the script's process only, exec.CommandContext's
// default, and its children may outlive it.
func ownProcessGroup(*exec.Cmd) {}
