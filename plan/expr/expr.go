package expr

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"

	"github.com/tars-engine/tars/plan"
)

// CostLimit bounds the work of one evaluation (CEL cost units). A runaway
// expression fails instead of stalling a workflow task.
const CostLimit = 1_000_000

// Variable names visible to expressions.
const (
	VarInputs = "inputs"
	VarSteps  = "steps"
	VarItem   = "item"
	VarIndex  = "index"
	VarOutput = "output"
)

// Vars binds variable names to plain Go values (as decoded from JSON).
type Vars map[string]any

// Env compiles and evaluates expressions with a metascript's closures.
// It caches compiled programs and is safe for concurrent use.
type Env struct {
	env   *cel.Env
	cache sync.Map // source -> *entry
}

type entry struct {
	prg cel.Program
	ast *cel.Ast
	err error
}

// Type converts a metascript type name to a CEL type; "" and "any" are dyn.
func Type(name string) (*cel.Type, error) {
	switch name {
	case "string":
		return cel.StringType, nil
	case "int":
		return cel.IntType, nil
	case "float", "number":
		return cel.DoubleType, nil
	case "bool":
		return cel.BoolType, nil
	case "list":
		return cel.ListType(cel.DynType), nil
	case "map":
		return cel.MapType(cel.StringType, cel.DynType), nil
	case "", "any":
		return cel.DynType, nil
	}
	return nil, fmt.Errorf("unknown type %q (want string, int, float, bool, list, map or any)", name)
}

// TypeNames lists the type names Type accepts.
var TypeNames = []string{"string", "int", "float", "bool", "list", "map", "any"}

var adapt = sortedAdapter{types.DefaultTypeAdapter}

func baseOptions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.CustomTypeAdapter(adapt),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(4096),
		cel.Variable(VarInputs, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(VarSteps, cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable(VarItem, cel.DynType),
		cel.Variable(VarIndex, cel.IntType),
		cel.Variable(VarOutput, cel.DynType),
	}
}

// New builds an environment in which each closure is a function. A closure
// may call closures declared before it (so none can recurse), and its body
// is type-checked against its parameter types.
func New(closures []plan.Closure) (*Env, error) {
	opts := baseOptions()
	for _, c := range closures {
		fn, err := closureFunction(c, opts)
		if err != nil {
			return nil, fmt.Errorf("closure %s: %w", c.Name, err)
		}
		opts = append(opts, fn)
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, err
	}
	return &Env{env: env}, nil
}

func closureFunction(c plan.Closure, outer []cel.EnvOption) (cel.EnvOption, error) {
	inner := append([]cel.EnvOption(nil), outer...)
	argTypes := make([]*cel.Type, len(c.Params))
	for i, p := range c.Params {
		t, err := Type(p.Type)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", p.Name, err)
		}
		argTypes[i] = t
		inner = append(inner, cel.Variable(p.Name, t))
	}
	ret, err := Type(c.Returns)
	if err != nil {
		return nil, fmt.Errorf("returns: %w", err)
	}
	env, err := cel.NewEnv(inner...)
	if err != nil {
		return nil, err
	}
	checked, iss := env.Compile(c.Body)
	if iss != nil && iss.Err() != nil {
		return nil, iss.Err()
	}
	if ret != cel.DynType && !checked.OutputType().IsAssignableType(ret) && checked.OutputType() != cel.DynType {
		return nil, fmt.Errorf("body yields %s, declared %s", checked.OutputType(), c.Returns)
	}
	prg, err := env.Program(checked, cel.CostLimit(CostLimit))
	if err != nil {
		return nil, err
	}
	names := make([]string, len(c.Params))
	for i, p := range c.Params {
		names[i] = p.Name
	}
	binding := func(args ...ref.Val) ref.Val {
		act := make(map[string]any, len(args))
		for i, a := range args {
			act[names[i]] = a
		}
		out, _, err := prg.Eval(act)
		if err != nil {
			return types.NewErr("%s: %v", c.Name, err)
		}
		return out
	}
	return cel.Function(c.Name, cel.Overload(c.Name+"_closure", argTypes, ret, cel.FunctionBinding(binding))), nil
}

// Compile parses and type-checks src (the text between ${ and }) and caches
// the program. Errors carry CEL's position within src.
func (e *Env) Compile(src string) (*cel.Ast, error) {
	en, err := e.compile(src)
	if err != nil {
		return nil, err
	}
	return en.ast, nil
}

func (e *Env) compile(src string) (*entry, error) {
	if v, ok := e.cache.Load(src); ok {
		en := v.(*entry)
		return en, en.err
	}
	en := &entry{}
	checked, iss := e.env.Compile(src)
	if iss != nil && iss.Err() != nil {
		en.err = iss.Err()
	} else {
		en.ast = checked
		en.prg, en.err = e.env.Program(checked, cel.CostLimit(CostLimit), cel.InterruptCheckFrequency(100))
	}
	e.cache.Store(src, en)
	return en, en.err
}

// Eval evaluates src and returns a plain Go value: nil, bool, int64,
// uint64, float64, string, []any or map[string]any.
func (e *Env) Eval(src string, vars Vars) (any, error) {
	en, err := e.compile(src)
	if err != nil {
		return nil, err
	}
	act := make(map[string]any, 5)
	for k, v := range vars {
		act[k] = v
	}
	// Declared variables that are not bound evaluate as absent rather than
	// failing with "no such attribute" for unrelated branches.
	for _, k := range []string{VarInputs, VarSteps} {
		if _, ok := act[k]; !ok {
			act[k] = map[string]any{}
		}
	}
	out, _, err := en.prg.Eval(act)
	if err != nil {
		return nil, err
	}
	return Native(out)
}

// EvalBool evaluates src and requires a bool.
func (e *Env) EvalBool(src string, vars Vars) (bool, error) {
	v, err := e.Eval(src, vars)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s: want bool, got %s", src, TypeOf(v))
	}
	return b, nil
}

// Ref is a reference from an expression to inputs.<Field> or steps.<Field>.
type Ref struct {
	Root  string // "inputs" or "steps" or another variable name
	Field string // the selected field, "" when the root is used whole
}

// Refs lists the references src makes to variables, in order of appearance,
// so the compiler can report undefined inputs and steps.
func (e *Env) Refs(src string) ([]Ref, error) {
	a, err := e.Compile(src)
	if err != nil {
		return nil, err
	}
	var refs []Ref
	seen := map[int64]bool{}
	ast.PreOrderVisit(a.NativeRep().Expr(), ast.NewExprVisitor(func(x ast.Expr) {
		switch x.Kind() {
		case ast.SelectKind:
			sel := x.AsSelect()
			op := sel.Operand()
			if op.Kind() == ast.IdentKind {
				seen[op.ID()] = true
				refs = append(refs, Ref{Root: op.AsIdent(), Field: sel.FieldName()})
			}
		case ast.CallKind:
			// steps["x"] and inputs["y"] index calls.
			call := x.AsCall()
			if call.FunctionName() == "_[_]" && len(call.Args()) == 2 {
				op, key := call.Args()[0], call.Args()[1]
				if op.Kind() == ast.IdentKind && key.Kind() == ast.LiteralKind {
					if s, ok := key.AsLiteral().Value().(string); ok {
						seen[op.ID()] = true
						refs = append(refs, Ref{Root: op.AsIdent(), Field: s})
					}
				}
			}
		case ast.IdentKind:
			if !seen[x.ID()] {
				refs = append(refs, Ref{Root: x.AsIdent()})
			}
		}
	}))
	return refs, nil
}

// Native converts a CEL value to a plain Go value.
func Native(v ref.Val) (any, error) {
	switch x := v.(type) {
	case *types.Err:
		return nil, x
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return uint64(x), nil
	case types.Double:
		return float64(x), nil
	case types.String:
		return string(x), nil
	case types.Bytes:
		return string(x), nil
	case types.Duration, types.Timestamp:
		s := x.ConvertToType(types.StringType)
		return Native(s)
	}
	if types.IsUnknown(v) {
		return nil, errors.New("expression depends on an unknown value")
	}
	switch x := v.(type) {
	case traits.Mapper:
		out := map[string]any{}
		it := x.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			ks, ok := k.(types.String)
			if !ok {
				return nil, fmt.Errorf("map key %v is %s; only string keys can leave an expression", k, k.Type())
			}
			val, err := Native(x.Get(k))
			if err != nil {
				return nil, err
			}
			out[string(ks)] = val
		}
		return out, nil
	case traits.Lister:
		n, _ := x.Size().(types.Int)
		out := make([]any, 0, int(n))
		for i := types.Int(0); i < n; i++ {
			val, err := Native(x.Get(i))
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		return out, nil
	}
	if nv, ok := v.Value().(interface{ AsInterface() any }); ok { // structpb values
		return Normalize(nv.AsInterface()), nil
	}
	return nil, fmt.Errorf("cannot convert %s to a JSON value", v.Type())
}

// Normalize turns JSON-decoded values into the forms expressions expect:
// integral numbers become int64, other numbers float64, recursively.
func Normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
		return x
	case int:
		return int64(x)
	case map[string]any:
		for k, e := range x {
			x[k] = Normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = Normalize(e)
		}
		return x
	}
	return v
}

// Decode parses JSON into normalised plain values; empty input is nil.
func Decode(raw []byte) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return Normalize(v), nil
}

// TypeOf names the metascript type of a plain value.
func TypeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case int64, int, uint64:
		return "int"
	case float64:
		return "float"
	case string:
		return "string"
	case []any:
		return "list"
	case map[string]any:
		return "map"
	}
	return fmt.Sprintf("%T", v)
}

// sortedAdapter wraps Go maps so that CEL iterates them in sorted key order.
type sortedAdapter struct{ types.Adapter }

func (a sortedAdapter) NativeToValue(v any) ref.Val {
	if m, ok := v.(map[string]any); ok {
		return sortedMap{Mapper: types.NewStringInterfaceMap(a, m), m: m}
	}
	if l, ok := v.([]any); ok {
		return types.NewDynamicList(a, l)
	}
	return a.Adapter.NativeToValue(v)
}

// sortedMap sorts its keys only when iterated, so field access on a large
// map (steps.<id> in a 1,000-step plan) stays O(1).
type sortedMap struct {
	traits.Mapper
	m map[string]any
}

func (s sortedMap) Iterator() traits.Iterator {
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return &keyIter{keys: keys}
}

type keyIter struct {
	types.Null // satisfies ref.Val; an iterator is never a value in an expression
	keys       []string
	i          int
}

func (it *keyIter) HasNext() ref.Val { return types.Bool(it.i < len(it.keys)) }

func (it *keyIter) Next() ref.Val {
	if it.i >= len(it.keys) {
		return nil
	}
	k := it.keys[it.i]
	it.i++
	return types.String(k)
}
