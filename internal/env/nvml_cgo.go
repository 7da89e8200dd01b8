//go:build linux && cgo

package env

import (
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// nvmlProbe asks NVML for the driver, CUDA version and GPUs. go-nvml dlopens
// libnvidia-ml.so.1 in Init (it is not linked at build time), so a machine
// without the driver gets ERROR_LIBRARY_NOT_FOUND, not a failed start.
func nvmlProbe() (GPUInfo, error) {
	lib := nvml.New()
	switch ret := lib.Init(); ret {
	case nvml.SUCCESS:
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return GPUInfo{}, ErrNoNVML
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return GPUInfo{}, fmt.Errorf("NVIDIA driver not loaded: libnvidia-ml.so.1 is installed but the kernel module is not (nvmlInit: %v)", ret)
	case nvml.ERROR_LIB_RM_VERSION_MISMATCH:
		return GPUInfo{}, fmt.Errorf("NVIDIA driver mismatch: libnvidia-ml.so.1 and the kernel module are different versions; reboot or reload the module (nvmlInit: %v)", ret)
	default:
		return GPUInfo{}, fmt.Errorf("nvmlInit: %v", ret)
	}
	defer lib.Shutdown()

	var g GPUInfo
	if v, ret := lib.SystemGetDriverVersion(); ret == nvml.SUCCESS {
		g.Driver = v
	}
	if v, ret := lib.SystemGetCudaDriverVersion(); ret == nvml.SUCCESS {
		g.CUDAVersion = cudaVersionString(v)
	}
	n, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return g, fmt.Errorf("nvmlDeviceGetCount: %v", ret)
	}
	for i := range n {
		dev, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return g, fmt.Errorf("nvmlDeviceGetHandleByIndex(%d): %v", i, ret)
		}
		d := GPU{Index: i}
		d.Name, _ = dev.GetName()
		d.UUID, _ = dev.GetUUID()
		if mem, ret := dev.GetMemoryInfo(); ret == nvml.SUCCESS {
			d.MemoryTotal, d.MemoryFree = mem.Total, mem.Free
		}
		g.Devices = append(g.Devices, d)
	}
	return g, nil
}
