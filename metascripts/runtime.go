package metascripts

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/configs"
	"github.com/tars-engine/tars/internal/diag"
	"github.com/tars-engine/tars/plan"
)

// Runtime chains.
//
// A tool step's chain comes from, in order: the runtime prefix of its tool
// ("wasm:log-scan"), its `runtime` key, its agent's default chain, the
// tree's default chain, and finally [native]. A chain the step writes
// itself is checked strictly: every runtime in it must exist, meet the
// step's isolation floor, offer the tool and be allowed by the policy and
// the agent, or the step is a compile error. An inherited chain is a
// preference, not a promise: it is narrowed to the runtimes that can run
// the tool, and it is an error only when none is left. `auto` lists every
// runtime that can, in plan.Runtimes order.

// readTool resolves a tool step's tool and runtime chain.
func (c *compiler) readTool(st *stepInfo) {
	t, ok := c.f.String(st.fields.Get("tool").Value, "tool")
	if !ok {
		return
	}
	prefix, name, hasPrefix := strings.Cut(t.V, ":")
	if !hasPrefix {
		name = t.V
	}
	if strings.TrimSpace(name) == "" {
		c.f.Errorf(t.N, "tool %q has no name", t.V)
		return
	}
	st.step.Tool = name
	offering := c.offering(name)
	if len(offering) == 0 {
		if _, none := c.s.cat.(noCatalog); none {
			c.f.Errorf(t.N, "unknown tool %q: no tool catalogue was given to the compiler (Options.Catalog)", name)
			return
		}
		c.f.Errorf(t.N, "unknown tool %q: no runtime offers it%s", name, diag.DidYouMean(name, c.allTools()))
		return
	}
	rtField := st.fields.Get("runtime")

	switch {
	case hasPrefix:
		if !isRuntime(prefix) {
			c.f.Errorf(t.N, "unknown runtime %q in tool %q%s (want %s)", prefix, t.V, diag.DidYouMean(prefix, plan.Runtimes), strings.Join(plan.Runtimes, ", "))
			return
		}
		if rtField.Value != nil {
			c.f.Errorf(rtField.Key, "tool %q already names its runtime; drop the %s: prefix or the runtime key", t.V, prefix)
			return
		}
		st.step.Runtimes = c.explicitChain(st, name, []diag.Str{{V: prefix, N: t.N}}, offering)
	case rtField.Value != nil:
		chain := c.f.StringOrList(rtField.Value, "runtime")
		if len(chain) == 1 && chain[0].V == plan.RuntimeAuto {
			st.step.Auto = true
			st.step.Runtimes = c.autoChain(st, name, chain[0].N, offering)
			break
		}
		if len(chain) == 0 && rtField.Value.Kind == yaml.SequenceNode {
			c.f.Errorf(rtField.Value, "runtime is empty; name at least one runtime, or auto")
			return
		}
		st.step.Runtimes = c.explicitChain(st, name, chain, offering)
	default:
		st.step.Runtimes = c.inheritedChain(st, name, t.N, offering)
	}
	st.step.Digests = c.digests(name, st.step.Runtimes)
	c.checkGrants(st, name, t.N)
}

func isRuntime(s string) bool {
	for _, r := range plan.Runtimes {
		if r == s {
			return true
		}
	}
	return false
}

// offering lists the runtimes that offer tool, in plan.Runtimes order.
// The list is shared between calls; callers must not modify it.
func (c *compiler) offering(tool string) []string {
	if out, ok := c.offers[tool]; ok {
		return out
	}
	var out []string
	for _, rt := range plan.Runtimes {
		if _, ok := c.s.cat.Offers(rt, tool); ok {
			out = append(out, rt)
		}
	}
	if c.offers == nil {
		c.offers = map[string][]string{}
	}
	c.offers[tool] = out
	return out
}

func (c *compiler) allTools() []string {
	seen := map[string]bool{}
	var out []string
	for _, rt := range plan.Runtimes {
		for _, t := range c.s.cat.Tools(rt) {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// refusal says why runtime rt cannot run tool for step st, or "".
func (c *compiler) refusal(st *stepInfo, rt, tool string) string {
	floor := st.step.MinIsolation
	if plan.IsolationRank(plan.Isolation(rt)) < plan.IsolationRank(floor) {
		return fmt.Sprintf("runtime %s gives %s isolation, weaker than the step's isolation: %s", rt, plan.Isolation(rt), floor)
	}
	if _, ok := c.s.cat.Offers(rt, tool); !ok {
		return fmt.Sprintf("runtime %s does not offer tool %s (offered by %s)", rt, tool, strings.Join(c.offering(tool), ", "))
	}
	if !configs.ToolAllowed(c.policy.AllowedTools, rt, tool) {
		return fmt.Sprintf("the policy does not allow %s:%s (allowed_tools: %s)", rt, tool, strings.Join(c.policy.AllowedTools, ", "))
	}
	if st.agent != nil && !configs.ToolAllowed(st.agent.Tools, rt, tool) {
		return fmt.Sprintf("agent %s may not use %s:%s (its tools: %s)", st.agent.ID, rt, tool, strings.Join(st.agent.Tools, ", "))
	}
	return ""
}

func (c *compiler) explicitChain(st *stepInfo, tool string, chain []diag.Str, offering []string) []string {
	var out []string
	ok := true
	for _, r := range chain {
		switch {
		case r.V == plan.RuntimeAuto:
			c.f.Errorf(r.N, "auto stands alone; it cannot be part of a chain")
			ok = false
			continue
		case !isRuntime(r.V):
			c.f.Errorf(r.N, "unknown runtime %q%s (want %s or auto)", r.V, diag.DidYouMean(r.V, plan.Runtimes), strings.Join(plan.Runtimes, ", "))
			ok = false
			continue
		case slices.Contains(out, r.V):
			c.f.Errorf(r.N, "runtime %s appears twice in the chain", r.V)
			ok = false
			continue
		}
		if why := c.refusal(st, r.V, tool); why != "" {
			c.f.Errorf(r.N, "%s", why)
			ok = false
		}
		out = append(out, r.V)
	}
	if !ok {
		return nil
	}
	return out
}

func (c *compiler) autoChain(st *stepInfo, tool string, at *yaml.Node, offering []string) []string {
	var out, why []string
	for _, rt := range plan.Runtimes {
		if w := c.refusal(st, rt, tool); w == "" {
			out = append(out, rt)
		} else if slices.Contains(offering, rt) {
			why = append(why, w)
		}
	}
	if len(out) == 0 {
		c.f.Errorf(at, "runtime auto: no runtime can run tool %s: %s", tool, strings.Join(why, "; "))
	}
	return out
}

func (c *compiler) inheritedChain(st *stepInfo, tool string, at *yaml.Node, offering []string) []string {
	chain, from := c.s.cfg.Tree.Runtimes, "the tree's default chain"
	if st.agent != nil && len(st.agent.Runtimes) > 0 {
		chain, from = st.agent.Runtimes, "the default chain of agent "+st.agent.ID
	}
	if len(chain) == 0 {
		chain, from = []string{plan.RuntimeNative}, "the default chain"
	}
	var out, why []string
	for _, rt := range chain {
		if w := c.refusal(st, rt, tool); w == "" {
			out = append(out, rt)
		} else {
			why = append(why, w)
		}
	}
	if len(out) == 0 {
		c.f.Errorf(at, "no runtime of %s [%s] can run tool %s: %s; set runtime on the step", from, strings.Join(chain, ", "), tool, strings.Join(why, "; "))
	}
	return out
}

func (c *compiler) digests(tool string, chain []string) map[string]string {
	var out map[string]string
	for _, rt := range chain {
		if d, _ := c.s.cat.Offers(rt, tool); d != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[rt] = d
		}
	}
	return out
}

// checkGrants reports native tools that the policy's grants would refuse
// at run time anyway.
func (c *compiler) checkGrants(st *stepInfo, tool string, at *yaml.Node) {
	if !slices.Contains(st.step.Runtimes, plan.RuntimeNative) {
		return
	}
	g := c.policy.Grants
	switch {
	case tool == "shell" && !g.Shell:
		c.f.Errorf(at, "tool shell needs policy.grants.shell: true")
	case tool == "file.write" && g.WriteDir == "":
		c.f.Errorf(at, "tool file.write needs policy.grants.write_dir")
	case tool == "file.read" && g.ReadDir == "":
		c.f.Errorf(at, "tool file.read needs policy.grants.read_dir")
	case tool == "http.request" && len(g.HTTPHosts) == 0:
		c.f.Errorf(at, "tool http.request needs policy.grants.http_hosts")
	}
}
