//go:build linux && amd64

package hyperlight

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/hyperlight/kvm"
)

// maxAbortMessage caps the message a guest may abort with.
const maxAbortMessage = 4096

// faultError is the non-retryable GuestFault for guest tool at rip. The
// details carry {"reason": ..., "rip": "0x..."} for programs that decode
// them (ApplicationError.Details).
func faultError(tool, reason string, rip uint64, boot bool) error {
	phase := ""
	if boot {
		phase = " during initialisation"
	}
	ripHex := fmt.Sprintf("%#x", rip)
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("hyperlight: guest %q faulted%s: %s (rip=%s)", tool, phase, reason, ripHex),
		activities.ErrGuestFault, nil,
		map[string]string{"reason": reason, "rip": ripHex})
}

// deadlineError is the non-retryable GuestDeadline for a call stopped at
// the deadline of ctx.
func deadlineError(tool string, ctx context.Context, rip uint64, boot bool) error {
	phase := ""
	if boot {
		phase = " while initialising"
	}
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("hyperlight: guest %q ran past its deadline%s and was stopped (rip=%#x); raise the step's timeout or fix the guest",
			tool, phase, rip),
		activities.ErrGuestDeadline, ctx.Err(),
		map[string]string{"rip": fmt.Sprintf("%#x", rip)})
}

// abortError is the non-retryable GuestAbort carrying the guest's message.
func abortError(tool string, msg []byte, boot bool) error {
	phase := ""
	if boot {
		phase = " during initialisation"
	}
	m := strings.ToValidUTF8(string(msg), "\uFFFD")
	return activities.NonRetryable(activities.ErrGuestAbort, nil, "hyperlight: guest %q aborted%s: %s", tool, phase, m)
}

// describeMMIO explains a KVM_EXIT_MMIO: the guest touched guest-physical
// memory with nothing behind it, or wrote to a read-only slot.
func describeMMIO(l *layout, m kvm.MMIOExit) string {
	op := "read of"
	if m.IsWrite {
		op = "write to"
	}
	switch {
	case m.PhysAddr < l.memSize && m.IsWrite:
		what := "its read-only code or data"
		if m.PhysAddr < hostEnd {
			what = "the host's read-only area (descriptor tables, page tables, boot info)"
		}
		return fmt.Sprintf("%s %#x: %s", op, m.PhysAddr, what)
	case m.PhysAddr >= l.memSize:
		return fmt.Sprintf("%s %#x, outside guest memory (%d MiB)", op, m.PhysAddr, l.memSize>>20)
	}
	return fmt.Sprintf("%s %#x: no memory there", op, m.PhysAddr)
}

// describeInternal explains a KVM_EXIT_INTERNAL_ERROR suberror.
func describeInternal(sub uint32) string {
	switch sub {
	case 1:
		return "KVM could not emulate an instruction (internal error 1; PVM-based hosts also report a triple fault this way)"
	case 2:
		return "triple fault: exceptions while delivering an exception (internal error 2: simultaneous exceptions)"
	case 3:
		return "an exit while delivering an event (internal error 3)"
	}
	return fmt.Sprintf("KVM internal error, suberror %d (a broken IDT or stack often ends here: a triple fault)", sub)
}

var exceptionNames = [...]string{
	0: "#DE divide error", 1: "#DB debug", 2: "NMI", 3: "#BP breakpoint", 4: "#OF overflow",
	5: "#BR bound range", 6: "#UD invalid opcode", 7: "#NM device not available",
	8: "#DF double fault", 10: "#TS invalid TSS", 11: "#NP segment not present",
	12: "#SS stack fault", 13: "#GP general protection", 14: "#PF page fault",
	16: "#MF x87 floating-point error", 17: "#AC alignment check", 18: "#MC machine check",
	19: "#XM SIMD floating-point error", 20: "#VE virtualisation", 21: "#CP control protection",
}

func exceptionName(v uint64) string {
	if v < uint64(len(exceptionNames)) && exceptionNames[v] != "" {
		return exceptionNames[v]
	}
	return fmt.Sprintf("interrupt %d", v)
}

// exceptionHasCode reports whether the CPU pushes an error code for v.
func exceptionHasCode(v uint64) bool {
	switch v {
	case 8, 10, 11, 12, 13, 14, 17, 21, 29, 30:
		return true
	}
	return false
}

// describeException explains an exception the host's stub caught.
func describeException(l *layout, vector, code, cr2, rsp uint64) string {
	name := exceptionName(vector)
	switch vector {
	case 14:
		op := "reading"
		if code&2 != 0 {
			op = "writing"
		}
		if code&16 != 0 {
			op = "executing"
		}
		where := ""
		switch {
		case cr2 < pageSize:
			where = ": a null pointer"
		case cr2 >= l.heapEnd && cr2 < l.heapEnd+guardSize:
			where = ": the guard below the stack (stack overflow?)"
		case cr2 >= l.memSize:
			where = fmt.Sprintf(", outside guest memory (%d MiB)", l.memSize>>20)
		case code&1 != 0 && code&2 != 0:
			where = ": a read-only page"
		}
		return fmt.Sprintf("%s %s %#x%s", name, op, cr2, where)
	case 13:
		return fmt.Sprintf("%s (error code %#x): a privileged instruction (guests run in user mode) or a non-canonical address", name, code)
	case 12:
		return fmt.Sprintf("%s with rsp=%#x", name, rsp)
	}
	if exceptionHasCode(vector) {
		return fmt.Sprintf("%s (error code %#x)", name, code)
	}
	return name
}

// logBuffer collects what a guest logs, up to a cap.
type logBuffer struct {
	b         []byte
	truncated bool
}

func (l *logBuffer) add(msg []byte, limit int) {
	if l.truncated {
		return
	}
	need := len(msg)
	if len(msg) == 0 || msg[len(msg)-1] != '\n' {
		need++
	}
	if len(l.b)+need > limit {
		l.truncated = true
		room := max(0, limit-len(l.b))
		l.b = append(l.b, msg[:min(room, len(msg))]...)
		return
	}
	l.b = append(l.b, msg...)
	if need > len(msg) {
		l.b = append(l.b, '\n')
	}
}

// String returns the log as text, marking a truncation.
func (l *logBuffer) String() string {
	s := strings.ToValidUTF8(string(l.b), "\uFFFD")
	if l.truncated {
		s += "\n[log truncated by the host: MaxLogBytes]"
	}
	return s
}

// microseconds converts d to whole-ish microseconds for Result.Metrics.
func microseconds(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
