package metascripts

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/internal/diag"
	"github.com/tars-engine/tars/plan/expr"
)

// templateJSON converts a YAML value to JSON and registers every ${...} in
// its strings as an expression of step st (nil for outputs) with the given
// scope. Keys keep their YAML order, so the Plan reads like the source.
func (c *compiler) templateJSON(n *yaml.Node, st *stepInfo, what string, sc scope) (json.RawMessage, bool) {
	b := &c.jbuf
	b.Reset()
	ok := c.writeJSON(b, n, what, jsonStrings{st: st, sc: sc})
	return c.keepJSON(b.Bytes()), ok
}

// literalJSON converts a YAML value that may not hold expressions.
func (c *compiler) literalJSON(n *yaml.Node, what string) (json.RawMessage, bool) {
	b := &c.jbuf
	b.Reset()
	ok := c.writeJSON(b, n, what, jsonStrings{literal: true})
	return c.keepJSON(b.Bytes()), ok
}

// jsonStrings says what writeJSON does with the strings it meets: report
// a ${...} in a literal, or register the expressions of a template.
type jsonStrings struct {
	literal bool
	st      *stepInfo
	sc      scope
}

// keepJSON copies b into the compiler's arena: the Plan's JSON values are
// slices of a few large blocks (without pointers, so the collector does
// not scan them) instead of a buffer each.
func (c *compiler) keepJSON(b []byte) json.RawMessage {
	if len(b) > len(c.arena) {
		c.arena = make([]byte, max(len(b), 16<<10))
	}
	out := c.arena[:len(b):len(b)]
	copy(out, b)
	c.arena = c.arena[len(b):]
	return out
}

func (c *compiler) writeJSON(b *bytes.Buffer, n *yaml.Node, what string, strs jsonStrings) bool {
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		ok := true
		var room [16]diag.Field
		for i, e := range c.f.AppendEntries(room[:0], n, what) {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, e.Key.Value)
			b.WriteByte(':')
			ok = c.writeJSON(b, e.Value, what, strs) && ok
		}
		b.WriteByte('}')
		return ok
	case yaml.SequenceNode:
		b.WriteByte('[')
		ok := true
		for i, e := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			ok = c.writeJSON(b, e, what, strs) && ok
		}
		b.WriteByte(']')
		return ok
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			b.WriteString("null")
		case "!!bool":
			if n.Value == "true" || n.Value == "false" {
				b.WriteString(n.Value)
				break
			}
			var v bool
			_ = n.Decode(&v)
			b.WriteString(strconv.FormatBool(v))
		case "!!int":
			// Plain decimals, the common case, without a yaml decoder
			// for each; 0x, 0o, 017 and 1_000 are yaml's to read.
			if plainDecimal(n.Value) {
				if v, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
					b.WriteString(strconv.FormatInt(v, 10))
					break
				}
			}
			var v int64
			if err := n.Decode(&v); err != nil {
				c.f.Errorf(n, "integer %s is out of range", n.Value)
				b.WriteString("0")
				return false
			}
			b.WriteString(strconv.FormatInt(v, 10))
		case "!!float":
			var v float64
			if err := n.Decode(&v); err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
				c.f.Errorf(n, "%s is not a number JSON can carry", n.Value)
				b.WriteString("0")
				return false
			}
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		default: // !!str, !!timestamp, !!binary: their text
			writeJSONString(b, n.Value)
			if n.Tag == "!!str" || n.Tag == "" {
				if strs.literal {
					if expr.HasExpr(n.Value) {
						c.f.Errorf(n, "%s is a literal value; ${...} is not evaluated here", what)
						return false
					}
					return true
				}
				return c.templateSites(n, strs.st, what, strs.sc)
			}
		}
		return true
	}
	// An alias: already reported by diag.Parse.
	b.WriteString("null")
	return false
}

// writeJSONString writes s as a JSON string exactly as encoding/json would
// (including its \u003c escapes for <, > and &), so that a Plan's raw JSON
// fields survive a marshal/unmarshal round trip byte for byte.
func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	if plainJSON(s) {
		b.WriteString(s)
		b.WriteByte('"')
		return
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(`\ufffd`)
		} else if r == '\u2028' || r == '\u2029' {
			b.WriteString(`\u202`)
			b.WriteByte(hex[r&0xf])
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

// plainJSON reports whether s is ASCII that JSON carries unescaped (as
// writeJSONString escapes).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// plainDecimal reports whether s is "0" or an optionally negative decimal
// without a leading zero, which yaml and strconv read the same way.
func plainDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || s[0] == '0' && len(s) > 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
