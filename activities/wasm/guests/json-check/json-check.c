/*
 * json-check: validates a JSON document against a small subset of JSON
 * Schema, enough to check what a tool or a model returned.
 *
 *   in:  {"doc": <any>, "schema": {...}}
 *   out: {"valid":false,"error_count":2,
 *         "errors":[{"path":"$.id","message":"expected integer, got string"}, ...]}
 *
 * Keywords: type (a name or a list of names: string number integer boolean
 * object array null), required, properties, additionalProperties (false
 * only), items, enum (scalars), minimum, maximum, minLength, maxLength
 * (in code points), minItems, maxItems. Unknown keywords are ignored, as
 * JSON Schema does. At most 20 errors are listed; error_count counts all.
 */
#include "../include/tars.h"

#define MAX_LISTED 20

static long nerrors;
static char path[512];
static size_t plen;

static const char *type_name(const jv *v) {
  static const char *names[] = {"null", "boolean", "boolean", "number", "string", "array", "object"};
  return names[v->t];
}

static void report4(const char *a, const char *b, const char *c, const char *d) {
  if (nerrors++ >= MAX_LISTED) return;
  if (nerrors > 1) out_s(",");
  out_s("{\"path\":");
  out_str(path, plen);
  out_s(",\"message\":");
  char msg[256];
  size_t n = 0;
  const char *parts[] = {a, b, c, d};
  for (int i = 0; i < 4; i++)
    for (const char *p = parts[i]; p && *p && n < sizeof msg - 1; p++) msg[n++] = *p;
  out_str(msg, n);
  out_s("}");
}

static void report(const char *a, const char *b, const char *c) { report4(a, b, c, NULL); }

/* The path grows as the walk descends and is cut back on the way up. */
static size_t path_push_key(const char *k, size_t n) {
  size_t old = plen;
  if (plen + n + 2 < sizeof path) {
    path[plen++] = '.';
    memcpy(path + plen, k, n);
    plen += n;
  }
  return old;
}

static size_t path_push_index(size_t i) {
  size_t old = plen;
  char tmp[24], *p = tmp + sizeof tmp;
  do { *--p = (char)('0' + i % 10); i /= 10; } while (i);
  size_t n = (size_t)(tmp + sizeof tmp - p);
  if (plen + n + 3 < sizeof path) {
    path[plen++] = '[';
    memcpy(path + plen, p, n);
    plen += n;
    path[plen++] = ']';
  }
  return old;
}

static int is_integer(const jv *v) {
  return v->t == J_NUM && v->num >= -9007199254740992.0 && v->num <= 9007199254740992.0 &&
         v->num == (double)(long long)v->num;
}

static int type_is(const jv *v, const char *name, size_t n) {
#define IS(s) (n == sizeof(s) - 1 && memcmp(name, s, n) == 0)
  if (IS("string")) return v->t == J_STR;
  if (IS("number")) return v->t == J_NUM;
  if (IS("integer")) return is_integer(v);
  if (IS("boolean")) return v->t == J_TRUE || v->t == J_FALSE;
  if (IS("object")) return v->t == J_OBJ;
  if (IS("array")) return v->t == J_ARR;
  if (IS("null")) return v->t == J_NULL;
#undef IS
  return 0;
}

static int scalar_equal(const jv *a, const jv *b) {
  if (a->t != b->t) return 0;
  if (a->t == J_NUM) return a->num == b->num;
  if (a->t == J_STR) return a->n == b->n && memcmp(a->s, b->s, a->n) == 0;
  return a->t == J_NULL || a->t == J_TRUE || a->t == J_FALSE;
}

static size_t code_points(const jv *s) {
  size_t n = 0;
  for (size_t i = 0; i < s->n; i++) n += ((unsigned char)s->s[i] & 0xC0) != 0x80;
  return n;
}

static double num_or(const jv *schema, const char *key, double def) {
  jv *v = j_get(schema, key);
  return v && v->t == J_NUM ? v->num : def;
}

static void check(const jv *doc, const jv *schema, int depth) {
  if (schema == NULL || schema->t != J_OBJ) return; /* true, {} and junk accept anything */
  if (depth > 64) { report("schema nested too deep", NULL, NULL); return; }

  jv *type = j_get(schema, "type");
  if (type != NULL) {
    int ok = 0;
    if (type->t == J_STR) ok = type_is(doc, type->s, type->n);
    for (jv *t = type->t == J_ARR ? type->kid : NULL; t; t = t->next)
      if (t->t == J_STR && type_is(doc, t->s, t->n)) ok = 1;
    if (!ok) {
      const char *got = doc->t == J_NUM && !is_integer(doc) ? "non-integer number" : type_name(doc);
      if (doc->t == J_NUM && is_integer(doc)) got = "integer";
      report4("expected ", type->t == J_STR ? type->s : "one of the listed types", ", got ", got);
      return;
    }
  }

  jv *en = j_get(schema, "enum");
  if (en != NULL && en->t == J_ARR) {
    int ok = 0;
    for (jv *e = en->kid; e; e = e->next) ok |= scalar_equal(doc, e);
    if (!ok) report("value is not one of the enum values", NULL, NULL);
  }

  switch (doc->t) {
  case J_NUM:
    if (doc->num < num_or(schema, "minimum", -1.0 / 0.0)) report("below minimum", NULL, NULL);
    if (doc->num > num_or(schema, "maximum", 1.0 / 0.0)) report("above maximum", NULL, NULL);
    break;
  case J_STR: {
    double n = (double)code_points(doc);
    if (n < num_or(schema, "minLength", 0)) report("shorter than minLength", NULL, NULL);
    if (n > num_or(schema, "maxLength", 1.0 / 0.0)) report("longer than maxLength", NULL, NULL);
    break;
  }
  case J_ARR: {
    if ((double)doc->n < num_or(schema, "minItems", 0)) report("fewer items than minItems", NULL, NULL);
    if ((double)doc->n > num_or(schema, "maxItems", 1.0 / 0.0)) report("more items than maxItems", NULL, NULL);
    jv *items = j_get(schema, "items");
    size_t i = 0;
    for (jv *k = doc->kid; k && items; k = k->next, i++) {
      size_t old = path_push_index(i);
      check(k, items, depth + 1);
      plen = old;
    }
    break;
  }
  case J_OBJ: {
    jv *req = j_get(schema, "required"), *props = j_get(schema, "properties");
    jv *extra = j_get(schema, "additionalProperties");
    for (jv *r = req && req->t == J_ARR ? req->kid : NULL; r; r = r->next) {
      if (r->t != J_STR) continue;
      int found = 0;
      for (jv *k = doc->kid; k && !found; k = k->next) found = k->klen == r->n && memcmp(k->key, r->s, r->n) == 0;
      if (!found) report("missing required key \"", r->s, "\"");
    }
    for (jv *k = doc->kid; k; k = k->next) {
      jv *sub = NULL;
      for (jv *p = props && props->t == J_OBJ ? props->kid : NULL; p && !sub; p = p->next)
        if (p->klen == k->klen && memcmp(p->key, k->key, k->klen) == 0) sub = p;
      size_t old = path_push_key(k->key, k->klen);
      if (sub != NULL) check(k, sub, depth + 1);
      else if (extra != NULL && extra->t == J_FALSE) report("unexpected key", NULL, NULL);
      plen = old;
    }
    break;
  }
  }
}

int main(void) {
  jv *in = tars_input();
  jv *doc = j_get(in, "doc"), *schema = j_get(in, "schema");
  if (doc == NULL || schema == NULL) tars_fail(64, "json-check: want {\"doc\": any, \"schema\": object}");

  path[0] = '$';
  plen = 1;
  check(doc, schema, 0);

  /* The errors were written first; put the header in front of them. */
  size_t n = out_len;
  char *errors = tars_alloc(n + 1);
  memcpy(errors, out_buf, n);
  out_len = 0;
  out_s(nerrors ? "{\"valid\":false" : "{\"valid\":true");
  out_s(",\"error_count\":");
  out_int(nerrors);
  out_s(",\"errors\":[");
  out_raw(errors, n);
  out_s("]}");
  out_flush();
  return 0;
}
