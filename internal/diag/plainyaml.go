package diag

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// parsePlain builds the node tree yaml.v3 builds, for the plain YAML that
// metascripts and configs are written in: block mappings and sequences,
// flow collections, plain and quoted scalars on one line, literal and
// folded blocks, comments. It is several times faster than yaml.v3 (whose
// token and event machinery was half of a compile), and it does not judge:
// at the first thing outside that subset, or anything that might be an
// error (anchors, aliases, tags, directives, tabs, empty values,
// multi-line plain or quoted scalars, complex keys, an odd scalar that
// yaml.v3 would resolve to a timestamp, ...), it returns false and the
// caller parses with yaml.v3, so errors and rare constructs keep yaml.v3's
// exact messages and positions. TestPlainMatchesYAMLv3 and FuzzPlainYAML
// check that a tree it returns equals yaml.v3's, positions and tags
// included (comments are not kept: nothing reads them).
//
// Scalar values are substrings of one copy of src: a tree keeps the whole
// source alive, which the compiler does anyway while it reads.
func parsePlain(src []byte) (root *yaml.Node, ok bool) {
	if !plainChars(src) {
		return nil, false
	}
	p := &plainParser{src: string(src), line: 1}
	if !p.nextContent() || p.indent != 0 {
		return nil, false
	}
	root, ok = p.mapping(p.i)
	if !ok || p.i != len(p.src) {
		return nil, false
	}
	return root, true
}

// plainChars refuses what parsePlain leaves to yaml.v3 anywhere in the
// file: tabs, carriage returns, control characters, characters yaml.v3
// counts as line breaks or refuses, a byte-order mark, invalid UTF-8, and
// lines that start with a document marker or a directive.
func plainChars(src []byte) bool {
	lineStart := true
	for i := 0; i < len(src); {
		c := src[i]
		if lineStart && (c == '%' || c == '-' && hasPrefixAt(src, i, "---") || c == '.' && hasPrefixAt(src, i, "...")) {
			return false
		}
		lineStart = c == '\n'
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\n' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError || r < 0xA0 || r == 0x2028 || r == 0x2029 || r == 0xFEFF ||
			r >= 0xD800 && r < 0xE000 || r == 0xFFFE || r == 0xFFFF {
			return false
		}
		i += size
	}
	return true
}

func hasPrefixAt(src []byte, i int, p string) bool {
	return len(src)-i >= len(p) && string(src[i:i+len(p)]) == p
}

type plainParser struct {
	src       string
	i         int // the next byte to read
	line      int // 1-based line of i
	lineStart int // offset of that line
	indent    int // of the line nextContent stopped at
	depth     int
	slab      []yaml.Node
	// kids holds the children of the collections being read, innermost
	// last; a collection that ends takes its own from the top into one
	// exact slice of ptrs, so that Content is not grown by appends.
	kids []*yaml.Node
	ptrs []*yaml.Node
}

// content returns the children pushed on p.kids since base as one slice
// (nil when there are none, as yaml.v3 leaves it) and pops them.
func (p *plainParser) content(base int) []*yaml.Node {
	n := len(p.kids) - base
	if n == 0 {
		return nil
	}
	if len(p.ptrs) < n {
		p.ptrs = make([]*yaml.Node, max(n, 1024))
	}
	out := p.ptrs[:n:n]
	p.ptrs = p.ptrs[n:]
	copy(out, p.kids[base:])
	clear(p.kids[base:])
	p.kids = p.kids[:base]
	return out
}

// maxPlainKey is below the 1024 characters yaml.v3 allows a key.
const maxPlainKey = 1000

// maxPlainDepth is far below yaml.v3's own limit; deeper files go to
// yaml.v3, which reports what is wrong with them.
const maxPlainDepth = 200

func (p *plainParser) node(kind yaml.Kind, tag string, at int) *yaml.Node {
	if len(p.slab) == 0 {
		p.slab = make([]yaml.Node, 512)
	}
	n := &p.slab[0]
	p.slab = p.slab[1:]
	n.Kind, n.Tag, n.Line, n.Column = kind, tag, p.line, p.column(at)
	return n
}

// column is yaml.v3's: characters, not bytes, from the line's start.
func (p *plainParser) column(at int) int {
	s := p.src[p.lineStart:at]
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.RuneCountInString(s) + 1
		}
	}
	return len(s) + 1
}

// nextContent moves from a line's start to the first character of the
// next line that holds more than spaces and a comment. It sets p.indent
// and returns false at the end of the file.
func (p *plainParser) nextContent() bool {
	for p.i < len(p.src) {
		start := p.i
		p.skipSpaces()
		if p.i == len(p.src) {
			return false
		}
		if c := p.src[p.i]; c != '\n' && c != '#' {
			p.indent = p.i - start
			return true
		}
		p.skipLine()
	}
	return false
}

func (p *plainParser) skipSpaces() {
	for p.i < len(p.src) && p.src[p.i] == ' ' {
		p.i++
	}
}

// skipLine moves past the next line break.
func (p *plainParser) skipLine() {
	j := strings.IndexByte(p.src[p.i:], '\n')
	if j < 0 {
		p.i = len(p.src)
		p.lineStart = p.i
		return
	}
	p.i += j + 1
	p.line++
	p.lineStart = p.i
}

// restOfLine skips spaces and reports whether the current line holds
// nothing more after p.i than a comment (which needs a space before it).
func (p *plainParser) restOfLine() bool {
	p.skipSpaces()
	if p.i == len(p.src) || p.src[p.i] == '\n' {
		return true
	}
	return p.src[p.i] == '#' && p.i > p.lineStart && p.src[p.i-1] == ' '
}

// next moves past the entry just read to the next content line, and
// reports whether there is one at indent: the collection's next entry
// (more is false where the collection ended: at the end of the file, or
// at a line indented less, left for the caller). ok is false where the
// file goes on in a way left to yaml.v3.
func (p *plainParser) next(indent int) (more, ok bool) {
	if p.i != p.lineStart {
		if !p.restOfLine() {
			return false, false
		}
		p.skipLine()
	}
	if !p.nextContent() {
		return false, true
	}
	switch {
	case p.indent < indent:
		p.i = p.lineStart
		return false, true
	case p.indent > indent:
		return false, false
	}
	return true, true
}

// mapping reads a block mapping whose first key starts at at, on the
// current line; its keys stand at that column.
func (p *plainParser) mapping(at int) (*yaml.Node, bool) {
	if p.depth++; p.depth > maxPlainDepth {
		return nil, false
	}
	defer func() { p.depth-- }()
	indent := at - p.lineStart
	m := p.node(yaml.MappingNode, "!!map", at)
	p.i = at
	base := len(p.kids)
	for {
		key, ok := p.blockKey()
		if !ok {
			return nil, false
		}
		val, ok := p.blockValue(indent, true)
		if !ok {
			return nil, false
		}
		p.kids = append(p.kids, key, val)
		more, ok := p.next(indent)
		if !ok {
			return nil, false
		}
		if !more {
			m.Content = p.content(base)
			return m, true
		}
	}
}

// blockKey reads `key:` at p.i and leaves p.i after the colon.
func (p *plainParser) blockKey() (*yaml.Node, bool) {
	at := p.i
	var key *yaml.Node
	switch c := p.src[at]; c {
	case '"', '\'':
		k, ok := p.quoted()
		if !ok {
			return nil, false
		}
		key = k
	default:
		if !plainStart(p.src, at) {
			return nil, false
		}
		end := at
		for {
			if end == len(p.src) || p.src[end] == '\n' {
				return nil, false // no colon: a scalar where a key belongs, or a multi-line key
			}
			if p.src[end] == ':' && (end+1 == len(p.src) || p.src[end+1] == ' ' || p.src[end+1] == '\n') {
				break
			}
			if p.src[end] == '#' && p.src[end-1] == ' ' {
				return nil, false
			}
			end++
		}
		if p.src[end-1] == ' ' {
			return nil, false
		}
		k, ok := p.plainScalar(at, end)
		if !ok {
			return nil, false
		}
		key = k
		p.i = end
	}
	if p.i == len(p.src) || p.src[p.i] != ':' || p.i-at > maxPlainKey {
		return nil, false
	}
	p.i++
	if p.i < len(p.src) && p.src[p.i] != ' ' && p.src[p.i] != '\n' {
		return nil, false
	}
	return key, true
}

// blockValue reads the value of a key or a list item of the collection at
// indent, from p.i (just after the colon or dash). It leaves p.i at the
// start of a line, or at the end of the value's line when the value ended
// on its own line (nextContent then checks the rest).
func (p *plainParser) blockValue(indent int, inMapping bool) (*yaml.Node, bool) {
	if !p.restOfLine() {
		at := p.i
		switch c := p.src[at]; c {
		case '{', '[':
			n, ok := p.flow(indent)
			return n, ok && p.restOfLine()
		case '"', '\'':
			n, ok := p.quoted()
			return n, ok && p.restOfLine()
		case '|', '>':
			return p.blockScalar(indent)
		}
		if !plainStart(p.src, at) {
			return nil, false
		}
		end := at
		for end < len(p.src) && p.src[end] != '\n' {
			if p.src[end] == ':' && (end+1 == len(p.src) || p.src[end+1] == ' ' || p.src[end+1] == '\n') {
				if inMapping {
					return nil, false // a: b: c
				}
				// `- key: value`: a mapping in a list item.
				return p.mapping(at)
			}
			if p.src[end] == '#' && p.src[end-1] == ' ' {
				break
			}
			end++
		}
		for p.src[end-1] == ' ' {
			end--
		}
		n, ok := p.plainScalar(at, end)
		p.i = end
		return n, ok
	}
	// Nothing after the colon or dash: the value is on the lines below.
	p.skipLine()
	if !p.nextContent() {
		return nil, false // an empty value: yaml.v3 places it
	}
	at := p.i
	dash := isDash(p.src, at)
	switch {
	case p.indent > indent && dash:
		return p.sequence(at, false)
	case p.indent > indent:
		return p.mapping(at)
	case p.indent == indent && dash && inMapping:
		return p.sequence(at, true)
	}
	return nil, false
}

// sequence reads a block sequence whose first dash is at at. An
// indentless one (a mapping's value at the mapping's own column) ends at
// a line there without a dash.
func (p *plainParser) sequence(at int, indentless bool) (*yaml.Node, bool) {
	if p.depth++; p.depth > maxPlainDepth {
		return nil, false
	}
	defer func() { p.depth-- }()
	indent := at - p.lineStart
	s := p.node(yaml.SequenceNode, "!!seq", at)
	base := len(p.kids)
	for {
		p.i = p.lineStart + indent + 1
		if p.i < len(p.src) && p.src[p.i] != ' ' && p.src[p.i] != '\n' {
			return nil, false
		}
		if p.restOfLine() {
			return nil, false // `-` alone: the item is on the lines below
		}
		if isDash(p.src, p.i) {
			return nil, false // - - nested
		}
		item, ok := p.blockValue(indent, false)
		if !ok {
			return nil, false
		}
		p.kids = append(p.kids, item)
		more, ok := p.next(indent)
		if !ok {
			return nil, false
		}
		if !more {
			s.Content = p.content(base)
			return s, true
		}
		if !isDash(p.src, p.i) {
			if indentless {
				p.i = p.lineStart
				s.Content = p.content(base)
				return s, true
			}
			return nil, false
		}
	}
}

// isDash reports whether a block sequence entry starts at i.
func isDash(s string, i int) bool {
	return s[i] == '-' && (i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\n')
}

// plainStart reports whether a plain scalar may start at i: not an
// indicator, and not one that yaml.v3 reads as something else.
func plainStart(s string, i int) bool {
	switch s[i] {
	case '-', '?', ':':
		return i+1 < len(s) && s[i+1] != ' ' && s[i+1] != '\n' && s[i] == '-'
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ', '\n':
		return false
	}
	return true
}

var plainFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// isPlainInt matches ^[-+]?(0|[1-9][0-9]{0,17})$ without a regexp.
func isPlainInt(v string) bool {
	if v != "" && (v[0] == '-' || v[0] == '+') {
		v = v[1:]
	}
	if v == "0" {
		return true
	}
	return len(v) >= 1 && len(v) <= 18 && v[0] != '0' && allDigits(v)
}

// plainScalar makes the scalar src[at:end] with the tag yaml.v3 resolves
// it to, or refuses one whose resolution it does not follow exactly.
func (p *plainParser) plainScalar(at, end int) (*yaml.Node, bool) {
	v := p.src[at:end]
	tag := "!!str"
	switch c := v[0]; {
	case c >= '0' && c <= '9' || c == '-' || c == '+':
		digits := v
		if c == '-' || c == '+' {
			digits = v[1:]
			if len(digits) == 0 || digits[0] < '0' || digits[0] > '9' {
				return nil, false
			}
		}
		switch {
		case strings.IndexByte(v, '_') >= 0:
			return nil, false
		case isPlainInt(v):
			tag = "!!int"
		case allDigits(digits):
			return nil, false // 0123 and the like
		case plainFloat.MatchString(v):
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return nil, false
			}
			tag = "!!float"
		case len(digits) > 1 && digits[0] == '0' && (digits[1] < '0' || digits[1] > '9'):
			return nil, false // 0x, 0o, 0b
		case len(v) > 4 && allDigits(v[:4]) && v[4] == '-':
			return nil, false // a timestamp, perhaps
		}
	case c == '.' || c == '<':
		return nil, false
	case c == '~':
		if v == "~" {
			tag = "!!null"
		}
	case c == 't' || c == 'T' || c == 'f' || c == 'F' || c == 'n' || c == 'N':
		switch v {
		case "true", "True", "TRUE", "false", "False", "FALSE":
			tag = "!!bool"
		case "null", "Null", "NULL":
			tag = "!!null"
		}
	}
	n := p.node(yaml.ScalarNode, tag, at)
	n.Value = v
	return n, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// quoted reads a single- or double-quoted scalar that ends on its line.
func (p *plainParser) quoted() (*yaml.Node, bool) {
	at := p.i
	q := p.src[at]
	n := p.node(yaml.ScalarNode, "!!str", at)
	i := at + 1
	if q == '\'' {
		n.Style = yaml.SingleQuotedStyle
		var b []byte
		from := i
		for {
			if i == len(p.src) || p.src[i] == '\n' {
				return nil, false
			}
			if p.src[i] == '\'' {
				if i+1 < len(p.src) && p.src[i+1] == '\'' {
					b = append(b, p.src[from:i+1]...)
					i += 2
					from = i
					continue
				}
				break
			}
			i++
		}
		return p.endQuoted(n, b, from, i)
	}
	n.Style = yaml.DoubleQuotedStyle
	var b []byte
	from := i
	for {
		if i == len(p.src) || p.src[i] == '\n' {
			return nil, false
		}
		c := p.src[i]
		if c == '"' {
			break
		}
		if c != '\\' {
			i++
			continue
		}
		b = append(b, p.src[from:i]...)
		if i+1 == len(p.src) {
			return nil, false
		}
		e := p.src[i+1]
		i += 2
		if c, ok := escapes[e]; ok {
			b = append(b, c)
			from = i
			continue
		}
		switch e {
		case 'x', 'u', 'U':
			w := 2
			if e == 'u' {
				w = 4
			} else if e == 'U' {
				w = 8
			}
			if i+w > len(p.src) {
				return nil, false
			}
			r, err := strconv.ParseUint(p.src[i:i+w], 16, 32)
			if err != nil || r >= 0xD800 && r <= 0xDFFF || r > 0x10FFFF {
				return nil, false
			}
			b = utf8.AppendRune(b, rune(r))
			i += w
		default:
			return nil, false
		}
		from = i
	}
	return p.endQuoted(n, b, from, i)
}

// escapes are yaml.v3's one-character escapes in double quotes (\N, \_,
// \L, \P and line continuations are left to yaml.v3).
var escapes = map[byte]byte{
	'0': 0, 'a': '\a', 'b': '\b', 't': '\t', 'n': '\n', 'v': '\v', 'f': '\f', 'r': '\r', 'e': 0x1b,
	' ': ' ', '"': '"', '\'': '\'', '\\': '\\',
}

// endQuoted sets the value of a quoted scalar that closes at i: the text
// unescaped so far in b, then src[from:i] (no copy when nothing was
// unescaped).
func (p *plainParser) endQuoted(n *yaml.Node, b []byte, from, i int) (*yaml.Node, bool) {
	if b == nil {
		n.Value = p.src[from:i]
	} else {
		n.Value = string(append(b, p.src[from:i]...))
	}
	p.i = i + 1
	return n, true
}

// blockScalar reads a literal (|) or folded (>) block, with an optional
// chomping indicator, whose lines are indented more than indent.
func (p *plainParser) blockScalar(indent int) (*yaml.Node, bool) {
	at := p.i
	literal := p.src[at] == '|'
	p.i++
	chomp := byte(0)
	if p.i < len(p.src) && (p.src[p.i] == '-' || p.src[p.i] == '+') {
		chomp = p.src[p.i]
		p.i++
	}
	if !p.restOfLine() {
		return nil, false // an indentation indicator, or text after the header
	}
	n := p.node(yaml.ScalarNode, "!!str", at)
	n.Style = yaml.FoldedStyle
	if literal {
		n.Style = yaml.LiteralStyle
	}
	p.skipLine()
	// The first line sets the block's indentation; an empty or
	// whitespace-only line before it is left to yaml.v3.
	start := p.i
	p.skipSpaces()
	block := p.i - start
	if block <= indent || p.i == len(p.src) || p.src[p.i] == '\n' {
		return nil, false
	}
	var b strings.Builder
	breaks := 0 // line breaks not yet written
	first := true
	for {
		// p.i is at the text of a content line, after block spaces.
		if !literal && p.src[p.i] == ' ' {
			return nil, false // a more-indented line in a folded block
		}
		end := strings.IndexByte(p.src[p.i:], '\n')
		if end < 0 {
			return nil, false // the last line has no line break
		}
		switch {
		case first:
		case literal:
			b.WriteString(strings.Repeat("\n", breaks))
		case breaks == 1:
			b.WriteByte(' ')
		default:
			b.WriteString(strings.Repeat("\n", breaks-1))
		}
		first = false
		b.WriteString(p.src[p.i : p.i+end])
		p.i += end
		p.skipLine()
		breaks = 1
		// Empty lines, then the next content line or the block's end.
		for {
			start := p.i
			p.skipSpaces()
			spaces := p.i - start
			if p.i < len(p.src) && p.src[p.i] == '\n' {
				if spaces > block {
					return nil, false // spaces that belong to the text
				}
				p.skipLine()
				breaks++
				continue
			}
			if p.i == len(p.src) && spaces > 0 {
				return nil, false // spaces that end the file: yaml.v3 may keep them
			}
			if p.i == len(p.src) || spaces < block {
				p.i = start
				switch chomp {
				case '-':
				case '+':
					b.WriteString(strings.Repeat("\n", breaks))
				default:
					b.WriteByte('\n')
				}
				n.Value = b.String()
				if p.i == len(p.src) && chomp == '+' {
					return nil, false // yaml.v3 counts the breaks at the end of a file its own way
				}
				return n, true
			}
			if spaces > block {
				if !literal {
					return nil, false
				}
				p.i = start + block
			}
			break
		}
	}
}

// flow reads a flow mapping or sequence, which may span lines indented
// more than the block collection at indent.
func (p *plainParser) flow(indent int) (*yaml.Node, bool) {
	if p.depth++; p.depth > maxPlainDepth {
		return nil, false
	}
	defer func() { p.depth-- }()
	at := p.i
	isMap := p.src[at] == '{'
	closer := byte(']')
	n := p.node(yaml.SequenceNode, "!!seq", at)
	if isMap {
		closer = '}'
		n.Kind, n.Tag = yaml.MappingNode, "!!map"
	}
	n.Style = yaml.FlowStyle
	p.i++
	if !p.flowSpace(indent) {
		return nil, false
	}
	if p.src[p.i] == closer {
		p.i++
		return n, true
	}
	base := len(p.kids)
	for {
		if isMap {
			from := p.i
			key, ok := p.flowScalar(indent)
			if !ok || key.Kind != yaml.ScalarNode || p.i-from > maxPlainKey {
				return nil, false
			}
			// `key: value`, the colon on the key's line and a space after it.
			if p.i+1 >= len(p.src) || p.src[p.i] != ':' || p.src[p.i+1] != ' ' {
				return nil, false
			}
			p.i += 2
			if !p.flowSpace(indent) {
				return nil, false
			}
			if c := p.src[p.i]; c == ',' || c == '}' || c == ']' {
				return nil, false // an empty value
			}
			val, ok := p.flowScalar(indent)
			if !ok {
				return nil, false
			}
			p.kids = append(p.kids, key, val)
		} else {
			item, ok := p.flowScalar(indent)
			if !ok {
				return nil, false
			}
			if p.i < len(p.src) && p.src[p.i] == ':' {
				return nil, false // [a: b]
			}
			p.kids = append(p.kids, item)
		}
		if !p.flowSpace(indent) {
			return nil, false
		}
		switch p.src[p.i] {
		case closer:
			p.i++
			n.Content = p.content(base)
			return n, true
		case ',':
			p.i++
			if !p.flowSpace(indent) || p.src[p.i] == ',' || p.src[p.i] == closer {
				return nil, false // a trailing or empty entry
			}
		default:
			return nil, false
		}
	}
}

// flowSpace skips spaces, line breaks and comments inside a flow
// collection; a line inside one must be indented more than the block
// around it. It returns false at the end of the file.
func (p *plainParser) flowSpace(indent int) bool {
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case ' ':
			p.i++
		case '#':
			if p.i == p.lineStart || p.src[p.i-1] != ' ' {
				return false
			}
			p.skipLine()
			if !p.flowIndent(indent) {
				return false
			}
		case '\n':
			p.skipLine()
			if !p.flowIndent(indent) {
				return false
			}
		default:
			return true
		}
	}
	return false
}

func (p *plainParser) flowIndent(indent int) bool {
	j := p.i
	for j < len(p.src) && p.src[j] == ' ' {
		j++
	}
	return j == len(p.src) || p.src[j] == '\n' || p.src[j] == '#' || j-p.lineStart > indent
}

// flowScalar reads one entry of a flow collection: a nested collection, a
// quoted scalar or a plain one that ends on its line.
func (p *plainParser) flowScalar(indent int) (*yaml.Node, bool) {
	at := p.i
	switch p.src[at] {
	case '{', '[':
		return p.flow(indent)
	case '"', '\'':
		return p.quoted()
	}
	if !plainStart(p.src, at) {
		return nil, false
	}
	end := at
	for end < len(p.src) {
		c := p.src[end]
		if c == ',' || c == '[' || c == ']' || c == '{' || c == '}' || c == '?' || c == '\n' ||
			c == ':' && (end+1 == len(p.src) || p.src[end+1] == ' ' || p.src[end+1] == '\n') ||
			c == '#' && p.src[end-1] == ' ' {
			break
		}
		end++
	}
	if end < len(p.src) && (p.src[end] == '[' || p.src[end] == '{' || p.src[end] == '?') {
		return nil, false
	}
	stop := end
	for p.src[end-1] == ' ' {
		end--
	}
	if stop < len(p.src) && (p.src[stop] == '\n' || p.src[stop] == '#') {
		// A plain scalar may go on over the line break: only a flow
		// indicator on the next line shows it did not.
		j := stop
		for j < len(p.src) && (p.src[j] == ' ' || p.src[j] == '\n' || p.src[j] == '#') {
			if p.src[j] == '#' {
				return nil, false
			}
			j++
		}
		if j == len(p.src) || p.src[j] != ',' && p.src[j] != ']' && p.src[j] != '}' {
			return nil, false
		}
	}
	n, ok := p.plainScalar(at, end)
	p.i = end
	return n, ok
}
