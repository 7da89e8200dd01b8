package wasm

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"

	"github.com/tars-engine/tars/activities"
)

// callState is what one call owns: its stdin, stdout and log, its memory,
// and its grants for the host functions. States are recycled through a
// sync.Pool together with a ModuleConfig that already points at them, so a
// call without grants builds no configuration.
type callState struct {
	stdin  bytes.Reader
	stdout stdoutWriter
	log    logWriter
	mem    linearMemory
	rand   fixedRand
	grants *activities.Grants
	tool   string
	step   string
	// refusal is the first tars.http_fetch the worker's ceiling refused:
	// the call fails with it whatever the guest makes of the denial.
	refusal error
	config  wazero.ModuleConfig
}

type callKey struct{}

// stateFrom returns the callState a host function runs for.
func stateFrom(ctx context.Context) *callState {
	cs, _ := ctx.Value(callKey{}).(*callState)
	return cs
}

func newCallState(maxOutput, maxLog int) *callState {
	cs := &callState{}
	cs.stdout.max = maxOutput
	cs.log.max = maxLog
	// No start functions: the Runner calls _start itself, so that a failed
	// call leaves the instance open long enough to read its memory size.
	cs.config = wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithRandSource(&cs.rand).
		WithStdin(&cs.stdin).
		WithStdout(&cs.stdout).
		WithStderr(&cs.log)
	return cs
}

// reset readies a recycled state for a new call.
func (cs *callState) reset(args []byte, grants *activities.Grants, tool string, limit uint64) {
	cs.stdin.Reset(args)
	cs.stdout.buf = cs.stdout.buf[:0]
	cs.stdout.over = false
	cs.log.reset()
	cs.mem = linearMemory{limit: limit}
	cs.rand = fixedRand{}
	cs.grants = grants
	cs.tool = tool
	cs.step = ""
	cs.refusal = nil
}

// release drops references a pooled state must not keep alive.
func (cs *callState) release() {
	cs.stdin.Reset(nil)
	cs.grants = nil
	cs.refusal = nil
	if cap(cs.stdout.buf) > 64<<10 {
		cs.stdout.buf = nil
	}
	if cap(cs.log.head) > 16<<10 {
		cs.log.head = nil
	}
}

// fixedRand is the guest's random source (WASI random_get): the same bytes
// on every call, as wazero's default is, so that a tool's output depends on
// its input alone. wazero's default builds a math/rand source per instance,
// which costs several microseconds; this costs nothing to reset.
type fixedRand struct{ state uint64 }

// Read fills p from a splitmix64 sequence.
func (r *fixedRand) Read(p []byte) (int, error) {
	for i := 0; i < len(p); {
		r.state += 0x9e3779b97f4a7c15
		z := r.state
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		for j := 0; j < 8 && i < len(p); j++ {
			p[i] = byte(z >> (8 * j))
			i++
		}
	}
	return len(p), nil
}

// errOutputTooLarge aborts a guest from inside its fd_write: wazero turns a
// panic in a host function into an error of the call, the way proc_exit
// stops a guest. Returning an error instead would let a guest that ignores
// write errors spin until its deadline.
var errOutputTooLarge = fmt.Errorf("stdout over the pool's limit")

// stdoutWriter collects stdout up to max bytes and stops the guest at the
// first write past it, so a guest printing gigabytes costs max bytes.
type stdoutWriter struct {
	buf  []byte
	max  int
	over bool
}

func (w *stdoutWriter) Write(p []byte) (int, error) {
	if len(w.buf)+len(p) > w.max {
		w.over = true
		panic(errOutputTooLarge)
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// logWriter keeps the first max bytes of a call's log (stderr and
// tars.log) and, separately, its last tailMax bytes for error messages.
// Writes past max are counted and dropped, never refused: a chatty guest
// is not a failed one.
type logWriter struct {
	head    []byte
	max     int
	total   int64
	tail    [tailMax]byte
	tailLen int
}

const tailMax = 512

func (w *logWriter) reset() {
	w.head = w.head[:0]
	w.total = 0
	w.tailLen = 0
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.total += int64(len(p))
	if room := w.max - len(w.head); room > 0 {
		w.head = append(w.head, p[:min(room, len(p))]...)
	}
	if len(p) >= tailMax {
		w.tailLen = copy(w.tail[:], p[len(p)-tailMax:])
	} else {
		keep := min(w.tailLen, tailMax-len(p))
		copy(w.tail[:], w.tail[w.tailLen-keep:w.tailLen])
		w.tailLen = keep + copy(w.tail[keep:], p)
	}
	return len(p), nil
}

// String is the log as Result.Log carries it.
func (w *logWriter) String() string {
	if w.total == 0 {
		return ""
	}
	if dropped := w.total - int64(len(w.head)); dropped > 0 {
		return fmt.Sprintf("%s\n[tars: log truncated, %d more bytes dropped]", w.head, dropped)
	}
	return string(w.head)
}

// Tail is the end of the log, trimmed, for error messages.
func (w *logWriter) Tail() string {
	t := strings.TrimSpace(strings.ToValidUTF8(string(w.tail[:w.tailLen]), "?"))
	if t == "" {
		return "(nothing on stderr)"
	}
	if int64(w.tailLen) < w.total {
		return "…" + t
	}
	return t
}
