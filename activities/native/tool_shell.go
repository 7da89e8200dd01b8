package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/tars-engine/tars/activities"
)

type shellArgs struct {
	Argv    []string          `json:"argv"`
	Command json.RawMessage   `json:"command"` // refused with an explanation; see runShell
	Dir     string            `json:"dir"`
	Env     map[string]string `json:"env"`
	Stdin   *string           `json:"stdin"`
	Timeout *duration         `json:"timeout"`
	Check   bool              `json:"check"`
}

type shellOutput struct {
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
}

const (
	// stderrMaxBytes is how much of the end of stderr a call keeps (or an
	// eighth of Config.OutputMaxBytes, if less): the last lines are the
	// ones that say what went wrong.
	stderrMaxBytes = 64 << 10
	// shellWaitDelay is how long a call waits for the pipes to close after
	// the process ends or is killed, in case a grandchild holds them.
	shellWaitDelay = 2 * time.Second
)

// ErrIsolationUnavailable is the type of the non-retryable error a shell
// call fails with when the worker cannot isolate the command from itself
// (see runIsolated) and the operator has not opted out with
// TARS_SHELL_ISOLATION=none, or when those settings are malformed.
const ErrIsolationUnavailable = "IsolationUnavailable"

// The operator's settings for shell isolation, read from the worker's
// environment at every call.
const (
	// shellIsolationEnv is "namespaces" (the default) or "none": run
	// commands as the worker's own children, which can read the worker's
	// environment and memory and outlive it.
	shellIsolationEnv = "TARS_SHELL_ISOLATION"
	// shellUserEnv is UID:GID, the host ids an isolated command runs as
	// (see shellUser).
	shellUserEnv = "TARS_SHELL_USER"
)

// shellIsolated reads TARS_SHELL_ISOLATION.
func shellIsolated() (bool, error) {
	switch v := os.Getenv(shellIsolationEnv); v {
	case "", "namespaces":
		return true, nil
	case "none":
		return false, nil
	default:
		return false, fmt.Errorf("%s=%q on the worker: want namespaces (the default) or none", shellIsolationEnv, v)
	}
}

// runUnisolated runs cmd as a child of the worker and returns its exit
// code (-1 if a signal killed it).
func runUnisolated(cmd *exec.Cmd) (int, error) {
	killProcessGroup(cmd)
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err == nil || errors.As(err, &exitErr) || errors.Is(err, exec.ErrWaitDelay) {
		return cmd.ProcessState.ExitCode(), nil
	}
	return 0, &startError{err}
}

// startError says the program could not be started (a missing directory,
// a file that is not executable): the call's arguments are at fault.
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }

// isolationError says the worker could not put the program in namespaces:
// the host is at fault.
type isolationError struct{ err error }

func (e *isolationError) Error() string { return e.err.Error() }

// configError says the operator's shell settings are malformed.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }

// inheritedEnv are the host variables every command gets; the policy's
// grants.env adds more by name. The worker's other variables (credentials
// among them) are not passed on.
var inheritedEnv = []string{"PATH", "HOME"}

// runShell runs a program from an argument vector, never through a shell,
// and only when the policy grants it. A non-zero exit is an output unless
// args.check is true.
func (r *Runner) runShell(ctx context.Context, call activities.Call) (activities.Result, error) {
	const tool = "shell"
	if !call.Grants.Shell {
		if err := activities.CeilingRefusal(ctx, call, activities.GrantShell, "", nil); err != nil {
			return activities.Result{}, err
		}
		return activities.Result{}, refused(tool, "running programs is not granted; set policy.grants.shell: true to allow it")
	}
	// The command gets the variables grants.env names: one the worker's
	// ceiling hides would be missing without a word.
	if err := activities.CeilingRefusal(ctx, call, activities.GrantEnv, "", nil); err != nil {
		return activities.Result{}, err
	}
	var args shellArgs
	if err := decodeArgs(tool, call.Args, &args); err != nil {
		return activities.Result{}, err
	}
	if args.Command != nil {
		return activities.Result{}, badArgs(tool, `"command" is not accepted: a command string would be parsed by a shell, `+
			`and a value spliced into it from an expression could run anything. Give "argv", the program and its arguments `+
			`as a list, e.g. {"argv": ["ls", "-l", "${inputs.dir}"]}`)
	}
	if len(args.Argv) == 0 || args.Argv[0] == "" {
		return activities.Result{}, badArgs(tool, `"argv" must name a program, e.g. {"argv": ["ls", "-l"]}`)
	}

	isolated, err := shellIsolated()
	if err != nil {
		return activities.Result{}, activities.NonRetryable(ErrIsolationUnavailable, nil, "%s: %v", tool, err)
	}

	runCtx := ctx
	if args.Timeout != nil && *args.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, time.Duration(*args.Timeout))
		defer cancel()
	}
	stdout := &headBuffer{max: int(r.cfg.OutputMaxBytes)}
	stderr := &tailBuffer{max: int(min(stderrMaxBytes, r.cfg.OutputMaxBytes/8))}
	cmd := exec.CommandContext(runCtx, args.Argv[0], args.Argv[1:]...)
	switch {
	case errors.Is(cmd.Err, exec.ErrNotFound):
		return activities.Result{}, badArgs(tool, "program %q is not in the worker's PATH", args.Argv[0])
	case cmd.Err != nil:
		return activities.Result{}, badArgs(tool, "cannot start %q: %v", args.Argv[0], cmd.Err)
	}
	cmd.Dir = args.Dir
	cmd.Env = shellEnv(call.Grants.Env, args.Env)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if args.Stdin != nil {
		cmd.Stdin = strings.NewReader(*args.Stdin)
	}
	cmd.WaitDelay = shellWaitDelay

	var exitCode int
	if isolated {
		exitCode, err = runIsolated(cmd)
	} else {
		exitCode, err = runUnisolated(cmd)
	}
	var startErr *startError
	var isoErr *isolationError
	var confErr *configError
	switch {
	case ctx.Err() != nil:
		return activities.Result{}, fmt.Errorf("%s: %s: %w", tool, args.Argv[0], ctx.Err())
	case runCtx.Err() != nil:
		return activities.Result{}, failed(tool, nil, "%s did not finish within %s and was killed", args.Argv[0], time.Duration(*args.Timeout))
	case errors.As(err, &isoErr):
		return activities.Result{}, activities.NonRetryable(ErrIsolationUnavailable, nil, "%s: %v. %s", tool, err, isolationHint)
	case errors.As(err, &confErr):
		return activities.Result{}, activities.NonRetryable(ErrIsolationUnavailable, nil, "%s: %v", tool, err)
	case errors.As(err, &startErr):
		return activities.Result{}, badArgs(tool, "cannot start %q: %v", args.Argv[0], startErr.err)
	case err != nil:
		return activities.Result{}, failed(tool, err, "%s: %v", args.Argv[0], err)
	}
	if stdout.dropped > 0 {
		return activities.Result{}, tooLarge(tool, "%s wrote %d bytes to stdout, over the limit of %d (Config.OutputMaxBytes)",
			args.Argv[0], int64(stdout.buf.Len())+stdout.dropped, r.cfg.OutputMaxBytes)
	}
	out := shellOutput{ExitCode: exitCode, Stdout: stdout.buf.String(), Stderr: stderr.String()}
	if args.Check && out.ExitCode != 0 {
		return activities.Result{}, failed(tool, nil, "%s exited with status %d: %s", args.Argv[0], out.ExitCode, lastBytes(out.Stderr, 500))
	}
	return output(tool, out)
}

// shellEnv builds a command's environment: PATH and HOME, the variables
// the policy grants by name, then the call's own, which win.
func shellEnv(granted []string, own map[string]string) []string {
	var env []string
	for _, name := range slices.Concat(inheritedEnv, granted) {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	names := make([]string, 0, len(own))
	for name := range own {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		env = append(env, name+"="+own[name])
	}
	return env
}

// headBuffer keeps the first max bytes written and counts the rest. It
// never fails a write, so that a chatty program is not killed by SIGPIPE
// halfway through.
type headBuffer struct {
	buf     strings.Builder
	max     int
	dropped int64
}

func (b *headBuffer) Write(p []byte) (int, error) {
	keep := min(len(p), b.max-b.buf.Len())
	b.buf.Write(p[:keep])
	b.dropped += int64(len(p) - keep)
	return len(p), nil
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	buf     []byte
	max     int
	dropped int64
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.dropped += int64(over)
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	if b.dropped > 0 {
		return fmt.Sprintf("[%d earlier bytes dropped]\n%s", b.dropped, b.buf)
	}
	return string(b.buf)
}

func lastBytes(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	if s == "" {
		return "(no stderr)"
	}
	return s
}
