package native

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// A path names a value inside JSON, as json.query and json.transform read
// it. The grammar (docs/native-tools.md repeats it for users):
//
//	path    = "" | "." | [ "." ] first { step }
//	first   = key | bracket
//	step    = "." key | bracket
//	key     = one or more characters other than "." "[" "]"
//	bracket = "[" index "]" | "[" quoted "]"
//	index   = [ "-" ] digit { digit }      (negative counts from the end)
//	quoted  = a JSON string, e.g. ["a.b"] or ["say \"hi\""]
//
// The empty path and "." name the whole input. There are no wildcards,
// filters or expressions: those belong in ${...} expressions.
type path []pathSeg

// pathSeg is one step of a path: an object key or a list index.
type pathSeg struct {
	key     string
	index   int
	isIndex bool
}

// parsePath parses s by the grammar above.
func parsePath(s string) (path, error) {
	if s == "" || s == "." {
		return nil, nil
	}
	var p path
	i := 0
	if s[0] == '.' {
		i = 1
	}
	for i < len(s) {
		switch {
		case s[i] == '[':
			seg, n, err := parseBracket(s, i)
			if err != nil {
				return nil, err
			}
			p = append(p, seg)
			i = n
		case s[i] == '.' || len(p) == 0:
			if s[i] == '.' {
				i++
			}
			end := i
			for end < len(s) && s[end] != '.' && s[end] != '[' {
				if s[end] == ']' {
					return nil, fmt.Errorf("path %q: unexpected ']' at offset %d", s, end)
				}
				end++
			}
			if end == i {
				return nil, fmt.Errorf("path %q: empty key at offset %d (write keys with dots or brackets in [\"...\"])", s, i)
			}
			p = append(p, pathSeg{key: s[i:end]})
			i = end
		default:
			return nil, fmt.Errorf("path %q: expected '.' or '[' at offset %d", s, i)
		}
	}
	return p, nil
}

// parseBracket parses the bracket starting at s[i] == '[' and returns the
// offset just after its ']'.
func parseBracket(s string, i int) (pathSeg, int, error) {
	j := i + 1
	if j < len(s) && s[j] == '"' {
		end := j + 1
		for end < len(s) && s[end] != '"' {
			if s[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(s) {
			return pathSeg{}, 0, fmt.Errorf("path %q: unterminated quoted key at offset %d", s, j)
		}
		var key string
		if err := json.Unmarshal([]byte(s[j:end+1]), &key); err != nil {
			return pathSeg{}, 0, fmt.Errorf("path %q: bad quoted key at offset %d: %v", s, j, err)
		}
		if end+1 >= len(s) || s[end+1] != ']' {
			return pathSeg{}, 0, fmt.Errorf("path %q: expected ']' at offset %d", s, end+1)
		}
		return pathSeg{key: key}, end + 2, nil
	}
	n := strings.IndexByte(s[j:], ']')
	if n < 0 {
		return pathSeg{}, 0, fmt.Errorf("path %q: unclosed '[' at offset %d", s, i)
	}
	idx, err := strconv.Atoi(s[j : j+n])
	if err != nil {
		return pathSeg{}, 0, fmt.Errorf("path %q: [%s] at offset %d is neither an integer index nor a quoted key", s, s[j:j+n], i)
	}
	return pathSeg{index: idx, isIndex: true}, j + n + 1, nil
}

// String writes the path back in its canonical form.
func (p path) String() string {
	var b strings.Builder
	for i, seg := range p {
		switch {
		case seg.isIndex:
			fmt.Fprintf(&b, "[%d]", seg.index)
		case seg.key == "" || strings.ContainsAny(seg.key, ".[]\""):
			q, _ := json.Marshal(seg.key)
			fmt.Fprintf(&b, "[%s]", q)
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(seg.key)
		}
	}
	return b.String()
}

// where names the prefix p[:i] for messages.
func (p path) where(i int) string {
	if i == 0 {
		return "the input"
	}
	return p[:i].String()
}

// lookup returns the value at p in raw without decoding more than the
// containers on the way, so numbers and key order come back byte for byte.
// The error says where the path stopped resolving.
func lookup(raw json.RawMessage, p path) (json.RawMessage, error) {
	cur := bytes.TrimSpace(raw)
	for i, seg := range p {
		if seg.isIndex {
			var list []json.RawMessage
			if kind := jsonKindOf(cur); kind != "a list" {
				return nil, fmt.Errorf("%s is %s, not a list, so it has no [%d]", p.where(i), kind, seg.index)
			}
			if err := json.Unmarshal(cur, &list); err != nil {
				return nil, fmt.Errorf("%s: %v", p.where(i), err)
			}
			idx := seg.index
			if idx < 0 {
				idx += len(list)
			}
			if idx < 0 || idx >= len(list) {
				return nil, fmt.Errorf("%s has %d items, so [%d] is out of range", p.where(i), len(list), seg.index)
			}
			cur = bytes.TrimSpace(list[idx])
			continue
		}
		var obj map[string]json.RawMessage
		if kind := jsonKindOf(cur); kind != "an object" {
			return nil, fmt.Errorf("%s is %s, not an object, so it has no key %q", p.where(i), kind, seg.key)
		}
		if err := json.Unmarshal(cur, &obj); err != nil {
			return nil, fmt.Errorf("%s: %v", p.where(i), err)
		}
		v, ok := obj[seg.key]
		if !ok {
			return nil, fmt.Errorf("%s has no key %q", p.where(i), seg.key)
		}
		cur = bytes.TrimSpace(v)
	}
	return cur, nil
}

// jsonKindOf names the kind of the JSON value raw by its first byte.
func jsonKindOf(raw []byte) string {
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}
