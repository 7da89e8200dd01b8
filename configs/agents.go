package configs

import (
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/internal/diag"
	"github.com/tars-engine/tars/plan"
)

// Agent is an entry of the agent catalogue.
type Agent struct {
	ID      string
	Role    string
	Persona string // system prompt for reason steps
	// Model is nil for agents that only run tools; a reason step by such
	// an agent is a compile error.
	Model *plan.Model
	// ModelName is the entry of Config.Models the agent refers to, or ""
	// when its model is written inline or it has none.
	ModelName string
	// Tools the agent may use, "runtime:name" or "runtime:*"; empty means
	// any tool the metascript's policy allows.
	Tools []string
	// Runtimes is the agent's own default chain; empty inherits from the
	// tree (see Config.Resolve).
	Runtimes []string
}

var (
	agentKeys = []string{"id", "role", "persona", "model", "tools", "runtime"}
	// ModelKeys are the keys of a model, here and in metascripts.
	ModelKeys = []string{"provider", "name", "endpoint", "api_key_env", "temperature", "max_tokens"}
	// Providers are the model providers the native pool serves.
	Providers = []string{"echo", "openai"}
)

func readAgents(f *diag.File, root *yaml.Node, c *Config) {
	top := f.Mapping(root, AgentsFile, []string{"models", "prices", "agents"})
	readPrices(f, top["prices"].Value, c)
	for _, e := range f.Entries(top["models"].Value, "models") {
		if !idPattern.MatchString(e.Key.Value) {
			f.Errorf(e.Key, "model name %q must be lower-case letters, digits and dashes", e.Key.Value)
			continue
		}
		if m := ReadModel(f, e.Value, nil); m != nil {
			c.Models[e.Key.Value] = m
		}
	}
	first := map[string]*yaml.Node{}
	for _, n := range f.Seq(top["agents"].Value, "agents") {
		m := f.Mapping(n, "agent", agentKeys)
		if n.Kind != yaml.MappingNode {
			continue
		}
		id, ok := readEntryID(f, n, m, "agent", first)
		if !ok {
			continue
		}
		a := &Agent{ID: id.V}
		if s, ok := f.String(m["role"].Value, "role"); ok {
			a.Role = s.V
		}
		if s, ok := f.String(m["persona"].Value, "persona"); ok {
			a.Persona = strings.TrimSpace(s.V)
		}
		if mv := m["model"].Value; mv != nil {
			a.Model = ReadModel(f, mv, c.Models)
			if mv.Kind == yaml.ScalarNode {
				a.ModelName = mv.Value
			}
		}
		a.Tools = ReadToolPatterns(f, m["tools"].Value, "tools", false)
		a.Runtimes = readRuntimes(f, m["runtime"].Value, "runtime")
		c.Agents[a.ID] = a
	}
}

// MaxTemperature is the highest sampling temperature a model may have.
const MaxTemperature = 2

// readPrices reads prices: model name -> {input, output}, US dollars per
// million tokens.
func readPrices(f *diag.File, n *yaml.Node, c *Config) {
	for _, e := range f.Entries(n, "prices") {
		fs := f.Mapping(e.Value, "price", []string{"input", "output"})
		if e.Value.Kind != yaml.MappingNode {
			continue
		}
		var p plan.Price
		ok := true
		for _, k := range []struct {
			key string
			to  *float64
		}{{"input", &p.Input}, {"output", &p.Output}} {
			fld, found := fs[k.key]
			if !found {
				f.Errorf(e.Value, "price of %s needs %s (US dollars per million tokens)", e.Key.Value, k.key)
				ok = false
				continue
			}
			v, good := f.Number(fld.Value, "price "+k.key)
			if !good || v < 0 {
				if good {
					f.Errorf(fld.Value, "price %s of %s must not be negative", k.key, e.Key.Value)
				}
				ok = false
				continue
			}
			*k.to = v
		}
		if ok {
			c.Prices[e.Key.Value] = p
		}
	}
}

// Price returns the price of the model a provider knows as name, or nil.
func (c *Config) Price(name string) *plan.Price {
	if p, ok := c.Prices[name]; ok {
		return &p
	}
	return nil
}

// ReadModel reads a model: a mapping of ModelKeys, or (when models is not
// nil) the name of an entry in models. It returns nil after recording a
// fault.
func ReadModel(f *diag.File, n *yaml.Node, models map[string]*plan.Model) *plan.Model {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode && models != nil {
		if m := models[n.Value]; m != nil {
			cp := *m
			return &cp
		}
		names := make([]string, 0, len(models))
		for k := range models {
			names = append(names, k)
		}
		sort.Strings(names)
		if len(names) == 0 {
			f.Errorf(n, "unknown model %q (no models are defined under models)", n.Value)
		} else {
			f.Errorf(n, "unknown model %q%s (models: %s)", n.Value, diag.DidYouMean(n.Value, names), strings.Join(names, ", "))
		}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		f.Errorf(n, "model must be a mapping {provider, name, ...} or the name of a model, not %s", diag.Describe(n))
		return nil
	}
	fs := f.Mapping(n, "model", ModelKeys)
	m := &plan.Model{}
	ok := true
	if p, found := fs["provider"]; !found {
		f.Errorf(n, "model needs a provider (%s)", strings.Join(Providers, " or "))
		ok = false
	} else if v, good := f.Enum(p.Value, "provider", Providers); good {
		m.Provider = v
	} else {
		ok = false
	}
	if s, good := f.String(fs["name"].Value, "model name"); good {
		m.Name = s.V
	}
	if s, good := f.String(fs["endpoint"].Value, "endpoint"); good {
		if !strings.HasPrefix(s.V, "http://") && !strings.HasPrefix(s.V, "https://") {
			f.Errorf(s.N, "endpoint %q must be an http:// or https:// URL", s.V)
			ok = false
		}
		m.Endpoint = s.V
	}
	if s, good := f.String(fs["api_key_env"].Value, "api_key_env"); good {
		if !envPattern.MatchString(s.V) {
			f.Errorf(s.N, "api_key_env %q must be an environment variable name", s.V)
			ok = false
		}
		m.APIKeyEnv = s.V
	}
	if v, good := f.Number(fs["temperature"].Value, "temperature"); good {
		if v < 0 || v > MaxTemperature {
			f.Errorf(fs["temperature"].Value, "temperature must be between 0 and %v, not %v", MaxTemperature, v)
			ok = false
		}
		m.Temperature = &v
	}
	if v, good := f.Int(fs["max_tokens"].Value, "max_tokens"); good {
		if v < 1 {
			f.Errorf(fs["max_tokens"].Value, "max_tokens must be at least 1, not %d", v)
			ok = false
		}
		m.MaxTokens = v
	}
	if m.Provider == "openai" {
		if m.Name == "" {
			f.Errorf(n, "an openai model needs a name (e.g. gpt-4o-mini)")
			ok = false
		}
		if m.Endpoint == "" {
			f.Errorf(n, "an openai model needs an endpoint (e.g. https://api.openai.com/v1)")
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return m
}

// ReadToolPatterns reads a list of allowed tools. Entries are
// "runtime:name" or "runtime:*"; with bare true, a plain "name" (any
// runtime) is allowed too, as in a metascript policy.
func ReadToolPatterns(f *diag.File, n *yaml.Node, what string, bare bool) []string {
	var out []string
	for _, s := range f.Strings(n, what) {
		rt, name, found := strings.Cut(s.V, ":")
		switch {
		case !found && bare && s.V != "":
			out = append(out, s.V)
			continue
		case !found:
			f.Errorf(s.N, "%s entry %q must be runtime:name (e.g. native:echo) or runtime:*", what, s.V)
			continue
		case !isRuntime(rt):
			f.Errorf(s.N, "unknown runtime %q in %s entry %q%s", rt, what, s.V, diag.DidYouMean(rt, plan.Runtimes))
			continue
		case name == "":
			f.Errorf(s.N, "%s entry %q has no tool name after the colon", what, s.V)
			continue
		}
		out = append(out, s.V)
	}
	return out
}

// ToolAllowed reports whether patterns (as read by ReadToolPatterns) allow
// tool on runtime. An empty list allows everything.
func ToolAllowed(patterns []string, runtime, tool string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if p == tool || p == runtime+":"+tool || p == runtime+":*" {
			return true
		}
	}
	return false
}
