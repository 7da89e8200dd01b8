package metascripts

import (
	"fmt"
	"unicode/utf8"

	"github.com/tars-engine/tars/internal/diag"
)

// Limits enforced while the source is read, before yaml.v3 builds its node
// tree. yaml.v3 builds the whole tree before the compiler sees any of it,
// and a node costs a few hundred bytes, so an 8 MiB file of tiny nodes
// (`[1,1,1,...]`) would cost over a gigabyte before any limit could refuse
// it. scanBounds reads the bytes once, in constant memory, counting nodes,
// list items, steps and needs as they appear, and stops at the first count
// past its cap with the position where it was passed: what a refused file
// costs is bounded by the cap, not by the file.
const (
	// MaxNodes bounds the YAML nodes (keys, values, list items and
	// collections) of a metascript, about 100 MB of parsed tree.
	MaxNodes = 1 << 19
	// MaxListItems bounds the items of any one list (steps and needs have
	// their own caps).
	MaxListItems = 10000
	// MaxNeeds bounds the steps one step may need.
	MaxNeeds = 100
	// MaxNesting bounds how deep lists and mappings nest, which keeps the
	// scanner's own memory constant.
	MaxNesting = 256
)

// role marks the collections whose size has a cap of its own.
type role uint8

const (
	roleNone  role = iota
	roleRoot       // the top-level mapping
	roleSteps      // its steps list
	roleStep       // one step
	roleNeeds      // a step's needs list
)

// boundsFrame is an open collection. Block collections close by
// indentation; flow ones by their bracket.
type boundsFrame struct {
	flow   bool
	seq    bool // a list, else a mapping
	indent int  // block: the column of its "-" or keys
	role   role
	items  int
	key    []byte // a mapping's last key (a slice of the source: no copies)
	open   bool   // the value of key (a mapping) or of the last item (a list) is yet to come
}

type boundsScanner struct {
	path      string
	src       []byte
	i         int
	line      int // 1-based line of src[i]
	lineStart int // offset of that line
	nodes     int
	stack     []boundsFrame
	fault     *diag.Diagnostic
}

// scanBounds checks the limits above; it returns the first one passed, or
// nil. It does not judge whether src is valid YAML (yaml.v3 does that
// next): on YAML it does not follow its counts stay within a small factor
// of the real ones, so the bounds hold for any input.
func scanBounds(path string, src []byte) *diag.Diagnostic {
	s := &boundsScanner{path: path, src: src, line: 1}
	for s.i < len(s.src) && s.fault == nil {
		s.blockLine()
	}
	return s.fault
}

func (s *boundsScanner) failAt(off int, format string, args ...any) {
	if s.fault == nil {
		// Columns count characters, as yaml.v3's do.
		col := utf8.RuneCount(s.src[s.lineStart:min(off, len(s.src))]) + 1
		s.fault = &diag.Diagnostic{File: s.path, Line: s.line, Col: col, Msg: fmt.Sprintf(format, args...)}
	}
}

func (s *boundsScanner) node(off int) {
	if s.nodes++; s.nodes > MaxNodes {
		s.failAt(off, "a metascript may hold at most %d YAML nodes (keys, values and list items); this one has more by here", MaxNodes)
	}
}

// item counts an item of list f, which starts at off.
func (s *boundsScanner) item(f *boundsFrame, off int) {
	f.items++
	switch {
	case f.role == roleSteps && f.items > MaxSteps:
		s.failAt(off, "a metascript may have at most %d steps; split it with call", MaxSteps)
	case f.role == roleNeeds && f.items > MaxNeeds:
		s.failAt(off, "a step may need at most %d steps", MaxNeeds)
	case f.role != roleSteps && f.role != roleNeeds && f.items > MaxListItems:
		s.failAt(off, "a list may hold at most %d items; pass larger data as an input", MaxListItems)
	}
}

// push opens a collection that starts at off.
func (s *boundsScanner) push(f boundsFrame, off int) {
	if len(s.stack) >= MaxNesting {
		s.failAt(off, "lists and mappings may nest at most %d deep", MaxNesting)
		return
	}
	s.stack = append(s.stack, f)
}

func (s *boundsScanner) top() *boundsFrame {
	if len(s.stack) == 0 {
		return nil
	}
	return &s.stack[len(s.stack)-1]
}

// childRole is the role of a collection that starts as the pending value
// of the innermost open collection.
func (s *boundsScanner) childRole() role {
	t := s.top()
	switch {
	case t == nil:
		return roleRoot
	case !t.open:
		return roleNone
	case t.seq:
		t.open = false
		if t.role == roleSteps {
			return roleStep
		}
	default:
		t.open = false
		return keyRole(t.role, t.key)
	}
	return roleNone
}

func keyRole(parent role, key []byte) role {
	switch {
	case parent == roleRoot && string(key) == "steps":
		return roleSteps
	case parent == roleStep && string(key) == "needs":
		return roleNeeds
	}
	return roleNone
}

func (s *boundsScanner) newline() {
	s.line++
	s.lineStart = s.i
}

// skipLine moves past the end of the current line.
func (s *boundsScanner) skipLine() {
	if s.fault != nil {
		return // stop where the limit was passed, not at the end of a long line
	}
	for s.i < len(s.src) && s.src[s.i] != '\n' {
		s.i++
	}
	if s.i < len(s.src) {
		s.i++
		s.newline()
	}
}

func (s *boundsScanner) skipSpaces() {
	for s.i < len(s.src) && (s.src[s.i] == ' ' || s.src[s.i] == '\t' || s.src[s.i] == '\r') {
		s.i++
	}
}

// atEnd reports whether the rest of the line is empty or a comment.
func (s *boundsScanner) atEnd() bool {
	return s.i >= len(s.src) || s.src[s.i] == '\n' || s.src[s.i] == '#' || s.src[s.i] == '\r'
}

// blockLine reads one line in block context, from its start.
func (s *boundsScanner) blockLine() {
	for s.i < len(s.src) && s.src[s.i] == ' ' {
		s.i++
	}
	col := s.i - s.lineStart
	if s.atEnd() || col == 0 && s.startsDocumentLine() {
		s.skipLine()
		return
	}
	dash := s.src[s.i] == '-' && (s.i+1 == len(s.src) || s.src[s.i+1] == ' ' || s.src[s.i+1] == '\n' || s.src[s.i+1] == '\r')
	for t := s.top(); t != nil && !t.flow && (t.indent > col || t.indent == col && t.seq && !dash); t = s.top() {
		s.stack = s.stack[:len(s.stack)-1]
	}
	for s.fault == nil {
		col = s.i - s.lineStart
		switch c := s.src[s.i]; {
		case c == '-' && (s.i+1 == len(s.src) || s.src[s.i+1] == ' ' || s.src[s.i+1] == '\n' || s.src[s.i+1] == '\r'):
			t := s.top()
			if t == nil || t.flow || !t.seq || t.indent != col {
				r := s.childRole()
				s.node(s.i)
				s.push(boundsFrame{seq: true, indent: col, role: r}, s.i)
				if s.fault != nil {
					return
				}
				t = s.top()
			}
			s.i++
			s.skipSpaces()
			s.item(t, s.i)
			t.open = true
			if s.atEnd() {
				s.skipLine()
				return
			}
		case s.keyAhead():
			t := s.top()
			if t == nil || t.flow || t.seq || t.indent != col {
				r := s.childRole()
				s.node(s.i)
				s.push(boundsFrame{indent: col, role: r}, s.i)
				if s.fault != nil {
					return
				}
				t = s.top()
			}
			s.node(s.i)
			t.key = s.readKey()
			t.open = true
			s.skipSpaces()
			if s.atEnd() {
				s.skipLine()
				return
			}
			if s.value() {
				s.skipLine()
			}
			return
		default:
			if s.value() {
				s.skipLine()
			}
			return
		}
	}
}

// startsDocumentLine reports a line of "---", "..." or a directive, which
// hold no nodes of the metascript (more than one document is refused
// later).
func (s *boundsScanner) startsDocumentLine() bool {
	rest := s.src[s.i:]
	has := func(p string) bool {
		return len(rest) >= len(p) && string(rest[:len(p)]) == p && (len(rest) == len(p) || rest[len(p)] == ' ' || rest[len(p)] == '\n' || rest[len(p)] == '\r')
	}
	return has("---") || has("...") || rest[0] == '%'
}

// keyAhead reports whether the line holds an implicit key here: a plain or
// quoted scalar followed by ": " (or ":" at the end of the line).
func (s *boundsScanner) keyAhead() bool {
	j := s.i
	switch s.src[j] {
	case '"', '\'':
		q := s.src[j]
		for j++; j < len(s.src) && s.src[j] != q && s.src[j] != '\n'; j++ {
			if q == '"' && s.src[j] == '\\' {
				j++
			}
		}
		if j >= len(s.src) || s.src[j] != q {
			return false
		}
		j++
		for j < len(s.src) && s.src[j] == ' ' {
			j++
		}
		return j < len(s.src) && s.src[j] == ':' && (j+1 == len(s.src) || isBlankOrEOL(s.src[j+1]))
	case '[', '{', '|', '>', '&', '*', '!', '#', '?', '@', '`', '%':
		return false
	}
	for ; j < len(s.src) && s.src[j] != '\n'; j++ {
		switch s.src[j] {
		case ':':
			if j+1 == len(s.src) || isBlankOrEOL(s.src[j+1]) {
				return true
			}
		case '#':
			if s.src[j-1] == ' ' || s.src[j-1] == '\t' {
				return false
			}
		}
	}
	return false
}

func isBlankOrEOL(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// readKey reads the key keyAhead found and moves past its colon.
func (s *boundsScanner) readKey() []byte {
	start := s.i
	if q := s.src[s.i]; q == '"' || q == '\'' {
		s.i++
		for s.i < len(s.src) && s.src[s.i] != q {
			if q == '"' && s.src[s.i] == '\\' {
				s.i++
			}
			s.i++
		}
		key := s.src[start+1 : min(s.i, len(s.src))]
		for s.i < len(s.src) && s.src[s.i] != ':' {
			s.i++
		}
		s.i++
		return key
	}
	for !(s.src[s.i] == ':' && (s.i+1 == len(s.src) || isBlankOrEOL(s.src[s.i+1]))) {
		s.i++
	}
	end := s.i
	for end > start && (s.src[end-1] == ' ' || s.src[end-1] == '\t') {
		end--
	}
	s.i++
	return s.src[start:end]
}

// value reads a value in block context. It returns false when it has
// already moved to the start of a later line (a flow collection, a quoted
// scalar or a block scalar may span lines), true when the caller should
// skip the rest of the current line.
func (s *boundsScanner) value() bool {
	for s.i < len(s.src) && (s.src[s.i] == '&' || s.src[s.i] == '!') {
		// An anchor or a tag: properties of the node that follows.
		for s.i < len(s.src) && !isBlankOrEOL(s.src[s.i]) {
			s.i++
		}
		s.skipSpaces()
		if s.atEnd() {
			return true // the node is on the next lines; its parent stays open
		}
	}
	t := s.top()
	switch c := s.src[s.i]; c {
	case '[', '{':
		s.flow(s.childRole())
		return true
	case '|', '>':
		s.node(s.i)
		s.childRole()
		parent := -1
		if t != nil {
			parent = t.indent
		}
		s.skipLine()
		s.skipMoreIndented(parent)
		return false
	case '"', '\'':
		s.node(s.i)
		s.childRole()
		s.quoted(c)
		return true
	}
	s.node(s.i)
	s.childRole()
	return true
}

// skipMoreIndented skips the lines of a block scalar: blank lines and
// lines indented deeper than parent.
func (s *boundsScanner) skipMoreIndented(parent int) {
	for s.i < len(s.src) {
		j := s.i
		for j < len(s.src) && s.src[j] == ' ' {
			j++
		}
		if j < len(s.src) && s.src[j] != '\n' && s.src[j] != '\r' && j-s.i <= parent {
			return
		}
		s.skipLine()
	}
}

// quoted moves past a quoted scalar that starts at s.i, which may span
// lines.
func (s *boundsScanner) quoted(q byte) {
	for s.i++; s.i < len(s.src); s.i++ {
		switch c := s.src[s.i]; {
		case c == '\n':
			s.i++
			s.newline()
			s.i--
		case c == '\\' && q == '"':
			s.i++
			if s.i < len(s.src) && s.src[s.i] == '\n' {
				s.i++
				s.newline()
				s.i--
			}
		case c == q:
			if q == '\'' && s.i+1 < len(s.src) && s.src[s.i+1] == '\'' {
				s.i++
				continue
			}
			s.i++
			return
		}
	}
}

// flow reads a flow collection, which starts at s.i, to its closing
// bracket (or the end of the source).
func (s *boundsScanner) flow(r role) {
	base := len(s.stack)
	defer func() { s.stack = s.stack[:base] }()
	s.node(s.i)
	s.push(boundsFrame{flow: true, seq: s.src[s.i] == '[', role: r, open: true}, s.i)
	s.i++
	for s.i < len(s.src) && len(s.stack) > base && s.fault == nil {
		t := s.top()
		switch c := s.src[s.i]; c {
		case '\n':
			s.i++
			s.newline()
		case ' ', '\t', '\r':
			s.i++
		case '#':
			s.skipLine()
		case '[', '{':
			r := s.flowEntry(t)
			s.node(s.i)
			s.push(boundsFrame{flow: true, seq: c == '[', role: r, open: true}, s.i)
			s.i++
		case ']', '}':
			s.stack = s.stack[:len(s.stack)-1]
			s.i++
		case ',':
			t.open = true
			if !t.seq {
				t.key = nil
			}
			s.i++
		case ':':
			if !t.seq {
				t.open = true
			}
			s.i++
		case '?':
			s.i++
		case '"', '\'':
			s.flowEntry(t)
			start := s.i
			s.node(s.i)
			s.quoted(c)
			s.flowKey(t, s.src[start+1:max(start+1, s.i-1)])
		default:
			s.flowEntry(t)
			start := s.i
			s.node(s.i)
			for s.i < len(s.src) && !s.endsFlowPlain() {
				s.i++
			}
			end := s.i
			for end > start && (s.src[end-1] == ' ' || s.src[end-1] == '\t') {
				end--
			}
			s.flowKey(t, s.src[start:end])
		}
	}
}

// flowEntry notes that a node starts in flow collection t: an item of a
// list, or a key or value of a mapping. It returns the role of a
// collection starting there.
func (s *boundsScanner) flowEntry(t *boundsFrame) role {
	if t.seq {
		if !t.open {
			return roleNone
		}
		t.open = false
		s.item(t, s.i)
		if t.role == roleSteps {
			return roleStep
		}
		return roleNone
	}
	if t.key != nil && t.open {
		return keyRole(t.role, t.key)
	}
	return roleNone
}

// flowKey records a scalar read in flow mapping t as its key, when it is
// in key position (no ":" read since the last ",").
func (s *boundsScanner) flowKey(t *boundsFrame, text []byte) {
	if t.seq {
		return
	}
	if t.key == nil {
		t.key = text
		t.open = false
	} else {
		t.key = valueRead // a "," resets
	}
}

// valueRead stands for the key of a flow mapping entry whose value has
// been read: no key has a role there.
var valueRead = []byte{0}

// endsFlowPlain reports whether a plain scalar in flow context ends at
// s.i.
func (s *boundsScanner) endsFlowPlain() bool {
	switch c := s.src[s.i]; c {
	case ',', '[', ']', '{', '}', '\n':
		return true
	case ':':
		return s.i+1 == len(s.src) || isBlankOrEOL(s.src[s.i+1]) || s.src[s.i+1] == ',' || s.src[s.i+1] == ']' || s.src[s.i+1] == '}'
	case '#':
		return s.src[s.i-1] == ' ' || s.src[s.i-1] == '\t'
	}
	return false
}
