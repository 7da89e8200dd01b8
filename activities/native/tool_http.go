package native

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/activities"
)

type httpArgs struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
	Timeout *duration         `json:"timeout"`
}

type httpOutput struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	JSON    json.RawMessage   `json:"json,omitempty"`
}

const maxRedirects = 10

// runHTTPRequest makes one HTTP request to a granted host. A 4xx answer is
// an output for the step to inspect; a 5xx answer or a network failure is a
// retryable ToolFailed error.
func (r *Runner) runHTTPRequest(ctx context.Context, call activities.Call) (activities.Result, error) {
	const tool = "http.request"
	var args httpArgs
	if err := decodeArgs(tool, call.Args, &args); err != nil {
		return activities.Result{}, err
	}
	u, err := url.Parse(args.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return activities.Result{}, badArgs(tool, "\"url\" must be an absolute http or https URL, got %q", args.URL)
	}
	if err := checkHost(ctx, call, tool, u); err != nil {
		return activities.Result{}, err
	}
	method := strings.ToUpper(args.Method)
	if method == "" {
		method = http.MethodGet
	}
	body, jsonBody, err := requestBody(args.Body)
	if err != nil {
		return activities.Result{}, badArgs(tool, "%v", err)
	}
	timeout := r.cfg.HTTPTimeout
	if args.Timeout != nil && *args.Timeout > 0 {
		timeout = time.Duration(*args.Timeout)
	}
	reqCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(reqCtx, method, u.String(), body)
	if err != nil {
		return activities.Result{}, badArgs(tool, "%v", err)
	}
	for k, v := range args.Headers {
		req.Header.Set(k, v)
	}
	if jsonBody && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{
		Transport: r.transport,
		// A granted host must not be a way to reach one that is not.
		CheckRedirect: func(next *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return checkHost(ctx, call, tool, next.URL)
		},
	}
	where := method + " " + urlForMessage(u)

	resp, err := client.Do(req)
	if err != nil {
		var appErr *temporal.ApplicationError
		switch {
		case errors.As(err, &appErr):
			return activities.Result{}, appErr
		case ctx.Err() != nil:
			return activities.Result{}, fmt.Errorf("%s: %s: %w", tool, where, ctx.Err())
		case reqCtx.Err() != nil:
			return activities.Result{}, failed(tool, nil, "%s: no response within %s", where, timeout)
		}
		return activities.Result{}, failed(tool, err, "%s failed", where)
	}
	defer resp.Body.Close()

	data, err := io.ReadAll(io.LimitReader(resp.Body, r.cfg.HTTPMaxBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return activities.Result{}, fmt.Errorf("%s: %s: %w", tool, where, ctx.Err())
		}
		return activities.Result{}, failed(tool, err, "%s: reading the response body", where)
	}
	if int64(len(data)) > r.cfg.HTTPMaxBytes {
		return activities.Result{}, tooLarge(tool, "%s: response body is over %d bytes (Config.HTTPMaxBytes)", where, r.cfg.HTTPMaxBytes)
	}
	if resp.StatusCode >= 500 {
		return activities.Result{}, failed(tool, nil, "%s answered %s: %s", where, resp.Status, snippet(data, 300))
	}
	out := httpOutput{Status: resp.StatusCode, Headers: flatHeaders(resp.Header), Body: string(data)}
	if isJSONContent(resp.Header.Get("Content-Type")) && json.Valid(data) {
		out.JSON = data
	}
	return output(tool, out)
}

// checkHost refuses u unless its host is granted (activities.HostAllowed
// says how grants are written). A host the policy grants but the worker's
// ceiling does not is refused with the ceiling's message.
func checkHost(ctx context.Context, call activities.Call, tool string, u *url.URL) error {
	grants := call.Grants.HTTPHosts
	if activities.HostAllowed(grants, u) {
		return nil
	}
	host := strings.ToLower(u.Hostname())
	if err := activities.CeilingRefusal(ctx, call, activities.GrantHTTPHosts, host,
		func(v string) bool { return activities.HostAllowed([]string{v}, u) }); err != nil {
		return err
	}
	granted := "none are granted"
	if len(grants) > 0 {
		granted = "granted: " + strings.Join(grants, ", ")
	}
	return refused(tool, "host %q is not granted; add it to policy.grants.http_hosts (%s)", host, granted)
}

// requestBody returns the body to send: a JSON string is sent as its text,
// any other JSON value as JSON (and reported so, for the Content-Type).
func requestBody(raw json.RawMessage) (io.Reader, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, false, fmt.Errorf("body: %v", err)
		}
		return strings.NewReader(s), false, nil
	}
	return bytes.NewReader(raw), true, nil
}

// flatHeaders joins repeated header values with ", " so that a step can
// read output.headers["Content-Type"] as a string.
func flatHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		out[k] = strings.Join(vs, ", ")
	}
	return out
}

func isJSONContent(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// urlForMessage drops the user info and query, where credentials tend to
// be, from a URL that goes into an error message and the history.
func urlForMessage(u *url.URL) string {
	v := *u
	v.User, v.RawQuery, v.Fragment = nil, "", ""
	return v.String()
}

// snippet returns at most n bytes of b as text, for error messages.
func snippet(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}
