package activities

import "time"

// Limits every pool applies to a call where its Config leaves them zero,
// so that a step's output, log, memory and time are bounded alike
// whichever runtime serves it (a fallback chain must not change them).
const (
	// DefaultMaxOutputBytes caps what one call may return: 1 MiB.
	DefaultMaxOutputBytes = 1 << 20
	// DefaultMaxLogBytes caps Result.Log (what a tool writes besides its
	// output); beyond it the log is truncated, not the call: 64 KiB.
	DefaultMaxLogBytes = 64 << 10
	// DefaultCallTimeout bounds a call whose context has no deadline.
	// Activity contexts always have one; this is a backstop.
	DefaultCallTimeout = time.Minute
	// DefaultMemoryMiB is the memory a sandboxed call (wasm, hyperlight)
	// gets when its grants name no memory_mib.
	DefaultMemoryMiB = 64
)
