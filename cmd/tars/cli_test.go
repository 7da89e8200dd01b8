package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/tars-engine/tars/plan"
)

func inputsPlan() *plan.Plan {
	return &plan.Plan{Name: "p", Inputs: []plan.Input{{Name: "text", Type: "string"}, {Name: "n", Type: "int"}, {Name: "list", Type: "list"}}}
}

func TestInputsFileAcceptsJSONSurrogatePairs(t *testing.T) {
	f := filepath.Join(t.TempDir(), "in.json")
	require.NoError(t, os.WriteFile(f, []byte(`{"text": "launch \ud83d\ude80", "n": 3, "list": [1, 2.5]}`), 0o644))
	in, err := parseInputs(inputsPlan(), f, nil)
	require.NoError(t, err)
	assert.Equal(t, "launch 🚀", in["text"])
	assert.EqualValues(t, 3, in["n"])
	assert.Equal(t, []any{int64(1), 2.5}, in["list"])

	// YAML, flow-style YAML and JSON keep working.
	require.NoError(t, os.WriteFile(f, []byte("text: plain\nn: 4\n"), 0o644))
	in, err = parseInputs(inputsPlan(), f, nil)
	require.NoError(t, err)
	assert.Equal(t, "plain", in["text"])
	require.NoError(t, os.WriteFile(f, []byte("{text: flow, n: 5}"), 0o644))
	in, err = parseInputs(inputsPlan(), f, nil)
	require.NoError(t, err)
	assert.Equal(t, "flow", in["text"])

	require.NoError(t, os.WriteFile(f, []byte(`{"text": "broken`), 0o644))
	_, err = parseInputs(inputsPlan(), f, nil)
	require.ErrorContains(t, err, "--inputs-file "+f)
}

func TestInvalidUTF8InputIsAnError(t *testing.T) {
	_, err := parseInputs(inputsPlan(), "", []string{"text=ok\xff\xfe"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--input text: value is not valid UTF-8 (at byte 2)")

	f := filepath.Join(t.TempDir(), "in.yaml")
	require.NoError(t, os.WriteFile(f, []byte("text: \xff\n"), 0o644))
	_, err = parseInputs(inputsPlan(), f, nil)
	require.ErrorContains(t, err, "not valid UTF-8")

	in, err := parseInputs(inputsPlan(), "", []string{"text=héllo 🚀"})
	require.NoError(t, err)
	assert.Equal(t, "héllo 🚀", in["text"])
}

func TestLinksNameTheRealUI(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	g := &globals{address: "10.1.2.3:7300", namespace: "ns"}
	assert.Equal(t, "http://10.1.2.3:8300/namespaces/ns/workflows/r1", g.runLink("r1"), "Temporal's convention: UI port = frontend port + 1000")

	g = &globals{address: "127.0.0.1:7299", namespace: "default"}
	done, err := writeDevState(devState{PID: os.Getpid(), Address: g.address, UI: "http://127.0.0.1:9555"})
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:9555/namespaces/default/workflows/r1", g.runLink("r1"), "the UI of the tars dev serving --address")
	done()

	_, err = writeDevState(devState{PID: os.Getpid(), Address: g.address, UI: ""})
	require.NoError(t, err)
	assert.Equal(t, "", g.runLink("r1"), "tars dev --ui-port -1: no link rather than a wrong one")

	g.uiURL = "https://ui.example/"
	assert.Equal(t, "https://ui.example/namespaces/default/workflows/r1", g.runLink("r1"), "--ui wins")

	// A tars dev that died without removing its state file: its UI is
	// not named, the convention is used instead.
	exited := exec.Command(os.Args[0], "-test.run=^$")
	require.NoError(t, exited.Run())
	assert.False(t, processAlive(exited.Process.Pid), "a process that has exited")
	assert.True(t, processAlive(os.Getpid()))
	g = &globals{address: "127.0.0.1:7298", namespace: "default"}
	_, err = writeDevState(devState{PID: exited.Process.Pid, Address: g.address, UI: "http://127.0.0.1:9556"})
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8298/namespaces/default/workflows/r1", g.runLink("r1"), "a stale state file is ignored")
}

func TestTemporalClientConfigProfiles(t *testing.T) {
	for _, k := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_PROFILE", "TEMPORAL_TLS", "TARS_CONFIG"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	file := filepath.Join(t.TempDir(), "temporal.toml")
	require.NoError(t, os.WriteFile(file, []byte(`
[profile.default]
address = "default.example:7233"
namespace = "dflt"

[profile.prod]
address = "prod.example:7233"
namespace = "prod-ns"
api_key = "k1"
[profile.prod.grpc_meta]
x-team = "ops"
`), 0o644))
	t.Setenv("TEMPORAL_CONFIG_FILE", file)

	resolved := func(args ...string) *globals {
		t.Helper()
		g := &globals{}
		root := &cobra.Command{Use: "tars"}
		g.register(root)
		require.NoError(t, root.PersistentFlags().Parse(args))
		require.NoError(t, g.resolve())
		return g
	}

	g := resolved()
	assert.Equal(t, "default.example:7233", g.address)
	assert.Equal(t, "dflt", g.namespace)

	g = resolved("--profile", "prod")
	assert.Equal(t, "prod.example:7233", g.address)
	assert.Equal(t, "prod-ns", g.namespace)
	assert.Equal(t, "k1", g.conn.APIKey)
	assert.Equal(t, map[string]string{"x-team": "ops"}, g.conn.GRPCMeta)
	opts, err := g.conn.ToClientOptions(toClientOptionsRequest())
	require.NoError(t, err)
	require.NotNil(t, opts.HeadersProvider)
	h, err := opts.HeadersProvider.GetHeaders(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "ops", h["x-team"])

	t.Setenv("TEMPORAL_PROFILE", "prod")
	t.Setenv("TEMPORAL_NAMESPACE", "from-env")
	g = resolved("--grpc-meta", "X_Request_Source=tars", "--grpc-meta", "x-team=dev")
	assert.Equal(t, "prod.example:7233", g.address, "TEMPORAL_PROFILE picks the profile")
	assert.Equal(t, "from-env", g.namespace, "environment over the file")
	assert.Equal(t, map[string]string{"x-team": "dev", "x-request-source": "tars"}, g.conn.GRPCMeta, "flags over the file, keys normalised")

	g = resolved("--address", "flag.example:1", "-n", "from-flag")
	assert.Equal(t, "flag.example:1", g.address, "flags over everything")
	assert.Equal(t, "from-flag", g.namespace)

	g = &globals{profile: "nope"}
	err = g.resolve()
	require.Error(t, err)
	assert.Contains(t, err.Error(), file)
	assert.Contains(t, err.Error(), "nope")

	g = &globals{grpcMeta: []string{"novalue"}}
	require.ErrorContains(t, g.resolve(), `--grpc-meta "novalue": want KEY=VALUE`)
}

func toClientOptionsRequest() envconfig.ToClientOptionsRequest {
	return envconfig.ToClientOptionsRequest{}
}

func TestDevIPWarningAndBanner(t *testing.T) {
	var b strings.Builder
	warnOpenIP(&b, "127.0.0.1", "x")
	warnOpenIP(&b, "localhost", "x")
	warnOpenIP(&b, "::1", "x")
	assert.Empty(t, b.String(), "loopback: no warning")
	warnOpenIP(&b, "0.0.0.0", "the Temporal server, Web UI, trace page and the frontend's HTTP API")
	assert.Contains(t, b.String(), "warning: --ip 0.0.0.0: the Temporal server, Web UI, trace page and the frontend's HTTP API listen on the network with no authentication")

	assert.Equal(t, "0.0.0.0:7233 (every interface; from this machine 127.0.0.1:7233)", listenDesc("0.0.0.0", "127.0.0.1:7233"))
	assert.Equal(t, "10.0.0.5:7233", listenDesc("10.0.0.5", "10.0.0.5:7233"))
}
