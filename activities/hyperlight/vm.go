//go:build linux && amd64

package hyperlight

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/hyperlight/kvm"
)

// kickSignal interrupts a vCPU thread inside KVM_RUN. The Go runtime always
// installs a handler for SIGURG (its preemption signal) and tolerates
// extra ones, so no handler of our own is needed; KVM_RUN then returns
// EINTR, never restarted whatever SA_RESTART says.
const kickSignal = unix.SIGURG

// vm is one micro-VM: a KVM VM with one vCPU and its guest memory. One
// call at a time uses it, on the caller's own goroutine locked to its OS
// thread for the call (the deadline kick signals that thread). Moving a
// vCPU between threads from one call to the next was measured to cost
// less than handing each call to a dedicated thread and back (figures in
// BENCHMARKS.md).
type vm struct {
	r   *Runner
	img *image
	lay *layout

	kvm *kvm.VM
	cpu *kvm.VCPU
	mem []byte // guest physical memory: MAP_PRIVATE over the image memfd

	sregs   kvm.Sregs // 64-bit user mode; every call starts from these
	restore [][]byte  // writable regions of mem, reset by MADV_DONTNEED

	dirty      bool // memory differs from the snapshot
	sregsDirty bool // system registers may differ from v.sregs
	needFlush  bool // a non-OUT exit may leave I/O pending in KVM

	kickMu sync.Mutex
	cur    *job // the job running now, or nil; guarded by kickMu
	tid    int  // the thread running cur; guarded by kickMu
	kicked atomic.Bool

	lastUsed time.Time // guarded by Runner.mu
}

// job is one call (or the boot) run on a VM, and its outcome.
type job struct {
	ctx    context.Context
	input  []byte
	grants *activities.Grants
	boot   bool // run _start to READY instead of a call

	output  []byte
	log     logBuffer
	entry   uint64 // boot: the call entry the guest reported
	err     error
	keep    bool // the VM may serve another call
	restore time.Duration
	run     time.Duration
	exits   int
}

// startVM creates a VM for img. mem is the guest memory mapping it takes
// over (boot: the shared build mapping), or nil to map the sealed
// snapshot privately. The cost is what "vm.create_us" reports.
func (r *Runner) startVM(img *image, mem []byte) (*vm, error) {
	v := &vm{r: r, img: img, lay: &img.lay, mem: mem}
	if err := v.create(); err != nil {
		v.destroy()
		return nil, err
	}
	return v, nil
}

// create builds the VM: memory slots over v.mem, the vCPU with its CPUID
// model and 64-bit user-mode registers. No MSR filter: a user-mode guest
// cannot execute RDMSR/WRMSR at all, and installing one waits for an SRCU
// grace period (milliseconds; BENCHMARKS.md), which would dominate a cold start.
func (v *vm) create() error {
	r := v.r
	var err error
	if v.mem == nil {
		if v.mem, err = v.img.mapPrivate(nil); err != nil {
			return err
		}
	}
	if v.kvm, err = r.sys.CreateVM(); err != nil {
		return err
	}
	if err := v.kvm.SetTSSAddr(0xFFFBD000); err != nil {
		return err
	}
	base := uint64(uintptr(unsafe.Pointer(&v.mem[0])))
	for i, rg := range v.lay.regions() {
		var flags uint32
		if !rg.writable {
			flags = kvm.MemReadonly
		} else {
			v.restore = append(v.restore, v.mem[rg.start:rg.end])
		}
		if err := v.kvm.SetUserMemoryRegion(kvm.MemoryRegion{
			Slot: uint32(i), Flags: flags, GuestPhysAddr: rg.start,
			MemorySize: rg.end - rg.start, UserspaceAddr: base + rg.start,
		}); err != nil {
			return err
		}
	}
	if v.cpu, err = v.kvm.CreateVCPU(0); err != nil {
		return err
	}
	if err := v.cpu.SetCPUID(r.cpuid); err != nil {
		return err
	}
	var fresh kvm.Sregs
	if err := v.cpu.GetSregs(&fresh); err != nil {
		return err
	}
	v.sregs = userModeSregs(fresh)
	v.sregsDirty = true
	if v.r.testHook != nil {
		v.r.testHook(v)
	}
	if err := v.cpu.SetSregs(&v.sregs); err != nil {
		return fmt.Errorf("%w (putting the vCPU in 64-bit user mode)", err)
	}
	return nil
}

// destroy releases the vCPU, the VM and the memory mapping.
func (v *vm) destroy() {
	if v.cpu != nil {
		v.cpu.Close()
	}
	if v.kvm != nil {
		v.kvm.Close()
	}
	if v.mem != nil {
		unix.MunmapPtr(unsafe.Pointer(&v.mem[0]), uintptr(len(v.mem)))
		v.mem = nil
	}
}

// call runs j on this goroutine, locked to its thread for the duration.
func (v *vm) call(j *job) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	v.kickMu.Lock()
	v.tid = unix.Gettid()
	v.kickMu.Unlock()
	v.serve(j)
}

// serve runs one job; the caller's thread is locked.
func (v *vm) serve(j *job) {
	t0 := time.Now()
	if err := v.reset(j); err != nil {
		j.err = activities.Retryable(activities.ErrToolFailed, err, "hyperlight: restoring VM for guest %q: %v", v.img.name, err)
		j.keep = false
		return
	}
	t1 := time.Now()
	j.restore = t1.Sub(t0)

	v.kickMu.Lock()
	v.cur = j
	v.kicked.Store(false)
	v.cpu.SetImmediateExit(false)
	v.kickMu.Unlock()
	stop := context.AfterFunc(j.ctx, func() { v.kick(j) })

	v.dirty = true
	v.exec(j)

	stop()
	v.kickMu.Lock()
	v.cur = nil
	v.kickMu.Unlock()
	j.run = time.Since(t1)
}

// kick stops job j if it is still the one running: immediate_exit makes a
// KVM_RUN about to start return at once, the signal ends one in progress.
func (v *vm) kick(j *job) {
	v.kickMu.Lock()
	defer v.kickMu.Unlock()
	if v.cur != j {
		return
	}
	v.kicked.Store(true)
	_ = v.cpu.Interrupt(v.tid, kickSignal)
}

// reset brings the VM back to the snapshot and stages the job's input:
// pending I/O is completed, writable memory dropped back to the memfd
// contents, general registers (and system registers when the last call
// may have changed them) staged for the next KVM_RUN. The entry stub
// resets data segment selectors and x87/SSE state. Debug registers, MSRs,
// control registers and descriptor tables need no reset: a user-mode
// guest cannot write them, and a call that ends in user mode with an OUT
// leaves the rest of the system registers as they were.
func (v *vm) reset(j *job) error {
	if v.needFlush {
		// Complete an MMIO or IN exit left pending, without running guest
		// code, so it cannot overwrite the registers staged below.
		v.cpu.SetImmediateExit(true)
		if err := v.cpu.Run(); err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
		v.cpu.SetImmediateExit(false)
		v.needFlush = false
	}
	if v.dirty {
		for _, m := range v.restore {
			if err := unix.Madvise(m, unix.MADV_DONTNEED); err != nil {
				return fmt.Errorf("madvise(MADV_DONTNEED) over %d KiB: %w", len(m)>>10, err)
			}
		}
		v.dirty = false
	}
	regs := kvm.Regs{RIP: entryAddr, RSP: v.lay.stackTop, RFLAGS: rflagsGuest}
	if j.boot {
		regs.RIP = v.lay.entry
	} else {
		binary.LittleEndian.PutUint64(v.mem[callAddr:], uint64(len(j.input)))
		copy(v.mem[inputAddr:], j.input)
	}
	sregs := &v.sregs
	if !v.sregsDirty {
		sregs = nil
	}
	v.sregsDirty = false
	if v.r.syncRegs {
		v.cpu.StageRegs(&regs, sregs)
		return nil
	}
	if sregs != nil {
		if err := v.cpu.SetSregs(sregs); err != nil {
			return err
		}
	}
	return v.cpu.SetRegs(&regs)
}

// exec runs the vCPU until the job ends, handling its port calls.
func (v *vm) exec(j *job) {
	j.keep = true
	for {
		err := v.cpu.Run()
		j.exits++
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				if v.kicked.Load() {
					v.sregsDirty = true // stopped anywhere, even in a fault stub
					v.stopped(j)
					return
				}
				continue // a stray signal (the Go runtime's own SIGURG)
			}
			j.keep = false
			j.err = activities.Retryable(activities.ErrToolFailed, err, "hyperlight: KVM_RUN failed for guest %q: %v", v.img.name, err)
			return
		}
		reason := v.cpu.ExitReason()
		if reason != kvm.ExitIO {
			v.needFlush = true
			v.sregsDirty = true
		}
		switch reason {
		case kvm.ExitIO:
			if v.port(j) {
				return
			}
		case kvm.ExitIntr:
			if v.kicked.Load() {
				v.stopped(j)
				return
			}
		case kvm.ExitMMIO:
			m := v.cpu.MMIO()
			v.fault(j, describeMMIO(v.lay, m), false)
			return
		case kvm.ExitHLT:
			v.fault(j, "the guest halted (HLT) without returning a result", false)
			return
		case kvm.ExitShutdown:
			v.fault(j, "triple fault: the CPU could not deliver an exception (broken IDT or stack)", true)
			return
		case kvm.ExitInternalError:
			v.fault(j, describeInternal(v.cpu.InternalError()), true)
			return
		case kvm.ExitFailEntry:
			v.fault(j, fmt.Sprintf("VM entry failed (hardware reason %#x)", v.cpu.HardwareReason()), true)
			return
		default:
			v.fault(j, "unexpected exit "+kvm.ExitName(reason), true)
			return
		}
	}
}

// port handles a port I/O exit. It reports whether the job is over.
func (v *vm) port(j *job) bool {
	io := v.cpu.IO()
	if io.Direction != kvm.IOOut || io.Size != 4 || io.Count != 1 || len(io.Data) != 4 {
		v.needFlush = true
		v.sregsDirty = true
		dir := "OUT"
		if io.Direction == kvm.IOIn {
			dir = "IN"
		}
		v.fault(j, fmt.Sprintf("unknown port %#x (%d-byte %s): the ABI has only 32-bit OUTs to ports %#x-%#x",
			io.Port, io.Size, dir, portReady, portHostCall), false)
		return true
	}
	arg := uint64(binary.LittleEndian.Uint32(io.Data))
	switch io.Port {
	case portReady:
		if !j.boot {
			v.fault(j, "READY outside initialisation", false)
			return true
		}
		j.entry = arg
		return true
	case portResult:
		if j.boot {
			v.fault(j, "RESULT during initialisation (tars_init must not call tars_return)", false)
			return true
		}
		ptr, n, ok := v.buf(arg)
		switch {
		case !ok:
			v.fault(j, fmt.Sprintf("RESULT argument block at %#x is outside guest memory", arg), false)
		case n > uint64(v.r.cfg.MaxOutputBytes):
			v.fault(j, fmt.Sprintf("output of %d bytes exceeds the limit of %d bytes (MaxOutputBytes)", n, v.r.cfg.MaxOutputBytes), false)
		case !v.lay.inRAM(ptr, n):
			v.fault(j, fmt.Sprintf("output buffer %#x+%d lies outside guest memory", ptr, n), false)
		default:
			j.output = slices.Clone(v.mem[ptr : ptr+n])
		}
		return true
	case portLog:
		ptr, n, ok := v.buf(arg)
		if !ok || !v.lay.inRAM(ptr, n) {
			v.fault(j, fmt.Sprintf("LOG buffer at %#x is outside guest memory", arg), false)
			return true
		}
		j.log.add(v.mem[ptr:ptr+n], v.r.cfg.MaxLogBytes)
		return false
	case portAbort:
		ptr, n, ok := v.buf(arg)
		if !ok || !v.lay.inRAM(ptr, n) {
			v.fault(j, fmt.Sprintf("ABORT message at %#x is outside guest memory", arg), false)
			return true
		}
		j.err = abortError(v.img.name, v.mem[ptr:ptr+min(n, maxAbortMessage)], j.boot)
		return true
	case portHostCall:
		return v.hostCall(j, arg)
	case portFault:
		v.sregsDirty = true // the CPU is in the ring-0 stub
		v.exception(j, arg)
		return true
	}
	v.fault(j, fmt.Sprintf("unknown port %#x (OUT, 4 bytes)", io.Port), false)
	return true
}

// buf reads a tars_buf {ptr, len} at addr.
func (v *vm) buf(addr uint64) (ptr, n uint64, ok bool) {
	if !v.lay.inRAM(addr, 16) {
		return 0, 0, false
	}
	le := binary.LittleEndian
	return le.Uint64(v.mem[addr:]), le.Uint64(v.mem[addr+8:]), true
}

// rip reads the guest's instruction pointer, for error messages.
func (v *vm) rip() uint64 {
	var r kvm.Regs
	if err := v.cpu.GetRegs(&r); err != nil {
		return 0
	}
	return r.RIP
}

// fault ends j with GuestFault. discard marks the VM unfit for reuse (its
// CPU state after a triple fault or a failed entry is not worth trusting).
func (v *vm) fault(j *job, reason string, discard bool) {
	j.err = faultError(v.img.name, reason, v.rip(), j.boot)
	if discard {
		j.keep = false
	}
}

// exception reports an exception delivered to the host's stub: the frame
// the CPU pushed on the IST stack says where it happened.
func (v *vm) exception(j *job, vector uint64) {
	var regs kvm.Regs
	var sregs kvm.Sregs
	if err := v.cpu.GetRegs(&regs); err != nil {
		v.fault(j, fmt.Sprintf("exception %d (registers unreadable: %v)", vector, err), true)
		return
	}
	_ = v.cpu.GetSregs(&sregs)
	frame := regs.RSP
	var code uint64
	hasCode := exceptionHasCode(vector)
	le := binary.LittleEndian
	if !v.lay.inRAM(frame, 48) {
		j.err = faultError(v.img.name, fmt.Sprintf("exception %s with an unreadable frame", exceptionName(vector)), regs.RIP, j.boot)
		return
	}
	if hasCode {
		code = le.Uint64(v.mem[frame:])
		frame += 8
	}
	rip := le.Uint64(v.mem[frame:])
	j.err = faultError(v.img.name, describeException(v.lay, vector, code, sregs.CR2, le.Uint64(v.mem[frame+24:])), rip, j.boot)
}

// stopped ends j after a kick: at its deadline, or because it was canceled.
func (v *vm) stopped(j *job) {
	rip := v.rip()
	if errors.Is(context.Cause(j.ctx), context.DeadlineExceeded) || errors.Is(j.ctx.Err(), context.DeadlineExceeded) {
		j.err = deadlineError(v.img.name, j.ctx, rip, j.boot)
		return
	}
	j.err = fmt.Errorf("hyperlight: guest %q stopped (rip=%#x): %w", v.img.name, rip, j.ctx.Err())
}

// close releases the VM.
func (v *vm) close() { v.destroy() }
