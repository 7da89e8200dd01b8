package wasm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/sys"

	"github.com/tars-engine/tars/activities"
)

// fault turns what wazero returned from a guest's _start into the error
// the activity reports, or nil when the guest exited 0. The order matters:
// the pool's own verdicts (output over its cap, a refused memory.grow)
// explain a failure better than the trap or exit code the guest ended with.
func fault(ctx context.Context, cs *callState, err error) error {
	tool := cs.tool
	if cs.stdout.over || errors.Is(err, errOutputTooLarge) {
		return activities.NonRetryable(activities.ErrOutputTooLarge, nil,
			"wasm: %s wrote more than %d bytes to stdout; it was stopped", tool, cs.stdout.max)
	}
	if err == nil {
		return refusedThenSucceeded(cs)
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch code := exit.ExitCode(); code {
		case 0:
			return refusedThenSucceeded(cs)
		case sys.ExitCodeDeadlineExceeded:
			return deadline(tool)
		case sys.ExitCodeContextCanceled:
			return fmt.Errorf("wasm: %s was cancelled: %w", tool, context.Canceled)
		default:
			if cs.mem.refused {
				return memoryLimit(cs, fmt.Sprintf("exited with status %d: %s", code, cs.log.Tail()))
			}
			return activities.NonRetryable(activities.ErrWasmExit, nil,
				"wasm: %s exited with status %d: %s", tool, code, cs.log.Tail())
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return deadline(tool)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("wasm: %s was cancelled: %w", tool, context.Canceled)
	}
	what, where := trap(err)
	if cs.mem.refused {
		return memoryLimit(cs, "trapped: "+what+where)
	}
	return activities.NonRetryable(activities.ErrWasmTrap, nil, "wasm: %s trapped: %s%s", tool, what, where)
}

// deadline is non-retryable: the attempt's time is spent, and a retry of a
// guest that does not finish in time only spends the next attempt's too.
// A step that wants more time sets a longer timeout.
func deadline(tool string) error {
	return activities.NonRetryable(activities.ErrWasmDeadline, nil,
		"wasm: %s ran until shortly before its deadline and was stopped; raise the step's timeout if it needs more time", tool)
}

// refusedThenSucceeded fails a call that exited 0 after a memory.grow was
// refused: its output was computed without the memory it asked for (a
// malloc that returned NULL), so it is not trusted as a result.
func refusedThenSucceeded(cs *callState) error {
	if cs.mem.refused {
		return memoryLimit(cs, "exited 0; an output computed without the memory it asked for is not used")
	}
	return nil
}

func memoryLimit(cs *callState, then string) error {
	return activities.NonRetryable(activities.ErrWasmMemory, nil,
		"wasm: %s hit its memory limit of %d MiB (a memory.grow was refused) and then %s",
		cs.tool, cs.mem.limit>>20, then)
}

// trap extracts the trap and the innermost functions from wazero's error
// text, which reads:
//
//	wasm error: unreachable
//	wasm stack trace:
//		.abort()
//		.main(i32,i32) i32
//		  0x1a2b: /src/main.c:12:3     (only with DWARF)
//
// A panic in a host function reads "<message> (recovered by wazero)"
// instead of "wasm error: <message>". where is " at f, called from g", or
// empty when there is no stack.
func trap(err error) (what, where string) {
	text := err.Error()
	head, stack, _ := strings.Cut(text, "\nwasm stack trace:\n")
	what = strings.TrimPrefix(head, "wasm error: ")
	what = strings.TrimSuffix(what, " (recovered by wazero)")
	var frames []string
	for _, line := range strings.Split(stack, "\n") {
		if !strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "\t ") {
			continue // DWARF source lines are indented further
		}
		f := strings.TrimPrefix(strings.TrimSpace(line), ".") // anonymous module: ".name(...)"
		if i := strings.IndexByte(f, '('); i > 0 {
			f = f[:i]
		}
		if f == "__original_main" { // what clang calls a main without argc and argv
			f = "main"
		}
		frames = append(frames, f)
		if len(frames) == 3 {
			break
		}
	}
	switch len(frames) {
	case 0:
	case 1:
		where = " at " + frames[0]
	default:
		where = " at " + frames[0] + ", called from " + strings.Join(frames[1:], " < ")
	}
	return what, where
}
