// Package hyperlight is the TARS worker pool that runs tool calls as guest
// functions in KVM micro-VMs with no guest kernel: TARS's own Go
// implementation of the Hyperlight model on KVM, not Microsoft's library
// (which is Rust and is not used or linked here).
//
// A guest is a freestanding x86-64 ELF built with the SDK in guests/sdk.
// The Runner boots each guest once per memory size: it builds page tables
// and 64-bit mode itself, loads the ELF into a memfd, runs the guest's
// initialisation and keeps that memory as a sealed snapshot. Each call then
// runs in a warm VM restored to the snapshot: writable guest memory is
// mapped copy-on-write and dropped with MADV_DONTNEED, registers are
// staged from fixed values, x87/SSE state is reset by a host stub. A call
// that runs past its deadline is kicked out of the guest (immediate_exit
// plus a signal to the vCPU's thread) and fails with GuestDeadline; a
// guest that faults fails with GuestFault and a message naming the reason
// and the guest's RIP. See docs/hyperlight.md for the memory layout and
// the port ABI.
//
// It is not a general VMM: one vCPU, no interrupts, no devices, no guest
// kernel and no guest I/O beyond the ports of the ABI. It runs only on
// Linux x86-64 with a usable /dev/kvm (see kvm.Check).
package hyperlight
