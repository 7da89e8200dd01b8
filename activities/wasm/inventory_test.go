package wasm_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/wasm"
)

// A Plan names tools; it never names files. Before, a tool name holding a
// '/' or ending in ".wasm" was taken as a path: a hand-made Plan could run
// any module on the worker, and "/etc/passwd" told whether that file
// existed (ModuleNotFound vs ModuleInvalid).
func TestToolsResolveOnlyToTheInventory(t *testing.T) {
	root := t.TempDir()
	modules := filepath.Join(root, "modules")
	outside := filepath.Join(root, "outside")
	require.NoError(t, os.MkdirAll(modules, 0o755))
	require.NoError(t, os.MkdirAll(outside, 0o755))
	evil, err := os.ReadFile(filepath.Join(guests, "text-stats.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(outside, "evil.wasm"), evil, 0o644))

	r := newRunner(t, wasm.Config{ModulesDir: modules})
	for _, tool := range []string{
		filepath.Join(outside, "evil.wasm"), // absolute path
		"../outside/evil.wasm",
		"../outside/evil",
		"evil.wasm",
		"/etc/passwd",
		"/etc/no-such-file-here",
		"..",
		".hidden",
		"a/b",
	} {
		t.Run(tool, func(t *testing.T) {
			_, err := run(t, r, call(tool, `{"text":"x"}`), 5*time.Second)
			app := requireType(t, err, activities.ErrModuleNotFound)
			assert.True(t, app.NonRetryable())
			msg := strings.ReplaceAll(err.Error(), tool, "TOOL")
			assert.NotContains(t, msg, root, "the error must not reveal paths")
			assert.NotContains(t, msg, "/etc", "the error must not reveal paths")
			assert.NotContains(t, msg, "no such file")
			assert.Contains(t, msg, `serves no tool "TOOL"`)
			assert.Contains(t, msg, "log-scan", "it lists what the pool does serve")
		})
	}
	// Whether a file exists elsewhere cannot be told from the answer.
	_, e1 := run(t, r, call("/etc/passwd", `{}`), 5*time.Second)
	_, e2 := run(t, r, call("/etc/nopasswd", `{}`), 5*time.Second)
	assert.Equal(t, strings.Replace(e1.Error(), "/etc/passwd", "X", 1), strings.Replace(e2.Error(), "/etc/nopasswd", "X", 1))
}

// The example tools are compiled in: a worker started with an empty (or
// no) modules directory serves them, and a directory adds to or overrides
// them.
func TestBuiltinModules(t *testing.T) {
	empty := t.TempDir()
	r := newRunner(t, wasm.Config{ModulesDir: empty})
	assert.Subset(t, r.Tools(), []string{"json-check", "json-field", "log-scan", "policy-check", "sha256", "text-stats"})
	assert.NotContains(t, r.Tools(), "escape", "the hostile test module is not built in")
	res, err := run(t, r, call("sha256", `"abc"`), 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, `"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"`, string(res.Output))

	inv, err := wasm.Inventory(nil, empty)
	require.NoError(t, err)
	assert.Equal(t, r.Tools(), keys(inv))

	// A file of the same name overrides the built-in.
	other, err := os.ReadFile(filepath.Join(guests, "text-stats.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(empty, "sha256.wasm"), other, 0o644))
	res, err = run(t, r, call("sha256", `{"text":"two words"}`), 5*time.Second)
	require.NoError(t, err)
	assert.Contains(t, string(res.Output), `"words":2`)
	inv2, err := wasm.Inventory(nil, empty)
	require.NoError(t, err)
	assert.NotEqual(t, inv["sha256"], inv2["sha256"])

	// No directory at all: the built-ins alone.
	none, err := wasm.New(wasm.Config{})
	require.NoError(t, err)
	defer none.Close()
	assert.Equal(t, keys(inv), none.Tools())
}

func TestMissingModulesDirIsAnError(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := wasm.New(wasm.Config{ModulesDir: missing})
	require.Error(t, err)
	assert.Contains(t, err.Error(), missing)
	_, err = wasm.Inventory(nil, missing)
	require.Error(t, err)

	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err = wasm.New(wasm.Config{ModulesDir: file})
	require.ErrorContains(t, err, "not a directory")
}

// Calls are admitted by memory: each weighs its grant plus its call-stack
// allowance (128 MiB) against MemoryBudgetMiB. Before, eight concurrent
// 512 MiB grants all ran at once whatever the host had.
func TestMemoryBudgetAdmitsCallsByWeight(t *testing.T) {
	// 300 MiB holds one call of 64 MiB (192 MiB with its stack), not two.
	r := newRunner(t, wasm.Config{MemoryBudgetMiB: 300, DefaultMemoryMiB: 64, Capacity: 8})

	// A grant larger than the whole budget fails at once, whatever else runs.
	big := call("text-stats", `{"text":"x"}`)
	big.Grants.MemoryMiB = 512
	start := time.Now()
	_, err := run(t, r, big, 5*time.Second)
	app := requireType(t, err, activities.ErrPolicyRefused)
	assert.True(t, app.NonRetryable())
	assert.Contains(t, err.Error(), "512 MiB")
	assert.Contains(t, err.Error(), "memory budget of 300 MiB")
	assert.Less(t, time.Since(start), time.Second)

	// One call holds the budget until its deadline; a second one waits
	// for it and runs after it, and a third whose deadline comes first is
	// told the pool was busy (retryable), not "context canceled".
	// Compile both modules first, so that the timings below are the calls'.
	_, err = run(t, r, call("escape", `{"try":"exit"}`), 20*time.Second)
	requireType(t, err, activities.ErrWasmExit)
	requireServing(t, r)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := run(t, r, call("escape", `{"try":"loop"}`), 800*time.Millisecond)
		requireType(t, err, activities.ErrWasmDeadline)
	}()
	time.Sleep(250 * time.Millisecond)
	var waited activities.Result
	var waitedErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		waited, waitedErr = run(t, r, call("text-stats", `{"text":"after the loop"}`), 10*time.Second)
	}()
	_, err = run(t, r, call("text-stats", `{"text":"x"}`), 200*time.Millisecond)
	app = requireType(t, err, activities.ErrPoolBusy)
	assert.False(t, app.NonRetryable())
	assert.Contains(t, err.Error(), "memory budget (300 MiB)")
	wg.Wait()
	require.NoError(t, waitedErr)
	assert.Contains(t, string(waited.Output), `"words":3`)
	assert.Greater(t, waited.Metrics["wasm.memory_wait_us"], float64(200_000), "it waited for the first call")
	requireServing(t, r)
}

// A guest still running near the deadline is stopped by the pool and
// fails as WasmDeadline, non-retryable, before Temporal's start-to-close
// timeout would fire (which is retried).
func TestDeadlineIsNonRetryableAndComesFirst(t *testing.T) {
	r := newRunner(t, wasm.Config{})
	// 3 s leaves a margin of 300 ms: room to stop and report on a busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()
	_, err := r.Run(ctx, call("escape", `{"try":"loop"}`))
	app := requireType(t, err, activities.ErrWasmDeadline)
	assert.True(t, app.NonRetryable())
	assert.True(t, time.Now().Before(deadline), "the pool answers before the activity's own deadline")
	assert.NoError(t, ctx.Err())
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestCloseDuringCompile: Close while a call is compiling its module must
// fail the call (retryably), not panic inside wazero, which it did when the
// runtime was closed under CompileModule.
func TestCloseDuringCompile(t *testing.T) {
	for i := range 12 {
		r, err := wasm.New(wasm.Config{ModulesDir: guests})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() {
			_, err := r.Run(context.Background(), call("escape", `{"try":"exit"}`))
			done <- err
		}()
		time.Sleep(time.Duration(i) * time.Millisecond)
		require.NoError(t, r.Close())
		err = <-done
		require.Error(t, err)
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.NonRetryable() {
			assert.Contains(t, err.Error(), "exited with status 7", "only the guest's own failure is non-retryable")
		}
	}
}
