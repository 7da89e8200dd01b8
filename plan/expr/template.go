package expr

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Segment is a piece of a template string: literal text or an expression.
type Segment struct {
	Lit    string
	Expr   string
	Offset int // byte offset of Expr (after "${") or Lit within the string
	IsExpr bool
}

// Split cuts s into literal and ${...} segments. "$${" is a literal "${".
// Braces and quotes inside an expression are balanced, so map literals and
// strings containing "}" work.
func Split(s string) ([]Segment, error) {
	if !strings.Contains(s, "${") {
		// Most strings of a metascript: one literal, no copy.
		if s == "" {
			return nil, nil
		}
		return []Segment{{Lit: s}}, nil
	}
	return SplitAppend(make([]Segment, 0, 2*strings.Count(s, "${")+1), s)
}

// SplitAppend is Split appending the segments to segs (which must be
// empty), for a caller that reuses them; unlike Split it does not treat a
// string without "${" apart.
func SplitAppend(segs []Segment, s string) ([]Segment, error) {
	// A literal is a substring of s unless it holds a "$${": only then is
	// it built in lit (its text up to from), with "${" for each.
	var lit strings.Builder
	escaped := false
	litStart, from := 0, 0
	i := 0
	for i < len(s) {
		if strings.HasPrefix(s[i:], "$${") {
			lit.WriteString(s[from:i])
			lit.WriteString("${")
			escaped = true
			i += 3
			from = i
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			// Up to the next '$' is literal.
			j := strings.IndexByte(s[i+1:], '$')
			if j < 0 {
				j = len(s) - i - 1
			}
			i += 1 + j
			continue
		}
		start := i + 2
		end, err := exprEnd(s, start)
		if err != nil {
			return nil, err
		}
		if escaped {
			lit.WriteString(s[from:i])
			segs = append(segs, Segment{Lit: lit.String(), Offset: litStart})
			lit.Reset()
			escaped = false
		} else if i > from {
			segs = append(segs, Segment{Lit: s[from:i], Offset: litStart})
		}
		src := s[start:end]
		if strings.TrimSpace(src) == "" {
			return nil, &SyntaxError{Offset: i, Msg: "empty expression ${}"}
		}
		segs = append(segs, Segment{Expr: src, Offset: start, IsExpr: true})
		i = end + 1
		litStart, from = i, i
	}
	if escaped {
		lit.WriteString(s[from:])
		segs = append(segs, Segment{Lit: lit.String(), Offset: litStart})
	} else if len(s) > from {
		segs = append(segs, Segment{Lit: s[from:], Offset: litStart})
	}
	return segs, nil
}

// SyntaxError is a malformed template; Offset is a byte offset in the string.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return e.Msg }

func exprEnd(s string, start int) (int, error) {
	depth := 0
	var quote byte
	for j := start; j < len(s); j++ {
		c := s[j]
		if quote != 0 {
			if c == '\\' {
				j++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'':
			quote = c
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return j, nil
			}
			depth--
		}
	}
	return 0, &SyntaxError{Offset: start - 2, Msg: "unterminated ${: missing }"}
}

// HasExpr reports whether s contains an expression.
func HasExpr(s string) bool { return strings.Contains(strings.ReplaceAll(s, "$${", ""), "${") }

// RenderString evaluates a template string. A string that is exactly one
// ${expr} yields the expression's typed value; otherwise the pieces are
// joined as text, with lists and maps written as JSON.
func (e *Env) RenderString(s string, vars Vars) (any, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	segs, err := Split(s)
	if err != nil {
		return nil, err
	}
	if len(segs) == 1 && segs[0].IsExpr {
		return e.Eval(segs[0].Expr, vars)
	}
	var b strings.Builder
	for _, sg := range segs {
		if !sg.IsExpr {
			b.WriteString(sg.Lit)
			continue
		}
		v, err := e.Eval(sg.Expr, vars)
		if err != nil {
			return nil, fmt.Errorf("${%s}: %w", sg.Expr, err)
		}
		b.WriteString(Text(v))
	}
	return b.String(), nil
}

// Text formats a value for string interpolation.
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any, map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

// Render evaluates every template string inside a decoded JSON value.
func (e *Env) Render(v any, vars Vars) (any, error) {
	switch x := v.(type) {
	case string:
		return e.RenderString(x, vars)
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			r, err := e.Render(el, vars)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, el := range x {
			r, err := e.Render(el, vars)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

// RenderJSON renders a JSON template and returns JSON.
func (e *Env) RenderJSON(tmpl json.RawMessage, vars Vars) (json.RawMessage, error) {
	if len(tmpl) == 0 {
		return nil, nil
	}
	v, err := Decode(tmpl)
	if err != nil {
		return nil, fmt.Errorf("template is not JSON: %w", err)
	}
	r, err := e.Render(v, vars)
	if err != nil {
		return nil, err
	}
	return json.Marshal(r)
}
