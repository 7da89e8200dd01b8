/* policy-check: decides a request against an allow/deny rule set.
 *
 *   in:  {"rules": [{"effect": "allow", "action": "read", "resource": "docs-*"},
 *                   {"effect": "deny",  "principal": "mallory"}],
 *         "request": {"principal": "ada", "action": "read", "resource": "docs-a.md"}}
 *   out: {"decision":"allow","rule":0}
 *
 *   in:  {"policy": "deny-network", "action": "curl https://example.com"}
 *   out: {"decision":"deny","rule":0,"policy":"deny-network"}
 *
 * A rule matches when each of its "principal", "action" and "resource"
 * patterns matches the request's field ('*' any run of bytes, '?' one
 * byte; an absent pattern matches anything). A matching deny wins over any
 * allow; with no matching rule the decision is deny, rule -1.
 *
 * "policy" names a built-in rule set (see named[] below), matched without
 * regard to ASCII case; its rules come first, then any "rules". The request
 * is "request", or else the top-level "principal", "action" and "resource".
 * A request field that is not a string is matched as its JSON text. */
#include "tars_guest.h"
#include "tars_json.h"

typedef struct {
	int allow;
	const char *pat[3]; /* principal, action, resource; NULL matches anything */
	size_t len[3];
} rule;

#define R(effect, action) {effect, {0, action, 0}, {0, sizeof(action) - 1, 0}}

static const rule deny_network[] = {
	R(0, "*http://*"), R(0, "*https://*"), R(0, "*curl *"), R(0, "*wget *"),
	R(0, "*ssh *"), R(0, "*scp *"), R(0, "*nc *"), R(0, "*socket*"),
	R(0, "*connect*"), R(0, "*download*"), R(0, "*upload*"), R(0, "*fetch*"),
	R(0, "net.*"), R(0, "dns*"), R(1, "*"),
};

static const rule remediation[] = {
	R(0, "*delete*"), R(0, "*drop *"), R(0, "*rm -rf*"), R(0, "*truncate*"),
	R(0, "*format *"), R(0, "*shutdown*"), R(0, "*destroy*"), R(0, "*wipe*"),
	R(1, "*restart*"), R(1, "*rollback*"), R(1, "*roll back*"), R(1, "*scale*"),
	R(1, "*drain*"), R(1, "*reload*"), R(1, "*failover*"), R(1, "*flush*"),
	R(1, "*rotate*"),
};

static const struct {
	const char *name;
	const rule *rules;
	size_t n;
} named[] = {
	{"deny-network", deny_network, sizeof deny_network / sizeof deny_network[0]},
	{"remediation", remediation, sizeof remediation / sizeof remediation[0]},
};

static const char *const fields[3] = {"principal", "action", "resource"};

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

static int glob(const char *pat, size_t pn, const char *s, size_t sn, int fold)
{
	size_t p = 0, i = 0, star = (size_t)-1, mark = 0;
	while (i < sn) {
		char pc = p < pn ? pat[p] : 0, sc = s[i];
		if (fold) {
			pc = lower(pc);
			sc = lower(sc);
		}
		if (p < pn && (pc == '?' || pc == sc)) {
			p++, i++;
		} else if (p < pn && pc == '*') {
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

static int matches(const rule *r, char *const req[3], const size_t reqn[3], int fold)
{
	for (int f = 0; f < 3; f++)
		if (r->pat[f] && !glob(r->pat[f], r->len[f], req[f], reqn[f], fold))
			return 0;
	return 1;
}

/* text decodes v when it is a string, or returns its JSON text. */
static char *text(tars_span v, size_t *n)
{
	size_t cap = (size_t)(v.end - v.p) + 1;
	if (tars_json_type(v) != '"') {
		*n = cap - 1;
		return (char *)v.p;
	}
	char *buf = tars_alloc(cap);
	long got = buf ? tars_json_string(v, buf, cap) : -1;
	if (got < 0)
		tars_abort("policy-check: a request field is not a valid JSON string");
	*n = (size_t)got;
	return buf;
}

int tars_main(const uint8_t *in, size_t in_len)
{
	tars_span args, v, key, req;
	if (tars_json_parse(in, in_len, &args) != TARS_JSON_OK || tars_json_type(args) != '{')
		tars_abort("policy-check: input must be a JSON object with \"rules\" or \"policy\", and a request");

	/* The built-in set first, if named. */
	const rule *base = 0;
	size_t nbase = 0;
	const char *policy = 0;
	if (tars_json_get(args, "policy", &v) == TARS_JSON_OK) {
		for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
			if (tars_json_string_eq(v, named[i].name)) {
				base = named[i].rules, nbase = named[i].n, policy = named[i].name;
			}
		}
		if (!policy)
			tars_abort("policy-check: unknown \"policy\" (known: deny-network, remediation)");
	}

	/* Then the rules given. */
	rule *extra = 0;
	size_t nextra = 0;
	if (tars_json_get(args, "rules", &v) == TARS_JSON_OK) {
		tars_json_iter it;
		if (tars_json_iter_init(&it, v) != TARS_JSON_OK || tars_json_type(v) != '[')
			tars_abort("policy-check: \"rules\" must be an array");
		size_t cap = 16;
		extra = tars_alloc(cap * sizeof *extra);
		tars_span r;
		int got;
		while ((got = tars_json_iter_next(&it, &key, &r)) == TARS_JSON_OK) {
			if (tars_json_type(r) != '{')
				tars_abort("policy-check: every rule must be an object");
			if (nextra == cap) {
				rule *more = tars_alloc(2 * cap * sizeof *extra);
				if (!more)
					tars_abort("policy-check: too many rules for guest memory");
				memcpy(more, extra, cap * sizeof *extra);
				extra = more, cap *= 2;
			}
			rule *dst = &extra[nextra++];
			tars_span eff;
			if (tars_json_get(r, "effect", &eff) != TARS_JSON_OK)
				tars_abort("policy-check: every rule needs \"effect\": \"allow\" or \"deny\"");
			dst->allow = tars_json_string_eq(eff, "allow");
			if (!dst->allow && !tars_json_string_eq(eff, "deny"))
				tars_abort("policy-check: \"effect\" must be \"allow\" or \"deny\"");
			for (int f = 0; f < 3; f++) {
				tars_span p;
				dst->pat[f] = 0;
				if (tars_json_get(r, fields[f], &p) == TARS_JSON_OK) {
					if (tars_json_type(p) != '"')
						tars_abort("policy-check: rule patterns must be strings");
					dst->pat[f] = text(p, &dst->len[f]);
				}
			}
		}
		if (got != TARS_JSON_END)
			tars_abort("policy-check: \"rules\" is not a valid JSON array");
	}
	if (!policy && nextra == 0 && tars_json_get(args, "rules", &v) != TARS_JSON_OK)
		tars_abort("policy-check: give \"rules\" or a \"policy\" name");

	/* The request: "request", or the top-level fields. */
	if (tars_json_get(args, "request", &req) == TARS_JSON_OK) {
		if (tars_json_type(req) != '{')
			tars_abort("policy-check: \"request\" must be an object");
	} else {
		req = args;
	}
	char *reqv[3];
	size_t reqn[3];
	for (int f = 0; f < 3; f++) {
		reqv[f] = "", reqn[f] = 0;
		if (tars_json_get(req, fields[f], &v) == TARS_JSON_OK)
			reqv[f] = text(v, &reqn[f]);
	}

	long allow = -1, deny = -1;
	int fold = policy != 0;
	for (size_t i = 0; i < nbase + nextra; i++) {
		const rule *r = i < nbase ? &base[i] : &extra[i - nbase];
		if (!matches(r, reqv, reqn, fold))
			continue;
		if (r->allow && allow < 0)
			allow = (long)i;
		if (!r->allow && deny < 0)
			deny = (long)i;
	}

	tars_str out;
	tars_str_init(&out, 160);
	if (deny >= 0 || allow < 0) {
		tars_str_puts(&out, "{\"decision\":\"deny\",\"rule\":");
		tars_str_put_int(&out, deny);
		if (deny < 0)
			tars_str_puts(&out, ",\"reason\":\"no rule matched\"");
	} else {
		tars_str_puts(&out, "{\"decision\":\"allow\",\"rule\":");
		tars_str_put_int(&out, allow);
	}
	if (policy) {
		tars_str_puts(&out, ",\"policy\":");
		tars_str_put_json_string(&out, policy, strlen(policy));
	}
	tars_str_putc(&out, '}');
	tars_return(out.buf, out.len);
}
