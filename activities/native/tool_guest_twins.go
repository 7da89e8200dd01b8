package native

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tars-engine/tars/activities"
)

// The Go twins of the hyperlight example guests sha256, json-field and
// policy-check (activities/hyperlight/guests/*/main.c, which the wasm pool
// also serves, built from the same source). Each returns the same output
// bytes as the guest for the same valid JSON input, so a step may write
// runtime: [hyperlight, wasm, native] and get one result whichever pool
// serves it. The contract tests in activities/contract_test.go compare them.

// runSHA256 hashes "data" (or the input itself): a JSON string's decoded
// bytes, any other JSON value's text, and input that is not an object with
// "data" as the raw bytes received.
func runSHA256(_ context.Context, call activities.Call) (activities.Result, error) {
	in := []byte(call.Args)
	data := in
	if json.Valid(in) {
		v := bytes.TrimSpace(in)
		if len(v) > 0 && v[0] == '{' {
			if d, ok := member(v, "data"); ok {
				v, data = d, d
			}
		}
		if len(v) > 0 && v[0] == '"' {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return activities.Result{}, badArgs("sha256", "input is not a valid JSON string")
			}
			data = []byte(s)
		}
	}
	sum := sha256.Sum256(data)
	return activities.Result{Output: json.RawMessage(`"` + hex.EncodeToString(sum[:]) + `"`)}, nil
}

// runJSONField returns the value at a dotted path of "object" (or
// "document", which may be a JSON string holding a document), as its JSON
// text exactly as it appears in the input; null when the path leads
// nowhere.
func runJSONField(_ context.Context, call activities.Call) (activities.Result, error) {
	const tool = "json-field"
	args := bytes.TrimSpace(call.Args)
	if !json.Valid(args) || len(args) == 0 || args[0] != '{' {
		return activities.Result{}, badArgs(tool, `input must be a JSON object {"object": ..., "field": "a.b"}`)
	}
	obj, ok := member(args, "object")
	if !ok {
		if obj, ok = member(args, "document"); !ok {
			return activities.Result{}, badArgs(tool, `missing "object" or "document"`)
		}
	}
	if obj[0] == '"' {
		var doc string
		if json.Unmarshal(obj, &doc) != nil || !json.Valid([]byte(doc)) || strings.TrimSpace(doc) == "" {
			return activities.Result{}, badArgs(tool, `"document" is a string but not a JSON document`)
		}
		obj = bytes.TrimSpace([]byte(doc))
	}
	f, ok := member(args, "field")
	var path string
	if !ok || f[0] != '"' || json.Unmarshal(f, &path) != nil {
		return activities.Result{}, badArgs(tool, `missing string "field"`)
	}
	if len(path) > 1023 {
		return activities.Result{}, badArgs(tool, `"field" is not a valid string of at most 1023 bytes`)
	}
	cur := obj
	if path != "" {
		for _, seg := range strings.Split(path, ".") {
			if cur, ok = child(cur, seg); !ok {
				return activities.Result{Output: json.RawMessage("null")}, nil
			}
		}
	}
	return activities.Result{Output: json.RawMessage(bytes.Clone(cur))}, nil
}

// child is the member seg of an object, or the element at decimal index
// seg (1 to 9 digits) of an array.
func child(v []byte, seg string) ([]byte, bool) {
	switch v[0] {
	case '{':
		if len(seg) >= 256 {
			return nil, false
		}
		return member(v, seg)
	case '[':
		if len(seg) == 0 || len(seg) > 9 || strings.Trim(seg, "0123456789") != "" {
			return nil, false
		}
		want, _ := strconv.Atoi(seg)
		dec := json.NewDecoder(bytes.NewReader(v))
		if _, err := dec.Token(); err != nil {
			return nil, false
		}
		for i := 0; dec.More(); i++ {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, false
			}
			if i == want {
				return raw, true
			}
		}
	}
	return nil, false
}

// member returns the text of the first member named key of the JSON object
// obj, as the guests' tars_json_get does (encoding/json would take the
// last of duplicate keys).
func member(obj []byte, key string) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, false
		}
		if k, _ := t.(string); k == key {
			return bytes.TrimSpace(raw), true
		}
	}
	return nil, false
}

// policyRule is one allow/deny rule; a nil pattern matches anything.
type policyRule struct {
	allow bool
	pat   [3]*string // principal, action, resource
}

var policyFields = [3]string{"principal", "action", "resource"}

func denyAction(allow bool, action string) policyRule {
	return policyRule{allow: allow, pat: [3]*string{nil, &action, nil}}
}

// namedPolicies are the guest's built-in rule sets, in its order.
var namedPolicies = []struct {
	name  string
	rules []policyRule
}{
	{"deny-network", []policyRule{
		denyAction(false, "*http://*"), denyAction(false, "*https://*"), denyAction(false, "*curl *"), denyAction(false, "*wget *"),
		denyAction(false, "*ssh *"), denyAction(false, "*scp *"), denyAction(false, "*nc *"), denyAction(false, "*socket*"),
		denyAction(false, "*connect*"), denyAction(false, "*download*"), denyAction(false, "*upload*"), denyAction(false, "*fetch*"),
		denyAction(false, "net.*"), denyAction(false, "dns*"), denyAction(true, "*"),
	}},
	{"remediation", []policyRule{
		denyAction(false, "*delete*"), denyAction(false, "*drop *"), denyAction(false, "*rm -rf*"), denyAction(false, "*truncate*"),
		denyAction(false, "*format *"), denyAction(false, "*shutdown*"), denyAction(false, "*destroy*"), denyAction(false, "*wipe*"),
		denyAction(true, "*restart*"), denyAction(true, "*rollback*"), denyAction(true, "*roll back*"), denyAction(true, "*scale*"),
		denyAction(true, "*drain*"), denyAction(true, "*reload*"), denyAction(true, "*failover*"), denyAction(true, "*flush*"),
		denyAction(true, "*rotate*"),
	}},
}

// runPolicyCheck decides a request against allow/deny rules: a matching
// deny wins over any allow, and no match is a deny.
func runPolicyCheck(_ context.Context, call activities.Call) (activities.Result, error) {
	const tool = "policy-check"
	args := bytes.TrimSpace(call.Args)
	if !json.Valid(args) || len(args) == 0 || args[0] != '{' {
		return activities.Result{}, badArgs(tool, `input must be a JSON object with "rules" or "policy", and a request`)
	}
	var rules []policyRule
	policy := ""
	if v, ok := member(args, "policy"); ok {
		var name string
		if v[0] == '"' {
			_ = json.Unmarshal(v, &name)
		}
		for _, p := range namedPolicies {
			if p.name == name {
				rules, policy = append(rules, p.rules...), p.name
			}
		}
		if policy == "" {
			return activities.Result{}, badArgs(tool, `unknown "policy" (known: deny-network, remediation)`)
		}
	}
	v, hasRules := member(args, "rules")
	if hasRules {
		if v[0] != '[' {
			return activities.Result{}, badArgs(tool, `"rules" must be an array`)
		}
		var list []json.RawMessage
		if err := json.Unmarshal(v, &list); err != nil {
			return activities.Result{}, badArgs(tool, `"rules" is not a valid JSON array`)
		}
		for _, r := range list {
			r = bytes.TrimSpace(r)
			if r[0] != '{' {
				return activities.Result{}, badArgs(tool, "every rule must be an object")
			}
			eff, ok := member(r, "effect")
			if !ok {
				return activities.Result{}, badArgs(tool, `every rule needs "effect": "allow" or "deny"`)
			}
			var effect string
			if eff[0] == '"' {
				_ = json.Unmarshal(eff, &effect)
			}
			if effect != "allow" && effect != "deny" {
				return activities.Result{}, badArgs(tool, `"effect" must be "allow" or "deny"`)
			}
			rule := policyRule{allow: effect == "allow"}
			for f, name := range policyFields {
				if p, ok := member(r, name); ok {
					var s string
					if p[0] != '"' || json.Unmarshal(p, &s) != nil {
						return activities.Result{}, badArgs(tool, "rule patterns must be strings")
					}
					rule.pat[f] = &s
				}
			}
			rules = append(rules, rule)
		}
	}
	if policy == "" && !hasRules {
		return activities.Result{}, badArgs(tool, `give "rules" or a "policy" name`)
	}
	req := args
	if r, ok := member(args, "request"); ok {
		if r[0] != '{' {
			return activities.Result{}, badArgs(tool, `"request" must be an object`)
		}
		req = r
	}
	var fields [3]string
	for f, name := range policyFields {
		if v, ok := member(req, name); ok {
			fields[f] = string(v)
			if v[0] == '"' {
				var s string
				if json.Unmarshal(v, &s) != nil {
					return activities.Result{}, badArgs(tool, "a request field is not a valid JSON string")
				}
				fields[f] = s
			}
		}
	}
	allow, deny := -1, -1
	fold := policy != ""
	for i, r := range rules {
		if !r.matches(fields, fold) {
			continue
		}
		if r.allow && allow < 0 {
			allow = i
		}
		if !r.allow && deny < 0 {
			deny = i
		}
	}
	out := activities.PolicyDecision{Decision: "allow", Rule: allow, Policy: policy}
	if deny >= 0 || allow < 0 {
		out.Decision, out.Rule = "deny", deny
		if deny < 0 {
			out.Reason = "no rule matched"
		}
	}
	return output(tool, out)
}

func (r policyRule) matches(fields [3]string, fold bool) bool {
	for f, p := range r.pat {
		if p != nil && !glob(*p, fields[f], fold) {
			return false
		}
	}
	return true
}

// glob matches s against pat byte by byte: '*' any run of bytes, '?' one
// byte; with fold, ASCII letters match either case. It is the guest's
// algorithm, so that the twins agree on every input.
func glob(pat, s string, fold bool) bool {
	lower := func(c byte) byte {
		if fold && c >= 'A' && c <= 'Z' {
			return c + 32
		}
		return c
	}
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		var pc byte
		if p < len(pat) {
			pc = lower(pat[p])
		}
		sc := lower(s[i])
		switch {
		case p < len(pat) && (pc == '?' || pc == sc):
			p, i = p+1, i+1
		case p < len(pat) && pc == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pat) && pat[p] == '*' {
		p++
	}
	return p == len(pat)
}
