package metascripts

import (
	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/plan"
)

// readApproval compiles a human decision. With a timeout the run never
// waits forever: when it passes, default decides (reject unless written).
func (c *compiler) readApproval(st *stepInfo, body scope) {
	an := st.fields.Get("approval")
	af := c.fields(an.Value, approvalObj, "approval")
	if an.Value.Kind != yaml.MappingNode {
		return
	}
	a := &plan.Approval{}
	if s, ok := c.f.String(af.Get("prompt").Value, "approval.prompt"); ok {
		c.templateSites(s.N, st, "approval.prompt", body)
		a.Prompt = s.V
	}
	if d, ok := c.f.Duration(af.Get("timeout").Value, "approval.timeout"); ok {
		a.Timeout = plan.Duration(d)
	}
	if v, ok := c.f.Enum(af.Get("default").Value, "approval.default", approvalDefs); ok {
		a.Default = v
		if af.Get("timeout").Value == nil {
			c.f.Errorf(af.Get("default").Key, "approval.default applies when the timeout passes; add approval.timeout")
		}
	}
	if a.Timeout > 0 && a.Default == "" {
		a.Default = "reject"
	}
	st.step.Approval = a
}
