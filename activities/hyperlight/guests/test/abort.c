/* abort: ends every call with GuestAbort and a message. */
#include "tars_guest.h"

int tars_main(const uint8_t *in, size_t in_len)
{
	(void)in;
	(void)in_len;
	tars_log_str("abort: about to give up");
	tars_abort("abort: the input was not acceptable");
}
