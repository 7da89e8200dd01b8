/* triple: tries to load an empty IDT and raise an exception, which in ring
 * 0 would be a triple fault. Guests run in user mode, so LIDT itself is a
 * #GP, which the host reports; a guest cannot triple-fault its VM. */
#include "tars_guest.h"

int tars_main(const uint8_t *in, size_t in_len)
{
	(void)in;
	(void)in_len;
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} idt = {0, 0};
	__asm__ volatile("lidt %0; int3" : : "m"(idt));
	tars_return_str("\"unreachable\"");
}
