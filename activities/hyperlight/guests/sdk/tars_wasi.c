/* The WASI runtime of the guest SDK: the same API as tars_guest.c, for a
 * guest built as a WebAssembly command (wasm32-wasi) that the wasm pool
 * runs. The input is stdin, the output stdout; tars_abort writes its
 * message to stderr and exits 1 (WasmExit); tars_log writes stderr (the
 * call's log). No host functions are offered.
 *
 * A guest's main.c built with this file instead of start.S and
 * tars_guest.c returns the same bytes as in a micro-VM: that is how one
 * tool is offered on both pools with one contract. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tars_guest.h"

__attribute__((weak)) void tars_init(void) {}

void tars_return(const void *data, size_t len)
{
	if (len > 0 && fwrite(data, 1, len, stdout) != len)
		exit(2);
	fflush(stdout);
	exit(0);
}

void tars_return_str(const char *s) { tars_return(s, strlen(s)); }

void tars_abort(const char *msg)
{
	fprintf(stderr, "%s\n", msg);
	exit(1);
}

void tars_log(const char *msg, size_t len)
{
	fwrite(msg, 1, len, stderr);
	fputc('\n', stderr);
}

void tars_log_str(const char *s) { tars_log(s, strlen(s)); }

int64_t tars_host_call(const char *name, const void *in, size_t in_len,
                       void *out, size_t out_cap, size_t *out_len)
{
	(void)in, (void)in_len, (void)out, (void)out_cap, (void)out_len;
	fprintf(stderr, "host function %s: the wasm pool offers no hyperlight host functions\n", name);
	exit(1);
}

void *tars_alloc(size_t n) { return malloc(n ? n : 1); }

int main(void)
{
	size_t cap = 4096, len = 0;
	uint8_t *in = malloc(cap);
	for (;;) {
		if (!in)
			tars_abort("tars_wasi: out of memory reading the input");
		size_t got = fread(in + len, 1, cap - len, stdin);
		len += got;
		if (got == 0)
			break;
		if (len == cap)
			in = realloc(in, cap *= 2);
	}
	tars_init();
	if (tars_main(in, len) != 0)
		tars_abort("tars_main returned non-zero without tars_return");
	tars_return(0, 0);
}
