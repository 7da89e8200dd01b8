//go:build linux && amd64

package kvm

import (
	"errors"
	"fmt"
	"io/fs"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DevicePath is the KVM device node.
const DevicePath = "/dev/kvm"

// ErrAPIVersion reports a KVM whose API version is not WantAPIVersion.
var ErrAPIVersion = errors.New("kvm: unsupported API version")

// ErrMissingCap reports a KVM that lacks an extension the pool needs.
var ErrMissingCap = errors.New("kvm: missing extension")

// required lists the extensions a hyperlight VM cannot run without, with
// what each one is for.
var required = []struct {
	cap  int
	name string
	why  string
}{
	{CapUserMemory, "KVM_CAP_USER_MEMORY", "guest memory backed by host mappings"},
	{CapReadonlyMem, "KVM_CAP_READONLY_MEM", "read-only guest code and page tables"},
	{CapImmediateExit, "KVM_CAP_IMMEDIATE_EXIT", "stopping a guest at its deadline"},
	{CapExtCPUID, "KVM_CAP_EXT_CPUID", "giving the guest a CPUID model"},
}

// System is an open handle on /dev/kvm. It is safe for concurrent use.
type System struct {
	fd       int
	mmapSize int
}

// Open opens /dev/kvm, checks the API version and reads the size of the
// per-vCPU run area. It costs two syscalls; open one System per process.
func Open() (*System, error) {
	fd, err := unix.Open(DevicePath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, openError(err)
	}
	s := &System{fd: fd}
	v, err := ioctl(fd, kvmGetAPIVersion, 0)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("kvm: KVM_GET_API_VERSION on %s: %w", DevicePath, err)
	}
	if v != WantAPIVersion {
		s.Close()
		return nil, fmt.Errorf("%w: %s reports API version %d, want %d", ErrAPIVersion, DevicePath, v, WantAPIVersion)
	}
	n, err := ioctl(fd, kvmGetVCPUMmapSize, 0)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("kvm: KVM_GET_VCPU_MMAP_SIZE: %w", err)
	}
	s.mmapSize = int(n)
	return s, nil
}

func openError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("kvm: %s does not exist (no KVM module loaded, no hardware virtualisation, or a container started without --device %s): %w", DevicePath, DevicePath, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("kvm: permission denied opening %s read-write (add this user to the device's group, usually kvm): %w", DevicePath, err)
	}
	return fmt.Errorf("kvm: opening %s: %w", DevicePath, err)
}

// Close closes the /dev/kvm handle. VMs created from it stay valid.
func (s *System) Close() error {
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}

// CheckExtension returns KVM_CHECK_EXTENSION for cap: 0 when unsupported,
// otherwise a positive, capability-specific value.
func (s *System) CheckExtension(cap int) (int, error) {
	r, err := ioctl(s.fd, kvmCheckExtension, uintptr(cap))
	if err != nil {
		return 0, fmt.Errorf("kvm: KVM_CHECK_EXTENSION(%d): %w", cap, err)
	}
	return int(r), nil
}

// SupportedCPUID returns the CPUID leaves KVM can expose to a guest on this
// host (KVM_GET_SUPPORTED_CPUID). It costs one ioctl and a small allocation;
// callers should cache the result.
func (s *System) SupportedCPUID() ([]CPUIDEntry, error) {
	for n := 64; n <= 4096; n *= 2 {
		buf := make([]byte, 8+n*int(unsafe.Sizeof(CPUIDEntry{})))
		*(*uint32)(unsafe.Pointer(&buf[0])) = uint32(n)
		_, err := ioctl(s.fd, kvmGetSupportedCPUID, uintptr(unsafe.Pointer(&buf[0])))
		if errors.Is(err, unix.E2BIG) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("kvm: KVM_GET_SUPPORTED_CPUID: %w", err)
		}
		got := int(*(*uint32)(unsafe.Pointer(&buf[0])))
		entries := unsafe.Slice((*CPUIDEntry)(unsafe.Pointer(&buf[8])), got)
		return append([]CPUIDEntry(nil), entries...), nil
	}
	return nil, fmt.Errorf("kvm: KVM_GET_SUPPORTED_CPUID: more than 4096 entries")
}

// CreateVM creates an empty VM (KVM_CREATE_VM) with no memory and no vCPUs.
func (s *System) CreateVM() (*VM, error) {
	fd, err := ioctl(s.fd, kvmCreateVM, 0)
	if err != nil {
		return nil, fmt.Errorf("kvm: KVM_CREATE_VM: %w", err)
	}
	return &VM{fd: int(fd), mmapSize: s.mmapSize}, nil
}

// APIVersion opens /dev/kvm and returns its API version (12 on every Linux
// since 2.6.22). It costs an open, an ioctl and a close.
func APIVersion() (int, error) {
	fd, err := unix.Open(DevicePath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, openError(err)
	}
	defer unix.Close(fd)
	v, err := ioctl(fd, kvmGetAPIVersion, 0)
	if err != nil {
		return 0, fmt.Errorf("kvm: KVM_GET_API_VERSION on %s: %w", DevicePath, err)
	}
	return int(v), nil
}

// Check reports whether this host can run hyperlight micro-VMs, and if not,
// exactly what is missing: the device node, permission to open it, the API
// version, or a required extension. A nil error means a VM can be created.
// It costs a few syscalls and creates (and closes) one empty VM.
func Check() error {
	s, err := Open()
	if err != nil {
		return err
	}
	defer s.Close()
	var missing []string
	for _, c := range required {
		n, err := s.CheckExtension(c.cap)
		if err != nil {
			return err
		}
		if n <= 0 {
			missing = append(missing, fmt.Sprintf("%s (%s)", c.name, c.why))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s lacks %v", ErrMissingCap, DevicePath, missing)
	}
	vm, err := s.CreateVM()
	if err != nil {
		return fmt.Errorf("%w (the device opens but refuses to create a VM: is hardware virtualisation enabled?)", err)
	}
	return vm.Close()
}
