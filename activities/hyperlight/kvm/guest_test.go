//go:build linux && amd64

package kvm

import (
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// longModeVM builds a 2 MiB guest identity-mapped with one 2 MiB page,
// places code at 0x10000 and puts the vCPU in 64-bit mode there.
func longModeVM(t *testing.T, code []byte) (*VCPU, []byte) {
	t.Helper()
	if err := Check(); err != nil {
		t.Skipf("KVM unusable here: %v", err)
	}
	sys, err := Open()
	require.NoError(t, err)
	t.Cleanup(func() { sys.Close() })
	vm, err := sys.CreateVM()
	require.NoError(t, err)
	t.Cleanup(func() { vm.Close() })

	const size = 2 << 20
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Munmap(mem) })
	require.NoError(t, vm.SetUserMemoryRegion(MemoryRegion{
		MemorySize: size, UserspaceAddr: uint64(uintptr(unsafePointer(mem))),
	}))

	binary.LittleEndian.PutUint64(mem[0x1000:], 0x2000|3) // PML4[0] -> PDPT
	binary.LittleEndian.PutUint64(mem[0x2000:], 0x3000|3) // PDPT[0] -> PD
	binary.LittleEndian.PutUint64(mem[0x3000:], 0|0x80|3) // PD[0]: 2 MiB page at 0
	copy(mem[0x10000:], code)

	cpu, err := vm.CreateVCPU(0)
	require.NoError(t, err)
	t.Cleanup(func() { cpu.Close() })
	ids, err := sys.SupportedCPUID()
	require.NoError(t, err)
	require.NoError(t, cpu.SetCPUID(ids))

	var s Sregs
	require.NoError(t, cpu.GetSregs(&s))
	code64 := Segment{Limit: 0xFFFFFFFF, Selector: 8, Type: 11, Present: 1, S: 1, L: 1, G: 1}
	data := Segment{Limit: 0xFFFFFFFF, Selector: 16, Type: 3, Present: 1, S: 1, DB: 1, G: 1}
	s.CS, s.DS, s.ES, s.FS, s.GS, s.SS = code64, data, data, data, data, data
	s.CR3 = 0x1000
	s.CR4 = 1 << 5                         // PAE
	s.CR0 = 1 | 1<<1 | 1<<4 | 1<<5 | 1<<31 // PE MP ET NE PG
	s.EFER = 1<<8 | 1<<10                  // LME LMA
	require.NoError(t, cpu.SetSregs(&s))
	require.NoError(t, cpu.SetRegs(&Regs{RIP: 0x10000, RSP: 0x200000, RFLAGS: 2}))
	return cpu, mem
}

func TestLongModeGuestOutAndHalt(t *testing.T) {
	// mov edx, 0x5a00; mov eax, 42; out dx, eax; hlt
	cpu, _ := longModeVM(t, []byte{0xBA, 0x00, 0x5A, 0, 0, 0xB8, 42, 0, 0, 0, 0xEF, 0xF4})
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	require.NoError(t, cpu.Run())
	require.Equal(t, uint32(ExitIO), cpu.ExitReason(), ExitName(cpu.ExitReason()))
	io := cpu.IO()
	assert.Equal(t, uint16(0x5A00), io.Port)
	assert.Equal(t, uint8(IOOut), io.Direction)
	assert.Equal(t, uint32(42), binary.LittleEndian.Uint32(io.Data))

	require.NoError(t, cpu.Run())
	require.Equal(t, uint32(ExitHLT), cpu.ExitReason(), ExitName(cpu.ExitReason()))
	var r Regs
	require.NoError(t, cpu.GetRegs(&r))
	assert.Equal(t, uint64(0x1000c), r.RIP)
}

func TestInterruptStopsSpinningGuest(t *testing.T) {
	cpu, _ := longModeVM(t, []byte{0xEB, 0xFE}) // jmp .
	tids := make(chan int, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tids <- unix.Gettid()
		for {
			err := cpu.Run()
			if errors.Is(err, unix.EINTR) && !immediateExitSet(cpu) {
				continue // a Go runtime preemption signal, not our kick
			}
			done <- err
			return
		}
	}()
	tid := <-tids
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	require.NoError(t, cpu.Interrupt(tid, unix.SIGURG))
	select {
	case err := <-done:
		assert.ErrorIs(t, err, unix.EINTR)
		assert.Less(t, time.Since(start), time.Second, "the kick should take microseconds; a second allows for a loaded machine")
	case <-time.After(5 * time.Second):
		t.Fatal("vCPU was not kicked out of the guest")
	}
}

func immediateExitSet(c *VCPU) bool { return c.run[runImmediateExit] != 0 }

// A ring-0 guest with no usable IDT triple-faults on its first exception.
// VT-x and AMD-V report KVM_EXIT_SHUTDOWN; PVM reports an internal error.
func TestTripleFaultEndsTheRun(t *testing.T) {
	// lidt [0x20000] (an all-zero 10-byte descriptor: limit 0); int3
	cpu, _ := longModeVM(t, []byte{0x0F, 0x01, 0x1C, 0x25, 0x00, 0x00, 0x02, 0x00, 0xCC})
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	require.NoError(t, cpu.Run())
	assert.Contains(t, []uint32{ExitShutdown, ExitInternalError}, cpu.ExitReason(), ExitName(cpu.ExitReason()))
}
