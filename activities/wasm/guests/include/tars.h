/*
 * tars.h: the guest side of the TARS WASM pool ABI, for C tools built with
 * clang --target=wasm32-wasi. Header only; everything is static so a tool
 * links only what it uses.
 *
 *   stdin   the call's arguments, one JSON value (null when the step has none)
 *   stdout  the result, one JSON value
 *   stderr  free text, kept in the step's log (capped by the pool)
 *   exit 0  success; any other status fails the step with WasmExit
 *
 * It also holds a small JSON reader (a tree of jv nodes) and writer (an
 * output buffer written to stdout once), because wasi-libc has neither and
 * printf alone costs more code than both.
 */
#ifndef TARS_H
#define TARS_H

/* Helpers are static and may go unused in a given tool. */
#define TARS_FN static __attribute__((unused))

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- host functions (module "tars") ------------------------------------ */

/* tars_log appends msg to the step's log. Always granted. */
__attribute__((import_module("tars"), import_name("log")))
void tars_log(const char *msg, size_t len);

/*
 * tars_http_fetch GETs url and copies the body into out. It returns the body
 * length, or a negative TARS_E* code. Granted only for hosts in the step's
 * grants.http_hosts.
 */
__attribute__((import_module("tars"), import_name("http_fetch")))
int32_t tars_http_fetch(const char *url, size_t url_len, char *out, size_t out_cap);

#define TARS_EDENIED (-1) /* host not granted, or not http(s) */
#define TARS_EINVAL (-2)  /* bad pointer or URL */
#define TARS_EIO (-3)     /* connection failed, timed out, or status not 2xx */
#define TARS_ETOOBIG (-4) /* body larger than out_cap or the pool's cap */

/* ---- fatal errors ------------------------------------------------------- */

TARS_FN void tars_fail(int status, const char *msg) {
  write(2, msg, strlen(msg));
  write(2, "\n", 1);
  _Exit(status);
}

TARS_FN void *tars_alloc(size_t n) {
  void *p = malloc(n);
  /* A refused memory.grow makes malloc return NULL: exit so the pool can
   * report WasmMemoryLimit rather than let the tool scribble on address 0. */
  if (p == NULL) tars_fail(70, "out of memory");
  return p;
}

/* ---- stdin -------------------------------------------------------------- */

/* tars_read_input reads all of stdin into a NUL-terminated buffer. */
TARS_FN char *tars_read_input(size_t *len) {
  size_t cap = 4096, n = 0;
  char *buf = tars_alloc(cap);
  for (;;) {
    if (cap - n < 2) {
      cap *= 2;
      buf = realloc(buf, cap);
      if (buf == NULL) tars_fail(70, "out of memory");
    }
    ssize_t r = read(0, buf + n, cap - n - 1);
    if (r < 0) tars_fail(74, "read stdin failed");
    if (r == 0) break;
    n += (size_t)r;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

/* ---- JSON reader -------------------------------------------------------- */

enum { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv jv;
struct jv {
  int t;          /* J_* */
  const char *s;  /* J_STR: decoded bytes (NUL-terminated) */
  size_t n;       /* J_STR: length; J_ARR/J_OBJ: number of children */
  double num;     /* J_NUM */
  int integral;   /* J_NUM: written without fraction or exponent */
  const char *key;/* member name when the parent is an object */
  size_t klen;
  jv *kid, *next; /* first child, next sibling */
};

typedef struct {
  char *p;
  const char *err;
  int depth;
  jv *pool;
  size_t left;
} jparser;

TARS_FN jv *j_node(jparser *q, int t) {
  if (q->left == 0) {
    q->pool = tars_alloc(256 * sizeof(jv));
    q->left = 256;
  }
  jv *v = q->pool++;
  q->left--;
  memset(v, 0, sizeof *v);
  v->t = t;
  return v;
}

TARS_FN void j_ws(jparser *q) {
  while (*q->p == ' ' || *q->p == '\t' || *q->p == '\n' || *q->p == '\r') q->p++;
}

TARS_FN int j_hex(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return 0;
  }
  *out = v;
  return 1;
}

TARS_FN char *j_utf8(char *w, unsigned c) {
  if (c < 0x80) *w++ = (char)c;
  else if (c < 0x800) { *w++ = (char)(0xC0 | c >> 6); *w++ = (char)(0x80 | (c & 0x3F)); }
  else if (c < 0x10000) { *w++ = (char)(0xE0 | c >> 12); *w++ = (char)(0x80 | (c >> 6 & 0x3F)); *w++ = (char)(0x80 | (c & 0x3F)); }
  else { *w++ = (char)(0xF0 | c >> 18); *w++ = (char)(0x80 | (c >> 12 & 0x3F)); *w++ = (char)(0x80 | (c >> 6 & 0x3F)); *w++ = (char)(0x80 | (c & 0x3F)); }
  return w;
}

/* j_string decodes the string at q->p (just after the quote) in place. */
TARS_FN int j_string(jparser *q, const char **s, size_t *n) {
  char *r = q->p, *w = q->p;
  *s = w;
  for (;;) {
    unsigned char c = (unsigned char)*r;
    if (c == '"') break;
    if (c < 0x20) { q->err = c ? "control character in string" : "unterminated string"; return 0; }
    if (c != '\\') { *w++ = *r++; continue; }
    r++;
    switch (*r++) {
    case '"': *w++ = '"'; break;
    case '\\': *w++ = '\\'; break;
    case '/': *w++ = '/'; break;
    case 'b': *w++ = '\b'; break;
    case 'f': *w++ = '\f'; break;
    case 'n': *w++ = '\n'; break;
    case 'r': *w++ = '\r'; break;
    case 't': *w++ = '\t'; break;
    case 'u': {
      unsigned cp, lo;
      if (!j_hex(r, &cp)) { q->err = "bad \\u escape"; return 0; }
      r += 4;
      if (cp >= 0xD800 && cp < 0xDC00 && r[0] == '\\' && r[1] == 'u' && j_hex(r + 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        r += 6;
      }
      w = j_utf8(w, cp);
      break;
    }
    default: q->err = "bad escape"; return 0;
    }
  }
  *n = (size_t)(w - *s);
  q->p = r + 1;
  *w = 0; /* safe: w <= r, and *r was the closing quote */
  return 1;
}

TARS_FN jv *j_value(jparser *q);

TARS_FN jv *j_value(jparser *q) {
  j_ws(q);
  char c = *q->p;
  if (c == '{' || c == '[') {
    if (++q->depth > 64) { q->err = "nested too deep"; return NULL; }
    int obj = c == '{';
    jv *v = j_node(q, obj ? J_OBJ : J_ARR), **tail = &v->kid;
    q->p++;
    j_ws(q);
    if (*q->p == (obj ? '}' : ']')) { q->p++; q->depth--; return v; }
    for (;;) {
      const char *key = NULL;
      size_t klen = 0;
      if (obj) {
        j_ws(q);
        if (*q->p != '"') { q->err = "expected member name"; return NULL; }
        q->p++;
        if (!j_string(q, &key, &klen)) return NULL;
        j_ws(q);
        if (*q->p != ':') { q->err = "expected ':'"; return NULL; }
        q->p++;
      }
      jv *k = j_value(q);
      if (k == NULL) return NULL;
      k->key = key;
      k->klen = klen;
      *tail = k;
      tail = &k->next;
      v->n++;
      j_ws(q);
      if (*q->p == ',') { q->p++; continue; }
      if (*q->p == (obj ? '}' : ']')) { q->p++; q->depth--; return v; }
      q->err = obj ? "expected ',' or '}'" : "expected ',' or ']'";
      return NULL;
    }
  }
  if (c == '"') {
    jv *v = j_node(q, J_STR);
    q->p++;
    return j_string(q, &v->s, &v->n) ? v : NULL;
  }
  if (strncmp(q->p, "null", 4) == 0) { q->p += 4; return j_node(q, J_NULL); }
  if (strncmp(q->p, "true", 4) == 0) { q->p += 4; return j_node(q, J_TRUE); }
  if (strncmp(q->p, "false", 5) == 0) { q->p += 5; return j_node(q, J_FALSE); }
  if (c == '-' || (c >= '0' && c <= '9')) {
    /* Scan the strict JSON number grammar, then let strtod convert it. */
    char *p = q->p, *digits;
    jv *v = j_node(q, J_NUM);
    v->integral = 1;
    if (*p == '-') p++;
    digits = p;
    while (*p >= '0' && *p <= '9') p++;
    if (p == digits || (*digits == '0' && p - digits > 1)) { q->err = "bad number"; return NULL; }
    if (*p == '.') {
      v->integral = 0;
      digits = ++p;
      while (*p >= '0' && *p <= '9') p++;
      if (p == digits) { q->err = "bad number"; return NULL; }
    }
    if (*p == 'e' || *p == 'E') {
      v->integral = 0;
      if (*++p == '+' || *p == '-') p++;
      digits = p;
      while (*p >= '0' && *p <= '9') p++;
      if (p == digits) { q->err = "bad number"; return NULL; }
    }
    char save = *p;
    *p = 0;
    v->num = strtod(q->p, NULL);
    *p = save;
    q->p = p;
    return v;
  }
  q->err = c ? "unexpected character" : "unexpected end of input";
  return NULL;
}

/* j_parse parses the NUL-terminated text in place. On error it returns NULL
 * and sets *err. */
TARS_FN jv *j_parse(char *text, const char **err) {
  jparser q = {text, NULL, 0, NULL, 0};
  jv *v = j_value(&q);
  if (v != NULL) {
    j_ws(&q);
    if (*q.p != 0) { v = NULL; q.err = "trailing characters after the value"; }
  }
  *err = q.err;
  return v;
}

/* j_get returns the member of object o named key, or NULL. */
TARS_FN jv *j_get(const jv *o, const char *key) {
  if (o == NULL || o->t != J_OBJ) return NULL;
  size_t n = strlen(key);
  for (jv *k = o->kid; k; k = k->next)
    if (k->klen == n && memcmp(k->key, key, n) == 0) return k;
  return NULL;
}

/* tars_input reads stdin and parses it; bad JSON exits with status 65. */
TARS_FN jv *tars_input(void) {
  size_t len;
  const char *err;
  char *text = tars_read_input(&len);
  jv *v = j_parse(text, &err);
  if (v == NULL) {
    write(2, "bad input JSON: ", 16);
    tars_fail(65, err);
  }
  return v;
}

/* ---- JSON writer -------------------------------------------------------- */

TARS_FN char *out_buf;
TARS_FN size_t out_len, out_cap;

TARS_FN void out_raw(const char *s, size_t n) {
  if (out_cap - out_len < n) {
    size_t cap = out_cap ? out_cap : 1024;
    while (cap - out_len < n) cap *= 2;
    out_buf = realloc(out_buf, cap);
    if (out_buf == NULL) tars_fail(70, "out of memory");
    out_cap = cap;
  }
  memcpy(out_buf + out_len, s, n);
  out_len += n;
}

TARS_FN void out_s(const char *s) { out_raw(s, strlen(s)); }

TARS_FN void out_int(long long v) {
  char tmp[24], *p = tmp + sizeof tmp;
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do { *--p = (char)('0' + u % 10); u /= 10; } while (u);
  if (v < 0) *--p = '-';
  out_raw(p, (size_t)(tmp + sizeof tmp - p));
}

/* out_str writes s as a JSON string, escaping what JSON requires. */
TARS_FN void out_str(const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  out_raw("\"", 1);
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out_raw(s + run, i - run);
    run = i + 1;
    char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    switch (c) {
    case '"': out_raw("\\\"", 2); break;
    case '\\': out_raw("\\\\", 2); break;
    case '\n': out_raw("\\n", 2); break;
    case '\r': out_raw("\\r", 2); break;
    case '\t': out_raw("\\t", 2); break;
    default: out_raw(e, 6);
    }
  }
  out_raw(s + run, n - run);
  out_raw("\"", 1);
}

/* out_key writes "key": */
TARS_FN void out_key(const char *key) {
  out_str(key, strlen(key));
  out_raw(":", 1);
}

/* out_flush writes the buffer to stdout; call it once, at the end. */
TARS_FN void out_flush(void) {
  out_raw("\n", 1);
  size_t off = 0;
  while (off < out_len) {
    ssize_t w = write(1, out_buf + off, out_len - off);
    if (w <= 0) tars_fail(74, "write stdout failed");
    off += (size_t)w;
  }
}

/* ---- a string -> count table, for tools that tally words or messages ---- */

typedef struct {
  const char *s;
  size_t n;
  long count;
  long first; /* insertion order, for stable ties */
} tally_entry;

typedef struct {
  tally_entry *e;
  size_t cap, len;
} tally;

TARS_FN uint32_t tally_hash(const char *s, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

/* tally_add counts one occurrence of s[0:n]; s must outlive the table. */
TARS_FN void tally_add(tally *t, const char *s, size_t n) {
  if (t->len * 2 >= t->cap) {
    tally old = *t;
    t->cap = old.cap ? old.cap * 2 : 64;
    t->e = tars_alloc(t->cap * sizeof(tally_entry));
    memset(t->e, 0, t->cap * sizeof(tally_entry));
    t->len = 0;
    for (size_t i = 0; i < old.cap; i++) {
      if (old.e[i].s == NULL) continue;
      size_t j = tally_hash(old.e[i].s, old.e[i].n) & (t->cap - 1);
      while (t->e[j].s) j = (j + 1) & (t->cap - 1);
      t->e[j] = old.e[i];
      t->len++;
    }
    free(old.e);
  }
  size_t j = tally_hash(s, n) & (t->cap - 1);
  while (t->e[j].s) {
    if (t->e[j].n == n && memcmp(t->e[j].s, s, n) == 0) { t->e[j].count++; return; }
    j = (j + 1) & (t->cap - 1);
  }
  t->e[j] = (tally_entry){s, n, 1, (long)t->len};
  t->len++;
}

/* tally_top moves the k most frequent entries to the front of t->e, sorted
 * by count (descending) and then by the given tie order. */
TARS_FN size_t tally_top(tally *t, size_t k, int by_name) {
  size_t n = 0;
  for (size_t i = 0; i < t->cap; i++)
    if (t->e[i].s) t->e[n++] = t->e[i];
  if (k > n) k = n;
  for (size_t i = 0; i < k; i++) { /* partial selection sort: k is small */
    size_t best = i;
    for (size_t j = i + 1; j < n; j++) {
      tally_entry *a = &t->e[j], *b = &t->e[best];
      int better = a->count > b->count;
      if (a->count == b->count) {
        if (by_name) {
          size_t m = a->n < b->n ? a->n : b->n;
          int c = memcmp(a->s, b->s, m);
          better = c < 0 || (c == 0 && a->n < b->n);
        } else {
          better = a->first < b->first;
        }
      }
      if (better) best = j;
    }
    tally_entry tmp = t->e[i];
    t->e[i] = t->e[best];
    t->e[best] = tmp;
  }
  return k;
}

#endif
