package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// DigestPrefix starts every Plan digest.
const DigestPrefix = "sha256:"

// Digest identifies a compiled Plan: the sha256 of its canonical JSON
// (json.Marshal of the Plan, with the Source paths left out, so that the
// same metascript compiled from two directories has one digest). Two Plans
// with the same digest run the same way.
func Digest(p *Plan) (string, error) {
	b, err := CanonicalJSON(p)
	if err != nil {
		return "", err
	}
	return DigestOf(b), nil
}

// DigestOf is the digest of a Plan's canonical JSON bytes.
func DigestOf(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return DigestPrefix + hex.EncodeToString(sum[:])
}

// CanonicalJSON is the form Digest hashes: the Plan's JSON without its
// Source paths.
func CanonicalJSON(p *Plan) ([]byte, error) {
	c := *p
	c.Source = ""
	if len(p.Children) > 0 {
		c.Children = make(map[string]*Plan, len(p.Children))
		for k, ch := range p.Children {
			cc := *ch
			cc.Source = ""
			c.Children[k] = &cc
		}
	}
	return json.Marshal(&c)
}

// ShortDigest is the first 12 hex digits of a digest, for display.
func ShortDigest(d string) string {
	d = strings.TrimPrefix(d, DigestPrefix)
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

// Catalogue is the set of Plans a worker serves: one current Plan per
// metascript name, each known by its digest. It is filled before the
// worker starts and read-only after, so it is safe for concurrent reads.
type Catalogue struct {
	byName   map[string]*Entry
	byDigest map[string]*Entry
}

// Entry is one Plan of a catalogue.
type Entry struct {
	Name   string
	Digest string
	Plan   *Plan
	// Origin says where the metascript came from ("built-in", a path).
	Origin string
	// Bytes is the size of the Plan's canonical JSON: what an ad-hoc run
	// of it would carry in its input.
	Bytes int
}

// NewCatalogue returns an empty catalogue.
func NewCatalogue() *Catalogue {
	return &Catalogue{byName: map[string]*Entry{}, byDigest: map[string]*Entry{}}
}

// Add puts p in the catalogue as the current Plan of its name, replacing
// one of the same name (a later directory overrides an earlier one and the
// built-ins). It returns the entry.
func (c *Catalogue) Add(p *Plan, origin string) (*Entry, error) {
	b, err := CanonicalJSON(p)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", p.Name, err)
	}
	e := &Entry{Name: p.Name, Digest: DigestOf(b), Plan: p, Origin: origin, Bytes: len(b)}
	if old := c.byName[p.Name]; old != nil {
		delete(c.byDigest, old.Digest)
	}
	c.byName[p.Name] = e
	c.byDigest[e.Digest] = e
	return e, nil
}

// Named returns the current entry of a metascript name, or nil.
func (c *Catalogue) Named(name string) *Entry {
	if c == nil {
		return nil
	}
	return c.byName[name]
}

// WithDigest returns the entry of a digest, or nil.
func (c *Catalogue) WithDigest(digest string) *Entry {
	if c == nil {
		return nil
	}
	return c.byDigest[digest]
}

// Names lists the catalogue's metascript names, sorted.
func (c *Catalogue) Names() []string {
	if c == nil {
		return nil
	}
	out := make([]string, 0, len(c.byName))
	for n := range c.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Entries lists the catalogue's entries, sorted by name.
func (c *Catalogue) Entries() []*Entry {
	var out []*Entry
	for _, n := range c.Names() {
		out = append(out, c.byName[n])
	}
	return out
}

// Digests lists the digests the catalogue holds, sorted.
func (c *Catalogue) Digests() []string {
	var out []string
	for _, e := range c.Entries() {
		out = append(out, e.Digest)
	}
	sort.Strings(out)
	return out
}

// Len is the number of metascripts in the catalogue.
func (c *Catalogue) Len() int {
	if c == nil {
		return 0
	}
	return len(c.byName)
}

// Listing names each Plan as name@short-digest, for messages ("empty"
// when the catalogue holds none).
func (c *Catalogue) Listing() string {
	var out []string
	for _, e := range c.Entries() {
		out = append(out, e.Name+"@"+ShortDigest(e.Digest))
	}
	if len(out) == 0 {
		return "empty"
	}
	return strings.Join(out, ", ")
}
