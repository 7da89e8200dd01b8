/*
 * tars_guest.h — the guest side of the TARS hyperlight ABI.
 *
 * A hyperlight guest is a freestanding x86-64 ELF that runs in user mode
 * in a KVM micro-VM with no kernel: TARS's own Go implementation of the
 * Hyperlight model on KVM, not Microsoft's library. Privileged
 * instructions (HLT, LIDT, MOV to CR/DR, RDMSR/WRMSR, INT n) fault. The host loads the ELF, runs
 * _start once (tars_init, if defined), snapshots memory, and then runs
 * tars_main once per call, each time from that same snapshot: globals,
 * heap and stack are exactly as they were after tars_init, every call.
 *
 * Write:
 *
 *     #include "tars_guest.h"
 *
 *     int tars_main(const uint8_t *in, size_t in_len) {
 *         tars_log_str("hello from the guest");
 *         tars_return(in, in_len);      // echo the input (JSON)
 *     }
 *
 * and build with the flags in ../Makefile. The input is the step's `with`
 * arguments as JSON. The output should be JSON; anything else reaches the
 * workflow as a JSON string.
 *
 * The port numbers, addresses and structures below are the ABI and must
 * match activities/hyperlight/abi.go.
 */
#ifndef TARS_GUEST_H
#define TARS_GUEST_H

#include <stddef.h>
#include <stdint.h>

/* ---- ABI: ports. Every OUT is 32 bits; EAX carries a guest physical
 * address (identity-mapped, below 4 GiB) unless noted. ---- */
#define TARS_PORT_READY    0x5A00 /* EAX = call entry; init is done       */
#define TARS_PORT_RESULT   0x5A01 /* EAX = &struct tars_buf; call is done */
#define TARS_PORT_LOG      0x5A02 /* EAX = &struct tars_buf               */
#define TARS_PORT_ABORT    0x5A03 /* EAX = &struct tars_buf (message)     */
#define TARS_PORT_HOSTCALL 0x5A04 /* EAX = &struct tars_hostcall          */
#define TARS_PORT_FAULT    0x5AFF /* host exception stubs only            */

/* ---- ABI: fixed addresses. ---- */
#define TARS_BOOT_ADDR  0x5000UL   /* struct tars_boot, read-only        */
#define TARS_CALL_ADDR  0x100000UL /* struct tars_call, per call         */
#define TARS_INPUT_ADDR 0x101000UL /* input bytes, per call              */

struct tars_buf {
	uint64_t ptr;
	uint64_t len;
};

struct tars_boot {
	uint64_t magic;      /* TARS_BOOT_MAGIC */
	uint64_t version;    /* TARS_ABI_VERSION */
	uint64_t entry;      /* call entry the guest reported at READY */
	uint64_t mem_size;   /* bytes of guest memory */
	uint64_t heap_start; /* first free byte after the image */
	uint64_t heap_end;   /* end of the heap (a guard gap follows) */
	uint64_t input_addr; /* TARS_INPUT_ADDR */
	uint64_t input_cap;  /* most input bytes a call can carry */
	uint64_t stack_top;  /* initial RSP of init and of every call */
};
#define TARS_BOOT_MAGIC  0x544F4F4253524154ULL /* "TARSBOOT" */
#define TARS_ABI_VERSION 1

struct tars_call {
	uint64_t input_len;
	uint64_t reserved; /* zero */
};

struct tars_hostcall {
	uint64_t name_ptr, name_len;
	uint64_t in_ptr, in_len;
	uint64_t out_ptr, out_cap;
	uint64_t out_len; /* written by the host: bytes of result (or needed) */
	int64_t status;   /* written by the host: TARS_HOST_OK or an error */
};
#define TARS_HOST_OK        0
#define TARS_HOST_TOO_SMALL (-1) /* out_cap < out_len; call again */

#define TARS_BOOT ((const volatile struct tars_boot *)TARS_BOOT_ADDR)

/* ---- What a guest writes. ---- */

/* Called once per call. Return by calling tars_return; returning 0 without
 * it yields a null output, a non-zero value aborts the call. */
int tars_main(const uint8_t *in, size_t in_len);

/* Optional: runs once, before the snapshot. Its effects (tables built,
 * globals set) are what every call starts from. */
void tars_init(void);

/* ---- What a guest calls. ---- */

/* Ends the call successfully with len bytes at data as the output. */
__attribute__((noreturn)) void tars_return(const void *data, size_t len);
__attribute__((noreturn)) void tars_return_str(const char *s);

/* Ends the call with GuestAbort and this message. */
__attribute__((noreturn)) void tars_abort(const char *msg);

/* Appends a line to the call's log (Result.Log), capped by the host. */
void tars_log(const char *msg, size_t len);
void tars_log_str(const char *s);

/* Calls a host function the run's policy grants (grants.host_funcs).
 * Returns TARS_HOST_OK and the result length in *out_len, or
 * TARS_HOST_TOO_SMALL with the needed length. A function the policy does
 * not grant ends the call with PolicyRefused. */
int64_t tars_host_call(const char *name, const void *in, size_t in_len,
                       void *out, size_t out_cap, size_t *out_len);

/* Bump allocator over the heap. Every call starts with the heap as
 * tars_init left it, so nothing needs freeing. Returns NULL when full. */
void *tars_alloc(size_t n);

/* Freestanding C: the compiler may emit calls to these. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Small helpers for building output. */
typedef struct {
	char *buf;
	size_t len, cap;
	int overflow;
} tars_str;
void tars_str_init(tars_str *s, size_t cap); /* allocates cap bytes */
void tars_str_put(tars_str *s, const char *p, size_t n);
void tars_str_puts(tars_str *s, const char *p);
void tars_str_putc(tars_str *s, char c);
void tars_str_put_int(tars_str *s, int64_t v);
void tars_str_put_json_string(tars_str *s, const char *p, size_t n);

#endif
