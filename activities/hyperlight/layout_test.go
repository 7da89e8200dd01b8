//go:build linux && amd64

package hyperlight

import (
	"encoding/binary"
	"github.com/tars-engine/tars/activities"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities/hyperlight/kvm"
)

// The C header is the other half of the ABI; its numbers must match.
func TestSDKHeaderMatchesABI(t *testing.T) {
	src, err := os.ReadFile("guests/sdk/tars_guest.h")
	require.NoError(t, err)
	defines := map[string]uint64{}
	for _, m := range regexp.MustCompile(`(?m)^#define (TARS_\w+)\s+\(?(0x[0-9A-Fa-f]+|\d+)(?:UL|ULL)?\)?`).FindAllStringSubmatch(string(src), -1) {
		v, err := strconv.ParseUint(m[2], 0, 64)
		require.NoError(t, err, m[0])
		defines[m[1]] = v
	}
	want := map[string]uint64{
		"TARS_PORT_READY": portReady, "TARS_PORT_RESULT": portResult, "TARS_PORT_LOG": portLog,
		"TARS_PORT_ABORT": portAbort, "TARS_PORT_HOSTCALL": portHostCall, "TARS_PORT_FAULT": portFault,
		"TARS_BOOT_ADDR": bootAddr, "TARS_CALL_ADDR": callAddr, "TARS_INPUT_ADDR": inputAddr,
		"TARS_BOOT_MAGIC": bootMagic, "TARS_ABI_VERSION": abiVersion,
	}
	for name, v := range want {
		assert.Equal(t, v, defines[name], name)
	}
}

func TestHostAreaAndPageTables(t *testing.T) {
	l := newLayout(64 << 20)
	l.heapStart, l.rwStart = imageBase+0x3000, imageBase+0x2000
	big := make([]byte, l.memSize)
	writeHostArea(big, &l)
	le := binary.LittleEndian

	pte := func(addr uint64) uint64 { return le.Uint64(big[ptAddr+addr/pageSize*8:]) }
	assert.Zero(t, pte(0), "the null page is absent")
	assert.Equal(t, uint64(ptePresent), pte(gdtAddr)&(ptePresent|pteUser|pteWritable), "GDT: supervisor, read-only")
	assert.Equal(t, uint64(ptePresent), pte(ptAddr)&(ptePresent|pteUser|pteWritable), "page tables: supervisor, read-only")
	assert.Equal(t, uint64(ptePresent|pteUser), pte(bootAddr)&(ptePresent|pteUser|pteWritable), "boot info: user, read-only")
	assert.Equal(t, uint64(ptePresent|pteUser), pte(entryAddr)&(ptePresent|pteUser|pteWritable), "entry stub: user, read-only")
	assert.Equal(t, uint64(ptePresent|pteUser|pteWritable), pte(inputAddr)&(ptePresent|pteUser|pteWritable), "input: user, writable")
	assert.Equal(t, uint64(ptePresent|pteWritable), pte(istPage)&(ptePresent|pteUser|pteWritable), "exception stack: supervisor")
	for a := uint64(pageSize); a < imageBase; a += pageSize {
		if e := pte(a); e != 0 {
			assert.Equal(t, uint64(pteAccessed|pteDirty), e&(pteAccessed|pteDirty), "A/D preset at %#x", a)
		}
	}
	pde := func(addr uint64) uint64 { return le.Uint64(big[pdAddr+addr/hugePage*8:]) }
	assert.NotZero(t, pde(imageBase)&pteUser)
	assert.Zero(t, pde(l.heapEnd), "guard gap below the stack is absent")
	assert.NotZero(t, pde(l.memSize-hugePage)&ptePresent, "stack is mapped")

	assert.Equal(t, uint64(bootMagic), le.Uint64(big[bootAddr+bootMagicOff:]))
	assert.Equal(t, l.heapStart, le.Uint64(big[bootAddr+bootHeapStartOff:]))
	assert.Equal(t, uint64(istTop), le.Uint64(big[tssAddr+0x24:]), "IST1")
	assert.Equal(t, byte(0xFF), big[tssAddr+tssLimit], "I/O bitmap terminator")

	// The TSS descriptor decodes back to its base, limit and type.
	d := le.Uint64(big[gdtAddr+selTSS:])
	assert.Equal(t, uint64(tssAddr), (d>>16)&0xFFFFFF|((d>>56)&0xFF)<<24)
	assert.Equal(t, uint64(tssLimit), d&0xFFFF|((d>>48)&0xF)<<16)
	assert.Equal(t, uint64(0x8B), (d>>40)&0xFF)
}

func TestLayoutRegions(t *testing.T) {
	l := newLayout(64 << 20)
	l.rwStart = imageBase + 0x2000
	rs := l.regions()
	require.Len(t, rs, 4)
	assert.Equal(t, region{0, hostEnd, false}, rs[0])
	assert.Equal(t, region{hostEnd, imageBase, true}, rs[1])
	assert.Equal(t, region{imageBase, l.rwStart, false}, rs[2])
	assert.Equal(t, region{l.rwStart, l.memSize, true}, rs[3])

	assert.True(t, l.writable(inputAddr, 16))
	assert.False(t, l.writable(istPage, 8), "the exception stack is not the guest's to hand to the host")
	assert.False(t, l.writable(imageBase, 8), "read-only image")
	assert.True(t, l.writable(l.memSize-8, 8))
	assert.False(t, l.writable(l.memSize-8, 16))
	assert.False(t, l.writable(^uint64(0)-4, 8), "overflow")
	assert.True(t, l.inRAM(0, l.memSize))
	assert.False(t, l.inRAM(1, l.memSize))

	l.rwStart = imageBase
	assert.Len(t, l.regions(), 3, "no read-only image segment")
}

func TestUserModeSregs(t *testing.T) {
	s := userModeSregs(kvm.Sregs{APICBase: 0xFEE00900})
	assert.Equal(t, uint8(3), s.CS.DPL)
	assert.Equal(t, uint8(1), s.CS.L)
	assert.Equal(t, uint16(selUserCode), s.CS.Selector)
	assert.Equal(t, uint8(3), s.SS.DPL)
	assert.Equal(t, uint64(pml4Addr), s.CR3)
	assert.Equal(t, uint64(eferLME|eferLMA), s.EFER)
	assert.Equal(t, uint64(0xFEE00900), s.APICBase, "kept from the fresh vCPU")
	assert.Zero(t, rflagsGuest&(3<<12), "IOPL 0: the I/O bitmap lets OUTs through, not IOPL")
}

func TestGuestCPUID(t *testing.T) {
	in := []kvm.CPUIDEntry{
		{Function: 0, EAX: 0xD},
		{Function: 1, ECX: 1<<26 | 1<<27 | 1<<28 | 1<<0, EDX: 1 << 25},
		{Function: 7, EBX: 0xFFFFFFFF},
		{Function: 0xD, EAX: 7},
		{Function: 0x40000000, EAX: 0x40000001},
		{Function: 0x40000001, EAX: 0xFFFF},
	}
	out := guestCPUID(in)
	require.Len(t, out, 3)
	assert.Equal(t, uint32(1), out[1].ECX, "XSAVE, OSXSAVE and AVX removed; SSE3 kept")
	assert.Equal(t, uint32(1<<25), out[1].EDX, "SSE kept")
	assert.Zero(t, out[2].EBX, "no leaf-7 extensions")
}

func TestLoadELFRejects(t *testing.T) {
	l := newLayout(64 << 20)
	mem := make([]byte, 4<<20)
	err := loadELF([]byte("not an elf"), mem, &l)
	assert.ErrorContains(t, err, "not an ELF")

	data, err := os.ReadFile("guests/bin/sha256.elf")
	require.NoError(t, err)
	big := make([]byte, l.memSize)
	require.NoError(t, loadELF(data, big, &l))
	assert.Equal(t, uint64(imageBase), l.entry)
	assert.Greater(t, l.rwStart, uint64(imageBase))
	assert.GreaterOrEqual(t, l.heapStart, l.rwStart)

	small := newLayout(8 << 20)
	small.heapEnd = imageBase + 0x1000 // too small for the image
	assert.ErrorContains(t, loadELF(data, big, &small), "outside the image area")

	bad := append([]byte(nil), data...)
	binary.LittleEndian.PutUint16(bad[18:], 0xB7) // e_machine = AArch64
	assert.ErrorContains(t, loadELF(bad, big, &l), "x86-64")
}

func TestLogBuffer(t *testing.T) {
	var l logBuffer
	l.add([]byte("one"), 10)
	l.add([]byte("two\n"), 10)
	assert.Equal(t, "one\ntwo\n", l.String())
	l.add([]byte("three"), 10)
	assert.Equal(t, "one\ntwo\nth\n[log truncated by the host: MaxLogBytes]", l.String())
	l.add([]byte("four"), 10)
	assert.Equal(t, "one\ntwo\nth\n[log truncated by the host: MaxLogBytes]", l.String())
}

func TestOutputJSON(t *testing.T) {
	assert.Equal(t, `null`, string(outputJSON(nil)))
	assert.Equal(t, `{"a":1}`, string(outputJSON([]byte(`{"a":1}`))))
	assert.Equal(t, `"plain text"`, string(outputJSON([]byte(`plain text`))))
}

func TestDescribeException(t *testing.T) {
	l := newLayout(64 << 20)
	assert.Equal(t, "#PF page fault reading 0x8: a null pointer", describeException(&l, 14, 0, 8, 0))
	assert.Contains(t, describeException(&l, 14, 2, l.heapEnd+8, 0), "writing")
	assert.Contains(t, describeException(&l, 14, 2, l.heapEnd+8, 0), "stack overflow")
	assert.Contains(t, describeException(&l, 14, 0, 1<<40, 0), "outside guest memory (64 MiB)")
	assert.Contains(t, describeException(&l, 14, 3, imageBase, 0), "read-only page")
	assert.Contains(t, describeException(&l, 14, 16, 0x1000, 0), "executing")
	assert.Equal(t, "#UD invalid opcode", describeException(&l, 6, 0, 0, 0))
	assert.Contains(t, describeException(&l, 13, 0, 0, 0), "#GP")
	assert.Equal(t, "interrupt 99", describeException(&l, 99, 0, 0, 0))
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	assert.Equal(t, 64, c.DefaultMemoryMiB)
	assert.Equal(t, 1024, c.MaxMemoryMiB)
	assert.Equal(t, 1<<20, c.MaxOutputBytes)
	assert.Equal(t, 64<<10, c.MaxLogBytes)
	assert.Positive(t, c.VMBudget)

	assert.Equal(t, 16, memoryMiB(15))
	assert.Equal(t, 16, memoryMiB(16))
	assert.Equal(t, 8, Config{DefaultMemoryMiB: 2}.withDefaults().DefaultMemoryMiB)

	// A worker's memory ceiling below the default lowers the default.
	c = Config{MaxMemoryMiB: 32}.withDefaults()
	assert.Equal(t, []int{32, 32}, []int{c.DefaultMemoryMiB, c.MaxMemoryMiB})
	c = Config{MaxMemoryMiB: 4}.withDefaults()
	assert.Equal(t, []int{8, 8}, []int{c.DefaultMemoryMiB, c.MaxMemoryMiB}, "a guest needs 8 MiB")
}

func TestSameDigest(t *testing.T) {
	assert.True(t, activities.SameDigest("SHA256:ABCD", "abcd"))
	assert.True(t, activities.SameDigest("abcd", "abcd"))
	assert.False(t, activities.SameDigest("abce", "abcd"))
}
