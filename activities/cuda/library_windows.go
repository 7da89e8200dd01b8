//go:build windows

package cuda

import "syscall"

// DefaultLibrary is the CUDA driver library New loads when Config.Library is
// empty: the NVIDIA driver installs nvcuda.dll in System32; the CUDA toolkit
// is not needed. purego calls its functions as on Linux.
const DefaultLibrary = "nvcuda.dll"

func openLibrary(path string) (uintptr, error) {
	h, err := syscall.LoadLibrary(path)
	return uintptr(h), err
}

func librarySymbol(lib uintptr, name string) (uintptr, error) {
	return syscall.GetProcAddress(syscall.Handle(lib), name)
}
