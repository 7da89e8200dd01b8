package native

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/tars-engine/tars/activities"
)

// RuntimeName is the runtime this package serves; its task queue is
// tars.native unless the deployment changes the prefix.
const RuntimeName = "native"

// ToolFunc runs one call of a tool. call.Args holds the evaluated `with` of
// the step as JSON; the returned Result.Output must be JSON. Return errors
// made with activities.NonRetryable or activities.Retryable so that a
// step's retry policy and on_error rules can match their type.
type ToolFunc func(ctx context.Context, call activities.Call) (activities.Result, error)

// Tool is a named tool of the native runtime.
type Tool struct {
	// Name is what a step writes after `tool:` (without the "native:"
	// prefix) and the Temporal activity type name.
	Name string
	// Description is one line for `tars tools`.
	Description string
	// Func runs a call. It must be safe for concurrent use.
	Func ToolFunc
}

// Config configures a Runner. The zero value is usable: every zero field
// takes the default its comment gives.
type Config struct {
	// HTTPTimeout bounds one http.request call when its args give no
	// timeout (default 30s). The activity deadline bounds it too.
	HTTPTimeout time.Duration
	// HTTPMaxBytes caps the response body http.request and model.chat read
	// (default 4 MiB); a larger body is an OutputTooLarge error.
	HTTPMaxBytes int64
	// OutputMaxBytes caps the JSON output of any call, built-in or
	// registered, and the text that file.read, text.template and shell
	// produce (default 1 MiB). Outputs are stored in the workflow history,
	// whose default limit is 2 MiB per payload; an output past the limit
	// fails there with an error that names neither the tool nor the step.
	OutputMaxBytes int64
	// Capacity is how many calls the pool may run at once (default 64).
	// Native tools mostly wait on I/O, so this is a bound on open sockets
	// and child processes more than on CPU.
	Capacity int
	// ModelHTTPClient, when set, is the client model.chat uses to reach
	// model providers (for proxies, mTLS or tests). By default model.chat
	// shares the runner's transport and relies on the activity deadline.
	ModelHTTPClient *http.Client
	// Logger receives one debug record per call (default slog.Default()).
	Logger *slog.Logger
}

const (
	defaultHTTPTimeout  = 30 * time.Second
	defaultHTTPMaxBytes = 4 << 20
	defaultCapacity     = 64
)

func (c Config) withDefaults() Config {
	if c.HTTPTimeout <= 0 {
		c.HTTPTimeout = defaultHTTPTimeout
	}
	if c.HTTPMaxBytes <= 0 {
		c.HTTPMaxBytes = defaultHTTPMaxBytes
	}
	if c.OutputMaxBytes <= 0 {
		c.OutputMaxBytes = activities.DefaultMaxOutputBytes
	}
	if c.Capacity <= 0 {
		c.Capacity = defaultCapacity
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Runner is the native pool's activities.Runner: a registry of tools, the
// built-ins first. It is safe for concurrent use.
type Runner struct {
	cfg       Config
	log       *slog.Logger
	transport *http.Transport // shared by http.request and, by default, model.chat
	model     *http.Client

	mu    sync.RWMutex
	tools map[string]Tool
}

var _ activities.Runner = (*Runner)(nil)

// New returns a Runner with every built-in tool registered. It opens
// nothing: connections are made by the calls that need them.
func New(cfg Config) *Runner {
	cfg = cfg.withDefaults()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	r := &Runner{
		cfg:       cfg,
		log:       cfg.Logger,
		transport: transport,
		model:     cfg.ModelHTTPClient,
		tools:     make(map[string]Tool, len(builtins)),
	}
	if r.model == nil {
		r.model = &http.Client{Transport: transport}
	}
	for _, b := range builtins {
		r.tools[b.name] = Tool{Name: b.name, Description: b.description, Func: b.bind(r)}
	}
	return r
}

// Register adds a tool. The name must be non-empty, without spaces or ':'
// (agents name tools as "runtime:name"), and not taken: registering a
// built-in's name or the same name twice is an error.
func (r *Runner) Register(t Tool) error {
	if err := checkToolName(t.Name); err != nil {
		return err
	}
	if t.Func == nil {
		return fmt.Errorf("native: tool %q has no Func", t.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, taken := r.tools[t.Name]; taken {
		return fmt.Errorf("native: tool %q is already registered; choose another name", t.Name)
	}
	r.tools[t.Name] = t
	return nil
}

func checkToolName(name string) error {
	if name == "" {
		return fmt.Errorf("native: a tool needs a name")
	}
	if i := strings.IndexFunc(name, func(c rune) bool { return c == ':' || unicode.IsSpace(c) }); i >= 0 {
		return fmt.Errorf("native: tool name %q may not contain %q", name, name[i:i+1])
	}
	return nil
}

// Runtime returns "native".
func (r *Runner) Runtime() string { return RuntimeName }

// Tools returns the names of the registered tools, sorted.
func (r *Runner) Tools() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.tools))
	for name := range r.tools {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Describe returns the registered tools sorted by name, for `tars tools`.
func (r *Runner) Describe() []Tool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	tools := make([]Tool, 0, len(r.tools))
	for _, t := range r.tools {
		tools = append(tools, t)
	}
	slices.SortFunc(tools, func(a, b Tool) int { return strings.Compare(a.Name, b.Name) })
	return tools
}

// Capacity returns Config.Capacity.
func (r *Runner) Capacity() int { return r.cfg.Capacity }

// Run executes call.Tool. An unknown tool is a non-retryable ToolNotFound
// error that lists the tools this runner has. An output that is not JSON or
// larger than Config.OutputMaxBytes is an error too, whoever produced it.
func (r *Runner) Run(ctx context.Context, call activities.Call) (activities.Result, error) {
	r.mu.RLock()
	t, ok := r.tools[call.Tool]
	r.mu.RUnlock()
	if !ok {
		return activities.Result{}, activities.NonRetryable(activities.ErrToolNotFound, nil,
			"the native runtime has no tool %q; it has: %s", call.Tool, strings.Join(r.Tools(), ", "))
	}

	start := time.Now()
	res, err := t.Func(ctx, call)
	if err == nil {
		err = r.checkOutput(call.Tool, &res)
	}
	if r.log.Enabled(ctx, slog.LevelDebug) { // building the attributes allocates
		r.log.LogAttrs(ctx, slog.LevelDebug, "native tool call",
			slog.String("tool", call.Tool), slog.String("step", call.Step), slog.Int("item", call.Item),
			slog.Duration("took", time.Since(start)), slog.Any("err", err))
	}
	if err != nil {
		return activities.Result{}, err
	}
	return res, nil
}

// checkOutput holds every tool, registered ones included, to the contract:
// the output is JSON and fits in a history payload.
func (r *Runner) checkOutput(tool string, res *activities.Result) error {
	if len(res.Output) == 0 {
		res.Output = json.RawMessage("null")
		return nil
	}
	if int64(len(res.Output)) > r.cfg.OutputMaxBytes {
		return activities.NonRetryable(activities.ErrOutputTooLarge, nil,
			"%s: output is %d bytes, over the native pool's limit of %d (Config.OutputMaxBytes)",
			tool, len(res.Output), r.cfg.OutputMaxBytes)
	}
	if !json.Valid(res.Output) {
		return activities.NonRetryable(activities.ErrToolFailed, nil, "%s: output is not valid JSON", tool)
	}
	return nil
}

// Close releases the runner's idle HTTP connections (not those of a
// Config.ModelHTTPClient, which its owner closes). The Runner stays usable;
// Close is for worker shutdown.
func (r *Runner) Close() error {
	r.transport.CloseIdleConnections()
	return nil
}
