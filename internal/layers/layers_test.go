package layers

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/tars-engine/tars/"

// layers lists the module's packages from the bottom up. A package may
// import packages of a lower layer only; a new package must be placed here.
var layers = [][]string{
	// Contracts and leaves: the Plan, positioned diagnostics, host facts,
	// the CPU kernels, the KVM bindings.
	{"plan", "internal/diag", "internal/env/hostmem", "internal/hostcheck",
		"activities/cuda/kernels", "activities/hyperlight/kvm", "activities/native/internal/shellns",
		"activities/wasm/guests/text-stats-go", "internal/layers", "metascripts/examples", "codec"},
	// Expressions over the Plan; the activity contract (Call, Result, Runner).
	{"plan/expr", "activities"},
	// The agent tree and deployment; the pools.
	{"configs", "activities/cuda", "activities/hyperlight", "activities/native", "activities/wasm"},
	// The compiler and the interpreter: neither imports the other.
	{"metascripts", "workflows"},
	// What reads histories; what hosts the pools on Temporal workers.
	{"workflows/trace", "workers"},
	// Not API: the embedded server, the benchmark harness, detection, the
	// trace page.
	{"internal/bench", "internal/devserver", "internal/env", "internal/tracepage", "internal/blobstore"},
	// Programs.
	{"cmd/tars", "activities/cuda/cmd/cudacheck"},
}

func TestNoPackageImportsAHigherLayer(t *testing.T) {
	layerOf := map[string]int{}
	for i, l := range layers {
		for _, p := range l {
			layerOf[p] = i
		}
	}
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go command lists the packages")
	cmd := exec.Command(goTool, "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...")
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", out)

	listed := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		from, ok := layerOf[pkg]
		if !ok {
			t.Errorf("package %s is in no layer: place it in layers (internal/layers/layers_test.go) and docs/architecture.md", pkg)
			continue
		}
		listed++
		for _, imp := range f[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			to, ok := layerOf[dep]
			if ok && to >= from {
				t.Errorf("%s (layer %d) imports %s (layer %d): a package imports only lower layers", pkg, from, dep, to)
			}
		}
	}
	require.Equal(t, len(layerOf), listed, "every package in layers exists")
}
