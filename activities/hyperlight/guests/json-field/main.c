/* json-field: returns the value at a dotted path inside a JSON document.
 *
 *   in:  {"object": {"user": {"name": "ada", "tags": ["x", "y"]}}, "field": "user.tags.1"}
 *   out: "y"
 *
 *   in:  {"document": "{\"action\": \"restart api\"}", "field": "action"}
 *   out: "restart api"
 *
 * The document is "object" (any JSON value) or "document" (the same, or a
 * JSON string holding a JSON document, as an untrusted payload arrives). A
 * path segment selects an object member by name, or an array element by
 * its decimal index; an empty path selects the whole document. A path that
 * leads nowhere returns null. */
#include "tars_guest.h"
#include "tars_json.h"

static int index_of(const char *s, size_t n, size_t *idx)
{
	if (n == 0 || n > 9)
		return 0;
	size_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	*idx = v;
	return 1;
}

/* step moves cur to its child named by seg[0:n]; 0 if there is none. */
static int step(tars_span *cur, const char *seg, size_t n)
{
	tars_json_iter it;
	tars_span k, v;
	char t = tars_json_type(*cur);
	if (t == '{') {
		char key[256];
		if (n >= sizeof key)
			return 0;
		memcpy(key, seg, n);
		key[n] = 0;
		return tars_json_get(*cur, key, cur) == TARS_JSON_OK;
	}
	size_t want;
	if (t != '[' || !index_of(seg, n, &want) || tars_json_iter_init(&it, *cur) != TARS_JSON_OK)
		return 0;
	for (size_t i = 0; tars_json_iter_next(&it, &k, &v) == TARS_JSON_OK; i++) {
		if (i == want) {
			*cur = v;
			return 1;
		}
	}
	return 0;
}

int tars_main(const uint8_t *in, size_t in_len)
{
	tars_span args, obj, field;
	if (tars_json_parse(in, in_len, &args) != TARS_JSON_OK || tars_json_type(args) != '{')
		tars_abort("json-field: input must be a JSON object {\"object\": ..., \"field\": \"a.b\"}");
	if (tars_json_get(args, "object", &obj) != TARS_JSON_OK &&
	    tars_json_get(args, "document", &obj) != TARS_JSON_OK)
		tars_abort("json-field: missing \"object\" or \"document\"");
	if (tars_json_type(obj) == '"') {
		/* A document passed as a string: decode it, then parse it. */
		size_t cap = (size_t)(obj.end - obj.p);
		char *doc = tars_alloc(cap);
		long n = doc ? tars_json_string(obj, doc, cap) : -1;
		if (n < 0 || tars_json_parse(doc, (size_t)n, &obj) != TARS_JSON_OK)
			tars_abort("json-field: \"document\" is a string but not a JSON document");
	}
	if (tars_json_get(args, "field", &field) != TARS_JSON_OK || tars_json_type(field) != '"')
		tars_abort("json-field: missing string \"field\"");

	char path[1024];
	long n = tars_json_string(field, path, sizeof path);
	if (n < 0)
		tars_abort("json-field: \"field\" is not a valid string of at most 1023 bytes");

	tars_span cur = obj;
	size_t start = 0;
	for (long i = 0; n > 0 && i <= n; i++) {
		if (i == n || path[i] == '.') {
			if (!step(&cur, path + start, (size_t)i - start))
				tars_return_str("null");
			start = (size_t)i + 1;
		}
	}
	tars_return(cur.p, (size_t)(cur.end - cur.p));
}
