//go:build unix

package native

import (
	"os/exec"
	"syscall"
)

// killProcessGroup starts the command in its own process group and makes
// cancellation kill the whole group, so that a timed-out `sh -c` does not
// leave its children running.
func killProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
