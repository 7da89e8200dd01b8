package wasm_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities/wasm"
)

// TestGoGuest builds the Go example guest for wasip1 and checks that it
// answers like the C text-stats. It needs only the Go toolchain, but the
// first build of the wasip1 standard library takes a while: -short skips it.
func TestGoGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a wasip1 binary")
	}
	dir := t.TempDir()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command builds the guest")
	build := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s", "-o", filepath.Join(dir, "text-stats-go.wasm"), "./guests/text-stats-go")
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	c, err := os.ReadFile(filepath.Join(guests, "text-stats.wasm"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "text-stats.wasm"), c, 0o644))

	r := newRunner(t, wasm.Config{ModulesDir: dir})
	for _, args := range []string{
		`{"text":"The cat and the hat.\nThe end","top":3}`,
		`{"text":"Héllo wörld, don't 'quote'\n\n","top":2}`,
		`{"text":""}`,
		string(benchArgs),
	} {
		want, err := run(t, r, call("text-stats", args), 10*time.Second)
		require.NoError(t, err)
		var took time.Duration
		for i := range 3 { // the first call compiles
			start := time.Now()
			got, err := run(t, r, call("text-stats-go", args), 2*time.Minute) // the first call compiles: slow under -race
			took = time.Since(start)
			require.NoError(t, err)
			assert.JSONEq(t, string(want.Output), string(got.Output))
			if i == 2 {
				t.Logf("Go guest: %v per call (instantiate %v µs, run %v µs, memory %v bytes); C guest: run %v µs",
					took.Round(time.Microsecond), got.Metrics["wasm.instantiate_us"], got.Metrics["wasm.run_us"],
					got.Metrics["wasm.memory_bytes"], want.Metrics["wasm.run_us"])
			}
		}
	}
}
