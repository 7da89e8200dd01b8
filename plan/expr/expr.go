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
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"

	"github.com/tars-engine/tars/plan"
)

// CostLimit bounds the work of one evaluation (CEL cost units), closures
// included: a closure's body is charged to the expression that calls it,
// at its real cost.
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
//
// An evaluation takes an instance (a CEL environment whose closure bindings
// charge that instance's meter) for itself, so that the work of closures
// is charged to the evaluation that calls them, even while other
// goroutines evaluate with the same Env.
type Env struct {
	s      *envShared
	budget *Budget // nil: each evaluation may spend CostLimit
}

type envShared struct {
	closures []plan.Closure
	mu       sync.Mutex
	free     []*instance
}

// instance is a CEL environment used by one evaluation at a time.
type instance struct {
	env   *cel.Env
	progs map[string]*entry
	m     meter
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
	s := &envShared{closures: closures}
	in, err := s.newInstance()
	if err != nil {
		return nil, err
	}
	s.free = append(s.free, in)
	return &Env{s: s}, nil
}

// WithBudget returns an Env that shares e's programs and charges every
// evaluation, closures included, to b. Use it from one goroutine at a time,
// as workflow code does.
func (e *Env) WithBudget(b *Budget) *Env { return &Env{s: e.s, budget: b} }

func (s *envShared) newInstance() (*instance, error) {
	in := &instance{progs: map[string]*entry{}}
	opts := baseOptions()
	for _, c := range s.closures {
		fn, err := closureFunction(c, opts, in)
		if err != nil {
			return nil, fmt.Errorf("closure %s: %w", c.Name, err)
		}
		opts = append(opts, fn)
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, err
	}
	in.env = env
	return in, nil
}

// get takes an instance for one evaluation; put gives it back. Instances
// are kept, so there are as many as evaluations ever ran at once.
func (s *envShared) get() (*instance, error) {
	s.mu.Lock()
	if n := len(s.free); n > 0 {
		in := s.free[n-1]
		s.free = s.free[:n-1]
		s.mu.Unlock()
		return in, nil
	}
	s.mu.Unlock()
	return s.newInstance()
}

func (s *envShared) put(in *instance) {
	in.m = meter{}
	s.mu.Lock()
	s.free = append(s.free, in)
	s.mu.Unlock()
}

// programOptions make a program charge the instance's meter: each
// evaluation's cost tracker gets the budget left as its limit.
func (in *instance) programOptions() []cel.ProgramOption {
	return []cel.ProgramOption{cel.CostTracking(nil), cel.CostTrackerOptions(in.m.track)}
}

// closureFunction declares closure c. With an instance, calls evaluate the
// body charging that instance's meter; without one (for type checking
// only), the function has no program.
func closureFunction(c plan.Closure, outer []cel.EnvOption, in *instance) (cel.EnvOption, error) {
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
	names := make([]string, len(c.Params))
	for i, p := range c.Params {
		names[i] = p.Name
	}
	binding := func(args ...ref.Val) ref.Val {
		return types.NewErr("%s: closures are evaluated only through Env", c.Name)
	}
	if in != nil {
		prg, err := env.Program(checked, in.programOptions()...)
		if err != nil {
			return nil, err
		}
		binding = func(args ...ref.Val) ref.Val {
			if in.m.cut {
				return types.NewErr("%s: %s", c.Name, errCut)
			}
			in.m.spent += closureCallCost
			act := make(map[string]any, len(args))
			for i, a := range args {
				act[names[i]] = a
			}
			out, _, err := prg.Eval(act)
			in.m.done()
			if err != nil {
				in.m.noteCut(err)
				return types.NewErr("%s: %v", c.Name, err)
			}
			return out
		}
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
	in, err := e.s.get()
	if err != nil {
		return nil, err
	}
	defer e.s.put(in)
	en := in.compile(src)
	return en, en.err
}

func (in *instance) compile(src string) *entry {
	if en, ok := in.progs[src]; ok {
		return en
	}
	en := &entry{}
	checked, iss := in.env.Compile(src)
	if iss != nil && iss.Err() != nil {
		en.err = iss.Err()
	} else {
		en.ast = checked
		en.prg, en.err = in.env.Program(checked, in.programOptions()...)
	}
	in.progs[src] = en
	return en
}

// eval runs prg with a fresh meter of limit units.
func (in *instance) eval(prg cel.Program, act map[string]any, limit uint64) (ref.Val, error) {
	in.m = meter{limit: limit}
	out, _, err := prg.Eval(act)
	in.m.done()
	if err != nil {
		in.m.noteCut(err)
	}
	return out, err
}

// Eval evaluates src and returns a plain Go value: nil, bool, int64,
// uint64, float64, string, []any or map[string]any. It may spend
// CostLimit, and no more than is left of the Env's budget; past either it
// stops computing and returns a *CostError.
func (e *Env) Eval(src string, vars Vars) (any, error) {
	in, err := e.s.get()
	if err != nil {
		return nil, err
	}
	defer e.s.put(in)
	en := in.compile(src)
	if en.err != nil {
		return nil, en.err
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
	limit, fromBudget := uint64(CostLimit), false
	if e.budget != nil {
		if left := e.budget.Left(); left < limit {
			limit, fromBudget = left, true
		}
	}
	out, err := in.eval(en.prg, act, limit)
	if e.budget != nil {
		e.budget.charge(in.m.spent)
	}
	if in.m.cut && fromBudget && e.budget.enforce != nil && !e.budget.enforce() {
		limit, fromBudget = CostLimit, false
		out, err = in.eval(en.prg, act, limit)
	}
	if in.m.cut {
		return nil, &CostError{Limit: limit, Budget: fromBudget, TaskBudget: e.budget.Limit()}
	}
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
