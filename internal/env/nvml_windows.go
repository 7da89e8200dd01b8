//go:build windows

package env

import "errors"

// nvmlProbe is not built for Windows: NVML is queried through go-nvml,
// which needs cgo on Linux. The cuda pool itself loads nvcuda.dll; start it
// by name (tars worker --pools cuda) where the driver is installed.
func nvmlProbe() (GPUInfo, error) {
	return GPUInfo{}, errors.New("GPU detection through NVML is not built for Windows: start the cuda pool by name (--pools cuda) where the NVIDIA driver is installed")
}
