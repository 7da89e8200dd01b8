package diag

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSuggest(t *testing.T) {
	cands := []string{"tool", "needs", "concurrency", "steps", "schedule_to_start"}
	for in, want := range map[string]string{
		"tol":              "tool",
		"neds":             "needs",
		"concurency":       "concurrency",
		"setps":            "steps",
		"Steps":            "steps",
		"schedule_to_sart": "schedule_to_start",
		"zzz":              "",
		"":                 "",
	} {
		assert.Equal(t, want, Suggest(in, cands), in)
	}
	assert.Equal(t, ` (did you mean "tool"?)`, DidYouMean("tol", cands))
	assert.Equal(t, "", DidYouMean("tool", cands), "an exact match is not a suggestion")
}

func TestDiagnosticsSortAndDedupe(t *testing.T) {
	ds := Diagnostics{
		{File: "b.yaml", Line: 1, Col: 1, Msg: "x"},
		{File: "a.yaml", Line: 3, Col: 2, Msg: "second"},
		{File: "a.yaml", Line: 3, Col: 2, Msg: "second"},
		{File: "a.yaml", Line: 1, Col: 9, Msg: "first"},
	}
	err := ds.Err()
	require.Error(t, err)
	assert.Equal(t, "a.yaml:1:9: first\na.yaml:3:2: second\nb.yaml:1:1: x", err.Error())
	assert.NoError(t, Diagnostics(nil).Err())
}

func TestParse(t *testing.T) {
	f, root := Parse("x.yaml", []byte("a: 1\nb: [1, 2\n"))
	assert.Nil(t, root)
	require.Len(t, f.Diags, 1)
	assert.Equal(t, "x.yaml:2:1: yaml: did not find expected ',' or ']'", f.Diags[0].String())

	f, root = Parse("x.yaml", []byte("a: &x 1\nb: *x\n"))
	require.NotNil(t, root)
	assert.Equal(t, "x.yaml:1:4: anchors (&x) are not supported; write the value out\nx.yaml:2:4: aliases (*x) are not supported; write the value out", f.Diags.Error())

	f, root = Parse("x.yaml", []byte(""))
	assert.Nil(t, root)
	assert.Empty(t, f.Diags)
}

func TestReaders(t *testing.T) {
	f, root := Parse("x.yaml", []byte("i: 3\nn: 2.5\nb: true\nd: 90s\nbad: [1]\ne: red\n"))
	m := f.Mapping(root, "thing", []string{"i", "n", "b", "d", "bad", "e"})
	i, ok := f.Int(m["i"].Value, "i")
	assert.True(t, ok)
	assert.Equal(t, 3, i)
	n, _ := f.Number(m["n"].Value, "n")
	assert.Equal(t, 2.5, n)
	b, _ := f.Bool(m["b"].Value, "b")
	assert.True(t, b)
	d, _ := f.Duration(m["d"].Value, "d")
	assert.Equal(t, "1m30s", d.String())
	_, ok = f.String(m["bad"].Value, "bad")
	assert.False(t, ok)
	_, ok = f.Enum(m["e"].Value, "e", []string{"reed", "blue"})
	assert.False(t, ok)
	assert.Equal(t, "x.yaml:5:6: bad must be a string, not a list\nx.yaml:6:4: e must be one of reed, blue, not \"red\" (did you mean \"reed\"?)", f.Diags.Error())
}
