package wasm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/wasm"
)

// guests is where the committed guest binaries are: tests never need clang.
const guests = "guests/bin"

func newRunner(t testing.TB, cfg wasm.Config) *wasm.Runner {
	t.Helper()
	if cfg.ModulesDir == "" {
		cfg.ModulesDir = guests
	}
	r, err := wasm.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	return r
}

func call(tool, args string) activities.Call {
	return activities.Call{Step: "test", Runtime: "wasm", Tool: tool, Args: json.RawMessage(args)}
}

func run(t testing.TB, r *wasm.Runner, c activities.Call, timeout time.Duration) (activities.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return r.Run(ctx, c)
}

// requireType checks that err is an application error of type typ and
// returns it.
func requireType(t testing.TB, err error, typ string) *temporal.ApplicationError {
	t.Helper()
	require.Error(t, err)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "want an application error, got %T: %v", err, err)
	require.Equal(t, typ, app.Type(), "error: %v", err)
	return app
}

// requireServing runs a good call, to show the runner survived the last one.
func requireServing(t testing.TB, r *wasm.Runner) {
	t.Helper()
	res, err := run(t, r, call("text-stats", `{"text":"still here"}`), 5*time.Second)
	require.NoError(t, err)
	require.Contains(t, string(res.Output), `"words":2`)
}

func TestTools(t *testing.T) {
	r := newRunner(t, wasm.Config{})
	tests := []struct {
		name string
		tool string
		args string
		want string
	}{
		{
			name: "text-stats counts and ranks words",
			tool: "text-stats",
			args: `{"text":"The cat and the hat.\nThe end","top":3}`,
			want: `{"lines":2,"words":7,"chars":28,"bytes":28,"unique_words":5,
				"top_words":[{"word":"the","count":3},{"word":"and","count":1},{"word":"cat","count":1}]}`,
		},
		{
			name: "text-stats counts code points and keeps apostrophes",
			tool: "text-stats",
			args: `{"text":"Héllo wörld, don't 'quote'\n\n","top":2}`,
			want: `{"lines":2,"words":4,"chars":28,"bytes":30,"unique_words":4,
				"top_words":[{"word":"don't","count":1},{"word":"héllo","count":1}]}`,
		},
		{
			name: "text-stats of nothing",
			tool: "text-stats",
			args: `{"text":""}`,
			want: `{"lines":0,"words":0,"chars":0,"bytes":0,"unique_words":0,"top_words":[]}`,
		},
		{
			name: "log-scan groups error messages",
			tool: "log-scan",
			args: `{"service":"api","lines":[
				"2026-11-26T10:00:01Z INFO api started",
				"2026-11-26T10:00:02Z ERROR db timeout after 30ms",
				"2026-11-26T10:00:03Z WARN slow request 1200ms",
				"2026-11-26T10:00:04Z ERROR db timeout after 31ms",
				"2026-11-26T10:00:05Z ERROR: upstream 502 from payments",
				"ts=2026-11-26T10:00:06Z level=error msg=\"cache miss storm\" keys=812",
				"TERRORIST is not an error line"]}`,
			want: `{"service":"api","lines":7,"errors":4,"warnings":1,"top_errors":[
				{"message":"db timeout after #ms","count":2},
				{"message":"upstream # from payments","count":1},
				{"message":"cache miss storm","count":1}]}`,
		},
		{
			name: "log-scan reads a text too",
			tool: "log-scan",
			args: `{"service":"db","text":"FATAL disk full\nWARNING replica lag 3s\nok\n"}`,
			want: `{"service":"db","lines":3,"errors":1,"warnings":1,"top_errors":[{"message":"disk full","count":1}]}`,
		},
		{
			name: "json-check lists every violation",
			tool: "json-check",
			args: `{"doc":{"id":"x7","name":"n","tags":["a",3],"extra":1},
				"schema":{"type":"object","required":["id","name","owner"],
				"properties":{"id":{"type":"integer"},"name":{"type":"string","minLength":2},
				"tags":{"type":"array","items":{"type":"string"}}},"additionalProperties":false}}`,
			want: `{"valid":false,"error_count":5,"errors":[
				{"path":"$","message":"missing required key \"owner\""},
				{"path":"$.id","message":"expected integer, got string"},
				{"path":"$.name","message":"shorter than minLength"},
				{"path":"$.tags[1]","message":"expected string, got integer"},
				{"path":"$.extra","message":"unexpected key"}]}`,
		},
		{
			name: "json-check accepts a valid document",
			tool: "json-check",
			args: `{"doc":{"id":1,"name":"ok","level":"warn"},"schema":{"type":"object","required":["id"],
				"properties":{"id":{"type":"integer","minimum":1},"level":{"enum":["info","warn"]}}}}`,
			want: `{"valid":true,"error_count":0,"errors":[]}`,
		},
		{
			name: "a tool named with its runtime",
			tool: "wasm:text-stats",
			args: `{"text":"a","top":0}`,
			want: `{"lines":1,"words":1,"chars":1,"bytes":1,"unique_words":1,"top_words":[]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(t, r, call(tt.tool, tt.args), 10*time.Second)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(res.Output))
			for _, m := range []string{"wasm.compile_us", "wasm.instantiate_us", "wasm.run_us", "wasm.memory_bytes"} {
				assert.Contains(t, res.Metrics, m)
			}
			assert.Positive(t, res.Metrics["wasm.memory_bytes"])
		})
	}
}

func TestToolErrors(t *testing.T) {
	r := newRunner(t, wasm.Config{})
	tests := []struct {
		name    string
		tool    string
		args    string
		typ     string
		message string
	}{
		{"bad input JSON exits 65", "text-stats", `{"text": }`, activities.ErrWasmExit, "status 65"},
		{"wrong argument type", "text-stats", `{"text": 3}`, activities.ErrWasmExit, `want {"text": string}`},
		{"no arguments", "log-scan", ``, activities.ErrWasmExit, "log-scan: want"},
		{"missing module", "no-such-tool", `{}`, activities.ErrModuleNotFound, `serves no tool "no-such-tool"`},
		{"a path is no tool", "/nonexistent/x.wasm", `{}`, activities.ErrModuleNotFound, `serves no tool "/nonexistent/x.wasm"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, r, call(tt.tool, tt.args), 10*time.Second)
			app := requireType(t, err, tt.typ)
			assert.True(t, app.NonRetryable())
			assert.Contains(t, err.Error(), tt.message)
		})
	}
}

// TestEscapes runs each hostile mode of the escape guest: every one must be
// stopped with the expected error, and the runner must keep serving.
func TestEscapes(t *testing.T) {
	const maxLog = 16 << 10
	r := newRunner(t, wasm.Config{MaxLogBytes: maxLog, DefaultMemoryMiB: 16, MaxOutputBytes: 256 << 10})
	t.Setenv("TARS_ESCAPE_SECRET", "hunter2")
	tests := []struct {
		mode      string
		timeout   time.Duration
		typ       string // "" means the call succeeds
		message   string
		retryable bool
	}{
		{mode: "passwd", typ: activities.ErrWasmExit, message: "open /etc/passwd"},
		{mode: "environ", typ: activities.ErrWasmExit, message: "environ: empty"},
		{mode: "socket", typ: activities.ErrWasmExit, message: "sock_accept on fds 3..15"},
		{mode: "write", typ: activities.ErrWasmExit, message: "create"},
		{mode: "loop", timeout: 300 * time.Millisecond, typ: activities.ErrWasmDeadline, message: "deadline"},
		{mode: "alloc", typ: activities.ErrWasmMemory, message: "exited with status 70"},
		{mode: "alloc-quiet", typ: activities.ErrWasmMemory, message: "exited 0"},
		{mode: "alloc-trap", typ: activities.ErrWasmMemory, message: "trapped: unreachable"},
		{mode: "recurse", typ: activities.ErrWasmTrap, message: "trapped: stack overflow"},
		{mode: "smash", typ: activities.ErrWasmTrap, message: "out of bounds memory access at smash"},
		{mode: "stdout", typ: activities.ErrOutputTooLarge, message: "more than 262144 bytes"},
		{mode: "stderr"},
		{mode: "trap", typ: activities.ErrWasmTrap, message: "unreachable at main, called from _start"},
		{mode: "exit", typ: activities.ErrWasmExit, message: "status 7: escape: exiting with status 7 as asked"},
		{mode: "badjson", typ: activities.ErrToolFailed, message: "not JSON"},
		{mode: "badlog", typ: activities.ErrWasmTrap, message: "is outside memory at tars.log, called from main"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 20 * time.Second
			}
			start := time.Now()
			res, err := run(t, r, call("escape", fmt.Sprintf(`{"try":%q}`, tt.mode)), timeout)
			t.Logf("%s: %v after %v", tt.mode, err, time.Since(start).Round(time.Millisecond))
			assert.NotContains(t, res.Log, "root:")
			assert.NotContains(t, res.Log, "hunter2")
			if tt.typ == "" {
				require.NoError(t, err)
				assert.LessOrEqual(t, len(res.Log), maxLog+100)
				assert.Contains(t, res.Log, "log truncated")
			} else {
				app := requireType(t, err, tt.typ)
				assert.Equal(t, !tt.retryable, app.NonRetryable())
				assert.Contains(t, err.Error(), tt.message)
			}
			requireServing(t, r)
		})
	}
}

func TestInvalidModules(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".wasm"), b, 0o644))
	}
	write("garbage", []byte("#!/bin/sh\necho not wasm\n"))
	write("empty", wasmHeader)                    // valid, but no _start
	write("greedy", moduleWithMemory(2000))       // 125 MiB to start: over 64 MiB
	write("huge", moduleWithMemory(60000))        // ~3.7 GiB: over the pool's MaxMemoryMiB
	write("fine", moduleWithMemory(16))           // 1 MiB, empty _start
	write("imports", moduleImporting("env", "f")) // needs a host function nobody offers
	r := newRunner(t, wasm.Config{ModulesDir: dir})

	tests := []struct {
		tool    string
		typ     string
		message string
	}{
		{"garbage", activities.ErrModuleInvalid, "not valid WebAssembly"},
		{"empty", activities.ErrModuleInvalid, "exports no _start"},
		{"greedy", activities.ErrWasmMemory, "needs 125.0 MiB of memory to start"},
		{"huge", activities.ErrWasmMemory, "declares more memory than this pool allows"},
		{"imports", activities.ErrModuleInvalid, "cannot be instantiated"},
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			for range 2 { // the second time the verdict comes from the cache
				_, err := run(t, r, call(tt.tool, `{}`), 5*time.Second)
				requireType(t, err, tt.typ)
				assert.Contains(t, err.Error(), tt.message)
			}
		})
	}

	res, err := run(t, r, call("fine", `{}`), 5*time.Second)
	require.NoError(t, err)
	assert.JSONEq(t, `null`, string(res.Output), "no stdout reads as null")
	assert.Equal(t, float64(1<<20), res.Metrics["wasm.memory_bytes"])

	c := call("greedy", `{}`)
	c.Grants.MemoryMiB = 200
	res, err = run(t, r, c, 5*time.Second)
	require.NoError(t, err, "a grant raises the limit")
	assert.Equal(t, float64(2000<<16), res.Metrics["wasm.memory_bytes"])

	c.Grants.MemoryMiB = 5000
	_, err = run(t, r, c, 5*time.Second)
	requireType(t, err, activities.ErrPolicyRefused)
}

func TestMemoryGrant(t *testing.T) {
	r := newRunner(t, wasm.Config{DefaultMemoryMiB: 8})
	for _, mib := range []int{8, 32} {
		c := call("escape", `{"try":"alloc"}`)
		c.Grants.MemoryMiB = mib
		_, err := run(t, r, c, 20*time.Second)
		requireType(t, err, activities.ErrWasmMemory)
		assert.Contains(t, err.Error(), fmt.Sprintf("memory limit of %d MiB", mib))
	}
}

func TestDigest(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(guests, "text-stats.wasm"))
	require.NoError(t, err)
	path := filepath.Join(dir, "stats.wasm")
	require.NoError(t, os.WriteFile(path, src, 0o644))

	inv, err := wasm.Inventory(fstest.MapFS{}, dir)
	require.NoError(t, err)
	want, err := wasm.Digest(path)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"stats": want}, inv)
	require.Len(t, want, 64)

	r := newRunner(t, wasm.Config{ModulesDir: dir, Builtin: fstest.MapFS{}})
	assert.Equal(t, []string{"stats"}, r.Tools())
	c := call("stats", `{"text":"x"}`)
	c.Digest = want
	res, err := run(t, r, c, 5*time.Second)
	require.NoError(t, err)
	assert.Positive(t, res.Metrics["wasm.compile_us"], "first call compiles")
	c.Digest = "sha256:" + strings.ToUpper(want)
	res, err = run(t, r, c, 5*time.Second)
	require.NoError(t, err, "the prefix and case do not matter")
	assert.Zero(t, res.Metrics["wasm.compile_us"], "second call is cached")

	// Replace the module: a call pinned to the old digest is refused.
	other, err := os.ReadFile(filepath.Join(guests, "log-scan.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, other, 0o644))
	later := time.Now().Add(time.Second)
	require.NoError(t, os.Chtimes(path, later, later))
	newDigest, err := wasm.Digest(path)
	require.NoError(t, err)

	c.Digest = want
	_, err = run(t, r, c, 5*time.Second)
	app := requireType(t, err, activities.ErrModuleChanged)
	assert.True(t, app.NonRetryable())
	assert.Contains(t, err.Error(), want)
	assert.Contains(t, err.Error(), newDigest)

	c.Digest = ""
	c.Args = json.RawMessage(`{"service":"x","lines":["ERROR boom"]}`)
	res, err = run(t, r, c, 5*time.Second)
	require.NoError(t, err, "an unpinned call runs the new module")
	assert.Contains(t, string(res.Output), `"errors":1`)
}

func TestGrants(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello from the host"), 0o644))
	t.Setenv("TARS_GRANTED", "visible")
	t.Setenv("TARS_NOT_GRANTED", "hidden")

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte(`{"pong":true}`))
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 4096)))
		case "/redirect":
			http.Redirect(w, req, "http://localhost.invalid/elsewhere", http.StatusFound)
		default:
			http.NotFound(w, req)
		}
	}))
	defer srv.Close()
	r := newRunner(t, wasm.Config{})
	host := strings.TrimPrefix(srv.URL, "http://") // 127.0.0.1:port

	tests := []struct {
		name   string
		args   string
		grants activities.Grants
		typ    string
		want   string
		log    string
	}{
		{name: "read_dir is mounted at /data", args: `{"try":"read","path":"/data/hello.txt"}`,
			grants: activities.Grants{ReadDir: dir}, want: `{"content":"hello from the host"}`},
		{name: "without read_dir there is no /data", args: `{"try":"read","path":"/data/hello.txt"}`,
			typ: activities.ErrWasmExit},
		{name: "read_dir is read-only", args: `{"try":"write","path":"/data/new.txt"}`,
			grants: activities.Grants{ReadDir: dir}, typ: activities.ErrWasmExit},
		{name: "no escape from /data", args: `{"try":"read","path":"/data/../../../../etc/passwd"}`,
			grants: activities.Grants{ReadDir: dir}, typ: activities.ErrWasmExit},
		{name: "a missing read_dir is refused", args: `{"try":"read"}`,
			grants: activities.Grants{ReadDir: filepath.Join(dir, "nope")}, typ: activities.ErrPolicyRefused},
		{name: "write_dir is mounted at /out", args: `{"try":"write","path":"/out/new.txt"}`,
			grants: activities.Grants{WriteDir: dir}, want: `{"wrote":"yes"}`},
		{name: "a granted env var is visible", args: `{"try":"getenv","name":"TARS_GRANTED"}`,
			grants: activities.Grants{Env: []string{"TARS_GRANTED"}}, want: `{"value":"visible"}`},
		{name: "an env var is invisible without a grant", args: `{"try":"getenv","name":"TARS_NOT_GRANTED"}`,
			grants: activities.Grants{Env: []string{"TARS_GRANTED"}}, want: `{"set":false}`},
		{name: "no env at all by default", args: `{"try":"getenv","name":"TARS_GRANTED"}`, want: `{"set":false}`},
		{name: "http_fetch of a granted host", args: fmt.Sprintf(`{"try":"fetch","url":"%s/ok"}`, srv.URL),
			grants: activities.Grants{HTTPHosts: []string{"127.0.0.1"}}, want: `{"code":0,"body":"{\"pong\":true}"}`},
		{name: "http_fetch with host:port", args: fmt.Sprintf(`{"try":"fetch","url":"%s/ok"}`, srv.URL),
			grants: activities.Grants{HTTPHosts: []string{host}}, want: `{"code":0,"body":"{\"pong\":true}"}`},
		{name: "http_fetch is denied without a grant", args: fmt.Sprintf(`{"try":"fetch","url":"%s/ok"}`, srv.URL),
			want: `{"code":-1,"body":""}`, log: "not in grants.http_hosts"},
		{name: "http_fetch is denied for another host", args: fmt.Sprintf(`{"try":"fetch","url":"%s/ok"}`, srv.URL),
			grants: activities.Grants{HTTPHosts: []string{"example.com"}}, want: `{"code":-1,"body":""}`},
		{name: "http_fetch does not follow a redirect out", args: fmt.Sprintf(`{"try":"fetch","url":"%s/redirect"}`, srv.URL),
			grants: activities.Grants{HTTPHosts: []string{"127.0.0.1"}}, want: `{"code":-1,"body":""}`, log: "redirect"},
		{name: "http_fetch reports a 404", args: fmt.Sprintf(`{"try":"fetch","url":"%s/missing"}`, srv.URL),
			grants: activities.Grants{HTTPHosts: []string{"127.0.0.1"}}, want: `{"code":-3,"body":""}`, log: "404"},
		{name: "http_fetch caps the body", args: fmt.Sprintf(`{"try":"fetch","url":"%s/big","cap":100}`, srv.URL),
			grants: activities.Grants{HTTPHosts: []string{"127.0.0.1"}}, want: `{"code":-4,"body":""}`},
		{name: "http_fetch refuses other schemes", args: `{"try":"fetch","url":"file:///etc/passwd"}`,
			grants: activities.Grants{HTTPHosts: []string{"127.0.0.1", ""}}, want: `{"code":-2,"body":""}`},
		{name: "tars.log lands in the log", args: `{"try":"log","msg":"from the guest"}`,
			want: `{"logged":true}`, log: "from the guest\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := call("escape", tt.args)
			c.Grants = tt.grants
			res, err := run(t, r, c, 10*time.Second)
			if tt.typ != "" {
				requireType(t, err, tt.typ)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(res.Output))
			assert.Contains(t, res.Log, tt.log)
		})
	}
}

func TestTrusted(t *testing.T) {
	r := newRunner(t, wasm.Config{Trusted: []string{"text-stats"}})
	res, err := run(t, r, call("text-stats", `{"text":"trusted tools run on their own runtime"}`), 5*time.Second)
	require.NoError(t, err)
	assert.Contains(t, string(res.Output), `"words":7`)
	requireServing(t, r)
}

func TestNoDeadlineGetsDefault(t *testing.T) {
	r := newRunner(t, wasm.Config{DefaultTimeout: 200 * time.Millisecond})
	_, err := r.Run(context.Background(), call("escape", `{"try":"loop"}`))
	requireType(t, err, activities.ErrWasmDeadline)
}

func TestCancel(t *testing.T) {
	r := newRunner(t, wasm.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := r.Run(ctx, call("escape", `{"try":"loop"}`))
	require.ErrorIs(t, err, context.Canceled)
	requireServing(t, r)
}

func TestConcurrent(t *testing.T) {
	// 8 MiB keeps the failing calls cheap: growing to 64 MiB costs about
	// 0.1 s of CPU, and 2 cores shared by 16 goroutines stretch that.
	r := newRunner(t, wasm.Config{DefaultMemoryMiB: 8})
	const workers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				text := strings.Repeat(fmt.Sprintf("w%d ", w), i+1)
				var res activities.Result
				var err error
				if i%5 == 4 { // mix in failing calls: they must not disturb the others
					_, err = run(t, r, call("escape", `{"try":"alloc"}`), 10*time.Second)
					if !strings.Contains(fmt.Sprint(err), "memory limit") {
						errs <- fmt.Errorf("alloc: %v", err)
					}
					continue
				}
				res, err = run(t, r, call("text-stats", fmt.Sprintf(`{"text":%q}`, text)), 10*time.Second)
				if err != nil {
					errs <- err
					continue
				}
				var out struct {
					Words int `json:"words"`
					Top   []struct {
						Word  string `json:"word"`
						Count int    `json:"count"`
					} `json:"top_words"`
				}
				if err := json.Unmarshal(res.Output, &out); err != nil || out.Words != i+1 ||
					len(out.Top) != 1 || out.Top[0].Word != fmt.Sprintf("w%d", w) {
					errs <- fmt.Errorf("worker %d call %d: got %s (%v)", w, i, res.Output, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestClosed(t *testing.T) {
	r, err := wasm.New(wasm.Config{ModulesDir: guests})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
	_, err = r.Run(context.Background(), call("text-stats", `{"text":""}`))
	require.Error(t, err)
}

func TestRunnerContract(t *testing.T) {
	r := newRunner(t, wasm.Config{Capacity: 3})
	var _ activities.Runner = r
	assert.Equal(t, "wasm", r.Runtime())
	assert.Equal(t, 3, r.Capacity())
	assert.Subset(t, r.Tools(), []string{"escape", "json-check", "log-scan", "text-stats"})
	assert.Positive(t, newRunner(t, wasm.Config{}).Capacity())
}

// TestCompilationCacheDir shows that a second runner reuses compiled code
// from CacheDir.
func TestCompilationCacheDir(t *testing.T) {
	dir := t.TempDir()
	var compile [2]float64
	for i := range compile {
		r, err := wasm.New(wasm.Config{ModulesDir: guests, CacheDir: dir})
		require.NoError(t, err)
		res, err := run(t, r, call("json-check", `{"doc":1,"schema":{}}`), 5*time.Second)
		require.NoError(t, err)
		compile[i] = res.Metrics["wasm.compile_us"]
		require.NoError(t, r.Close())
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.NotEmpty(t, entries)
	t.Logf("compile: cold %v µs, from CacheDir %v µs", compile[0], compile[1])
}

// Hand-assembled modules for the invalid-module tests.

var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

func leb(v uint32) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			out = append(out, b|0x80)
			continue
		}
		return append(out, b)
	}
}

func section(id byte, body ...byte) []byte {
	return append(append([]byte{id}, leb(uint32(len(body)))...), body...)
}

// moduleWithMemory is a module with memory of min pages and an empty _start.
func moduleWithMemory(pages uint32) []byte {
	m := append([]byte{}, wasmHeader...)
	m = append(m, section(1, 0x01, 0x60, 0x00, 0x00)...) // type 0: () -> ()
	m = append(m, section(3, 0x01, 0x00)...)             // func 0: type 0
	m = append(m, section(5, append([]byte{0x01, 0x00}, leb(pages)...)...)...)
	m = append(m, section(7, 0x02,
		0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00, // export func 0
		0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00)...) // export memory 0
	m = append(m, section(10, 0x01, 0x02, 0x00, 0x0b)...) // body: end
	return m
}

// moduleImporting is a module whose _start is an imported function.
func moduleImporting(module, name string) []byte {
	m := append([]byte{}, wasmHeader...)
	m = append(m, section(1, 0x01, 0x60, 0x00, 0x00)...)
	imp := []byte{0x01}
	imp = append(append(imp, leb(uint32(len(module)))...), module...)
	imp = append(append(imp, leb(uint32(len(name)))...), name...)
	imp = append(imp, 0x00, 0x00) // func, type 0
	m = append(m, section(2, imp...)...)
	m = append(m, section(7, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00)...)
	return m
}

// TestIsolationBetweenCalls checks that a call never sees what an earlier
// call left in memory, although the pool recycles memory buffers.
func TestIsolationBetweenCalls(t *testing.T) {
	r := newRunner(t, wasm.Config{})
	for range 5 {
		res, err := run(t, r, call("escape", `{"try":"scribble"}`), 5*time.Second)
		require.NoError(t, err)
		require.Contains(t, string(res.Output), `"checked"`)
		res, err = run(t, r, call("escape", `{"try":"peek"}`), 5*time.Second)
		require.NoError(t, err)
		var got struct{ Dirty, Checked int }
		require.NoError(t, json.Unmarshal(res.Output, &got))
		require.Zero(t, got.Dirty, "bytes left by the previous call")
		require.Greater(t, got.Checked, 512<<10)
	}
}

// TestCloseDuringCall checks that a call cut short by Close fails with a
// retryable error (another worker can run it), not as the guest's fault.
func TestCloseDuringCall(t *testing.T) {
	r, err := wasm.New(wasm.Config{ModulesDir: guests})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := run(t, r, call("escape", `{"try":"loop"}`), 10*time.Second)
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, r.Close())
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the running call")
	}
	require.Error(t, err)
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		assert.False(t, app.NonRetryable(), "got %v", err)
	}
}
