//go:build linux

package native

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/activities"
)

// workerSecret is in the environment a helper worker is started with, as an
// API key is in a real worker's.
const workerSecret = "sk-tars-test-4f1d9c"

// startWorker starts the test binary as a worker (see TestMain) that runs
// one granted shell call with args; sys, if not nil, is how it is started.
func startWorker(t *testing.T, args any, sys *syscall.SysProcAttr) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	raw, err := json.Marshal(args)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{workerHelperEnv + "=" + string(raw), "OPENAI_API_KEY=" + workerSecret,
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, name := range []string{shellIsolationEnv, shellUserEnv, workerNoUserNSEnv} {
		if v, ok := os.LookupEnv(name); ok {
			cmd.Env = append(cmd.Env, name+"="+v)
		}
	}
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sys
	require.NoError(t, cmd.Start())
	return cmd, out
}

// runWorker runs a helper worker to the end and returns the shell output it
// printed, skipping the test where this host cannot isolate a command.
func runWorker(t *testing.T, args any) shellOutput {
	t.Helper()
	cmd, out := startWorker(t, args, nil)
	require.NoError(t, cmd.Wait(), out.String())
	if strings.HasPrefix(out.String(), "error "+ErrIsolationUnavailable) {
		t.Skipf("this host cannot isolate shell commands: %s", out)
	}
	var res shellOutput
	require.NoError(t, json.Unmarshal([]byte(out.String()), &res), "worker printed %q", out)
	return res
}

// TestShellCannotReadTheWorker is issue 17: a granted command read the
// worker's API key from /proc/$PPID/environ.
func TestShellCannotReadTheWorker(t *testing.T) {
	script := `echo "ppid=$PPID"; cat /proc/$PPID/environ; echo; cat /proc/1/environ; echo; echo procs:; ls /proc | grep '^[0-9]*$'`
	cmd, out := startWorker(t, map[string]any{"argv": []string{"sh", "-c", script}}, nil)
	require.NoError(t, cmd.Wait(), out.String())
	if strings.HasPrefix(out.String(), "error "+ErrIsolationUnavailable) {
		t.Skipf("this host cannot isolate shell commands: %s", out)
	}
	var res shellOutput
	require.NoError(t, json.Unmarshal([]byte(out.String()), &res), "worker printed %q", out)

	assert.NotContains(t, res.Stdout+res.Stderr, workerSecret, "the command read the worker's environment")
	_, procs, ok := strings.Cut(res.Stdout, "procs:\n")
	require.True(t, ok, res.Stdout)
	pids := strings.Fields(procs)
	assert.Contains(t, pids, "1", "the namespace's init is PID 1")
	for _, pid := range []int{cmd.Process.Pid, os.Getpid(), os.Getppid()} {
		assert.NotContains(t, pids, strconv.Itoa(pid), "/proc lists a process outside the command's namespace")
	}
	assert.LessOrEqual(t, len(pids), 5, "/proc lists only the command's own processes: %v", pids)
}

// TestShellCannotUncoverTheHostProc checks that the command, root in its
// namespace, cannot unmount the fresh /proc to reach the host's.
func TestShellCannotUncoverTheHostProc(t *testing.T) {
	if _, err := exec.LookPath("umount"); err != nil {
		t.Skipf("no umount program: %v", err)
	}
	// The guard matters: unisolated, as root, this would unmount the
	// host's /proc. In a fresh PID namespace PID 1 is the shell's init.
	script := `grep -q tars-shell-init /proc/1/cmdline || { echo "not in a fresh PID namespace: PID 1 is $(cat /proc/1/cmdline)" >&2; exit 99; }
umount /proc || umount -l /proc; ls /proc | grep -c '^[0-9]*$'`
	res := runWorker(t, map[string]any{"argv": []string{"sh", "-c", script}})
	require.NotEqual(t, 99, res.ExitCode, res.Stderr)
	n, err := strconv.Atoi(strings.TrimSpace(res.Stdout))
	require.NoError(t, err, "stdout %q, stderr %q", res.Stdout, res.Stderr)
	assert.LessOrEqual(t, n, 5, "after umount, /proc lists %d processes: the host's (stderr %q)", n, res.Stderr)
}

// TestShellDiesWithTheWorker is issue 17: after a kill -9 of the worker, a
// command's sleep kept running and wrote its file.
func TestShellDiesWithTheWorker(t *testing.T) {
	dir := writableDir(t)
	started, late := filepath.Join(dir, "started"), filepath.Join(dir, "late")

	// The same command, left alone, does write its file: the test below can fail.
	res := runWorker(t, map[string]any{"argv": []string{"sh", "-c", `touch "$1"`, "sh", late}})
	require.Equal(t, 0, res.ExitCode, res.Stderr)
	require.FileExists(t, late)
	require.NoError(t, os.Remove(late))

	cmd, out := startWorker(t, map[string]any{"argv": []string{"sh", "-c", `touch "$1"; sleep 2; touch "$2"`, "sh", started, late}}, nil)
	require.Eventually(t, func() bool { return fileExists(started) }, 10*time.Second, 10*time.Millisecond, "the command never started: %s", out)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	assert.Never(t, func() bool { return fileExists(late) }, 3*time.Second, 50*time.Millisecond, "the command outlived its worker")
}

// TestShellRefusesWithoutNamespaces runs a worker in a user namespace whose
// limit on nested user namespaces is 0, as on a host that disables them: the
// shell tool must refuse, naming what is missing, rather than run the
// command unisolated; and run it when the operator opts out.
func TestShellRefusesWithoutNamespaces(t *testing.T) {
	// The worker is root in a namespace of its own that maps one id: its
	// commands can run as that id only.
	t.Setenv(shellUserEnv, "0:0")
	dir := writableDir(t)
	ran := filepath.Join(dir, "ran")
	args := map[string]any{"argv": []string{"touch", ran}}
	worker := func(noUserNS bool, isolation string, setgroups bool) string {
		t.Setenv(shellIsolationEnv, isolation)
		t.Setenv(workerNoUserNSEnv, strconv.FormatBool(noUserNS))
		cmd, out := startWorker(t, args, &syscall.SysProcAttr{
			Cloneflags:                 syscall.CLONE_NEWUSER,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
			GidMappingsEnableSetgroups: setgroups,
		})
		require.NoError(t, cmd.Wait(), out.String())
		return out.String()
	}

	if out := worker(false, "", true); !strings.HasPrefix(out, `{"exit_code":0`) {
		t.Skipf("this host cannot isolate shell commands from a worker in a user namespace: %s", out)
	}
	require.FileExists(t, ran)
	require.NoError(t, os.Remove(ran))
	// Root in a namespace where setgroups is denied, as in a rootless
	// container: the command keeps the worker's groups but runs.
	out := worker(false, "", false)
	require.True(t, strings.HasPrefix(out, `{"exit_code":0`), out)
	require.FileExists(t, ran)
	require.NoError(t, os.Remove(ran))

	out = worker(true, "", true)
	assert.Contains(t, out, "error "+ErrIsolationUnavailable+": shell: ")
	assert.Contains(t, out, "no space left on device", "the kernel's reason")
	assert.Contains(t, out, "user.max_user_namespaces", "where to look")
	assert.Contains(t, out, shellIsolationEnv+"=none", "how to opt out")
	assert.NoFileExists(t, ran, "the command ran unisolated")

	out = worker(true, "none", true)
	assert.True(t, strings.HasPrefix(out, `{"exit_code":0`), out)
	assert.FileExists(t, ran, "opted out, the command runs")
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// BenchmarkShell measures one granted shell call of `true`, isolated in
// namespaces (the default) and as a plain child of the worker.
func BenchmarkShell(b *testing.B) {
	r := New(Config{})
	for _, isolation := range []string{"namespaces", "none"} {
		b.Run("isolation="+isolation, func(b *testing.B) {
			b.Setenv(shellIsolationEnv, isolation)
			for b.Loop() {
				res, err := call(b, r, "shell", `{"argv": ["true"], "check": true}`, activities.Grants{Shell: true})
				var appErr *temporal.ApplicationError
				if errors.As(err, &appErr) && appErr.Type() == ErrIsolationUnavailable {
					b.Skipf("this host cannot isolate shell commands: %v", err)
				}
				require.NoError(b, err)
				require.NotEmpty(b, res.Output)
			}
		})
	}
}

// TestShellRunsAsAnUnprivilegedUser checks who the command is on the host:
// nobody, without root's groups, when the worker is root.
func TestShellRunsAsAnUnprivilegedUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skipf("the worker is not root (euid %d): its commands run as its own user", os.Geteuid())
	}
	const group = 4444 // a supplementary group of the worker's
	dir := writableDir(t)
	secret := filepath.Join(dir, "group-only")
	require.NoError(t, os.WriteFile(secret, []byte("for root and the group"), 0o640))
	require.NoError(t, os.Chown(secret, 0, group))
	made := filepath.Join(dir, "made")
	cmd, out := startWorker(t, map[string]any{"argv": []string{"sh", "-c", `touch "$1"; cat "$2"`, "sh", made, secret}},
		&syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{group}}})
	require.NoError(t, cmd.Wait(), out.String())
	if strings.HasPrefix(out.String(), "error "+ErrIsolationUnavailable) {
		t.Skipf("this host cannot isolate shell commands: %s", out)
	}
	var res shellOutput
	require.NoError(t, json.Unmarshal([]byte(out.String()), &res), "worker printed %q", out)
	assert.NotEqual(t, 0, res.ExitCode, "the command read a root:%d 0640 file: it kept the worker's user or groups", group)
	assert.Contains(t, res.Stderr, "Permission denied")
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(made, &st))
	assert.Equal(t, []uint32{nobody, nobody}, []uint32{st.Uid, st.Gid}, "owner of a file the command made")

	t.Setenv(shellUserEnv, "4242:4343")
	res = runWorker(t, map[string]any{"argv": []string{"sh", "-c", `touch "$1"`, "sh", made + "2"}})
	require.Equal(t, 0, res.ExitCode, res.Stderr)
	require.NoError(t, syscall.Stat(made+"2", &st))
	assert.Equal(t, []uint32{4242, 4343}, []uint32{st.Uid, st.Gid}, "owner under TARS_SHELL_USER")
}

// TestShellEndsLeftoverProcesses checks that a background process the
// command leaves behind is killed when the command exits, instead of
// running on (and holding stdout, so that the call waited for it).
func TestShellEndsLeftoverProcesses(t *testing.T) {
	// The namespace's init is this test binary (/proc/self/exe); built with
	// -race, its runtime sleeps up to a second before exiting, which keeps
	// the namespace alive that long: the leftover waits 3 s, so only one
	// that outlives init can write its file.
	dir := writableDir(t)
	late := filepath.Join(dir, "late")
	r := New(Config{})
	res, err := call(t, r, "shell", map[string]any{"argv": []string{"sh", "-c", `(sleep 3; touch "$1") & echo started`, "sh", late}},
		activities.Grants{Shell: true})
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == ErrIsolationUnavailable {
		t.Skipf("this host cannot isolate shell commands: %v", err)
	}
	require.NoError(t, err)
	assert.Equal(t, "started\n", decodeOutput(t, res).(map[string]any)["stdout"])
	assert.Never(t, func() bool { return fileExists(late) }, 4*time.Second, 50*time.Millisecond, "the background process outlived the command")
}

func TestShellSettings(t *testing.T) {
	r := New(Config{})
	for _, tt := range []struct{ name, value, want string }{
		{shellIsolationEnv, "off", `TARS_SHELL_ISOLATION="off" on the worker: want namespaces (the default) or none`},
		{shellUserEnv, "nobody", `TARS_SHELL_USER="nobody" on the worker: want UID:GID, two numbers, e.g. 65534:65534`},
		{shellUserEnv, "1:", `TARS_SHELL_USER="1:" on the worker: want UID:GID`},
	} {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Setenv(tt.name, tt.value)
			_, err := call(t, r, "shell", `{"argv": ["true"]}`, activities.Grants{Shell: true})
			appErr := requireAppError(t, err, ErrIsolationUnavailable, true)
			assert.Equal(t, "shell: "+tt.want, appErr.Message()[:len("shell: ")+len(tt.want)])
		})
	}
}
