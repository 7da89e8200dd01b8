/* Output builders (tars_str_*): shared by the hyperlight runtime
 * (tars_guest.c) and the WASI one (tars_wasi.c), so that a guest built for
 * either writes the same bytes. */
#include "tars_guest.h"

void tars_str_init(tars_str *s, size_t cap)
{
	s->buf = tars_alloc(cap);
	s->len = 0;
	s->cap = s->buf ? cap : 0;
	s->overflow = 0;
}

void tars_str_put(tars_str *s, const char *p, size_t n)
{
	if (n > s->cap - s->len) {
		n = s->cap - s->len;
		s->overflow = 1;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

void tars_str_puts(tars_str *s, const char *p) { tars_str_put(s, p, strlen(p)); }

void tars_str_putc(tars_str *s, char c) { tars_str_put(s, &c, 1); }

void tars_str_put_int(tars_str *s, int64_t v)
{
	char b[24];
	int i = sizeof b;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	do {
		b[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		b[--i] = '-';
	tars_str_put(s, b + i, sizeof b - i);
}

void tars_str_put_json_string(tars_str *s, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	tars_str_putc(s, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '"' || c == '\\') {
			tars_str_putc(s, '\\');
			tars_str_putc(s, (char)c);
		} else if (c < 0x20) {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			tars_str_put(s, e, 6);
		} else {
			tars_str_putc(s, (char)c);
		}
	}
	tars_str_putc(s, '"');
}
