//go:build windows

package env

import (
	"fmt"
	"syscall"

	"github.com/ebitengine/purego"
)

// cudaDriverVersion loads nvcuda.dll as the cuda pool does (purego, no cgo)
// and returns cuDriverGetVersion. It does not call cuInit.
func cudaDriverVersion() (int, error) {
	lib, err := syscall.LoadLibrary("nvcuda.dll")
	if err != nil {
		return 0, fmt.Errorf("nvcuda.dll does not load (is the NVIDIA driver installed?): %v", err)
	}
	sym, err := syscall.GetProcAddress(lib, "cuDriverGetVersion")
	if err != nil {
		return 0, fmt.Errorf("nvcuda.dll has no cuDriverGetVersion: %v", err)
	}
	var getVersion func(*int32) int32
	purego.RegisterFunc(&getVersion, sym)
	var v int32
	if code := getVersion(&v); code != 0 {
		return 0, fmt.Errorf("cuDriverGetVersion: CUresult %d", code)
	}
	return int(v), nil
}
