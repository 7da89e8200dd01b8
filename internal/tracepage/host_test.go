package tracepage

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A DNS-rebinding page reaches the listener under its own name: the page
// and its API answer only the names and addresses they are served on.
func TestTracePageRefusesForeignHostHeaders(t *testing.T) {
	url, stop, err := Start("127.0.0.1", 0, Options{Namespace: "default", Hosts: []string{"traces.internal"}})
	require.NoError(t, err)
	defer stop()

	get := func(path, host string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url+path, nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, host := range []string{"evil.example", "evil.example:8234", "127.0.0.1.evil.example", "localhost.evil.example"} {
		for _, path := range []string{"/", "/api/runs", "/api/runs/some-run"} {
			code, body := get(path, host)
			assert.Equal(t, http.StatusMisdirectedRequest, code, "%s %s", host, path)
			assert.NotContains(t, body, "runs")
		}
	}
	for _, host := range []string{"localhost", "localhost:8234", "127.0.0.1:8234", "[::1]:8234", "traces.internal", "TRACES.internal:80", "app.localhost"} {
		code, body := get("/", host)
		assert.Equal(t, http.StatusOK, code, host)
		assert.Contains(t, body, "<html", host)
	}
}
