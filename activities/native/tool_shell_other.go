//go:build !unix

package native

import "os/exec"

// killProcessGroup leaves exec's default, killing the process alone, where
// process groups are not available.
func killProcessGroup(*exec.Cmd) {}
