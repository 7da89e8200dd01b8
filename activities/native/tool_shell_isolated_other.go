//go:build !linux

package native

import (
	"fmt"
	"os/exec"
	"runtime"
)

// runIsolated refuses: the namespaces that keep a command away from the
// worker are a Linux feature.
func runIsolated(cmd *exec.Cmd) (int, error) {
	return 0, &isolationError{fmt.Errorf("%s cannot be isolated on %s: user, PID and mount namespaces are a Linux feature", cmd.Path, runtime.GOOS)}
}

// isolationHint follows an isolation error: how to opt out.
const isolationHint = "The command was not run. To run shell commands unisolated, as children of the worker that can " +
	"read its environment, set " + shellIsolationEnv + "=none on the worker (see docs/native-tools.md#shell)"
