package activities

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestResolveAndMaskSecrets(t *testing.T) {
	env := map[string]string{"TARS_SECRET_TOKEN": `a"b\c`}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	args := json.RawMessage(`{"h":"Bearer ` + SecretRef("token") + `","n":1}`)
	out, used, err := ResolveSecrets(args, lookup)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m), "still JSON: %s", out)
	assert.Equal(t, `Bearer a"b\c`, m["h"])
	assert.Equal(t, []string{`a"b\c`}, used)

	res := MaskSecrets(Result{Output: out, Log: `token a"b\c`}, used)
	assert.JSONEq(t, `{"h":"Bearer ***","n":1}`, string(res.Output))
	assert.Equal(t, "token ***", res.Log)

	_, _, err = ResolveSecrets(json.RawMessage(`"`+SecretRef("other")+`"`), lookup)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TARS_SECRET_OTHER is not set on this worker")

	plain := json.RawMessage(`{"x":1}`)
	out, used, err = ResolveSecrets(plain, lookup)
	require.NoError(t, err)
	assert.Equal(t, plain, out)
	assert.Empty(t, used)
}
