/* bigout: claims an output of 16 MiB, more than any host allows. */
#include "tars_guest.h"

int tars_main(const uint8_t *in, size_t in_len)
{
	(void)in_len;
	tars_return(in, 16u << 20);
}
