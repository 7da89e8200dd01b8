package workers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/hyperlight"
	"github.com/tars-engine/tars/activities/hyperlight/kvm"
	"github.com/tars-engine/tars/activities/native"
	"github.com/tars-engine/tars/activities/wasm"
	"github.com/tars-engine/tars/plan"
)

// ceilingPool is a pool as Start builds it, for calling the door
// (withinCeiling) and the runner without a Temporal server.
func ceilingPool(t *testing.T, r activities.Runner, c activities.Ceiling) *Pool {
	t.Helper()
	t.Cleanup(func() { _ = r.Close() })
	return &Pool{Runner: r, identity: "tars@test:1/" + r.Runtime(), ceiling: c}
}

// call runs one call through the pool's ceiling and its runner, as
// Pool.activity does.
func (p *Pool) callThrough(t *testing.T, tool, args string, g activities.Grants) (activities.Result, error) {
	t.Helper()
	c := activities.Call{Step: "x", Runtime: p.Runner.Runtime(), Tool: tool, Args: json.RawMessage(args), Grants: g}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ctx, c, err := p.withinCeiling(ctx, c)
	if err != nil {
		return activities.Result{}, err
	}
	return p.Runner.Run(ctx, c)
}

func requireRefused(t *testing.T, err error, parts ...string) {
	t.Helper()
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae), "want PolicyRefused, got %v", err)
	assert.Equal(t, activities.ErrPolicyRefused, ae.Type())
	assert.True(t, ae.NonRetryable())
	for _, p := range parts {
		assert.Contains(t, ae.Message(), p)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// The reproduction of issue 11 at the pool's door: a policy granting shell
// does not make a worker run programs; its operator's ceiling does.
func TestCeilingShell(t *testing.T) {
	t.Setenv("TARS_SHELL_ISOLATION", "none") // the same on hosts without user namespaces
	marker := filepath.Join(t.TempDir(), "ran")
	args := mustJSON(t, map[string]any{"argv": []string{"touch", marker}})
	grants := activities.Grants{Shell: true}

	p := ceilingPool(t, native.New(native.Config{}), activities.Ceiling{})
	_, err := p.callThrough(t, "shell", args, grants)
	requireRefused(t, err, `step "x" asks for shell, but worker tars@test:1/native does not allow it (its ceiling: shell off; start it with --allow-shell)`)
	assert.NoFileExists(t, marker, "a refused call runs nothing")

	_, err = p.callThrough(t, "shell", args, activities.Grants{})
	requireRefused(t, err, "set policy.grants.shell: true")
	assert.NotContains(t, err.Error(), "ceiling", "what the policy did not ask for keeps the policy's message")

	// The echo tool needs no grant: it runs under the same ceiling.
	res, err := p.callThrough(t, "echo", `{"value":"ok"}`, grants)
	require.NoError(t, err)
	assert.JSONEq(t, `"ok"`, string(res.Output))

	p = ceilingPool(t, native.New(native.Config{}), activities.Ceiling{Shell: true})
	_, err = p.callThrough(t, "shell", args, grants)
	require.NoError(t, err)
	assert.FileExists(t, marker)
}

func TestCeilingEnv(t *testing.T) {
	t.Setenv("TARS_SHELL_ISOLATION", "none")
	t.Setenv("CEILING_TEST_VAR", "visible")
	args := `{"argv": ["sh", "-c", "echo \"[$CEILING_TEST_VAR]\""]}`
	grants := activities.Grants{Shell: true, Env: []string{"CEILING_TEST_VAR"}}

	p := ceilingPool(t, native.New(native.Config{}), activities.Ceiling{Shell: true})
	_, err := p.callThrough(t, "shell", args, grants)
	requireRefused(t, err, `asks for env CEILING_TEST_VAR`, "--allow-env CEILING_TEST_VAR", "its ceiling: env: none")

	p = ceilingPool(t, native.New(native.Config{}), activities.Ceiling{Shell: true, Env: []string{"CEILING_TEST_*"}})
	res, err := p.callThrough(t, "shell", args, grants)
	require.NoError(t, err)
	assert.Contains(t, string(res.Output), "[visible]")
}

func TestCeilingHTTPHosts(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"pong":true}`))
	}))
	defer srv.Close()
	args := mustJSON(t, map[string]any{"url": srv.URL + "/ok"})
	grants := activities.Grants{HTTPHosts: []string{"127.0.0.1"}}

	p := ceilingPool(t, native.New(native.Config{}), activities.Ceiling{HTTPHosts: []string{"api.example.com"}})
	_, err := p.callThrough(t, "http.request", args, grants)
	requireRefused(t, err, `step "x" asks for http host 127.0.0.1, but worker tars@test:1/native does not allow it`,
		"its ceiling: http hosts: api.example.com; start it with --allow-http-host 127.0.0.1")
	assert.Zero(t, hits.Load(), "no request left the worker")

	// A run granting hosts whose model.chat uses the echo provider needs
	// no host: it runs.
	res, err := p.callThrough(t, "model.chat", `{"model": {"provider": "echo"}, "prompt": "hi"}`, grants)
	require.NoError(t, err)
	assert.Contains(t, string(res.Output), `"content":"hi"`)

	// model.chat against a provider is held to the same ceiling.
	_, err = p.callThrough(t, "model.chat", mustJSON(t, map[string]any{"prompt": "hi",
		"model": map[string]any{"provider": "openai", "endpoint": srv.URL + "/v1", "name": "m"}}), grants)
	requireRefused(t, err, "asks for http host 127.0.0.1")
	assert.Zero(t, hits.Load())

	p = ceilingPool(t, native.New(native.Config{}), activities.Ceiling{HTTPHosts: []string{"127.0.0.1"}})
	res, err = p.callThrough(t, "http.request", args, grants)
	require.NoError(t, err)
	assert.Contains(t, string(res.Output), `"status":200`)
	assert.EqualValues(t, 1, hits.Load())
}

func TestCeilingDirectories(t *testing.T) {
	allowed := t.TempDir()
	in := filepath.Join(allowed, "in")
	require.NoError(t, os.Mkdir(in, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(in, "a.txt"), []byte("hello"), 0o644))
	elsewhere := t.TempDir()
	write := `{"path": "out.txt", "content": "written"}`

	p := ceilingPool(t, native.New(native.Config{}), activities.Ceiling{ReadDirs: []string{allowed}, WriteDirs: []string{allowed}})
	_, err := p.callThrough(t, "file.write", write, activities.Grants{WriteDir: elsewhere})
	requireRefused(t, err, "asks for write_dir "+elsewhere, "its ceiling: write dirs: "+allowed, "--allow-write "+elsewhere)
	assert.NoFileExists(t, filepath.Join(elsewhere, "out.txt"))
	_, err = p.callThrough(t, "file.read", `{"path": "a.txt"}`, activities.Grants{ReadDir: "/"})
	requireRefused(t, err, "asks for read_dir /,", "--allow-read /")

	// Inside the ceiling, the policy's directory is used as granted.
	res, err := p.callThrough(t, "file.read", `{"path": "a.txt"}`, activities.Grants{ReadDir: in})
	require.NoError(t, err)
	assert.Contains(t, string(res.Output), "hello")
	_, err = p.callThrough(t, "file.write", write, activities.Grants{WriteDir: in})
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(in, "out.txt"))
}

// A wasm module's memory limit is set as it starts: a ceiling below the
// grant refuses the call before it starts, while the native pool runs its
// tools under the same grants. Environment and directories the ceiling
// withholds are not given to the module, and its log says so.
func TestCeilingAtStartOfSandboxes(t *testing.T) {
	t.Setenv("CEILING_TEST_VAR", "hidden")
	w, err := wasm.New(wasm.Config{ModulesDir: "../activities/wasm/guests/bin"})
	require.NoError(t, err)
	wp := ceilingPool(t, w, activities.Ceiling{MemoryMiB: 32})
	np := ceilingPool(t, native.New(native.Config{}), activities.Ceiling{MemoryMiB: 32})
	stats := `{"text":"a b c"}`

	_, err = wp.callThrough(t, "text-stats", stats, activities.Grants{MemoryMiB: 64})
	requireRefused(t, err, `step "x" asks for memory_mib 64, but worker tars@test:1/wasm does not allow it (its ceiling: memory 32 MiB per call; start it with --max-memory-mib 64)`)
	_, err = np.callThrough(t, "echo", `{"value":1}`, activities.Grants{MemoryMiB: 64})
	require.NoError(t, err, "echo does not use memory_mib")

	res, err := wp.callThrough(t, "text-stats", stats, activities.Grants{MemoryMiB: 16})
	require.NoError(t, err)
	assert.Contains(t, string(res.Output), `"words":3`)

	res, err = wp.callThrough(t, "escape", `{"try":"getenv","name":"CEILING_TEST_VAR"}`,
		activities.Grants{Env: []string{"CEILING_TEST_VAR"}, ReadDir: t.TempDir()})
	require.NoError(t, err)
	assert.JSONEq(t, `{"set":false}`, string(res.Output), "the ceiling withheld the variable")
	assert.Contains(t, res.Log, "wasm: env CEILING_TEST_VAR withheld: worker tars@test:1/wasm does not allow it (its ceiling: env: none; start it with --allow-env CEILING_TEST_VAR)")
	assert.Contains(t, res.Log, "wasm: read_dir ")

	wp.ceiling = activities.Ceiling{Env: []string{"CEILING_TEST_VAR"}}
	res, err = wp.callThrough(t, "escape", `{"try":"getenv","name":"CEILING_TEST_VAR"}`, activities.Grants{Env: []string{"CEILING_TEST_VAR"}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"value":"hidden"}`, string(res.Output))
}

// A hyperlight guest's memory is sized as its micro-VM starts: a grant
// above the ceiling is refused before any VM exists.
func TestCeilingHyperlightMemory(t *testing.T) {
	if err := kvm.Check(); err != nil {
		t.Skipf("needs /dev/kvm for the hyperlight pool: %v", err)
	}
	h, err := hyperlight.New(hyperlight.Config{MaxMemoryMiB: 32})
	require.NoError(t, err)
	p := ceilingPool(t, h, activities.Ceiling{MemoryMiB: 32})
	_, err = p.callThrough(t, "sha256", `{"text":"x"}`, activities.Grants{MemoryMiB: 64, HostFuncs: []string{"sha256"}})
	requireRefused(t, err, `step "x" asks for memory_mib 64, but worker tars@test:1/hyperlight does not allow it (its ceiling: memory 32 MiB per call; start it with --max-memory-mib 64)`)
	res, err := p.callThrough(t, "sha256", `{"text":"x"}`, activities.Grants{HostFuncs: []string{"sha256"}})
	require.NoError(t, err, "no memory grant: the pool's default, lowered to the ceiling")
	assert.NotEmpty(t, res.Output)
}

// tars.http_fetch to a host the policy grants and the ceiling refuses
// fails the call with the ceiling's message; nothing is fetched.
func TestCeilingWasmFetch(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"pong":true}`))
	}))
	defer srv.Close()
	w, err := wasm.New(wasm.Config{ModulesDir: "../activities/wasm/guests/bin"})
	require.NoError(t, err)
	args := mustJSON(t, map[string]any{"try": "fetch", "url": srv.URL + "/ok"})
	grants := activities.Grants{HTTPHosts: []string{"127.0.0.1"}}

	p := ceilingPool(t, w, activities.Ceiling{})
	_, err = p.callThrough(t, "escape", args, grants)
	requireRefused(t, err, "asks for http host 127.0.0.1", "tars@test:1/wasm", "--allow-http-host 127.0.0.1")
	assert.Zero(t, hits.Load())

	p.ceiling = activities.Ceiling{HTTPHosts: []string{"127.0.0.1"}}
	res, err := p.callThrough(t, "escape", args, grants)
	require.NoError(t, err)
	assert.JSONEq(t, `{"code":0,"body":"{\"pong\":true}"}`, string(res.Output))
}

func TestCeilingSecrets(t *testing.T) {
	args := `{"value":"` + activities.SecretRef("token") + `"}`
	p := ceilingPool(t, native.New(native.Config{}), activities.Ceiling{Env: []string{"HOME"}})
	_, _, err := p.withinCeiling(context.Background(), activities.Call{Step: "x", Args: json.RawMessage(args)})
	requireRefused(t, err, `step "x" uses secret input token (TARS_SECRET_TOKEN), but worker tars@test:1/native does not allow it`,
		"--allow-env TARS_SECRET_TOKEN")

	p.ceiling.Env = []string{"TARS_SECRET_*"}
	_, c, err := p.withinCeiling(context.Background(), activities.Call{Step: "x", Args: json.RawMessage(args)})
	require.NoError(t, err)
	assert.Equal(t, args, string(c.Args), "resolution itself stays with Pool.activity")
}

func TestPlanExceeds(t *testing.T) {
	p := &plan.Plan{Name: "x", Policy: plan.Policy{Grants: plan.Grants{Shell: true, HTTPHosts: []string{"api.openai.com"}, MemoryMiB: 64}}}
	var got []string
	for _, e := range PlanExceeds(p, activities.Ceiling{}) {
		got = append(got, e.String()+" ("+e.Advice()+")")
	}
	assert.Equal(t, []string{
		"shell (its ceiling: shell off; start it with --allow-shell)",
		"http host api.openai.com (its ceiling: http hosts: none; start it with --allow-http-host api.openai.com)",
	}, got)
	assert.Empty(t, PlanExceeds(p, activities.Ceiling{Shell: true, HTTPHosts: []string{"*.openai.com"}}))
	assert.Empty(t, PlanExceeds(nil, activities.Ceiling{}))
	assert.Contains(t, activities.Ceiling{}.String(), "shell off")
}
