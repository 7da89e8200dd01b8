package native

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
)

// testHTTPServer answers by path: /json, /text, /status/<code>, /echo
// (method, headers and body back as JSON), /big, /slow and /redirect?to=.
func testHTTPServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case req.URL.Path == "/json":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			fmt.Fprint(w, `{"ok": true, "n": 3}`)
		case req.URL.Path == "/problem":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"title": "not here"}`)
		case req.URL.Path == "/text":
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Add("X-Multi", "a")
			w.Header().Add("X-Multi", "b")
			fmt.Fprint(w, "hello")
		case strings.HasPrefix(req.URL.Path, "/status/"):
			var code int
			fmt.Sscanf(strings.TrimPrefix(req.URL.Path, "/status/"), "%d", &code)
			w.WriteHeader(code)
			fmt.Fprintf(w, "status %d", code)
		case req.URL.Path == "/echo":
			body, _ := io.ReadAll(req.Body)
			w.Header().Set("Content-Type", "application/json")
			b, _ := marshal(map[string]string{
				"method": req.Method, "content_type": req.Header.Get("Content-Type"),
				"x_token": req.Header.Get("X-Token"), "body": string(body),
			})
			w.Write(b)
		case req.URL.Path == "/big":
			w.Write([]byte(strings.Repeat("x", 2000)))
		case req.URL.Path == "/slow":
			select {
			case <-time.After(5 * time.Second):
			case <-req.Context().Done():
			}
		case req.URL.Path == "/redirect":
			http.Redirect(w, req, req.URL.Query().Get("to"), http.StatusFound)
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPRequest(t *testing.T) {
	srv := testHTTPServer(t)
	u, _ := url.Parse(srv.URL)
	granted := activities.Grants{HTTPHosts: []string{"127.0.0.1"}}
	tests := []struct {
		name         string
		args         string
		grants       activities.Grants
		check        func(t *testing.T, out map[string]any)
		wantType     string
		nonRetryable bool
		wantMsg      string
	}{
		{name: "json body parsed", args: `{"url": "` + srv.URL + `/json"}`, grants: granted, check: func(t *testing.T, out map[string]any) {
			assert.EqualValues(t, 200, out["status"])
			assert.Equal(t, `{"ok": true, "n": 3}`, out["body"])
			assert.Equal(t, map[string]any{"ok": true, "n": 3.0}, out["json"])
			assert.Equal(t, "application/json; charset=utf-8", out["headers"].(map[string]any)["Content-Type"])
		}},
		{name: "text body, joined headers", args: `{"url": "` + srv.URL + `/text"}`, grants: granted, check: func(t *testing.T, out map[string]any) {
			assert.Equal(t, "hello", out["body"])
			assert.NotContains(t, out, "json")
			assert.Equal(t, "a, b", out["headers"].(map[string]any)["X-Multi"])
		}},
		{name: "4xx is an output", args: `{"url": "` + srv.URL + `/problem"}`, grants: granted, check: func(t *testing.T, out map[string]any) {
			assert.EqualValues(t, 404, out["status"])
			assert.Equal(t, map[string]any{"title": "not here"}, out["json"], "+json content types parse")
		}},
		{name: "post JSON body", args: `{"method": "post", "url": "` + srv.URL + `/echo", "headers": {"X-Token": "t"}, "body": {"a": [1]}}`, grants: granted,
			check: func(t *testing.T, out map[string]any) {
				assert.Equal(t, map[string]any{"method": "POST", "content_type": "application/json", "x_token": "t", "body": `{"a": [1]}`}, out["json"])
			}},
		{name: "string body sent as is", args: `{"method": "PUT", "url": "` + srv.URL + `/echo", "headers": {"Content-Type": "text/csv"}, "body": "a,b"}`, grants: granted,
			check: func(t *testing.T, out map[string]any) {
				assert.Equal(t, map[string]any{"method": "PUT", "content_type": "text/csv", "x_token": "", "body": "a,b"}, out["json"])
			}},
		{name: "host and port grant", args: `{"url": "` + srv.URL + `/text"}`, grants: activities.Grants{HTTPHosts: []string{u.Host}}, check: func(t *testing.T, out map[string]any) {
			assert.EqualValues(t, 200, out["status"])
		}},
		{name: "5xx is retryable", args: `{"url": "` + srv.URL + `/status/503"}`, grants: granted,
			wantType: activities.ErrToolFailed, wantMsg: "503 Service Unavailable: status 503"},
		{name: "host not granted", args: `{"url": "` + srv.URL + `/json"}`, grants: activities.Grants{HTTPHosts: []string{"example.com"}},
			wantType: activities.ErrPolicyRefused, nonRetryable: true, wantMsg: `host "127.0.0.1" is not granted; add it to policy.grants.http_hosts (granted: example.com)`},
		{name: "no hosts granted", args: `{"url": "` + srv.URL + `/json"}`,
			wantType: activities.ErrPolicyRefused, nonRetryable: true, wantMsg: "none are granted"},
		{name: "other port not granted", args: `{"url": "` + srv.URL + `/json"}`, grants: activities.Grants{HTTPHosts: []string{"127.0.0.1:1"}},
			wantType: activities.ErrPolicyRefused, nonRetryable: true},
		{name: "redirect to a host not granted", args: `{"url": "` + srv.URL + `/redirect?to=http://localhost:1/x"}`, grants: granted,
			wantType: activities.ErrPolicyRefused, nonRetryable: true, wantMsg: `host "localhost" is not granted`},
		{name: "redirect within granted host", args: `{"url": "` + srv.URL + `/redirect?to=/text"}`, grants: granted, check: func(t *testing.T, out map[string]any) {
			assert.Equal(t, "hello", out["body"])
		}},
		{name: "body over the cap", args: `{"url": "` + srv.URL + `/big"}`, grants: granted,
			wantType: activities.ErrOutputTooLarge, nonRetryable: true, wantMsg: "over 1000 bytes"},
		{name: "timeout is retryable", args: `{"url": "` + srv.URL + `/slow", "timeout": "50ms"}`, grants: granted,
			wantType: activities.ErrToolFailed, wantMsg: "no response within 50ms"},
		{name: "not http", args: `{"url": "file:///etc/passwd"}`, grants: granted,
			wantType: activities.ErrBadArgs, nonRetryable: true, wantMsg: "absolute http or https URL"},
		{name: "relative URL", args: `{"url": "/json"}`, grants: granted, wantType: activities.ErrBadArgs, nonRetryable: true},
		{name: "connection refused is retryable", args: `{"url": "http://127.0.0.1:1/"}`, grants: granted, wantType: activities.ErrToolFailed},
	}
	r := New(Config{HTTPMaxBytes: 1000})
	defer r.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := call(t, r, "http.request", tt.args, tt.grants)
			if tt.wantType != "" {
				appErr := requireAppError(t, err, tt.wantType, tt.nonRetryable)
				assert.Contains(t, appErr.Message(), tt.wantMsg)
				return
			}
			require.NoError(t, err)
			tt.check(t, decodeOutput(t, res).(map[string]any))
		})
	}
}

func TestCheckHost(t *testing.T) {
	tests := []struct {
		url    string
		grants []string
		ok     bool
	}{
		{"https://api.example.com/x", []string{"api.example.com"}, true},
		{"https://API.Example.com/x", []string{"api.example.COM"}, true},
		{"https://api.example.com/x", []string{"api.example.com:443"}, true},
		{"https://api.example.com/x", []string{"api.example.com:8443"}, false},
		{"https://api.example.com/x", []string{"*.example.com"}, true},
		{"https://example.com/x", []string{"*.example.com"}, false},
		{"https://evil-example.com/x", []string{"*.example.com"}, false},
		{"https://example.com.evil.net/x", []string{"example.com"}, false},
		{"http://[::1]:8080/x", []string{"::1"}, true},
		{"http://[::1]:8080/x", []string{"[::1]:8080"}, true},
		{"http://x/", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			require.NoError(t, err)
			err = checkHost(context.Background(), activities.Call{Grants: activities.Grants{HTTPHosts: tt.grants}}, "http.request", u)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				requireAppError(t, err, activities.ErrPolicyRefused, true)
			}
		})
	}
}

func TestHTTPRequestCancelled(t *testing.T) {
	srv := testHTTPServer(t)
	r := New(Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := callCtx(ctx, t, r, "http.request", `{"url": "`+srv.URL+`/slow"}`, activities.Grants{HTTPHosts: []string{"127.0.0.1"}})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
