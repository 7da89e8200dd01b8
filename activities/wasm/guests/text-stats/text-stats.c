/*
 * text-stats: counts lines, words and characters of a text and lists its
 * most frequent words.
 *
 *   in:  {"text": "...", "top": 5}          top: 0..50, default 5
 *   out: {"lines":2,"words":9,"chars":41,"bytes":41,"unique_words":7,
 *         "top_words":[{"word":"the","count":2}, ...]}
 *
 * A word is a run of ASCII letters and digits and non-ASCII bytes, with
 * apostrophes allowed inside ("don't"); words are compared lowercased.
 * chars counts UTF-8 code points. Ties in top_words are broken by word.
 */
#include "../include/tars.h"

static int word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

int main(void) {
  jv *in = tars_input();
  jv *text = j_get(in, "text"), *top = j_get(in, "top");
  if (text == NULL || text->t != J_STR) tars_fail(64, "text-stats: want {\"text\": string}");
  long k = 5;
  if (top != NULL) {
    if (top->t != J_NUM || !top->integral || top->num < 0 || top->num > 50)
      tars_fail(64, "text-stats: top must be an integer from 0 to 50");
    k = (long)top->num;
  }

  unsigned char *s = (unsigned char *)text->s;
  size_t n = text->n, lines = 0, words = 0, chars = 0;
  tally t = {0};
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    if ((c & 0xC0) != 0x80) chars++;
    if (c == '\n') lines++;
    if (!word_byte(c)) { i++; continue; }
    size_t start = i;
    for (;;) {
      c = s[i];
      if (word_byte(c)) {
        if (c >= 'A' && c <= 'Z') s[i] = (unsigned char)(c + 32);
        if ((c & 0xC0) != 0x80 && i > start) chars++;
        i++;
      } else if (c == '\'' && i + 1 < n && word_byte(s[i + 1])) {
        chars++;
        i++;
      } else {
        break;
      }
      if (i >= n) break;
    }
    words++;
    tally_add(&t, (const char *)s + start, i - start);
  }
  if (n > 0 && s[n - 1] != '\n') lines++;

  size_t m = tally_top(&t, (size_t)k, 1);
  out_s("{\"lines\":");
  out_int((long long)lines);
  out_s(",\"words\":");
  out_int((long long)words);
  out_s(",\"chars\":");
  out_int((long long)chars);
  out_s(",\"bytes\":");
  out_int((long long)n);
  out_s(",\"unique_words\":");
  out_int((long long)t.len);
  out_s(",\"top_words\":[");
  for (size_t i = 0; i < m; i++) {
    if (i) out_s(",");
    out_s("{\"word\":");
    out_str(t.e[i].s, t.e[i].n);
    out_s(",\"count\":");
    out_int(t.e[i].count);
    out_s("}");
  }
  out_s("]}");
  out_flush();
  return 0;
}
