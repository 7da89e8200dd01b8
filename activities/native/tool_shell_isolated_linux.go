//go:build linux

package native

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/tars-engine/tars/activities/native/internal/shellns"
)

// nobody is the host user and group a root worker's commands run as
// unless TARS_SHELL_USER names others: an id that owns nothing.
const nobody = 65534

// runIsolated runs cmd (whose Path, Args and Dir name the program) in new
// user, PID, mount and IPC namespaces, under an init that is the worker's
// own binary (package shellns): the program sees a /proc holding only its
// own processes, cannot read the worker's memory or environment, and dies
// with the worker. It returns the program's exit code (-1 if a signal
// killed it).
func runIsolated(cmd *exec.Cmd) (int, error) {
	user, err := shellUser()
	if err != nil {
		return 0, err
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("creating the status socket: %w", err)
	}
	workerEnd, initEnd := os.NewFile(uintptr(fds[0]), "shell status"), os.NewFile(uintptr(fds[1]), "shell status (init)")
	defer workerEnd.Close()
	defer initEnd.Close()

	program := cmd.Path
	cmd.Args = append([]string{shellns.Arg0, cmd.Dir, cmd.Path}, cmd.Args...)
	cmd.Path, cmd.Dir = "/proc/self/exe", "" // init changes directory, as the user the program runs as
	cmd.ExtraFiles = []*os.File{initEnd}     // shellns.StatusFD
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWIPC,
		// One id, root inside the namespace (init needs that to mount
		// /proc), the unprivileged user.uid:user.gid outside.
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: user.uid, Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: user.gid, Size: 1}},
		GidMappingsEnableSetgroups: user.privileged,
		// Become that id, and drop the worker's supplementary groups (they
		// would open their files to the command) where the kernel lets us.
		Credential: &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: !user.privileged},
		// Killing init kills the namespace; the rest of its processes
		// cannot outlive it.
		Pdeathsig: syscall.SIGKILL,
		Setpgid:   true,
	}
	// The kernel sends Pdeathsig when the thread that started init exits,
	// not the process. Go ends a thread only when a goroutine locked to it
	// returns; holding this one keeps the thread alive until init is done.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return 0, &isolationError{fmt.Errorf("starting %s in new user, PID, mount and IPC namespaces as uid %d: %w", program, user.uid, err)}
	}
	initEnd.Close() // so that the read below ends when init does
	waitErr := cmd.Wait()

	msg, _ := io.ReadAll(io.LimitReader(workerEnd, 4096))
	word, rest, _ := strings.Cut(string(msg), " ")
	switch word {
	case "exit":
		return strconv.Atoi(rest)
	case "signal":
		return -1, nil
	case "setup:":
		return 0, &isolationError{fmt.Errorf("preparing the namespaces for %s: %s", program, rest)}
	case "start:":
		return 0, &startError{fmt.Errorf("%s (it runs as uid %d, gid %d on this host)", rest, user.uid, user.gid)}
	}
	// Init ended without a word: killed (timeout, cancellation, the OOM
	// killer) or crashed.
	if waitErr == nil {
		waitErr = errors.New("it exited without reporting a status")
	}
	return -1, fmt.Errorf("the namespace of %s ended: %w", program, waitErr)
}

// shellID is the host user and group a command runs as.
type shellID struct {
	uid, gid int
	// privileged is whether the worker is root and may leave setgroups
	// allowed in the namespace, so the command can drop the worker's
	// groups. Root in a user namespace that denies setgroups (a rootless
	// container) may not.
	privileged bool
}

// setgroupsAllowed reports whether this process's user namespace allows
// setgroups; a child namespace cannot allow what its parent denies.
func setgroupsAllowed() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err != nil || strings.TrimSpace(string(b)) == "allow" // the file is missing on kernels before 3.19, which always allow
}

// shellUser returns the ids commands run as: TARS_SHELL_USER if set;
// otherwise a root worker's commands run as nobody, and any other worker's
// as the worker's own user, the only id an unprivileged process may map.
func shellUser() (shellID, error) {
	id := shellID{uid: os.Geteuid(), gid: os.Getegid(), privileged: os.Geteuid() == 0 && setgroupsAllowed()}
	if id.privileged {
		id.uid, id.gid = nobody, nobody
	}
	v, ok := os.LookupEnv(shellUserEnv)
	if !ok || v == "" {
		return id, nil
	}
	u, g, ok := strings.Cut(v, ":")
	uid, err1 := strconv.ParseUint(u, 10, 31)
	gid, err2 := strconv.ParseUint(g, 10, 31)
	if !ok || err1 != nil || err2 != nil {
		return id, &configError{fmt.Errorf("%s=%q on the worker: want UID:GID, two numbers, e.g. %d:%d", shellUserEnv, v, nobody, nobody)}
	}
	id.uid, id.gid = int(uid), int(gid)
	return id, nil
}

// isolationHint follows an isolation error: what may be missing and how to
// opt out.
const isolationHint = "The worker could not create the user, PID and mount namespaces that keep a command " +
	"away from its process; unprivileged user namespaces may be disabled on this host (sysctls user.max_user_namespaces, " +
	"kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns) or forbidden by a container's " +
	"seccomp profile. The command was not run. To run shell commands unisolated, as children of the worker that can " +
	"read its environment, set " + shellIsolationEnv + "=none on the worker (see docs/native-tools.md#shell)"
