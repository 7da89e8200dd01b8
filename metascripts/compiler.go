package metascripts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/internal/diag"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/plan/expr"
)

// The compiler runs in one visible pipeline:
//
//	parse (yaml.v3 nodes) -> read (keys against the grammar tables, values
//	against their types) -> resolve (agents, runtime chains, the DAG) ->
//	check expressions -> compile children -> assemble the Plan
//
// Each stage records its faults and goes on, so that one run reports all
// of them; the Plan is assembled only when there are none.
type compiler struct {
	s     *session
	f     *diag.File
	path  string
	stack []string // files on the call chain, this one last

	name     diag.Str
	desc     string
	version  string
	inputs   map[string]*inputDecl
	inOrder  []string
	outputs  []plan.Output
	agents   map[string]*plan.Agent
	agentIDs []string
	closures []plan.Closure
	// closureNames holds every declared closure name, valid or not, so
	// that a broken closure is not also reported at each call.
	closureNames []string
	policy       plan.Policy
	policyNodes  diag.Fields

	steps []*stepInfo
	// planSteps holds the steps' plan.Step in declaration order: the
	// Plan's Steps when that is also their topological order.
	planSteps []plan.Step
	byID      map[string]*stepInfo
	stepIDs   []string
	order     []int // topological order of steps (indices)

	sites   []*site
	checker *expr.Checker
	// checkerAt is where in f.Diags a fault of the checker's environment
	// goes: where newChecker ran.
	checkerAt int
	queue     chan []*site // to the checking workers, while steps are read
	pending   []*site      // sites not yet sent on queue
	workers   sync.WaitGroup
	lines     []int // byte offset of each line start, built on demand

	jbuf  bytes.Buffer // where templateJSON and literalJSON write
	arena []byte       // where the JSON they return is kept

	offers    map[string][]string // offering, by tool
	fieldRoom []diag.Field        // room for the fields of mappings read
	siteRoom  []site              // room for sites
	segs      []expr.Segment      // scratch for expr.SplitAppend
}

type inputDecl struct {
	in   plan.Input
	node *yaml.Node
}

var (
	namePattern  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]{0,127}$`)
	identPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

func (s *session) compile(path string, src []byte, stack []string) (*plan.Plan, error) {
	c := &compiler{s: s, path: path, stack: append(append([]string(nil), stack...), canonical(path))}
	if len(src) > MaxSourceBytes {
		return nil, Diagnostics{{File: path, Line: 1, Col: 1, Msg: "metascript is larger than 8 MiB"}}
	}
	if d := scanBounds(path, src); d != nil {
		return nil, Diagnostics{*d}
	}
	f, root := diag.Parse(path, src)
	c.f = f
	if root == nil {
		if len(f.Diags) == 0 {
			f.At(1, 1, "empty metascript: it needs at least metascript: NAME and steps:")
		}
		return nil, f.Diags.Err()
	}
	top := c.fields(root, metascriptObj, "metascript")
	if root.Kind != yaml.MappingNode {
		return nil, f.Diags.Err()
	}
	c.readHeader(top)
	c.readInputs(top.Get("inputs").Value)
	c.readClosures(top.Get("closures").Value)
	c.readAgents(top.Get("agents").Value)
	c.readPolicy(top.Get("policy").Value)
	c.readSteps(top.Get("steps").Value)
	c.buildGraph()
	c.readOutputs(top.Get("outputs").Value)
	c.checkExpressions()
	children := c.compileCalls()
	if err := f.Diags.Err(); err != nil {
		return nil, err
	}
	return c.assemble(src, children), nil
}

// canonical names a file for call-cycle detection.
func canonical(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return filepath.Clean(path)
}

// fields reads a mapping against a grammar object: unknown keys get a "did
// you mean", missing required keys are reported at the mapping.
func (c *compiler) fields(n *yaml.Node, o *object, what string) diag.Fields {
	var room []diag.Field
	if n != nil && n.Kind == yaml.MappingNode {
		need := len(n.Content) / 2
		if len(c.fieldRoom) < need {
			c.fieldRoom = make([]diag.Field, max(need, 1024))
		}
		room = c.fieldRoom[:0:need]
		c.fieldRoom = c.fieldRoom[need:]
	}
	fs := c.f.FieldsIn(room, n, what, o.keys())
	if n == nil || n.Kind != yaml.MappingNode {
		return fs
	}
	for _, r := range o.required {
		if _, ok := fs.Lookup(r); !ok {
			msg := "missing key " + r + " in " + what
			if d := o.field(r).doc; d != "" {
				msg += " (" + strings.TrimSuffix(d, ".") + ")"
			}
			c.f.Errorf(n, "%s", msg)
		}
	}
	return fs
}

func (c *compiler) readHeader(top diag.Fields) {
	if s, ok := c.f.String(top.Get("metascript").Value, "metascript"); ok {
		if namePattern.MatchString(s.V) {
			c.name = s
		} else {
			c.f.Errorf(s.N, "metascript name %q must start with a letter and hold only letters, digits, '.', '_' and '-' (it becomes the Temporal workflow type)", s.V)
		}
	}
	if s, ok := c.f.String(top.Get("description").Value, "description"); ok {
		c.desc = strings.TrimSpace(s.V)
	}
	if s, ok := c.f.String(top.Get("version").Value, "version"); ok {
		c.version = s.V
	}
}

// ident checks a name that expressions use as an identifier.
func (c *compiler) ident(s diag.Str, what string) bool {
	if !identPattern.MatchString(s.V) {
		c.f.Errorf(s.N, "%s %q must be letters, digits and underscores, starting with a letter (expressions refer to it by name)", what, s.V)
		return false
	}
	if expr.Reserved(s.V) {
		c.f.Errorf(s.N, "%s %q is a reserved word in expressions", what, s.V)
		return false
	}
	return true
}

func (c *compiler) readInputs(n *yaml.Node) {
	c.inputs = map[string]*inputDecl{}
	all := c.f.Entries(n, "inputs")
	if len(all) > MaxInputs {
		c.f.Errorf(all[MaxInputs].Key, "a metascript may declare at most %d inputs", MaxInputs)
		all = all[:MaxInputs]
	}
	for _, e := range all {
		name := diag.Str{V: e.Key.Value, N: e.Key}
		if !c.ident(name, "input") {
			continue
		}
		d := &inputDecl{in: plan.Input{Name: name.V, Type: "any"}, node: e.Key}
		c.inputs[name.V] = d
		c.inOrder = append(c.inOrder, name.V)
		fs := c.fields(e.Value, inputObj, "input "+name.V)
		if t, ok := c.f.Enum(fs.Get("type").Value, "type", expr.TypeNames); ok {
			d.in.Type = t
		}
		if b, ok := c.f.Bool(fs.Get("required").Value, "required"); ok {
			d.in.Required = b
		}
		if s, ok := c.f.String(fs.Get("description").Value, "description"); ok {
			d.in.Description = s.V
		}
		if b, ok := c.f.Bool(fs.Get("secret").Value, "secret"); ok && b {
			d.in.Secret = true
			if d.in.Type != "string" {
				c.f.Errorf(fs.Get("secret").Key, "secret input %s must have type string (its value comes from the worker's environment)", name.V)
			}
			if fs.Get("default").Value != nil {
				c.f.Errorf(fs.Get("default").Key, "secret input %s cannot have a default: it would sit in the Plan", name.V)
			}
		}
		if dv := fs.Get("default"); dv.Value != nil {
			if d.in.Required {
				c.f.Errorf(dv.Key, "input %s is required, so its default would never be used; drop one of them", name.V)
			}
			raw, ok := c.literalJSON(dv.Value, "default")
			if ok {
				v, _ := expr.Decode(raw)
				if got := expr.TypeOf(v); !typeAccepts(d.in.Type, got) {
					c.f.Errorf(dv.Value, "default of input %s is %s, but its type is %s", name.V, got, d.in.Type)
				}
				d.in.Default = raw
			}
		}
	}
}

// typeAccepts reports whether a value of type got may be given where want
// is declared: ints are accepted as floats.
func typeAccepts(want, got string) bool {
	return want == "any" || want == got || (want == "float" && got == "int")
}

func (c *compiler) readOutputs(n *yaml.Node) {
	for _, e := range c.f.Entries(n, "outputs") {
		if !identPattern.MatchString(e.Key.Value) {
			c.f.Errorf(e.Key, "output %q must be letters, digits and underscores, starting with a letter", e.Key.Value)
			continue
		}
		raw, ok := c.templateJSON(e.Value, nil, "output "+e.Key.Value, 0)
		if ok {
			c.outputs = append(c.outputs, plan.Output{Name: e.Key.Value, Value: raw})
		}
	}
}

func (c *compiler) assemble(src []byte, children map[string]*plan.Plan) *plan.Plan {
	sum := sha256.Sum256(src)
	p := &plan.Plan{
		Schema:      plan.SchemaVersion,
		Name:        c.name.V,
		Description: c.desc,
		Version:     c.version,
		Source:      c.path,
		SHA256:      hex.EncodeToString(sum[:]),
		Outputs:     c.outputs,
		Policy:      c.policy,
		Closures:    c.closures,
	}
	if inOrder(c.order) && len(c.order) == len(c.planSteps) {
		p.Steps = c.planSteps
	} else {
		p.Steps = make([]plan.Step, 0, len(c.steps))
		for _, i := range c.order {
			p.Steps = append(p.Steps, *c.steps[i].step)
		}
	}
	if len(children) > 0 {
		p.Children = children
	}
	for _, name := range c.inOrder {
		p.Inputs = append(p.Inputs, c.inputs[name].in)
	}
	for _, id := range c.agentIDs {
		p.Agents = append(p.Agents, *c.agents[id])
	}
	return p
}

// inOrder reports whether order is 0, 1, 2, ...
func inOrder(order []int) bool {
	for k, i := range order {
		if i != k {
			return false
		}
	}
	return true
}
