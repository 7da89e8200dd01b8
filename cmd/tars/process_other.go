//go:build !unix

package main

import "os"

// processAlive reports whether a process with this id exists. Where there
// is no signal 0 (Windows), finding the process opens a handle to it,
// which fails once the process is gone (while another handle keeps an
// exited process's object, it still counts as alive: the UI link then
// names a tars dev that has stopped, as before it was cleaned up).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	_ = p.Release()
	return true
}
