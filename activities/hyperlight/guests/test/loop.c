/* loop: never returns, so the host must stop it at the call's deadline. */
#include "tars_guest.h"

int tars_main(const uint8_t *in, size_t in_len)
{
	(void)in;
	(void)in_len;
	tars_log_str("loop: spinning forever");
	for (volatile uint64_t i = 0;; i++)
		;
}
