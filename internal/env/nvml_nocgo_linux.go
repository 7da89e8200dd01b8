//go:build linux && !cgo

package env

import (
	"errors"

	"github.com/ebitengine/purego"
)

// nvmlProbe cannot use go-nvml, which needs cgo. It still tells a machine
// without the NVIDIA driver from one whose driver this binary cannot query.
func nvmlProbe() (GPUInfo, error) {
	lib, err := purego.Dlopen("libnvidia-ml.so.1", purego.RTLD_LAZY|purego.RTLD_LOCAL)
	if err != nil {
		return GPUInfo{}, ErrNoNVML
	}
	purego.Dlclose(lib)
	return GPUInfo{}, errors.New("the NVIDIA driver is installed but this tars binary was built with CGO_ENABLED=0, so it cannot ask NVML about GPUs: rebuild it with cgo")
}
