package env

import (
	"errors"
	"os"
	"runtime"
)

// Probes are Detect's inputs. RealProbes reads the machine; tests set only
// the fields a case needs: a nil function reads as "nothing there" (a file
// that does not exist, an unset variable, a probe that finds nothing).
type Probes struct {
	// GOOS and GOARCH are the platform the binary runs on.
	GOOS, GOARCH string
	// ReadFile reads a file, e.g. /proc/meminfo (os.ReadFile).
	ReadFile func(name string) ([]byte, error)
	// Stat stats a path, e.g. /.dockerenv (os.Stat).
	Stat func(name string) (os.FileInfo, error)
	// Getenv reads an environment variable (os.Getenv).
	Getenv func(key string) string
	// Hostname returns the host name (os.Hostname).
	Hostname func() (string, error)
	// NumCPU returns the CPUs this process may use (runtime.NumCPU).
	NumCPU func() int
	// KVMAPIVersion opens /dev/kvm, returns its API version and, if it is
	// 12, proves a VM can be created. Errors satisfy errors.Is with
	// fs.ErrNotExist when the device is absent and fs.ErrPermission when
	// it cannot be opened.
	KVMAPIVersion func() (int, error)
	// NVML asks NVML for the driver version and the GPUs. It returns an
	// error wrapping ErrNoNVML when libnvidia-ml.so.1 cannot be loaded.
	NVML func() (GPUInfo, error)
	// CUDADriver loads libcuda.so.1 and returns cuDriverGetVersion, e.g.
	// 13000 for CUDA 13.0. It does not call cuInit, which is slow (BENCHMARKS.md).
	CUDADriver func() (int, error)
	// WASMCompiler compiles and runs a tiny module with wazero's compiler;
	// nil error means the compiler works here.
	WASMCompiler func() error
	// Built reports whether this binary includes a pool's runtime (the
	// pool packages' Built constants). Unlike the other probes, nil reads
	// as "every pool built".
	Built func(pool string) bool
}

// ErrNoNVML is wrapped by the NVML probe's error when the NVIDIA management
// library cannot be loaded: no NVIDIA driver is installed.
var ErrNoNVML = errors.New("no NVIDIA driver: libnvidia-ml.so.1 not found")

// RealProbes returns probes that read this machine.
func RealProbes() Probes {
	return Probes{
		GOOS:          runtime.GOOS,
		GOARCH:        runtime.GOARCH,
		ReadFile:      os.ReadFile,
		Stat:          os.Stat,
		Getenv:        os.Getenv,
		Hostname:      os.Hostname,
		NumCPU:        runtime.NumCPU,
		KVMAPIVersion: kvmAPIVersion,
		NVML:          nvmlProbe,
		CUDADriver:    cudaDriverVersion,
		WASMCompiler:  wasmCompiler,
		Built:         poolBuilt,
	}
}

// The nil-safe accessors Detect uses.

func (p Probes) readFile(name string) ([]byte, error) {
	if p.ReadFile == nil {
		return nil, os.ErrNotExist
	}
	return p.ReadFile(name)
}

func (p Probes) built(pool string) bool {
	return p.Built == nil || p.Built(pool)
}

func (p Probes) exists(name string) bool {
	if p.Stat == nil {
		return false
	}
	_, err := p.Stat(name)
	return err == nil
}

func (p Probes) getenv(key string) string {
	if p.Getenv == nil {
		return ""
	}
	return p.Getenv(key)
}
