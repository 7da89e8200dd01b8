/* hello: the complete example of docs/hyperlight.md.
 *
 *   in:  {"name": "ada"}
 *   out: {"greeting":"hello, ada"} */
#include "tars_guest.h"
#include "tars_json.h"

static char greeting[16];

void tars_init(void) {                 /* once; every call sees its result */
    memcpy(greeting, "hello, ", 8);
}

int tars_main(const uint8_t *in, size_t in_len) {
    tars_span args, name;
    char who[64];
    if (tars_json_parse(in, in_len, &args) != TARS_JSON_OK ||
        tars_json_get(args, "name", &name) != TARS_JSON_OK ||
        tars_json_string(name, who, sizeof who) < 0)
        tars_abort("hello: want {\"name\": \"...\"}");

    tars_log_str("hello: greeting someone");
    tars_str out;
    tars_str_init(&out, 128);              /* from the heap */
    tars_str_puts(&out, "{\"greeting\":");
    char text[80];
    size_t n = strlen(greeting), m = strlen(who);
    memcpy(text, greeting, n);
    memcpy(text + n, who, m);
    tars_str_put_json_string(&out, text, n + m);
    tars_str_putc(&out, '}');
    tars_return(out.buf, out.len);         /* {"greeting":"hello, ada"} */
}
