package metascripts

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Metascripts that call each other in pairs, level by level, used to make a
// Plan that copied every child into its caller: 2^depth copies of the
// leaf (46 files of 4.6 KB took 48.6 s and 5.7 GB at depth 18, and died at
// depth 22). A Plan now carries each metascript once (issue 17, item 3).
func TestCallsDoNotGrowExponentially(t *testing.T) {
	const depth = 22
	dir := t.TempDir()
	write := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(body), 0o644))
	}
	write("l0", "metascript: l0\nsteps:\n  - {id: leaf, tool: echo, with: {value: 1}}\noutputs:\n  v: ${steps.leaf.output}\n")
	for i := 1; i <= depth; i++ {
		write(fmt.Sprintf("l%d", i), fmt.Sprintf(`metascript: l%d
steps:
  - {id: a, call: {metascript: l%d}}
  - {id: b, call: {metascript: l%d}}
`, i, i-1, i-1))
	}
	p, err := CompileFile(filepath.Join(dir, fmt.Sprintf("l%d.yaml", depth)), Options{Catalog: pools()})
	require.NoError(t, err)
	assert.Len(t, p.Children, depth, "each called metascript once")
	for name, c := range p.Children {
		assert.Empty(t, c.Children, "%s carries no copies of its own", name)
	}
	b, err := json.Marshal(p)
	require.NoError(t, err)
	assert.Less(t, len(b), 64<<10, "the Plan's JSON grows with the number of metascripts, not the calls")
}

// The table is bounded: a Plan may call at most MaxChildren metascripts.
func TestCallsAreBounded(t *testing.T) {
	dir := t.TempDir()
	n := MaxChildren + 2 // the root and one more than the table holds
	for i := 0; i < n; i++ {
		body := fmt.Sprintf("metascript: c%d\nsteps:\n  - {id: leaf, tool: echo}\n", i)
		if i+1 < n {
			body = fmt.Sprintf("metascript: c%d\nsteps:\n  - {id: next, call: {metascript: c%d}}\n", i, i+1)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("c%d.yaml", i)), []byte(body), 0o644))
	}
	_, err := CompileFile(filepath.Join(dir, "c0.yaml"), Options{Catalog: pools()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("calls more than %d distinct metascripts", MaxChildren))
}

// Secret inputs are strings without defaults: their value comes from the
// workers' environment and must never sit in the Plan.
func TestSecretInputs(t *testing.T) {
	ok := "metascript: s\ninputs:\n  token: {type: string, secret: true}\nsteps:\n  - {id: a, tool: echo, with: {value: \"${inputs.token}\"}}\n"
	p, err := Compile("s.yaml", []byte(ok), Options{Catalog: pools()})
	require.NoError(t, err)
	assert.True(t, p.Inputs[0].Secret)
	for src, want := range map[string]string{
		"metascript: s\ninputs:\n  n: {type: int, secret: true}\nsteps:\n  - {id: a, tool: echo}\n":                "s.yaml:3:18: secret input n must have type string",
		"metascript: s\ninputs:\n  n: {type: string, secret: true, default: x}\nsteps:\n  - {id: a, tool: echo}\n": "s.yaml:3:35: secret input n cannot have a default",
	} {
		_, err := Compile("s.yaml", []byte(src), Options{Catalog: pools()})
		require.Error(t, err)
		assert.Contains(t, err.Error(), want)
	}
}
