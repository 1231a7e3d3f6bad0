/* cfg.c — strict darknet cfg reader (see cfg.h). Like darknet, all whitespace inside a line is
 * removed before parsing ("anchors = 10, 14" == "anchors=10,14"); unlike darknet, everything after
 * '#' or ';' is a comment, and duplicate keys, options outside a section and lines without '='
 * are errors. */
#include "cfg.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

#define CFG_MAX_BYTES (16u << 20)
#define CFG_MAX_SECTIONS 100000
/* Options in one section: darknet's sections use fewer than 40; the cap keeps the duplicate-key
 * check (linear per option) from growing into a hang on a hostile 16 MiB cfg. */
#define CFG_MAX_OPTIONS 1024

/* Arrays grow by half again when full: amortised O(1) per item (ASan's realloc always copies). */
static int grow(void **arr, int n, int *cap, size_t item)
{
    if (n < *cap) return 0;
    const int c = *cap ? *cap + *cap / 2 + 1 : 8;
    void *p = realloc(*arr, item * (size_t)c);
    if (!p) return -1;
    *arr = p;
    *cap = c;
    return 0;
}

static char *dup_range(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

cnn_status cnn_cfg_load(const char *path, cnn_cfg *cfg, cnn_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    char *text;
    size_t n;
    cnn_status st = cnn_read_file(path, CFG_MAX_BYTES, &text, &n, CNN_ERR_MODEL, err);
    if (st) return st;
    st = cnn_cfg_parse(text, n, path, cfg, err);
    free(text);
    return st;
}

static cnn_status add_section(cnn_cfg *cfg, const char *name, size_t n, int line, cnn_error *err)
{
    if (cfg->n_secs >= CFG_MAX_SECTIONS)
        return cnn_fail(err, CNN_ERR_MODEL, "%s:%d: more than %d sections", cfg->path, line,
                        CFG_MAX_SECTIONS);
    if (grow((void **)&cfg->secs, cfg->n_secs, &cfg->cap_secs, sizeof *cfg->secs))
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", cfg->path);
    cnn_cfg_section *s = &cfg->secs[cfg->n_secs];
    memset(s, 0, sizeof *s);
    s->name = dup_range(name, n);
    s->line = line;
    if (!s->name) return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", cfg->path);
    cfg->n_secs++;
    return CNN_OK;
}

static cnn_status add_option(cnn_cfg *cfg, const char *line_text, size_t n, int line,
                             cnn_error *err)
{
    if (cfg->n_secs == 0)
        return cnn_fail(err, CNN_ERR_MODEL, "%s:%d: option '%.*s' before the first [section]",
                        cfg->path, line, (int)n, line_text);
    const char *eq = memchr(line_text, '=', n);
    if (!eq)
        return cnn_fail(err, CNN_ERR_MODEL, "%s:%d: expected key=value, got '%.*s'", cfg->path,
                        line, (int)n, line_text);
    size_t klen = (size_t)(eq - line_text), vlen = n - klen - 1;
    if (klen == 0)
        return cnn_fail(err, CNN_ERR_MODEL, "%s:%d: empty key in '%.*s'", cfg->path, line, (int)n,
                        line_text);
    if (vlen == 0)
        return cnn_fail(err, CNN_ERR_MODEL, "%s:%d: empty value for '%.*s'", cfg->path, line,
                        (int)klen, line_text);
    cnn_cfg_section *s = &cfg->secs[cfg->n_secs - 1];
    if (s->n_opts >= CFG_MAX_OPTIONS)
        return cnn_fail(err, CNN_ERR_MODEL, "%s:%d: more than %d options in [%s] (line %d)", cfg->path,
                        line, CFG_MAX_OPTIONS, s->name, s->line);
    for (int i = 0; i < s->n_opts; i++) {
        if (strlen(s->opts[i].key) == klen && memcmp(s->opts[i].key, line_text, klen) == 0)
            return cnn_fail(err, CNN_ERR_MODEL, "%s:%d: duplicate key '%s' in [%s] (first at line %d)",
                            cfg->path, line, s->opts[i].key, s->name, s->opts[i].line);
    }
    if (grow((void **)&s->opts, s->n_opts, &s->cap_opts, sizeof *s->opts))
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", cfg->path);
    cnn_cfg_opt *o = &s->opts[s->n_opts];
    o->key = dup_range(line_text, klen);
    o->val = dup_range(eq + 1, vlen);
    o->line = line;
    o->used = 0;
    if (!o->key || !o->val) {
        free(o->key);
        free(o->val);
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", cfg->path);
    }
    s->n_opts++;
    return CNN_OK;
}

cnn_status cnn_cfg_parse(const char *text, size_t len, const char *path, cnn_cfg *cfg,
                         cnn_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->path = dup_range(path, strlen(path));
    if (!cfg->path) return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
    char *buf = malloc(len + 1);
    if (!buf) {
        cnn_cfg_free(cfg);
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
    }
    cnn_status st = CNN_OK;
    size_t pos = 0;
    for (int line = 1; pos < len && st == CNN_OK; line++) {
        size_t end = pos;
        while (end < len && text[end] != '\n') end++;
        size_t n = 0; /* compacted line: whitespace removed, comment cut */
        for (size_t i = pos; i < end; i++) {
            char ch = text[i];
            if (ch == '#' || ch == ';') break;
            if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f') continue;
            if (ch == '\0' || (unsigned char)ch < 0x20 || (unsigned char)ch >= 0x7f) {
                st = cnn_fail(err, CNN_ERR_MODEL, "%s:%d: unexpected byte 0x%02x (cfg files are ASCII text)",
                              path, line, (unsigned char)ch);
                break;
            }
            buf[n++] = ch;
        }
        pos = end + 1;
        if (st != CNN_OK || n == 0) continue;
        if (buf[0] == '[') {
            if (buf[n - 1] != ']' || n < 3)
                st = cnn_fail(err, CNN_ERR_MODEL, "%s:%d: malformed section header '%.*s'", path,
                              line, (int)n, buf);
            else
                st = add_section(cfg, buf + 1, n - 2, line, err);
        } else {
            st = add_option(cfg, buf, n, line, err);
        }
    }
    free(buf);
    if (st == CNN_OK && cfg->n_secs == 0) st = cnn_fail(err, CNN_ERR_MODEL, "%s: no sections", path);
    if (st != CNN_OK) {
        cnn_cfg_free(cfg);
        return st;
    }
    return CNN_OK;
}

void cnn_cfg_free(cnn_cfg *cfg)
{
    if (!cfg) return;
    for (int i = 0; i < cfg->n_secs; i++) {
        cnn_cfg_section *s = &cfg->secs[i];
        for (int j = 0; j < s->n_opts; j++) {
            free(s->opts[j].key);
            free(s->opts[j].val);
        }
        free(s->opts);
        free(s->name);
    }
    free(cfg->secs);
    free(cfg->path);
    memset(cfg, 0, sizeof *cfg);
}

cnn_status cnn_cfg_fail_err(cnn_error *err, const cnn_cfg *cfg, const cnn_cfg_section *s,
                            const cnn_cfg_opt *o, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (o)
        return cnn_fail(err, CNN_ERR_MODEL, "%s:%d: [%s] %s=%s: %s", cfg->path, o->line, s->name,
                        o->key, o->val, what);
    return cnn_fail(err, CNN_ERR_MODEL, "%s:%d: [%s]: %s", cfg->path, s->line, s->name, what);
}

cnn_cfg_opt *cnn_cfg_find(cnn_cfg_section *s, const char *key)
{
    for (int i = 0; i < s->n_opts; i++) {
        if (strcmp(s->opts[i].key, key) == 0) {
            s->opts[i].used = 1;
            return &s->opts[i];
        }
    }
    return NULL;
}

/* Parses one integer from [p, end) fully. */
static int parse_int(const char *p, const char *end, long *v)
{
    if (p == end) return -1;
    char tmp[64];
    size_t n = (size_t)(end - p);
    if (n >= sizeof tmp) return -1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *e;
    errno = 0;
    long x = strtol(tmp, &e, 10);
    if (errno || *e != '\0' || e == tmp) return -1;
    *v = x;
    return 0;
}

static int parse_float(const char *p, const char *end, float *v)
{
    if (p == end) return -1;
    char tmp[64];
    size_t n = (size_t)(end - p);
    if (n >= sizeof tmp) return -1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *e;
    errno = 0;
    float x = strtof(tmp, &e);
    if (errno || *e != '\0' || e == tmp || !isfinite(x)) return -1;
    *v = x;
    return 0;
}

cnn_status cnn_cfg_int(const cnn_cfg *cfg, cnn_cfg_section *s, const char *key, int def, int lo,
                       int hi, int *out, cnn_error *err)
{
    cnn_cfg_opt *o = cnn_cfg_find(s, key);
    if (!o) {
        *out = def;
        return CNN_OK;
    }
    long v;
    if (parse_int(o->val, o->val + strlen(o->val), &v) != 0)
        return cnn_cfg_fail_err(err, cfg, s, o, "not an integer");
    if (v < lo || v > hi)
        return cnn_cfg_fail_err(err, cfg, s, o, "out of range [%d, %d]", lo, hi);
    *out = (int)v;
    return CNN_OK;
}

cnn_status cnn_cfg_float(const cnn_cfg *cfg, cnn_cfg_section *s, const char *key, float def,
                         float lo, float hi, float *out, cnn_error *err)
{
    cnn_cfg_opt *o = cnn_cfg_find(s, key);
    if (!o) {
        *out = def;
        return CNN_OK;
    }
    float v;
    if (parse_float(o->val, o->val + strlen(o->val), &v) != 0)
        return cnn_cfg_fail_err(err, cfg, s, o, "not a number");
    if (v < lo || v > hi) return cnn_cfg_fail_err(err, cfg, s, o, "out of range [%g, %g]", lo, hi);
    *out = v;
    return CNN_OK;
}

/* Walks a comma-separated list, calling parse on each item. A trailing comma is tolerated
 * (darknet cfgs in the wild have them). */
#define LIST_PARSE(parse_fn, T, what)                                                        \
    cnn_cfg_opt *o = cnn_cfg_find(s, key);                                                   \
    *n = 0;                                                                                  \
    if (!o) return CNN_OK;                                                                   \
    const char *p = o->val, *end = o->val + strlen(o->val);                                  \
    while (p < end) {                                                                        \
        const char *q = memchr(p, ',', (size_t)(end - p));                                   \
        if (!q) q = end;                                                                     \
        if (*n >= max) return cnn_cfg_fail_err(err, cfg, s, o, "more than %d values", max);  \
        T v;                                                                                 \
        if (parse_fn(p, q, &v) != 0)                                                         \
            return cnn_cfg_fail_err(err, cfg, s, o, "item %d is not " what, *n + 1);         \
        out[(*n)++] = v;                                                                     \
        p = q + 1;                                                                           \
    }                                                                                        \
    return CNN_OK;

static int parse_int_item(const char *p, const char *end, int *v)
{
    long x;
    if (parse_int(p, end, &x) != 0 || x < INT_MIN || x > INT_MAX) return -1;
    *v = (int)x;
    return 0;
}

cnn_status cnn_cfg_ints(const cnn_cfg *cfg, cnn_cfg_section *s, const char *key, int *out,
                        int max, int *n, cnn_error *err)
{
    LIST_PARSE(parse_int_item, int, "an integer")
}

cnn_status cnn_cfg_floats(const cnn_cfg *cfg, cnn_cfg_section *s, const char *key, float *out,
                          int max, int *n, cnn_error *err)
{
    LIST_PARSE(parse_float, float, "a number")
}

const char *cnn_cfg_str(cnn_cfg_section *s, const char *key, const char *def)
{
    cnn_cfg_opt *o = cnn_cfg_find(s, key);
    return o ? o->val : def;
}

cnn_status cnn_cfg_accept_numbers(const cnn_cfg *cfg, cnn_cfg_section *s, const char *const *keys,
                                  cnn_error *err)
{
    for (; *keys; keys++) {
        cnn_cfg_opt *o = cnn_cfg_find(s, *keys);
        if (!o) continue;
        const char *p = o->val, *end = o->val + strlen(o->val);
        while (p < end) {
            const char *q = memchr(p, ',', (size_t)(end - p));
            if (!q) q = end;
            float v;
            if (parse_float(p, q, &v) != 0) return cnn_cfg_fail_err(err, cfg, s, o, "not a number");
            p = q + 1;
        }
    }
    return CNN_OK;
}

void cnn_cfg_accept_any(cnn_cfg_section *s, const char *const *keys)
{
    for (; *keys; keys++) cnn_cfg_find(s, *keys);
}

cnn_status cnn_cfg_check_unused(const cnn_cfg *cfg, const cnn_cfg_section *s, cnn_error *err)
{
    for (int i = 0; i < s->n_opts; i++) {
        if (!s->opts[i].used)
            return cnn_cfg_fail_err(err, cfg, s, &s->opts[i], "unknown key for [%s]", s->name);
    }
    return CNN_OK;
}
