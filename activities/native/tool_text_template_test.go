package native

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
)

func TestTextTemplate(t *testing.T) {
	tests := []struct {
		name, args, want, wantType, wantMsg string
	}{
		{name: "hello", args: `{"template": "Hello {{.name}}", "data": {"name": "Ann"}}`, want: "Hello Ann"},
		{name: "numbers print as written", args: `{"template": "{{.n}} {{.f}}", "data": {"n": 1000000, "f": 0.5}}`, want: "1000000 0.5"},
		{name: "numbers compare", args: `{"template": "{{if gt .n 5}}big{{end}}", "data": {"n": 7}}`, want: "big"},
		{name: "range and funcs", args: `{"template": "{{range .xs}}[{{upper .}}]{{end}} {{join \", \" .xs}} {{json .o}} {{trim .s}}|{{lower .u}}", "data": {"xs": ["a", "b"], "o": {"k": "<v>"}, "s": "  x ", "u": "Q"}}`,
			want: `[A][B] a, b {"k":"<v>"} x|q`},
		{name: "fractions compare with floats", args: `{"template": "{{if gt .x 0.5}}high{{end}}", "data": {"x": 0.7}}`, want: "high"},
		{name: "integer against float is an error", args: `{"template": "{{if gt .n 0.5}}x{{end}}", "data": {"n": 1}}`, wantType: activities.ErrBadArgs, wantMsg: "incompatible types for comparison"},
		{name: "no data", args: `{"template": "plain"}`, want: "plain"},
		{name: "missing key is an error", args: `{"template": "Hello {{.name}}", "data": {}}`, wantType: activities.ErrBadArgs, wantMsg: `map has no entry for key "name"`},
		{name: "parse error", args: `{"template": "Hello {{.name"}`, wantType: activities.ErrBadArgs, wantMsg: "unclosed action"},
		{name: "template required", args: `{"data": {}}`, wantType: activities.ErrBadArgs, wantMsg: `"template" is required`},
		{name: "output capped", args: `{"template": "{{range 1000}}0123456789{{end}}"}`, wantType: activities.ErrOutputTooLarge, wantMsg: "over 4096 bytes"},
	}
	r := New(Config{OutputMaxBytes: 4096})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := call(t, r, "text.template", tt.args, activities.Grants{})
			if tt.wantType != "" {
				appErr := requireAppError(t, err, tt.wantType, true)
				assert.Contains(t, appErr.Message(), tt.wantMsg)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, map[string]any{"text": tt.want}, decodeOutput(t, res))
		})
	}
}

func TestTextTemplateWithinCap(t *testing.T) {
	r := New(Config{OutputMaxBytes: 4096})
	res, err := call(t, r, "text.template", `{"template": "{{range 300}}0123456789{{end}}"}`, activities.Grants{})
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("0123456789", 300), decodeOutput(t, res).(map[string]any)["text"])
}
