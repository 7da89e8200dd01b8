//go:build linux || windows

package cuda

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/cuda/kernels"
)

func TestNewWithoutDriver(t *testing.T) {
	_, err := New(Config{Library: filepath.Join(t.TempDir(), "libcuda.so.1")})
	require.ErrorIs(t, err, ErrNoDriver)
	assert.ErrorContains(t, err, "cuda pool: no CUDA driver: ")
	assert.ErrorContains(t, err, "libcuda.so.1 not found")
	assert.ErrorContains(t, err, "install the NVIDIA driver or run the cuda pool on a GPU machine")
}

// TestNewDefaultLibrary checks the error a GPU-less machine gives for the
// library New loads by default.
func TestNewDefaultLibrary(t *testing.T) {
	r, err := New(Config{})
	if err == nil {
		r.Close()
		t.Skip("this machine has a working CUDA driver and GPU")
	}
	if errors.Is(err, ErrNoDevice) {
		t.Skipf("this machine has a CUDA driver but no GPU: %v", err)
	}
	require.ErrorIs(t, err, ErrNoDriver)
	assert.ErrorContains(t, err, "no CUDA driver: libcuda.so.1 not found (")
}

func TestSlotsFor(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name      string
		free      uint64
		slotBytes uint64
		max       int
		want      int
	}{
		{"H200 idle", 140 * gib, gib, 4, 4},
		{"capped by memory", 3 * gib, gib, 4, 2}, // 0.9*3 = 2.7
		{"just enough", 1200 << 20, gib, 4, 1},   // 0.9*1200 MiB = 1080 MiB
		{"too little", gib, gib, 4, 0},           // 0.9 GiB < 1 GiB
		{"big slots", 80 * gib, 16 * gib, 8, 4},
		{"no memory", 0, gib, 4, 0},
		{"zero slot size", 80 * gib, 0, 4, 0},
		{"zero max", 80 * gib, gib, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, slotsFor(tt.free, tt.slotBytes, tt.max))
		})
	}
}

// fakeDriver builds testdata/fakecuda.c into a shared library, or skips.
func fakeDriver(t *testing.T, defines ...string) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build the fake CUDA driver")
	}
	lib := filepath.Join(t.TempDir(), "libcuda.so.1")
	args := append([]string{"-shared", "-fPIC", "-O1", "-o", lib, filepath.Join("testdata", "fakecuda.c")}, defines...)
	out, err := exec.Command(cc, args...).CombinedOutput()
	require.NoError(t, err, "building the fake driver: %s", out)
	return lib
}

func TestNewFakeDriverRefuses(t *testing.T) {
	lib := fakeDriver(t)
	old := fakeDriver(t, "-DFAKECUDA_OLD")
	tests := []struct {
		name    string
		lib     string
		env     map[string]string
		cfg     Config
		is      error
		wantErr string
	}{
		{"old driver", old, nil, Config{}, ErrNoDriver, "has no cuLaunchKernel: the driver is too old"},
		{"cuInit no device", lib, map[string]string{"FAKECUDA_INIT": "100"}, Config{}, ErrNoDevice,
			"no CUDA device: the driver (" + lib + ") sees no GPU: cuInit: no CUDA-capable device is detected (CUDA_ERROR_NO_DEVICE)"},
		{"zero devices", lib, map[string]string{"FAKECUDA_COUNT": "0"}, Config{}, ErrNoDevice, "sees no GPU (check CUDA_VISIBLE_DEVICES)"},
		{"no free memory", lib, map[string]string{"FAKECUDA_FREE_MIB": "512"}, Config{}, ErrNoDevice,
			"no GPU has room for a slot: [GPU 0 (Fake GPU) has 512 MiB free, a slot needs 1024 MiB]"},
		{"ordinal out of range", lib, nil, Config{Devices: []int{3}}, ErrNoDevice, "GPU 3 requested, the driver sees 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			tt.cfg.Library = tt.lib
			tt.cfg.Logger = quiet
			_, err := New(tt.cfg)
			require.ErrorIs(t, err, tt.is)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestRunnerFakeDriver(t *testing.T) {
	lib := fakeDriver(t)
	t.Setenv("FAKECUDA_COUNT", "2")
	t.Setenv("FAKECUDA_FREE_MIB", "3000") // 0.9*3000/1024 = 2.6: 2 slots per GPU
	r, err := New(Config{Logger: quiet, Library: lib})
	require.NoError(t, err)
	defer r.Close()

	assert.Equal(t, "cuda", r.Runtime())
	assert.Equal(t, []string{"vector.topk", "matmul"}, r.Tools())
	assert.Equal(t, 4, r.Capacity())
	require.Len(t, r.Devices(), 2)
	assert.Equal(t, Device{Ordinal: 1, Name: "Fake GPU", MemoryTotal: 16 << 30, MemoryFree: 3000 << 20, Slots: 2}, r.Devices()[1])
	assert.Equal(t, 13000, r.Startup().Driver)

	ctx := context.Background()
	res, err := r.Run(ctx, activities.Call{Tool: kernels.ToolTopK, Args: json.RawMessage(`{"query":[1,0],"vectors":[[1,0],[0,1],[1,1]],"k":2}`)})
	require.NoError(t, err)
	// the fake's kernels do nothing, so every score is 0: ties by index
	assert.JSONEq(t, `{"indices":[0,1],"scores":[0,0]}`, string(res.Output))
	assert.Equal(t, float64((6+2+3)*4), res.Metrics["gpu.copy_bytes"]) // matrix + query in, scores out
	assert.Contains(t, res.Metrics, "gpu.index")
	assert.Contains(t, res.Metrics, "gpu.kernel_us")

	res, err = r.Run(ctx, activities.Call{Tool: kernels.ToolMatMul, Args: json.RawMessage(`{"a":[[1,2]],"b":[[3],[4]]}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"c":[[0]]}`, string(res.Output))
	assert.Equal(t, float64((2+2+1)*4), res.Metrics["gpu.copy_bytes"])

	// calls spread over both GPUs and never exceed capacity
	var mu sync.Mutex
	used := map[float64]int{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			res, err := r.Run(ctx, activities.Call{Tool: kernels.ToolMatMul, Args: json.RawMessage(`{"a":[[1]],"b":[[1]]}`)})
			assert.NoError(t, err)
			mu.Lock()
			used[res.Metrics["gpu.index"]]++
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Len(t, used, 2, "calls went to %v", used)
}

func TestRunErrors(t *testing.T) {
	lib := fakeDriver(t)
	r, err := New(Config{Logger: quiet, Library: lib, SlotBytes: 1 << 20})
	require.NoError(t, err)
	defer r.Close()
	ctx := context.Background()

	tests := []struct {
		name      string
		call      activities.Call
		typ       string
		retryable bool
		msg       string
	}{
		{"unknown tool", activities.Call{Tool: "vector.nope"}, activities.ErrToolNotFound, false, `the cuda pool has no tool "vector.nope"`},
		{"bad json", activities.Call{Tool: kernels.ToolTopK, Args: json.RawMessage(`{"query":"x"}`)}, activities.ErrBadArgs, false, "vector.topk"},
		{"ragged", activities.Call{Tool: kernels.ToolMatMul, Args: json.RawMessage(`{"a":[[1,2]],"b":[[1]]}`)}, activities.ErrBadArgs, false, "a's columns must equal b's rows"},
		{"larger than a slot", activities.Call{Tool: kernels.ToolTopK, Args: bigTopK(300_000)}, activities.ErrBadArgs, false, "needs 1.7 MiB of GPU memory, a slot has 1.0 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Run(ctx, tt.call)
			var aerr *temporal.ApplicationError
			require.ErrorAs(t, err, &aerr)
			assert.Equal(t, tt.typ, aerr.Type())
			assert.Equal(t, !tt.retryable, aerr.NonRetryable())
			assert.ErrorContains(t, err, tt.msg)
		})
	}
}

func bigTopK(floats int) json.RawMessage {
	a := kernels.TopKArgs{Query: []float32{1, 2}, Vectors: make([][]float32, floats/2)}
	for i := range a.Vectors {
		a.Vectors[i] = []float32{1, 1}
	}
	b, _ := json.Marshal(a)
	return b
}

func TestStickyErrorTakesGPUOut(t *testing.T) {
	lib := fakeDriver(t)
	t.Setenv("FAKECUDA_LAUNCH", "700") // CUDA_ERROR_ILLEGAL_ADDRESS
	r, err := New(Config{Logger: quiet, Library: lib})
	require.NoError(t, err)
	defer r.Close()

	call := activities.Call{Tool: kernels.ToolMatMul, Args: json.RawMessage(`{"a":[[1]],"b":[[1]]}`)}
	_, err = r.Run(context.Background(), call)
	var aerr *temporal.ApplicationError
	require.ErrorAs(t, err, &aerr)
	assert.Equal(t, activities.ErrNoDevice, aerr.Type())
	assert.False(t, aerr.NonRetryable())
	assert.ErrorContains(t, err, "the GPU failed and was taken out of service: GPU 0: cuLaunchKernel: an illegal memory access was encountered (CUDA_ERROR_ILLEGAL_ADDRESS)")

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = r.Run(ctx, call)
	require.ErrorAs(t, err, &aerr)
	assert.Equal(t, activities.ErrNoDevice, aerr.Type())
	assert.ErrorContains(t, err, "every GPU of this worker has failed")
}

func TestRunAfterClose(t *testing.T) {
	lib := fakeDriver(t)
	r, err := New(Config{Logger: quiet, Library: lib})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
	_, err = r.Run(context.Background(), activities.Call{Tool: kernels.ToolMatMul, Args: json.RawMessage(`{"a":[[1]],"b":[[1]]}`)})
	var aerr *temporal.ApplicationError
	require.ErrorAs(t, err, &aerr)
	assert.Equal(t, activities.ErrNoDevice, aerr.Type())
}

func TestRunWaitsForSlot(t *testing.T) {
	lib := fakeDriver(t)
	t.Setenv("FAKECUDA_FREE_MIB", "1200") // one slot
	r, err := New(Config{Logger: quiet, Library: lib})
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, 1, r.Capacity())

	g, release, err := r.acquire(context.Background())
	require.NoError(t, err)
	require.NotNil(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = r.Run(ctx, activities.Call{Tool: kernels.ToolMatMul, Args: json.RawMessage(`{"a":[[1]],"b":[[1]]}`)})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	release()
	_, err = r.Run(context.Background(), activities.Call{Tool: kernels.ToolMatMul, Args: json.RawMessage(`{"a":[[1]],"b":[[1]]}`)})
	require.NoError(t, err)
}

// quiet keeps the fake driver's startup lines out of the test output.
var quiet = slog.New(slog.DiscardHandler)
