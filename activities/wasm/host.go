package wasm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/tars-engine/tars/activities"
)

// HostModule is the import module name of the TARS host functions.
const HostModule = "tars"

// Results of tars.http_fetch below zero. They are part of the guest ABI:
// never renumber one.
const (
	FetchDenied   = -1 // the URL's host is not in grants.http_hosts, or not http(s)
	FetchInvalid  = -2 // a pointer or length is outside memory, or the URL does not parse
	FetchFailed   = -3 // no response, a timeout, or a status other than 2xx
	FetchTooLarge = -4 // the body is larger than out_cap or the pool's MaxFetchBytes
)

// instantiateHost adds the "tars" module to rt:
//
//	log(ptr, len i32)                                 append to the call's log
//	http_fetch(url_ptr, url_len, out_ptr, out_cap i32) i32   GET a granted URL
//
// Both are always importable, so a module links whatever its grants; what a
// call may do is decided per call from its grants.
func (r *Runner) instantiateHost(ctx context.Context, rt wazero.Runtime) error {
	i32 := api.ValueTypeI32
	_, err := rt.NewHostModuleBuilder(HostModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostLog), []api.ValueType{i32, i32}, nil).
		WithParameterNames("ptr", "len").
		Export("log").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(r.hostFetch), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("url_ptr", "url_len", "out_ptr", "out_cap").
		Export("http_fetch").
		Instantiate(ctx)
	return err
}

// hostLog appends guest memory [ptr, ptr+len) to the call's log, adding a
// newline when the message has none. A range outside memory traps: it is a
// bug in the guest, and silence would hide it.
func hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	msg, ok := mod.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("tars.log: range [%d, %d+%d) is outside memory", ptr, ptr, n))
	}
	cs := stateFrom(ctx)
	if cs == nil {
		return
	}
	_, _ = cs.log.Write(msg)
	if n == 0 || msg[n-1] != '\n' {
		_, _ = cs.log.Write([]byte{'\n'})
	}
}

// hostFetch GETs a granted URL into guest memory and returns the body
// length, or a Fetch* code. Denials and failures are also written to the
// call's log, so a user sees why without the guest reporting it.
func (r *Runner) hostFetch(ctx context.Context, mod api.Module, stack []uint64) {
	stack[0] = api.EncodeI32(r.fetch(ctx, mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]),
		api.DecodeU32(stack[2]), api.DecodeU32(stack[3])))
}

func (r *Runner) fetch(ctx context.Context, mod api.Module, urlPtr, urlLen, outPtr, outCap uint32) int32 {
	cs := stateFrom(ctx)
	mem := mod.Memory()
	raw, ok := mem.Read(urlPtr, urlLen)
	if !ok || cs == nil {
		return FetchInvalid
	}
	if _, ok := mem.Read(outPtr, outCap); !ok {
		return FetchInvalid
	}
	rawURL := string(raw)
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		cs.logf("tars.http_fetch: %q is not an absolute URL", rawURL)
		return FetchInvalid
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		cs.logf("tars.http_fetch: %s denied: only http and https URLs without credentials", u.Redacted())
		return FetchDenied
	}
	if !activities.HostAllowed(cs.grants.HTTPHosts, u) {
		if err := activities.CeilingRefusal(ctx, activities.Call{Step: cs.step}, activities.GrantHTTPHosts, strings.ToLower(u.Hostname()),
			func(v string) bool { return activities.HostAllowed([]string{v}, u) }); err != nil {
			if cs.refusal == nil {
				cs.refusal = err
			}
			cs.logf("tars.http_fetch: %s denied: %v", u.Redacted(), err)
			return FetchDenied
		}
		cs.logf("tars.http_fetch: %s denied: host %q is not in grants.http_hosts", u.Redacted(), u.Host)
		return FetchDenied
	}

	ctx, cancel := context.WithTimeout(ctx, r.cfg.HTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return FetchInvalid
	}
	resp, err := r.client.Do(req)
	if err != nil {
		var denied *deniedRedirect
		if errors.As(err, &denied) {
			cs.logf("tars.http_fetch: %s denied: redirect to host %q, which is not granted", u.Redacted(), denied.host)
			return FetchDenied
		}
		cs.logf("tars.http_fetch: GET %s: %v", u.Redacted(), err)
		return FetchFailed
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		cs.logf("tars.http_fetch: GET %s: %s", u.Redacted(), resp.Status)
		return FetchFailed
	}
	limit := min(int64(outCap), int64(r.cfg.MaxFetchBytes))
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		cs.logf("tars.http_fetch: GET %s: reading body: %v", u.Redacted(), err)
		return FetchFailed
	}
	if int64(len(body)) > limit {
		cs.logf("tars.http_fetch: GET %s: body over %d bytes", u.Redacted(), limit)
		return FetchTooLarge
	}
	if !mem.Write(outPtr, body) {
		return FetchInvalid
	}
	return int32(len(body))
}

func (cs *callState) logf(format string, args ...any) {
	_, _ = fmt.Fprintf(&cs.log, format+"\n", args...)
}

// deniedRedirect stops a redirect to a host the call was not granted.
type deniedRedirect struct{ host string }

func (d *deniedRedirect) Error() string { return "redirect to ungranted host " + d.host }

// newFetchClient is the client behind tars.http_fetch: its own transport
// (proxy settings from the environment, as for every client of the
// worker), and redirects followed only to granted hosts.
func newFetchClient() *http.Client {
	return &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			cs := stateFrom(req.Context())
			if cs == nil || !activities.HostAllowed(cs.grants.HTTPHosts, req.URL) {
				return &deniedRedirect{host: req.URL.Host}
			}
			return nil
		},
	}
}
