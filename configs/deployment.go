package configs

import (
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/internal/diag"
	"github.com/tars-engine/tars/plan"
)

// Deployment kinds.
const (
	KindService    = "service"    // the binary under systemd, launchd or a Windows service
	KindContainer  = "container"  // the binary in a container image
	KindKubernetes = "kubernetes" // a Deployment in a cluster
)

// Kinds lists the deployment kinds.
var Kinds = []string{KindService, KindContainer, KindKubernetes}

// DefaultQueuePrefix is the task queue prefix when none is configured.
const DefaultQueuePrefix = "tars"

// Deployment lists where workers run.
type Deployment struct {
	QueuePrefix string // default for every target
	Targets     []*Target
}

// Target is one way of running workers: what pools it serves, how much of
// each, and the resources it asks for.
type Target struct {
	ID          string
	Kind        string
	Description string
	QueuePrefix string // "" = Deployment.QueuePrefix
	Image       string // container and kubernetes
	Namespace   string // kubernetes
	Replicas    int    // kubernetes; 0 = 1
	Pools       []Pool
	Resources   Resources
	// Ceiling bounds the grants of every call this target's workers run,
	// whatever a run's policy asks (its `ceiling:` block; see
	// activities.Ceiling). Absent: the safe default, nothing beyond the
	// pure tools and the sandboxes.
	Ceiling Ceiling
	// Versioning, when set, puts the target's interpreter worker in a
	// Temporal Worker Deployment (versioning.go); nil leaves it
	// unversioned.
	Versioning *Versioning
}

// Ceiling is a target's `ceiling:` block: what its operator lets any run
// have. `tars worker --target` applies it; flags add to it.
type Ceiling struct {
	Shell     bool
	HTTPHosts []string // host, host:port or *.domain (or "*": any)
	ReadDirs  []string // absolute directories grants.read_dir may name (or be under)
	WriteDirs []string // the same for grants.write_dir
	Env       []string // variable names, or prefixes ending in * (TARS_SECRET_*)
	MemoryMiB int      // per-call sandbox memory; 0 = each pool's maximum
}

// Pool is a runtime a target serves and its capacity.
type Pool struct {
	Runtime string
	// Capacity is how many calls may run at once; 0 sizes it from the
	// detected resources.
	Capacity  int
	MemoryMiB int // per-call sandbox memory (wasm, hyperlight); 0 = pool default
}

// Resources are what a target asks of its host or cluster.
type Resources struct {
	CPU       string // cores, Kubernetes style: "2" or "500m"
	MemoryMiB int
	GPUs      int
	KVM       bool // needs /dev/kvm (hyperlight)
}

// Target returns the target with the given id, or nil.
func (d *Deployment) Target(id string) *Target {
	for _, t := range d.Targets {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// Queue returns the task queue a target's pool for runtime polls:
// "<prefix>.<runtime>".
func (d *Deployment) Queue(t *Target, runtime string) string {
	p := d.QueuePrefix
	if t != nil && t.QueuePrefix != "" {
		p = t.QueuePrefix
	}
	if p == "" {
		p = DefaultQueuePrefix
	}
	return p + "." + runtime
}

// Runtimes lists the runtimes a target serves, in file order.
func (t *Target) Runtimes() []string {
	out := make([]string, len(t.Pools))
	for i, p := range t.Pools {
		out[i] = p.Runtime
	}
	return out
}

var (
	envNamePattern = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*\*?|\*)$`)
	queuePattern   = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,62}$`)
	cpuPattern     = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?|[0-9]+m)$`)
)

func readDeployment(f *diag.File, root *yaml.Node, c *Config) {
	d := &c.Deployment
	top := f.Mapping(root, DeploymentFile, []string{"queue_prefix", "targets"})
	d.QueuePrefix = readQueuePrefix(f, top["queue_prefix"].Value)
	if d.QueuePrefix == "" {
		d.QueuePrefix = DefaultQueuePrefix
	}
	seen := map[string]*yaml.Node{}
	for _, tn := range f.Seq(top["targets"].Value, "targets") {
		tm := f.Mapping(tn, "target", []string{"id", "kind", "description", "queue_prefix", "image", "namespace", "replicas", "pools", "resources", "ceiling", "versioning"})
		if tn.Kind != yaml.MappingNode {
			continue
		}
		id, ok := readEntryID(f, tn, tm, "target", seen)
		if !ok {
			continue
		}
		t := &Target{ID: id.V}
		if k, found := tm["kind"]; !found {
			f.Errorf(tn, "target %s needs a kind (%s)", t.ID, strings.Join(Kinds, ", "))
		} else if v, ok := f.Enum(k.Value, "kind", Kinds); ok {
			t.Kind = v
		}
		if s, ok := f.String(tm["description"].Value, "description"); ok {
			t.Description = s.V
		}
		t.QueuePrefix = readQueuePrefix(f, tm["queue_prefix"].Value)
		t.Versioning = readVersioning(f, tm["versioning"].Value)
		if s, ok := f.String(tm["image"].Value, "image"); ok {
			t.Image = s.V
		}
		if s, ok := f.String(tm["namespace"].Value, "namespace"); ok {
			t.Namespace = s.V
		}
		if v, ok := f.Int(tm["replicas"].Value, "replicas"); ok {
			if v < 1 {
				f.Errorf(tm["replicas"].Value, "replicas must be at least 1, not %d", v)
			}
			t.Replicas = v
		}
		if t.Kind != KindKubernetes {
			for _, k := range []string{"namespace", "replicas"} {
				if fl, ok := tm[k]; ok && t.Kind != "" {
					f.Errorf(fl.Key, "%s applies only to kubernetes targets, not %s", k, t.Kind)
				}
			}
		}
		if fl, ok := tm["image"]; ok && t.Kind == KindService {
			f.Errorf(fl.Key, "image applies only to container and kubernetes targets")
		}
		if (t.Kind == KindContainer || t.Kind == KindKubernetes) && t.Image == "" && tm["image"].Value == nil {
			f.Errorf(tn, "%s target %s needs an image", t.Kind, t.ID)
		}
		if rn := tm["resources"].Value; rn != nil {
			rm := f.Mapping(rn, "resources", []string{"cpu", "memory_mib", "gpus", "kvm"})
			if s, ok := f.String(rm["cpu"].Value, "cpu"); ok {
				if !cpuPattern.MatchString(s.V) {
					f.Errorf(s.N, "cpu %q must be a number of cores such as \"2\" or \"500m\"", s.V)
				}
				t.Resources.CPU = s.V
			}
			if v, ok := f.Int(rm["memory_mib"].Value, "memory_mib"); ok {
				if v < 1 {
					f.Errorf(rm["memory_mib"].Value, "memory_mib must be at least 1, not %d", v)
				}
				t.Resources.MemoryMiB = v
			}
			if v, ok := f.Int(rm["gpus"].Value, "gpus"); ok {
				if v < 0 {
					f.Errorf(rm["gpus"].Value, "gpus must not be negative")
				}
				t.Resources.GPUs = v
			}
			if v, ok := f.Bool(rm["kvm"].Value, "kvm"); ok {
				t.Resources.KVM = v
			}
		}
		if cn := tm["ceiling"].Value; cn != nil {
			t.Ceiling = readCeiling(f, cn)
		}
		pools := f.Entries(tm["pools"].Value, "pools")
		if tm["pools"].Value == nil {
			f.Errorf(tn, "target %s needs pools (e.g. pools: {native: {capacity: 16}})", t.ID)
		}
		for _, e := range pools {
			rt := e.Key.Value
			if !isRuntime(rt) {
				f.Errorf(e.Key, "unknown runtime %q in pools%s (want %s)", rt, diag.DidYouMean(rt, plan.Runtimes), strings.Join(plan.Runtimes, ", "))
				continue
			}
			p := Pool{Runtime: rt}
			pm := f.Mapping(e.Value, "pool", []string{"capacity", "memory_mib"})
			if v, ok := f.Int(pm["capacity"].Value, "capacity"); ok {
				if v < 0 {
					f.Errorf(pm["capacity"].Value, "capacity must not be negative (0 sizes the pool from the detected resources)")
				}
				p.Capacity = v
			}
			if v, ok := f.Int(pm["memory_mib"].Value, "memory_mib"); ok {
				if v < 1 {
					f.Errorf(pm["memory_mib"].Value, "memory_mib must be at least 1, not %d", v)
				}
				p.MemoryMiB = v
			}
			switch {
			case rt == plan.RuntimeHyperlight && !t.Resources.KVM:
				f.Errorf(e.Key, "the hyperlight pool needs resources.kvm: true")
			case rt == plan.RuntimeCUDA && t.Resources.GPUs < 1:
				f.Errorf(e.Key, "the cuda pool needs resources.gpus of at least 1")
			case rt == plan.RuntimeHyperlight && t.Kind == KindContainer:
				f.Errorf(e.Key, "the hyperlight pool cannot run in a plain container (no /dev/kvm); use a service or kubernetes target with KVM")
			}
			t.Pools = append(t.Pools, p)
		}
		d.Targets = append(d.Targets, t)
	}
}

func readQueuePrefix(f *diag.File, n *yaml.Node) string {
	s, ok := f.String(n, "queue_prefix")
	if !ok {
		return ""
	}
	if !queuePattern.MatchString(s.V) {
		f.Errorf(n, "queue_prefix %q must be lower-case letters, digits, dots, dashes and underscores", s.V)
		return ""
	}
	return s.V
}

// readCeiling reads a target's `ceiling:` block. Directories must be
// absolute (the file is read on other machines); whether they exist is
// checked by the worker that applies them.
func readCeiling(f *diag.File, n *yaml.Node) Ceiling {
	var c Ceiling
	m := f.Mapping(n, "ceiling", []string{"shell", "http_hosts", "read_dirs", "write_dirs", "env", "memory_mib"})
	if v, ok := f.Bool(m["shell"].Value, "shell"); ok {
		c.Shell = v
	}
	for _, s := range f.Strings(m["http_hosts"].Value, "http_hosts") {
		switch h := strings.TrimSpace(s.V); {
		case h == "":
			f.Errorf(s.N, "http_hosts entry must not be empty")
		case strings.Contains(h, "/"):
			f.Errorf(s.N, "http_hosts entry %q must be a host such as api.example.com or 127.0.0.1:8080, not a URL", s.V)
		case h != "*" && (strings.Contains(h, "*") && !strings.HasPrefix(h, "*.") || strings.Count(h, "*") > 1):
			f.Errorf(s.N, "http_hosts entry %q: a wildcard is written *.example.com", s.V)
		default:
			c.HTTPHosts = append(c.HTTPHosts, h)
		}
	}
	for _, k := range []struct {
		key string
		dst *[]string
	}{{"read_dirs", &c.ReadDirs}, {"write_dirs", &c.WriteDirs}} {
		for _, s := range f.Strings(m[k.key].Value, k.key) {
			if !filepath.IsAbs(s.V) {
				f.Errorf(s.N, "%s entry %q must be an absolute path", k.key, s.V)
				continue
			}
			*k.dst = append(*k.dst, filepath.Clean(s.V))
		}
	}
	for _, s := range f.Strings(m["env"].Value, "env") {
		if !envNamePattern.MatchString(s.V) {
			f.Errorf(s.N, "env entry %q must be a variable name, or a prefix ending in * (e.g. TARS_SECRET_*)", s.V)
			continue
		}
		c.Env = append(c.Env, s.V)
	}
	if v, ok := f.Int(m["memory_mib"].Value, "memory_mib"); ok {
		if v < 1 {
			f.Errorf(m["memory_mib"].Value, "memory_mib must be at least 1, not %d", v)
		}
		c.MemoryMiB = v
	}
	return c
}
