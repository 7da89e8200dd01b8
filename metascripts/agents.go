package metascripts

import (
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/configs"
	"github.com/tars-engine/tars/internal/diag"
	"github.com/tars-engine/tars/plan"
)

var agentIDPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// readAgents resolves the agents a metascript lists: ids from the
// configuration, or inline definitions. An inline definition whose id is in
// the configuration starts from that agent and overrides the fields it
// writes; a new id makes a new agent, placed in the tree by its team or
// department.
func (c *compiler) readAgents(n *yaml.Node) {
	c.agents = map[string]*plan.Agent{}
	cfg := c.s.cfg
	first := map[string]*yaml.Node{}
	for _, an := range c.f.Seq(n, "agents") {
		var a *plan.Agent
		var idN *yaml.Node
		switch an.Kind {
		case yaml.ScalarNode:
			idN = an
			if an.Tag == "!!null" {
				c.f.Errorf(an, "agents entries are agent ids or mappings, not null")
				continue
			}
			r, ok := cfg.Resolve(an.Value)
			if !ok {
				c.f.Errorf(an, "unknown agent %q%s (agents are defined in configs/agents.yaml, or inline here)", an.Value, diag.DidYouMean(an.Value, cfg.AgentIDs()))
				continue
			}
			a = &r
		case yaml.MappingNode:
			a, idN = c.inlineAgent(an)
			if a == nil {
				continue
			}
		default:
			c.f.Errorf(an, "agents entries are agent ids or mappings, not %s", diag.Describe(an))
			continue
		}
		if prev := first[a.ID]; prev != nil {
			c.f.Errorf(idN, "agent %q is listed twice (first at %s)", a.ID, diag.LinePos(prev))
			continue
		}
		first[a.ID] = idN
		c.agents[a.ID] = a
		c.agentIDs = append(c.agentIDs, a.ID)
	}
}

func (c *compiler) inlineAgent(n *yaml.Node) (*plan.Agent, *yaml.Node) {
	cfg := c.s.cfg
	fs := c.fields(n, agentObj, "agent")
	id, ok := c.f.String(fs.Get("id").Value, "agent id")
	if !ok {
		return nil, nil
	}
	if !agentIDPattern.MatchString(id.V) {
		c.f.Errorf(id.N, "agent id %q must be lower-case letters, digits and dashes, starting with a letter", id.V)
		return nil, nil
	}
	a, known := cfg.Resolve(id.V)
	if !known {
		a = plan.Agent{ID: id.V}
	}
	if s, ok := c.f.String(fs.Get("role").Value, "role"); ok {
		a.Role = s.V
	}
	if s, ok := c.f.String(fs.Get("persona").Value, "persona"); ok {
		a.Persona = strings.TrimSpace(s.V)
	}
	if mv := fs.Get("model").Value; mv != nil {
		a.Model = configs.ReadModel(c.f, mv, cfg.Models)
	}
	if tv := fs.Get("tools").Value; tv != nil {
		a.Tools = configs.ReadToolPatterns(c.f, tv, "tools", false)
	}

	// Place it in the tree.
	var team *configs.Team
	var dept *configs.Department
	if s, ok := c.f.String(fs.Get("team").Value, "team"); ok {
		team, dept = cfg.Tree.Team(s.V)
		if team == nil {
			c.f.Errorf(s.N, "unknown team %q%s", s.V, diag.DidYouMean(s.V, cfg.Tree.TeamIDs()))
		}
	}
	if s, ok := c.f.String(fs.Get("department").Value, "department"); ok {
		d := cfg.Tree.Department(s.V)
		switch {
		case d == nil:
			c.f.Errorf(s.N, "unknown department %q%s", s.V, diag.DidYouMean(s.V, cfg.Tree.DepartmentIDs()))
		case dept != nil && dept != d:
			c.f.Errorf(s.N, "team %s is in department %s, not %s", team.ID, dept.ID, s.V)
		default:
			dept = d
		}
	}
	if team != nil || dept != nil {
		a.Team, a.Department = "", ""
		if team != nil {
			a.Team = team.ID
		}
		if dept != nil {
			a.Department = dept.ID
		}
	}
	if rv := fs.Get("runtime").Value; rv != nil {
		a.Runtimes = c.agentChain(rv)
	} else if !known || ((team != nil || dept != nil) && len(cfg.Agents[id.V].Runtimes) == 0) {
		a.Runtimes = cfg.Tree.Chain(team, dept)
	}
	return &a, id.N
}

// agentChain reads an inline agent's default runtime chain.
func (c *compiler) agentChain(n *yaml.Node) []string {
	var out []string
	for _, s := range c.f.StringOrList(n, "runtime") {
		switch {
		case s.V == plan.RuntimeAuto:
			c.f.Errorf(s.N, "an agent's default chain names runtimes; auto is chosen per step")
		case !isRuntime(s.V):
			c.f.Errorf(s.N, "unknown runtime %q%s (want %s)", s.V, diag.DidYouMean(s.V, plan.Runtimes), strings.Join(plan.Runtimes, ", "))
		case slices.Contains(out, s.V):
			c.f.Errorf(s.N, "runtime %s appears twice in the chain", s.V)
		default:
			out = append(out, s.V)
		}
	}
	return out
}
