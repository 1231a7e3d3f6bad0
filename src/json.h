/* json.h — a small strict JSON reader (RFC 8259) into a tree, for reading our own output files
 * back (results.jsonl, run.json) when building reports. Strings are unescaped into
 * NUL-terminated UTF-8; "\u00XX" escapes of bytes 0x80..0xff that our writer uses for non-UTF-8
 * file names (report.c) become those bytes again, as cnn_jsonl_string does. Depth is limited
 * (CNN_JSON_MAX_DEPTH); a "\u0000" escape is refused (strings are C strings). */
#ifndef CNN_JSON_H
#define CNN_JSON_H

#include <stddef.h>

#include "status.h"

#define CNN_JSON_MAX_DEPTH 64

typedef enum { CNN_JSON_NULL, CNN_JSON_BOOL, CNN_JSON_NUM, CNN_JSON_STR, CNN_JSON_ARR, CNN_JSON_OBJ } cnn_json_type;

typedef struct cnn_json cnn_json;
struct cnn_json {
    cnn_json_type type;
    int boolean;
    double num;
    char *str;       /* STR */
    cnn_json *items; /* ARR, OBJ: n values */
    char **keys;     /* OBJ: n keys */
    int n;
};

/* Parses exactly one value (surrounding white space allowed). Errors are CNN_ERR_INPUT with the
 * byte offset, prefixed by name. On error *out is empty (safe to free). */
cnn_status cnn_json_parse(const char *text, size_t len, const char *name, cnn_json *out,
                          cnn_error *err);
void cnn_json_free(cnn_json *j);

/* The value of key in an object (the last one if repeated), or NULL (also when j is not an
 * object or is NULL). */
const cnn_json *cnn_json_get(const cnn_json *j, const char *key);
/* The number, or dflt when j is NULL or not a number. */
double cnn_json_num(const cnn_json *j, double dflt);
/* The string, or NULL when j is NULL or not a string. */
const char *cnn_json_str(const cnn_json *j);
/* Items of an array (0 when j is NULL or not an array). */
int cnn_json_len(const cnn_json *j);
const cnn_json *cnn_json_at(const cnn_json *j, int i);

#endif
