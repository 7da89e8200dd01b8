package expr

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/plan"
)

func testChecker(t *testing.T) *Checker {
	c, err := NewChecker([]plan.Closure{
		{Name: "twice", Params: []plan.Param{{Name: "n", Type: "int"}}, Returns: "int", Body: "n * 2"},
	}, []Var{
		{Name: "inputs.n", Type: "int"},
		{Name: "inputs.name", Type: "string"},
		{Name: "inputs.tags", Type: "map"},
		{Name: "inputs.list", Type: "list"},
		{Name: "steps.ask.approved", Type: "bool"},
		{Name: "steps.ask.status", Type: "string"},
	})
	require.NoError(t, err)
	return c
}

func TestCheck(t *testing.T) {
	c := testChecker(t)
	cases := []struct {
		src, typ string
		uses     []Use
		issue    string
	}{
		{src: "inputs.n + 1", typ: "int", uses: []Use{{"inputs", "n", 0}}},
		{src: `inputs.n + "x"`, issue: "found no matching overload for '_+_' applied to '(int, string)'"},
		{src: "twice(inputs.n) > 3", typ: "bool", uses: []Use{{"inputs", "n", 6}}},
		{src: "inputs.list.map(x, x + index)", typ: "list", uses: []Use{{"inputs", "list", 0}, {"index", "", 23}}},
		{src: "[1].map(item, item)", typ: "list"},
		{src: `steps["ask"].output`, typ: "any", uses: []Use{{"steps", "ask", 0}}},
		{src: "nosuch(1)", issue: "undeclared reference to 'nosuch'"},
		{src: "1 +", issue: "syntax error: the expression ends too early"},
	}
	for _, tc := range cases {
		r := c.Check(tc.src)
		if tc.issue != "" {
			require.NotEmpty(t, r.Issues, tc.src)
			assert.Equal(t, tc.issue, r.Issues[0].Msg, tc.src)
			assert.Nil(t, r.Type)
			continue
		}
		assert.Empty(t, r.Issues, tc.src)
		assert.Equal(t, tc.typ, TypeName(r.Type), tc.src)
		assert.Equal(t, tc.uses, r.Uses, tc.src)
	}
	is := c.Check("nosuch(1)").Issues[0]
	assert.Equal(t, "nosuch", is.Undeclared)
	assert.Equal(t, 0, is.Offset, "points at the name, not the parenthesis")
}

// TestReferenceFastPathAgreesWithCEL: every reference the quick checker
// decides gets the type and uses CEL would give; the rest fall back.
func TestReferenceFastPathAgreesWithCEL(t *testing.T) {
	c := testChecker(t)
	for _, src := range []string{
		"inputs.n", "inputs.name", "inputs.tags", "inputs.tags.a", "inputs.tags.a.b", "inputs.list",
		"inputs.other", "inputs", "steps", "steps.ask", "steps.ask.approved", "steps.ask.status",
		"steps.ask.output", "steps.x.output.y", "item", "item.a.b", "index", "output", "output.x",
		" inputs.n ", "inputs.n.x", "inputs.list.x", "steps.ask.approved.x", "index.x",
		"inputs.in", "nosuch", "nosuch.x", "inputs..n", "inputs.2x", "_x",
	} {
		fast := c.quick(src)
		slow := check(c.env, src)
		if fast == nil {
			continue
		}
		require.Empty(t, slow.Issues, "fast path accepted %q, which CEL rejects", src)
		assert.Equal(t, TypeName(slow.Type), TypeName(fast.Type), src)
		assert.Equal(t, slow.Uses, fast.Uses, src)
	}
	for _, src := range []string{"inputs.n.x", "inputs.in", "nosuch", "index.x", "inputs.list.x"} {
		assert.Nil(t, c.quick(src), "%q must fall back to CEL", src)
	}
}

func TestCheckClosure(t *testing.T) {
	prev := []plan.Closure{{Name: "twice", Params: []plan.Param{{Name: "n", Type: "int"}}, Returns: "int", Body: "n * 2"}}
	r := CheckClosure(prev, plan.Closure{Name: "f", Params: []plan.Param{{Name: "s", Type: "string"}}, Returns: "int", Body: "twice(size(s))"})
	assert.Empty(t, r.Issues)
	r = CheckClosure(prev, plan.Closure{Name: "g", Params: []plan.Param{{Name: "n", Type: "int"}}, Returns: "string", Body: "twice(n)"})
	require.Len(t, r.Issues, 1)
	assert.Equal(t, "body yields int, but the closure returns string", r.Issues[0].Msg)
	r = CheckClosure(nil, plan.Closure{Name: "h", Params: []plan.Param{{Name: "n", Type: "int"}}, Returns: "int", Body: "n + inputs.x"})
	assert.Equal(t, []Use{{"n", "", 0}, {"inputs", "x", 4}}, r.Uses, "the caller reports reads of inputs in a body")
}

func TestNames(t *testing.T) {
	assert.True(t, Reserved("in"))
	assert.False(t, Reserved("incident"))
	for _, b := range []string{"size", "int", "double", "matches", "has", "map", "exists_one"} {
		assert.True(t, Builtin(b), b)
	}
	assert.False(t, Builtin("severity"))
}

func TestBuiltinsAndReservedWords(t *testing.T) {
	bs := Builtins()
	assert.Contains(t, bs, "size")
	assert.Contains(t, bs, "map")
	for _, b := range bs {
		assert.True(t, Builtin(b), b)
	}
	ws := ReservedWords()
	assert.Contains(t, ws, "in")
	for _, w := range ws {
		assert.True(t, Reserved(w), w)
	}
}
