package expr

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/plan"
)

func quickChecker(t testing.TB) *Checker {
	c, err := NewChecker([]plan.Closure{
		{Name: "twice", Params: []plan.Param{{Name: "n", Type: "int"}}, Returns: "int", Body: "n * 2"},
		{Name: "tag", Params: []plan.Param{{Name: "s", Type: "string"}, {Name: "i", Type: "int"}}, Returns: "string", Body: `s + "-" + string(i)`},
		{Name: "anyv", Params: []plan.Param{{Name: "v", Type: "any"}}, Returns: "any", Body: "v"},
		{Name: "count", Params: []plan.Param{{Name: "l", Type: "list"}}, Returns: "int", Body: "size(l)"},
		{Name: "half", Params: []plan.Param{{Name: "f", Type: "float"}}, Returns: "float", Body: "f / 2.0"},
		{Name: "none", Returns: "bool", Body: "true"},
	}, []Var{
		{Name: "inputs.n", Type: "int"},
		{Name: "inputs.f", Type: "float"},
		{Name: "inputs.name", Type: "string"},
		{Name: "inputs.ok", Type: "bool"},
		{Name: "inputs.tags", Type: "map"},
		{Name: "inputs.list", Type: "list"},
		{Name: "steps.ask.approved", Type: "bool"},
		{Name: "steps.ask.status", Type: "string"},
	})
	require.NoError(t, err)
	return c
}

// agree fails when the quick checker decides src differently from CEL:
// it must only accept what CEL accepts, with CEL's type and uses.
func agree(t *testing.T, c *Checker, src string) bool {
	t.Helper()
	fast := c.quick(src)
	if fast == nil {
		return false
	}
	slow := check(c.env, src)
	require.Empty(t, slow.Issues, "quick checker accepted %q, which CEL rejects", src)
	require.Equal(t, TypeName(slow.Type), TypeName(fast.Type), "type of %q", src)
	if len(slow.Uses) == 0 {
		require.Empty(t, fast.Uses, "uses of %q", src)
	} else {
		require.Equal(t, slow.Uses, fast.Uses, "uses of %q", src)
	}
	return true
}

// TestQuickAgreesWithCEL: the hand-picked cases cover each rule of the
// quick checker, in both directions (decided, and left to CEL).
func TestQuickAgreesWithCEL(t *testing.T) {
	c := quickChecker(t)
	decided := []string{
		"inputs.n + 1", "inputs.n + 17", " twice(inputs.n) + 6 ", "tag(item, index)", `steps.ask.status == "ok" && inputs.n > 2`,
		"inputs.n * 2 - 3 / 1 % 2", "-inputs.n", "- -3", "!inputs.ok", "!item", "item == 3", `item != "x"`, "item < 3",
		"inputs.f < inputs.n", "inputs.n >= inputs.f", "inputs.f + inputs.f", `"a" + inputs.name + 'b'`, `"a" < "b"`,
		"(inputs.n + 1) * 2", "inputs.ok || steps.ask.approved && true", "item && item", "anyv(1) == anyv(2)",
		"count(inputs.list)", "half(inputs.f)", "half(item)", "none()", "anyv(inputs.tags)", "steps.x.output",
		"steps.x.output == inputs.name", "item.a.b == 1", "output.ok", "inputs.tags.a == 1", "index % 2 == 0",
		"1 == 1 == true", "false", "0", "''", "twice(twice(twice(1)))",
	}
	for _, src := range decided {
		assert.True(t, agree(t, c, src), "%q should be decided quickly", src)
	}
	fallback := []string{
		`inputs.n + "x"`, "inputs.n == inputs.f", "item + 1", "item + item", "-item", "-inputs.name", "!inputs.n",
		"inputs.n < inputs.name", "inputs.ok < inputs.ok", "inputs.f % inputs.f", `"a" - "b"`, "inputs.tags == 1",
		"twice(1,)", "twice()", "twice(inputs.name)", "tag(1, 2)", "half(1)", "nosuch(1)", "size(inputs.list)",
		"inputs.list.map(x, x)", "inputs.name.size()", `inputs["n"]`, "inputs.n ? 1 : 2", "1.5", "1u", "0x10",
		"1e3", `"a\n"`, `r"a"`, `b"a"`, `"""a"""`, "// c\n1", "null", "inputs.in", "in", "nosuch", "nosuch.x",
		"9223372036854775808", "1 +", "(1", "1)", "inputs..n", ".inputs.n", "inputs.n.x", "index.x", "true.x",
		"twice(1).x", "(inputs).n", "[1]", "{}", "'é'", "1 < 2 < 3", "a b", strings.Repeat("(", 40) + "1" + strings.Repeat(")", 40),
		strings.Repeat("!", 300) + "true", strings.Repeat("-", 300) + "1",
	}
	for _, src := range fallback {
		assert.False(t, agree(t, c, src), "%q must fall back to CEL", src)
	}
}

// TestQuickAgreesWithCELRandom checks random token soups, most of them
// invalid, against CEL.
func TestQuickAgreesWithCELRandom(t *testing.T) {
	c := quickChecker(t)
	atoms := []string{"inputs.n", "inputs.f", "inputs.name", "inputs.ok", "inputs.tags", "inputs.list", "item", "index",
		"steps.ask.status", "steps.ask.approved", "steps.x.output", "output", "1", "0", "'s'", `"t"`, "true", "false", "nosuch"}
	binops := []string{"+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||", ",", ""}
	r := rand.New(rand.NewSource(1))
	var gen func(depth int) string
	gen = func(depth int) string {
		switch k := r.Intn(10); {
		case depth > 3 || k < 4:
			return atoms[r.Intn(len(atoms))]
		case k < 5:
			return []string{"!", "-"}[r.Intn(2)] + gen(depth+1)
		case k < 6:
			return "(" + gen(depth+1) + ")"
		case k < 8:
			fn := []string{"twice", "tag", "anyv", "count", "half", "none", "size"}[r.Intn(7)]
			args := make([]string, r.Intn(3))
			for i := range args {
				args[i] = gen(depth + 1)
			}
			return fn + "(" + strings.Join(args, ", ") + ")"
		}
		return gen(depth+1) + " " + binops[r.Intn(len(binops))] + " " + gen(depth+1)
	}
	n := 3000
	if testing.Short() {
		n = 500
	}
	decided := 0
	for i := 0; i < n; i++ {
		if agree(t, c, gen(0)) {
			decided++
		}
	}
	assert.Greater(t, decided, n/10, "the generator should exercise accepted expressions too")
}

func TestQuickTablesAgree(t *testing.T) {
	for w := range reservedWords {
		if !reserved(w) {
			t.Errorf("reserved(%q) is false", w)
		}
	}
	for _, w := range []string{"", "a", "inputs", "steps", "Null", "iff"} {
		if reserved(w) {
			t.Errorf("reserved(%q) is true", w)
		}
	}
	for _, op := range quickOps {
		if got := quickOp(op + " x"); got != op {
			t.Errorf("quickOp(%q) = %q", op+" x", got)
		}
	}
	for _, s := range []string{"=", "&", "|", "?", "[", "x"} {
		if got := quickOp(s); got != "" {
			t.Errorf("quickOp(%q) = %q", s, got)
		}
	}
}
