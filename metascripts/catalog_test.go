package metascripts

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workers"
)

// TestCatalogIsWhatThePoolsServe fails when a pool offers a tool the
// compiler does not know, or the compiler knows a tool no pool offers. The
// compiler's side is what it accepts: a step `tool: RUNTIME:NAME` with
// the inventory it is given; the pools' side is each running pool's
// Runner.Tools. A pool this machine cannot run is skipped, saying why.
func TestCatalogIsWhatThePoolsServe(t *testing.T) {
	cfg := poolConfig()
	inv := pools()
	for _, rt := range plan.Runtimes {
		t.Run(rt, func(t *testing.T) {
			runners, err := workers.Build([]string{rt}, cfg)
			if err != nil {
				t.Skipf("pool %s cannot run on this machine: %v", rt, err)
			}
			defer func() { _ = runners[0].Close() }()
			served := runners[0].Tools()
			require.NotEmpty(t, served, "pool %s serves no tools", rt)
			assert.Equal(t, served, inv.Tools(rt), "the inventory the compiler checks %s steps against is not what the %s pool serves", rt, rt)
			for _, tool := range served {
				src := fmt.Sprintf("metascript: t\nsteps:\n  - {id: a, tool: %q}\n", rt+":"+tool)
				_, err := Compile("t.yaml", []byte(src), Options{Catalog: inv})
				// Other faults (a tool that needs a grant) are not the
				// catalogue's; these two are.
				if err != nil {
					assert.NotContains(t, err.Error(), "unknown tool", "the %s pool serves %s, which the compiler refuses", rt, tool)
					assert.NotContains(t, err.Error(), "does not offer", "the %s pool serves %s, which the compiler refuses", rt, tool)
				}
			}
		})
	}
}

// TestCompilerKnowsNoToolOfItsOwn: given an empty catalogue the compiler
// accepts no tool step and no reason step, so every tool it accepts comes
// from the inventory it is given.
func TestCompilerKnowsNoToolOfItsOwn(t *testing.T) {
	empty := workers.ToolInventory{}
	for _, rt := range plan.Runtimes {
		for _, tool := range pools().Tools(rt) {
			src := fmt.Sprintf("metascript: t\nsteps:\n  - {id: a, tool: %q}\n", rt+":"+tool)
			_, err := Compile("t.yaml", []byte(src), Options{Catalog: empty})
			require.Error(t, err, "%s:%s compiled with an empty catalogue", rt, tool)
			assert.Contains(t, err.Error(), "unknown tool", "%s:%s", rt, tool)
		}
	}
	_, err := Compile("t.yaml", []byte("metascript: t\nsteps:\n  - {id: a, tool: echo}\n"), Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `t.yaml:3:19: unknown tool "echo": no tool catalogue was given to the compiler (Options.Catalog)`)
	_, err = Compile("t.yaml", []byte("metascript: t\nagents: [researcher]\nsteps:\n  - {id: a, agent: researcher, reason: {prompt: hi}}\n"), Options{Catalog: empty})
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "model.chat"), "a reason step needs native:model.chat from the catalogue: %v", err)
}
