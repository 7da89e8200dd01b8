//go:build linux && amd64

package kvm

import (
	"io/fs"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The sizes and offsets below are those of <linux/kvm.h> on x86-64; a
// mismatch would make the kernel read or write the wrong bytes.
func TestLayoutMatchesKernel(t *testing.T) {
	assert.EqualValues(t, 32, unsafe.Sizeof(MemoryRegion{}), "kvm_userspace_memory_region")
	assert.EqualValues(t, 144, unsafe.Sizeof(Regs{}), "kvm_regs")
	assert.EqualValues(t, 24, unsafe.Sizeof(Segment{}), "kvm_segment")
	assert.EqualValues(t, 16, unsafe.Sizeof(DTable{}), "kvm_dtable")
	assert.EqualValues(t, 312, unsafe.Sizeof(Sregs{}), "kvm_sregs")
	assert.EqualValues(t, 40, unsafe.Sizeof(CPUIDEntry{}), "kvm_cpuid_entry2")

	var s Sregs
	assert.EqualValues(t, 192, unsafe.Offsetof(s.GDT))
	assert.EqualValues(t, 224, unsafe.Offsetof(s.CR0))
	assert.EqualValues(t, 272, unsafe.Offsetof(s.APICBase))

	// Well-known request numbers, as printed by a C program against the headers.
	assert.EqualValues(t, 0xAE80, kvmRun)
	assert.EqualValues(t, 0x4020AE46, kvmSetUserMemoryRegion)
	assert.EqualValues(t, 0x8090AE81, kvmGetRegs)
	assert.EqualValues(t, 0x4138AE84, kvmSetSregs)
	assert.EqualValues(t, 0xC008AE05, kvmGetSupportedCPUID)
}

func TestCheckAndAPIVersion(t *testing.T) {
	if err := Check(); err != nil {
		t.Skipf("KVM unusable here: %v", err)
	}
	v, err := APIVersion()
	require.NoError(t, err)
	assert.Equal(t, WantAPIVersion, v)
}

func TestOpenErrorSaysWhatIsMissing(t *testing.T) {
	assert.ErrorContains(t, openError(unix.ENOENT), "/dev/kvm does not exist")
	assert.ErrorIs(t, openError(unix.ENOENT), fs.ErrNotExist)
	assert.ErrorContains(t, openError(unix.EACCES), "permission denied")
	assert.ErrorIs(t, openError(unix.EACCES), fs.ErrPermission)
	assert.ErrorContains(t, openError(unix.ENXIO), "opening /dev/kvm")
}
