//go:build linux && amd64

package hyperlight

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tars-engine/tars/activities"
)

// imageState is where an image is in its life.
type imageState int

const (
	imageUnbuilt  imageState = iota // nobody has booted it yet
	imageBuilding                   // one call is booting it; others wait on ready
	imageBuilt                      // the snapshot exists; VMs map it
	imageFailed                     // booting it failed for good (err)
)

// image is one guest file at one memory size, and once built, its
// snapshot: a sealed memfd holding guest memory as it was when the guest
// reported READY. Every VM of the image maps that memfd privately, so a
// guest's writes land in its own copy-on-write pages, which a restore
// drops (MADV_DONTNEED) to see the snapshot again.
type image struct {
	name   string // tool name, for messages
	path   string
	digest string
	ident  fileIdent
	data   []byte // the ELF, until built
	lay    layout

	// Guarded by Runner.mu.
	state imageState
	ready chan struct{} // closed when a build attempt ends
	err   error         // imageFailed: why
	idle  []*vm         // warm VMs, most recently used last
	stale bool          // a newer file replaced it: its VMs are not kept

	mu       sync.Mutex // guards fd and fdClosed
	fd       int        // the sealed snapshot memfd, -1 before the build and after close
	fdClosed bool       // closeFD ran: a build finishing later must not install its fd
}

// mapPrivate maps the snapshot copy-on-write, at addr when it is not nil
// (replacing what is there) or anywhere otherwise.
func (img *image) mapPrivate(addr unsafe.Pointer) ([]byte, error) {
	img.mu.Lock()
	defer img.mu.Unlock()
	if img.fd < 0 {
		return nil, activities.Retryable(activities.ErrModuleChanged, nil,
			"hyperlight: guest %q was replaced while a VM was being created; try again", img.name)
	}
	flags := unix.MAP_PRIVATE | unix.MAP_NORESERVE
	if addr != nil {
		flags |= unix.MAP_FIXED
	}
	p, err := unix.MmapPtr(img.fd, 0, addr, uintptr(img.lay.memSize), unix.PROT_READ|unix.PROT_WRITE, flags)
	if err != nil {
		return nil, fmt.Errorf("hyperlight: mapping the %d MiB snapshot of guest %q: %w", img.lay.memSize>>20, img.name, err)
	}
	return unsafe.Slice((*byte)(p), img.lay.memSize), nil
}

// closeFD closes the snapshot memfd, now or, if a build is under way,
// when it finishes. Mappings made from it stay valid.
func (img *image) closeFD() {
	img.mu.Lock()
	defer img.mu.Unlock()
	img.fdClosed = true
	if img.fd >= 0 {
		unix.Close(img.fd)
		img.fd = -1
	}
}

// build boots the first VM of img: it writes the host area and the ELF
// into a fresh memfd, runs the guest's _start up to READY with that memfd
// mapped shared (so init's writes land in it), records the call entry,
// then remaps the VM's memory privately and seals the memfd. The VM it
// returns is warm. sticky reports whether a failure belongs to the guest
// (and will recur) rather than to this attempt.
func (r *Runner) build(ctx context.Context, img *image) (v *vm, sticky bool, err error) {
	size := img.lay.memSize
	fd, err := unix.MemfdCreate("tars-guest-"+img.name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, false, fmt.Errorf("hyperlight: memfd for guest %q: %w", img.name, err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return nil, false, fmt.Errorf("hyperlight: sizing the %d MiB memfd of guest %q: %w", size>>20, img.name, err)
	}
	p, err := unix.MmapPtr(fd, 0, nil, uintptr(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		return nil, false, fmt.Errorf("hyperlight: mapping the memfd of guest %q: %w", img.name, err)
	}
	mem := unsafe.Slice((*byte)(p), size)
	if err := loadELF(img.data, mem, &img.lay); err != nil {
		unix.MunmapPtr(p, uintptr(size))
		return nil, true, activities.NonRetryable(activities.ErrModuleInvalid, err,
			"hyperlight: guest %q (%s) cannot be loaded: %v", img.name, img.path, err)
	}
	writeHostArea(mem, &img.lay)

	v, err = r.startVM(img, mem) // v.mem = the shared mapping, unmapped by v on failure
	if err != nil {
		return nil, false, err
	}
	j := &job{ctx: ctx, boot: true}
	v.call(j)
	if j.err == nil && j.entry == 0 {
		j.err = faultError(img.name, "READY without a call entry", 0, true)
	}
	if j.err != nil {
		v.close()
		var stickyErr bool
		if !errors.Is(j.err, context.DeadlineExceeded) && !errors.Is(j.err, context.Canceled) && ctx.Err() == nil {
			stickyErr = true
		}
		return nil, stickyErr, j.err
	}
	if !img.lay.inRAM(j.entry, 1) || j.entry < imageBase {
		v.close()
		return nil, true, faultError(img.name, fmt.Sprintf("READY reported call entry %#x outside the image", j.entry), 0, true)
	}
	putBootEntry(mem, j.entry)

	// From here on the memfd is the snapshot: remap the VM's memory
	// copy-on-write at the same address (KVM follows through its MMU
	// notifier), then forbid any further change to the memfd.
	img.mu.Lock()
	replaced := img.fdClosed
	if !replaced {
		img.fd = fd
	}
	img.mu.Unlock()
	if replaced {
		v.close()
		return nil, false, activities.Retryable(activities.ErrModuleChanged, nil,
			"hyperlight: guest %q was replaced while it was booting; try again", img.name)
	}
	uninstall := func() {
		img.mu.Lock()
		img.fd = -1 // the deferred close closes fd
		img.mu.Unlock()
		v.close()
	}
	if _, err := img.mapPrivate(p); err != nil {
		uninstall()
		return nil, false, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS,
		unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		uninstall()
		return nil, false, fmt.Errorf("hyperlight: sealing the snapshot of guest %q: %w", img.name, err)
	}
	img.data = nil
	ok = true
	return v, false, nil
}

func putBootEntry(mem []byte, entry uint64) {
	b := mem[bootAddr+bootEntryOff:]
	for i := 0; i < 8; i++ {
		b[i] = byte(entry >> (8 * i))
	}
}
