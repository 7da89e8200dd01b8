package activities

import (
	"context"
	"encoding/json"
	"time"
)

// Call is the input of every tool activity. The activity type name is the
// tool name; the task queue names the runtime.
type Call struct {
	RunID   string          `json:"run_id,omitempty"` // workflow id
	Step    string          `json:"step"`
	Item    int             `json:"item,omitempty"` // foreach index, or loop turn
	Agent   string          `json:"agent,omitempty"`
	Runtime string          `json:"runtime"`
	Tool    string          `json:"tool"`
	Digest  string          `json:"digest,omitempty"` // expected sha256 of the module/guest, if the Plan recorded one
	Args    json.RawMessage `json:"args,omitempty"`   // evaluated `with`
	Grants  Grants          `json:"grants,omitempty"`
}

// Grants are the capabilities the run's policy gives this call. Everything
// not granted is denied.
type Grants struct {
	Shell     bool     `json:"shell,omitempty"`
	ReadDir   string   `json:"read_dir,omitempty"`
	WriteDir  string   `json:"write_dir,omitempty"`
	Env       []string `json:"env,omitempty"`
	HTTPHosts []string `json:"http_hosts,omitempty"`
	MemoryMiB int      `json:"memory_mib,omitempty"`
	HostFuncs []string `json:"host_funcs,omitempty"`
}

// Result is the output of every tool activity.
type Result struct {
	Output json.RawMessage `json:"output"`
	// Log holds what the tool wrote to its log (stderr, guest log port),
	// capped by the pool.
	Log string `json:"log,omitempty"`
	// Metrics are pool figures for the trace, e.g. "wasm.instantiate_us",
	// "vm.restore_us", "gpu.mem_bytes", and budget usage such as "tokens".
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// Heartbeat is the detail every pool records with its activity heartbeats.
// The attempt number lets the interpreter tell, when a worker is lost, how
// many of the step's tool attempts were really used (the lost one is not).
type Heartbeat struct {
	Attempt int `json:"attempt"`
}

// Runner executes tool calls for one runtime. Implementations must be safe
// for concurrent use; the pool bounds concurrency with Capacity.
type Runner interface {
	// Runtime is the runtime name this runner serves ("native", "wasm", ...).
	Runtime() string
	// Tools lists the tool names this runner offers now.
	Tools() []string
	// Capacity is how many calls may run at once, from the runtime's real
	// resources (VM budget, memory, GPU slots).
	Capacity() int
	// Run executes one call. The context carries the activity deadline.
	// Errors that retrying cannot fix are returned as NonRetryable errors.
	Run(ctx context.Context, call Call) (Result, error)
	// Close releases the runtime's resources.
	Close() error
}

// Deadline returns the time left on ctx, or def when ctx has no deadline.
func Deadline(ctx context.Context, def time.Duration) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return def
}
