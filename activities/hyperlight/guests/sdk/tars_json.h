/*
 * tars_json.h — a small, allocation-free JSON reader for guests.
 *
 * It works on spans of the input text: find a member of an object, walk an
 * array or an object, decode a string. It validates only what it walks.
 */
#ifndef TARS_JSON_H
#define TARS_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	const char *p, *end; /* the value's text, without surrounding space */
} tars_span;

enum { TARS_JSON_ERR = -1, TARS_JSON_END = 0, TARS_JSON_OK = 1 };

/* Parses the one JSON value that fills buf (surrounding space allowed). */
int tars_json_parse(const void *buf, size_t len, tars_span *val);

/* Type of a value by its first byte: '{', '[', '"', 'n', 't', 'f', or '0'
 * for a number; 0 for an empty span. */
char tars_json_type(tars_span v);

/* Finds member key of object obj. TARS_JSON_OK, TARS_JSON_END (absent) or
 * TARS_JSON_ERR. */
int tars_json_get(tars_span obj, const char *key, tars_span *val);

/* Walks an array (key is left empty) or an object. */
typedef struct {
	const char *p, *end;
	char close;
	int started;
} tars_json_iter;
int tars_json_iter_init(tars_json_iter *it, tars_span v);
int tars_json_iter_next(tars_json_iter *it, tars_span *key, tars_span *val);

/* Decodes string value v into out (UTF-8, not NUL-terminated unless room
 * remains). Returns the decoded length, or -1 if v is not a valid string
 * or out is too small. */
long tars_json_string(tars_span v, char *out, size_t cap);

/* Reports whether string value v decodes to exactly lit. */
int tars_json_string_eq(tars_span v, const char *lit);

#endif
