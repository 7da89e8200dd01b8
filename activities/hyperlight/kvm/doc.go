// Package kvm is a thin wrapper over the Linux KVM ioctl API on x86-64,
// built on golang.org/x/sys/unix without cgo. What a call does on every
// VM entry (Run, the register accessors, the kvm_run decoders) costs one
// ioctl or less and does not allocate.
//
// It exposes exactly what the hyperlight pool needs to run a guest function
// in a micro-VM: open /dev/kvm, create a VM, map guest memory, create a vCPU,
// get and set its register state, and run it. Struct layouts mirror
// <linux/kvm.h> for x86-64 and are checked by tests.
//
// It is not a general VMM library: there is no in-kernel interrupt
// controller, no device emulation, no multi-vCPU support beyond what the
// ioctls themselves allow, and no architecture other than x86-64.
//
// Run does not retry EINTR. An EINTR return is how a deadline "kick"
// (immediate_exit plus a signal to the vCPU thread) surfaces to the caller,
// which decides whether the call was kicked or merely interrupted. Every
// other ioctl is retried on EINTR, because the Go runtime signals its
// threads (SIGURG) whenever it likes.
package kvm
