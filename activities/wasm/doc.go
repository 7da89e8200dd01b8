// Package wasm is the WASM worker pool's runtime: it runs a step's tool as a
// WebAssembly module under wazero, one fresh instance per call, with
// nothing the step's grants do not give.
//
// A tool is a WASI command (a module with _start), built in (Builtin) or
// NAME.wasm in Config.ModulesDir; a Plan names it, never gives a path. It
// reads the call's arguments as JSON on stdin and prints one JSON value on
// stdout; stderr becomes the step's log. Each module is compiled once (and
// kept in Config.CacheDir across restarts); a call then costs one fresh
// instance (BENCHMARKS.md has figures). See docs/wasm-guests.md for how to
// write a tool, and RATIONALE.md for the decisions below.
//
// What a call gets, and nothing else:
//   - linear memory up to its limit (grants.memory_mib, else
//     Config.DefaultMemoryMiB);
//   - stdin, stdout (capped) and stderr (capped, kept in Result.Log);
//   - clocks that start at a fixed time and advance only when read, and a
//     fixed random sequence, so that its output depends on its input alone;
//   - with grants: a read-only directory at /data, a writable one at /out,
//     named environment variables, and tars.http_fetch to named hosts;
//   - always: tars.log.
//
// What the pool guarantees: a module cannot read the host's files,
// environment, clock or network beyond its grants; it is stopped at its
// deadline (unless listed in Config.Trusted), at its memory limit, and at
// its output cap; running calls together hold at most the pool's memory
// budget; and none of that, nor a trap, disturbs other calls. Every
// failure is an activities error with a stable type (WasmTrap,
// WasmMemoryLimit, WasmDeadline, WasmExit, ModuleNotFound, ModuleInvalid,
// ModuleChanged, OutputTooLarge, PolicyRefused, ToolFailed, and the
// retryable PoolBusy).
//
// What it is not for: code that needs threads, sockets of its own, or a
// real clock (WASI preview 1 has none of the first two, and the pool does
// not give the third); tools in languages with a heavy runtime when
// latency matters (a Go wasip1 guest spends milliseconds starting per call);
// and hostile code that must also be kept off the worker's CPU caches and
// memory bandwidth: for that, the hyperlight pool puts a hardware boundary
// around each call. It knows nothing of workflows or Temporal beyond the
// error types in package activities.
package wasm
