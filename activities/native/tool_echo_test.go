package native

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
)

func TestEcho(t *testing.T) {
	tests := []struct {
		name, args, want string
		wantType         string
	}{
		{name: "value key", args: `{"value": {"b": [1, 2]}, "other": 1}`, want: `{"b": [1, 2]}`},
		{name: "value null", args: `{"value": null}`, want: `null`},
		{name: "whole object", args: `{"a": 1, "b": "two"}`, want: `{"a": 1, "b": "two"}`},
		{name: "non-object", args: `[1, "x"]`, want: `[1, "x"]`},
		{name: "big integer kept exactly", args: `{"value": 12345678901234567890}`, want: `12345678901234567890`},
		{name: "no args", args: ``, want: `null`},
		{name: "invalid JSON", args: `{"a":`, wantType: activities.ErrBadArgs},
	}
	r := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := call(t, r, "echo", tt.args, activities.Grants{})
			if tt.wantType != "" {
				requireAppError(t, err, tt.wantType, true)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(res.Output))
			if tt.name == "big integer kept exactly" {
				assert.Equal(t, tt.want, string(res.Output))
			}
		})
	}
}
