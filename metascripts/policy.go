package metascripts

import (
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/internal/diag"
	"github.com/tars-engine/tars/plan"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (c *compiler) readPolicy(n *yaml.Node) {
	c.policyNodes = c.fields(n, policyObj, "policy")
	pf := c.policyNodes
	p := &c.policy
	if d, ok := c.f.Duration(pf.Get("timeout").Value, "policy.timeout"); ok {
		p.Timeout = plan.Duration(d)
	}
	if v, ok := c.f.Int(pf.Get("max_steps").Value, "policy.max_steps"); ok {
		if v < 1 {
			c.f.Errorf(pf.Get("max_steps").Value, "policy.max_steps must be a positive integer, not %d", v)
		} else {
			p.MaxSteps = v
		}
	}
	if at := pf.Get("allowed_tools").Value; at != nil {
		for _, s := range c.f.Strings(at, "allowed_tools") {
			c.allowedTool(s)
		}
		if at.Kind == yaml.SequenceNode && len(at.Content) == 0 {
			c.f.Errorf(at, "allowed_tools is empty, which would allow every tool; drop it, or list the tools")
		}
	}
	for _, e := range c.f.Entries(pf.Get("budgets").Value, "budgets") {
		v, ok := c.f.Number(e.Value, "budget "+e.Key.Value)
		if !ok {
			continue
		}
		if v <= 0 {
			c.f.Errorf(e.Value, "budget %s must be positive, not %v", e.Key.Value, v)
			continue
		}
		if p.Budgets == nil {
			p.Budgets = map[string]float64{}
		}
		p.Budgets[e.Key.Value] = v
	}
	c.readGrants(pf.Get("grants").Value)
}

// allowedTool reads one allowed_tools entry and checks it names a tool
// that exists, so that a misspelt entry does not silently allow nothing.
func (c *compiler) allowedTool(s diag.Str) {
	p := &c.policy
	rt, name, found := strings.Cut(s.V, ":")
	if !found {
		if len(c.offering(s.V)) == 0 {
			c.f.Errorf(s.N, "allowed_tools: no runtime offers tool %q%s", s.V, diag.DidYouMean(s.V, c.allTools()))
			return
		}
		p.AllowedTools = append(p.AllowedTools, s.V)
		return
	}
	if !isRuntime(rt) {
		c.f.Errorf(s.N, "allowed_tools: unknown runtime %q in %q%s", rt, s.V, diag.DidYouMean(rt, plan.Runtimes))
		return
	}
	if name == "" {
		c.f.Errorf(s.N, "allowed_tools entry %q has no tool name after the colon", s.V)
		return
	}
	if name != "*" {
		if _, ok := c.s.cat.Offers(rt, name); !ok {
			c.f.Errorf(s.N, "allowed_tools: runtime %s does not offer tool %q%s", rt, name, diag.DidYouMean(name, c.s.cat.Tools(rt)))
			return
		}
	}
	p.AllowedTools = append(p.AllowedTools, s.V)
}

func (c *compiler) readGrants(n *yaml.Node) {
	if n == nil {
		return
	}
	gf := c.fields(n, grantsObj, "grants")
	g := &c.policy.Grants
	if v, ok := c.f.Bool(gf.Get("shell").Value, "grants.shell"); ok {
		g.Shell = v
	}
	if s, ok := c.f.String(gf.Get("read_dir").Value, "grants.read_dir"); ok {
		g.ReadDir = s.V
	}
	if s, ok := c.f.String(gf.Get("write_dir").Value, "grants.write_dir"); ok {
		g.WriteDir = s.V
	}
	for _, s := range c.f.Strings(gf.Get("env").Value, "grants.env") {
		if !envName.MatchString(s.V) {
			c.f.Errorf(s.N, "grants.env entry %q is not an environment variable name", s.V)
			continue
		}
		g.Env = append(g.Env, s.V)
	}
	for _, s := range c.f.Strings(gf.Get("http_hosts").Value, "grants.http_hosts") {
		if strings.Contains(s.V, "://") || strings.Contains(s.V, "/") || s.V == "" {
			c.f.Errorf(s.N, "grants.http_hosts entry %q must be a host name (optionally host:port), not a URL", s.V)
			continue
		}
		g.HTTPHosts = append(g.HTTPHosts, s.V)
	}
	if v, ok := c.f.Int(gf.Get("memory_mib").Value, "grants.memory_mib"); ok {
		if v < 0 {
			c.f.Errorf(gf.Get("memory_mib").Value, "grants.memory_mib must not be negative")
		} else {
			g.MemoryMiB = v
		}
	}
	for _, s := range c.f.Strings(gf.Get("host_funcs").Value, "grants.host_funcs") {
		g.HostFuncs = append(g.HostFuncs, s.V)
	}
}
