package activities

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Ceiling is what the operator who runs a worker lets any call on it have,
// whatever the run's policy asks for: a step's effective grants are its
// metascript's grants within the ceiling (Ceiling.Clip). Whoever starts a
// run is not trusted; whoever starts the worker is.
//
// The zero value is the default, safe for a shared cluster: no shell, no
// HTTP host, no directory, no environment variable (secret inputs
// included), and each pool's own memory limit. The pure tools and the
// WASM and hyperlight sandboxes work under it; anything that reaches the
// worker's host needs the operator's consent.
//
// Host functions of hyperlight guests (grants.host_funcs) have no entry:
// a pool offers only those its operator registered, which is their
// ceiling already.
type Ceiling struct {
	// Shell lets the native shell tool run programs.
	Shell bool `json:"shell,omitempty"`
	// HTTPHosts are the hosts http.request, model.chat and the wasm
	// tars.http_fetch may reach, written as grants.http_hosts are (see
	// HostAllowed), or "*" for any host. A grant of "*.example.com"
	// needs "*.example.com" (or a wider wildcard) here; a ceiling of
	// "api.example.com" lets a "*.example.com" grant reach that host only.
	HTTPHosts []string `json:"http_hosts,omitempty"`
	// ReadDirs are directories (absolute, cleaned) whose trees a
	// grants.read_dir may name; WriteDirs the same for grants.write_dir.
	ReadDirs  []string `json:"read_dirs,omitempty"`
	WriteDirs []string `json:"write_dirs,omitempty"`
	// Env are the environment variables of the worker a call may see:
	// names, or a prefix ending in "*" ("TARS_SECRET_*"). They bound
	// grants.env (shell, wasm, model.chat's api_key_env) and the secret
	// inputs (TARS_SECRET_<NAME>, see SecretEnv).
	Env []string `json:"env,omitempty"`
	// MemoryMiB caps grants.memory_mib of a call (wasm, hyperlight);
	// 0 keeps each pool's own maximum.
	MemoryMiB int `json:"memory_mib,omitempty"`
}

// Grant names, as a policy writes them, in Excess.Grant.
const (
	GrantShell     = "shell"
	GrantHTTPHosts = "http_hosts"
	GrantReadDir   = "read_dir"
	GrantWriteDir  = "write_dir"
	GrantEnv       = "env"
	GrantMemoryMiB = "memory_mib"
)

// Excess is one thing a policy asks for that a ceiling does not allow.
type Excess struct {
	Grant string `json:"grant"` // GrantShell, GrantHTTPHosts, ...
	// Value is what the policy asks: "true" for shell, a host pattern, a
	// directory, a variable name, a number of MiB.
	Value string `json:"value"`
	// Ceiling describes the ceiling for that grant, e.g. "shell off" or
	// "http hosts: api.example.com".
	Ceiling string `json:"ceiling"`
	// Flag is the worker flag that would allow it, e.g. "--allow-shell".
	Flag string `json:"flag"`
}

// String names what is asked, e.g. "shell", "http host api.example.com",
// "env OPENAI_API_KEY", "read_dir /srv/in", "memory_mib 512".
func (e Excess) String() string {
	switch e.Grant {
	case GrantShell:
		return "shell"
	case GrantHTTPHosts:
		return "http host " + e.Value
	}
	return e.Grant + " " + e.Value
}

// Advice is the parenthesis a refusal ends with: the ceiling and the flag
// that lifts it.
func (e Excess) Advice() string {
	return fmt.Sprintf("its ceiling: %s; start it with %s", e.Ceiling, e.Flag)
}

// Exceeds lists what g asks for beyond c, in a fixed order (shell, hosts,
// directories, environment, memory). Empty means g fits.
func (c Ceiling) Exceeds(g Grants) []Excess {
	_, ex := c.Clip(g)
	return ex
}

// Clip returns g within c (what a call may really use) and what it lost.
// Everything a policy asks beyond the ceiling is dropped from the
// effective grants, so a tool that knows nothing of ceilings still cannot
// exceed one; a tool that needs a dropped grant reports it with
// CeilingRefusal.
func (c Ceiling) Clip(g Grants) (Grants, []Excess) {
	var ex []Excess
	eff := Grants{HostFuncs: g.HostFuncs}
	if g.Shell {
		if c.Shell {
			eff.Shell = true
		} else {
			ex = append(ex, Excess{Grant: GrantShell, Value: "true", Ceiling: "shell off", Flag: "--allow-shell"})
		}
	}
	for _, h := range g.HTTPHosts {
		if c.allowsHost(h) {
			eff.HTTPHosts = append(eff.HTTPHosts, h)
			continue
		}
		ex = append(ex, Excess{Grant: GrantHTTPHosts, Value: h, Ceiling: listed("http hosts", c.HTTPHosts),
			Flag: "--allow-http-host " + h})
	}
	// Where the ceiling is narrower than a wildcard grant, the grant
	// reaches what both allow.
	for _, h := range c.HTTPHosts {
		if !slices.Contains(eff.HTTPHosts, h) && slices.ContainsFunc(g.HTTPHosts, func(p string) bool { return hostCovers(p, h) }) {
			eff.HTTPHosts = append(eff.HTTPHosts, h)
		}
	}
	if g.ReadDir != "" {
		if dirWithin(g.ReadDir, c.ReadDirs) {
			eff.ReadDir = g.ReadDir
		} else {
			ex = append(ex, Excess{Grant: GrantReadDir, Value: g.ReadDir, Ceiling: listed("read dirs", c.ReadDirs), Flag: "--allow-read " + g.ReadDir})
		}
	}
	if g.WriteDir != "" {
		if dirWithin(g.WriteDir, c.WriteDirs) {
			eff.WriteDir = g.WriteDir
		} else {
			ex = append(ex, Excess{Grant: GrantWriteDir, Value: g.WriteDir, Ceiling: listed("write dirs", c.WriteDirs), Flag: "--allow-write " + g.WriteDir})
		}
	}
	for _, name := range g.Env {
		if c.AllowsEnv(name) {
			eff.Env = append(eff.Env, name)
			continue
		}
		ex = append(ex, c.envExcess(name))
	}
	eff.MemoryMiB = g.MemoryMiB
	if c.MemoryMiB > 0 && g.MemoryMiB > c.MemoryMiB {
		eff.MemoryMiB = c.MemoryMiB
		ex = append(ex, Excess{Grant: GrantMemoryMiB, Value: strconv.Itoa(g.MemoryMiB),
			Ceiling: fmt.Sprintf("memory %d MiB per call", c.MemoryMiB), Flag: "--max-memory-mib " + strconv.Itoa(g.MemoryMiB)})
	}
	return eff, ex
}

// AllowsEnv reports whether the ceiling lets a call see the worker's
// variable name.
func (c Ceiling) AllowsEnv(name string) bool {
	for _, p := range c.Env {
		if p == name || (strings.HasSuffix(p, "*") && strings.HasPrefix(name, strings.TrimSuffix(p, "*"))) {
			return true
		}
	}
	return false
}

func (c Ceiling) envExcess(name string) Excess {
	return Excess{Grant: GrantEnv, Value: name, Ceiling: listed("env", c.Env), Flag: "--allow-env " + name}
}

func (c Ceiling) allowsHost(h string) bool {
	return slices.ContainsFunc(c.HTTPHosts, func(p string) bool { return p == "*" || hostCovers(p, h) })
}

// String sums the ceiling up in one line, for a worker's banner.
func (c Ceiling) String() string {
	shell := "shell off"
	if c.Shell {
		shell = "shell on"
	}
	mem := "memory: pool default"
	if c.MemoryMiB > 0 {
		mem = fmt.Sprintf("memory: %d MiB per call", c.MemoryMiB)
	}
	return strings.Join([]string{shell, listed("http hosts", c.HTTPHosts), listed("read dirs", c.ReadDirs),
		listed("write dirs", c.WriteDirs), listed("env", c.Env), mem}, "; ")
}

func listed(what string, vs []string) string {
	if len(vs) == 0 {
		return what + ": none"
	}
	return what + ": " + strings.Join(vs, ", ")
}

// dirWithin reports whether dir is one of roots or under one, comparing
// absolute, cleaned paths with symbolic links resolved where they exist
// (so that a link under an allowed directory does not lead out of it).
func dirWithin(dir string, roots []string) bool {
	if !filepath.IsAbs(dir) {
		return false
	}
	d := realPath(dir)
	for _, r := range roots {
		r = realPath(r)
		if d == r || strings.HasPrefix(d, strings.TrimSuffix(r, string(filepath.Separator))+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func realPath(p string) string {
	p = filepath.Clean(p)
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

var envPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\*?$|^\*$`)

// Check reports the first entry of c that is malformed: a host given as a
// URL, a relative or missing directory, a variable name that is not one,
// a negative memory. Flags and the deployment file check with it.
func (c Ceiling) Check() error {
	for _, h := range c.HTTPHosts {
		if err := CheckHostPattern(h); err != nil {
			return err
		}
	}
	for _, set := range []struct {
		what string
		dirs []string
	}{{"read", c.ReadDirs}, {"write", c.WriteDirs}} {
		for _, d := range set.dirs {
			if !filepath.IsAbs(d) {
				return fmt.Errorf("%s dir %q must be an absolute path", set.what, d)
			}
			if st, err := os.Stat(d); err != nil || !st.IsDir() {
				return fmt.Errorf("%s dir %s is not a directory on this machine", set.what, d)
			}
		}
	}
	for _, e := range c.Env {
		if !envPattern.MatchString(e) {
			return fmt.Errorf("env %q must be a variable name, or a prefix ending in * (e.g. TARS_SECRET_*)", e)
		}
	}
	if c.MemoryMiB < 0 {
		return fmt.Errorf("memory per call must not be negative, got %d MiB", c.MemoryMiB)
	}
	return nil
}

// CheckHostPattern reports whether h is a host pattern as HostAllowed reads
// them, not a URL or an empty string.
func CheckHostPattern(h string) error {
	switch {
	case strings.TrimSpace(h) == "":
		return fmt.Errorf("http host must not be empty")
	case strings.Contains(h, "/"):
		return fmt.Errorf("http host %q: give a host such as api.example.com or 127.0.0.1:8080, not a URL", h)
	case h == "*":
	case strings.Contains(h, "*") && !strings.HasPrefix(h, "*.") || strings.Count(h, "*") > 1:
		return fmt.Errorf("http host %q: a wildcard is written *.example.com", h)
	}
	return nil
}

// refusalKey carries a call's lost grants from the pool to its tool.
type refusalKey struct{}

type refusal struct {
	worker string
	excess []Excess
}

// WithCeilingRefusals returns ctx carrying what the worker's ceiling took
// from a call's grants (Ceiling.Clip) and the worker's identity, so that
// a tool that needs one of them can say why it is missing
// (CeilingRefusal). workers.Pool does this for every call.
func WithCeilingRefusals(ctx context.Context, worker string, excess []Excess) context.Context {
	if len(excess) == 0 {
		return ctx
	}
	return context.WithValue(ctx, refusalKey{}, &refusal{worker: worker, excess: excess})
}

// CeilingExcess returns what the worker's ceiling took from the call
// whose context this is, and the worker's identity; nothing when it took
// nothing. A sandbox uses it to say in the call's log what it withheld.
func CeilingExcess(ctx context.Context) (worker string, excess []Excess) {
	if r, _ := ctx.Value(refusalKey{}).(*refusal); r != nil {
		return r.worker, r.excess
	}
	return "", nil
}

// CeilingRefusal returns the PolicyRefused error for a call whose tool
// needs grant (and, for a list grant, need: the host, directory or
// variable it uses) when the run's policy asked for it and the worker's
// ceiling took it away; nil when the ceiling took nothing that matches,
// and the tool reports the policy's own refusal. match, when not nil,
// picks the matching asked values (a host pattern covering the URL).
//
// Call it before doing anything the grant guards: the message names the
// step, the grant, the worker and the flag that lifts the ceiling.
func CeilingRefusal(ctx context.Context, call Call, grant, need string, match func(value string) bool) error {
	r, _ := ctx.Value(refusalKey{}).(*refusal)
	if r == nil {
		return nil
	}
	for _, e := range r.excess {
		if e.Grant != grant || (match != nil && !match(e.Value)) {
			continue
		}
		return RefuseExcess(call.Step, r.worker, e, need)
	}
	return nil
}

// RefuseExcess is the non-retryable PolicyRefused error for step asking e
// of a worker whose ceiling lacks it. need, when set, is what the step
// really uses under e (a host under a wildcard grant) and the message and
// flag name it instead.
func RefuseExcess(step, worker string, e Excess, need string) error {
	what := e.String()
	if need != "" && need != e.Value {
		switch e.Grant {
		case GrantHTTPHosts:
			what = fmt.Sprintf("http host %s (its policy grants %s)", need, e.Value)
			e.Flag = "--allow-http-host " + need
		default:
			what = e.Grant + " " + need
		}
	}
	return NonRetryable(ErrPolicyRefused, nil, "step %q asks for %s, but worker %s does not allow it (%s)",
		step, what, worker, e.Advice())
}

// RefuseSecret is the PolicyRefused error for a secret input the worker's
// ceiling does not let calls read.
func RefuseSecret(step, worker, name string, c Ceiling) error {
	e := c.envExcess(SecretEnv(name))
	return NonRetryable(ErrPolicyRefused, nil, "step %q uses secret input %s (%s), but worker %s does not allow it (%s)",
		step, name, SecretEnv(name), worker, e.Advice())
}

// SecretNames lists the secret inputs args refers to (SecretRef markers),
// each once, in order of appearance.
func SecretNames(args []byte) []string {
	if !bytes.Contains(args, []byte("tars-secret://")) {
		return nil // the common case costs one scan, no regexp
	}
	var out []string
	for _, m := range secretRef.FindAllSubmatch(args, -1) {
		if n := string(m[1]); !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// GrantsAtStart is implemented by runners that hand a call some grants
// as it starts (a sandbox's environment, its mounted directories, its
// memory) rather than checking each at use. The pool refuses a call at
// once when its policy asks for one of these beyond the worker's ceiling:
// the sandbox would otherwise start without what its metascript expects.
type GrantsAtStart interface {
	// GrantsAtStart lists the grant names (GrantEnv, GrantReadDir, ...).
	GrantsAtStart() []string
}
