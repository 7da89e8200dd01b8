package expr

import (
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
)

// The quick checker decides the small expressions metascripts are mostly
// made of (references, literals, arithmetic, comparisons, && and ||, calls
// of closures) without CEL's parser, which costs tens of microseconds an
// expression: a 1,000-step metascript holds thousands of them. It only
// ever accepts: anything it cannot type exactly as CEL's checker would, and
// every expression with a fault, falls back to CEL, so that messages and
// their positions stay CEL's. TestQuickAgreesWithCEL holds the two
// together.

// quickMaxLen bounds what the quick checker reads; longer sources go to
// CEL, which also enforces its own size and depth limits on them.
const (
	quickMaxLen   = 1024
	quickMaxDepth = 32
)

type quickTok uint8

const (
	qEOF quickTok = iota
	qIdent
	qInt
	qString
	qOp
)

type signature struct {
	params []*cel.Type
	ret    *cel.Type
}

type quickParser struct {
	c     *Checker
	src   string
	pos   int // next byte to lex
	tok   quickTok
	text  string // the token's text (for qOp the operator)
	at    int    // the token's offset
	depth int
	uses  [quickMaxUses]Use // the first nuses hold the references read
	nuses int
}

// quickMaxUses bounds the references the quick checker records; an
// expression with more goes to CEL.
const quickMaxUses = 16

// quick returns nil when it does not decide src.
func (c *Checker) quick(src string) *Checked {
	if len(src) > quickMaxLen || !isASCII(src) {
		return nil
	}
	p := &quickParser{c: c, src: src}
	if !p.next() {
		return nil
	}
	t := p.or()
	if t == nil || p.tok != qEOF {
		return nil
	}
	return p.result(t)
}

// result makes the Checked, its Uses in the same allocation when few.
func (p *quickParser) result(t *cel.Type) *Checked {
	switch p.nuses {
	case 0:
		return &Checked{Type: t}
	case 1:
		r := &struct {
			Checked
			u [1]Use
		}{}
		r.u[0] = p.uses[0]
		r.Type, r.Uses = t, r.u[:]
		return &r.Checked
	case 2:
		r := &struct {
			Checked
			u [2]Use
		}{}
		copy(r.u[:], p.uses[:2])
		r.Type, r.Uses = t, r.u[:]
		return &r.Checked
	}
	return &Checked{Type: t, Uses: append([]Use(nil), p.uses[:p.nuses]...)}
}

// next lexes one token; false means a token the quick checker does not
// handle (comments, floats, escapes, raw or byte strings, ...).
func (p *quickParser) next() bool {
	s := p.src
	for p.pos < len(s) && (s[p.pos] == ' ' || s[p.pos] == '\t' || s[p.pos] == '\n' || s[p.pos] == '\r') {
		p.pos++
	}
	p.at = p.pos
	if p.pos == len(s) {
		p.tok, p.text = qEOF, ""
		return true
	}
	ch := s[p.pos]
	switch {
	case ch == '_' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z':
		end := p.pos + 1
		for end < len(s) && (s[end] == '_' || s[end] >= 'a' && s[end] <= 'z' || s[end] >= 'A' && s[end] <= 'Z' || s[end] >= '0' && s[end] <= '9') {
			end++
		}
		if end < len(s) && (s[end] == '"' || s[end] == '\'') {
			return false // r"..." and b"..." literals
		}
		p.tok, p.text, p.pos = qIdent, s[p.pos:end], end
		return true
	case ch >= '0' && ch <= '9':
		end := p.pos + 1
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		if end < len(s) && (s[end] == '.' || s[end] == '_' || s[end] >= 'a' && s[end] <= 'z' || s[end] >= 'A' && s[end] <= 'Z') {
			return false // floats, exponents, 0x, 1u
		}
		if _, err := strconv.ParseInt(s[p.pos:end], 10, 64); err != nil {
			return false // out of range: CEL reports it
		}
		p.tok, p.text, p.pos = qInt, s[p.pos:end], end
		return true
	case ch == '"' || ch == '\'':
		if strings.HasPrefix(s[p.pos:], strings.Repeat(string(ch), 3)) {
			return false // triple-quoted
		}
		end := p.pos + 1
		for end < len(s) && s[end] != ch {
			if s[end] == '\\' || s[end] == '\n' || s[end] == '\r' {
				return false
			}
			end++
		}
		if end == len(s) {
			return false
		}
		p.tok, p.text, p.pos = qString, s[p.pos:end+1], end+1
		return true
	}
	if op := quickOp(s[p.pos:]); op != "" {
		p.tok, p.text, p.pos = qOp, op, p.pos+len(op)
		return true
	}
	return false
}

// quickOp returns the operator of quickOps that s starts with, "" if none.
func quickOp(s string) string {
	if len(s) >= 2 {
		switch s[:2] {
		case "==", "!=", "<=", ">=", "&&", "||":
			return s[:2]
		}
	}
	switch s[0] {
	case '<', '>', '+', '-', '*', '/', '%', '!', '(', ')', ',', '.':
		return s[:1]
	}
	return ""
}

// reserved is reservedWords[s], without hashing s.
func reserved(s string) bool {
	switch s {
	case "as", "break", "const", "continue", "else", "false",
		"for", "function", "if", "import", "in", "let",
		"loop", "package", "namespace", "null", "return",
		"true", "var", "void", "while":
		return true
	}
	return false
}

// quickOps are the operators handled, two-byte ones first.
var quickOps = []string{"==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-", "*", "/", "%", "!", "(", ")", ",", "."}

func (p *quickParser) is(op string) bool { return p.tok == qOp && p.text == op }

func (p *quickParser) or() *cel.Type {
	if p.depth++; p.depth > quickMaxDepth {
		return nil
	}
	defer func() { p.depth-- }()
	t := p.and()
	for t != nil && p.is("||") {
		if !p.next() {
			return nil
		}
		t = logical(t, p.and())
	}
	return t
}

func (p *quickParser) and() *cel.Type {
	t := p.relation()
	for t != nil && p.is("&&") {
		if !p.next() {
			return nil
		}
		t = logical(t, p.relation())
	}
	return t
}

func (p *quickParser) relation() *cel.Type {
	t := p.sum()
	for t != nil && p.tok == qOp {
		op := p.text
		switch op {
		case "==", "!=", "<", "<=", ">", ">=":
		default:
			return t
		}
		if !p.next() {
			return nil
		}
		t = compare(op, t, p.sum())
	}
	return t
}

func (p *quickParser) sum() *cel.Type {
	t := p.product()
	for t != nil && (p.is("+") || p.is("-")) {
		op := p.text
		if !p.next() {
			return nil
		}
		t = arith(op, t, p.product())
	}
	return t
}

func (p *quickParser) product() *cel.Type {
	t := p.unary()
	for t != nil && (p.is("*") || p.is("/") || p.is("%")) {
		op := p.text
		if !p.next() {
			return nil
		}
		t = arith(op, t, p.unary())
	}
	return t
}

func (p *quickParser) unary() *cel.Type {
	// Chains of ! and - nest too: CEL's parser limits their depth as well.
	if p.depth++; p.depth > quickMaxDepth {
		return nil
	}
	defer func() { p.depth-- }()
	switch {
	case p.is("!"):
		if !p.next() {
			return nil
		}
		if t := p.unary(); t != nil && (t.Kind() == types.BoolKind || t.Kind() == types.DynKind) {
			return cel.BoolType
		}
		return nil
	case p.is("-"):
		if !p.next() {
			return nil
		}
		if t := p.unary(); t != nil && (t.Kind() == types.IntKind || t.Kind() == types.DoubleKind) {
			return t
		}
		return nil
	}
	return p.primary()
}

func (p *quickParser) primary() *cel.Type {
	switch p.tok {
	case qInt:
		if !p.next() {
			return nil
		}
		return cel.IntType
	case qString:
		if !p.next() {
			return nil
		}
		return cel.StringType
	case qIdent:
		return p.name()
	}
	if !p.is("(") || !p.next() {
		return nil
	}
	t := p.or()
	if t == nil || !p.is(")") || !p.next() {
		return nil
	}
	return t
}

// name reads a literal, a reference (a.b.c) or a call of a closure.
func (p *quickParser) name() *cel.Type {
	at := p.at
	var segBuf [8]string
	segs := append(segBuf[:0], p.text)
	if !p.next() {
		return nil
	}
	switch segs[0] {
	case "true", "false":
		return cel.BoolType
	}
	if reserved(segs[0]) {
		return nil
	}
	if p.is("(") {
		return p.call(segs[0])
	}
	for p.is(".") {
		if !p.next() || p.tok != qIdent || reserved(p.text) {
			return nil
		}
		segs = append(segs, p.text)
		if !p.next() {
			return nil
		}
	}
	if p.is("(") {
		return nil // a method call
	}
	t := p.c.pathType(segs)
	if t == nil {
		return nil
	}
	u := Use{Root: segs[0], Offset: at}
	if len(segs) > 1 {
		u.Field = segs[1]
	}
	if p.nuses == quickMaxUses {
		return nil
	}
	p.uses[p.nuses] = u
	p.nuses++
	return t
}

// call reads the arguments of a closure call; the token is its "(".
func (p *quickParser) call(name string) *cel.Type {
	sig, ok := p.c.closures[name]
	if !ok || !p.next() {
		return nil // builtins and macros are CEL's
	}
	var args []*cel.Type
	for !p.is(")") {
		// No trailing comma: CEL's call grammar has none.
		if len(args) > 0 && (!p.is(",") || !p.next()) {
			return nil
		}
		t := p.or()
		if t == nil {
			return nil
		}
		args = append(args, t)
	}
	if !p.next() || len(args) != len(sig.params) {
		return nil
	}
	for i, a := range args {
		want := sig.params[i]
		if a.Kind() != types.DynKind && want.Kind() != types.DynKind && !a.IsExactType(want) {
			return nil
		}
	}
	return sig.ret
}

// pathType types a reference: the longest declared prefix gives the
// type; selecting into a map yields dyn; selecting into anything else is
// for CEL to judge (nil).
func (c *Checker) pathType(segs []string) *cel.Type {
	t, ok := c.vars[segs[0]]
	if !ok {
		return nil // undeclared: let CEL report it
	}
	n := 1
	if len(segs) > 1 {
		// The qualified names, longest first, are prefixes of one
		// joined name: look them up without building a string each.
		var buf [256]byte
		name := append(buf[:0], segs[0]...)
		var ends [8]int
		endAt := ends[:0]
		for i, s := range segs {
			if i > 0 {
				name = append(append(name, '.'), s...)
			}
			endAt = append(endAt, len(name))
		}
		for i := len(segs); i > 1; i-- {
			if dt, ok := c.vars[string(name[:endAt[i-1]])]; ok {
				t, n = dt, i
				break
			}
		}
	}
	if n < len(segs) {
		switch t.Kind() {
		case types.MapKind:
			t = t.Parameters()[1]
		case types.DynKind:
		default:
			return nil
		}
		for i := n + 1; i < len(segs); i++ {
			if t.Kind() != types.DynKind {
				return nil
			}
		}
	}
	return t
}

func scalar(t *cel.Type) bool {
	switch t.Kind() {
	case types.IntKind, types.DoubleKind, types.StringKind, types.BoolKind:
		return true
	}
	return false
}

func numeric(t *cel.Type) bool { return t.Kind() == types.IntKind || t.Kind() == types.DoubleKind }

func logical(a, b *cel.Type) *cel.Type {
	ok := func(t *cel.Type) bool { return t.Kind() == types.BoolKind || t.Kind() == types.DynKind }
	if a == nil || b == nil || !ok(a) || !ok(b) {
		return nil
	}
	return cel.BoolType
}

// compare types == != < <= > >=. Equality needs the same type (or dyn on
// a side); order also compares int with float, as CrossTypeNumericComparisons
// allows.
func compare(op string, a, b *cel.Type) *cel.Type {
	if a == nil || b == nil {
		return nil
	}
	dynA, dynB := a.Kind() == types.DynKind, b.Kind() == types.DynKind
	if !(scalar(a) || dynA) || !(scalar(b) || dynB) {
		return nil
	}
	switch op {
	case "==", "!=":
		if dynA || dynB || a.Kind() == b.Kind() {
			return cel.BoolType
		}
	default:
		ordered := func(t *cel.Type) bool { return numeric(t) || t.Kind() == types.StringKind }
		switch {
		case dynA && dynB, dynA && ordered(b), dynB && ordered(a):
			return cel.BoolType
		case numeric(a) && numeric(b), a.Kind() == types.StringKind && b.Kind() == types.StringKind:
			return cel.BoolType
		}
	}
	return nil
}

// arith types + - * / %, on operands of one concrete type: dyn and mixed
// operands are CEL's.
func arith(op string, a, b *cel.Type) *cel.Type {
	if a == nil || b == nil || a.Kind() != b.Kind() {
		return nil
	}
	switch a.Kind() {
	case types.IntKind:
		return cel.IntType
	case types.DoubleKind:
		if op != "%" {
			return cel.DoubleType
		}
	case types.StringKind:
		if op == "+" {
			return cel.StringType
		}
	}
	return nil
}
