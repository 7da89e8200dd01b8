package diag

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// File is one YAML file being read. Its methods record faults in Diags
// instead of returning them, so that a reader goes on to find the next one.
type File struct {
	Name  string
	Src   []byte
	Diags Diagnostics
}

// Field is one key of a mapping and its value.
type Field struct {
	Key   *yaml.Node
	Value *yaml.Node
}

// Str is a scalar's text with the node it came from, for positions.
type Str struct {
	V string
	N *yaml.Node
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse reads the first YAML document of src and returns the file and the
// document's top node (nil when the file is empty or unreadable; the fault
// is then in f.Diags). More than one document, anchors, aliases, merge keys
// and local tags are faults.
func Parse(name string, src []byte) (f *File, root *yaml.Node) {
	f = &File{Name: name, Src: src}
	defer func() {
		// yaml.v3 is robust, but a parser bug must not take the caller down.
		if r := recover(); r != nil {
			f.At(1, 1, "yaml: cannot parse this file: %v", r)
			root = nil
		}
	}()
	if root, ok := parsePlain(src); ok {
		// The tree yaml.v3 would build, without anchors, aliases, tags or
		// merge keys to refuse.
		return f, root
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		f.yamlError(err)
		return f, nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		f.At(extra.Line, extra.Column, "only one YAML document is allowed per file")
	} else if !errors.Is(err, io.EOF) {
		f.yamlError(err)
	}
	if len(doc.Content) == 0 {
		return f, nil
	}
	root = doc.Content[0]
	f.refuseAliases(root, 0)
	return f, root
}

// parserProblems are the yaml.v3 errors that come from its parser rather
// than its scanner: yaml.v3 reports their line 0-based (the line where the
// enclosing construct starts), the scanner's 1-based.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

func (f *File) yamlError(err error) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if parserProblems[m[2]] {
			line++
		}
		f.At(line, 1, "yaml: %s", m[2])
		return
	}
	f.At(1, 1, "%s", msg)
}

// refuseAliases reports anchors, aliases, merge keys and local tags. They
// would let a small file expand into a huge one, and make what a reader sees
// differ from what runs.
func (f *File) refuseAliases(n *yaml.Node, depth int) {
	if depth > 1000 {
		f.Errorf(n, "nesting is too deep")
		return
	}
	switch {
	case n.Kind == yaml.AliasNode:
		f.Errorf(n, "aliases (*%s) are not supported; write the value out", n.Value)
		return
	case n.Anchor != "":
		f.Errorf(n, "anchors (&%s) are not supported; write the value out", n.Anchor)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		f.Errorf(n, "tag %s is not supported", n.Tag)
	}
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 && c.Kind == yaml.ScalarNode && c.Tag == "!!merge" {
			f.Errorf(c, "merge keys (<<) are not supported; write the keys out")
			continue
		}
		f.refuseAliases(c, depth+1)
	}
}

// At records a fault at line and col.
func (f *File) At(line, col int, format string, args ...any) {
	if line < 1 {
		line = 1
	}
	if col < 1 {
		col = 1
	}
	f.Diags = append(f.Diags, Diagnostic{File: f.Name, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// Errorf records a fault at n's position (1:1 when n is nil).
func (f *File) Errorf(n *yaml.Node, format string, args ...any) {
	if n == nil {
		f.At(1, 1, format, args...)
		return
	}
	f.At(n.Line, n.Column, format, args...)
}

// Pos formats n's position as "file:line:col".
func (f *File) Pos(n *yaml.Node) string {
	if n == nil {
		return f.Name + ":1:1"
	}
	var buf [128]byte
	b := append(buf[:0], f.Name...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(n.Line), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(n.Column), 10)
	return string(b)
}

// LinePos formats n's position as "line:col", for "first defined at" notes.
func LinePos(n *yaml.Node) string {
	if n == nil {
		return "?"
	}
	return fmt.Sprintf("%d:%d", n.Line, n.Column)
}

// Describe names the kind of YAML value n holds, for messages.
func Describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return n.Value
		}
		return strconv.Quote(n.Value)
	}
	return "a document"
}

// Mapping checks that n is a mapping whose keys are all in allowed, and
// returns its fields by key. Unknown keys (with a "did you mean") and
// duplicate keys are faults; what names the mapping in messages.
func (f *File) Mapping(n *yaml.Node, what string, allowed []string) map[string]Field {
	out := map[string]Field{}
	for _, fl := range f.Entries(n, what) {
		k := fl.Key.Value
		if !slices.Contains(allowed, k) {
			f.Errorf(fl.Key, "unknown key %q in %s%s", k, what, DidYouMean(k, allowed))
			continue
		}
		out[k] = fl
	}
	return out
}

// Fields is a mapping's known fields in source order, with distinct keys.
// A mapping holds a handful of keys: finding one by a scan costs less
// than building a map for each.
type Fields []Field

// Get returns the field with key k (the zero Field when absent).
func (fs Fields) Get(k string) Field {
	for i := range fs {
		if fs[i].Key.Value == k {
			return fs[i]
		}
	}
	return Field{}
}

// Lookup returns the field with key k and whether there is one.
func (fs Fields) Lookup(k string) (Field, bool) {
	for i := range fs {
		if fs[i].Key.Value == k {
			return fs[i], true
		}
	}
	return Field{}, false
}

// Fields is Mapping returning the fields as Fields: the same checks and
// faults, in the same order.
func (f *File) Fields(n *yaml.Node, what string, allowed []string) Fields {
	var room []Field
	if n != nil && n.Kind == yaml.MappingNode {
		room = make([]Field, 0, len(n.Content)/2)
	}
	return f.FieldsIn(room, n, what, allowed)
}

// FieldsIn is Fields keeping the fields in room, an empty slice the
// caller provides (with capacity for n's keys, or they are appended).
func (f *File) FieldsIn(room []Field, n *yaml.Node, what string, allowed []string) Fields {
	all := f.AppendEntries(room[:0], n, what)
	out := all[:0]
	for _, fl := range all {
		k := fl.Key.Value
		if !slices.Contains(allowed, k) {
			f.Errorf(fl.Key, "unknown key %q in %s%s", k, what, DidYouMean(k, allowed))
			continue
		}
		out = append(out, fl)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Entries checks that n is a mapping with distinct scalar keys and returns
// its fields in order; the keys are free-form (names the user chooses).
func (f *File) Entries(n *yaml.Node, what string) []Field {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		f.Errorf(n, "%s must be a mapping, not %s", what, Describe(n))
		return nil
	}
	return f.AppendEntries(make([]Field, 0, len(n.Content)/2), n, what)
}

// AppendEntries is Entries appending the fields to out (which must be
// empty), for a caller that has room for them.
func (f *File) AppendEntries(out []Field, n *yaml.Node, what string) []Field {
	if n == nil {
		return out
	}
	if n.Kind != yaml.MappingNode {
		f.Errorf(n, "%s must be a mapping, not %s", what, Describe(n))
		return out
	}
	var seen map[string]*yaml.Node
	if len(n.Content) > 16 {
		seen = make(map[string]*yaml.Node, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			if k.Kind != yaml.ScalarNode {
				f.Errorf(k, "keys in %s must be names, not %s", what, Describe(k))
			}
			continue
		}
		var first *yaml.Node
		if seen != nil {
			first = seen[k.Value]
		} else {
			for _, o := range out {
				if o.Key.Value == k.Value {
					first = o.Key
				}
			}
		}
		if first != nil {
			f.Errorf(k, "duplicate key %q in %s (first at %s)", k.Value, what, LinePos(first))
			continue
		}
		if seen != nil {
			seen[k.Value] = k
		}
		out = append(out, Field{Key: k, Value: v})
	}
	return out
}

// Seq checks that n is a list and returns its items.
func (f *File) Seq(n *yaml.Node, what string) []*yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		f.Errorf(n, "%s must be a list, not %s", what, Describe(n))
		return nil
	}
	return n.Content
}

// String returns a scalar's text. Null, lists and mappings are faults.
func (f *File) String(n *yaml.Node, what string) (Str, bool) {
	if n == nil {
		return Str{}, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		f.Errorf(n, "%s must be a string, not %s", what, Describe(n))
		return Str{N: n}, false
	}
	return Str{V: n.Value, N: n}, true
}

// Strings returns the texts of a list of scalars.
func (f *File) Strings(n *yaml.Node, what string) []Str {
	items := f.Seq(n, what)
	out := make([]Str, 0, len(items))
	for _, it := range items {
		if s, ok := f.String(it, what+" entry"); ok {
			out = append(out, s)
		}
	}
	return out
}

// StringOrList accepts one string or a list of strings.
func (f *File) StringOrList(n *yaml.Node, what string) []Str {
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []Str{{V: n.Value, N: n}}
	}
	if n != nil && n.Kind != yaml.SequenceNode {
		f.Errorf(n, "%s must be a string or a list of strings, not %s", what, Describe(n))
		return nil
	}
	return f.Strings(n, what)
}

// Int returns an integer scalar.
func (f *File) Int(n *yaml.Node, what string) (int, bool) {
	if n == nil {
		return 0, false
	}
	var v int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&v) != nil {
		f.Errorf(n, "%s must be an integer, not %s", what, Describe(n))
		return 0, false
	}
	return v, true
}

// Number returns an integer or floating-point scalar.
func (f *File) Number(n *yaml.Node, what string) (float64, bool) {
	if n == nil {
		return 0, false
	}
	var v float64
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&v) != nil {
		f.Errorf(n, "%s must be a number, not %s", what, Describe(n))
		return 0, false
	}
	if v != v || v > 1e300 || v < -1e300 {
		f.Errorf(n, "%s must be a finite number, not %s", what, n.Value)
		return 0, false
	}
	return v, true
}

// Bool returns a true/false scalar.
func (f *File) Bool(n *yaml.Node, what string) (bool, bool) {
	if n == nil {
		return false, false
	}
	var v bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&v) != nil {
		f.Errorf(n, "%s must be true or false, not %s", what, Describe(n))
		return false, false
	}
	return v, true
}

// Duration returns a positive Go duration such as "30s" or "1h30m".
func (f *File) Duration(n *yaml.Node, what string) (time.Duration, bool) {
	s, ok := f.String(n, what)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s.V)
	if err != nil {
		f.Errorf(n, "%s: %q is not a duration (write e.g. 30s, 5m or 1h30m)", what, s.V)
		return 0, false
	}
	if d <= 0 {
		f.Errorf(n, "%s must be positive, not %s", what, s.V)
		return 0, false
	}
	return d, true
}

// Enum returns a string that must be one of values.
func (f *File) Enum(n *yaml.Node, what string, values []string) (string, bool) {
	s, ok := f.String(n, what)
	if !ok {
		return "", false
	}
	if !slices.Contains(values, s.V) {
		f.Errorf(n, "%s must be one of %s, not %q%s", what, strings.Join(values, ", "), s.V, DidYouMean(s.V, values))
		return "", false
	}
	return s.V, true
}
