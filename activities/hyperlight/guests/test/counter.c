/* counter: counts its calls in a global. Because every call starts from
 * the snapshot taken after tars_init, it must answer {"calls":1,"init":7}
 * every time. It also scribbles on the heap, the stack and the input area
 * so a test can see those are restored as well. */
#include "tars_guest.h"

static int calls;
static int init_value;
static uint8_t *heap_cell;

void tars_init(void)
{
	init_value = 7;
	heap_cell = tars_alloc(64);
}

int tars_main(const uint8_t *in, size_t in_len)
{
	(void)in;
	(void)in_len;
	calls++;
	int dirty = heap_cell[0] != 0;
	heap_cell[0] = 0xAA;
	void *more = tars_alloc(1 << 20);
	if (more)
		memset(more, 0x55, 1 << 20);
	tars_str out;
	tars_str_init(&out, 64);
	tars_str_puts(&out, "{\"calls\":");
	tars_str_put_int(&out, calls);
	tars_str_puts(&out, ",\"init\":");
	tars_str_put_int(&out, init_value);
	tars_str_puts(&out, ",\"heap_dirty\":");
	tars_str_puts(&out, dirty ? "true" : "false");
	tars_str_putc(&out, '}');
	tars_return(out.buf, out.len);
}
