package metascripts

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// errAt records a fault at byte offset off of scalar n's value.
func (c *compiler) errAt(n *yaml.Node, off int, format string, args ...any) {
	line, col := c.posAt(n, off)
	c.f.At(line, col, format, args...)
}

// posAt maps a byte offset in a scalar's value to a line and column of the
// file. It is exact for single-line plain, double-quoted and single-quoted
// scalars and for block scalars (| and >); for multi-line flow scalars it
// gives the scalar's start.
func (c *compiler) posAt(n *yaml.Node, off int) (int, int) {
	v := n.Value
	if off < 0 {
		off = 0
	}
	if off > len(v) {
		off = len(v)
	}
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		if l, col, ok := c.blockPos(n, off); ok {
			return l, col
		}
		nl := strings.Count(v[:off], "\n")
		start := strings.LastIndexByte(v[:off], '\n') + 1
		indent := c.blockIndent(n.Line + 1)
		return n.Line + 1 + nl, indent + 1 + utf8.RuneCountInString(v[start:off])
	case n.Style&yaml.DoubleQuotedStyle != 0:
		if l, col, ok := c.quotedPos(n, off, '"'); ok {
			return l, col
		}
		return n.Line, n.Column
	case n.Style&yaml.SingleQuotedStyle != 0:
		if l, col, ok := c.quotedPos(n, off, '\''); ok {
			return l, col
		}
		return n.Line, n.Column
	}
	if strings.IndexByte(v[:off], '\n') >= 0 {
		return n.Line, n.Column
	}
	return n.Line, n.Column + utf8.RuneCountInString(v[:off])
}

// blockPos finds off in a block scalar by matching the block's source
// lines, in order, against its value: folding changes the line breaks
// between lines but not the text of a line.
func (c *compiler) blockPos(n *yaml.Node, off int) (int, int, bool) {
	v := n.Value
	indent := c.blockIndent(n.Line + 1)
	p := 0
	for l := n.Line + 1; p < len(v); l++ {
		t := c.lineText(l)
		if l > len(c.lines) {
			return 0, 0, false
		}
		if strings.TrimSpace(t) == "" {
			continue
		}
		if len(t)-len(strings.TrimLeft(t, " ")) < indent {
			return 0, 0, false // past the end of the block
		}
		content := t[indent:]
		i := strings.Index(v[p:], content)
		if i < 0 {
			return 0, 0, false
		}
		start := p + i
		if off >= start && off <= start+len(content) {
			return l, indent + 1 + utf8.RuneCountInString(v[start:off]), true
		}
		p = start + len(content)
	}
	return 0, 0, false
}

// lineText returns line l (1-based) of the source, without its newline.
func (c *compiler) lineText(l int) string {
	if c.lines == nil {
		c.lines = []int{0}
		for i, b := range c.f.Src {
			if b == '\n' {
				c.lines = append(c.lines, i+1)
			}
		}
	}
	if l < 1 || l > len(c.lines) {
		return ""
	}
	start := c.lines[l-1]
	end := len(c.f.Src)
	if l < len(c.lines) {
		end = c.lines[l] - 1
	}
	return string(c.f.Src[start:end])
}

// blockIndent is the indentation of a block scalar's content: that of the
// first non-blank line from l on.
func (c *compiler) blockIndent(l int) int {
	for i := l; i < l+1000; i++ {
		t := c.lineText(i)
		if strings.TrimSpace(t) != "" {
			return len(t) - len(strings.TrimLeft(t, " "))
		}
		if c.lines != nil && i >= len(c.lines) {
			break
		}
	}
	return 0
}

// quotedPos walks the raw text of a one-line quoted scalar, undoing
// escapes, until it has covered off bytes of the value.
func (c *compiler) quotedPos(n *yaml.Node, off int, q byte) (int, int, bool) {
	line := c.lineText(n.Line)
	p := runeIndex(line, n.Column-1)
	if p >= len(line) || line[p] != q {
		return 0, 0, false
	}
	raw, decoded, runes := p+1, 0, 0
	for decoded < off {
		if raw >= len(line) {
			return 0, 0, false // the scalar goes on to the next line
		}
		ch := line[raw]
		switch {
		case q == '"' && ch == '\\' && raw+1 < len(line):
			w, d := escapeWidth(line[raw+1:])
			raw += 1 + w
			decoded += d
			runes += 1 + w
		case q == '\'' && ch == '\'' && raw+1 < len(line) && line[raw+1] == '\'':
			raw += 2
			decoded++
			runes += 2
		default:
			_, size := utf8.DecodeRuneInString(line[raw:])
			raw += size
			decoded += size
			runes++
		}
	}
	return n.Line, n.Column + 1 + runes, true
}

// escapeWidth returns, for the text after a backslash in a double-quoted
// scalar, how many raw characters the escape takes and how many bytes it
// decodes to.
func escapeWidth(s string) (raw, decoded int) {
	hexRune := func(w int) (int, int) {
		if len(s) < 1+w {
			return len(s), 1
		}
		var r rune
		if _, err := fmt.Sscanf(s[1:1+w], "%x", &r); err != nil {
			return 1 + w, 1
		}
		return 1 + w, utf8.RuneLen(r)
	}
	switch s[0] {
	case 'x':
		return 3, 1
	case 'u':
		return hexRune(4)
	case 'U':
		return hexRune(8)
	case 'N', '_':
		return 1, 2
	case 'L', 'P':
		return 1, 3
	}
	return 1, 1
}

func runeIndex(s string, n int) int {
	off := 0
	for i := 0; i < n && off < len(s); i++ {
		_, size := utf8.DecodeRuneInString(s[off:])
		off += size
	}
	return off
}
