#include "tars_json.h"
#include "tars_guest.h"

static const char *ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *skip_string(const char *p, const char *end)
{
	if (p >= end || *p != '"')
		return 0;
	for (p++; p < end; p++) {
		if (*p == '\\') {
			p++;
		} else if (*p == '"') {
			return p + 1;
		} else if ((unsigned char)*p < 0x20) {
			return 0;
		}
	}
	return 0;
}

/* skip_value returns the end of the value starting at p, or 0. */
static const char *skip_value(const char *p, const char *end)
{
	if (p >= end)
		return 0;
	switch (*p) {
	case '"':
		return skip_string(p, end);
	case '{':
	case '[': {
		int depth = 0;
		while (p < end) {
			char c = *p;
			if (c == '"') {
				p = skip_string(p, end);
				if (!p)
					return 0;
				continue;
			}
			if (c == '{' || c == '[')
				depth++;
			else if (c == '}' || c == ']') {
				if (--depth == 0)
					return p + 1;
			}
			p++;
		}
		return 0;
	}
	default: {
		const char *s = p;
		while (p < end && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		                   *p == '-' || *p == '+' || *p == '.' || *p == 'E'))
			p++;
		return p > s ? p : 0;
	}
	}
}

int tars_json_parse(const void *buf, size_t len, tars_span *val)
{
	const char *p = buf, *end = p + len;
	p = ws(p, end);
	const char *e = skip_value(p, end);
	if (!e || ws(e, end) != end)
		return TARS_JSON_ERR;
	val->p = p;
	val->end = e;
	return TARS_JSON_OK;
}

char tars_json_type(tars_span v)
{
	if (v.p >= v.end)
		return 0;
	char c = *v.p;
	if (c == '-' || (c >= '0' && c <= '9'))
		return '0';
	return c;
}

int tars_json_iter_init(tars_json_iter *it, tars_span v)
{
	char t = tars_json_type(v);
	if (t != '{' && t != '[')
		return TARS_JSON_ERR;
	it->p = v.p + 1;
	it->end = v.end;
	it->close = t == '{' ? '}' : ']';
	it->started = 0;
	return TARS_JSON_OK;
}

int tars_json_iter_next(tars_json_iter *it, tars_span *key, tars_span *val)
{
	const char *p = ws(it->p, it->end);
	if (p >= it->end)
		return TARS_JSON_ERR;
	if (*p == it->close)
		return TARS_JSON_END;
	if (it->started) {
		if (*p != ',')
			return TARS_JSON_ERR;
		p = ws(p + 1, it->end);
	}
	it->started = 1;
	if (key) {
		key->p = key->end = p;
	}
	if (it->close == '}') {
		const char *k = skip_string(p, it->end);
		if (!k)
			return TARS_JSON_ERR;
		if (key) {
			key->p = p;
			key->end = k;
		}
		p = ws(k, it->end);
		if (p >= it->end || *p != ':')
			return TARS_JSON_ERR;
		p = ws(p + 1, it->end);
	}
	const char *e = skip_value(p, it->end);
	if (!e)
		return TARS_JSON_ERR;
	val->p = p;
	val->end = e;
	it->p = e;
	return TARS_JSON_OK;
}

int tars_json_get(tars_span obj, const char *key, tars_span *val)
{
	tars_json_iter it;
	if (tars_json_type(obj) != '{' || tars_json_iter_init(&it, obj) != TARS_JSON_OK)
		return TARS_JSON_ERR;
	tars_span k, v;
	int r;
	while ((r = tars_json_iter_next(&it, &k, &v)) == TARS_JSON_OK) {
		if (tars_json_string_eq(k, key)) {
			*val = v;
			return TARS_JSON_OK;
		}
	}
	return r;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int put(char *out, size_t cap, size_t *n, char c)
{
	if (*n >= cap)
		return -1;
	out[(*n)++] = c;
	return 0;
}

long tars_json_string(tars_span v, char *out, size_t cap)
{
	if (tars_json_type(v) != '"' || v.end - v.p < 2 || v.end[-1] != '"')
		return -1;
	size_t n = 0;
	for (const char *p = v.p + 1; p < v.end - 1; p++) {
		if (*p != '\\') {
			if (put(out, cap, &n, *p))
				return -1;
			continue;
		}
		if (++p >= v.end - 1)
			return -1;
		char c = *p;
		switch (c) {
		case 'n': c = '\n'; break;
		case 't': c = '\t'; break;
		case 'r': c = '\r'; break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case '"': case '\\': case '/': break;
		case 'u': {
			if (v.end - 1 - p < 5)
				return -1;
			uint32_t u = 0;
			for (int i = 1; i <= 4; i++) {
				int h = hexval(p[i]);
				if (h < 0)
					return -1;
				u = u << 4 | (uint32_t)h;
			}
			p += 4;
			/* A surrogate pair encodes one code point beyond U+FFFF. */
			if (u >= 0xD800 && u < 0xDC00 && v.end - 1 - p >= 7 && p[1] == '\\' && p[2] == 'u') {
				uint32_t lo = 0;
				int ok = 1;
				for (int i = 3; i <= 6; i++) {
					int h = hexval(p[i]);
					if (h < 0)
						ok = 0;
					lo = lo << 4 | (uint32_t)(h < 0 ? 0 : h);
				}
				if (ok && lo >= 0xDC00 && lo < 0xE000) {
					u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
					p += 6;
				}
			}
			if (u < 0x80) {
				if (put(out, cap, &n, (char)u))
					return -1;
			} else if (u < 0x800) {
				if (put(out, cap, &n, (char)(0xC0 | u >> 6)) || put(out, cap, &n, (char)(0x80 | (u & 0x3F))))
					return -1;
			} else if (u < 0x10000) {
				if (put(out, cap, &n, (char)(0xE0 | u >> 12)) || put(out, cap, &n, (char)(0x80 | ((u >> 6) & 0x3F))) ||
				    put(out, cap, &n, (char)(0x80 | (u & 0x3F))))
					return -1;
			} else {
				if (put(out, cap, &n, (char)(0xF0 | u >> 18)) || put(out, cap, &n, (char)(0x80 | ((u >> 12) & 0x3F))) ||
				    put(out, cap, &n, (char)(0x80 | ((u >> 6) & 0x3F))) || put(out, cap, &n, (char)(0x80 | (u & 0x3F))))
					return -1;
			}
			continue;
		}
		default:
			return -1;
		}
		if (put(out, cap, &n, c))
			return -1;
	}
	if (n < cap)
		out[n] = 0;
	return (long)n;
}

int tars_json_string_eq(tars_span v, const char *lit)
{
	char buf[256];
	size_t want = strlen(lit);
	if (want >= sizeof buf)
		return 0;
	long n = tars_json_string(v, buf, sizeof buf);
	return n >= 0 && (size_t)n == want && memcmp(buf, lit, want) == 0;
}
