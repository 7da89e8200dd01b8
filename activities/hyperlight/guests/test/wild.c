/* wild: touches memory it must not. Input "outside" (default) reads far
 * beyond guest memory, "null" reads address 0, "readonly" writes to its
 * own code, "host" writes to the host's read-only page tables, "overflow"
 * recurses until the stack runs into its guard; "ok" behaves. */
#include "tars_guest.h"
#include "tars_json.h"

static volatile uint64_t limit = ~0ULL; /* the compiler cannot see the recursion is endless */

static __attribute__((noinline)) uint64_t recurse(uint64_t depth)
{
	volatile uint64_t pad[32];
	pad[depth % 32] = depth;
	if (depth >= limit)
		return pad[0];
	return recurse(depth + 1) + pad[depth % 32];
}

int tars_main(const uint8_t *in, size_t in_len)
{
	tars_span v;
	int got = tars_json_parse(in, in_len, &v) == TARS_JSON_OK;
	if (got && tars_json_string_eq(v, "ok"))
		tars_return_str("{\"ok\":true}");
	if (got && tars_json_string_eq(v, "overflow"))
		return (int)recurse(0);
	if (got && tars_json_string_eq(v, "null"))
		return *(volatile int *)0;
	if (got && tars_json_string_eq(v, "readonly")) {
		*(volatile uint8_t *)(uintptr_t)tars_main = 0xCC;
		tars_return_str("\"wrote to code\"");
	}
	if (got && tars_json_string_eq(v, "host")) {
		*(volatile uint64_t *)0x6000 = 0;
		tars_return_str("\"wrote to the page tables\"");
	}
	return *(volatile int *)0x40000000000ULL; /* 4 TiB: no memory there */
}
