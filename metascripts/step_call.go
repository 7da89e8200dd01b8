package metascripts

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/internal/diag"
	"github.com/tars-engine/tars/plan"
)

// readCall compiles a call step; the child itself is compiled after the
// parent has been read (compileCalls), so that the parent's faults and the
// child's are reported together.
func (c *compiler) readCall(st *stepInfo, body scope) {
	cn := st.fields.Get("call")
	cf := c.fields(cn.Value, callObj, "call")
	if cn.Value.Kind != yaml.MappingNode {
		return
	}
	call := &plan.Call{}
	if s, ok := c.f.String(cf.Get("metascript").Value, "call.metascript"); ok {
		if !namePattern.MatchString(s.V) {
			c.f.Errorf(s.N, "metascript name %q must start with a letter and hold only letters, digits, '.', '_' and '-'", s.V)
		} else {
			call.Metascript = s.V
			st.callAt = s.N
		}
	}
	st.callIn = cf.Get("inputs").Value
	if in := cf.Get("inputs").Value; in != nil {
		if in.Kind != yaml.MappingNode {
			c.f.Errorf(in, "call.inputs must be a mapping of input names to values, not %s", diag.Describe(in))
		} else if raw, ok := c.templateJSON(in, st, "call.inputs", body); ok {
			call.Inputs = raw
		}
	}
	st.step.Call = call
}

// compileCalls compiles every metascript that call steps name, checks the
// inputs passed to it, and returns the plans by name.
func (c *compiler) compileCalls() map[string]*plan.Plan {
	var out map[string]*plan.Plan
	for _, st := range c.steps {
		if st.kind != kindCall || st.step.Call == nil || st.step.Call.Metascript == "" {
			continue
		}
		name := st.step.Call.Metascript
		at := st.callAt
		path, err := c.s.lookup(c.path, name)
		if err != nil {
			c.f.Errorf(at, "unknown metascript %q: %v%s", name, err, diag.DidYouMean(name, siblings(c.path)))
			continue
		}
		canon := canonical(path)
		if i := indexOf(c.stack, canon); i >= 0 {
			names := make([]string, 0, len(c.stack)-i+1)
			for _, p := range c.stack[i:] {
				names = append(names, baseName(p))
			}
			names = append(names, name)
			c.f.Errorf(at, "call cycle: %s", strings.Join(names, " -> "))
			continue
		}
		res := c.s.children[canon]
		if res == nil {
			res = &childResult{}
			src, err := c.s.read(path)
			if err != nil {
				res.diags = Diagnostics{{File: path, Line: 1, Col: 1, Msg: err.Error()}}
			} else {
				p, err := c.s.compile(path, src, c.stack)
				if ds, ok := err.(Diagnostics); ok {
					res.diags = ds
				} else if err != nil {
					res.diags = Diagnostics{{File: path, Line: 1, Col: 1, Msg: err.Error()}}
				}
				res.plan = p
			}
			c.s.children[canon] = res
		}
		if len(res.diags) > 0 {
			c.f.Diags = append(c.f.Diags, res.diags...)
			c.f.Errorf(at, "metascript %q does not compile (its faults are listed under %s)", name, path)
			continue
		}
		child := res.plan
		if child.Name != name {
			c.f.Errorf(at, "%s declares metascript %q, not %q", path, child.Name, name)
			continue
		}
		c.checkCallInputs(st, st.callIn, child)
		if out == nil {
			out = map[string]*plan.Plan{}
		}
		out[name] = child
	}
	return out
}

func (c *compiler) checkCallInputs(st *stepInfo, in *yaml.Node, child *plan.Plan) {
	declared := make([]string, len(child.Inputs))
	for i, x := range child.Inputs {
		declared[i] = x.Name
	}
	given := map[string]bool{}
	if in != nil && in.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(in.Content); i += 2 {
			k := in.Content[i]
			given[k.Value] = true
			if !slices.Contains(declared, k.Value) {
				c.f.Errorf(k, "metascript %s has no input %q%s", child.Name, k.Value, diag.DidYouMean(k.Value, declared))
			}
		}
	}
	for _, x := range child.Inputs {
		if x.Required && !given[x.Name] {
			c.f.Errorf(st.fields.Get("call").Key, "call of %s misses its required input %s", child.Name, x.Name)
		}
	}
}

// siblings lists the metascript names beside path, for suggestions.
func siblings(path string) []string {
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if ext := filepath.Ext(n); ext == ".yaml" || ext == ".yml" {
			out = append(out, strings.TrimSuffix(n, ext))
		}
	}
	sort.Strings(out)
	return out
}

func baseName(p string) string {
	b := filepath.Base(p)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
