/*
 * log-scan: counts the error and warning lines of a service's log and lists
 * the most frequent error messages.
 *
 *   in:  {"service": "api", "lines": ["...", ...]}
 *    or  {"service": "api", "text": "line\nline\n..."}
 *   out: {"service":"api","lines":120,"errors":7,"warnings":3,
 *         "top_errors":[{"message":"db timeout after #ms","count":5}, ...]}
 *
 * A line is an error when it holds the word ERROR, FATAL or CRITICAL (or
 * level=error), a warning when it holds WARN or WARNING (or level=warn).
 * The message is the text after the level word (or the msg= value of a
 * logfmt line), with digit runs replaced
 * by '#' so that "timeout after 30ms" and "timeout after 31ms" count as one.
 * top_errors holds at most 5 messages, ties in order of first appearance.
 */
#include "../include/tars.h"

enum { LVL_NONE, LVL_WARN, LVL_ERROR };

static int is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* find_word returns the end of the first occurrence of w in s[0:n] that is
 * not part of a longer word, or NULL. */
static const char *find_word(const char *s, size_t n, const char *w) {
  size_t m = strlen(w);
  for (size_t i = 0; i + m <= n; i++) {
    if (memcmp(s + i, w, m) != 0) continue;
    if (i > 0 && is_alpha((unsigned char)s[i - 1])) continue;
    if (i + m < n && is_alpha((unsigned char)s[i + m])) continue;
    return s + i + m;
  }
  return NULL;
}

static int level(const char *s, size_t n, const char **msg) {
  static const char *errors[] = {"ERROR", "FATAL", "CRITICAL", "level=error", NULL};
  static const char *warns[] = {"WARNING", "WARN", "level=warn", "level=warning", NULL};
  for (int i = 0; errors[i]; i++)
    if ((*msg = find_word(s, n, errors[i])) != NULL) return LVL_ERROR;
  for (int i = 0; warns[i]; i++)
    if ((*msg = find_word(s, n, warns[i])) != NULL) return LVL_WARN;
  return LVL_NONE;
}

/* normalize copies the message at p (up to end) into a new buffer, skipping
 * separators after the level word and folding digit runs into '#'. */
static char *normalize(const char *p, const char *end, size_t *len) {
  while (p < end && (*p == ' ' || *p == ':' || *p == ']' || *p == '-' || *p == '|' || *p == '\t' || *p == '"'))
    p++;
  size_t cap = (size_t)(end - p) < 120 ? (size_t)(end - p) : 120;
  char *out = tars_alloc(cap + 1), *w = out;
  while (p < end && (size_t)(w - out) < cap) {
    if (*p >= '0' && *p <= '9') {
      *w++ = '#';
      while (p < end && *p >= '0' && *p <= '9') p++;
    } else {
      *w++ = *p++;
    }
  }
  while (w > out && (w[-1] == ' ' || w[-1] == '\r' || w[-1] == '"')) w--;
  *len = (size_t)(w - out);
  return out;
}

static long nlines, nerrors, nwarnings;
static tally msgs;

static void scan_line(const char *s, size_t n) {
  const char *msg;
  nlines++;
  switch (level(s, n, &msg)) {
  case LVL_ERROR: {
    size_t len;
    const char *end = s + n, *kv = find_word(s, n, "msg=");
    if (kv != NULL) { /* logfmt: the message is the msg= value */
      msg = kv;
      if (msg < end && *msg == '"') {
        msg++;
        const char *q = memchr(msg, '"', (size_t)(end - msg));
        if (q != NULL) end = q;
      }
    }
    char *m = normalize(msg, end, &len);
    nerrors++;
    tally_add(&msgs, m, len);
    break;
  }
  case LVL_WARN:
    nwarnings++;
    break;
  }
}

int main(void) {
  jv *in = tars_input();
  jv *service = j_get(in, "service"), *lines = j_get(in, "lines"), *text = j_get(in, "text");
  if (service != NULL && service->t != J_STR) tars_fail(64, "log-scan: service must be a string");
  if (lines != NULL && lines->t == J_ARR) {
    for (jv *l = lines->kid; l; l = l->next) {
      if (l->t != J_STR) tars_fail(64, "log-scan: lines must hold strings");
      scan_line(l->s, l->n);
    }
  } else if (text != NULL && text->t == J_STR) {
    const char *s = text->s, *end = s + text->n;
    while (s < end) {
      const char *nl = memchr(s, '\n', (size_t)(end - s));
      if (nl == NULL) nl = end;
      scan_line(s, (size_t)(nl - s));
      s = nl + 1;
    }
  } else {
    tars_fail(64, "log-scan: want {\"service\": string, \"lines\": [string]} or {\"text\": string}");
  }

  size_t m = tally_top(&msgs, 5, 0);
  out_s("{\"service\":");
  if (service) out_str(service->s, service->n);
  else out_s("null");
  out_s(",\"lines\":");
  out_int(nlines);
  out_s(",\"errors\":");
  out_int(nerrors);
  out_s(",\"warnings\":");
  out_int(nwarnings);
  out_s(",\"top_errors\":[");
  for (size_t i = 0; i < m; i++) {
    if (i) out_s(",");
    out_s("{\"message\":");
    out_str(msgs.e[i].s, msgs.e[i].n);
    out_s(",\"count\":");
    out_int(msgs.e[i].count);
    out_s("}");
  }
  out_s("]}");
  out_flush();
  return 0;
}
