package env

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tars-engine/tars/activities/cuda"
	"github.com/tars-engine/tars/activities/hyperlight"
)

// A binary built without a pool's runtime (darwin/arm64 has neither
// hyperlight nor cuda) says so in tars env, whatever the probes find.
func TestPoolsNotBuilt(t *testing.T) {
	p := baseline(nil, nil)
	p.GOOS, p.GOARCH = "darwin", "arm64"
	p.Built = func(pool string) bool { return pool != PoolHyperlight && pool != PoolCUDA }
	r := Detect(p)
	assert.Equal(t, []string{"native", "wasm"}, r.AvailablePools())
	var b bytes.Buffer
	r.Print(&b)
	assert.Contains(t, b.String(), "  ✗ hyperlight  not built for darwin/arm64: micro-VMs need Linux on x86-64 with KVM\n")
	assert.Contains(t, b.String(), "  ✗ cuda        not built for darwin/arm64: NVIDIA's CUDA driver is for Linux and Windows\n")
}

// The Built constants follow the build constraints of the pool packages.
func TestPoolBuiltMatchesPlatform(t *testing.T) {
	assert.Equal(t, runtime.GOOS == "linux" && runtime.GOARCH == "amd64", hyperlight.Built)
	assert.Equal(t, runtime.GOOS == "linux" || runtime.GOOS == "windows", cuda.Built)
	assert.Equal(t, hyperlight.Built, poolBuilt(PoolHyperlight))
	assert.Equal(t, cuda.Built, poolBuilt(PoolCUDA))
	assert.True(t, poolBuilt(PoolNative) && poolBuilt(PoolWASM))
}
