package metascripts

import (
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/internal/diag"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/plan/expr"
)

// readClosures reads `closures`, a mapping of name to {params, returns,
// body}. Closures are pure: a body sees only its parameters and may call
// the closures declared before it, so none can recurse.
func (c *compiler) readClosures(n *yaml.Node) {
	var entries []diag.Field
	all := c.f.Entries(n, "closures")
	if len(all) > MaxClosures {
		c.f.Errorf(all[MaxClosures].Key, "a metascript may declare at most %d closures", MaxClosures)
		all = all[:MaxClosures]
	}
	for _, e := range all {
		name := diag.Str{V: e.Key.Value, N: e.Key}
		if !c.ident(name, "closure") {
			continue
		}
		switch {
		case slices.Contains(variables, name.V):
			c.f.Errorf(e.Key, "closure %q would hide the variable %s", name.V, name.V)
			continue
		case expr.Builtin(name.V):
			c.f.Errorf(e.Key, "closure %q would redefine a built-in function", name.V)
			continue
		}
		c.closureNames = append(c.closureNames, name.V)
		entries = append(entries, e)
	}
	for _, e := range entries {
		name := diag.Str{V: e.Key.Value, N: e.Key}
		cf := c.fields(e.Value, closureObj, "closure "+name.V)
		if e.Value.Kind != yaml.MappingNode {
			continue
		}
		cl := plan.Closure{Name: name.V, Returns: "any", Params: []plan.Param{}}
		ok := true
		for _, pe := range c.f.Entries(cf.Get("params").Value, "params") {
			pn := diag.Str{V: pe.Key.Value, N: pe.Key}
			if !c.ident(pn, "parameter") {
				ok = false
				continue
			}
			if slices.Contains(variables, pn.V) {
				c.f.Errorf(pe.Key, "parameter %q would hide the variable %s", pn.V, pn.V)
				ok = false
				continue
			}
			t, good := c.f.Enum(pe.Value, "type of parameter "+pn.V, expr.TypeNames)
			if !good {
				ok = false
				continue
			}
			cl.Params = append(cl.Params, plan.Param{Name: pn.V, Type: t})
		}
		if v, good := c.f.Enum(cf.Get("returns").Value, "returns", expr.TypeNames); good {
			cl.Returns = v
		} else if cf.Get("returns").Value != nil {
			ok = false
		}
		body, good := c.closureBody(cf.Get("body").Value)
		if !good || !ok {
			continue
		}
		cl.Body = body.src
		if !c.checkClosure(cl, body) {
			continue
		}
		c.closures = append(c.closures, cl)
	}
}

// closureBody reads a body written bare or as ${...}.
func (c *compiler) closureBody(n *yaml.Node) (*site, bool) {
	if n == nil {
		return nil, false
	}
	before := len(c.sites)
	src, ok := c.exprField(n, nil, "body", "", 0)
	if !ok || len(c.sites) == before {
		return nil, false
	}
	// exprField registered a site for the DAG-wide check; a body is
	// checked here instead, against its parameters. (Closures are read
	// before the checking workers start, so the site was not queued.)
	s := c.sites[len(c.sites)-1]
	c.sites = c.sites[:before]
	s.src = src
	s.off += leadingSpace(c.siteRaw(s))
	return s, true
}

// siteRaw is the text of the value at the site's offset.
func (c *compiler) siteRaw(s *site) string {
	if s.off <= len(s.n.Value) {
		return s.n.Value[s.off:]
	}
	return ""
}

func (c *compiler) checkClosure(cl plan.Closure, body *site) bool {
	r := expr.CheckClosure(c.closures, cl)
	ok := len(r.Issues) == 0
	for _, is := range r.Issues {
		msg := is.Msg
		if is.Undeclared != "" {
			msg = c.closureUndeclared(cl, is.Undeclared)
		}
		c.errAt(body.n, body.off+is.Offset, "%s", msg)
	}
	for _, u := range r.Uses {
		if slices.Contains(variables, u.Root) {
			c.errAt(body.n, body.off+u.Offset, "closure %s reads %s; a closure body sees only its parameters (pass the value as an argument)", cl.Name, u.Root)
			ok = false
		}
	}
	return ok
}

func (c *compiler) closureUndeclared(cl plan.Closure, name string) string {
	for _, n := range c.closureNames {
		if n == name && !c.closureValid(name) {
			if name == cl.Name {
				return fmt.Sprintf("closure %s calls itself; closures cannot recurse", cl.Name)
			}
			return fmt.Sprintf("closure %s calls %s, which is declared after it or is invalid; a closure may call only valid closures declared before it", cl.Name, name)
		}
	}
	cands := make([]string, 0, len(cl.Params)+len(c.closures))
	for _, p := range cl.Params {
		cands = append(cands, p.Name)
	}
	for _, x := range c.closures {
		cands = append(cands, x.Name)
	}
	return fmt.Sprintf("unknown name %q in closure %s%s", name, cl.Name, diag.DidYouMean(name, cands))
}
