package expr

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/plan"
)

func TestEval(t *testing.T) {
	env, err := New([]plan.Closure{
		{Name: "severity", Params: []plan.Param{{Name: "n", Type: "int"}}, Returns: "string", Body: `n > 5 ? "high" : "low"`},
		{Name: "shout", Params: []plan.Param{{Name: "s", Type: "string"}}, Returns: "string", Body: `severity(size(s)) + ":" + s`},
	})
	require.NoError(t, err)
	vars := Vars{
		"inputs": map[string]any{"incident": "db down", "services": []any{"api", "db"}, "n": int64(7)},
		"steps":  map[string]any{"plan": map[string]any{"output": map[string]any{"b": int64(2), "a": int64(1)}}},
		"item":   "api",
		"index":  int64(1),
	}
	cases := []struct {
		src  string
		want any
	}{
		{`inputs.incident`, "db down"},
		{`size(inputs.services)`, int64(2)},
		{`inputs.n + 1`, int64(8)},
		{`inputs.n > 3.5`, true},
		{`severity(inputs.n)`, "high"},
		{`shout("hi")`, "low:hi"},
		{`item + "-" + string(index)`, "api-1"},
		{`steps.plan.output.map(k, k)`, []any{"a", "b"}},
		{`{"x": [1, 2]}`, map[string]any{"x": []any{int64(1), int64(2)}}},
	}
	for _, c := range cases {
		got, err := env.Eval(c.src, vars)
		require.NoError(t, err, c.src)
		assert.Equal(t, c.want, got, c.src)
	}
}

func TestMapOrderIsSorted(t *testing.T) {
	env, err := New(nil)
	require.NoError(t, err)
	m := map[string]any{}
	for _, k := range []string{"q", "w", "e", "r", "t", "y", "u", "i", "o", "p"} {
		m[k] = int64(1)
	}
	for i := 0; i < 20; i++ {
		got, err := env.Eval(`inputs.m.map(k, k)`, Vars{"inputs": map[string]any{"m": m}})
		require.NoError(t, err)
		assert.Equal(t, []any{"e", "i", "o", "p", "q", "r", "t", "u", "w", "y"}, got)
	}
}

func TestCostLimit(t *testing.T) {
	env, err := New(nil)
	require.NoError(t, err)
	_, err = env.Eval(`[1,2,3,4,5,6,7,8,9,10].map(a, [1,2,3,4,5,6,7,8,9,10].map(b, [1,2,3,4,5,6,7,8,9,10].map(c, [1,2,3,4,5,6,7,8,9,10].map(d, [1,2,3,4,5,6,7,8,9,10].map(e, [1,2,3,4,5,6,7,8,9,10].map(f, a+b+c+d+e+f))))))`, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cost")
}

func TestCompileErrors(t *testing.T) {
	env, err := New(nil)
	require.NoError(t, err)
	_, err = env.Compile(`nosuch.x`)
	assert.ErrorContains(t, err, "undeclared reference to 'nosuch'")
	_, err = env.Compile(`1 +`)
	assert.Error(t, err)
	_, err = New([]plan.Closure{{Name: "f", Params: []plan.Param{{Name: "n", Type: "int"}}, Returns: "bool", Body: `n + "x"`}})
	assert.ErrorContains(t, err, "closure f")
}

func TestTemplates(t *testing.T) {
	env, err := New(nil)
	require.NoError(t, err)
	vars := Vars{"inputs": map[string]any{"k": int64(5), "l": []any{"a"}, "s": "x"}}
	out, err := env.RenderJSON(json.RawMessage(`{"k":"${inputs.k}","msg":"k=${inputs.k} l=${inputs.l} $${lit}","m":"${ {'a': '}'}.a }","n":[1,"${inputs.s}"]}`), vars)
	require.NoError(t, err)
	assert.JSONEq(t, `{"k":5,"msg":"k=5 l=[\"a\"] ${lit}","m":"}","n":[1,"x"]}`, string(out))

	_, err = Split("abc ${inputs.k")
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 4, se.Offset)
}
