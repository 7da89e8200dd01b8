package metascripts

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/configs"
	"github.com/tars-engine/tars/internal/diag"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/plan/expr"
)

// DefaultMaxTurns bounds the model turns of a reason step with tools that
// sets no reason.max_turns.
const DefaultMaxTurns = 8

// readReason compiles a reason step: a model call made as the step's
// agent. It becomes the native tool model.chat with the agent's model and
// persona in its arguments, so the interpreter treats it like any tool.
// With tools, a turn limit or an output schema it also gets a plan.Reason,
// and the interpreter runs it as an agent loop (workflows/agent.go).
func (c *compiler) readReason(st *stepInfo, body scope) {
	rn := st.fields.Get("reason")
	rf := c.fields(rn.Value, reasonObj, "reason")
	if rn.Value.Kind != yaml.MappingNode {
		return
	}
	var prompt, system json.RawMessage
	if s, ok := c.f.String(rf.Get("prompt").Value, "reason.prompt"); ok {
		prompt, _ = c.templateJSON(s.N, st, "reason.prompt", body)
	}
	if s, ok := c.f.String(rf.Get("system").Value, "reason.system"); ok {
		system, _ = c.templateJSON(s.N, st, "reason.system", body)
	}
	var output string
	var schema json.RawMessage
	if on := rf.Get("output").Value; on != nil && on.Kind == yaml.MappingNode {
		schema = c.readOutputSchema(on)
		output = "json"
	} else {
		output, _ = c.f.Enum(on, "reason.output", reasonOutputs)
	}

	var model *plan.Model
	switch {
	case st.fields.Get("agent").Value == nil:
		c.f.Errorf(rn.Key, "reason step %s needs an agent: its model and persona come from the agent", st.name())
	case st.agent != nil && st.agent.Model == nil:
		c.f.Errorf(st.fields.Get("agent").Value, "agent %s has no model, so it cannot take reason step %s; give it one in configs/agents.yaml or inline under agents", st.agent.ID, st.name())
	case st.agent != nil:
		cp := *st.agent.Model
		model = &cp
		if model.Price == nil {
			model.Price = c.s.cfg.Price(model.Name)
		}
		if system == nil && st.agent.Persona != "" {
			var b bytes.Buffer
			writeJSONString(&b, st.agent.Persona)
			system = b.Bytes()
		}
		c.checkModel(st, model)
	}
	if _, ok := c.s.cat.Offers(plan.RuntimeNative, ReasonTool); !ok {
		c.f.Errorf(rn.Key, "reason steps run native:%s, which the tool catalogue does not offer", ReasonTool)
	} else if !configs.ToolAllowed(c.policy.AllowedTools, plan.RuntimeNative, ReasonTool) {
		c.f.Errorf(rn.Key, "reason steps run native:%s, which the policy does not allow (allowed_tools: %s)", ReasonTool, strings.Join(c.policy.AllowedTools, ", "))
	}
	st.step.Tool = ReasonTool
	st.step.Runtimes = []string{plan.RuntimeNative}
	st.step.Digests = c.digests(ReasonTool, st.step.Runtimes)

	tools := c.readAgentTools(st, rf.Get("tools").Value)
	maxTurns := 0
	if f, ok := rf.Lookup("max_turns"); ok {
		if v, ok := c.f.Int(f.Value, "reason.max_turns"); ok {
			if v < 1 || v > 100 {
				c.f.Errorf(f.Value, "reason.max_turns must be between 1 and 100, not %d", v)
			}
			maxTurns = v
		}
	}
	if iso := st.fields.Get("isolation"); iso.Value != nil && rf.Get("tools").Value == nil {
		c.f.Errorf(iso.Key, "isolation on a reason step bounds the tools its agent calls, and step %s gives it none (reason.tools)", st.name())
	}
	if rf.Get("tools").Value != nil || maxTurns > 0 || schema != nil {
		if maxTurns == 0 {
			maxTurns = DefaultMaxTurns
		}
		st.step.Reason = &plan.Reason{Tools: tools, MaxTurns: maxTurns, Schema: schema}
	}
	if model == nil || prompt == nil {
		return
	}
	var b bytes.Buffer
	mj, _ := json.Marshal(model)
	b.WriteString(`{"model":`)
	b.Write(mj)
	if system != nil {
		b.WriteString(`,"system":`)
		b.Write(system)
	}
	b.WriteString(`,"prompt":`)
	b.Write(prompt)
	if output != "" {
		b.WriteString(`,"output":`)
		writeJSONString(&b, output)
	}
	b.WriteByte('}')
	st.step.With = b.Bytes()
}

// readOutputSchema reads reason.output: {schema: ...} and checks that the
// schema compiles, so that a broken schema is a compile error.
func (c *compiler) readOutputSchema(n *yaml.Node) json.RawMessage {
	of := c.fields(n, reasonOutputObj, "reason.output")
	sn := of.Get("schema").Value
	if sn == nil {
		return nil
	}
	raw, ok := c.literalJSON(sn, "reason.output.schema")
	if !ok {
		return nil
	}
	if err := CheckJSONSchema(raw); err != nil {
		c.f.Errorf(sn, "reason.output.schema is not a usable JSON Schema: %v", err)
		return nil
	}
	return raw
}

// CheckJSONSchema reports whether raw compiles as a JSON Schema (draft
// 2020-12 unless it names another with $schema).
func CheckJSONSchema(raw json.RawMessage) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	comp := jsonschema.NewCompiler()
	if err := comp.AddResource(schemaURL, doc); err != nil {
		return err
	}
	if _, err = comp.Compile(schemaURL); err != nil {
		return errors.New(plan.SchemaMessage(err))
	}
	return nil
}

// schemaURL names a schema given inline; nothing is fetched.
const schemaURL = "mem:///schema.json"

// checkModel refuses what the run would refuse anyway: a model endpoint
// whose host the policy does not grant, an API key variable it does not
// grant, and a usd budget with a model whose price is unknown.
func (c *compiler) checkModel(st *stepInfo, m *plan.Model) {
	at := st.fields.Get("agent").Value
	g := c.policy.Grants
	if m.Endpoint != "" {
		if u, err := url.Parse(m.Endpoint); err == nil && !hostGranted(g.HTTPHosts, u) {
			granted := "none are granted"
			if len(g.HTTPHosts) > 0 {
				granted = "granted: " + strings.Join(g.HTTPHosts, ", ")
			}
			c.f.Errorf(at, "reason step %s: the endpoint of agent %s's model (%s) is on host %q, which the policy does not grant; add it to policy.grants.http_hosts (%s)",
				st.name(), st.agent.ID, m.Endpoint, u.Hostname(), granted)
		}
	}
	if m.APIKeyEnv != "" && !slices.Contains(g.Env, m.APIKeyEnv) {
		c.f.Errorf(at, "reason step %s: agent %s's model reads its API key from %s, which the policy does not grant; add it to policy.grants.env",
			st.name(), st.agent.ID, m.APIKeyEnv)
	}
	if _, usd := c.policy.Budgets["usd"]; usd && m.Price == nil {
		c.f.Errorf(at, "reason step %s: the run has a usd budget, and agent %s's model %q has no price; add it under prices in configs/agents.yaml",
			st.name(), st.agent.ID, m.Name)
	}
}

// hostGranted matches a URL's host against grants the way the native pool
// does at run time (activities/native checkHost): host, host:port, or
// *.domain.
func hostGranted(grants []string, u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	hostPort := net.JoinHostPort(host, port)
	for _, g := range grants {
		g = strings.ToLower(strings.TrimSpace(g))
		if g == host || g == hostPort || (strings.HasPrefix(g, "*.") && strings.HasSuffix(host, g[1:])) {
			return true
		}
	}
	return false
}

var functionName = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// readAgentTools resolves reason.tools. "runtime:name" runs on that
// runtime only; a bare "name" on every runtime that offers it and passes
// the step's checks, in plan.Runtimes order, so it can fall back. Each
// runtime must meet the step's isolation floor and be allowed by the
// policy and the agent.
func (c *compiler) readAgentTools(st *stepInfo, n *yaml.Node) []plan.AgentTool {
	if n == nil {
		return nil
	}
	var out []plan.AgentTool
	names := map[string]string{}
	for _, s := range c.f.Strings(n, "reason.tools") {
		prefix, name, hasPrefix := strings.Cut(s.V, ":")
		if !hasPrefix {
			name, prefix = s.V, ""
		}
		if name == "" || name == "*" {
			c.f.Errorf(s.N, "reason.tools entry %q must name one tool", s.V)
			continue
		}
		if name == ReasonTool {
			c.f.Errorf(s.N, "reason.tools: an agent cannot call %s as a tool; use another reason step", ReasonTool)
			continue
		}
		offering := c.offering(name)
		if len(offering) == 0 {
			c.f.Errorf(s.N, "reason.tools: unknown tool %q: no runtime offers it%s", name, diag.DidYouMean(name, c.allTools()))
			continue
		}
		var chain []string
		if hasPrefix {
			if !isRuntime(prefix) {
				c.f.Errorf(s.N, "reason.tools: unknown runtime %q in %q%s", prefix, s.V, diag.DidYouMean(prefix, plan.Runtimes))
				continue
			}
			if why := c.refusal(st, prefix, name); why != "" {
				c.f.Errorf(s.N, "reason.tools: %s", why)
				continue
			}
			chain = []string{prefix}
		} else {
			var why []string
			for _, rt := range offering {
				if w := c.refusal(st, rt, name); w == "" {
					chain = append(chain, rt)
				} else {
					why = append(why, w)
				}
			}
			if len(chain) == 0 {
				c.f.Errorf(s.N, "reason.tools: no runtime can run tool %s: %s", name, strings.Join(why, "; "))
				continue
			}
		}
		fn := functionName.ReplaceAllString(name, "_")
		if hasPrefix {
			fn = prefix + "_" + fn
		}
		if prev, dup := names[fn]; dup {
			c.f.Errorf(s.N, "reason.tools lists %s twice (first as %s)", s.V, prev)
			continue
		}
		names[fn] = s.V
		desc, params := c.describeTool(chain[0], name)
		out = append(out, plan.AgentTool{
			Name: fn, Tool: name, Runtimes: chain, Digests: c.digests(name, chain),
			Description: desc, Parameters: params,
		})
		if slices.Contains(chain, plan.RuntimeNative) {
			c.checkGrants(&stepInfo{step: &plan.Step{Runtimes: chain}}, name, s.N)
		}
	}
	if len(out) > 64 {
		c.f.Errorf(n, "reason.tools lists %d tools; models take at most 64", len(out))
	}
	return out
}

// reasonField matches a field read on a step's output: steps.<id>.output.<field>.
var reasonField = regexp.MustCompile(`^steps\s*\.\s*[A-Za-z_][A-Za-z0-9_]*\s*\.\s*output\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)`)

// checkReasonOutputUse refuses a field read on the output of a reason step
// that answers in text: the output is the answer itself, a string, not
// model.chat's {content, usage}, and the read would fail only when the run
// reaches it.
func (c *compiler) checkReasonOutputUse(s *site, u expr.Use, t *stepInfo) {
	if t.step.Kind != plan.KindReason || t.step.With == nil || t.step.Reason != nil && len(t.step.Reason.Schema) > 0 {
		return
	}
	if bytes.Contains(t.step.With, []byte(`"output":"json"`)) {
		return
	}
	m := reasonField.FindStringSubmatch(s.src[u.Offset:])
	if m == nil {
		return
	}
	c.errAt(s.n, s.off+u.Offset, "steps.%s.output is reason step %s's answer as text, which has no field %q; write steps.%s.output (or give it output: json)", t.id, t.id, m[1], t.id)
}
