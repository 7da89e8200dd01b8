//go:build unix

package native

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
)

func TestShell(t *testing.T) {
	t.Setenv("TARS_TEST_GRANTED", "yes")
	t.Setenv("TARS_TEST_SECRET", "hunter2")
	dir := writableDir(t)
	granted := activities.Grants{Shell: true, Env: []string{"TARS_TEST_GRANTED"}}
	tests := []struct {
		name     string
		args     string
		grants   activities.Grants
		check    func(t *testing.T, out map[string]any)
		wantType string
		wantMsg  string
	}{
		{name: "off by default", args: `{"argv": ["echo", "hi"]}`,
			wantType: activities.ErrPolicyRefused, wantMsg: "set policy.grants.shell: true"},
		{name: "argv", args: `{"argv": ["echo", "hi", "$HOME; rm -rf /"]}`, grants: granted, check: func(t *testing.T, out map[string]any) {
			assert.Equal(t, map[string]any{"exit_code": 0.0, "stdout": "hi $HOME; rm -rf /\n", "stderr": ""}, out, "arguments are not interpreted")
		}},
		{name: "command string refused", args: `{"command": "ls -l"}`, grants: granted,
			wantType: activities.ErrBadArgs, wantMsg: `"command" is not accepted: a command string would be parsed by a shell`},
		{name: "empty argv", args: `{"argv": []}`, grants: granted, wantType: activities.ErrBadArgs, wantMsg: `"argv" must name a program`},
		{name: "stdin, stderr and exit code", args: `{"argv": ["sh", "-c", "cat; echo oops >&2; exit 3"], "stdin": "in"}`, grants: granted,
			check: func(t *testing.T, out map[string]any) {
				assert.Equal(t, map[string]any{"exit_code": 3.0, "stdout": "in", "stderr": "oops\n"}, out)
			}},
		{name: "check turns a non-zero exit into an error", args: `{"argv": ["sh", "-c", "echo why >&2; exit 2"], "check": true}`, grants: granted,
			wantType: activities.ErrToolFailed, wantMsg: "sh exited with status 2: why"},
		{name: "environment is minimal", args: `{"argv": ["env"], "env": {"OWN": "1"}}`, grants: granted, check: func(t *testing.T, out map[string]any) {
			stdout := out["stdout"].(string)
			assert.Contains(t, stdout, "TARS_TEST_GRANTED=yes\n")
			assert.Contains(t, stdout, "OWN=1\n")
			assert.Contains(t, stdout, "PATH=")
			assert.NotContains(t, stdout, "hunter2")
		}},
		{name: "dir", args: `{"argv": ["pwd"], "dir": "` + dir + `"}`, grants: granted, check: func(t *testing.T, out map[string]any) {
			assert.Equal(t, dir+"\n", out["stdout"])
		}},
		{name: "missing dir", args: `{"argv": ["pwd"], "dir": "` + dir + `/nope"}`, grants: granted, wantType: activities.ErrBadArgs, wantMsg: "cannot start"},
		{name: "program not found", args: `{"argv": ["tars-no-such-program"]}`, grants: granted,
			wantType: activities.ErrBadArgs, wantMsg: `"tars-no-such-program" is not in the worker's PATH`},
		{name: "stdout over the cap", args: `{"argv": ["sh", "-c", "yes | head -c 5000"]}`, grants: granted,
			wantType: activities.ErrOutputTooLarge, wantMsg: "5000 bytes to stdout, over the limit of 2048"},
		{name: "stderr keeps its tail", args: `{"argv": ["sh", "-c", "yes e | head -c 3000 >&2; echo last >&2"]}`, grants: granted,
			check: func(t *testing.T, out map[string]any) {
				stderr := out["stderr"].(string)
				assert.True(t, strings.HasPrefix(stderr, "[2749 earlier bytes dropped]\n"), stderr[:40])
				assert.True(t, strings.HasSuffix(stderr, "e\nlast\n"))
			}},
	}
	r := New(Config{OutputMaxBytes: 2048})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := call(t, r, "shell", tt.args, tt.grants)
			if tt.wantType != "" {
				appErr := requireAppError(t, err, tt.wantType, tt.wantType != activities.ErrToolFailed)
				assert.Contains(t, appErr.Message(), tt.wantMsg)
				return
			}
			require.NoError(t, err)
			tt.check(t, decodeOutput(t, res).(map[string]any))
		})
	}
}

// TestShellTimeoutKillsTheGroup checks that a timeout kills the program's
// children too: sh waits on a sleep that holds stdout open, and without the
// group kill the call would wait out shellWaitDelay for the pipe.
func TestShellTimeoutKillsTheGroup(t *testing.T) {
	r := New(Config{})
	start := time.Now()
	_, err := call(t, r, "shell", `{"argv": ["sh", "-c", "sleep 30; echo done"], "timeout": "100ms"}`, activities.Grants{Shell: true})
	appErr := requireAppError(t, err, activities.ErrToolFailed, false)
	assert.Contains(t, appErr.Message(), "did not finish within 100ms")
	assert.Less(t, time.Since(start), shellWaitDelay-500*time.Millisecond, "returned before the wait delay: the sleep was killed too")
}

func TestShellCancelled(t *testing.T) {
	r := New(Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := callCtx(ctx, t, r, "shell", `{"argv": ["sleep", "30"]}`, activities.Grants{Shell: true})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestShellEnvOrder(t *testing.T) {
	t.Setenv("TARS_TEST_X", "host")
	t.Setenv("HOME", "/home/tars")
	env := shellEnv([]string{"TARS_TEST_X", "TARS_TEST_UNSET"}, map[string]string{"B": "2", "A": "1", "TARS_TEST_X": "own"})
	assert.Equal(t, []string{"PATH=" + os.Getenv("PATH"), "HOME=/home/tars", "TARS_TEST_X=host", "A=1", "B=2", "TARS_TEST_X=own"}, env)
}

func writableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	// Commands of a root worker run as nobody: let them in.
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Chmod(dir, 0o777))
	return dir
}
