package wasm

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"time"
)

// Config configures a Runner. The zero value of every field means its
// default; only ModulesDir is usually set.
type Config struct {
	// ModulesDir holds the tools: a call for tool NAME runs
	// ModulesDir/NAME.wasm. A tool name that contains '/' or ends in ".wasm"
	// is a path instead, relative to ModulesDir unless absolute.
	ModulesDir string

	// CacheDir, when set, keeps compiled machine code on disk so that a
	// restarted worker skips compilation (wazero.NewCompilationCacheWithDir).
	// Empty keeps it in memory only.
	CacheDir string

	// DefaultMemoryMiB is the linear memory a call may grow to when its
	// grants name no memory_mib. Default 64.
	DefaultMemoryMiB int

	// MaxMemoryMiB is the most a grant may ask for; a call asking more is
	// refused with PolicyRefused. Default 1024 (wasm32 allows 4096).
	MaxMemoryMiB int

	// MaxOutputBytes caps what a call may write to stdout. A call that
	// writes more is stopped at once with OutputTooLarge. Default 1 MiB.
	MaxOutputBytes int

	// MaxLogBytes caps Result.Log (stderr plus tars.log). Beyond it the log
	// is truncated, not the call. Default 64 KiB.
	MaxLogBytes int

	// DefaultTimeout bounds a call whose context has no deadline. Activity
	// contexts always have one; this is a backstop. Default 1 minute.
	DefaultTimeout time.Duration

	// Trusted names tools that run without wazero's close-on-context-done
	// checks, which make tight loops 13–25× slower. A trusted tool is not
	// stopped by its deadline: list only tools whose code you control and
	// that always terminate.
	Trusted []string

	// Capacity is how many calls may run at once. Default:
	//
	//	MemAvailable / 2 / (DefaultMemoryMiB + 128 MiB), within [1, 4 × GOMAXPROCS]
	//
	// Half the available memory goes to calls; each may fill its linear
	// memory, and a guest that recurses without bound makes wazero grow its
	// call stack (Go heap, not linear memory) to about 128 MiB live before
	// the stack-overflow trap. At most 4 calls per core: calls are
	// CPU-bound, and more would only queue inside the process instead of
	// in Temporal.
	Capacity int

	// HTTPTimeout bounds one tars.http_fetch request. Default 10 s; the
	// call's own deadline still applies.
	HTTPTimeout time.Duration

	// MaxFetchBytes caps the body tars.http_fetch returns. Default 1 MiB.
	MaxFetchBytes int
}

const (
	defaultMemoryMiB    = 64
	defaultMaxMemoryMiB = 1024
	defaultMaxOutput    = 1 << 20
	defaultMaxLog       = 64 << 10
	defaultTimeout      = time.Minute
	defaultHTTPTimeout  = 10 * time.Second
	defaultMaxFetch     = 1 << 20
	wasmPageSize        = 64 << 10
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.DefaultMemoryMiB <= 0 {
		c.DefaultMemoryMiB = defaultMemoryMiB
	}
	if c.MaxMemoryMiB <= 0 {
		c.MaxMemoryMiB = defaultMaxMemoryMiB
	}
	if c.MaxMemoryMiB > 4096 {
		c.MaxMemoryMiB = 4096
	}
	if c.DefaultMemoryMiB > c.MaxMemoryMiB {
		c.MaxMemoryMiB = c.DefaultMemoryMiB
	}
	if c.MaxOutputBytes <= 0 {
		c.MaxOutputBytes = defaultMaxOutput
	}
	if c.MaxLogBytes <= 0 {
		c.MaxLogBytes = defaultMaxLog
	}
	if c.DefaultTimeout <= 0 {
		c.DefaultTimeout = defaultTimeout
	}
	if c.HTTPTimeout <= 0 {
		c.HTTPTimeout = defaultHTTPTimeout
	}
	if c.MaxFetchBytes <= 0 {
		c.MaxFetchBytes = defaultMaxFetch
	}
	if c.Capacity <= 0 {
		c.Capacity = capacityFor(availableMemory(), c.DefaultMemoryMiB, runtime.GOMAXPROCS(0))
	}
	return c
}

// stackAllowanceMiB is the Go heap one call may take for its wasm call
// stack: wazero's compiler doubles the stack up to a fixed ceiling; a guest
// recursing without bound was measured to reach about 125 MiB live (165 MiB
// allocated in all) before it trapped.
const stackAllowanceMiB = 128

// capacityFor is the default Capacity: half of avail bytes split into
// per-call worst cases, within [1, 4 × procs].
func capacityFor(avail uint64, memMiB, procs int) int {
	n := int(avail / 2 / (uint64(memMiB+stackAllowanceMiB) << 20))
	return max(1, min(n, 4*procs))
}

// availableMemory reads MemAvailable from /proc/meminfo, or assumes 2 GiB
// where there is none (not Linux).
func availableMemory() uint64 {
	const fallback = 2 << 30
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return fallback
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "MemAvailable:" {
			kib, err := strconv.ParseUint(string(f[1]), 10, 64)
			if err == nil {
				return kib << 10
			}
		}
	}
	return fallback
}
