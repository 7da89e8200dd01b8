package metascripts

import (
	"errors"
	"runtime"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/internal/diag"
	"github.com/tars-engine/tars/plan/expr"
)

// scope says which of the per-step variables an expression may read.
type scope uint8

const (
	scItem   scope = 1 << iota // item: inside foreach
	scIndex                    // index: the item's index, or the loop turn
	scOutput                   // output: inside checks
	scSelf                     // steps.<own id>: a while loop's previous turn
)

// site is one expression found in the metascript, checked once the DAG is
// known (which steps a step may read depends on its transitive needs).
type site struct {
	step *stepInfo  // nil for outputs, which may read every step
	n    *yaml.Node // the scalar that holds it
	src  string     // CEL source
	off  int        // byte offset of src in n.Value
	want string     // "bool", "list" or "" (any)
	sc   scope
	res  *expr.Checked // set by a checking worker
}

// addSite registers an expression. Once the checker exists (after the
// step ids are known), sites are also handed to the checking workers, so
// that CEL's parser runs on the other cores while the steps are read.
func (c *compiler) addSite(v site) {
	if len(c.siteRoom) == 0 {
		c.siteRoom = make([]site, 256)
	}
	s := &c.siteRoom[0]
	c.siteRoom = c.siteRoom[1:]
	*s = v
	c.sites = append(c.sites, s)
	if c.queue != nil {
		c.pending = append(c.pending, s)
		if len(c.pending) == siteBatch {
			c.queue <- c.pending
			c.pending = nil
		}
	}
}

// siteBatch is how many sites go to the checking workers at once: one
// channel operation (and perhaps a wake-up) per site cost more than
// checking most of them.
const siteBatch = 32

// startChecking builds the checker and starts one worker per core.
// Checking is pure and the Checker is safe for concurrent use; faults are
// recorded later, in site order, so the result does not depend on
// scheduling.
func (c *compiler) startChecking() {
	if !c.newChecker() {
		return
	}
	c.queue = make(chan []*site, 16)
	workers := min(runtime.GOMAXPROCS(0), 8)
	for w := 0; w < workers; w++ {
		c.workers.Add(1)
		go func() {
			defer c.workers.Done()
			for batch := range c.queue {
				for _, s := range batch {
					s.res = c.checker.Check(s.src)
				}
			}
		}()
	}
}

// templateSites registers the ${...} expressions of a template string.
func (c *compiler) templateSites(n *yaml.Node, st *stepInfo, what string, sc scope) bool {
	if !strings.Contains(n.Value, "${") {
		return true
	}
	segs, err := expr.SplitAppend(c.segs[:0], n.Value)
	c.segs = segs
	if err != nil {
		var se *expr.SyntaxError
		if errors.As(err, &se) {
			c.errAt(n, se.Offset, "%s: %s", what, se.Msg)
		} else {
			c.f.Errorf(n, "%s: %v", what, err)
		}
		return false
	}
	for _, sg := range segs {
		if sg.IsExpr {
			c.addSite(site{step: st, n: n, src: sg.Expr, off: sg.Offset, sc: sc})
		}
	}
	return true
}

// exprField reads a key that holds one expression, written bare
// (`when: inputs.n > 3`) or as a template (`when: ${inputs.n > 3}`), and
// returns it bare, as the Plan stores it.
func (c *compiler) exprField(n *yaml.Node, st *stepInfo, what, want string, sc scope) (string, bool) {
	s, ok := c.f.String(n, what)
	if !ok {
		return "", false
	}
	trim := strings.TrimSpace(s.V)
	if trim == "" {
		c.f.Errorf(n, "%s is empty; write an expression", what)
		return "", false
	}
	if !strings.HasPrefix(trim, "${") {
		c.addSite(site{step: st, n: n, src: s.V, want: want, sc: sc})
		return s.V, true
	}
	segs, err := expr.SplitAppend(c.segs[:0], s.V)
	c.segs = segs
	if err != nil {
		var se *expr.SyntaxError
		if errors.As(err, &se) {
			c.errAt(n, se.Offset, "%s: %s", what, se.Msg)
		}
		return "", false
	}
	var one *expr.Segment
	for i := range segs {
		sg := &segs[i]
		if !sg.IsExpr && strings.TrimSpace(sg.Lit) == "" {
			continue
		}
		if !sg.IsExpr || one != nil {
			c.f.Errorf(n, "%s takes one expression, bare or as ${...}, not a template with text around it", what)
			return "", false
		}
		one = sg
	}
	c.addSite(site{step: st, n: n, src: one.Expr, off: one.Offset, want: want, sc: sc})
	return strings.TrimSpace(one.Expr), true
}

// newChecker declares the types the compiler knows: each input's declared
// type and what every step exposes (status, and the decision of approval
// steps).
func (c *compiler) newChecker() bool {
	vars := make([]expr.Var, 0, len(c.inputs)+len(c.steps)+4)
	for _, name := range c.inOrder {
		if t := c.inputs[name].in.Type; t != "any" {
			vars = append(vars, expr.Var{Name: "inputs." + name, Type: t})
		}
	}
	for _, st := range c.steps {
		if st.id == "" || st.dup {
			continue
		}
		vars = append(vars, expr.Var{Name: "steps." + st.id + ".status", Type: "string"})
		if st.kind == kindApproval {
			p := "steps." + st.id
			vars = append(vars,
				expr.Var{Name: p + ".approved", Type: "bool"},
				expr.Var{Name: p + ".output.approved", Type: "bool"},
				expr.Var{Name: p + ".output.by", Type: "string"},
				expr.Var{Name: p + ".output.comment", Type: "string"})
		}
	}
	// CEL's environment is built while the steps are read; a fault in it
	// is reported by checkExpressions where it would have been now.
	c.checker = expr.NewCheckerAsync(c.closures, vars)
	c.checkerAt = len(c.f.Diags)
	return true
}

func (c *compiler) checkExpressions() {
	if c.queue != nil {
		if len(c.pending) > 0 {
			c.queue <- c.pending
			c.pending = nil
		}
		close(c.queue)
		c.workers.Wait()
		c.queue = nil
	}
	if c.checker != nil {
		if err := c.checker.Err(); err != nil {
			// As if building the checker had failed at once: the fault
			// where newChecker ran, and again for the sites to check.
			c.f.At(1, 1, "cannot check expressions: %v", err)
			d := c.f.Diags[len(c.f.Diags)-1]
			c.f.Diags = slices.Insert(c.f.Diags[:len(c.f.Diags)-1], c.checkerAt, d)
			if len(c.sites) > 0 {
				c.f.Diags = append(c.f.Diags, d)
			}
			c.checker = nil
			return
		}
	}
	if len(c.sites) == 0 || (c.checker == nil && !c.newChecker()) {
		return
	}
	for _, s := range c.sites {
		if s.res == nil {
			s.res = c.checker.Check(s.src)
		}
		c.checkSite(s, s.res)
	}
}

func (c *compiler) checkSite(s *site, r *expr.Checked) {
	for _, is := range r.Issues {
		msg := is.Msg
		if is.Undeclared != "" {
			if m, report := c.undeclared(is.Undeclared); report {
				msg = m
			} else {
				continue
			}
		}
		c.errAt(s.n, s.off+is.Offset, "%s", msg)
	}
	for _, u := range r.Uses {
		c.checkUse(s, u)
	}
	if r.Type == nil || s.want == "" {
		return
	}
	got := expr.TypeName(r.Type)
	if got != s.want && got != "any" {
		c.errAt(s.n, s.off+leadingSpace(s.src), "%s must be a %s expression, but %s is %s", whatOf(s), s.want, strings.TrimSpace(s.src), got)
	}
}

func leadingSpace(s string) int { return len(s) - len(strings.TrimLeft(s, " \t\r\n")) }

// whatOf names the key an expression site comes from, for type messages.
func whatOf(s *site) string {
	if s.step != nil {
		for _, k := range []string{"when", "foreach"} {
			if f := s.step.fields.Get(k); f.Value == s.n {
				return k
			}
		}
		if s.sc&scOutput != 0 {
			return "a check"
		}
		if s.sc&scSelf != 0 && s.want == "bool" {
			return "while.cond"
		}
	}
	return "the expression"
}

var variables = []string{expr.VarInputs, expr.VarSteps, expr.VarItem, expr.VarIndex, expr.VarOutput}

// undeclared explains a reference to a name CEL does not know. It returns
// false for a closure that is declared but broken: that closure's own
// fault is already reported.
func (c *compiler) undeclared(name string) (string, bool) {
	for _, n := range c.closureNames {
		if n == name {
			if c.closureValid(name) {
				break
			}
			return "", false
		}
	}
	cands := append(append([]string(nil), variables...), c.closureNames...)
	if dm := diag.DidYouMean(name, cands); dm != "" {
		return "unknown name " + quote(name) + dm, true
	}
	return "unknown name " + quote(name) + " (expressions see inputs, steps, item, index, output and the closures)", true
}

func (c *compiler) closureValid(name string) bool {
	for _, cl := range c.closures {
		if cl.Name == name {
			return true
		}
	}
	return false
}

func (c *compiler) checkUse(s *site, u expr.Use) {
	at := s.off + u.Offset
	switch u.Root {
	case expr.VarInputs:
		if u.Field != "" && c.inputs[u.Field] == nil {
			c.errAt(s.n, at, "undefined input %s%s", quote(u.Field), diag.DidYouMean(u.Field, c.inOrder))
		}
	case expr.VarSteps:
		if u.Field == "" {
			c.errAt(s.n, at, "read steps.<id>, not steps as a whole: data flow between steps must be explicit")
			return
		}
		t := c.byID[u.Field]
		if t == nil {
			c.errAt(s.n, at, "undefined step %s%s", quote(u.Field), diag.DidYouMean(u.Field, c.stepIDs))
			return
		}
		if s.step == nil {
			return
		}
		c.checkReasonOutputUse(s, u, t)
		if t == s.step {
			if s.sc&scSelf == 0 {
				c.errAt(s.n, at, "step %s reads its own result; only a while step may (in its cond and body, as the previous turn)", s.step.id)
			}
			return
		}
		if s.step.ancestors != nil && !s.step.ancestors.has(t.idx) {
			c.errAt(s.n, at, "step %s reads steps.%s but does not need it; add %s to its needs", s.step.id, t.id, t.id)
		}
	case expr.VarItem:
		if s.sc&scItem == 0 {
			c.errAt(s.n, at, "item is defined only in the body of a foreach step (with, prompt, set, call inputs)")
		}
	case expr.VarIndex:
		if s.sc&scIndex == 0 {
			c.errAt(s.n, at, "index is defined only in the body of a foreach step and in a while step")
		}
	case expr.VarOutput:
		if s.sc&scOutput == 0 {
			c.errAt(s.n, at, "output is defined only in checks")
		}
	}
}

func quote(s string) string { return `"` + s + `"` }
