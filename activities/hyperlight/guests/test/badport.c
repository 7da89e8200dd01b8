/* badport: writes to an I/O port the ABI does not define. */
#include "tars_guest.h"

int tars_main(const uint8_t *in, size_t in_len)
{
	(void)in;
	(void)in_len;
	__asm__ volatile("outb %0, %1" : : "a"((uint8_t)1), "Nd"((uint16_t)0x1234));
	tars_return_str("\"unreachable\"");
}
