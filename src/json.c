/* json.c — see json.h. Recursive descent over a length-bounded buffer; every allocation checked. */
#include "json.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s;
    size_t len, pos;
    const char *name;
    cnn_error *err;
} parser;

static cnn_status fail_at(parser *p, const char *what)
{
    return cnn_fail(p->err, CNN_ERR_INPUT, "%s: invalid JSON at byte %zu: %s", p->name, p->pos, what);
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
                               p->s[p->pos] == '\r'))
        p->pos++;
}

static int hex4(parser *p, unsigned *out)
{
    if (p->len - p->pos < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        const char c = p->s[p->pos + i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    p->pos += 4;
    *out = v;
    return 0;
}

static size_t put_utf8(unsigned cp, char *o)
{
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), 2;
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* At the opening quote. The unescaped string is never longer than the escaped one. */
static cnn_status parse_string(parser *p, char **out)
{
    p->pos++;
    size_t start = p->pos, end = start;
    while (end < p->len && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len) return fail_at(p, "unterminated string");
    char *o = malloc(end - start + 1);
    if (!o) return cnn_fail(p->err, CNN_ERR_NOMEM, "out of memory");
    size_t k = 0;
    while (p->pos < end) {
        const unsigned char c = (unsigned char)p->s[p->pos];
        if (c < 0x20) {
            free(o);
            return fail_at(p, "control character in string");
        }
        if (c != '\\') {
            o[k++] = (char)c;
            p->pos++;
            continue;
        }
        const char e = p->s[++p->pos];
        p->pos++;
        switch (e) {
        case '"': o[k++] = '"'; break;
        case '\\': o[k++] = '\\'; break;
        case '/': o[k++] = '/'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(p, &cp)) goto bad;
            if (cp == 0) goto bad;
            if (cp >= 0xd800 && cp < 0xdc00) { /* a surrogate pair */
                if (p->pos + 6 > end || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') goto bad;
                p->pos += 2;
                if (hex4(p, &lo) || lo < 0xdc00 || lo > 0xdfff) goto bad;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                goto bad;
            }
            if (cp >= 0x80 && cp <= 0xff) o[k++] = (char)cp; /* a raw byte (json.h) */
            else k += put_utf8(cp, o + k);
            break;
        }
        default: goto bad;
        }
    }
    o[k] = '\0';
    p->pos = end + 1;
    *out = o;
    return CNN_OK;
bad:
    free(o);
    return fail_at(p, "bad escape in string");
}

static cnn_status parse_value(parser *p, cnn_json *v, int depth);

static cnn_status parse_number(parser *p, cnn_json *v)
{
    size_t i = p->pos;
    if (i < p->len && p->s[i] == '-') i++;
    if (i >= p->len || !(p->s[i] >= '0' && p->s[i] <= '9')) return fail_at(p, "expected a value");
    if (p->s[i] == '0') i++;
    else
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9') i++;
    if (i < p->len && p->s[i] == '.') {
        i++;
        if (i >= p->len || !(p->s[i] >= '0' && p->s[i] <= '9')) return fail_at(p, "bad number");
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9') i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (i >= p->len || !(p->s[i] >= '0' && p->s[i] <= '9')) return fail_at(p, "bad number");
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9') i++;
    }
    char buf[64];
    if (i - p->pos >= sizeof buf) return fail_at(p, "number too long");
    memcpy(buf, p->s + p->pos, i - p->pos);
    buf[i - p->pos] = '\0';
    v->type = CNN_JSON_NUM;
    v->num = strtod(buf, NULL);
    p->pos = i;
    return CNN_OK;
}

static int literal(parser *p, const char *word)
{
    const size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) return 0;
    p->pos += n;
    return 1;
}

/* Appends a slot to an array/object under construction. */
static cnn_status grow(parser *p, cnn_json *v, int *cap)
{
    if (v->n < *cap) return CNN_OK;
    const int ncap = *cap ? *cap * 2 : 8;
    cnn_json *items = realloc(v->items, sizeof *items * ncap);
    if (!items) return cnn_fail(p->err, CNN_ERR_NOMEM, "out of memory");
    v->items = items;
    if (v->type == CNN_JSON_OBJ) {
        char **keys = realloc(v->keys, sizeof *keys * ncap);
        if (!keys) return cnn_fail(p->err, CNN_ERR_NOMEM, "out of memory");
        v->keys = keys;
    }
    *cap = ncap;
    return CNN_OK;
}

static cnn_status parse_container(parser *p, cnn_json *v, int depth)
{
    const int obj = p->s[p->pos] == '{';
    const char close = obj ? '}' : ']';
    v->type = obj ? CNN_JSON_OBJ : CNN_JSON_ARR;
    if (depth >= CNN_JSON_MAX_DEPTH) return fail_at(p, "nested too deeply");
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return CNN_OK;
    }
    int cap = 0;
    for (;;) {
        cnn_status st = grow(p, v, &cap);
        if (st) return st;
        cnn_json *item = &v->items[v->n];
        memset(item, 0, sizeof *item);
        if (obj) {
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != '"') return fail_at(p, "expected a key");
            if ((st = parse_string(p, &v->keys[v->n]))) return st;
            v->n++; /* the key is owned now; the value starts out null */
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') return fail_at(p, "expected ':'");
            p->pos++;
            if ((st = parse_value(p, item, depth + 1))) return st;
        } else {
            v->n++;
            if ((st = parse_value(p, item, depth + 1))) return st;
        }
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            return CNN_OK;
        }
        return fail_at(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static cnn_status parse_value(parser *p, cnn_json *v, int depth)
{
    skip_ws(p);
    if (p->pos >= p->len) return fail_at(p, "unexpected end");
    const char c = p->s[p->pos];
    if (c == '{' || c == '[') return parse_container(p, v, depth);
    if (c == '"') {
        v->type = CNN_JSON_STR;
        return parse_string(p, &v->str);
    }
    if (literal(p, "null")) return v->type = CNN_JSON_NULL, CNN_OK;
    if (literal(p, "true")) return v->type = CNN_JSON_BOOL, v->boolean = 1, CNN_OK;
    if (literal(p, "false")) return v->type = CNN_JSON_BOOL, v->boolean = 0, CNN_OK;
    return parse_number(p, v);
}

cnn_status cnn_json_parse(const char *text, size_t len, const char *name, cnn_json *out,
                          cnn_error *err)
{
    memset(out, 0, sizeof *out);
    parser p = {text, len, 0, name, err};
    cnn_status st = parse_value(&p, out, 0);
    if (!st) {
        skip_ws(&p);
        if (p.pos != p.len) st = fail_at(&p, "trailing characters");
    }
    if (st) cnn_json_free(out);
    return st;
}

void cnn_json_free(cnn_json *j)
{
    if (!j) return;
    for (int i = 0; i < j->n; i++) {
        if (j->items) cnn_json_free(&j->items[i]);
        if (j->keys) free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->str);
    memset(j, 0, sizeof *j);
}

const cnn_json *cnn_json_get(const cnn_json *j, const char *key)
{
    if (!j || j->type != CNN_JSON_OBJ) return NULL;
    for (int i = j->n - 1; i >= 0; i--)
        if (strcmp(j->keys[i], key) == 0) return &j->items[i];
    return NULL;
}

double cnn_json_num(const cnn_json *j, double dflt)
{
    return j && j->type == CNN_JSON_NUM ? j->num : dflt;
}

const char *cnn_json_str(const cnn_json *j) { return j && j->type == CNN_JSON_STR ? j->str : NULL; }

int cnn_json_len(const cnn_json *j) { return j && j->type == CNN_JSON_ARR ? j->n : 0; }

const cnn_json *cnn_json_at(const cnn_json *j, int i)
{
    return j && j->type == CNN_JSON_ARR && i >= 0 && i < j->n ? &j->items[i] : NULL;
}
