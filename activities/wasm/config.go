package wasm

import (
	"io/fs"
	"runtime"
	"time"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/internal/env/hostmem"
)

// Config configures a Runner. The zero value of every field means its
// default; only ModulesDir is usually set.
type Config struct {
	// Builtin holds the modules served without any directory: NAME.wasm at
	// its top level is tool NAME. nil means the package's Builtin (the
	// example tools compiled into the binary); an empty fs.FS serves none.
	Builtin fs.FS

	// ModulesDir, when set, adds tools: a call for tool NAME runs
	// ModulesDir/NAME.wasm when that file exists, else the built-in NAME.
	// A tool is always a name, never a path. New fails when ModulesDir is
	// set but is not a readable directory.
	ModulesDir string

	// CacheDir, when set, keeps compiled machine code on disk so that a
	// restarted worker skips compilation (wazero.NewCompilationCacheWithDir).
	// Empty keeps it in memory only.
	CacheDir string

	// DefaultMemoryMiB is the linear memory a call may grow to when its
	// grants name no memory_mib. Default 64.
	DefaultMemoryMiB int

	// MaxMemoryMiB is the most a grant may ask for; a call asking more is
	// refused with PolicyRefused. Default 1024 (wasm32 allows 4096). Set
	// below 64 with no DefaultMemoryMiB, it is the default as well.
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
	// checks, which slow tight loops several times over (see BENCHMARKS.md). A trusted tool is not
	// stopped by its deadline: list only tools whose code you control and
	// that always terminate.
	Trusted []string

	// MemoryBudgetMiB is the host memory all running calls may hold
	// together. Each call weighs its memory limit (its grant, or
	// DefaultMemoryMiB) plus stackAllowanceMiB for its call stack, and
	// waits until that much of the budget is free: calls are admitted by
	// memory, not only by count. A call weighing more than the whole
	// budget fails at once (PolicyRefused). Default: half of MemAvailable.
	MemoryBudgetMiB int

	// Capacity is how many calls may run at once. Default:
	//
	//	MemoryBudgetMiB / (DefaultMemoryMiB + 128 MiB), within [1, 4 × GOMAXPROCS]
	//
	// so that that many calls of the default size fit the budget at once;
	// larger grants wait for the budget (see MemoryBudgetMiB). The 128 MiB
	// is stackAllowanceMiB.
	Capacity int

	// HTTPTimeout bounds one tars.http_fetch request. Default 10 s; the
	// call's own deadline still applies.
	HTTPTimeout time.Duration

	// MaxFetchBytes caps the body tars.http_fetch returns. Default 1 MiB.
	MaxFetchBytes int
}

const (
	defaultMaxMemoryMiB = 1024
	defaultHTTPTimeout  = 10 * time.Second
	defaultMaxFetch     = 1 << 20
	wasmPageSize        = 64 << 10
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.DefaultMemoryMiB <= 0 {
		c.DefaultMemoryMiB = activities.DefaultMemoryMiB
		if c.MaxMemoryMiB > 0 {
			// A maximum below the default (a worker's ceiling) lowers
			// the default too, rather than being raised to it.
			c.DefaultMemoryMiB = min(activities.DefaultMemoryMiB, c.MaxMemoryMiB)
		}
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
		c.MaxOutputBytes = activities.DefaultMaxOutputBytes
	}
	if c.MaxLogBytes <= 0 {
		c.MaxLogBytes = activities.DefaultMaxLogBytes
	}
	if c.DefaultTimeout <= 0 {
		c.DefaultTimeout = activities.DefaultCallTimeout
	}
	if c.HTTPTimeout <= 0 {
		c.HTTPTimeout = defaultHTTPTimeout
	}
	if c.MaxFetchBytes <= 0 {
		c.MaxFetchBytes = defaultMaxFetch
	}
	if c.MemoryBudgetMiB <= 0 {
		c.MemoryBudgetMiB = int(hostmem.Budget(hostmem.Available()) >> 20)
	}
	if c.Capacity <= 0 {
		c.Capacity = hostmem.Slots(uint64(c.MemoryBudgetMiB)<<20, uint64(c.DefaultMemoryMiB+stackAllowanceMiB)<<20, runtime.GOMAXPROCS(0))
	}
	return c
}

// stackAllowanceMiB is the Go heap one call may take for its wasm call
// stack besides its linear memory: wazero's compiler doubles the stack up
// to a fixed ceiling, and a guest recursing without bound reaches about
// 128 MiB live before the stack-overflow trap (see BENCHMARKS.md).
const stackAllowanceMiB = 128
