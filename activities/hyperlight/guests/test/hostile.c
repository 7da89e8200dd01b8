/* hostile: one instruction or access a guest must not get away with, by
 * input: "cpuid" (allowed: returns what the guest sees of leaves 0 and 1),
 * "rdmsr", "int3", "cli", "hlt", "in" (a port read from the PC's keyboard
 * controller), "write-high" (a store far above guest memory) and
 * "write-code" (a store into its own code). Every mode but cpuid must end
 * in a GuestFault and leave the pool serving. */
#include "tars_guest.h"
#include "tars_json.h"

int tars_main(const uint8_t *in, size_t in_len)
{
	tars_span v;
	if (tars_json_parse(in, in_len, &v) != TARS_JSON_OK)
		tars_abort("hostile: input must be a JSON string naming a mode");
	if (tars_json_string_eq(v, "cpuid")) {
		uint32_t a, b, c, d, a1, b1, c1, d1;
		__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
		__asm__ volatile("cpuid" : "=a"(a1), "=b"(b1), "=c"(c1), "=d"(d1) : "a"(1), "c"(0));
		tars_str out;
		tars_str_init(&out, 128);
		tars_str_puts(&out, "{\"max_leaf\":");
		tars_str_put_int(&out, a);
		tars_str_puts(&out, ",\"hypervisor_bit\":");
		tars_str_put_int(&out, (c1 >> 31) & 1);
		tars_str_putc(&out, '}');
		(void)b, (void)c, (void)d, (void)b1, (void)d1;
		tars_return(out.buf, out.len);
	}
	if (tars_json_string_eq(v, "rdmsr")) {
		uint32_t lo, hi;
		__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x10)); /* IA32_TIME_STAMP_COUNTER */
		tars_return_str("\"rdmsr allowed\"");
	}
	if (tars_json_string_eq(v, "int3")) {
		__asm__ volatile("int3");
		tars_return_str("\"int3 returned\"");
	}
	if (tars_json_string_eq(v, "cli")) {
		__asm__ volatile("cli");
		tars_return_str("\"cli allowed\"");
	}
	if (tars_json_string_eq(v, "hlt")) {
		__asm__ volatile("cli; hlt");
		tars_return_str("\"hlt returned\"");
	}
	if (tars_json_string_eq(v, "in")) {
		uint8_t b;
		__asm__ volatile("inb %1, %0" : "=a"(b) : "Nd"((uint16_t)0x60));
		tars_return_str("\"in allowed\"");
	}
	if (tars_json_string_eq(v, "write-high")) {
		*(volatile uint64_t *)(uintptr_t)0x7f0000000000ULL = 1;
		tars_return_str("\"write above memory allowed\"");
	}
	if (tars_json_string_eq(v, "write-code")) {
		*(volatile uint8_t *)(uintptr_t)tars_main = 0xC3;
		tars_return_str("\"write to code allowed\"");
	}
	tars_abort("hostile: unknown mode");
}
