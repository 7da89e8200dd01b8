//go:build linux

package shellns

import (
	"fmt"
	"os"
	"syscall"
)

func init() {
	// PID 1 as well as argv[0]: a process that merely calls itself
	// tars-shell-init outside a fresh PID namespace is a normal run.
	if len(os.Args) < 3 || os.Args[0] != Arg0 || os.Getpid() != 1 {
		return
	}
	os.Exit(run(os.Args[1], os.Args[2], os.Args[3:]))
}

// run prepares the namespace, runs the program, reports how it ended and
// returns init's exit code. When init returns, the kernel kills every other
// process in the PID namespace: a command's background processes end with
// it.
func run(dir, path string, argv []string) int {
	status := os.NewFile(StatusFD, "status")
	syscall.CloseOnExec(StatusFD) // the program must not write a status of its own
	report := func(format string, a ...any) int {
		fmt.Fprintf(status, format, a...)
		return 0
	}

	// The worker died: Pdeathsig normally kills init at once, but not if
	// the worker died before the kernel had registered it.
	go func() {
		var b [1]byte
		status.Read(b[:])
		os.Exit(1)
	}()

	if err := mountProc(); err != nil {
		return report("setup: %v", err)
	}
	if dir != "" {
		if err := os.Chdir(dir); err != nil {
			return report("start: %v", err)
		}
	}
	proc, err := os.StartProcess(path, argv, &os.ProcAttr{
		Env:   os.Environ(),
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys: &syscall.SysProcAttr{
			// A user namespace of its own, nested in init's, with init's
			// mounts (the fresh /proc among them) locked: the program is root
			// there but cannot unmount /proc to uncover the host's, nor
			// mount another (the PID namespace belongs to init's user
			// namespace), nor read init's memory.
			Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		},
	})
	if err != nil {
		return report("start: %v", err)
	}
	// init is PID 1: orphans are reparented to it, so reap every child, not
	// only the program, until the program itself ends.
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return report("setup: waiting for %s: %v", path, err)
		case pid != proc.Pid:
			continue
		case ws.Signaled():
			return report("signal %d", int(ws.Signal()))
		default:
			return report("exit %d", ws.ExitStatus())
		}
	}
}

// mountProc mounts a /proc that shows this PID namespace only. Mounts are
// made private first so that nothing done here reaches the worker's mount
// namespace.
func mountProc() error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting a fresh /proc: %w", err)
	}
	return nil
}
