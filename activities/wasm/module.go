package wasm

import (
	"context"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/tars-engine/tars/activities"
)

// Digest returns the sha256 of the module at path as lowercase hex, the
// form the compiler records in the Plan and Call.Digest carries.
func Digest(path string) (string, error) { return activities.Digest(path) }

// Inventory lists the modules a Runner with these built-ins (nil: the
// package's Builtin) and this directory ("" for none) serves, by tool name
// with their Digest. It reads every module of dir.
func Inventory(builtin fs.FS, dir string) (map[string]string, error) {
	return artifactKind.Inventory(builtin, dir)
}

var artifactKind = activities.ArtifactKind{Runtime: Runtime, Noun: "module", Ext: ".wasm", Builtin: Builtin}

// fileState remembers a module file's digest while its size and mtime stay
// the same, so a call costs one stat, not a read and a hash.
type fileState struct {
	size   int64
	mtime  time.Time
	digest string
}

// module is one compiled module, shared by every call of its digest on one
// engine.
type module struct {
	ready    chan struct{} // closed when compiled or err is set
	compiled wazero.CompiledModule
	err      error
	minBytes uint64 // the memory the module declares it needs at start
}

// source finds the module for tool among the modules the pool serves and
// returns its digest, reading and hashing a file only when it changed since
// the last call. The bytes are returned when they were read, so that a
// compile uses exactly what was hashed. origin names the module for
// messages: its file, or "built-in NAME.wasm".
func (r *Runner) source(tool string) (origin, digest string, data []byte, err error) {
	art, ok := r.artifacts.Lookup(tool)
	if !ok {
		return "", "", nil, r.artifacts.NotServed("wasm", activities.ErrModuleNotFound, tool)
	}
	origin = art.Origin(".wasm")
	if art.Path == "" {
		return origin, art.Digest, art.Data, nil
	}
	path := art.Path
	st, err := os.Stat(path)
	if err != nil {
		return "", "", nil, activities.NonRetryable(activities.ErrModuleNotFound, err,
			"wasm: cannot use module for tool %q: %v", tool, err)
	}
	r.filesMu.Lock()
	fsState, ok := r.files[path]
	r.filesMu.Unlock()
	if ok && fsState.size == st.Size() && fsState.mtime.Equal(st.ModTime()) {
		return path, fsState.digest, nil, nil
	}
	data, err = os.ReadFile(path)
	if err != nil {
		return "", "", nil, activities.NonRetryable(activities.ErrModuleNotFound, err,
			"wasm: cannot read module for tool %q: %v", tool, err)
	}
	digest = activities.DigestBytes(data)
	r.filesMu.Lock()
	r.files[path] = &fileState{size: st.Size(), mtime: st.ModTime(), digest: digest}
	r.filesMu.Unlock()
	return path, digest, data, nil
}

// engine is one wazero runtime with the host modules instantiated in it,
// and the modules compiled for it. The Runner has one for untrusted tools
// (close on context done) and, when Trusted is set, one for trusted tools.
type engine struct {
	rt        wazero.Runtime
	ensureEnd bool // close-on-context-done

	mu   sync.Mutex
	mods map[string]*module // by digest
}

// compile returns the module with this digest, compiling it once. Calls of
// the same digest wait for one compile. It reports how long this call
// spent compiling: 0 when the module was already there.
func (e *engine) compile(ctx context.Context, r *Runner, tool, path, digest string, data []byte) (*module, time.Duration, error) {
	e.mu.Lock()
	m, ok := e.mods[digest]
	if ok {
		e.mu.Unlock()
		<-m.ready
		return m, 0, m.err
	}
	m = &module{ready: make(chan struct{})}
	e.mods[digest] = m
	e.mu.Unlock()

	start := time.Now()
	var sticky bool
	// wazero's CompileModule panics when its runtime is closed under it, so
	// Close waits for compiles in progress and later ones do not start.
	r.closing.RLock()
	if r.closed.Load() {
		m.err = errRunnerClosed
	} else {
		sticky, m.err = e.compileNow(ctx, tool, path, digest, data, m)
	}
	r.closing.RUnlock()
	took := time.Since(start)
	if m.err != nil && !sticky {
		// A failed read must not stick; an invalid module is invalid for
		// good (its digest names its content), so that failure stays.
		e.mu.Lock()
		delete(e.mods, digest)
		e.mu.Unlock()
	}
	close(m.ready)
	return m, took, m.err
}

// compileNow compiles data (or the file, when data is nil) into m. sticky
// reports whether an error belongs to the content, not to reading it.
func (e *engine) compileNow(ctx context.Context, tool, path, digest string, data []byte, m *module) (sticky bool, err error) {
	if data == nil { // the file state was cached but this engine lacks the module
		if data, err = os.ReadFile(path); err != nil {
			return false, activities.NonRetryable(activities.ErrModuleNotFound, err,
				"wasm: cannot read module for tool %q: %v", tool, err)
		}
		if activities.DigestBytes(data) != digest {
			return false, activities.Retryable(activities.ErrModuleChanged, nil,
				"wasm: module for tool %q changed while it was being loaded; try again", tool)
		}
	}
	compiled, err := e.rt.CompileModule(ctx, data)
	if err != nil {
		if strings.Contains(err.Error(), "over limit of") {
			return true, activities.NonRetryable(activities.ErrWasmMemory, err,
				"wasm: module for tool %q declares more memory than this pool allows: %v", tool, err)
		}
		return true, activities.NonRetryable(activities.ErrModuleInvalid, err,
			"wasm: module for tool %q (%s) is not valid WebAssembly: %v", tool, path, err)
	}
	if _, ok := compiled.ExportedFunctions()["_start"]; !ok {
		_ = compiled.Close(ctx)
		return true, activities.NonRetryable(activities.ErrModuleInvalid, nil,
			"wasm: module for tool %q (%s) exports no _start: tools must be WASI commands (a main function), not reactors or libraries", tool, path)
	}
	for _, mem := range compiled.ImportedMemories() {
		m.minBytes = max(m.minBytes, uint64(mem.Min())*wasmPageSize)
	}
	for _, mem := range compiled.ExportedMemories() {
		m.minBytes = max(m.minBytes, uint64(mem.Min())*wasmPageSize)
	}
	m.compiled = compiled
	return false, nil
}
