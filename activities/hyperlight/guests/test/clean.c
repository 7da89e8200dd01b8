/* clean: tries to carry state from one call to the next through places a
 * snapshot restore must reset: an SSE register, the x87 control word, a
 * segment register, a heap cell, the input area beyond the input, and the
 * stack below its own frame. Each call reports what it found, then plants
 * markers. Every report must show the snapshot's values. Inputs "msr",
 * "dr" and "cr3" instead try privileged writes, which must fault. */
#include "tars_guest.h"
#include "tars_json.h"

static uint64_t *heap_cell;

void tars_init(void) { heap_cell = tars_alloc(8); }

/* A stack cell 64 KiB below the top: below every frame this guest uses. */
static volatile uint64_t *stack_cell(void)
{
	return (volatile uint64_t *)(uintptr_t)(TARS_BOOT->stack_top - 65536);
}

int tars_main(const uint8_t *in, size_t in_len)
{
	tars_span v;
	int parsed = tars_json_parse(in, in_len, &v) == TARS_JSON_OK;
	if (parsed && tars_json_string_eq(v, "msr")) {
		uint32_t lo = 0x1234, hi = 0; /* IA32_KERNEL_GS_BASE */
		__asm__ volatile("wrmsr" : : "c"(0xC0000102), "a"(lo), "d"(hi));
		tars_return_str("\"wrmsr allowed\"");
	}
	if (parsed && tars_json_string_eq(v, "dr")) {
		__asm__ volatile("mov %0, %%dr0" : : "r"((uint64_t)0xBEEF));
		tars_return_str("\"mov to dr0 allowed\"");
	}
	if (parsed && tars_json_string_eq(v, "cr3")) {
		__asm__ volatile("mov %0, %%cr3" : : "r"((uint64_t)0x6000));
		tars_return_str("\"mov to cr3 allowed\"");
	}
	uint64_t xmm, io;
	uint16_t fcw, fs;
	__asm__ volatile("movq %%xmm7, %0" : "=r"(xmm));
	__asm__ volatile("fnstcw %0" : "=m"(fcw));
	__asm__ volatile("mov %%fs, %0" : "=r"(fs));
	volatile uint64_t *io_cell = (volatile uint64_t *)(TARS_INPUT_ADDR + 0x80000);
	io = *io_cell;
	uint64_t heap = *heap_cell;
	uint64_t stack = *stack_cell();

	tars_str out;
	tars_str_init(&out, 256);
	tars_str_puts(&out, "{\"xmm7\":");
	tars_str_put_int(&out, (int64_t)xmm);
	tars_str_puts(&out, ",\"fs\":");
	tars_str_put_int(&out, fs);
	tars_str_puts(&out, ",\"fcw\":");
	tars_str_put_int(&out, fcw);
	tars_str_puts(&out, ",\"io\":");
	tars_str_put_int(&out, (int64_t)io);
	tars_str_puts(&out, ",\"heap\":");
	tars_str_put_int(&out, (int64_t)heap);
	tars_str_puts(&out, ",\"stack\":");
	tars_str_put_int(&out, (int64_t)stack);
	tars_str_putc(&out, '}');

	uint64_t mark = 0xBEEF;
	__asm__ volatile("movq %0, %%xmm7" : : "r"(mark));
	uint16_t other = fs ? 0 : 0x1B; /* null, or the user data selector */
	__asm__ volatile("mov %0, %%fs" : : "r"(other));
	uint16_t newfcw = 0x027F;
	__asm__ volatile("fldcw %0" : : "m"(newfcw));
	*io_cell = mark;
	*heap_cell = mark;
	*stack_cell() = mark;
	tars_return(out.buf, out.len);
}
