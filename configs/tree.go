package configs

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/internal/diag"
)

// Tree is the agent tree: departments hold teams, teams hold agents, and
// swarms group agents across teams.
type Tree struct {
	// Runtimes is the default runtime chain for agents whose team and
	// department name none.
	Runtimes    []string
	Departments []*Department
	Swarms      []*Swarm
}

// Department is a top-level group of teams. Parent, when set, makes it a
// sub-department of another department.
type Department struct {
	ID          string
	Description string
	Parent      string
	Runtimes    []string
	Teams       []*Team
}

// Team is a group of agents inside a department. An agent belongs to at
// most one team.
type Team struct {
	ID          string
	Description string
	Runtimes    []string
	Agents      []string
}

// Swarm is a group of agents that cuts across teams, such as everyone an
// incident needs.
type Swarm struct {
	ID          string
	Description string
	Agents      []string
}

// Department returns the department with the given id, or nil.
func (t *Tree) Department(id string) *Department {
	for _, d := range t.Departments {
		if d.ID == id {
			return d
		}
	}
	return nil
}

// Team returns the team with the given id and its department, or nils.
func (t *Tree) Team(id string) (*Team, *Department) {
	for _, d := range t.Departments {
		for _, tm := range d.Teams {
			if tm.ID == id {
				return tm, d
			}
		}
	}
	return nil, nil
}

// Home returns the team an agent belongs to and that team's department,
// or nils for an agent outside the tree.
func (t *Tree) Home(agent string) (*Team, *Department) {
	for _, d := range t.Departments {
		for _, tm := range d.Teams {
			if slices.Contains(tm.Agents, agent) {
				return tm, d
			}
		}
	}
	return nil, nil
}

// SwarmsOf lists the ids of the swarms an agent is in, in file order.
func (t *Tree) SwarmsOf(agent string) []string {
	var out []string
	for _, s := range t.Swarms {
		if slices.Contains(s.Agents, agent) {
			out = append(out, s.ID)
		}
	}
	return out
}

// Chain returns the default runtime chain inherited from a team and its
// department (and the department's parents), else the tree's defaults.
// Either argument may be nil. The result is a fresh slice.
func (t *Tree) Chain(team *Team, dept *Department) []string {
	if team != nil && len(team.Runtimes) > 0 {
		return append([]string(nil), team.Runtimes...)
	}
	for seen := 0; dept != nil && seen <= len(t.Departments); seen++ {
		if len(dept.Runtimes) > 0 {
			return append([]string(nil), dept.Runtimes...)
		}
		dept = t.Department(dept.Parent)
	}
	return append([]string(nil), t.Runtimes...)
}

// DepartmentIDs lists department ids in file order.
func (t *Tree) DepartmentIDs() []string {
	out := make([]string, len(t.Departments))
	for i, d := range t.Departments {
		out[i] = d.ID
	}
	return out
}

// TeamIDs lists team ids in file order.
func (t *Tree) TeamIDs() []string {
	var out []string
	for _, d := range t.Departments {
		for _, tm := range d.Teams {
			out = append(out, tm.ID)
		}
	}
	return out
}

func readTree(f *diag.File, root *yaml.Node, c *Config) {
	t := &c.Tree
	top := f.Mapping(root, TreeFile, []string{"defaults", "departments", "swarms"})
	if d := top["defaults"].Value; d != nil {
		dm := f.Mapping(d, "defaults", []string{"runtime"})
		t.Runtimes = readRuntimes(f, dm["runtime"].Value, "defaults.runtime")
	}
	agentIDs := c.AgentIDs()
	deptPos := map[string]*yaml.Node{}   // department id -> id node
	parentPos := map[string]*yaml.Node{} // department id -> parent node
	teamPos := map[string]*yaml.Node{}
	home := map[string]*yaml.Node{} // agent -> where it was first placed
	homeTeam := map[string]string{}
	for _, dn := range f.Seq(top["departments"].Value, "departments") {
		dm := f.Mapping(dn, "department", []string{"id", "description", "parent", "runtime", "teams"})
		if dn.Kind != yaml.MappingNode {
			continue
		}
		id, ok := readEntryID(f, dn, dm, "department", deptPos)
		if !ok {
			continue
		}
		d := &Department{ID: id.V}
		if s, ok := f.String(dm["description"].Value, "description"); ok {
			d.Description = s.V
		}
		if s, ok := f.String(dm["parent"].Value, "parent"); ok {
			d.Parent = s.V
			parentPos[d.ID] = s.N
		}
		d.Runtimes = readRuntimes(f, dm["runtime"].Value, "runtime")
		for _, tn := range f.Seq(dm["teams"].Value, "teams") {
			tmf := f.Mapping(tn, "team", []string{"id", "description", "runtime", "agents"})
			if tn.Kind != yaml.MappingNode {
				continue
			}
			tid, ok := readEntryID(f, tn, tmf, "team", teamPos)
			if !ok {
				continue
			}
			tm := &Team{ID: tid.V}
			if s, ok := f.String(tmf["description"].Value, "description"); ok {
				tm.Description = s.V
			}
			tm.Runtimes = readRuntimes(f, tmf["runtime"].Value, "runtime")
			for _, a := range f.Strings(tmf["agents"].Value, "agents") {
				if c.Agents[a.V] == nil {
					f.Errorf(a.N, "unknown agent %q in team %s%s", a.V, tm.ID, diag.DidYouMean(a.V, agentIDs))
					continue
				}
				if prev := home[a.V]; prev != nil {
					f.Errorf(a.N, "agent %q is already in team %s (at %s); an agent belongs to one team, group agents across teams with a swarm", a.V, homeTeam[a.V], diag.LinePos(prev))
					continue
				}
				home[a.V], homeTeam[a.V] = a.N, tm.ID
				tm.Agents = append(tm.Agents, a.V)
			}
			d.Teams = append(d.Teams, tm)
		}
		t.Departments = append(t.Departments, d)
	}
	deptIDs := t.DepartmentIDs()
	for _, d := range t.Departments {
		if d.Parent == "" {
			continue
		}
		if d.Parent == d.ID {
			f.Errorf(parentPos[d.ID], "department %s cannot be its own parent", d.ID)
			d.Parent = ""
		} else if t.Department(d.Parent) == nil {
			f.Errorf(parentPos[d.ID], "unknown parent department %q%s", d.Parent, diag.DidYouMean(d.Parent, deptIDs))
			d.Parent = ""
		}
	}
	reportParentCycles(f, t, parentPos)

	swarmPos := map[string]*yaml.Node{}
	for _, sn := range f.Seq(top["swarms"].Value, "swarms") {
		sm := f.Mapping(sn, "swarm", []string{"id", "description", "agents"})
		if sn.Kind != yaml.MappingNode {
			continue
		}
		id, ok := readEntryID(f, sn, sm, "swarm", swarmPos)
		if !ok {
			continue
		}
		s := &Swarm{ID: id.V}
		if d, ok := f.String(sm["description"].Value, "description"); ok {
			s.Description = d.V
		}
		for _, a := range f.Strings(sm["agents"].Value, "agents") {
			switch {
			case c.Agents[a.V] == nil:
				f.Errorf(a.N, "unknown agent %q in swarm %s%s", a.V, s.ID, diag.DidYouMean(a.V, agentIDs))
			case slices.Contains(s.Agents, a.V):
				f.Errorf(a.N, "agent %q is listed twice in swarm %s", a.V, s.ID)
			default:
				s.Agents = append(s.Agents, a.V)
			}
		}
		t.Swarms = append(t.Swarms, s)
	}
}

// reportParentCycles reports each cycle of department parents once, at the
// parent key of the first department of the cycle in file order, and
// breaks it so that Chain terminates.
func reportParentCycles(f *diag.File, t *Tree, parentPos map[string]*yaml.Node) {
	state := map[string]int{} // 0 new, 1 on the current path, 2 done
	for _, d := range t.Departments {
		var path []*Department
		cur := d
		for cur != nil && state[cur.ID] == 0 {
			state[cur.ID] = 1
			path = append(path, cur)
			cur = t.Department(cur.Parent)
		}
		if cur != nil && state[cur.ID] == 1 {
			// cur is on the path: the cycle is path[i:] back to cur.
			i := 0
			for path[i] != cur {
				i++
			}
			cycle := path[i:]
			names := make([]string, 0, len(cycle)+1)
			for _, c := range cycle {
				names = append(names, c.ID)
			}
			names = append(names, cur.ID)
			f.Errorf(parentPos[cur.ID], "department cycle: %s", strings.Join(names, " -> "))
			cur.Parent = ""
		}
		for _, p := range path {
			state[p.ID] = 2
		}
	}
}
