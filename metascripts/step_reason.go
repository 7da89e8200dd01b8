package metascripts

import (
	"bytes"
	"encoding/json"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/configs"
	"github.com/tars-engine/tars/plan"
)

// readReason compiles a reason step: a model call made as the step's
// agent. It becomes the native tool model.chat with the agent's model and
// persona in its arguments, so the interpreter treats it like any tool.
func (c *compiler) readReason(st *stepInfo, body scope) {
	rn := st.fl["reason"]
	rf := c.fields(rn.Value, reasonObj, "reason")
	if rn.Value.Kind != yaml.MappingNode {
		return
	}
	var prompt, system json.RawMessage
	if s, ok := c.f.String(rf["prompt"].Value, "reason.prompt"); ok {
		prompt, _ = c.templateJSON(s.N, st, "reason.prompt", body)
	}
	if s, ok := c.f.String(rf["system"].Value, "reason.system"); ok {
		system, _ = c.templateJSON(s.N, st, "reason.system", body)
	}
	output, _ := c.f.Enum(rf["output"].Value, "reason.output", reasonOutputs)

	var model *plan.Model
	switch {
	case st.fl["agent"].Value == nil:
		c.f.Errorf(rn.Key, "reason step %s needs an agent: its model and persona come from the agent", st.name())
	case st.agent != nil && st.agent.Model == nil:
		c.f.Errorf(st.fl["agent"].Value, "agent %s has no model, so it cannot take reason step %s; give it one in configs/agents.yaml or inline under agents", st.agent.ID, st.name())
	case st.agent != nil:
		model = st.agent.Model
		if system == nil && st.agent.Persona != "" {
			var b bytes.Buffer
			writeJSONString(&b, st.agent.Persona)
			system = b.Bytes()
		}
	}
	if _, ok := c.s.cat.Offers(plan.RuntimeNative, ReasonTool); !ok {
		c.f.Errorf(rn.Key, "reason steps run native:%s, which the tool catalogue does not offer", ReasonTool)
	} else if !configs.ToolAllowed(c.policy.AllowedTools, plan.RuntimeNative, ReasonTool) {
		c.f.Errorf(rn.Key, "reason steps run native:%s, which the policy does not allow (allowed_tools: %s)", ReasonTool, strings.Join(c.policy.AllowedTools, ", "))
	}
	st.st.Tool = ReasonTool
	st.st.Runtimes = []string{plan.RuntimeNative}
	st.st.Digests = c.digests(ReasonTool, st.st.Runtimes)
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
	st.st.With = b.Bytes()
}
