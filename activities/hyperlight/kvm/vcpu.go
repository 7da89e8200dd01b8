//go:build linux && amd64

package kvm

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// VCPU is one virtual CPU and its mapped kvm_run area. Run and the register
// accessors must be called from one OS thread at a time (KVM pins a vCPU to
// the thread that last ran it, and moving it is costly); Interrupt and
// SetImmediateExit may be called from any goroutine.
type VCPU struct {
	fd  int
	run []byte
}

// Run enters the guest (KVM_RUN) until the next exit that needs user space.
// It returns unix.EINTR, without retrying, when a signal arrived or
// immediate_exit was set; any other error is a KVM failure. After a nil
// return, ExitReason says why the guest stopped.
func (c *VCPU) Run() error {
	_, err := runIoctl(c.fd, kvmRun, 0)
	return err
}

// SetImmediateExit sets or clears kvm_run.immediate_exit. While set, Run
// completes any pending I/O and returns EINTR without entering the guest.
func (c *VCPU) SetImmediateExit(on bool) {
	var v uint32 // request_interrupt_window (byte 0) stays 0; this package never uses it
	if on {
		v = 1 << (8 * runImmediateExit)
	}
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&c.run[0])), v)
}

// Interrupt kicks the vCPU out of the guest: it sets immediate_exit, so a
// Run that has not entered yet returns at once, and sends sig to thread tid
// of this process (the thread running Run), so a Run inside the guest
// returns EINTR. sig must have a handler installed (the Go runtime installs
// one for SIGURG); the cost is one tgkill.
func (c *VCPU) Interrupt(tid int, sig unix.Signal) error {
	c.SetImmediateExit(true)
	if err := unix.Tgkill(unix.Getpid(), tid, sig); err != nil {
		return fmt.Errorf("kvm: tgkill thread %d: %w", tid, err)
	}
	return nil
}

// ExitReason returns kvm_run.exit_reason of the last Run.
func (c *VCPU) ExitReason() uint32 {
	return binary.LittleEndian.Uint32(c.run[runExitReason:])
}

// IOExit describes a KVM_EXIT_IO: Data holds Size*Count bytes inside the
// kvm_run area (written by the guest for OUT, to be filled for IN).
type IOExit struct {
	Direction uint8
	Size      uint8
	Port      uint16
	Count     uint32
	Data      []byte
}

// IO decodes the last exit as port I/O. Only meaningful after ExitIO.
func (c *VCPU) IO() IOExit {
	u := c.run[runExitUnion:]
	e := IOExit{
		Direction: u[0],
		Size:      u[1],
		Port:      binary.LittleEndian.Uint16(u[2:]),
		Count:     binary.LittleEndian.Uint32(u[4:]),
	}
	off := binary.LittleEndian.Uint64(u[8:])
	n := uint64(e.Size) * uint64(e.Count)
	if off <= uint64(len(c.run)) && n <= uint64(len(c.run))-off {
		e.Data = c.run[off : off+n]
	}
	return e
}

// MMIOExit describes a KVM_EXIT_MMIO: an access to a guest physical address
// with no memory behind it, or a write to a read-only slot.
type MMIOExit struct {
	PhysAddr uint64
	Data     [8]byte
	Len      uint32
	IsWrite  bool
}

// MMIO decodes the last exit as MMIO. Only meaningful after ExitMMIO.
func (c *VCPU) MMIO() MMIOExit {
	u := c.run[runExitUnion:]
	e := MMIOExit{
		PhysAddr: binary.LittleEndian.Uint64(u[0:]),
		Len:      binary.LittleEndian.Uint32(u[16:]),
		IsWrite:  u[20] != 0,
	}
	copy(e.Data[:], u[8:16])
	return e
}

// HardwareReason returns the hardware code that accompanies
// KVM_EXIT_UNKNOWN (hw.hardware_exit_reason) and KVM_EXIT_FAIL_ENTRY
// (fail_entry.hardware_entry_failure_reason); both sit first in the union.
func (c *VCPU) HardwareReason() uint64 {
	return binary.LittleEndian.Uint64(c.run[runExitUnion:])
}

// InternalError returns the suberror of a KVM_EXIT_INTERNAL_ERROR
// (1 emulation failure, 2 simultaneous exceptions, 3 delivery event,
// 4 unexpected exit reason).
func (c *VCPU) InternalError() uint32 {
	return binary.LittleEndian.Uint32(c.run[runExitUnion:])
}

// StageRegs writes r and, when s is not nil, s into the kvm_run sync area
// and marks them dirty, so that the next Run loads them on entry without a
// separate ioctl (KVM_CAP_SYNC_REGS with SyncRegs and SyncSregs). It costs
// two memory copies. The caller must have checked the capability.
func (c *VCPU) StageRegs(r *Regs, s *Sregs) {
	*(*Regs)(unsafe.Pointer(&c.run[runSyncRegs])) = *r
	mask := uint64(SyncRegs)
	if s != nil {
		*(*Sregs)(unsafe.Pointer(&c.run[runSyncSregs])) = *s
		mask |= SyncSregs
	}
	binary.LittleEndian.PutUint64(c.run[runValidRegs:], 0) // nothing is copied back on exit
	binary.LittleEndian.PutUint64(c.run[runDirtyRegs:], mask)
}

// GetRegs reads the general-purpose registers (KVM_GET_REGS).
func (c *VCPU) GetRegs(r *Regs) error {
	if _, err := ioctl(c.fd, kvmGetRegs, uintptr(unsafe.Pointer(r))); err != nil {
		return fmt.Errorf("kvm: KVM_GET_REGS: %w", err)
	}
	return nil
}

// SetRegs writes the general-purpose registers (KVM_SET_REGS).
func (c *VCPU) SetRegs(r *Regs) error {
	if _, err := ioctl(c.fd, kvmSetRegs, uintptr(unsafe.Pointer(r))); err != nil {
		return fmt.Errorf("kvm: KVM_SET_REGS: %w", err)
	}
	return nil
}

// GetSregs reads segment, control and descriptor-table registers.
func (c *VCPU) GetSregs(s *Sregs) error {
	if _, err := ioctl(c.fd, kvmGetSregs, uintptr(unsafe.Pointer(s))); err != nil {
		return fmt.Errorf("kvm: KVM_GET_SREGS: %w", err)
	}
	return nil
}

// SetSregs writes segment, control and descriptor-table registers. It
// resets KVM's MMU context, so it costs more than SetRegs.
func (c *VCPU) SetSregs(s *Sregs) error {
	if _, err := ioctl(c.fd, kvmSetSregs, uintptr(unsafe.Pointer(s))); err != nil {
		return fmt.Errorf("kvm: KVM_SET_SREGS: %w", err)
	}
	return nil
}

// SetCPUID sets the CPUID model the guest sees (KVM_SET_CPUID2). Call it
// once, before the first Run.
func (c *VCPU) SetCPUID(entries []CPUIDEntry) error {
	buf := make([]byte, 8+len(entries)*int(unsafe.Sizeof(CPUIDEntry{})))
	binary.LittleEndian.PutUint32(buf[0:], uint32(len(entries)))
	if len(entries) > 0 {
		copy(unsafe.Slice((*CPUIDEntry)(unsafe.Pointer(&buf[8])), len(entries)), entries)
	}
	if _, err := ioctl(c.fd, kvmSetCPUID2, uintptr(unsafe.Pointer(&buf[0]))); err != nil {
		return fmt.Errorf("kvm: KVM_SET_CPUID2 (%d entries): %w", len(entries), err)
	}
	return nil
}

// Close unmaps the run area and closes the vCPU.
func (c *VCPU) Close() error {
	if c.fd < 0 {
		return nil
	}
	var err error
	if c.run != nil {
		err = unix.Munmap(c.run)
		c.run = nil
	}
	if cerr := unix.Close(c.fd); err == nil {
		err = cerr
	}
	c.fd = -1
	return err
}
