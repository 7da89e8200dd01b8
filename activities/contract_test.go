package activities_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/cuda/kernels"
	"github.com/tars-engine/tars/activities/hyperlight"
	"github.com/tars-engine/tars/activities/native"
	"github.com/tars-engine/tars/activities/wasm"
)

// guestToolInputs are inputs of the tools the hyperlight guests, their wasm
// builds and their native twins all offer; every runtime must return the
// same bytes for each.
var guestToolInputs = map[string][]string{
	"sha256": {
		`"abc"`, `{"data": "abc"}`, `{"data": {"b": [1, 2]}}`, `{"other": 1}`, `"\u00e9\n"`, `[1, 2, 3]`, `""`, `{"data": "x", "data": "y"}`,
	},
	"json-field": {
		`{"object": {"user": {"name": "ada", "tags": ["x", "y"]}}, "field": "user.tags.1"}`,
		`{"document": "{\"action\": \"restart api\"}", "field": "action"}`,
		`{"object": {"a": {"b" : [1, {"c": "d\u00e9"}]}}, "field": "a"}`,
		`{"object": {"a": 1, "a": 2}, "field": "a"}`,
		`{"object": [10, 20, 30], "field": "2"}`,
		`{"object": [10, 20, 30], "field": "7"}`,
		`{"object": {"a": 1}, "field": "b.c"}`,
		`{"object": {"a": 1}, "field": ""}`,
	},
	"policy-check": {
		`{"rules": [{"effect": "allow", "action": "read", "resource": "docs-*"}, {"effect": "deny", "principal": "mallory"}],
		  "request": {"principal": "ada", "action": "read", "resource": "docs-a.md"}}`,
		`{"rules": [{"effect": "allow", "action": "read"}, {"effect": "deny", "principal": "mallory"}],
		  "request": {"principal": "mallory", "action": "read"}}`,
		`{"policy": "deny-network", "action": "curl https://example.com"}`,
		`{"policy": "deny-network", "action": "list files"}`,
		`{"policy": "remediation", "action": "Restart the API pods"}`,
		`{"policy": "remediation", "action": "DROP TABLE users"}`,
		`{"policy": "remediation", "action": "look around"}`,
		`{"rules": [], "action": "x"}`,
		`{"rules": [{"effect": "allow", "resource": "?"}], "resource": 7}`,
		`{"rules": [{"effect": "allow", "action": "a*b?c"}], "request": {"action": "aXXbYc"}}`,
	},
}

// TestGuestToolsSameBytesOnEveryRuntime runs every input of every guest
// tool on native, wasm and (where /dev/kvm is usable) hyperlight, and
// requires the same output bytes from each, decodable into its contract.
func TestGuestToolsSameBytesOnEveryRuntime(t *testing.T) {
	nat := native.New(native.Config{})
	w, err := wasm.New(wasm.Config{})
	require.NoError(t, err)
	defer w.Close()
	runners := []activities.Runner{nat, w}
	if h, err := hyperlight.New(hyperlight.Config{}); err != nil {
		t.Logf("hyperlight not compared: %v", err)
	} else {
		defer h.Close()
		runners = append(runners, h)
	}
	for tool, inputs := range guestToolInputs {
		assert.ElementsMatch(t, []string{"hyperlight", "wasm", "native"}, activities.SharedTools[tool])
		for _, in := range inputs {
			var want []byte
			for _, r := range runners {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				res, err := r.Run(ctx, activities.Call{Step: "s", Runtime: r.Runtime(), Tool: tool, Args: json.RawMessage(in)})
				cancel()
				require.NoError(t, err, "%s on %s, input %s", tool, r.Runtime(), in)
				if want == nil {
					want = res.Output
				}
				assert.Equal(t, string(want), string(res.Output), "%s on %s, input %s", tool, r.Runtime(), in)
				switch tool {
				case "sha256":
					var hexSum string
					require.NoError(t, json.Unmarshal(res.Output, &hexSum))
					assert.Regexp(t, `^[0-9a-f]{64}$`, hexSum)
				case "policy-check":
					var d activities.PolicyDecision
					dec := json.NewDecoder(bytes.NewReader(res.Output))
					dec.DisallowUnknownFields()
					require.NoError(t, dec.Decode(&d))
					assert.Contains(t, []string{"allow", "deny"}, d.Decision)
				default:
					assert.True(t, json.Valid(res.Output))
				}
			}
		}
	}
}

// TestCUDAToolsOneContract decodes vector.topk and matmul from the cuda
// pool's CPU reference (what its GPU results are checked against; there
// is no GPU here) and from the native twin into the one contract type,
// with unknown fields refused, and requires equal results.
func TestCUDAToolsOneContract(t *testing.T) {
	nat := native.New(native.Config{})
	k2 := 2
	topk := kernels.TopKArgs{Query: []float32{1, 0}, Vectors: [][]float32{{0, 1}, {1, 0}, {1, 1}, {3, 0}, {-1, 0}, {2, 1}, {0, -1}}, K: &k2}
	for _, args := range []kernels.TopKArgs{topk, {Query: topk.Query, Vectors: topk.Vectors}} {
		ref, err := kernels.TopKCPU(args)
		require.NoError(t, err)
		var got kernels.TopKResult
		runStrict(t, nat, kernels.ToolTopK, args, &got)
		assert.Equal(t, ref, got)
		if args.K == nil {
			assert.Len(t, got.Indices, kernels.DefaultK, "one default k on every runtime")
		}
	}
	mm := kernels.MatMulArgs{A: [][]float32{{1, 2}, {3, 4}}, B: [][]float32{{5, 6}, {7, 8}}}
	ref, err := kernels.MatMulCPU(mm)
	require.NoError(t, err)
	var got kernels.MatMulResult
	runStrict(t, nat, kernels.ToolMatMul, mm, &got)
	assert.Equal(t, ref, got)
	assert.Equal(t, [][]float32{{19, 22}, {43, 50}}, got.C)
	for _, tool := range []string{kernels.ToolTopK, kernels.ToolMatMul} {
		assert.ElementsMatch(t, []string{"cuda", "native"}, activities.SharedTools[tool])
		assert.Contains(t, nat.Tools(), tool, "native serves every cuda tool through a CPU twin")
	}
	assert.ElementsMatch(t, kernels.Tools, []string{kernels.ToolTopK, kernels.ToolMatMul}, "a new cuda tool needs a native twin and a case here")
}

func runStrict(t *testing.T, r activities.Runner, tool string, args, out any) {
	t.Helper()
	in, err := json.Marshal(args)
	require.NoError(t, err)
	res, err := r.Run(context.Background(), activities.Call{Tool: tool, Args: in})
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(res.Output))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(out), "%s output %s", tool, res.Output)
}

// BenchmarkSharedTools runs each guest tool's first input on each runtime
// this machine has, through Runner.Run.
func BenchmarkSharedTools(b *testing.B) {
	nat := native.New(native.Config{})
	w, err := wasm.New(wasm.Config{})
	require.NoError(b, err)
	defer w.Close()
	runners := []activities.Runner{nat, w}
	if h, err := hyperlight.New(hyperlight.Config{}); err == nil {
		defer h.Close()
		runners = append(runners, h)
	}
	for _, tool := range []string{"sha256", "json-field", "policy-check"} {
		for _, r := range runners {
			b.Run(tool+"/"+r.Runtime(), func(b *testing.B) {
				c := activities.Call{Tool: tool, Args: json.RawMessage(guestToolInputs[tool][0])}
				ctx := context.Background()
				if _, err := r.Run(ctx, c); err != nil { // compile or boot outside the loop
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := r.Run(ctx, c); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
