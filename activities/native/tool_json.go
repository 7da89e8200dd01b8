package native

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/tars-engine/tars/activities"
)

type queryArgs struct {
	Input   json.RawMessage `json:"input"`
	Path    string          `json:"path"`
	Default json.RawMessage `json:"default"` // present, even as null, means "use it when the path does not resolve"
}

// runJSONQuery returns the value at args.path in args.input, or
// args.default when the path does not resolve and a default is given.
func runJSONQuery(_ context.Context, call activities.Call) (activities.Result, error) {
	var args queryArgs
	if err := decodeArgs("json.query", call.Args, &args); err != nil {
		return activities.Result{}, err
	}
	if args.Input == nil {
		return activities.Result{}, badArgs("json.query", `"input" is required`)
	}
	p, err := parsePath(args.Path)
	if err != nil {
		return activities.Result{}, badArgs("json.query", "%v", err)
	}
	v, err := lookup(args.Input, p)
	if err != nil {
		if args.Default != nil {
			return activities.Result{Output: args.Default}, nil
		}
		return activities.Result{}, badArgs("json.query", "path %q does not resolve: %v; give \"default\" to accept that", args.Path, err)
	}
	return activities.Result{Output: v}, nil
}

type transformArgs struct {
	Input   json.RawMessage   `json:"input"`
	Pick    []string          `json:"pick"`
	Drop    []string          `json:"drop"`
	Rename  map[string]string `json:"rename"`
	Flatten bool              `json:"flatten"`
}

// keyPath is a path of object keys only, as json.transform takes them.
type keyPath []string

// transform is a parsed json.transform request, applied in a fixed order:
// pick, drop, rename, flatten.
type transform struct {
	pick    []keyPath
	drop    []keyPath
	rename  [][2]keyPath // sorted by the old path, so the result never depends on map order
	flatten bool
}

// runJSONTransform reshapes an object, or each object of a list.
func runJSONTransform(_ context.Context, call activities.Call) (activities.Result, error) {
	const tool = "json.transform"
	var args transformArgs
	if err := decodeArgs(tool, call.Args, &args); err != nil {
		return activities.Result{}, err
	}
	if args.Input == nil {
		return activities.Result{}, badArgs(tool, `"input" is required`)
	}
	tr, err := parseTransform(args)
	if err != nil {
		return activities.Result{}, badArgs(tool, "%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(args.Input))
	dec.UseNumber() // keep 64-bit integers exact
	var input any
	if err := dec.Decode(&input); err != nil {
		return activities.Result{}, badArgs(tool, "input: %v", err)
	}
	switch in := input.(type) {
	case map[string]any:
		out, err := tr.apply(in)
		if err != nil {
			return activities.Result{}, badArgs(tool, "%v", err)
		}
		return output(tool, out)
	case []any:
		out := make([]any, len(in))
		for i, elem := range in {
			obj, ok := elem.(map[string]any)
			if !ok {
				return activities.Result{}, badArgs(tool, "input[%d] is %s; a list input must hold objects only", i, kindOfValue(elem))
			}
			if out[i], err = tr.apply(obj); err != nil {
				return activities.Result{}, badArgs(tool, "input[%d]: %v", i, err)
			}
		}
		return output(tool, out)
	default:
		return activities.Result{}, badArgs(tool, "input is %s; it must be an object or a list of objects", kindOfValue(input))
	}
}

func parseTransform(args transformArgs) (transform, error) {
	tr := transform{flatten: args.Flatten}
	var err error
	if tr.pick, err = parseKeyPaths("pick", args.Pick); err != nil {
		return tr, err
	}
	if tr.drop, err = parseKeyPaths("drop", args.Drop); err != nil {
		return tr, err
	}
	olds := make([]string, 0, len(args.Rename))
	for old := range args.Rename {
		olds = append(olds, old)
	}
	slices.Sort(olds)
	for _, old := range olds {
		from, err := parseKeyPath("rename", old)
		if err != nil {
			return tr, err
		}
		to, err := parseKeyPath("rename", args.Rename[old])
		if err != nil {
			return tr, err
		}
		tr.rename = append(tr.rename, [2]keyPath{from, to})
	}
	return tr, nil
}

func parseKeyPaths(field string, ss []string) ([]keyPath, error) {
	out := make([]keyPath, 0, len(ss))
	for _, s := range ss {
		kp, err := parseKeyPath(field, s)
		if err != nil {
			return nil, err
		}
		out = append(out, kp)
	}
	return out, nil
}

func parseKeyPath(field, s string) (keyPath, error) {
	p, err := parsePath(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", field, err)
	}
	if len(p) == 0 {
		return nil, fmt.Errorf("%s: empty path", field)
	}
	kp := make(keyPath, len(p))
	for i, seg := range p {
		if seg.isIndex {
			return nil, fmt.Errorf("%s: %q: json.transform paths name object keys; list indexes such as [%d] are not supported", field, s, seg.index)
		}
		kp[i] = seg.key
	}
	return kp, nil
}

// apply runs the transform on obj, which it may modify.
func (tr transform) apply(obj map[string]any) (map[string]any, error) {
	if len(tr.pick) > 0 {
		picked := map[string]any{}
		for _, kp := range tr.pick {
			if v, ok := getKeys(obj, kp); ok {
				if err := setKeys(picked, kp, v); err != nil {
					return nil, fmt.Errorf("pick: %v", err)
				}
			}
		}
		obj = picked
	}
	for _, kp := range tr.drop {
		deleteKeys(obj, kp)
	}
	for _, r := range tr.rename {
		v, ok := getKeys(obj, r[0])
		if !ok {
			continue
		}
		deleteKeys(obj, r[0])
		if err := setKeys(obj, r[1], v); err != nil {
			return nil, fmt.Errorf("rename %s: %v", path(toSegs(r[0])), err)
		}
	}
	if tr.flatten {
		flat := map[string]any{}
		flattenInto(flat, "", obj)
		obj = flat
	}
	return obj, nil
}

func getKeys(obj map[string]any, kp keyPath) (any, bool) {
	var cur any = obj
	for _, k := range kp {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func setKeys(obj map[string]any, kp keyPath, v any) error {
	cur := obj
	for i, k := range kp[:len(kp)-1] {
		next, ok := cur[k]
		if !ok {
			m := map[string]any{}
			cur[k] = m
			cur = m
			continue
		}
		if cur, ok = next.(map[string]any); !ok {
			return fmt.Errorf("%s is %s, not an object", path(toSegs(kp[:i+1])), kindOfValue(next))
		}
	}
	cur[kp[len(kp)-1]] = v
	return nil
}

func deleteKeys(obj map[string]any, kp keyPath) {
	cur := obj
	for _, k := range kp[:len(kp)-1] {
		next, ok := cur[k].(map[string]any)
		if !ok {
			return
		}
		cur = next
	}
	delete(cur, kp[len(kp)-1])
}

// flattenInto copies obj into flat with nested object keys joined by ".".
// Empty objects and every non-object value, lists included, stay values.
func flattenInto(flat map[string]any, prefix string, obj map[string]any) {
	for k, v := range obj {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			flattenInto(flat, key, m)
			continue
		}
		flat[key] = v
	}
}

func toSegs(kp keyPath) []pathSeg {
	segs := make([]pathSeg, len(kp))
	for i, k := range kp {
		segs[i] = pathSeg{key: k}
	}
	return segs
}

// kindOfValue names the kind of a decoded JSON value.
func kindOfValue(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		return "a number"
	}
}
