/*
 * escape: a hostile guest for the pool's tests. Each mode tries one way out
 * of the sandbox or one way to exhaust the host; the tests check that the
 * pool stops it with the right error and keeps serving.
 *
 *   in: {"try": MODE, ...}
 *
 * Capability modes exit 3 with the reason on stderr when the sandbox holds,
 * and print what they got (exit 0) when it does not:
 *   passwd     open /etc/passwd (and ../ tricks)
 *   environ    read the whole environment
 *   socket     use WASI sockets (none are ever preopened)
 *   write      {"path": p} create a file (e.g. in the read-only /data)
 * Probes for granted capabilities, which print what they see:
 *   read       {"path": p} print a file's text
 *   getenv     {"name": n} print one variable
 *   fetch      {"url": u, "cap": n} call tars.http_fetch
 *   log        {"msg": s} call tars.log
 * Resource modes, which the pool must stop:
 *   loop       spin forever
 *   alloc      malloc 1 MiB at a time forever; exit 70 when malloc fails
 *   alloc-trap the same, but trap (abort) when malloc fails
 *   alloc-quiet the same, but print how much it got and exit 0
 *   recurse    recurse without bound on the wasm stack
 *   smash      recurse without bound on the C (shadow) stack
 *   stdout     print gigabytes to stdout, ignoring write errors
 *   stderr     print 64 MiB to stderr, then succeed
 *   trap       execute unreachable
 *   exit       exit with status 7
 *   badjson    print text that is not JSON
 *   badlog     call tars.log with a range outside memory
 * Isolation between calls (the pool recycles memory buffers):
 *   scribble   fill 64 KiB of static data and 512 KiB of grown memory with 0xAB
 *   peek       count the non-zero bytes in the same places
 */
#include "../include/tars.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <wasi/api.h>

extern char **environ;

static void denied(const char *what, int err) {
  const char *why = strerror(err);
  write(2, what, strlen(what));
  write(2, ": ", 2);
  tars_fail(3, why);
}

static void print_text(const char *key, const char *s, size_t n) {
  out_s("{");
  out_key(key);
  out_str(s, n);
  out_s("}");
  out_flush();
  _Exit(0);
}

static void try_read(const char *p, int deny) {
  int fd = open(p, O_RDONLY);
  if (fd < 0) {
    if (deny) return;
    denied(p, errno);
  }
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0) denied(p, errno);
  print_text("content", buf, (size_t)n);
}

static char *volatile keep;
static volatile unsigned char bss[64 << 10];
static int (*volatile recurse_fn)(int);
static int recurse(int n) { return recurse_fn(n + 1) + 1; }

#pragma clang diagnostic ignored "-Winfinite-recursion"
static int smash(int n) {
  volatile char frame[512];
  frame[n & 511] = (char)n;
  return smash(n + 1) + frame[(n * 7) & 511];
}

int main(void) {
  jv *in = tars_input();
  jv *mode = j_get(in, "try");
  if (mode == NULL || mode->t != J_STR) tars_fail(64, "escape: want {\"try\": mode}");
  const char *m = mode->s;
  jv *arg;

  if (strcmp(m, "passwd") == 0) {
    const char *paths[] = {"/etc/passwd", "../../../../etc/passwd", "/data/../etc/passwd", "etc/passwd", NULL};
    for (int i = 0; paths[i]; i++) try_read(paths[i], 1);
    denied("open /etc/passwd", errno);
  }
  if (strcmp(m, "environ") == 0) {
    if (environ == NULL || environ[0] == NULL) tars_fail(3, "environ: empty");
    print_text("first", environ[0], strlen(environ[0]));
  }
  if (strcmp(m, "socket") == 0) {
    /* wasi-libc has no socket() or connect(): preview1 can only accept on,
     * and send or receive through, sockets the host preopened. */
    __wasi_fd_t fd;
    __wasi_errno_t err = 0;
    for (__wasi_fd_t i = 3; i < 16; i++) {
      err = __wasi_sock_accept(i, 0, &fd);
      if (err == 0) print_text("accepted", "yes", 3);
    }
    denied("sock_accept on fds 3..15", err);
  }
  if (strcmp(m, "write") == 0) {
    arg = j_get(in, "path");
    int fd = open(arg ? arg->s : "/data/out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) denied("create", errno);
    if (write(fd, "x", 1) != 1) denied("write", errno);
    print_text("wrote", "yes", 3);
  }
  if (strcmp(m, "read") == 0) {
    arg = j_get(in, "path");
    try_read(arg ? arg->s : "/data/hello.txt", 0);
  }
  if (strcmp(m, "getenv") == 0) {
    arg = j_get(in, "name");
    const char *v = getenv(arg ? arg->s : "HOME");
    if (v == NULL) {
      out_s("{\"set\":false}");
      out_flush();
      return 0;
    }
    print_text("value", v, strlen(v));
  }
  if (strcmp(m, "fetch") == 0) {
    jv *url = j_get(in, "url"), *cap = j_get(in, "cap");
    size_t n = cap && cap->t == J_NUM ? (size_t)cap->num : 65536;
    char *buf = tars_alloc(n + 1);
    int32_t got = tars_http_fetch(url ? url->s : "", url ? url->n : 0, buf, n);
    out_s("{\"code\":");
    out_int(got < 0 ? got : 0);
    out_s(",\"body\":");
    out_str(buf, got > 0 ? (size_t)got : 0);
    out_s("}");
    out_flush();
    return 0;
  }
  if (strcmp(m, "log") == 0) {
    arg = j_get(in, "msg");
    tars_log(arg ? arg->s : "hello", arg ? arg->n : 5);
    out_s("{\"logged\":true}");
    out_flush();
    return 0;
  }

  if (strcmp(m, "loop") == 0) {
    volatile unsigned long spins = 0;
    for (;;) spins++;
  }
  if (strcmp(m, "alloc") == 0 || strcmp(m, "alloc-trap") == 0 || strcmp(m, "alloc-quiet") == 0) {
    int trap = strcmp(m, "alloc-trap") == 0, quiet = strcmp(m, "alloc-quiet") == 0;
    for (int mib = 0;; mib++) {
      char *p = malloc(1 << 20);
      keep = p; /* without a use, the compiler deletes malloc and memset */
      if (p == NULL) {
        if (trap) __builtin_trap();
        if (quiet) {
          printf("{\"allocated_mib\":%d}\n", mib);
          return 0;
        }
        tars_fail(70, "alloc: malloc returned NULL");
      }
      memset(p, 1, 1 << 20);
    }
  }
  if (strcmp(m, "recurse") == 0) {
    recurse_fn = recurse;
    return recurse(0);
  }
  if (strcmp(m, "smash") == 0) return smash(0);
  if (strcmp(m, "stdout") == 0) {
    char *chunk = tars_alloc(1 << 20);
    memset(chunk, 'A', 1 << 20);
    for (long i = 0; i < 1L << 14; i++) write(1, chunk, 1 << 20); /* 16 GiB */
    return 0;
  }
  if (strcmp(m, "stderr") == 0) {
    char *chunk = tars_alloc(1 << 16);
    memset(chunk, 'E', 1 << 16);
    chunk[(1 << 16) - 1] = '\n';
    for (int i = 0; i < 1024; i++) write(2, chunk, 1 << 16); /* 64 MiB */
    out_s("{\"ok\":true}");
    out_flush();
    return 0;
  }
  if (strcmp(m, "scribble") == 0 || strcmp(m, "peek") == 0) {
    /* bss (zeroed static data, which wasm-ld leaves out of the binary
     * because wasm memory starts zeroed) lies within the initial memory;
     * pages from memory.grow lie beyond it. Both must read zero in a new
     * instance, whatever the instance before left there. */
    long pages = __builtin_wasm_memory_grow(0, 8);
    if (pages < 0) tars_fail(70, "memory.grow failed");
    unsigned char *grown = (unsigned char *)(pages * 65536);
    long dirty = 0, size = 8 * 65536;
    if (m[0] == 's') {
      for (size_t i = 0; i < sizeof bss; i++) bss[i] = 0xAB;
      memset(grown, 0xAB, (size_t)size);
    }
    for (size_t i = 0; i < sizeof bss; i++) dirty += bss[i] != 0;
    for (long i = 0; i < size; i++) dirty += grown[i] != 0;
    out_s("{\"dirty\":");
    out_int(m[0] == 's' ? 0 : dirty);
    out_s(",\"checked\":");
    out_int((long long)(sizeof bss) + size);
    out_s("}");
    out_flush();
    return 0;
  }
  if (strcmp(m, "trap") == 0) __builtin_trap();
  if (strcmp(m, "badlog") == 0) tars_log((const char *)0xFFFFFF00u, 4096);
  if (strcmp(m, "exit") == 0) tars_fail(7, "escape: exiting with status 7 as asked");
  if (strcmp(m, "badjson") == 0) {
    write(1, "this is not json\n", 17);
    return 0;
  }
  tars_fail(64, "escape: unknown mode");
}
