//go:build linux && amd64

package hyperlight

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/hyperlight/kvm"
)

// guestsDir returns a temporary directory holding the example guests and
// the test guests side by side, as a worker's GuestsDir would.
func guestsDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, pattern := range []string{"guests/bin/*.elf", "guests/test/bin/*.elf"} {
		files, err := filepath.Glob(pattern)
		require.NoError(t, err)
		for _, f := range files {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644))
		}
	}
	return dir
}

// newRunner returns a Runner over guestsDir, or skips the test with the
// exact reason when this host cannot run micro-VMs.
func newRunner(t testing.TB, cfg Config) *Runner {
	t.Helper()
	if err := kvm.Check(); err != nil {
		t.Skipf("hyperlight needs a usable /dev/kvm: %v", err)
	}
	if cfg.GuestsDir == "" {
		cfg.GuestsDir = guestsDir(t)
	}
	r, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	return r
}

func call(tool, args string) activities.Call {
	return activities.Call{Step: "s", Runtime: Runtime, Tool: tool, Args: json.RawMessage(args)}
}

func runWithin(r *Runner, d time.Duration, c activities.Call) (activities.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return r.Run(ctx, c)
}

// appError asserts err is a non-retryable application error of type typ
// and returns it.
func appError(t *testing.T, err error, typ string) *temporal.ApplicationError {
	t.Helper()
	require.Error(t, err)
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae), "want *temporal.ApplicationError, got %T: %v", err, err)
	assert.Equal(t, typ, ae.Type(), "error: %v", err)
	assert.True(t, ae.NonRetryable(), "error: %v", err)
	return ae
}

func TestExampleGuests(t *testing.T) {
	r := newRunner(t, Config{})
	tests := []struct {
		name, tool, args, want string
	}{
		{"json-field nested", "json-field",
			`{"object": {"user": {"name": "ada", "tags": ["x", "y"]}}, "field": "user.tags.1"}`, `"y"`},
		{"json-field object value", "json-field",
			`{"object": {"a": {"b": [1, {"c": true}]}}, "field": "a.b"}`, `[1, {"c": true}]`},
		{"json-field escaped key", "json-field",
			`{"object": {"k\"ey": 42}, "field": "k\"ey"}`, `42`},
		{"json-field missing", "json-field",
			`{"object": {"a": 1}, "field": "a.b"}`, `null`},
		{"json-field document string", "json-field",
			`{"document": "{\"action\": \"restart api\", \"n\": [1]}", "field": "action"}`, `"restart api"`},
		{"json-field whole document", "json-field", `{"document": {"a": 1}, "field": ""}`, `{"a": 1}`},
		{"sha256 of a string", "sha256", `"abc"`,
			`"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"`},
		{"sha256 of an escaped string", "sha256", `"a\nb\u00e9"`,
			`"` + sha256Hex("a\nb\u00e9") + `"`},
		{"sha256 of raw JSON", "sha256", `{"a":1}`, `"` + sha256Hex(`{"a":1}`) + `"`},
		{"sha256 of data", "sha256", `{"data": "{\"x\": 1}"}`, `"` + sha256Hex(`{"x": 1}`) + `"`},
		{"sha256 of a long string", "sha256", `"` + strings.Repeat("x", 100000) + `"`,
			`"` + sha256Hex(strings.Repeat("x", 100000)) + `"`},
		{"policy-check allow", "policy-check",
			`{"rules": [{"effect": "allow", "action": "read", "resource": "docs/*"}, {"effect": "deny", "principal": "mallory"}],
			  "request": {"principal": "ada", "action": "read", "resource": "docs/a.md"}}`,
			`{"decision":"allow","rule":0}`},
		{"policy-check deny wins", "policy-check",
			`{"rules": [{"effect": "allow", "action": "read", "resource": "docs/*"}, {"effect": "deny", "principal": "mallory"}],
			  "request": {"principal": "mallory", "action": "read", "resource": "docs/a.md"}}`,
			`{"decision":"deny","rule":1}`},
		{"policy-check default deny", "policy-check",
			`{"rules": [{"effect": "allow", "action": "re?d", "resource": "docs/*"}],
			  "request": {"principal": "ada", "action": "write", "resource": "docs/a.md"}}`,
			`{"decision":"deny","rule":-1,"reason":"no rule matched"}`},
		{"policy-check named policy deny", "policy-check",
			`{"policy": "deny-network", "action": "Then CURL https://evil.example/x"}`,
			`{"decision":"deny","rule":1,"policy":"deny-network"}`}, // *https://*
		{"policy-check named policy allow", "policy-check",
			`{"policy": "deny-network", "action": "grep ERROR /var/log/app.log"}`,
			`{"decision":"allow","rule":14,"policy":"deny-network"}`},
		{"policy-check remediation", "policy-check",
			`{"policy": "remediation", "action": "` + strings.Repeat("x", 5000) + ` restart the api pods"}`,
			`{"decision":"allow","rule":8,"policy":"remediation"}`},
		{"policy-check remediation refuses", "policy-check",
			`{"policy": "remediation", "action": "restart api, then DELETE the volume"}`,
			`{"decision":"deny","rule":0,"policy":"remediation"}`},
		{"policy-check non-string action", "policy-check",
			`{"rules": [{"effect": "allow", "action": "{*}"}], "action": {"op": 1}}`,
			`{"decision":"allow","rule":0}`},
		{"hello", "hello", `{"name": "ada"}`, `{"greeting":"hello, ada"}`},
		{"policy-check glob", "policy-check",
			`{"rules": [{"effect": "allow", "action": "re?d", "resource": "*/secret-*.md"}],
			  "request": {"action": "read", "resource": "team/secret-plan.md"}}`,
			`{"decision":"allow","rule":0}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := runWithin(r, 5*time.Second, call(tt.tool, tt.args))
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(res.Output))
		})
	}
}

func TestExampleGuestErrorsAbort(t *testing.T) {
	r := newRunner(t, Config{})
	_, err := runWithin(r, 5*time.Second, call("json-field", `[1,2]`))
	ae := appError(t, err, activities.ErrGuestAbort)
	assert.Contains(t, ae.Error(), "json-field: input must be a JSON object")
}

func TestEveryCallStartsFromTheSnapshot(t *testing.T) {
	r := newRunner(t, Config{VMBudget: 1})
	for i := 0; i < 20; i++ {
		res, err := runWithin(r, 5*time.Second, call("counter", `{}`))
		require.NoError(t, err)
		require.JSONEq(t, `{"calls":1,"init":7,"heap_dirty":false}`, string(res.Output), "call %d", i)
		if i > 0 {
			assert.Zero(t, res.Metrics["vm.create_us"], "call %d should reuse the warm VM", i)
		}
	}
	assert.EqualValues(t, 1, r.Stats().ColdStarts)
}

func TestNoStateLeaksBetweenCalls(t *testing.T) {
	r := newRunner(t, Config{VMBudget: 1})
	var first map[string]int64
	for i := 0; i < 3; i++ {
		res, err := runWithin(r, 5*time.Second, call("clean", `{}`))
		require.NoError(t, err)
		var got map[string]int64
		require.NoError(t, json.Unmarshal(res.Output, &got))
		// 895 = 0x37F, the x87 control word the entry stub restores.
		assert.Equal(t, map[string]int64{"xmm7": 0, "fcw": 895, "io": 0, "heap": 0, "stack": 0, "fs": got["fs"]}, got, "call %d", i)
		if i == 0 {
			first = got
		}
		assert.Equal(t, first, got, "call %d saw what call %d left behind", i, i-1)
	}
}

func TestGuestRunsInUserMode(t *testing.T) {
	r := newRunner(t, Config{})
	for _, priv := range []string{`"msr"`, `"dr"`, `"cr3"`} {
		_, err := runWithin(r, 5*time.Second, call("clean", priv))
		ae := appError(t, err, activities.ErrGuestFault)
		assert.Contains(t, ae.Error(), "#GP", priv)
		assert.Contains(t, ae.Error(), "rip=0x", priv)
	}
	// LIDT and INT3 in ring 0 would triple-fault; in user mode LIDT is a #GP.
	_, err := runWithin(r, 5*time.Second, call("triple", `{}`))
	ae := appError(t, err, activities.ErrGuestFault)
	assert.Contains(t, ae.Error(), "#GP")
}

func TestTripleFaultDiscardsTheVM(t *testing.T) {
	r := newRunner(t, Config{VMBudget: 1})
	// A VM whose IDT is empty cannot deliver the guest's page fault: the
	// CPU gives up (KVM_EXIT_SHUTDOWN; PVM hosts report an internal error).
	r.testHook = func(v *vm) { v.sregs.IDT.Limit = 0 }
	_, err := runWithin(r, 5*time.Second, call("wild", `"null"`))
	ae := appError(t, err, activities.ErrGuestFault)
	assert.Regexp(t, `triple fault|internal error`, ae.Error())
	assert.Contains(t, ae.Error(), "rip=0x")
	assert.Zero(t, r.Stats().VMsAlive, "a VM that triple-faulted is not kept")

	r.testHook = nil
	res, err := runWithin(r, 5*time.Second, call("wild", `"ok"`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"ok":true}`, string(res.Output))
}

func TestDeadlineStopsAnInfiniteLoop(t *testing.T) {
	r := newRunner(t, Config{VMBudget: 2})
	const deadline = 200 * time.Millisecond
	for i := 0; i < 3; i++ {
		start := time.Now()
		res, err := runWithin(r, deadline, call("loop", `{}`))
		elapsed := time.Since(start)
		ae := appError(t, err, activities.ErrGuestDeadline)
		assert.Contains(t, ae.Error(), "rip=0x")
		assert.GreaterOrEqual(t, elapsed, deadline)
		// The loop never ends by itself, so stopping at all is what this
		// shows; how close to the deadline is BenchmarkDeadline's figure
		// (BENCHMARKS.md). A second of slack holds on a loaded 2-core host.
		assert.LessOrEqual(t, elapsed, deadline+time.Second, "call %d stopped late", i)
		t.Logf("call %d: deadline %v, stopped after %v", i, deadline, elapsed)
		assert.Contains(t, res.Log, "loop: spinning forever")
		if i > 0 {
			assert.Zero(t, res.Metrics["vm.create_us"], "a kicked VM is restored and reused")
		}
	}
	res, err := runWithin(r, 5*time.Second, call("echo", `{"still":"serving"}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"still":"serving"}`, string(res.Output))
	assert.EqualValues(t, 3, r.Stats().Deadlines)
}

func TestCanceledCallStops(t *testing.T) {
	r := newRunner(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := r.Run(ctx, call("loop", `{}`))
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestFaultsAreGuestFaultsAndTheRunnerKeepsServing(t *testing.T) {
	r := newRunner(t, Config{VMBudget: 2, MaxOutputBytes: 1 << 20})
	tests := []struct {
		name, tool, args, want string
	}{
		{"wild access outside guest memory", "wild", `"outside"`, "outside guest memory"},
		{"null pointer", "wild", `"null"`, "null pointer"},
		{"write to its own code", "wild", `"readonly"`, "read-only code"},
		{"write to the host's page tables", "wild", `"host"`, "read-only"},
		{"stack overflow", "wild", `"overflow"`, "stack"},
		{"unknown port", "badport", `{}`, "unknown port 0x1234"},
		{"oversized output", "bigout", `{}`, "exceeds the limit"},
		{"privileged instruction", "triple", `{}`, "#GP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runWithin(r, 5*time.Second, call(tt.tool, tt.args))
			ae := appError(t, err, activities.ErrGuestFault)
			assert.Contains(t, ae.Error(), tt.want)
			assert.Regexp(t, `rip=0x[0-9a-f]+`, ae.Error())
			var details map[string]string
			require.NoError(t, ae.Details(&details))
			assert.Regexp(t, `^0x[0-9a-f]+$`, details["rip"])
			assert.NotEmpty(t, details["reason"])

			// The same guest runs again from a clean snapshot.
			if tt.tool == "wild" {
				res, err := runWithin(r, 5*time.Second, call("wild", `"ok"`))
				require.NoError(t, err)
				assert.JSONEq(t, `{"ok":true}`, string(res.Output))
			}
			res, err := runWithin(r, 5*time.Second, call("sha256", `"abc"`))
			require.NoError(t, err)
			assert.JSONEq(t, `"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"`, string(res.Output))
		})
	}
	assert.EqualValues(t, len(tests), r.Stats().Faults)
	assert.LessOrEqual(t, r.Stats().VMsAlive, 2)
}

func TestAbortCarriesTheMessageAndTheLog(t *testing.T) {
	r := newRunner(t, Config{})
	res, err := runWithin(r, 5*time.Second, call("abort", `{}`))
	ae := appError(t, err, activities.ErrGuestAbort)
	assert.Contains(t, ae.Error(), "abort: the input was not acceptable")
	assert.Equal(t, "abort: about to give up\n", res.Log)
}

func TestHostFunctionsNeedAGrant(t *testing.T) {
	r := newRunner(t, Config{})
	c := call("hostcall", `{"func": "upper", "text": "hello, guest"}`)
	_, err := runWithin(r, 5*time.Second, c)
	ae := appError(t, err, activities.ErrPolicyRefused)
	assert.Contains(t, ae.Error(), `"upper"`)

	c.Grants.HostFuncs = []string{"upper", "sha256"}
	res, err := runWithin(r, 5*time.Second, c)
	require.NoError(t, err)
	assert.JSONEq(t, `"HELLO, GUEST"`, string(res.Output))

	c = call("hostcall", `{"func": "sha256", "text": "abc"}`)
	c.Grants.HostFuncs = []string{"sha256"}
	res, err = runWithin(r, 5*time.Second, c)
	require.NoError(t, err)
	assert.JSONEq(t, `"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"`, string(res.Output))
}

func TestDigests(t *testing.T) {
	dir := guestsDir(t)
	r := newRunner(t, Config{GuestsDir: dir})
	inv, err := Inventory(nil, dir)
	require.NoError(t, err)
	assert.Contains(t, inv, "sha256")
	assert.Contains(t, inv, "json-field")
	assert.Contains(t, inv, "policy-check")
	assert.Len(t, inv["sha256"], 64)
	assert.Equal(t, r.Tools(), sortedKeys(inv))

	c := call("echo", `1`)
	c.Digest = "sha256:" + strings.ToUpper(inv["echo"])
	res, err := runWithin(r, 5*time.Second, c)
	require.NoError(t, err)
	assert.JSONEq(t, `1`, string(res.Output))

	c.Digest = inv["sha256"]
	_, err = runWithin(r, 5*time.Second, c)
	ae := appError(t, err, activities.ErrModuleChanged)
	assert.Contains(t, ae.Error(), inv["echo"])
}

func TestChangedGuestIsReloaded(t *testing.T) {
	dir := guestsDir(t)
	r := newRunner(t, Config{GuestsDir: dir})
	swap := filepath.Join(dir, "swap.elf")
	copyFile(t, filepath.Join(dir, "echo.elf"), swap)
	res, err := runWithin(r, 5*time.Second, call("swap", `{"x":1}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"x":1}`, string(res.Output))

	copyFile(t, filepath.Join(dir, "counter.elf"), swap)
	future := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(swap, future, future))
	res, err = runWithin(r, 5*time.Second, call("swap", `{"x":1}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"calls":1,"init":7,"heap_dirty":false}`, string(res.Output))
}

func TestMissingAndInvalidGuests(t *testing.T) {
	dir := guestsDir(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk.elf"), []byte("not an elf"), 0o644))
	r := newRunner(t, Config{GuestsDir: dir})

	_, err := runWithin(r, 5*time.Second, call("nope", `{}`))
	appError(t, err, activities.ErrGuestNotFound)

	_, err = runWithin(r, 5*time.Second, call("junk", `{}`))
	ae := appError(t, err, activities.ErrModuleInvalid)
	assert.Contains(t, ae.Error(), "not an ELF")

	_, err = runWithin(r, 5*time.Second, call("junk", `{}`))
	appError(t, err, activities.ErrModuleInvalid) // the failure sticks to this file
}

func TestMemoryGrants(t *testing.T) {
	r := newRunner(t, Config{MaxMemoryMiB: 256})
	c := call("counter", `{}`)
	c.Grants.MemoryMiB = 512
	_, err := runWithin(r, 5*time.Second, c)
	appError(t, err, activities.ErrPolicyRefused)

	c.Grants.MemoryMiB = 15 // rounded up to 16
	res, err := runWithin(r, 5*time.Second, c)
	require.NoError(t, err)
	assert.JSONEq(t, `{"calls":1,"init":7,"heap_dirty":false}`, string(res.Output))

	big := call("echo", `"`+strings.Repeat("a", inputCap)+`"`)
	_, err = runWithin(r, 5*time.Second, big)
	appError(t, err, activities.ErrBadArgs)
}

func TestMetricsAndStats(t *testing.T) {
	r := newRunner(t, Config{VMBudget: 1})
	first, err := runWithin(r, 5*time.Second, call("echo", `"hi"`))
	require.NoError(t, err)
	second, err := runWithin(r, 5*time.Second, call("echo", `"hi"`))
	require.NoError(t, err)
	assert.Greater(t, first.Metrics["vm.create_us"], 0.0)
	assert.Zero(t, second.Metrics["vm.create_us"])
	for _, m := range []map[string]float64{first.Metrics, second.Metrics} {
		assert.Greater(t, m["vm.restore_us"], 0.0)
		assert.Greater(t, m["vm.run_us"], 0.0)
		assert.GreaterOrEqual(t, m["vm.exits"], 1.0)
	}
	s := r.Stats()
	assert.EqualValues(t, 2, s.Calls)
	assert.EqualValues(t, 1, s.ColdStarts)
	assert.Equal(t, 1, s.VMsAlive)
	assert.Equal(t, 1, s.VMsIdle)
	assert.Equal(t, "hyperlight", r.Runtime())
	assert.Equal(t, 1, r.Capacity())
}

func TestBudgetEvictsIdleVMsOfOtherGuests(t *testing.T) {
	r := newRunner(t, Config{VMBudget: 2})
	for _, tool := range []string{"echo", "sha256", "json-field", "echo", "policy-check"} {
		_, err := runWithin(r, 5*time.Second, call(tool, `{"object":{},"field":"a","rules":[],"request":{}}`))
		require.NoError(t, err, tool)
		assert.LessOrEqual(t, r.Stats().VMsAlive, 2)
	}
}

func TestConcurrentCalls(t *testing.T) {
	r := newRunner(t, Config{VMBudget: 4})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				var c activities.Call
				var want string
				switch (g + i) % 3 {
				case 0:
					text := fmt.Sprintf("g%d-i%d", g, i)
					c, want = call("sha256", `"`+text+`"`), `"`+sha256Hex(text)+`"`
				case 1:
					c, want = call("json-field", fmt.Sprintf(`{"object":{"n":%d},"field":"n"}`, i)), fmt.Sprint(i)
				case 2:
					c, want = call("counter", `{}`), `{"calls":1,"init":7,"heap_dirty":false}`
				}
				res, err := runWithin(r, 10*time.Second, c)
				if err != nil {
					errs <- err
					return
				}
				if !jsonEqual(want, string(res.Output)) {
					errs <- fmt.Errorf("%s: got %s, want %s", c.Tool, res.Output, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := r.Stats()
	assert.EqualValues(t, 8*40, s.Calls)
	assert.LessOrEqual(t, s.VMsAlive, 4)
}

func TestCloseRefusesNewCalls(t *testing.T) {
	r := newRunner(t, Config{})
	_, err := runWithin(r, 5*time.Second, call("echo", `1`))
	require.NoError(t, err)
	require.NoError(t, r.Close())
	_, err = runWithin(r, 5*time.Second, call("echo", `1`))
	require.Error(t, err)
	assert.Zero(t, r.Stats().VMsAlive)
}

// Hosts without KVM_CAP_SYNC_REGS set registers with separate ioctls.
func TestWithoutSyncRegs(t *testing.T) {
	r := newRunner(t, Config{VMBudget: 1})
	r.syncRegs = false
	for i := 0; i < 3; i++ {
		res, err := runWithin(r, 5*time.Second, call("counter", `{}`))
		require.NoError(t, err)
		assert.JSONEq(t, `{"calls":1,"init":7,"heap_dirty":false}`, string(res.Output))
		_, err = runWithin(r, 5*time.Second, call("counter", `{}`))
		require.NoError(t, err)
	}
	_, err := runWithin(r, 5*time.Second, call("wild", `"null"`))
	appError(t, err, activities.ErrGuestFault)
	res, err := runWithin(r, 5*time.Second, call("wild", `"ok"`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"ok":true}`, string(res.Output))
}
