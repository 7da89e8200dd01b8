package devserver

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The HTTP API is off unless asked for.
func TestHTTPAPIOffByDefault(t *testing.T) {
	s := sharedServer(t)
	assert.Empty(t, s.HTTPAPIAddress())
	assert.Zero(t, s.layout.frontendHTTP, "no HTTP listener of the server's own")
}

// Asked for, it answers this machine's requests and refuses what a web page
// could send: another Host (DNS rebinding), another Origin, and state
// changes that are not JSON (CORS "simple" requests need no preflight).
func TestHTTPAPIRefusesBrowserAttacks(t *testing.T) {
	skipIfShort(t)
	s := startServer(t, Options{UIPort: NoUI, HTTPPort: AnyHTTPPort, Tuned: true})
	base := "http://" + s.HTTPAPIAddress()
	do := func(method, url, host, origin, ctype, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		require.NoError(t, err)
		if host != "" {
			req.Host = host
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	list := base + "/api/v1/namespaces/default/workflows"
	code, body := do(http.MethodGet, list, "", "", "", "")
	require.Equal(t, http.StatusOK, code, body)

	code, _ = do(http.MethodGet, list, "evil.example", "", "", "")
	assert.Equal(t, http.StatusMisdirectedRequest, code, "a rebound DNS name")

	start := base + "/api/v1/namespaces/default/workflows/csrf-1"
	payload := `{"workflowType": {"name": "x"}, "taskQueue": {"name": "q"}}`
	code, _ = do(http.MethodPost, start, "", "http://evil.example", "text/plain", payload)
	assert.Equal(t, http.StatusForbidden, code, "a cross-origin POST")
	code, _ = do(http.MethodPost, start, "", "http://evil.example", "application/json", payload)
	assert.Equal(t, http.StatusForbidden, code, "a cross-origin POST, even as JSON")
	code, _ = do(http.MethodPost, start, "", "", "text/plain", payload)
	assert.Equal(t, http.StatusUnsupportedMediaType, code, "a CORS-simple state change")

	// The server's own listener answers nobody but the guard.
	code, _ = do(http.MethodGet, "http://"+s.layout.frontendHTTPAddr+"/api/v1/namespaces/default/workflows", "", "", "", "")
	assert.Equal(t, http.StatusForbidden, code)

	code, body = do(http.MethodPost, start, "", base, "application/json", payload)
	assert.Equal(t, http.StatusOK, code, "a same-origin JSON start goes through: %s", body)
}

// With the HTTP API off on purpose, the server's warning about it is not
// passed on.
func TestNoHTTPAPIWarningIsDropped(t *testing.T) {
	var b strings.Builder
	l := newServerLog(slog.New(slog.NewTextHandler(&b, nil)), slog.LevelWarn)
	l.Warn("HTTP API port has not been set. Nexus HTTP endpoints will not be available.")
	l.Warn("something else")
	assert.NotContains(t, b.String(), "HTTP API port")
	assert.Contains(t, b.String(), "something else")
}

// The Web UI answers only Host headers naming this machine: a page that
// rebinds its DNS name to 127.0.0.1 gets 421, not the UI's API.
func TestUIRefusesForeignHostHeaders(t *testing.T) {
	s := sharedServer(t)
	require.NotEmpty(t, s.UIAddress())
	get := func(host, path string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, s.UIAddress()+path, nil)
		require.NoError(t, err)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusMisdirectedRequest, get("evil.example", "/"))
	assert.Equal(t, http.StatusMisdirectedRequest, get("evil.example:8233", "/api/v1/namespaces/default/workflows"))
	assert.Equal(t, http.StatusOK, get("", "/"))
	assert.Equal(t, http.StatusOK, get("localhost", "/"))
}

// A scraper or probe pointed at the Web UI port gets a plain-text 404 that
// names --metrics-addr, not the UI's HTML with 200 (issue 14); the UI
// itself still answers.
func TestUIPortDoesNotPassForMetricsOrProbes(t *testing.T) {
	s := sharedServer(t)
	require.NotEmpty(t, s.UIAddress())
	for _, path := range []string{"/metrics", "/metrics/", "/livez", "/readyz", "/readyz?verbose"} {
		resp, err := http.Get(s.UIAddress() + path)
		require.NoError(t, err, path)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
		assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"), path)
		assert.Contains(t, string(b), "--metrics-addr", path)
		assert.NotContains(t, string(b), "<html", path)
	}
	resp, err := http.Get(s.UIAddress() + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the UI's own health check still answers")
}
