package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"golang.org/x/sync/semaphore"

	"github.com/tars-engine/tars/activities"
)

// Runtime is the runtime name this package serves.
const Runtime = "wasm"

// Runner runs tool calls as WebAssembly modules under wazero. It
// implements activities.Runner and is safe for concurrent use.
type Runner struct {
	cfg       Config
	artifacts *activities.Artifacts
	memory    *semaphore.Weighted // MiB of Config.MemoryBudgetMiB
	cache     wazero.CompilationCache
	plain     *engine // close-on-context-done: every tool not in cfg.Trusted
	trusted   *engine // nil unless cfg.Trusted is set
	isTrust   map[string]bool
	client    *http.Client

	filesMu sync.Mutex
	files   map[string]*fileState // by module path

	states  sync.Pool // *callState
	closed  atomic.Bool
	closing sync.RWMutex // compiles hold it shared; Close exclusively

	// Calls in flight, which Close stops (stop is cancelled) and waits for
	// before it closes the runtimes: wazero may not close a runtime under
	// a running module. callsMu orders calls.Add before Close's Wait.
	callsMu  sync.Mutex
	calls    sync.WaitGroup
	stop     context.Context
	stopCall context.CancelFunc
}

// closeGrace bounds how long Close waits for calls to stop. Plain modules
// stop at once when cancelled; a trusted one in a tight loop does not
// check, and Close then goes on without it.
const closeGrace = 5 * time.Second

// enter registers a call, or reports that the runner is closed.
func (r *Runner) enter() bool {
	r.callsMu.Lock()
	defer r.callsMu.Unlock()
	if r.closed.Load() {
		return false
	}
	r.calls.Add(1)
	return true
}

var _ activities.Runner = (*Runner)(nil)

// New creates a Runner: the modules it serves (the built-ins and
// cfg.ModulesDir, which must be a readable directory when set), a
// compilation cache (on disk when cfg.CacheDir is set), a wazero runtime
// with WASI and the "tars" host module, and a second runtime for trusted
// tools when cfg.Trusted is set. Modules are compiled on first use, not
// here. Close releases it all.
func New(cfg Config) (*Runner, error) {
	cfg = cfg.withDefaults()
	artifacts, err := artifactKind.Open(cfg.Builtin, cfg.ModulesDir)
	if err != nil {
		return nil, err
	}
	r := &Runner{
		cfg:       cfg,
		artifacts: artifacts,
		memory:    semaphore.NewWeighted(int64(cfg.MemoryBudgetMiB)),
		isTrust:   make(map[string]bool, len(cfg.Trusted)),
		client:    newFetchClient(),
		files:     make(map[string]*fileState),
	}
	r.stop, r.stopCall = context.WithCancel(context.Background())
	r.states.New = func() any { return newCallState(r.cfg.MaxOutputBytes, r.cfg.MaxLogBytes) }
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm: compilation cache in %s: %w", cfg.CacheDir, err)
		}
		r.cache = c
	} else {
		r.cache = wazero.NewCompilationCache()
	}
	if r.plain, err = r.newEngine(true); err != nil {
		_ = r.Close()
		return nil, err
	}
	for _, t := range cfg.Trusted {
		r.isTrust[strings.TrimPrefix(t, Runtime+":")] = true
	}
	if len(r.isTrust) > 0 {
		if r.trusted, err = r.newEngine(false); err != nil {
			_ = r.Close()
			return nil, err
		}
	}
	return r, nil
}

func (r *Runner) newEngine(ensureEnd bool) (*engine, error) {
	ctx := context.Background()
	rc := wazero.NewRuntimeConfig().
		WithCompilationCache(r.cache).
		WithCloseOnContextDone(ensureEnd).
		WithMemoryLimitPages(uint32(r.cfg.MaxMemoryMiB) * (1 << 20 / wasmPageSize))
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("wasm: instantiate WASI: %w", err)
	}
	if err := r.instantiateHost(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("wasm: instantiate host module %q: %w", HostModule, err)
	}
	return &engine{rt: rt, ensureEnd: ensureEnd, mods: make(map[string]*module)}, nil
}

// Runtime returns "wasm".
func (r *Runner) Runtime() string { return Runtime }

// GrantsAtStart: a module's memory limit is set as it is instantiated, so
// a worker's ceiling below grants.memory_mib refuses the call before it
// starts (activities.GrantsAtStart). The environment and directories a
// ceiling withholds are simply not given (the call's log says so): a run's
// grants serve all its steps, and most modules use none of them. Hosts are
// checked at each tars.http_fetch.
func (r *Runner) GrantsAtStart() []string { return []string{activities.GrantMemoryMiB} }

// Tools lists the modules served by name: the built-ins and those of
// ModulesDir. It reads the directory on every call; it does not read or
// compile the modules.
func (r *Runner) Tools() []string { return r.artifacts.Names() }

// Capacity returns Config.Capacity, or the default derived from memory
// (see Config.Capacity).
func (r *Runner) Capacity() int { return r.cfg.Capacity }

// Run runs one call: it finds the tool's module among those the pool
// serves (one stat when unchanged), checks its digest against
// call.Digest, compiles it on first use, waits until its memory fits the
// pool's memory budget, instantiates a fresh anonymous instance with the
// call's grants and memory limit, feeds call.Args to stdin, runs _start
// until shortly before the context's deadline, and returns stdout as the
// output once it is checked to be JSON.
//
// Every failure is an activities error with a stable type: ModuleNotFound,
// ModuleInvalid, ModuleChanged, PolicyRefused, WasmMemoryLimit, WasmTrap,
// WasmExit, WasmDeadline, OutputTooLarge and ToolFailed (non-retryable),
// and PoolBusy (retryable: the memory budget stayed full until the
// deadline).
func (r *Runner) Run(ctx context.Context, call activities.Call) (activities.Result, error) {
	if !r.enter() {
		return activities.Result{}, errRunnerClosed
	}
	defer r.calls.Done()
	// Close cancels the calls in flight before it closes the runtimes.
	ctx, stopCall := context.WithCancel(ctx)
	defer stopCall()
	defer context.AfterFunc(r.stop, stopCall)()
	tool := strings.TrimPrefix(call.Tool, Runtime+":")
	if tool == "" {
		return activities.Result{}, activities.NonRetryable(activities.ErrToolNotFound, nil, "wasm: call names no tool")
	}

	origin, digest, data, err := r.source(tool)
	if err != nil {
		return activities.Result{}, err
	}
	if call.Digest != "" && !activities.SameDigest(call.Digest, digest) {
		return activities.Result{}, activities.NonRetryable(activities.ErrModuleChanged, nil,
			"wasm: module for tool %q changed since the plan was compiled: the plan recorded sha256 %s, %s now has sha256 %s; recompile the metascript to accept the new module",
			tool, call.Digest, origin, digest)
	}

	limitMiB := r.cfg.DefaultMemoryMiB
	if g := call.Grants.MemoryMiB; g > 0 {
		if g > r.cfg.MaxMemoryMiB {
			return activities.Result{}, activities.NonRetryable(activities.ErrPolicyRefused, nil,
				"wasm: %s asks for %d MiB of memory; this pool allows at most %d MiB", tool, g, r.cfg.MaxMemoryMiB)
		}
		limitMiB = g
	}
	limit := uint64(limitMiB) << 20
	weight := int64(limitMiB + stackAllowanceMiB)
	if weight > int64(r.cfg.MemoryBudgetMiB) {
		return activities.Result{}, activities.NonRetryable(activities.ErrPolicyRefused, nil,
			"wasm: %s is granted %d MiB of memory (+%d MiB for its call stack), more than this pool's whole memory budget of %d MiB; grant less or raise the budget",
			tool, limitMiB, stackAllowanceMiB, r.cfg.MemoryBudgetMiB)
	}

	eng := r.plain
	if r.trusted != nil && r.isTrust[tool] {
		eng = r.trusted
	}
	mod, compileTook, err := eng.compile(ctx, r, tool, origin, digest, data)
	if err != nil {
		return activities.Result{}, err
	}
	if mod.minBytes > limit {
		return activities.Result{}, activities.NonRetryable(activities.ErrWasmMemory, nil,
			"wasm: %s needs %.1f MiB of memory to start, over its limit of %d MiB", tool, float64(mod.minBytes)/(1<<20), limitMiB)
	}

	var cancel context.CancelFunc
	ctx, cancel = callContext(ctx, r.cfg.DefaultTimeout)
	defer cancel()

	waitStart := time.Now()
	if err := r.memory.Acquire(ctx, weight); err != nil {
		return activities.Result{}, r.busy(ctx, tool, weight)
	}
	defer r.memory.Release(weight)
	waited := time.Since(waitStart)

	cs := r.states.Get().(*callState)
	defer func() {
		cs.release()
		r.states.Put(cs)
	}()
	args := []byte(call.Args)
	if len(args) == 0 {
		args = nullJSON
	}
	cs.reset(args, &call.Grants, tool, limit)
	cs.step = call.Step
	if worker, excess := activities.CeilingExcess(ctx); len(excess) > 0 {
		for _, e := range excess {
			switch e.Grant {
			case activities.GrantEnv, activities.GrantReadDir, activities.GrantWriteDir:
				cs.logf("wasm: %s withheld: worker %s does not allow it (%s)", e, worker, e.Advice())
			}
		}
	}
	config, err := r.moduleConfig(cs, &call.Grants)
	if err != nil {
		return activities.Result{}, err
	}

	ctx = context.WithValue(ctx, callKey{}, cs)
	ctx = experimental.WithMemoryAllocator(ctx, &cs.mem)
	t0 := time.Now()
	inst, err := eng.rt.InstantiateModule(ctx, mod.compiled, config)
	t1 := time.Now()
	if err != nil {
		if r.closed.Load() {
			return activities.Result{}, errRunnerClosed
		}
		return activities.Result{}, instantiateFault(ctx, cs, err)
	}
	if cs.mem.over {
		_ = inst.Close(ctx)
		return activities.Result{}, memoryLimit(cs, "could not start")
	}
	_, err = inst.ExportedFunction("_start").Call(ctx)
	t2 := time.Now()
	var memBytes uint32
	if m := inst.Memory(); m != nil {
		memBytes = m.Size()
	}
	_ = inst.Close(ctx)

	if err != nil && r.closed.Load() {
		return activities.Result{}, errRunnerClosed
	}
	if cs.refusal != nil {
		return activities.Result{}, cs.refusal
	}
	if err = fault(ctx, cs, err); err != nil {
		return activities.Result{}, err
	}
	out := bytes.TrimSpace(cs.stdout.buf)
	if len(out) == 0 {
		out = nullJSON
	}
	if !json.Valid(out) {
		return activities.Result{}, activities.NonRetryable(activities.ErrToolFailed, nil,
			"wasm: %s printed something that is not JSON on stdout (%d bytes, starting %q); tools must print one JSON value",
			tool, len(out), preview(out))
	}
	return activities.Result{
		Output: bytes.Clone(out),
		Log:    cs.log.String(),
		Metrics: map[string]float64{
			"wasm.compile_us":     float64(compileTook.Microseconds()),
			"wasm.instantiate_us": float64(t1.Sub(t0).Microseconds()),
			"wasm.run_us":         float64(t2.Sub(t1).Microseconds()),
			"wasm.memory_bytes":   float64(memBytes),
			"wasm.memory_wait_us": float64(waited.Microseconds()),
		},
	}, nil
}

var nullJSON = []byte("null")

// callContext returns the context a call runs under: the activity's,
// ending a little before its deadline, so that a guest still running then
// is stopped by the pool and fails as WasmDeadline (non-retryable), not as
// Temporal's start-to-close timeout, which is retried. The margin is a
// tenth of the time left, within [20 ms, 1 s]: time to stop the guest and
// report. A context without a deadline gets def.
func callContext(ctx context.Context, def time.Duration) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return context.WithTimeout(ctx, def)
	}
	margin := min(max(time.Until(d)/10, 20*time.Millisecond), time.Second)
	return context.WithDeadline(ctx, d.Add(-margin))
}

// busy explains a call whose context ended while it waited for memory.
func (r *Runner) busy(ctx context.Context, tool string, weight int64) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return activities.Retryable(activities.ErrPoolBusy, nil,
			"wasm: %s waited for %d MiB of this pool's memory budget (%d MiB) until its deadline: other calls held it; another attempt, or a worker with more memory, can run it",
			tool, weight, r.cfg.MemoryBudgetMiB)
	}
	return fmt.Errorf("wasm: %s was cancelled while waiting for memory: %w", tool, ctx.Err())
}

// errRunnerClosed is retryable: another worker can run the call.
var errRunnerClosed = errors.New("wasm: the runner is closed (worker shutting down)")

func preview(b []byte) string {
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}

// moduleConfig is the call's ModuleConfig: the state's own when the call
// has no grants that change it, else a copy with the granted directories
// and environment variables.
func (r *Runner) moduleConfig(cs *callState, g *activities.Grants) (wazero.ModuleConfig, error) {
	config := cs.config
	if len(g.Env) == 0 && g.ReadDir == "" && g.WriteDir == "" {
		return config, nil
	}
	for _, name := range g.Env {
		if v, ok := os.LookupEnv(name); ok && name != "" && !strings.ContainsRune(name, '=') {
			config = config.WithEnv(name, v)
		}
	}
	if g.ReadDir != "" || g.WriteDir != "" {
		fsc := wazero.NewFSConfig()
		for _, d := range []struct{ host, guest string }{{g.ReadDir, "/data"}, {g.WriteDir, "/out"}} {
			if d.host == "" {
				continue
			}
			if st, err := os.Stat(d.host); err != nil || !st.IsDir() {
				return nil, activities.NonRetryable(activities.ErrPolicyRefused, err,
					"wasm: %s: granted directory %s (for %s) is not a directory on this worker", cs.tool, d.host, d.guest)
			}
		}
		if g.ReadDir != "" {
			fsc = fsc.WithReadOnlyDirMount(g.ReadDir, "/data")
		}
		if g.WriteDir != "" {
			fsc = fsc.WithDirMount(g.WriteDir, "/out")
		}
		config = config.WithFSConfig(fsc)
	}
	return config, nil
}

// instantiateFault reports a failure before _start: an import the pool
// does not offer, a data segment out of range, or a trap or deadline in the
// module's start function.
func instantiateFault(ctx context.Context, cs *callState, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "wasm error") || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fault(ctx, cs, err)
	}
	return activities.NonRetryable(activities.ErrModuleInvalid, err,
		"wasm: %s cannot be instantiated: %v (the pool offers only wasi_snapshot_preview1 and %q)", cs.tool, err, HostModule)
}

// Close closes the runtimes and the in-memory compilation cache; compiled
// code stays in CacheDir. Calls still running fail. Close is idempotent.
func (r *Runner) Close() error {
	r.callsMu.Lock()
	already := r.closed.Swap(true)
	r.callsMu.Unlock()
	if already {
		return nil
	}
	r.stopCall()
	stopped := make(chan struct{})
	go func() { r.calls.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(closeGrace):
	}
	r.closing.Lock()
	defer r.closing.Unlock()
	ctx := context.Background()
	var errs []error
	for _, e := range []*engine{r.plain, r.trusted} {
		if e != nil {
			errs = append(errs, e.rt.Close(ctx))
		}
	}
	if r.cache != nil {
		errs = append(errs, r.cache.Close(ctx))
	}
	r.client.CloseIdleConnections()
	return errors.Join(errs...)
}
