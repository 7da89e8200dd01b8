package cuda

import (
	"errors"
	"log/slog"
	"time"
)

// Runtime is the runtime name the cuda pool serves; its task queue is
// tars.cuda by default.
const Runtime = "cuda"

// Config configures a Runner. The zero value uses every GPU with the defaults.
type Config struct {
	// Library is the CUDA driver library to load, a soname or a path.
	// Empty means DefaultLibrary.
	Library string
	// Devices are the CUDA ordinals to use. Empty means every device the
	// driver shows (CUDA_VISIBLE_DEVICES still applies).
	Devices []int
	// SlotBytes is the device memory one call may use; a call that needs
	// more fails with activities.ErrBadArgs. 0 means DefaultSlotBytes.
	SlotBytes uint64
	// MaxSlotsPerGPU caps the calls one GPU runs at once. 0 means
	// DefaultMaxSlotsPerGPU.
	MaxSlotsPerGPU int
	// Logger receives startup and device-failure messages. nil means
	// slog.Default().
	Logger *slog.Logger
}

// Startup holds how long New spent in each phase; contexts and modules are
// summed over the GPUs.
type Startup struct {
	Load    time.Duration // dlopen libcuda and bind the functions
	Init    time.Duration // cuInit
	Context time.Duration // retain each primary context
	Modules time.Duration // JIT-compile the PTX modules
	Driver  int           // CUDA version of the driver, e.g. 13000
}

// Stats describes one GPU call; Run reports it as metrics.
type Stats struct {
	Device    int           // CUDA ordinal of the GPU used (gpu.index)
	Kernel    time.Duration // launch to cuCtxSynchronize returning (gpu.kernel_us)
	Copy      time.Duration // host-device copies, both ways (gpu.copy_us)
	CopyBytes uint64        // bytes copied, both ways (gpu.copy_bytes)
}

// Device describes one GPU the runner uses.
type Device struct {
	Ordinal     int    `json:"ordinal"` // CUDA device ordinal (CUDA_VISIBLE_DEVICES applies)
	Name        string `json:"name"`
	MemoryTotal uint64 `json:"memory_total"`
	MemoryFree  uint64 `json:"memory_free"` // when New ran, after the context and modules were created
	Slots       int    `json:"slots"`       // calls it runs at once; see Capacity
}

// ErrNoDriver is wrapped by New's error when the CUDA driver library cannot be
// loaded or is too old.
var ErrNoDriver = errors.New("no CUDA driver")

// ErrNoDevice is wrapped by New's error when the driver loads but there is no
// GPU to use, and by call errors when every GPU has failed since.
var ErrNoDevice = errors.New("no CUDA device")
