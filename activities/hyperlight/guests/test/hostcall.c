/* hostcall: passes its input to the host function it names and returns
 * the result as a JSON string.
 *
 *   in:  {"func": "upper", "text": "abc"}   out: "ABC" */
#include "tars_guest.h"
#include "tars_json.h"

int tars_main(const uint8_t *in, size_t in_len)
{
	tars_span args, f, t;
	char name[64], text[1024];
	if (tars_json_parse(in, in_len, &args) != TARS_JSON_OK ||
	    tars_json_get(args, "func", &f) != TARS_JSON_OK || tars_json_string(f, name, sizeof name) < 0 ||
	    tars_json_get(args, "text", &t) != TARS_JSON_OK)
		tars_abort("hostcall: want {\"func\": NAME, \"text\": STRING}");
	long tn = tars_json_string(t, text, sizeof text);
	if (tn < 0)
		tars_abort("hostcall: \"text\" must be a string of at most 1023 bytes");

	size_t n = 0;
	char small[4];
	/* Ask with a buffer that is too small first, to exercise the retry. */
	int64_t st = tars_host_call(name, text, (size_t)tn, small, sizeof small, &n);
	char *buf = small;
	if (st == TARS_HOST_TOO_SMALL) {
		buf = tars_alloc(n);
		st = tars_host_call(name, text, (size_t)tn, buf, n, &n);
	}
	if (st != TARS_HOST_OK)
		tars_abort("hostcall: host function failed");
	tars_str out;
	tars_str_init(&out, 2 * n + 8);
	tars_str_put_json_string(&out, buf, n);
	tars_return(out.buf, out.len);
}
