/* Start-up code for hyperlight guests, which run in 64-bit user mode. The
 * host enters _start once with RSP at the stack top; it enters
 * __tars_entry (through its own stub, which first resets the x87/SSE
 * state) for every call, again with RSP at the stack top and every general
 * register zero. Neither returns: they end with an OUT the host does not
 * resume from; ud2 catches a resumption. */
	.section .text.start, "ax"
	.globl _start
_start:
	xor %ebp, %ebp
	call __tars_start     /* runs tars_init, reports READY; never returns */
	ud2

	.globl __tars_entry
__tars_entry:
	xor %ebp, %ebp
	call __tars_dispatch  /* runs tars_main, reports RESULT; never returns */
	ud2

	.section .note.GNU-stack, "", @progbits
