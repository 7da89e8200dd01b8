package native

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
)

func TestJSONQuery(t *testing.T) {
	const doc = `{"items": [{"name": "a", "n": 12345678901234567890}, {"name": "b", "tags": ["x", "y"]}],
		"a.b": {"c": true}, "nothing": null}`
	tests := []struct {
		name, path, extra, want, wantMsg string
	}{
		{name: "nested", path: "items[0].name", want: `"a"`},
		{name: "big number kept exactly", path: "items[0].n", want: `12345678901234567890`},
		{name: "negative index", path: "items[-1].tags[-2]", want: `"x"`},
		{name: "quoted key", path: `["a.b"].c`, want: `true`},
		{name: "whole input", path: "", want: doc},
		{name: "null value is found", path: "nothing", want: `null`},
		{name: "missing key", path: "items[0].age", wantMsg: `items[0] has no key "age"`},
		{name: "out of range", path: "items[5]", wantMsg: "items has 2 items, so [5] is out of range"},
		{name: "index into object", path: "items[0][0]", wantMsg: "items[0] is an object, not a list"},
		{name: "key into list", path: "items.name", wantMsg: "items is a list, not an object"},
		{name: "key into null", path: "nothing.x", wantMsg: "nothing is null"},
		{name: "default used", path: "items[0].age", extra: `, "default": 0`, want: `0`},
		{name: "null default used", path: "missing", extra: `, "default": null`, want: `null`},
		{name: "default unused", path: "items[1].name", extra: `, "default": "z"`, want: `"b"`},
		{name: "bad path", path: "items[", wantMsg: "unclosed '['"},
	}
	r := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := `{"input": ` + doc + `, "path": ` + quote(tt.path) + tt.extra + `}`
			res, err := call(t, r, "json.query", args, activities.Grants{})
			if tt.wantMsg != "" {
				appErr := requireAppError(t, err, activities.ErrBadArgs, true)
				assert.Contains(t, appErr.Message(), tt.wantMsg)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(res.Output))
			if tt.name == "big number kept exactly" {
				assert.Equal(t, tt.want, string(res.Output))
			}
		})
	}

	_, err := call(t, r, "json.query", `{"path": "a"}`, activities.Grants{})
	requireAppError(t, err, activities.ErrBadArgs, true)
}

func TestJSONTransform(t *testing.T) {
	const obj = `{"id": 7, "user": {"name": "ann", "email": "a@x", "tags": ["t"]}, "meta": {}, "secret": "s"}`
	tests := []struct {
		name, args, want, wantMsg string
	}{
		{name: "pick", args: `{"input": ` + obj + `, "pick": ["id", "user.name", "nope"]}`,
			want: `{"id": 7, "user": {"name": "ann"}}`},
		{name: "drop", args: `{"input": ` + obj + `, "drop": ["secret", "user.email", "user.nope.x"]}`,
			want: `{"id": 7, "user": {"name": "ann", "tags": ["t"]}, "meta": {}}`},
		{name: "rename top level and nested", args: `{"input": ` + obj + `, "pick": ["id", "user.name"], "rename": {"id": "key", "user.name": "who.first"}}`,
			want: `{"key": 7, "user": {}, "who": {"first": "ann"}}`},
		{name: "flatten", args: `{"input": ` + obj + `, "drop": ["secret"], "flatten": true}`,
			want: `{"id": 7, "user.name": "ann", "user.email": "a@x", "user.tags": ["t"], "meta": {}}`},
		{name: "order is pick, drop, rename, flatten", args: `{"input": ` + obj + `, "pick": ["user"], "drop": ["user.tags"], "rename": {"user.email": "mail"}, "flatten": true}`,
			want: `{"user.name": "ann", "mail": "a@x"}`},
		{name: "list of objects", args: `{"input": [{"a": 1, "b": 2}, {"a": 3}], "pick": ["a"]}`,
			want: `[{"a": 1}, {"a": 3}]`},
		{name: "quoted key with dot", args: `{"input": {"a.b": 1, "c": 2}, "pick": ["[\"a.b\"]"]}`,
			want: `{"a.b": 1}`},
		{name: "nothing asked", args: `{"input": {"a": 1}}`, want: `{"a": 1}`},
		{name: "big integers survive", args: `{"input": {"n": 12345678901234567890}}`, want: `{"n": 12345678901234567890}`},
		{name: "index in path", args: `{"input": {"a": [1]}, "pick": ["a[0]"]}`, wantMsg: "list indexes such as [0] are not supported"},
		{name: "scalar input", args: `{"input": 3}`, wantMsg: "input is a number"},
		{name: "list of scalars", args: `{"input": [{}, "x"]}`, wantMsg: "input[1] is a string"},
		{name: "rename into a non-object", args: `{"input": {"a": 1, "b": 2}, "rename": {"a": "b.c"}}`, wantMsg: "b is a number, not an object"},
		{name: "missing input", args: `{"pick": ["a"]}`, wantMsg: `"input" is required`},
	}
	r := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := call(t, r, "json.transform", tt.args, activities.Grants{})
			if tt.wantMsg != "" {
				appErr := requireAppError(t, err, activities.ErrBadArgs, true)
				assert.Contains(t, appErr.Message(), tt.wantMsg)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(res.Output))
			if tt.name == "big integers survive" {
				assert.Equal(t, `{"n":12345678901234567890}`, string(res.Output))
			}
		})
	}
}

func quote(s string) string {
	b, _ := marshal(s)
	return string(b)
}
