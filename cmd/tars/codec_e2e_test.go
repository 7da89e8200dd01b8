package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tars-engine/tars/codec"
	"github.com/tars-engine/tars/internal/devserver"
	"github.com/tars-engine/tars/metascripts"
)

// codecSecret is the input of the codec tests' runs: it must never be
// found in a stored history.
const codecSecret = "plaintext-prompt-7f3a9c"

const codecMetascript = `metascript: codec-secret
inputs:
  text: {type: string}
steps:
  - id: say
    tool: echo
    with: {text: "${inputs.text}"}
  - id: flaky
    tool: fail
    with: {times: 1, message: "${'flaky saw ' + inputs.text}"}
    retry: {attempts: 2, backoff: 10ms}
outputs:
  said: ${steps.say.output}
`

// writeKeyFile writes a key file with fresh keys, the first encrypting.
func writeKeyFile(t *testing.T, ids ...string) string {
	t.Helper()
	var lines []string
	for _, id := range ids {
		k, err := codec.NewKey(id)
		require.NoError(t, err)
		lines = append(lines, k.String())
	}
	p := filepath.Join(t.TempDir(), "codec.keys")
	require.NoError(t, os.WriteFile(p, []byte("# test keys\n"+strings.Join(lines, "\n")+"\n"), 0o600))
	return p
}

// newCodecEnv is a test env whose clients and workers encrypt with the
// keys of keyFile.
func newCodecEnv(t *testing.T, keyFile string) *testEnv {
	t.Setenv("TARS_CODEC_KEY_FILE", keyFile)
	e := newTestEnv(t, "native")
	require.Equal(t, keyFile, e.g.codec.keyFile)
	return e
}

// startCodecRun starts the codec metascript with the secret input.
func (e *testEnv) startCodecRun() string {
	e.t.Helper()
	p, err := metascripts.Compile("codec-secret.yaml", []byte(codecMetascript), metascripts.Options{Catalog: mustInventory(e.t.(*testing.T), e.g)})
	require.NoError(e.t, err)
	id := e.start(p, map[string]any{"text": codecSecret})
	res, err := e.result(id, 2*time.Minute)
	require.NoError(e.t, err)
	require.Contains(e.t, fmt.Sprint(res.Outputs["said"]), codecSecret, "the workers decrypt what they read")
	return id
}

// rawHistory fetches a run's history with a client that has no codec: the
// history as the server stores it.
func rawHistory(t *testing.T, e *testEnv, id string) []*historypb.HistoryEvent {
	t.Helper()
	plain := &globals{address: e.g.address, namespace: e.g.namespace, logLevel: "error", logFormat: "text"}
	c, err := plain.dial(context.Background())
	require.NoError(t, err)
	defer c.Close()
	return history(t, c, id)
}

// TestCodecHistoryHoldsNoPlaintext runs a metascript with the codec on and
// reads its history raw: no payload holds the input, every payload is
// encrypted, failure messages are encoded; commands with the key show the
// plain values, commands without it do not.
func TestCodecHistoryHoldsNoPlaintext(t *testing.T) {
	keys := writeKeyFile(t, "k2", "k1")
	e := newCodecEnv(t, keys)
	id := e.startCodecRun()

	evs := rawHistory(t, e, id)
	payloads, failures := 0, 0
	for _, ev := range evs {
		b, err := protojson.Marshal(ev)
		require.NoError(t, err)
		assert.NotContains(t, string(b), codecSecret, "event %d %s", ev.GetEventId(), ev.GetEventType())
		assert.NotContains(t, string(b), "flaky saw", "event %d %s: failure messages are encoded", ev.GetEventId(), ev.GetEventType())
		require.NoError(t, proxy.VisitPayloads(context.Background(), ev, proxy.VisitPayloadsOptions{
			SkipSearchAttributes: true,
			Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
				for _, p := range ps {
					payloads++
					assert.Equal(t, codec.Encoding, string(p.GetMetadata()["encoding"]), "event %d %s", ev.GetEventId(), ev.GetEventType())
					assert.Equal(t, "k2", string(p.GetMetadata()[codec.MetadataKeyID]), "the first key encrypts")
				}
				return ps, nil
			},
		}))
		if f := ev.GetActivityTaskStartedEventAttributes().GetLastFailure(); f != nil {
			failures++
			assert.Equal(t, "Encoded failure", f.GetMessage())
		}
	}
	assert.Greater(t, payloads, 5, "the run's input, steps' arguments and outputs, its result")
	assert.Equal(t, 1, failures, "flaky's first attempt failed")

	// With the key: result, trace and export show plain values.
	out, stderr, err := e.cli("result", id, "-o", "json", "--codec-key-file", keys)
	require.NoError(t, err, stderr)
	assert.Contains(t, out, codecSecret)
	out, stderr, err = e.cli("trace", id, "-o", "json", "--codec-key-file", keys)
	require.NoError(t, err, stderr)
	assert.Contains(t, out, "flaky saw "+codecSecret, "the trace shows the decoded failure")

	// Without it: no plain values come out.
	out, stderr, err = e.cliNoCodec("result", id, "-o", "json")
	require.Error(t, err, "without the key the result cannot be read")
	assert.NotContains(t, out+stderr+err.Error(), codecSecret)
	assert.Contains(t, withCodecHint(err).Error(), "--codec-key-file", "main adds what to do")

	// An export without the key holds ciphertext; tars trace of that file
	// with the key decodes it.
	file := filepath.Join(t.TempDir(), "run.json")
	_, stderr, err = e.cliNoCodec("history", "export", id, "--file", file)
	require.NoError(t, err, stderr)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.NotContains(t, string(b), codecSecret)
	assert.Contains(t, string(b), "YmluYXJ5L2VuY3J5cHRlZA==", "binary/encrypted")
	out, stderr, err = e.cli("trace", file, "-o", "json", "--codec-key-file", keys)
	require.NoError(t, err, stderr)
	assert.Contains(t, out, "flaky saw "+codecSecret)
	_, stderr, err = e.cliWithin(time.Minute, e.g.address, "trace", file, "-o", "json", "--codec-key-file", writeKeyFile(t, "k3"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `key "k2"`)
	assert.NotContains(t, stderr, codecSecret)

	// Bad settings are clear errors.
	_, _, err = e.cli("result", id, "--codec-key-file", keys, "--codec-endpoint", "http://127.0.0.1:1")
	require.ErrorContains(t, err, "use one")
	_, _, err = e.cliNoCodec("result", id, "--codec-endpoint", "ftp://x")
	require.ErrorContains(t, err, "want an http:// or https:// URL")
	_, _, err = e.cliNoCodec("result", id, "--codec-key-file", filepath.Join(t.TempDir(), "missing"))
	require.ErrorContains(t, err, "codec key file")
}

// cliNoCodec runs the command line with no codec keys in the environment.
func (e *testEnv) cliNoCodec(args ...string) (string, string, error) {
	e.t.Helper()
	if v, ok := os.LookupEnv("TARS_CODEC_KEY_FILE"); ok {
		os.Unsetenv("TARS_CODEC_KEY_FILE")
		defer os.Setenv("TARS_CODEC_KEY_FILE", v)
	}
	return e.cli(args...)
}

// TestCodecServerDecodesHistory serves the keys with tars codec-server and
// reads the run through it: CLIs with --codec-endpoint see plain values,
// the protocol decodes the raw history's payloads, a server without the
// key refuses, and the Web UI's CORS preflight is answered.
func TestCodecServerDecodesHistory(t *testing.T) {
	keys := writeKeyFile(t, "k1")
	e := newCodecEnv(t, keys)
	id := e.startCodecRun()

	const origin = "http://127.0.0.1:8233"
	s, err := startCodecServer(e.g, codecServerFlags{ip: "127.0.0.1", origins: []string{origin}, auth: "Bearer t0ken"}, io.Discard)
	require.NoError(t, err)
	defer s.close()

	out, stderr, err := e.cliNoCodec("result", id, "-o", "json", "--codec-endpoint", s.url, "--codec-auth", "Bearer t0ken")
	require.NoError(t, err, stderr)
	assert.Contains(t, out, codecSecret)
	out, stderr, err = e.cliNoCodec("trace", id, "-o", "json", "--codec-endpoint", s.url, "--codec-auth", "Bearer t0ken")
	require.NoError(t, err, stderr)
	assert.Contains(t, out, "flaky saw "+codecSecret)
	_, _, err = e.cliNoCodec("result", id, "--codec-endpoint", s.url)
	require.Error(t, err, "no --codec-auth")
	assert.Contains(t, err.Error(), "Unauthorized")

	// The protocol on the history's own payloads.
	var input *commonpb.Payloads
	for _, ev := range rawHistory(t, e, id) {
		if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			input = a.GetInput()
		}
	}
	require.NotNil(t, input)
	body, err := protojson.Marshal(input)
	require.NoError(t, err)
	decode := func(url string, hdr map[string]string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, url+"/decode", strings.NewReader(string(body)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", e.g.namespace)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, got := decode(s.url, map[string]string{"Authorization": "Bearer t0ken", "Origin": origin})
	require.Equal(t, http.StatusOK, code, got)
	var dec commonpb.Payloads
	require.NoError(t, protojson.Unmarshal([]byte(got), &dec))
	var in map[string]any
	require.NoError(t, json.Unmarshal(dec.Payloads[0].GetData(), &in), "the run's input, plain JSON")
	assert.Contains(t, string(dec.Payloads[0].GetData()), codecSecret)

	// A codec server with other keys refuses and leaks nothing.
	other := &globals{}
	other.codec.keyFile = writeKeyFile(t, "k9")
	s2, err := startCodecServer(other, codecServerFlags{ip: "127.0.0.1"}, io.Discard)
	require.NoError(t, err)
	defer s2.close()
	code, got = decode(s2.url, nil)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, got, `key "k1"`)
	assert.NotContains(t, got, codecSecret)

	// The Web UI's preflight.
	req, err := http.NewRequest(http.MethodOptions, s.url+"/decode", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "x-namespace,content-type,authorization")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, origin, resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
	assert.Equal(t, "X-Namespace, Content-Type, Authorization", resp.Header.Get("Access-Control-Allow-Headers"))

	// codec-server without keys says what it needs; --new-key prints one.
	_, _, err = e.cliNoCodec("codec-server", "--port", "0")
	require.ErrorContains(t, err, "needs the keys")
	out, _, err = e.cliNoCodec("codec-server", "--new-key", "2026-12")
	require.NoError(t, err)
	ks, err := codec.ParseKeys(out, "stdout")
	require.NoError(t, err)
	assert.Equal(t, "2026-12", ks[0].ID)
}

// uiEnv starts a server of its own with the Web UI (pointed at
// codecEndpoint when set) and this test's workers on it.
func uiEnv(t *testing.T, uiPort int, codecEndpoint string) *testEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: needs the embedded Temporal server and Web UI; run without -short")
	}
	srv, err := devserver.Start(context.Background(), devserver.Options{
		UIPort: uiPort, UICodecEndpoint: codecEndpoint, SearchAttributes: searchAttributes(), Tuned: true, LogLevel: "error",
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	g := &globals{}
	require.NoError(t, g.resolve())
	g.address, g.namespace, g.queuePrefix, g.logLevel = srv.FrontendAddress(), srv.Namespace(), "ui", "error"
	c, err := g.dial(context.Background())
	require.NoError(t, err)
	e := &testEnv{t: t, g: g, srv: srv, c: c}
	t.Cleanup(func() {
		if e.host != nil {
			e.host.Stop()
		}
		c.Close()
	})
	e.startWorkers(true, "native")
	return e
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestWebUIDecodesThroughCodecServer opens a run's page in the Web UI in
// headless Chromium: with tars dev's --ui-codec-endpoint the browser
// decodes the input through tars codec-server and the plain value is in the
// page; without it the page holds no plain value. Saves the screenshot as
// docs/ui-codec.png with -update-golden.
func TestWebUIDecodesThroughCodecServer(t *testing.T) {
	chromium := needChromium(t)
	t.Setenv("TARS_CODEC_KEY_FILE", writeKeyFile(t, "k1"))

	uiPort := freePort(t)
	uiOrigin := fmt.Sprintf("http://127.0.0.1:%d", uiPort)
	g := &globals{}
	require.NoError(t, g.resolve())
	s, err := startCodecServer(g, codecServerFlags{ip: "127.0.0.1", origins: []string{uiOrigin}}, io.Discard)
	require.NoError(t, err)
	defer s.close()

	browser := func(page string, extra ...string) string {
		return string(headless(t, chromium, page, append([]string{"--virtual-time-budget=20000", "--window-size=1400,1000", "--hide-scrollbars"}, extra...)...))
	}
	runPage := func(e *testEnv, id string) string {
		d, err := e.c.DescribeWorkflowExecution(context.Background(), id, "")
		require.NoError(t, err)
		return fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/history", e.srv.UIAddress(), e.g.namespace, id, d.GetWorkflowExecutionInfo().GetExecution().GetRunId())
	}

	withCodec := uiEnv(t, uiPort, s.url)
	require.Equal(t, uiOrigin, withCodec.srv.UIAddress())
	resp, err := http.Get(withCodec.srv.UIAddress() + "/api/v1/settings")
	require.NoError(t, err)
	settings, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(settings), s.url, "the UI's settings name the codec endpoint")
	id := withCodec.startCodecRun()
	page := runPage(withCodec, id)
	dom := browser(page, "--dump-dom")
	assert.Contains(t, dom, codecSecret, "the UI shows the input decoded through the codec server")
	shot := filepath.Join(t.TempDir(), "ui-codec.png")
	browser(page, "--screenshot="+shot)
	b, err := os.ReadFile(shot)
	require.NoError(t, err)
	require.Greater(t, len(b), 20_000, "a screenshot of the page, not a blank one")
	if *updateGolden {
		require.NoError(t, os.WriteFile("../../docs/ui-codec.png", b, 0o644))
	}

	without := uiEnv(t, 0, "")
	id = without.startCodecRun()
	dom = browser(runPage(without, id), "--dump-dom")
	assert.Contains(t, dom, id, "the run's page loaded")
	assert.NotContains(t, dom, codecSecret, "without a codec endpoint the UI has only ciphertext")
}
