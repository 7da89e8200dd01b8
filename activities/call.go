package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
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

// SecretRef is what expressions see for the secret input name: a marker the
// pool replaces with the worker's environment variable SecretEnv(name), so
// the value never enters the workflow's history.
func SecretRef(name string) string { return "tars-secret://" + name + "/" }

// SecretEnv is the environment variable a worker reads a secret input from.
func SecretEnv(name string) string { return "TARS_SECRET_" + strings.ToUpper(name) }

var secretRef = regexp.MustCompile(`tars-secret://([A-Za-z][A-Za-z0-9_]*)/`)

// ResolveSecrets replaces every SecretRef in args with the value lookup
// gives its SecretEnv, JSON-escaped so that args stays valid JSON. It
// returns the values it used, for MaskSecrets, or an error naming the first
// variable that is not set.
func ResolveSecrets(args json.RawMessage, lookup func(string) (string, bool)) (json.RawMessage, []string, error) {
	if !bytes.Contains(args, []byte("tars-secret://")) {
		return args, nil, nil
	}
	var values []string
	var missing error
	out := secretRef.ReplaceAllFunc(args, func(m []byte) []byte {
		name := string(secretRef.FindSubmatch(m)[1])
		v, ok := lookup(SecretEnv(name))
		if !ok {
			if missing == nil {
				missing = NonRetryable(ErrSecretMissing, nil, "secret input %s: %s is not set on this worker", name, SecretEnv(name))
			}
			return m
		}
		values = append(values, v)
		q, _ := json.Marshal(v)
		return q[1 : len(q)-1]
	})
	if missing != nil {
		return nil, nil, missing
	}
	return out, values, nil
}

// MaskSecrets replaces each value (as it appears in JSON and as plain
// text) in res's output and log with "***", so a tool that echoes a secret
// does not put it into the history.
func MaskSecrets(res Result, values []string) Result {
	for _, v := range values {
		if v == "" {
			continue
		}
		q, _ := json.Marshal(v)
		esc := q[1 : len(q)-1]
		res.Output = bytes.ReplaceAll(res.Output, esc, []byte("***"))
		res.Log = strings.ReplaceAll(res.Log, v, "***")
	}
	return res
}
