//go:build linux && amd64

package hyperlight

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
)

// loadELF checks that data is a freestanding x86-64 executable that fits
// the guest layout, copies its PT_LOAD segments into mem (guest physical
// memory, already zero) and fills l.entry, l.rwStart and l.heapStart.
func loadELF(data []byte, mem []byte, l *layout) (err error) {
	defer func() {
		// debug/elf has panicked on hostile input before; a guest file is
		// input, so turn any panic into a load error.
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed ELF: %v", p)
		}
	}()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not an ELF file: %w", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("want a 64-bit x86-64 ELF, got %v %v", f.Class, f.Machine)
	}
	if f.Type != elf.ET_EXEC {
		return fmt.Errorf("want a static executable (ET_EXEC, linked at %#x with guests/sdk/guest.ld), got %v", imageBase, f.Type)
	}
	limit := l.heapEnd
	var lowW, high uint64 = ^uint64(0), imageBase
	entryOK := false
	loads := 0
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
		case elf.PT_INTERP, elf.PT_DYNAMIC, elf.PT_TLS:
			return fmt.Errorf("segment %v is not supported: guests are static, freestanding and single-threaded", p.Type)
		default:
			continue
		}
		if p.Memsz == 0 {
			continue
		}
		loads++
		end := p.Vaddr + p.Memsz
		if p.Vaddr < imageBase || end < p.Vaddr || end > limit || p.Filesz > p.Memsz {
			return fmt.Errorf("segment at %#x+%#x lies outside the image area [%#x, %#x) of a %d MiB guest",
				p.Vaddr, p.Memsz, imageBase, limit, l.memSize>>20)
		}
		if p.Filesz > 0 {
			n, err := p.ReadAt(mem[p.Vaddr:p.Vaddr+p.Filesz], 0)
			if err != nil && uint64(n) != p.Filesz {
				return fmt.Errorf("reading segment at %#x: %w", p.Vaddr, err)
			}
		}
		if p.Flags&elf.PF_W != 0 && p.Vaddr < lowW {
			lowW = p.Vaddr
		}
		if p.Flags&elf.PF_X != 0 && f.Entry >= p.Vaddr && f.Entry < end {
			entryOK = true
		}
		high = max(high, end)
	}
	if loads == 0 {
		return errors.New("no loadable segments")
	}
	if !entryOK {
		return fmt.Errorf("entry point %#x is not inside an executable segment", f.Entry)
	}
	l.entry = f.Entry
	// Everything from the first writable page on is writable, and reset
	// after every call; read-only segments above it are merely unprotected.
	l.rwStart = alignUp(high, pageSize)
	if lowW != ^uint64(0) {
		l.rwStart = lowW &^ (pageSize - 1)
	}
	l.heapStart = alignUp(high, pageSize)
	return nil
}

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }
