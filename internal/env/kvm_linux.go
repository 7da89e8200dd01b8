//go:build linux

package env

import (
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
)

// ioctls from linux/kvm.h (KVMIO = 0xAE, no argument).
const (
	kvmGetAPIVersion = 0xAE00
	kvmCreateVM      = 0xAE01
)

// kvmAPIVersion opens /dev/kvm, asks its API version and, when it is 12,
// creates and destroys a VM: some kernels (nested virtualisation turned off,
// a container with the node but no access) expose a device that cannot run
// a guest. Costs about a millisecond.
func kvmAPIVersion() (int, error) {
	fd, err := unix.Open(KVMDevice, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		// unix.Errno matches fs.ErrNotExist (ENOENT) and fs.ErrPermission
		// (EACCES, EPERM) with errors.Is.
		return 0, &fs.PathError{Op: "open", Path: KVMDevice, Err: err}
	}
	defer unix.Close(fd)
	v, err := unix.IoctlRetInt(fd, kvmGetAPIVersion)
	if err != nil {
		return 0, fmt.Errorf("KVM_GET_API_VERSION: %w", err)
	}
	if v != kvmAPIVersion12 {
		return v, nil
	}
	vm, err := unix.IoctlRetInt(fd, kvmCreateVM)
	if err != nil {
		return v, fmt.Errorf("KVM_CREATE_VM: %w (is hardware or nested virtualisation enabled?)", err)
	}
	unix.Close(vm)
	return v, nil
}
