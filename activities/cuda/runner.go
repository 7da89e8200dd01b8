//go:build linux || windows

package cuda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/cuda/kernels"
)

// Built reports whether this build of the package can run kernels: true
// on Linux and Windows, where NVIDIA's CUDA driver exists.
const Built = true

// Runner runs the cuda pool's tools on the GPUs found by New. It implements
// activities.Runner and is safe for concurrent use.
type Runner struct {
	d         *driver
	gpus      []*gpu
	slots     chan *gpu // one token per slot; a call holds one while it runs
	capacity  int
	slotBytes uint64
	startup   Startup
	log       *slog.Logger

	mu       sync.RWMutex
	closed   bool
	inflight sync.WaitGroup
	live     atomic.Int32  // GPUs not broken
	dead     chan struct{} // closed when every GPU has failed
}

var _ activities.Runner = (*Runner)(nil)

// New loads the CUDA driver, opens every configured GPU (primary context,
// kernels JIT-compiled) and sizes the pool from free device memory. It takes
// a few hundred milliseconds: do it once per worker.
//
// It refuses to start, with an error wrapping ErrNoDriver or ErrNoDevice that
// says what is missing, when libcuda.so.1 cannot be loaded, when the driver
// sees no GPU, or when no GPU has a slot's worth of free memory.
func New(cfg Config) (*Runner, error) {
	if cfg.Library == "" {
		cfg.Library = DefaultLibrary
	}
	if cfg.SlotBytes == 0 {
		cfg.SlotBytes = DefaultSlotBytes
	}
	if cfg.MaxSlotsPerGPU == 0 {
		cfg.MaxSlotsPerGPU = DefaultMaxSlotsPerGPU
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Runner{slotBytes: cfg.SlotBytes, log: cfg.Logger, dead: make(chan struct{})}

	t := time.Now()
	d, err := loadDriver(cfg.Library)
	if err != nil {
		return nil, fmt.Errorf("cuda pool: %w", err)
	}
	r.d = d
	r.startup.Load = time.Since(t)
	if r.startup.Driver, err = d.version(); err != nil {
		return nil, fmt.Errorf("cuda pool: %w: %w", ErrNoDriver, err)
	}

	t = time.Now()
	if code := d.cuInit(0); code != cudaSuccess {
		err := d.check("cuInit", code)
		if code == cudaErrorNoDevice {
			return nil, fmt.Errorf("cuda pool: %w: the driver (%s) sees no GPU: %w", ErrNoDevice, cfg.Library, err)
		}
		return nil, fmt.Errorf("cuda pool: %w: %w", ErrNoDriver, err)
	}
	r.startup.Init = time.Since(t)

	var count int32
	if err := d.check("cuDeviceGetCount", d.cuDeviceGetCount(&count)); err != nil {
		return nil, fmt.Errorf("cuda pool: %w", err)
	}
	if count == 0 {
		return nil, fmt.Errorf("cuda pool: %w: the driver (%s) sees no GPU (check CUDA_VISIBLE_DEVICES)", ErrNoDevice, cfg.Library)
	}
	ordinals := cfg.Devices
	if len(ordinals) == 0 {
		for i := range int(count) {
			ordinals = append(ordinals, i)
		}
	}

	var skipped []string
	for _, o := range ordinals {
		if o < 0 || o >= int(count) {
			r.Close()
			return nil, fmt.Errorf("cuda pool: %w: GPU %d requested, the driver sees %d", ErrNoDevice, o, count)
		}
		g, err := openGPU(d, o, &r.startup)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("cuda pool: %w", err)
		}
		g.Slots = slotsFor(g.MemoryFree, cfg.SlotBytes, cfg.MaxSlotsPerGPU)
		if g.Slots == 0 {
			skipped = append(skipped, fmt.Sprintf("GPU %d (%s) has %d MiB free, a slot needs %d MiB", o, g.Name, g.MemoryFree>>20, cfg.SlotBytes>>20))
			g.close(d)
			continue
		}
		r.gpus = append(r.gpus, g)
		r.capacity += g.Slots
	}
	if len(r.gpus) == 0 {
		return nil, fmt.Errorf("cuda pool: %w: no GPU has room for a slot: %s", ErrNoDevice, skipped)
	}
	for _, s := range skipped {
		r.log.Warn("cuda pool: GPU not used", "reason", s)
	}

	// Interleave the tokens so that idle calls spread over the GPUs.
	r.slots = make(chan *gpu, r.capacity)
	for i := range cfg.MaxSlotsPerGPU {
		for _, g := range r.gpus {
			if i < g.Slots {
				r.slots <- g
			}
		}
	}
	r.live.Store(int32(len(r.gpus)))
	r.log.Info("cuda pool ready", "gpus", len(r.gpus), "slots", r.capacity,
		"driver", r.startup.Driver, "init", r.startup.Init, "context", r.startup.Context, "modules", r.startup.Modules)
	return r, nil
}

// Runtime returns "cuda".
func (r *Runner) Runtime() string { return Runtime }

// Tools returns the tools the pool offers: vector.topk and matmul.
func (r *Runner) Tools() []string { return slices.Clone(kernels.Tools) }

// Capacity returns the calls the pool runs at once: the sum over the GPUs of
//
//	min(MaxSlotsPerGPU, floor(0.9 * free memory at startup / SlotBytes))
//
// so that every running call can hold SlotBytes of device memory. It does
// not shrink when a GPU fails; calls then queue for the remaining GPUs.
func (r *Runner) Capacity() int { return r.capacity }

// Devices describes the GPUs in use.
func (r *Runner) Devices() []Device {
	out := make([]Device, len(r.gpus))
	for i, g := range r.gpus {
		out[i] = g.Device
	}
	return out
}

// Startup returns how long New took, phase by phase.
func (r *Runner) Startup() Startup { return r.startup }

// Run executes one call of vector.topk or matmul on a GPU. Argument errors
// and calls larger than a slot are non-retryable ErrBadArgs; an unknown tool
// is ErrToolNotFound; a GPU that fails mid-call is taken out of service and
// the call fails with a retryable ErrNoDevice, so Temporal retries it under
// the step's retry policy on a cuda worker that still has a GPU. A step's
// chain falls back to native only when no cuda pool starts it in time
// (schedule-to-start), not after a failure.
func (r *Runner) Run(ctx context.Context, call activities.Call) (activities.Result, error) {
	var (
		out any
		st  Stats
		err error
	)
	switch call.Tool {
	case kernels.ToolTopK:
		out, st, err = r.runTopK(ctx, call.Args)
	case kernels.ToolMatMul:
		out, st, err = r.runMatMul(ctx, call.Args)
	default:
		return activities.Result{}, activities.NonRetryable(activities.ErrToolNotFound, nil,
			"the cuda pool has no tool %q (it offers %v)", call.Tool, kernels.Tools)
	}
	if err != nil {
		return activities.Result{}, r.activityError(call.Tool, err)
	}
	output, err := json.Marshal(out)
	if err != nil {
		return activities.Result{}, activities.NonRetryable(activities.ErrToolFailed, err, "%s: encoding the output: %v", call.Tool, err)
	}
	return activities.Result{
		Output: output,
		Metrics: map[string]float64{
			"gpu.index":      float64(st.Device),
			"gpu.kernel_us":  float64(st.Kernel.Microseconds()),
			"gpu.copy_us":    float64(st.Copy.Microseconds()),
			"gpu.copy_bytes": float64(st.CopyBytes),
		},
	}, nil
}

func (r *Runner) runTopK(ctx context.Context, args json.RawMessage) (kernels.TopKResult, Stats, error) {
	var a kernels.TopKArgs
	if err := kernels.Decode(kernels.ToolTopK, args, &a); err != nil {
		return kernels.TopKResult{}, Stats{}, err
	}
	q, m, dim, k, err := a.Flat()
	if err != nil {
		return kernels.TopKResult{}, Stats{}, err
	}
	matches, st, err := r.TopK(ctx, q, m, dim, k)
	return kernels.NewTopKResult(matches), st, err
}

func (r *Runner) runMatMul(ctx context.Context, args json.RawMessage) (kernels.MatMulResult, Stats, error) {
	var a kernels.MatMulArgs
	if err := kernels.Decode(kernels.ToolMatMul, args, &a); err != nil {
		return kernels.MatMulResult{}, Stats{}, err
	}
	fa, fb, m, k, n, err := a.Flat()
	if err != nil {
		return kernels.MatMulResult{}, Stats{}, err
	}
	c, st, err := r.MatMul(ctx, fa, fb, m, k, n)
	return kernels.MatMulResult{C: kernels.Rows(c, n)}, st, err
}

// errTooLarge is wrapped when a call needs more device memory than a slot.
var errTooLarge = errors.New("call too large for a slot")

// errClosed is returned for calls that arrive after Close.
var errClosed = errors.New("cuda pool: closed")

// activityError maps a call's error to the activity error a user matches on.
func (r *Runner) activityError(tool string, err error) error {
	var cerr *Error
	switch {
	case errors.Is(err, kernels.ErrBadArgs), errors.Is(err, errTooLarge):
		return activities.NonRetryable(activities.ErrBadArgs, err, "%v", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, ErrNoDevice), errors.Is(err, errClosed):
		return activities.Retryable(activities.ErrNoDevice, err, "%s: %v", tool, err)
	case errors.As(err, &cerr) && cerr.Sticky():
		return activities.Retryable(activities.ErrNoDevice, err, "%s: the GPU failed and was taken out of service: %v", tool, err)
	default:
		return activities.Retryable(activities.ErrToolFailed, err, "%s: %v", tool, err)
	}
}

// acquire waits for a slot on a working GPU. The returned func gives it back.
func (r *Runner) acquire(ctx context.Context) (*gpu, func(), error) {
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		return nil, nil, errClosed
	}
	r.inflight.Add(1)
	r.mu.RUnlock()
	for {
		select {
		case <-r.dead:
			r.inflight.Done()
			return nil, nil, fmt.Errorf("%w: every GPU of this worker has failed; restart it", ErrNoDevice)
		case g := <-r.slots:
			if g.broken.Load() {
				continue // drop the token: the GPU is out of service
			}
			return g, func() {
				if !g.broken.Load() {
					r.slots <- g
				}
				r.inflight.Done()
			}, nil
		case <-ctx.Done():
			r.inflight.Done()
			return nil, nil, ctx.Err()
		}
	}
}

// fail takes a GPU out of service after a sticky error.
func (r *Runner) fail(g *gpu, err error) {
	var cerr *Error
	if errors.As(err, &cerr) && cerr.Sticky() && g.broken.CompareAndSwap(false, true) {
		if r.live.Add(-1) == 0 {
			close(r.dead)
		}
		r.log.Error("cuda pool: GPU taken out of service", "gpu", g.Ordinal, "name", g.Name, "err", err)
	}
}

// Close waits for running calls, then unloads the kernels and releases the
// GPUs' primary contexts. Calls made after Close fail with ErrNoDevice.
func (r *Runner) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.inflight.Wait()
	for _, g := range r.gpus {
		g.close(r.d)
	}
	return nil
}
