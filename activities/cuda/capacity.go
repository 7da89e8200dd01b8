package cuda

// DefaultSlotBytes is the device memory one call may use when
// Config.SlotBytes is 0: 1 GiB holds a 1M x 256 float32 matrix for
// vector.topk, or three 16k x 16k matrices for matmul.
const DefaultSlotBytes = 1 << 30

// DefaultMaxSlotsPerGPU is the most calls one GPU runs at once when
// Config.MaxSlotsPerGPU is 0. Calls on one GPU share its default stream, so
// their kernels and copies run one after another; more than a few slots only
// lets more calls prepare on the host (decode, pack, select) while one runs.
const DefaultMaxSlotsPerGPU = 4

// headroom is the share of free memory slots may reserve. The rest is left
// for the driver's own allocations (JIT, launch buffers) and other tenants'
// growth.
const headroom = 0.9

// slotsFor returns how many calls a GPU with free bytes of free memory runs
// at once:
//
//	slots = min(maxSlots, floor(0.9 * free / slotBytes))
//
// so that every running call can hold a full slot of device memory at once.
// A GPU with less than slotBytes/0.9 free gets no slot and is not used.
func slotsFor(free, slotBytes uint64, maxSlots int) int {
	if slotBytes == 0 || maxSlots <= 0 {
		return 0
	}
	n := uint64(float64(free) * headroom / float64(slotBytes))
	return int(min(n, uint64(maxSlots)))
}

// mib converts bytes to MiB for messages.
func mib(b uint64) float64 { return float64(b) / (1 << 20) }
