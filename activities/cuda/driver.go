//go:build linux || windows

package cuda

import (
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// CUresult values this package acts on (cuda.h).
const (
	cudaSuccess       = 0
	cudaErrorNoDevice = 100
)

// sticky reports whether a CUresult leaves the context unusable: after one of
// these every later call in the context fails, so the GPU is taken out of
// service until the worker restarts.
func sticky(code int32) bool {
	switch code {
	case 214, // CUDA_ERROR_ECC_UNCORRECTABLE
		700,                               // CUDA_ERROR_ILLEGAL_ADDRESS
		702,                               // CUDA_ERROR_LAUNCH_TIMEOUT
		714, 715, 716, 717, 718, 719, 720: // hardware stack, illegal instruction, misaligned, address space, PC, launch failed, cooperative launch
		return true
	}
	return false
}

// Error is a failed CUDA driver call.
type Error struct {
	Call string // the driver function, e.g. "cuMemAlloc_v2"
	Code int32  // the CUresult
	Name string // e.g. "CUDA_ERROR_OUT_OF_MEMORY"
	Text string // the driver's description
	Log  string // the JIT error log, for cuModuleLoadDataEx
}

// Error says which call failed, the driver's description and name of the
// CUresult, and the JIT log when there is one.
func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s (%s)", e.Call, e.Text, e.Name)
	if e.Log != "" {
		s += ": " + e.Log
	}
	return s
}

// Sticky reports whether the error left the GPU's context unusable.
func (e *Error) Sticky() bool { return sticky(e.Code) }

// driver is the part of the CUDA driver API the pool uses, bound with purego.
// Handles (CUcontext, CUmodule, CUfunction) are uintptr; CUdeviceptr is
// uint64; CUresult is int32.
type driver struct {
	lib uintptr

	cuInit                    func(flags uint32) int32
	cuDriverGetVersion        func(version *int32) int32
	cuDeviceGetCount          func(count *int32) int32
	cuDeviceGet               func(dev *int32, ordinal int32) int32
	cuDeviceGetName           func(name *byte, size int32, dev int32) int32
	cuDeviceTotalMem          func(bytes *uint64, dev int32) int32
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) int32
	cuDevicePrimaryCtxRelease func(dev int32) int32
	cuCtxSetCurrent           func(ctx uintptr) int32
	cuCtxSynchronize          func() int32
	cuMemGetInfo              func(free, total *uint64) int32
	cuModuleLoadDataEx        func(mod *uintptr, image *byte, nopts uint32, opts *int32, vals *uintptr) int32
	cuModuleGetFunction       func(fn *uintptr, mod uintptr, name string) int32
	cuModuleUnload            func(mod uintptr) int32
	cuMemAlloc                func(dptr *uint64, size uint64) int32
	cuMemFree                 func(dptr uint64) int32
	cuMemcpyHtoD              func(dst uint64, src unsafe.Pointer, size uint64) int32
	cuMemcpyDtoH              func(dst unsafe.Pointer, src uint64, size uint64) int32
	cuLaunchKernel            func(fn uintptr, gx, gy, gz, bx, by, bz, sharedMem uint32, stream uintptr, params *unsafe.Pointer, extra *unsafe.Pointer) int32
	cuGetErrorString          func(code int32, s **byte) int32
	cuGetErrorName            func(code int32, s **byte) int32
}

// loadDriver opens the driver library and binds every function the pool
// uses. The library stays loaded for the life of the process: drivers do not
// support being unloaded while contexts exist.
func loadDriver(path string) (*driver, error) {
	lib, err := openLibrary(path)
	if err != nil {
		what := "could not be loaded"
		if strings.Contains(err.Error(), "No such file") {
			what = "not found"
		}
		return nil, fmt.Errorf("%w: %s %s (%v): install the NVIDIA driver or run the cuda pool on a GPU machine", ErrNoDriver, path, what, err)
	}
	d := &driver{lib: lib}
	syms := []struct {
		name string
		fn   any
	}{
		{"cuInit", &d.cuInit},
		{"cuDriverGetVersion", &d.cuDriverGetVersion},
		{"cuDeviceGetCount", &d.cuDeviceGetCount},
		{"cuDeviceGet", &d.cuDeviceGet},
		{"cuDeviceGetName", &d.cuDeviceGetName},
		{"cuDeviceTotalMem_v2", &d.cuDeviceTotalMem},
		{"cuDevicePrimaryCtxRetain", &d.cuDevicePrimaryCtxRetain},
		{"cuDevicePrimaryCtxRelease_v2", &d.cuDevicePrimaryCtxRelease},
		{"cuCtxSetCurrent", &d.cuCtxSetCurrent},
		{"cuCtxSynchronize", &d.cuCtxSynchronize},
		{"cuMemGetInfo_v2", &d.cuMemGetInfo},
		{"cuModuleLoadDataEx", &d.cuModuleLoadDataEx},
		{"cuModuleGetFunction", &d.cuModuleGetFunction},
		{"cuModuleUnload", &d.cuModuleUnload},
		{"cuMemAlloc_v2", &d.cuMemAlloc},
		{"cuMemFree_v2", &d.cuMemFree},
		{"cuMemcpyHtoD_v2", &d.cuMemcpyHtoD},
		{"cuMemcpyDtoH_v2", &d.cuMemcpyDtoH},
		{"cuLaunchKernel", &d.cuLaunchKernel},
		{"cuGetErrorString", &d.cuGetErrorString},
		{"cuGetErrorName", &d.cuGetErrorName},
	}
	for _, s := range syms {
		sym, err := librarySymbol(lib, s.name)
		if err != nil {
			return nil, fmt.Errorf("%w: %s has no %s: the driver is too old for this pool (it needs CUDA 11 or newer)", ErrNoDriver, path, s.name)
		}
		purego.RegisterFunc(s.fn, sym)
	}
	return d, nil
}

// check turns a CUresult into nil or an *Error naming the call.
func (d *driver) check(call string, code int32) error {
	if code == cudaSuccess {
		return nil
	}
	e := &Error{Call: call, Code: code, Name: fmt.Sprintf("CUresult %d", code), Text: "unknown error"}
	var s *byte
	if d.cuGetErrorName(code, &s) == cudaSuccess && s != nil {
		e.Name = cString(s)
	}
	s = nil
	if d.cuGetErrorString(code, &s) == cudaSuccess && s != nil {
		e.Text = cString(s)
	}
	return e
}

// version returns the CUDA version the driver supports, e.g. 13000 for 13.0.
func (d *driver) version() (int, error) {
	var v int32
	if err := d.check("cuDriverGetVersion", d.cuDriverGetVersion(&v)); err != nil {
		return 0, err
	}
	return int(v), nil
}

// JIT options of cuModuleLoadDataEx (CUjit_option in cuda.h).
const (
	jitErrorLogBuffer          = 5
	jitErrorLogBufferSizeBytes = 6
)

// loadModule JIT-compiles a PTX module in the current context. On failure the
// error carries the compiler's log, which names the offending PTX line.
func (d *driver) loadModule(ptx string) (uintptr, error) {
	image := append([]byte(ptx), 0)
	logBuf := make([]byte, 4096)
	opts := []int32{jitErrorLogBuffer, jitErrorLogBufferSizeBytes}
	// The option values are void*: a pointer for the buffer, the size itself
	// for the size. logBuf is pinned, so holding its address as a uintptr is safe.
	vals := []uintptr{uintptr(unsafe.Pointer(&logBuf[0])), uintptr(len(logBuf))}
	var pin runtime.Pinner
	pin.Pin(&image[0])
	pin.Pin(&logBuf[0])
	pin.Pin(&opts[0])
	pin.Pin(&vals[0])
	defer pin.Unpin()
	var mod uintptr
	code := d.cuModuleLoadDataEx(&mod, &image[0], uint32(len(opts)), &opts[0], &vals[0])
	if err := d.check("cuModuleLoadDataEx", code); err != nil {
		err.(*Error).Log = strings.TrimSpace(cString(&logBuf[0]))
		return 0, err
	}
	return mod, nil
}

// launch starts a kernel on the context's default stream. Each argument must
// be a uint64 (device pointer), uint32 or float32, matching the kernel's
// .param list; the driver copies the values before cuLaunchKernel returns.
func (d *driver) launch(fn uintptr, grid, block [3]uint32, args ...any) error {
	var pin runtime.Pinner
	defer pin.Unpin()
	params := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		var p unsafe.Pointer
		switch v := a.(type) {
		case uint64:
			p = unsafe.Pointer(&v)
		case uint32:
			p = unsafe.Pointer(&v)
		case float32:
			p = unsafe.Pointer(&v)
		default:
			panic(fmt.Sprintf("cuda: kernel argument %d has type %T", i, a))
		}
		pin.Pin(p)
		params[i] = p
	}
	pin.Pin(&params[0])
	return d.check("cuLaunchKernel", d.cuLaunchKernel(fn, grid[0], grid[1], grid[2], block[0], block[1], block[2], 0, 0, &params[0], nil))
}

// cString copies a NUL-terminated C string.
func cString(p *byte) string {
	if p == nil {
		return ""
	}
	var n int
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}
