package hyperlight

import (
	"io/fs"
	"runtime"
	"time"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/internal/env/hostmem"
)

// Config configures a Runner. The zero value of every field means its
// default; only GuestsDir is usually set.
type Config struct {
	// Builtin holds the guests served without any directory: NAME.elf at
	// its top level is tool NAME. nil means the package's Builtin (the
	// example guests compiled into the binary); an empty fs.FS serves none.
	Builtin fs.FS

	// GuestsDir, when set, adds tools: a call for tool NAME runs
	// GuestsDir/NAME.elf when that file exists, else the built-in NAME.
	// A tool is always a name, never a path. New fails when GuestsDir is
	// set but is not a readable directory.
	GuestsDir string

	// VMBudget is the most micro-VMs alive at once, busy or warm, over all
	// guests; Capacity reports it. Default: half of MemAvailable divided by
	// DefaultMemoryMiB, at least 1 and at most 4 × GOMAXPROCS (calls are
	// CPU-bound).
	VMBudget int

	// DefaultMemoryMiB is the guest memory of a call whose grants name no
	// memory_mib, rounded up to 2 MiB. Untouched guest memory costs no host
	// memory. Default 64; at least 8.
	DefaultMemoryMiB int

	// MaxMemoryMiB is the most a grant may ask for; a call asking more is
	// refused with PolicyRefused. Default and ceiling 1024. Set below 64
	// with no DefaultMemoryMiB, it is the default as well (at least 8).
	MaxMemoryMiB int

	// MaxOutputBytes caps a call's output. A guest returning more faults
	// (GuestFault). Default 1 MiB.
	MaxOutputBytes int

	// MaxLogBytes caps Result.Log. Beyond it the log is truncated, not the
	// call. Default 64 KiB.
	MaxLogBytes int

	// DefaultTimeout bounds a call whose context has no deadline. Activity
	// contexts always have one; this is a backstop. Default 1 minute.
	DefaultTimeout time.Duration

	// HostFuncs adds host functions guests may call when the policy
	// grants them, beside the built-in "sha256" and "upper". A name here
	// replaces a built-in of the same name.
	HostFuncs map[string]HostFunc
}

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
	c.DefaultMemoryMiB = min(max(c.DefaultMemoryMiB, minMemoryMiB), maxMemoryMiB)
	if c.MaxMemoryMiB <= 0 || c.MaxMemoryMiB > maxMemoryMiB {
		c.MaxMemoryMiB = maxMemoryMiB
	}
	c.MaxMemoryMiB = max(c.MaxMemoryMiB, c.DefaultMemoryMiB)
	if c.MaxOutputBytes <= 0 {
		c.MaxOutputBytes = activities.DefaultMaxOutputBytes
	}
	if c.MaxLogBytes <= 0 {
		c.MaxLogBytes = activities.DefaultMaxLogBytes
	}
	if c.DefaultTimeout <= 0 {
		c.DefaultTimeout = activities.DefaultCallTimeout
	}
	if c.VMBudget <= 0 {
		c.VMBudget = hostmem.Slots(hostmem.Budget(hostmem.Available()), uint64(c.DefaultMemoryMiB)<<20, runtime.GOMAXPROCS(0))
	}
	return c
}

// memoryMiB rounds a guest memory size up to whole 2 MiB pages.
func memoryMiB(mib int) int { return (mib + 1) &^ 1 }
