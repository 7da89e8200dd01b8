/* policy-check: decides a request against an allow/deny rule set.
 *
 *   in:  {"rules": [{"effect": "allow", "action": "read", "resource": "docs-*"},
 *                   {"effect": "deny",  "principal": "mallory"}],
 *         "request": {"principal": "ada", "action": "read", "resource": "docs-a.md"}}
 *   out: {"decision":"allow","rule":0}
 *
 * A rule matches when each of its "principal", "action" and "resource"
 * patterns matches the request's field ('*' any run of bytes, '?' one
 * byte; an absent pattern matches anything). A matching deny wins over
 * any allow; with no matching rule the decision is deny, rule -1. */
#include "tars_guest.h"
#include "tars_json.h"

enum { FIELD_MAX = 512 };

static int glob(const char *pat, size_t pn, const char *s, size_t sn)
{
	size_t p = 0, i = 0, star = (size_t)-1, mark = 0;
	while (i < sn) {
		if (p < pn && (pat[p] == '?' || pat[p] == s[i])) {
			p++, i++;
		} else if (p < pn && pat[p] == '*') {
			star = p++;
			mark = i;
		} else if (star != (size_t)-1) {
			p = star + 1;
			i = ++mark;
		} else {
			return 0;
		}
	}
	while (p < pn && pat[p] == '*')
		p++;
	return p == pn;
}

static long field(tars_span obj, const char *name, char *out, const char *what)
{
	tars_span v;
	int r = tars_json_get(obj, name, &v);
	if (r == TARS_JSON_END)
		return -1;
	if (r != TARS_JSON_OK || tars_json_type(v) != '"')
		tars_abort(what);
	long n = tars_json_string(v, out, FIELD_MAX);
	if (n < 0)
		tars_abort(what);
	return n;
}

static const char *const names[] = {"principal", "action", "resource"};

int tars_main(const uint8_t *in, size_t in_len)
{
	tars_span args, rules, req, rule, key;
	if (tars_json_parse(in, in_len, &args) != TARS_JSON_OK || tars_json_type(args) != '{')
		tars_abort("policy-check: input must be a JSON object {\"rules\": [...], \"request\": {...}}");
	if (tars_json_get(args, "rules", &rules) != TARS_JSON_OK || tars_json_type(rules) != '[')
		tars_abort("policy-check: missing array \"rules\"");
	if (tars_json_get(args, "request", &req) != TARS_JSON_OK || tars_json_type(req) != '{')
		tars_abort("policy-check: missing object \"request\"");

	static char reqv[3][FIELD_MAX];
	long reqn[3];
	for (int f = 0; f < 3; f++) {
		reqn[f] = field(req, names[f], reqv[f], "policy-check: request fields must be strings of at most 511 bytes");
		if (reqn[f] < 0)
			reqn[f] = 0; /* an absent request field is the empty string */
	}

	long allow = -1, deny = -1, idx = 0;
	tars_json_iter it;
	tars_json_iter_init(&it, rules);
	int r;
	while ((r = tars_json_iter_next(&it, &key, &rule)) == TARS_JSON_OK) {
		if (tars_json_type(rule) != '{')
			tars_abort("policy-check: every rule must be an object");
		tars_span eff;
		if (tars_json_get(rule, "effect", &eff) != TARS_JSON_OK)
			tars_abort("policy-check: every rule needs \"effect\": \"allow\" or \"deny\"");
		int is_allow = tars_json_string_eq(eff, "allow");
		if (!is_allow && !tars_json_string_eq(eff, "deny"))
			tars_abort("policy-check: \"effect\" must be \"allow\" or \"deny\"");
		int match = 1;
		for (int f = 0; f < 3 && match; f++) {
			char pat[FIELD_MAX];
			long pn = field(rule, names[f], pat, "policy-check: rule patterns must be strings of at most 511 bytes");
			if (pn >= 0)
				match = glob(pat, (size_t)pn, reqv[f], (size_t)reqn[f]);
		}
		if (match) {
			if (is_allow && allow < 0)
				allow = idx;
			if (!is_allow && deny < 0)
				deny = idx;
		}
		idx++;
	}
	if (r != TARS_JSON_END)
		tars_abort("policy-check: \"rules\" is not a valid JSON array");

	tars_str out;
	tars_str_init(&out, 128);
	if (deny >= 0) {
		tars_str_puts(&out, "{\"decision\":\"deny\",\"rule\":");
		tars_str_put_int(&out, deny);
	} else if (allow >= 0) {
		tars_str_puts(&out, "{\"decision\":\"allow\",\"rule\":");
		tars_str_put_int(&out, allow);
	} else {
		tars_str_puts(&out, "{\"decision\":\"deny\",\"rule\":-1,\"reason\":\"no rule matched\"");
	}
	tars_str_putc(&out, '}');
	tars_return(out.buf, out.len);
}
