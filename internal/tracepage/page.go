// Package tracepage serves the TARS trace page: recent runs, and each run's
// DAG grouped by agent, coloured by state and runtime, updated live. It
// also holds what the page and the tars trace command share: fetching a
// run's history and building its trace.
package tracepage

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/tars-engine/tars/internal/hostcheck"
	"github.com/tars-engine/tars/workflows"
	"github.com/tars-engine/tars/workflows/trace"
)

// The page is three static files served from the binary: no build step, no
// CDN (the machines it runs on may have no internet).
//
//go:embed static/index.html static/trace.css static/trace.js
var staticFiles embed.FS

// Options configures the page.
type Options struct {
	// Dial connects to the Temporal server; the page dials on first use,
	// so it can start before the server is up.
	Dial      func(context.Context) (client.Client, error)
	Namespace string
	Address   string // shown on the page
	// UIBase is the Temporal Web UI's base URL for links ("" when none).
	UIBase func() string
	Logger *slog.Logger
	// Hosts are the host names (besides localhost and the addresses the
	// page listens on) that requests may name in their Host header.
	Hosts []string
	// Value reads the whole value a payload of a history holds: a stored
	// one from external storage, decoded by the payload codec if one is
	// in use. Nil: the page serves only values held in the history.
	Value func(ctx context.Context, p *commonpb.Payload) (*commonpb.Payload, error)
}

// tracePage serves the trace page and its JSON API:
//
//	GET /                 the page (?run=WORKFLOW_ID[&rid=RUN_ID] opens a run)
//	GET /api/runs         recent runs of the namespace (?q= a visibility query)
//	GET /api/runs/{id}    a run's trace, merged with its live state while it
//	                      runs (?run_id= picks a run other than the latest)
//	GET /api/value/{id}   a value of the run whole (?run_id=, ?event= the
//	                      event that holds it: an activity's result or
//	                      input, the run's input or result), fetched from
//	                      external storage when stored there
type tracePage struct {
	o   Options
	log *slog.Logger

	routesOnce sync.Once
	mux        http.Handler

	mu     sync.Mutex
	c      client.Client
	closed map[string]*trace.Trace // traces of closed runs, by workflow id + run id
}

// Start listens on ip:port (0: any free port) and serves the page until
// stop is called. Requests whose Host header names neither localhost, an
// address the page listens on, nor one of o.Hosts are refused (403): a
// DNS-rebinding page in a browser cannot read runs through it.
func Start(ip string, port int, o Options) (string, func(), error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return "", nil, fmt.Errorf("trace page: %w (choose another port with --trace-port or --port)", err)
	}
	srv := &http.Server{Handler: Handler(ip, o), ReadHeaderTimeout: 5 * time.Second}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("trace page stopped", "error", err)
		}
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if c, ok := srv.Handler.(*hostGuard).next.(interface{ close() }); ok {
			c.close()
		}
	}
	return "http://" + ln.Addr().String(), stop, nil
}

// Handler is the page and its API behind the Host check, for a page
// listening on ip.
func Handler(ip string, o Options) http.Handler {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	p := &tracePage{o: o, log: log, closed: map[string]*trace.Trace{}}
	return &hostGuard{allow: hostcheck.Allowed(ip, o.Hosts), next: p}
}

func (p *tracePage) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c != nil {
		p.c.Close()
		p.c = nil
	}
}

func (p *tracePage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.routesOnce.Do(func() { p.mux = p.routes() })
	p.mux.ServeHTTP(w, r)
}

func (p *tracePage) routes() http.Handler {
	static, _ := fs.Sub(staticFiles, "static")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, static, "index.html")
	})
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /api/runs", p.listRuns)
	mux.HandleFunc("GET /api/runs/{id...}", p.getRun)
	mux.HandleFunc("GET /api/value/{id...}", p.getValue)
	return mux
}

func (p *tracePage) client(ctx context.Context) (client.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c != nil {
		return p.c, nil
	}
	c, err := p.o.Dial(ctx)
	if err != nil {
		return nil, err
	}
	p.c = c
	return c, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// runSummary is one row of the run list.
type runSummary struct {
	WorkflowID string    `json:"workflow_id"`
	RunID      string    `json:"run_id"`
	Type       string    `json:"type"`
	Status     string    `json:"status"`
	Start      time.Time `json:"start"`
	Close      time.Time `json:"close,omitzero"`
	Parent     string    `json:"parent,omitempty"`
}

func (p *tracePage) listRuns(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	c, err := p.client(ctx)
	if err != nil {
		writeError(w, http.StatusBadGateway, err)
		return
	}
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: p.o.Namespace, PageSize: 100, Query: r.URL.Query().Get("q"),
	})
	if err != nil {
		writeError(w, http.StatusBadGateway, err)
		return
	}
	runs := make([]runSummary, 0, len(resp.GetExecutions()))
	for _, e := range resp.GetExecutions() {
		s := runSummary{
			WorkflowID: e.GetExecution().GetWorkflowId(), RunID: e.GetExecution().GetRunId(), Type: e.GetType().GetName(),
			Status: RunStatus(e.GetStatus()), Start: e.GetStartTime().AsTime(), Parent: e.GetParentExecution().GetWorkflowId(),
		}
		if e.GetCloseTime() != nil {
			s.Close = e.GetCloseTime().AsTime()
		}
		runs = append(runs, s)
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs, "namespace": p.o.Namespace, "address": p.o.Address})
}

// RunStatus names a workflow status as the trace does.
func RunStatus(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return trace.RunRunning
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return trace.RunCompleted
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return trace.RunFailed
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return trace.RunTimedOut
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return trace.RunCanceled
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return trace.RunTerminated
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return trace.RunContinuedAsNew
	}
	return strings.ToLower(s.String())
}

// runLinks are the Temporal UI links of a run: its history, and the prefix
// of a per-event link (append the event id), a route of the UI
// (/namespaces/{ns}/workflows/{wid}/{rid}/history/events/{id}).
type runLinks struct {
	Run    string `json:"run"`
	Events string `json:"events"`
}

func (p *tracePage) links(wid, rid string) runLinks {
	ui := ""
	if p.o.UIBase != nil {
		ui = p.o.UIBase()
	}
	if ui == "" {
		return runLinks{}
	}
	base := fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/history", strings.TrimRight(ui, "/"),
		url.PathEscape(p.o.Namespace), url.PathEscape(wid), url.PathEscape(rid))
	return runLinks{Run: base, Events: base + "/events/"}
}

func (p *tracePage) getRun(w http.ResponseWriter, r *http.Request) {
	wid, rid := r.PathValue("id"), r.URL.Query().Get("run_id")
	if wid == "" {
		writeError(w, http.StatusBadRequest, errors.New("no workflow id"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	if rid != "" {
		p.mu.Lock()
		t := p.closed[wid+"/"+rid]
		p.mu.Unlock()
		if t != nil {
			writeJSON(w, http.StatusOK, map[string]any{"trace": t, "ui": p.links(wid, rid), "fetched_at": time.Now()})
			return
		}
	}
	c, err := p.client(ctx)
	if err != nil {
		writeError(w, http.StatusBadGateway, err)
		return
	}
	rh, err := FetchHistory(ctx, c, wid, rid)
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	t, err := BuildTrace(ctx, c, rh, false, 0)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	if !rh.Open {
		p.mu.Lock()
		if len(p.closed) >= 256 {
			clear(p.closed) // simple bound; traces rebuild in milliseconds
		}
		p.closed[wid+"/"+rh.RunID] = t
		p.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, map[string]any{"trace": t, "ui": p.links(wid, rh.RunID), "fetched_at": time.Now()})
}

// getValue serves one value of a run whole: the payload of the event the
// query names, read back from external storage when the history holds a
// reference. It answers the JSON of the value as the history (or the
// store) holds it; an activity's result is {"output": ...}.
func (p *tracePage) getValue(w http.ResponseWriter, r *http.Request) {
	wid, rid := r.PathValue("id"), r.URL.Query().Get("run_id")
	eventID, err := strconv.ParseInt(r.URL.Query().Get("event"), 10, 64)
	if wid == "" || err != nil || eventID <= 0 {
		writeError(w, http.StatusBadRequest, errors.New("want /api/value/WORKFLOW_ID?event=EVENT_ID[&run_id=RUN_ID]"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	c, err := p.client(ctx)
	if err != nil {
		writeError(w, http.StatusBadGateway, err)
		return
	}
	var ev *historypb.HistoryEvent
	it := c.GetWorkflowHistory(ctx, wid, rid, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for ev == nil && it.HasNext() {
		e, err := it.Next()
		if err != nil {
			writeError(w, http.StatusNotFound, fmt.Errorf("run %s: %w", wid, err))
			return
		}
		if e.GetEventId() == eventID {
			ev = e
		}
	}
	if ev == nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("run %s has no event %d", wid, eventID))
		return
	}
	payload := eventValue(ev)
	if payload == nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("event %d of run %s (%s) holds no value", eventID, wid, ev.GetEventType()))
		return
	}
	if _, stored := workflows.StoredReference(payload); stored {
		if p.o.Value == nil {
			writeError(w, http.StatusNotImplemented, errors.New("the value is in external storage, which this trace page is not configured to read (docs/large-values.md)"))
			return
		}
		if payload, err = p.o.Value(ctx, payload); err != nil {
			writeError(w, http.StatusBadGateway, err)
			return
		}
	}
	if enc := string(payload.GetMetadata()["encoding"]); enc != "json/plain" {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Errorf("the value is %s, not JSON (encrypted without a codec configured?)", enc))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(payload.GetData())
}

// eventValue is the first value an event holds, or nil.
func eventValue(e *historypb.HistoryEvent) *commonpb.Payload {
	var ps *commonpb.Payloads
	switch {
	case e.GetActivityTaskCompletedEventAttributes() != nil:
		ps = e.GetActivityTaskCompletedEventAttributes().GetResult()
	case e.GetActivityTaskScheduledEventAttributes() != nil:
		ps = e.GetActivityTaskScheduledEventAttributes().GetInput()
	case e.GetWorkflowExecutionStartedEventAttributes() != nil:
		ps = e.GetWorkflowExecutionStartedEventAttributes().GetInput()
	case e.GetWorkflowExecutionCompletedEventAttributes() != nil:
		ps = e.GetWorkflowExecutionCompletedEventAttributes().GetResult()
	}
	if len(ps.GetPayloads()) == 0 {
		return nil
	}
	return ps.GetPayloads()[0]
}
