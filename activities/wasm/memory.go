package wasm

import (
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// linearMemory backs one call's wasm memory and enforces the call's limit.
//
// wazero's own limit (RuntimeConfig.WithMemoryLimitPages) is fixed per
// runtime and is applied when a module is compiled, so per-call limits
// would need one runtime, and one compile of every module, per distinct
// limit. An allocator set on the instantiation context sees every grow
// instead: it can refuse past the call's limit, and it records that it did,
// which is how a call that failed after malloc returned NULL is reported as
// WasmMemoryLimit rather than as whatever the guest did next.
//
// Small buffers are recycled across calls. A recycled buffer is cleared up
// to the length the previous call used (wasm memory never shrinks, so that
// covers every byte it could have written), which costs about what zeroing
// a new allocation costs but spares the garbage collector.
type linearMemory struct {
	buf     []byte
	limit   uint64 // bytes this call may use
	refused bool   // a grow past limit was refused
	over    bool   // the module's initial memory was already past limit
	started bool   // the initial Reallocate happened
}

// recycleMax is the largest buffer kept for reuse: the initial memory of
// small C and Rust guests fits, Go guests' and grown ones' do not.
const recycleMax = 1 << 20

var memoryBuffers = sync.Pool{New: func() any { return new([]byte) }}

// Allocate implements experimental.MemoryAllocator for a single call; the
// Runner checks before instantiating that a module has one memory at most.
func (m *linearMemory) Allocate(capacity, _ uint64) experimental.LinearMemory {
	m.buf, m.started = nil, false
	if capacity <= recycleMax {
		// A buffer larger than this call's limit stays in the pool: a call
		// never holds more memory than it may use.
		if p := memoryBuffers.Get().(*[]byte); cap(*p) >= int(capacity) && uint64(cap(*p)) <= m.limit {
			m.buf = (*p)[:0]
		} else {
			memoryBuffers.Put(p)
		}
	}
	return m
}

// Reallocate implements experimental.LinearMemory. wazero calls it once at
// instantiation with the module's initial size, and then on every
// memory.grow. Returning nil makes memory.grow return -1 to the guest.
func (m *linearMemory) Reallocate(size uint64) []byte {
	initial := !m.started
	m.started = true
	if size > m.limit {
		if !initial {
			m.refused = true
			return nil
		}
		// The initial memory cannot be refused (wazero would panic); the
		// Runner checks declared minimums before instantiating, so this is
		// a defence only: give it and fail the call before it runs. The
		// runtime's own limit (MaxMemoryMiB) bounds it at compile time.
		m.over = true
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	// Grow geometrically, like append, but never past the limit, so a
	// guest at its limit does not hold twice that.
	newCap := max(size, min(2*uint64(cap(m.buf)), m.limit))
	buf := make([]byte, size, newCap)
	copy(buf, m.buf)
	m.buf = buf
	return buf
}

// Free implements experimental.LinearMemory; wazero calls it when the
// module closes.
func (m *linearMemory) Free() {
	if c := cap(m.buf); c > 0 && c <= recycleMax {
		buf := m.buf
		clear(buf) // every byte the guest could have written: len only grows
		buf = buf[:0]
		memoryBuffers.Put(&buf)
	}
	m.buf = nil
}
