//go:build linux && amd64

package hyperlight

import (
	"encoding/binary"

	"github.com/tars-engine/tars/activities/hyperlight/kvm"
)

// layout is where one guest image lives in guest memory.
type layout struct {
	memSize   uint64 // bytes of guest memory, a multiple of 2 MiB
	rwStart   uint64 // [imageBase, rwStart) is read-only to the guest
	heapStart uint64
	heapEnd   uint64 // a guard gap of guardSize follows, then the stack
	stackTop  uint64
	entry     uint64 // ELF entry point (_start)
}

func newLayout(memSize uint64) layout {
	return layout{
		memSize:  memSize,
		heapEnd:  memSize - stackSize - guardSize,
		stackTop: memSize,
	}
}

// region is one memory slot: a guest physical range and whether the guest
// may write it. Writable regions are what a restore resets.
type region struct {
	start, end uint64
	writable   bool
}

// regions lists the memory slots of an image, in address order.
func (l *layout) regions() []region {
	rs := []region{
		{0, hostEnd, false},
		{hostEnd, imageBase, true},
	}
	if l.rwStart > imageBase {
		rs = append(rs, region{imageBase, l.rwStart, false})
	}
	return append(rs, region{l.rwStart, l.memSize, true})
}

// writable reports whether [addr, addr+n) lies inside one writable region:
// the only memory the host may write on the guest's behalf, because only
// writable memory is reset between calls.
func (l *layout) writable(addr, n uint64) bool {
	end := addr + n
	if end < addr {
		return false
	}
	return (addr >= hostEnd && end <= istPage) || (addr >= l.rwStart && end <= l.memSize)
}

// inRAM reports whether [addr, addr+n) lies inside guest memory.
func (l *layout) inRAM(addr, n uint64) bool {
	end := addr + n
	return end >= addr && end <= l.memSize
}

// Page-table entry bits. Accessed and Dirty are preset everywhere so the
// CPU never writes them: page tables sit in read-only guest memory.
const (
	ptePresent  = 1 << 0
	pteWritable = 1 << 1
	pteUser     = 1 << 2
	pteAccessed = 1 << 5
	pteDirty    = 1 << 6
	pteHuge     = 1 << 7
)

// writeHostArea fills the host-owned first megabyte of mem (the memfd that
// becomes the snapshot) for an image with layout l: descriptor tables,
// exception stubs, the call entry stub, a clean FPU image, the boot info
// and identity-mapping page tables.
func writeHostArea(mem []byte, l *layout) {
	le := binary.LittleEndian

	// GDT: null, kernel code (0x08) and data (0x10) for the host's stubs,
	// user data (0x18) and 64-bit code (0x20) for the guest, the 64-bit
	// TSS (0x28, two slots). Accessed bits are preset so the CPU never
	// writes the table.
	le.PutUint64(mem[gdtAddr+0x08:], 0x00AF9B000000FFFF)
	le.PutUint64(mem[gdtAddr+0x10:], 0x00CF93000000FFFF)
	le.PutUint64(mem[gdtAddr+0x18:], 0x00CFF3000000FFFF)
	le.PutUint64(mem[gdtAddr+0x20:], 0x00AFFB000000FFFF)
	le.PutUint64(mem[gdtAddr+selTSS:], tssDescriptorLow(tssAddr, tssLimit))

	// TSS: IST1 is the exception stack, so a fault on a broken stack is
	// still reported. An all-zero I/O bitmap lets the user-mode guest's
	// OUTs exit to the host (which rejects ports outside the ABI with a
	// clear message) without granting IOPL, which would also allow CLI/STI.
	le.PutUint64(mem[tssAddr+0x24:], istTop)
	le.PutUint16(mem[tssAddr+0x66:], 0x68)
	mem[tssAddr+tssLimit] = 0xFF // the bitmap's required terminating byte

	// IDT and stubs: vector v enters stub v (in ring 0), which reports v on
	// portFault and halts. Every gate uses IST1, so even a guest with a
	// wrecked stack pointer has its fault reported. The gates' DPL 0 makes
	// an INT n from the guest a #GP.
	for v := 0; v < 256; v++ {
		h := uint64(stubsAddr + v*16)
		g := mem[idtAddr+v*16:]
		le.PutUint16(g[0:], uint16(h))
		le.PutUint16(g[2:], selKernelCode)
		g[4] = 1    // IST1
		g[5] = 0x8E // present, DPL 0, 64-bit interrupt gate
		le.PutUint16(g[6:], uint16(h>>16))
		le.PutUint32(g[8:], uint32(h>>32))
		copy(mem[h:], []byte{
			0xB8, byte(v), 0, 0, 0, // mov eax, v
			0xBA, portFault & 0xFF, portFault >> 8, 0, 0, // mov edx, portFault
			0xEF,       // out dx, eax
			0xF4,       // hlt
			0xEB, 0xFD, // jmp hlt
		})
	}

	// Call entry, run in user mode: load null data segment selectors (a
	// guest may have loaded others), reset x87/SSE state from the clean
	// image, then jump to the entry the guest reported at READY
	// (boot.entry). Registers were zeroed by the host; the guest cannot
	// skip this stub. Doing this in the guest spares the host a
	// KVM_SET_SREGS per call, which resets KVM's MMU context.
	copy(mem[entryAddr:], []byte{
		0x31, 0xC0, // xor eax, eax
		0x8E, 0xD8, // mov ds, eax
		0x8E, 0xC0, // mov es, eax
		0x8E, 0xE0, // mov fs, eax
		0x8E, 0xE8, // mov gs, eax
		0x0F, 0xAE, 0x0C, 0x25, fxsaveAddr & 0xFF, fxsaveAddr >> 8, 0, 0, // fxrstor [fxsaveAddr]
		0xFF, 0x24, 0x25, (bootAddr + bootEntryOff) & 0xFF, (bootAddr + bootEntryOff) >> 8, 0, 0, // jmp [boot.entry]
	})
	le.PutUint16(mem[fxsaveAddr+0:], 0x037F)  // FCW: all exceptions masked, 64-bit precision
	le.PutUint32(mem[fxsaveAddr+24:], 0x1F80) // MXCSR: all exceptions masked

	// Boot info.
	b := mem[bootAddr:]
	le.PutUint64(b[bootMagicOff:], bootMagic)
	le.PutUint64(b[bootVersionOff:], abiVersion)
	le.PutUint64(b[bootMemSizeOff:], l.memSize)
	le.PutUint64(b[bootHeapStartOff:], l.heapStart)
	le.PutUint64(b[bootHeapEndOff:], l.heapEnd)
	le.PutUint64(b[bootInputOff:], inputAddr)
	le.PutUint64(b[bootInputCapOff:], inputCap)
	le.PutUint64(b[bootStackTopOff:], l.stackTop)

	// Page tables: one PML4 entry, one PDPT entry, one page directory of
	// 2 MiB pages covering guest memory, except the first 2 MiB, which use
	// 4 KiB pages so that the null page is absent, the host's pages are
	// supervisor-only and the boot info and entry stub read-only; and the
	// guard gap below the stack, which is absent.
	const table = ptePresent | pteWritable | pteUser | pteAccessed
	le.PutUint64(mem[pml4Addr:], pdptAddr|table)
	le.PutUint64(mem[pdptAddr:], pdAddr|table)
	le.PutUint64(mem[pdAddr:], ptAddr|table)
	for a := uint64(pageSize); a < imageBase; a += pageSize {
		e := a | ptePresent | pteAccessed | pteDirty
		switch {
		case a == bootAddr, a == entryAddr:
			e |= pteUser
		case a >= hostEnd && a < istPage:
			e |= pteUser | pteWritable
		case a == istPage:
			e |= pteWritable
		}
		le.PutUint64(mem[ptAddr+a/pageSize*8:], e)
	}
	for a := uint64(imageBase); a < l.memSize; a += hugePage {
		if a >= l.heapEnd && a < l.heapEnd+guardSize {
			continue
		}
		le.PutUint64(mem[pdAddr+a/hugePage*8:], a|ptePresent|pteWritable|pteUser|pteAccessed|pteDirty|pteHuge)
	}
}

// tssDescriptorLow is the low half of a 64-bit TSS descriptor (type 0xB,
// busy, present); the high half holds base bits 32–63, zero here.
func tssDescriptorLow(base, limit uint64) uint64 {
	return limit&0xFFFF | (base&0xFFFFFF)<<16 | uint64(0x8B)<<40 | (limit>>16&0xF)<<48 | (base>>24&0xFF)<<56
}

// Segment selectors of the host's GDT.
const (
	selKernelCode = 0x08
	selUserData   = 0x18 | 3
	selUserCode   = 0x20 | 3
	selTSS        = 0x28
)

// rflagsGuest is the guest's RFLAGS: interrupts off, I/O privilege level
// 0 (the TSS I/O bitmap is what lets its OUTs through).
const rflagsGuest = 1 << 1

// Control register and EFER bits the host sets for 64-bit mode.
const (
	cr0PE = 1 << 0
	cr0MP = 1 << 1
	cr0ET = 1 << 4
	cr0NE = 1 << 5
	cr0WP = 1 << 16
	cr0PG = 1 << 31

	cr4PAE        = 1 << 5
	cr4OSFXSR     = 1 << 9
	cr4OSXMMEXCPT = 1 << 10

	eferLME = 1 << 8
	eferLMA = 1 << 10
)

// userModeSregs returns base (a fresh vCPU's sregs) set up for flat 64-bit
// user mode (CPL 3) with this package's descriptor and page tables. The
// guest runs in user mode so that it cannot touch control, debug or model-
// specific registers, descriptor tables or page tables; and because some
// KVM hosts (PVM) emulate ring-0 guest code instruction by instruction
// while running user mode natively.
func userModeSregs(base kvm.Sregs) kvm.Sregs {
	s := base
	code := kvm.Segment{Limit: 0xFFFFFFFF, Selector: selUserCode, Type: 11, Present: 1, DPL: 3, S: 1, L: 1, G: 1}
	data := kvm.Segment{Limit: 0xFFFFFFFF, Selector: selUserData, Type: 3, Present: 1, DPL: 3, S: 1, DB: 1, G: 1}
	s.CS = code
	s.DS, s.ES, s.FS, s.GS, s.SS = data, data, data, data, data
	s.TR = kvm.Segment{Base: tssAddr, Limit: tssLimit, Selector: selTSS, Type: 11, Present: 1}
	s.LDT = kvm.Segment{Unusable: 1}
	s.GDT = kvm.DTable{Base: gdtAddr, Limit: 0x37}
	s.IDT = kvm.DTable{Base: idtAddr, Limit: 0xFFF}
	s.CR0 = cr0PE | cr0MP | cr0ET | cr0NE | cr0WP | cr0PG
	s.CR2 = 0
	s.CR3 = pml4Addr
	s.CR4 = cr4PAE | cr4OSFXSR | cr4OSXMMEXCPT
	s.CR8 = 0
	s.EFER = eferLME | eferLMA
	s.InterruptBitmap = [4]uint64{}
	return s
}

// guestCPUID narrows the host's supported CPUID to what a guest function
// gets: no XSAVE/AVX state (so KVM_SET_FPU-free resets cover all vector
// state through FXRSTOR), no leaf-7 extensions (FSGSBASE, SMEP, ...), no
// KVM paravirtual leaves, no MONITOR, VMX, x2APIC or TSC deadline.
func guestCPUID(supported []kvm.CPUIDEntry) []kvm.CPUIDEntry {
	out := make([]kvm.CPUIDEntry, 0, len(supported))
	for _, e := range supported {
		switch {
		case e.Function >= 0x40000000 && e.Function < 0x40000100, e.Function == 0xD:
			continue
		case e.Function == 1:
			const (
				monitor  = 1 << 3
				vmx      = 1 << 5
				smx      = 1 << 6
				fma      = 1 << 12
				x2apic   = 1 << 21
				deadline = 1 << 24
				xsave    = 1 << 26
				osxsave  = 1 << 27
				avx      = 1 << 28
				f16c     = 1 << 29
			)
			e.ECX &^= monitor | vmx | smx | fma | x2apic | deadline | xsave | osxsave | avx | f16c
		case e.Function == 7:
			e.EAX, e.EBX, e.ECX, e.EDX = 0, 0, 0, 0
		case e.Function == 0x80000001:
			e.ECX &^= 1 << 2 // SVM
		}
		out = append(out, e)
	}
	return out
}
