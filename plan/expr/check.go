package expr

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"

	"github.com/tars-engine/tars/plan"
)

// Var is a typed declaration used only for compile-time checking: a
// qualified name such as "inputs.count" ("int") or "steps.approve.approved"
// ("bool"). Type is a metascript type name (see TypeNames).
type Var struct {
	Name string
	Type string
}

// Checker type-checks expressions when a metascript is compiled. Besides
// what New declares it declares the narrower types of Vars, so that
// `inputs.count + "x"` is caught before a run. It never evaluates: at run
// time the interpreter uses New, where inputs and steps are plain maps.
// A Checker caches results by source and is safe for concurrent use.
type Checker struct {
	env      *cel.Env // once ready is closed; nil when envErr is set
	envErr   error
	ready    chan struct{}
	vars     map[string]*cel.Type // declared qualified names and the base variables
	closures map[string]signature // for the quick checker
	mu       sync.Mutex
	cache    map[string]*Checked
}

// Issue is a compile error at a byte offset of the expression source.
type Issue struct {
	Offset int
	Msg    string
	// Undeclared is set when the error is a reference to an undeclared
	// name (a variable or a function), so the caller can suggest another.
	Undeclared string
}

// Use is a reference to a variable: Root is the identifier ("inputs",
// "steps", "item", ...) and Field the selected name, "" when the root is
// used whole. Offset is the byte offset of Root in the source. Names bound
// by macros (the x in list.map(x, ...)) are not uses.
type Use struct {
	Root   string
	Field  string
	Offset int
}

// Checked is what checking one expression found. Type is nil when there
// are Issues.
type Checked struct {
	Type   *cel.Type
	Uses   []Use
	Issues []Issue
}

// NewChecker builds a checker with the given closures (which must already
// be valid, see CheckClosure) and typed declarations.
func NewChecker(closures []plan.Closure, vars []Var) (*Checker, error) {
	c := NewCheckerAsync(closures, vars)
	if err := c.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// NewCheckerAsync is NewChecker building CEL's environment in the
// background (for many declarations it takes milliseconds): the quick
// checker works at once, and an expression that needs CEL waits for the
// environment. Err waits for it too and returns what NewChecker would
// have; while it is not nil, what Check returns means nothing.
func NewCheckerAsync(closures []plan.Closure, vars []Var) *Checker {
	sigs := make(map[string]signature, len(closures))
	for _, c := range closures {
		sig := signature{params: make([]*cel.Type, len(c.Params))}
		for i, p := range c.Params {
			sig.params[i], _ = Type(p.Type) // closureFunction checks them
		}
		sig.ret, _ = Type(c.Returns)
		sigs[c.Name] = sig
	}
	declared := make(map[string]*cel.Type, len(vars)+5)
	declared[VarInputs] = cel.MapType(cel.StringType, cel.DynType)
	declared[VarSteps] = cel.MapType(cel.StringType, cel.DynType)
	declared[VarItem] = cel.DynType
	declared[VarIndex] = cel.IntType
	declared[VarOutput] = cel.DynType
	for _, v := range vars {
		if t, err := Type(v.Type); err == nil {
			declared[v.Name] = t // else the environment fails
		}
	}
	c := &Checker{vars: declared, closures: sigs, cache: map[string]*Checked{}, ready: make(chan struct{})}
	go func() {
		defer close(c.ready)
		c.env, c.envErr = checkerEnv(closures, vars)
	}()
	return c
}

// checkerEnv builds the CEL environment of a Checker.
func checkerEnv(closures []plan.Closure, vars []Var) (*cel.Env, error) {
	opts := baseOptions()
	for _, c := range closures {
		fn, err := closureFunction(c, opts, nil)
		if err != nil {
			return nil, fmt.Errorf("closure %s: %w", c.Name, err)
		}
		opts = append(opts, fn)
	}
	for _, v := range vars {
		t, err := Type(v.Type)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.Name, err)
		}
		opts = append(opts, cel.Variable(v.Name, t))
	}
	return cel.NewEnv(opts...)
}

// Err waits for the checker's CEL environment and returns the fault that
// kept it from being built.
func (c *Checker) Err() error {
	<-c.ready
	return c.envErr
}

// Check parses and type-checks src. The result is shared between calls
// with the same source; callers must not modify it.
func (c *Checker) Check(src string) *Checked {
	c.mu.Lock()
	r, ok := c.cache[src]
	c.mu.Unlock()
	if ok {
		return r
	}
	if r = c.quick(src); r == nil {
		if c.Err() != nil {
			return &Checked{}
		}
		r = check(c.env, src)
	}
	c.mu.Lock()
	c.cache[src] = r
	c.mu.Unlock()
	return r
}

func check(env *cel.Env, src string) *Checked {
	r := &Checked{}
	parsed, iss := env.Parse(src)
	if iss != nil && iss.Err() != nil {
		r.Issues = issues(src, iss.Errors())
		return r
	}
	// Collect uses before Check: the checker rewrites qualified names.
	r.Uses = uses(src, parsed.NativeRep())
	checked, iss := env.Check(parsed)
	if iss != nil && iss.Err() != nil {
		r.Issues = issues(src, iss.Errors())
		return r
	}
	r.Type = checked.OutputType()
	return r
}

// CheckClosure checks a closure's body against its parameter types, with
// the closures declared before it (prev, already valid) callable. Uses of
// inputs, steps, item, index or output are reported by the caller: a
// closure body sees only its parameters.
func CheckClosure(prev []plan.Closure, c plan.Closure) *Checked {
	opts := baseOptions()
	for _, p := range prev {
		fn, err := closureFunction(p, opts, nil)
		if err != nil {
			return &Checked{Issues: []Issue{{Msg: fmt.Sprintf("closure %s: %v", p.Name, err)}}}
		}
		opts = append(opts, fn)
	}
	for _, p := range c.Params {
		t, err := Type(p.Type)
		if err != nil {
			return &Checked{Issues: []Issue{{Msg: fmt.Sprintf("parameter %s: %v", p.Name, err)}}}
		}
		opts = append(opts, cel.Variable(p.Name, t))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return &Checked{Issues: []Issue{{Msg: err.Error()}}}
	}
	r := check(env, c.Body)
	if r.Type != nil {
		ret, err := Type(c.Returns)
		if err == nil && ret != cel.DynType && r.Type != cel.DynType && !ret.IsAssignableType(r.Type) {
			r.Issues = append(r.Issues, Issue{Msg: fmt.Sprintf("body yields %s, but the closure returns %s", TypeName(r.Type), c.Returns)})
			r.Type = nil
		}
	}
	return r
}

// TypeName names a CEL type the way metascripts do: "string", "int",
// "float", "bool", "list", "map", "any" (dyn); other types by CEL's name.
func TypeName(t *cel.Type) string {
	if t == nil {
		return "unknown"
	}
	switch t.Kind() {
	case types.StringKind:
		return "string"
	case types.IntKind:
		return "int"
	case types.UintKind:
		return "uint"
	case types.DoubleKind:
		return "float"
	case types.BoolKind:
		return "bool"
	case types.ListKind:
		return "list"
	case types.MapKind:
		return "map"
	case types.DynKind, types.AnyKind:
		return "any"
	case types.NullTypeKind:
		return "null"
	}
	return t.String()
}

var (
	undeclared = regexp.MustCompile(`^undeclared reference to '([^']*)'`)
	expecting  = regexp.MustCompile(` expecting (\{[^}]*\}|'[^']*')$`)
)

// simplify shortens the parser's messages: the list of tokens it expected
// is long and rarely helps someone writing an expression.
func simplify(msg string) string {
	msg = expecting.ReplaceAllString(msg, "")
	msg = strings.Replace(msg, "mismatched input '<EOF>'", "the expression ends too early", 1)
	msg = strings.Replace(msg, "Syntax error: ", "syntax error: ", 1)
	return msg
}

func issues(src string, errs []*common.Error) []Issue {
	out := make([]Issue, 0, len(errs))
	for _, e := range errs {
		msg := simplify(strings.TrimSuffix(e.Message, " (in container '')"))
		is := Issue{Offset: locationOffset(src, e.Location), Msg: msg}
		if m := undeclared.FindStringSubmatch(msg); m != nil {
			is.Undeclared = m[1]
			// CEL places a call at its parenthesis; point at the name.
			if strings.HasSuffix(src[:is.Offset], m[1]) {
				is.Offset -= len(m[1])
			}
		}
		out = append(out, is)
	}
	return out
}

// locationOffset converts CEL's 1-based line and 0-based rune column to a
// byte offset in src.
func locationOffset(src string, loc common.Location) int {
	if loc == nil || loc.Line() < 1 {
		return 0
	}
	off := 0
	for line := 1; line < loc.Line(); line++ {
		i := strings.IndexByte(src[off:], '\n')
		if i < 0 {
			return len(src)
		}
		off += i + 1
	}
	return off + runesToBytes(src[off:], loc.Column())
}

func runesToBytes(s string, n int) int {
	off := 0
	for i := 0; i < n && off < len(s); i++ {
		_, size := utf8.DecodeRuneInString(s[off:])
		off += size
	}
	return off
}

// uses walks the parsed expression for references to variables, keeping
// track of the names macros bind so that they are not taken for variables.
func uses(src string, a *ast.AST) []Use {
	info := a.SourceInfo()
	ascii := isASCII(src)
	offset := func(id int64) int {
		r, ok := info.GetOffsetRange(id)
		if !ok {
			return 0
		}
		if ascii {
			return int(r.Start)
		}
		return runesToBytes(src, int(r.Start))
	}
	var out []Use
	var bound []string
	isBound := func(name string) bool {
		for i := len(bound) - 1; i >= 0; i-- {
			if bound[i] == name {
				return true
			}
		}
		return false
	}
	var walk func(e ast.Expr)
	walk = func(e ast.Expr) {
		if e == nil {
			return
		}
		switch e.Kind() {
		case ast.IdentKind:
			if name := e.AsIdent(); !isBound(name) {
				out = append(out, Use{Root: name, Offset: offset(e.ID())})
			}
		case ast.SelectKind:
			sel := e.AsSelect()
			op := sel.Operand()
			if op.Kind() == ast.IdentKind && !isBound(op.AsIdent()) {
				out = append(out, Use{Root: op.AsIdent(), Field: sel.FieldName(), Offset: offset(op.ID())})
				return
			}
			walk(op)
		case ast.CallKind:
			call := e.AsCall()
			args := call.Args()
			if call.FunctionName() == "_[_]" && len(args) == 2 && args[0].Kind() == ast.IdentKind && !isBound(args[0].AsIdent()) && args[1].Kind() == ast.LiteralKind {
				if s, ok := args[1].AsLiteral().Value().(string); ok {
					out = append(out, Use{Root: args[0].AsIdent(), Field: s, Offset: offset(args[0].ID())})
					return
				}
			}
			if call.IsMemberFunction() {
				walk(call.Target())
			}
			for _, x := range args {
				walk(x)
			}
		case ast.ListKind:
			for _, x := range e.AsList().Elements() {
				walk(x)
			}
		case ast.MapKind:
			for _, en := range e.AsMap().Entries() {
				me := en.AsMapEntry()
				walk(me.Key())
				walk(me.Value())
			}
		case ast.StructKind:
			for _, f := range e.AsStruct().Fields() {
				walk(f.AsStructField().Value())
			}
		case ast.ComprehensionKind:
			c := e.AsComprehension()
			walk(c.IterRange())
			walk(c.AccuInit())
			n := len(bound)
			bound = append(bound, c.IterVar(), c.AccuVar())
			if c.HasIterVar2() {
				bound = append(bound, c.IterVar2())
			}
			walk(c.LoopCondition())
			walk(c.LoopStep())
			walk(c.Result())
			bound = bound[:n]
		}
	}
	walk(a.Expr())
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// reservedWords are CEL's keywords and reserved identifiers; none can name
// an input, a step, a closure or a parameter.
var reservedWords = map[string]bool{
	"as": true, "break": true, "const": true, "continue": true, "else": true, "false": true,
	"for": true, "function": true, "if": true, "import": true, "in": true, "let": true,
	"loop": true, "package": true, "namespace": true, "null": true, "return": true,
	"true": true, "var": true, "void": true, "while": true,
}

// Reserved reports whether name is a CEL keyword or reserved identifier.
func Reserved(name string) bool { return reservedWords[name] }

var (
	builtinOnce sync.Once
	builtinEnv  *cel.Env
)

// Builtin reports whether name is a function or macro of the standard
// environment (size, has, map, int, matches, ...), which a closure may not
// redeclare.
func Builtin(name string) bool {
	builtinOnce.Do(func() {
		builtinEnv, _ = cel.NewEnv(baseOptions()...)
	})
	switch name {
	case "has", "all", "exists", "exists_one", "map", "filter", "optMap", "optFlatMap":
		return true
	}
	return builtinEnv != nil && builtinEnv.HasFunction(name)
}

// ReservedWords lists the words Reserved reports, sorted.
func ReservedWords() []string {
	out := make([]string, 0, len(reservedWords))
	for w := range reservedWords {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}

// Builtins lists the names Builtin reports that are identifiers (the
// names a closure could take), sorted.
func Builtins() []string {
	Builtin("") // builds the standard environment once
	seen := map[string]bool{}
	for _, m := range []string{"has", "all", "exists", "exists_one", "map", "filter", "optMap", "optFlatMap"} {
		seen[m] = true
	}
	if builtinEnv != nil {
		for name := range builtinEnv.Functions() {
			if isIdent(name) {
				seen[name] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// isIdent reports whether s is a CEL identifier.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}
