//go:build unix

package main

import "syscall"

// processAlive reports whether a process with this id exists: signal 0
// checks without sending anything. A process of another user counts as
// alive (EPERM).
func processAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) != syscall.ESRCH
}
