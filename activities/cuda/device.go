//go:build linux || windows

package cuda

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/tars-engine/tars/activities/cuda/kernels"
)

// gpu is a device with its primary context and loaded kernels.
type gpu struct {
	Device
	dev    int32
	ctx    uintptr
	mods   []uintptr
	cosine uintptr
	matmul uintptr
	broken atomic.Bool // a sticky error poisoned the context
}

// openGPU retains the device's primary context and JIT-compiles the kernels
// in it. The timings go to st.
func openGPU(d *driver, ordinal int, st *Startup) (g *gpu, err error) {
	g = &gpu{Device: Device{Ordinal: ordinal}}
	if err := d.check("cuDeviceGet", d.cuDeviceGet(&g.dev, int32(ordinal))); err != nil {
		return nil, err
	}
	name := make([]byte, 256)
	if err := d.check("cuDeviceGetName", d.cuDeviceGetName(&name[0], int32(len(name)), g.dev)); err != nil {
		return nil, err
	}
	g.Name = cString(&name[0])

	t := time.Now()
	if err := d.check("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain(&g.ctx, g.dev)); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			g.close(d)
		}
	}()
	err = g.do(d, func() error {
		st.Context += time.Since(t) // retain creates the context; the first set makes it current

		t = time.Now()
		for _, k := range []struct {
			ptx, entry string
			fn         *uintptr
		}{
			{kernels.CosinePTX, kernels.CosineEntry, &g.cosine},
			{kernels.MatMulPTX, kernels.MatMulEntry, &g.matmul},
		} {
			mod, err := d.loadModule(k.ptx)
			if err != nil {
				return fmt.Errorf("loading the %s kernel: %w", k.entry, err)
			}
			g.mods = append(g.mods, mod)
			if err := d.check("cuModuleGetFunction", d.cuModuleGetFunction(k.fn, mod, k.entry)); err != nil {
				return fmt.Errorf("finding the %s kernel: %w", k.entry, err)
			}
		}
		st.Modules += time.Since(t)
		return d.check("cuMemGetInfo_v2", d.cuMemGetInfo(&g.MemoryFree, &g.MemoryTotal))
	})
	if err != nil {
		return nil, fmt.Errorf("GPU %d (%s): %w", ordinal, g.Name, err)
	}
	return g, nil
}

// do runs f on a locked OS thread with the GPU's context current: a CUDA
// context is current per thread, and goroutines move between threads.
func (g *gpu) do(d *driver, f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := d.check("cuCtxSetCurrent", d.cuCtxSetCurrent(g.ctx)); err != nil {
		return err
	}
	return f()
}

// close unloads the modules and releases the primary context.
func (g *gpu) close(d *driver) {
	if g.ctx == 0 {
		return
	}
	_ = g.do(d, func() error {
		for _, m := range g.mods {
			d.cuModuleUnload(m)
		}
		return nil
	})
	g.mods = nil
	d.cuDevicePrimaryCtxRelease(g.dev)
	g.ctx = 0
}

// buffers are device allocations made for one call, freed together.
type buffers struct {
	d    *driver
	ptrs []uint64
}

func (b *buffers) alloc(bytes uint64) (uint64, error) {
	var p uint64
	if err := b.d.check("cuMemAlloc_v2", b.d.cuMemAlloc(&p, max(bytes, 4))); err != nil {
		return 0, err
	}
	b.ptrs = append(b.ptrs, p)
	return p, nil
}

func (b *buffers) free() {
	for _, p := range b.ptrs {
		b.d.cuMemFree(p)
	}
	b.ptrs = nil
}

// copyIn copies a host slice to a new device buffer.
func (b *buffers) copyIn(src []float32, st *Stats) (uint64, error) {
	bytes := uint64(len(src)) * 4
	p, err := b.alloc(bytes)
	if err != nil || bytes == 0 {
		return p, err
	}
	t := time.Now()
	err = b.d.check("cuMemcpyHtoD_v2", b.d.cuMemcpyHtoD(p, unsafe.Pointer(&src[0]), bytes))
	runtime.KeepAlive(src)
	st.Copy += time.Since(t)
	st.CopyBytes += bytes
	return p, err
}

// copyOut copies a device buffer into dst.
func (b *buffers) copyOut(dst []float32, src uint64, st *Stats) error {
	bytes := uint64(len(dst)) * 4
	if bytes == 0 {
		return nil
	}
	t := time.Now()
	err := b.d.check("cuMemcpyDtoH_v2", b.d.cuMemcpyDtoH(unsafe.Pointer(&dst[0]), src, bytes))
	runtime.KeepAlive(dst)
	st.Copy += time.Since(t)
	st.CopyBytes += bytes
	return err
}

// kernelCall is one kernel launch as the tools make it: inputs copied to
// the GPU, an output buffer, the kernel, and its grid and block.
type kernelCall struct {
	in     [][]float32 // copied to device buffers, in order
	out    []float32   // filled from the output buffer after the kernel
	kernel func(g *gpu) uintptr
	grid   [3]uint32
	block  [3]uint32
	params func(in []uint64, out uint64) []any // the kernel's parameters
}

// run takes a slot on a GPU and makes the call: copy in, allocate the
// output, launch, synchronise, copy out, free. A sticky failure takes the
// GPU out of service (Runner.fail). The context is checked before the
// launch; a launched kernel runs to its end.
func (r *Runner) run(ctx context.Context, c kernelCall) (Stats, error) {
	g, release, err := r.acquire(ctx)
	if err != nil {
		return Stats{}, err
	}
	defer release()
	st := Stats{Device: g.Ordinal}
	err = g.do(r.d, func() error {
		b := buffers{d: r.d}
		defer b.free()
		ins := make([]uint64, len(c.in))
		for i, src := range c.in {
			p, err := b.copyIn(src, &st)
			if err != nil {
				return err
			}
			ins[i] = p
		}
		out, err := b.alloc(uint64(len(c.out)) * 4)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		t := time.Now()
		if err := r.d.launch(c.kernel(g), c.grid, c.block, c.params(ins, out)...); err != nil {
			return err
		}
		if err := r.d.check("cuCtxSynchronize", r.d.cuCtxSynchronize()); err != nil {
			return err
		}
		st.Kernel = time.Since(t)
		return b.copyOut(c.out, out, &st)
	})
	if err != nil {
		r.fail(g, err)
		return st, fmt.Errorf("GPU %d: %w", g.Ordinal, err)
	}
	return st, nil
}
