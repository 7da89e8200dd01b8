//go:build linux && amd64

package kvm

import "strconv"

// WantAPIVersion is the only KVM API version this package speaks. Linux has
// reported 12 since 2.6.22 and will not change it.
const WantAPIVersion = 12

// Extensions (KVM_CAP_*) this package checks for.
const (
	CapUserMemory    = 3
	CapExtCPUID      = 7
	CapSyncRegs      = 74
	CapReadonlyMem   = 81
	CapImmediateExit = 136
)

// Register classes for StageRegs (KVM_SYNC_X86_*).
const (
	SyncRegs  = 1 << 0
	SyncSregs = 1 << 1
)

// Memory region flags for MemoryRegion.Flags.
const (
	MemReadonly = 1 << 1
)

// Exit reasons (KVM_EXIT_*) reported in the kvm_run area after Run.
const (
	ExitUnknown       = 0
	ExitException     = 1
	ExitIO            = 2
	ExitHypercall     = 3
	ExitDebug         = 4
	ExitHLT           = 5
	ExitMMIO          = 6
	ExitIRQWindowOpen = 7
	ExitShutdown      = 8
	ExitFailEntry     = 9
	ExitIntr          = 10
	ExitInternalError = 17
	ExitSystemEvent   = 24
)

// Directions of a port I/O exit.
const (
	IOIn  = 0
	IOOut = 1
)

// ExitName returns the KVM_EXIT_* name of an exit reason, for messages.
func ExitName(reason uint32) string {
	switch reason {
	case ExitUnknown:
		return "KVM_EXIT_UNKNOWN"
	case ExitException:
		return "KVM_EXIT_EXCEPTION"
	case ExitIO:
		return "KVM_EXIT_IO"
	case ExitHypercall:
		return "KVM_EXIT_HYPERCALL"
	case ExitDebug:
		return "KVM_EXIT_DEBUG"
	case ExitHLT:
		return "KVM_EXIT_HLT"
	case ExitMMIO:
		return "KVM_EXIT_MMIO"
	case ExitIRQWindowOpen:
		return "KVM_EXIT_IRQ_WINDOW_OPEN"
	case ExitShutdown:
		return "KVM_EXIT_SHUTDOWN"
	case ExitFailEntry:
		return "KVM_EXIT_FAIL_ENTRY"
	case ExitIntr:
		return "KVM_EXIT_INTR"
	case ExitInternalError:
		return "KVM_EXIT_INTERNAL_ERROR"
	case ExitSystemEvent:
		return "KVM_EXIT_SYSTEM_EVENT"
	}
	return "KVM_EXIT_" + strconv.FormatUint(uint64(reason), 10)
}

// MemoryRegion is struct kvm_userspace_memory_region: it maps
// [GuestPhysAddr, GuestPhysAddr+MemorySize) of guest physical memory onto
// host virtual memory at UserspaceAddr.
type MemoryRegion struct {
	Slot          uint32
	Flags         uint32
	GuestPhysAddr uint64
	MemorySize    uint64
	UserspaceAddr uint64
}

// Regs is struct kvm_regs: the general-purpose registers, RIP and RFLAGS.
type Regs struct {
	RAX, RBX, RCX, RDX uint64
	RSI, RDI, RSP, RBP uint64
	R8, R9, R10, R11   uint64
	R12, R13, R14, R15 uint64
	RIP, RFLAGS        uint64
}

// Segment is struct kvm_segment: a segment register with its hidden part.
type Segment struct {
	Base     uint64
	Limit    uint32
	Selector uint16
	Type     uint8
	Present  uint8
	DPL      uint8
	DB       uint8
	S        uint8
	L        uint8
	G        uint8
	AVL      uint8
	Unusable uint8
	_        uint8
}

// DTable is struct kvm_dtable: a descriptor table register (GDTR, IDTR).
type DTable struct {
	Base  uint64
	Limit uint16
	_     [3]uint16
}

// Sregs is struct kvm_sregs: segment, descriptor-table and control
// registers, EFER and the APIC base.
type Sregs struct {
	CS, DS, ES, FS, GS, SS Segment
	TR, LDT                Segment
	GDT, IDT               DTable
	CR0, CR2, CR3, CR4     uint64
	CR8                    uint64
	EFER                   uint64
	APICBase               uint64
	InterruptBitmap        [4]uint64
}

// CPUIDEntry is struct kvm_cpuid_entry2: one CPUID leaf/subleaf result.
type CPUIDEntry struct {
	Function uint32
	Index    uint32
	Flags    uint32
	EAX      uint32
	EBX      uint32
	ECX      uint32
	EDX      uint32
	_        [3]uint32
}

// Offsets into the kvm_run area (struct kvm_run on x86-64).
const (
	runImmediateExit = 1
	runExitReason    = 8
	runExitUnion     = 32  // the per-exit union starts after cr8 and apic_base
	runValidRegs     = 288 // kvm_valid_regs, after the 256-byte union
	runDirtyRegs     = 296 // kvm_dirty_regs
	runSyncRegs      = 304 // struct kvm_sync_regs: kvm_regs, then kvm_sregs
	runSyncSregs     = runSyncRegs + 144
)
