package configs

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/internal/diag"
	"github.com/tars-engine/tars/plan"
)

// File names inside a configuration directory.
const (
	AgentsFile     = "agents.yaml"
	TreeFile       = "agent-tree.yaml"
	DeploymentFile = "deployment.yaml"
)

//go:embed agents.yaml agent-tree.yaml deployment.yaml
var defaults embed.FS

// Config is a loaded, validated configuration. Treat it as read-only: the
// one Default returns is shared.
type Config struct {
	// Models are the named models of agents.yaml; agents refer to them by
	// name so that one line switches every agent to another model.
	Models map[string]*plan.Model
	// Prices are per-model prices, keyed by the name a provider knows the
	// model by (plan.Model.Name); usd budgets are counted with them.
	Prices     map[string]plan.Price
	Agents     map[string]*Agent
	Tree       Tree
	Deployment Deployment
}

var (
	defaultOnce sync.Once
	defaultCfg  *Config
)

// Default returns the configuration embedded in the binary. It is parsed
// once and shared; callers must not modify it.
func Default() *Config {
	defaultOnce.Do(func() {
		c, err := load(embeddedSource)
		if err != nil {
			panic("configs: embedded defaults are invalid: " + err.Error())
		}
		defaultCfg = c
	})
	return defaultCfg
}

// Load reads agents.yaml, agent-tree.yaml and deployment.yaml from dir.
// A missing file falls back to its embedded default, except that the
// default tree goes only with the default agents: a directory with its own
// agents.yaml and no agent-tree.yaml gets an empty tree (every agent
// outside it), because the default tree names the default agents. On
// faults it returns diag.Diagnostics covering all three files.
func Load(dir string) (*Config, error) {
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("configs: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("configs: %s is not a directory", dir)
	}
	ownAgents := false
	return load(func(name string) (string, []byte, error) {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		switch {
		case err == nil:
			if name == AgentsFile {
				ownAgents = true
			}
			return p, b, nil
		case !errors.Is(err, fs.ErrNotExist):
			return p, nil, err
		case name == TreeFile && ownAgents:
			return p, []byte("{}\n"), nil
		}
		return embeddedSource(name)
	})
}

func embeddedSource(name string) (string, []byte, error) {
	b, err := defaults.ReadFile(name)
	return "configs/" + name, b, err
}

func load(source func(name string) (string, []byte, error)) (*Config, error) {
	c := &Config{Models: map[string]*plan.Model{}, Prices: map[string]plan.Price{}, Agents: map[string]*Agent{}}
	var all diag.Diagnostics
	read := func(name string) (*diag.File, bool) {
		path, src, err := source(name)
		if err != nil {
			all = append(all, diag.Diagnostic{File: path, Line: 1, Col: 1, Msg: err.Error()})
			return nil, false
		}
		f, root := diag.Parse(path, src)
		if root == nil && len(f.Diags) == 0 {
			f.At(1, 1, "empty file")
		}
		if root != nil && root.Kind != 0 {
			switch name {
			case AgentsFile:
				readAgents(f, root, c)
			case TreeFile:
				readTree(f, root, c)
			case DeploymentFile:
				readDeployment(f, root, c)
			}
		}
		all = append(all, f.Diags...)
		return f, true
	}
	read(AgentsFile)
	read(TreeFile)
	read(DeploymentFile)
	if err := all.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Resolve returns the agent with its place in the tree: department, team,
// swarms, and its default runtime chain (agent, else team, else department
// and its parents, else the tree defaults).
func (c *Config) Resolve(id string) (plan.Agent, bool) {
	a := c.Agents[id]
	if a == nil {
		return plan.Agent{}, false
	}
	out := plan.Agent{
		ID:       a.ID,
		Role:     a.Role,
		Persona:  a.Persona,
		Tools:    append([]string(nil), a.Tools...),
		Runtimes: append([]string(nil), a.Runtimes...),
	}
	if a.Model != nil {
		m := *a.Model
		out.Model = &m
	}
	team, dept := c.Tree.Home(id)
	if team != nil {
		out.Team = team.ID
	}
	if dept != nil {
		out.Department = dept.ID
	}
	out.Swarms = c.Tree.SwarmsOf(id)
	if len(out.Runtimes) == 0 {
		out.Runtimes = c.Tree.Chain(team, dept)
	}
	return out, true
}

// AgentIDs lists the catalogue's agent ids in sorted order.
func (c *Config) AgentIDs() []string {
	ids := make([]string, 0, len(c.Agents))
	for id := range c.Agents {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

var (
	idPattern  = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	envPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// readID reads an id: lower-case letters, digits and dashes.
func readID(f *diag.File, n *yaml.Node, what string) (diag.Str, bool) {
	s, ok := f.String(n, what)
	if !ok {
		return s, false
	}
	if !idPattern.MatchString(s.V) {
		f.Errorf(n, "%s %q must be lower-case letters, digits and dashes, starting with a letter", what, s.V)
		return s, false
	}
	return s, true
}

// readEntryID reads the id of one entry of a list of kind (agent,
// department, team, swarm, target): present, well formed, and not taken by
// an earlier entry of that kind (seen maps each id to where it first
// stood). false means the entry is skipped; the fault is reported.
func readEntryID(f *diag.File, entry *yaml.Node, fields map[string]diag.Field, kind string, seen map[string]*yaml.Node) (diag.Str, bool) {
	n := fields["id"].Value
	if n == nil {
		f.Errorf(entry, "%s needs an id", kind)
		return diag.Str{}, false
	}
	id, ok := readID(f, n, kind+" id")
	if !ok {
		return id, false
	}
	if prev := seen[id.V]; prev != nil {
		f.Errorf(id.N, "duplicate %s %q (first at %s)", kind, id.V, diag.LinePos(prev))
		return id, false
	}
	seen[id.V] = id.N
	return id, true
}

// readRuntimes reads a runtime chain: known runtime names, no repeats.
func readRuntimes(f *diag.File, n *yaml.Node, what string) []string {
	var out []string
	for _, s := range f.StringOrList(n, what) {
		switch {
		case s.V == plan.RuntimeAuto:
			f.Errorf(s.N, "%s: auto is chosen per step in a metascript, not as a default chain", what)
		case !isRuntime(s.V):
			f.Errorf(s.N, "unknown runtime %q in %s%s (want %s)", s.V, what, diag.DidYouMean(s.V, plan.Runtimes), strings.Join(plan.Runtimes, ", "))
		case slices.Contains(out, s.V):
			f.Errorf(s.N, "runtime %s appears twice in %s", s.V, what)
		default:
			out = append(out, s.V)
		}
	}
	return out
}

func isRuntime(s string) bool { return slices.Contains(plan.Runtimes, s) }
