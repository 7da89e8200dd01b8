/* The guest runtime: start-up, dispatch, the port calls, a bump allocator
 * and the few libc functions a freestanding compiler may call. */
#include "tars_guest.h"

static inline void tars_out(uint16_t port, uint32_t val)
{
	/* "memory": the argument block must be in memory before the host reads it. */
	__asm__ volatile("outl %0, %1" : : "a"(val), "Nd"(port) : "memory");
}

/* After RESULT, ABORT or READY the host never resumes the guest; if it
 * ever did, trapping is better than running on. */
static __attribute__((noreturn)) void tars_halt(void)
{
	__builtin_trap();
}

static inline uint32_t gpa(const void *p) { return (uint32_t)(uintptr_t)p; }

extern char __tars_end[];
extern void __tars_entry(void);

static uint8_t *heap_next;

__attribute__((weak)) void tars_init(void) {}

__attribute__((noreturn)) void __tars_start(void)
{
	const volatile struct tars_boot *b = TARS_BOOT;
	if (b->magic != TARS_BOOT_MAGIC || b->version != TARS_ABI_VERSION)
		tars_abort("tars_guest: boot info has the wrong magic or ABI version");
	heap_next = (uint8_t *)(uintptr_t)b->heap_start;
	tars_init();
	tars_out(TARS_PORT_READY, gpa((const void *)__tars_entry));
	tars_halt();
}

__attribute__((noreturn)) void __tars_dispatch(void)
{
	const volatile struct tars_call *c = (const volatile struct tars_call *)TARS_CALL_ADDR;
	int rc = tars_main((const uint8_t *)TARS_INPUT_ADDR, (size_t)c->input_len);
	if (rc != 0)
		tars_abort("tars_main returned non-zero without tars_return");
	tars_return(0, 0);
}

void tars_return(const void *data, size_t len)
{
	struct tars_buf b = {(uint64_t)(uintptr_t)data, len};
	tars_out(TARS_PORT_RESULT, gpa(&b));
	tars_halt();
}

void tars_return_str(const char *s) { tars_return(s, strlen(s)); }

void tars_abort(const char *msg)
{
	struct tars_buf b = {(uint64_t)(uintptr_t)msg, strlen(msg)};
	tars_out(TARS_PORT_ABORT, gpa(&b));
	tars_halt();
}

void tars_log(const char *msg, size_t len)
{
	struct tars_buf b = {(uint64_t)(uintptr_t)msg, len};
	tars_out(TARS_PORT_LOG, gpa(&b));
}

void tars_log_str(const char *s) { tars_log(s, strlen(s)); }

int64_t tars_host_call(const char *name, const void *in, size_t in_len,
                       void *out, size_t out_cap, size_t *out_len)
{
	struct tars_hostcall hc = {
		.name_ptr = (uint64_t)(uintptr_t)name, .name_len = strlen(name),
		.in_ptr = (uint64_t)(uintptr_t)in, .in_len = in_len,
		.out_ptr = (uint64_t)(uintptr_t)out, .out_cap = out_cap,
	};
	tars_out(TARS_PORT_HOSTCALL, gpa(&hc));
	/* The host wrote out_len and status behind the compiler's back. */
	__asm__ volatile("" : : : "memory");
	if (out_len)
		*out_len = (size_t)hc.out_len;
	return hc.status;
}

void *tars_alloc(size_t n)
{
	uint8_t *p = (uint8_t *)(((uintptr_t)heap_next + 15) & ~(uintptr_t)15);
	if (n > (uintptr_t)TARS_BOOT->heap_end - (uintptr_t)p)
		return 0;
	heap_next = p + n;
	return p;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	if (d == s || n == 0)
		return dst;
	if (d < s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}
