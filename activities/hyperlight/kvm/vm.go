//go:build linux && amd64

package kvm

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// VM is one KVM virtual machine. Its methods are safe for concurrent use
// except where noted; a VM holds a file descriptor until Close.
type VM struct {
	fd       int
	mmapSize int
}

// SetUserMemoryRegion installs, moves or (with MemorySize 0) deletes one
// memory slot (KVM_SET_USER_MEMORY_REGION). The host mapping must stay
// valid while the slot exists. Replacing the mapping under a slot is
// allowed: KVM follows the host page tables through MMU notifiers.
func (vm *VM) SetUserMemoryRegion(r MemoryRegion) error {
	if _, err := ioctl(vm.fd, kvmSetUserMemoryRegion, uintptr(unsafe.Pointer(&r))); err != nil {
		return fmt.Errorf("kvm: KVM_SET_USER_MEMORY_REGION slot %d gpa %#x size %#x flags %#x: %w",
			r.Slot, r.GuestPhysAddr, r.MemorySize, r.Flags, err)
	}
	return nil
}

// SetTSSAddr places the three pages Intel VT-x needs for real-mode
// emulation (KVM_SET_TSS_ADDR) at a guest physical address outside RAM.
// A no-op on AMD; harmless for long-mode-only guests.
func (vm *VM) SetTSSAddr(addr uint64) error {
	if _, err := ioctl(vm.fd, kvmSetTSSAddr, uintptr(addr)); err != nil {
		return fmt.Errorf("kvm: KVM_SET_TSS_ADDR %#x: %w", addr, err)
	}
	return nil
}

// CreateVCPU creates vCPU id (KVM_CREATE_VCPU) and maps its kvm_run area.
func (vm *VM) CreateVCPU(id int) (*VCPU, error) {
	fd, err := ioctl(vm.fd, kvmCreateVCPU, uintptr(id))
	if err != nil {
		return nil, fmt.Errorf("kvm: KVM_CREATE_VCPU %d: %w", id, err)
	}
	run, err := unix.Mmap(int(fd), 0, vm.mmapSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(int(fd))
		return nil, fmt.Errorf("kvm: mmap kvm_run of vCPU %d (%d bytes): %w", id, vm.mmapSize, err)
	}
	return &VCPU{fd: int(fd), run: run}, nil
}

// Close releases the VM. Its vCPUs must be closed first; the guest memory
// mappings belong to the caller and are not unmapped.
func (vm *VM) Close() error {
	if vm.fd < 0 {
		return nil
	}
	err := unix.Close(vm.fd)
	vm.fd = -1
	return err
}
