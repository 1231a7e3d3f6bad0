/* batch.c — see batch.h. */
#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "json.h"
#include "model.h"

int cnn_shard_of(const char *path, int n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
    return (int)(h % (uint64_t)n);
}

int cnn_shard_parse(const char *s, int *i, int *n)
{
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || *end != '/') return -1;
    const char *q = end + 1;
    long b = strtol(q, &end, 10);
    if (end == q || *end || b < 1 || b > 100000 || a < 0 || a >= b) return -1;
    *i = (int)a;
    *n = (int)b;
    return 0;
}

int cnn_jsonl_string(const char *line, const char *key, char *out, size_t n)
{
    /* Our writer puts top-level keys as `{"key": ` or `, "key": `; inside a JSON string a quote is
     * always escaped, so this pattern cannot match within a value. */
    char pat[64];
    const char *p = NULL;
    snprintf(pat, sizeof pat, "{\"%s\": ", key);
    if (strncmp(line, pat, strlen(pat)) == 0) p = line + strlen(pat);
    if (!p) {
        snprintf(pat, sizeof pat, ", \"%s\": ", key);
        p = strstr(line, pat);
        if (!p) return -1;
        p += strlen(pat);
    }
    if (strncmp(p, "null", 4) == 0) return 0;
    if (*p++ != '"') return -1;
    size_t len = 0;
    for (; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\') {
            p++;
            switch (*p) {
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                unsigned v;
                if (sscanf(p + 1, "%4x", &v) != 1) return -1;
                c = (char)v;
                p += 4;
                break;
            }
            case '\0': return -1;
            default: c = *p;
            }
        }
        if (len + 1 < n) out[len++] = c;
    }
    if (*p != '"') return -1;
    out[len] = '\0';
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

cnn_status cnn_resume_load(const char *results_path, cnn_resume *r, cnn_error *err)
{
    memset(r, 0, sizeof *r);
    if (!cnn_is_file(results_path)) return CNN_OK;
    char *text;
    size_t n;
    cnn_status st = cnn_read_file(results_path, (size_t)4 << 30, &text, &n, CNN_ERR_INPUT, err);
    if (st) return st;
    char path[8192], output[8192], error[16];
    for (size_t pos = 0; pos < n && st == CNN_OK;) {
        char *nl = memchr(text + pos, '\n', n - pos);
        if (!nl) break; /* cut short by a kill: not complete */
        *nl = '\0';
        const char *line = text + pos;
        pos = (size_t)(nl - text) + 1;
        size_t len = strlen(line);
        if (len < 2 || line[len - 1] != '}') continue;
        if (cnn_jsonl_string(line, "path", path, sizeof path) != 1) continue;
        if (cnn_jsonl_string(line, "error", error, sizeof error) != 0) continue; /* failed: retry */
        int has_out = cnn_jsonl_string(line, "output", output, sizeof output);
        if (has_out < 0 || (has_out == 1 && !cnn_is_file(output))) continue;
        *nl = '\n';
        char saved = nl[1];
        nl[1] = '\0';
        st = cnn_strlist_push(&r->lines, line, err);
        nl[1] = saved;
        if (st == CNN_OK) st = cnn_strlist_push(&r->done, path, err);
    }
    free(text);
    if (st) {
        cnn_resume_free(r);
        return st;
    }
    if (r->done.n) qsort(r->done.items, r->done.n, sizeof *r->done.items, cmp_str);
    return CNN_OK;
}

int cnn_resume_done(const cnn_resume *r, const char *path)
{
    if (!r->done.n) return 0;
    const char *key = path;
    return bsearch(&key, r->done.items, r->done.n, sizeof *r->done.items, cmp_str) != NULL;
}

void cnn_resume_free(cnn_resume *r)
{
    cnn_strlist_free(&r->lines);
    cnn_strlist_free(&r->done);
}

void cnn_run_settings_line(const cnn_run_settings *s, char *out, size_t n)
{
    const char *sha[3];
    for (int i = 0; i < 3; i++) sha[i] = s->sha256[i] && s->sha256[i][0] ? s->sha256[i] : "-";
    snprintf(out, n, "task %s, cfg sha256 %.12s, weights sha256 %.12s, names sha256 %.12s, conf %.4f, iou %.4f, "
                     "top_k %d, max_det %d, letterbox %s",
             s->task ? s->task : "?", sha[0], sha[1], sha[2], s->conf, s->iou, s->top_k, s->max_det,
             s->letterbox ? "on" : "off");
}

cnn_status cnn_run_settings_load(const char *dir, char *line, size_t n, int *finished, cnn_error *err)
{
    char path[CNN_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/run.json", dir);
    if (!cnn_is_file(path))
        return cnn_fail(err, CNN_ERR_INPUT, "%s: no run.json: not an output folder of detect or classify", dir);
    char *text = NULL;
    size_t len = 0;
    cnn_json j = {0};
    cnn_status st = cnn_read_file(path, 16u << 20, &text, &len, CNN_ERR_INPUT, err);
    if (!st) st = cnn_json_parse(text, len, path, &j, err);
    free(text);
    if (st) return st;
    static const char *const files[] = {"cfg", "weights", "names"};
    const cnn_json *model = cnn_json_get(&j, "model"), *fin = cnn_json_get(&j, "finished"),
                   *intr = cnn_json_get(&j, "interrupted"), *lb = cnn_json_get(&j, "letterbox");
    cnn_run_settings s = {.task = cnn_json_str(cnn_json_get(&j, "task")),
                          .conf = cnn_json_num(cnn_json_get(&j, "conf"), -1),
                          .iou = cnn_json_num(cnn_json_get(&j, "iou"), -1),
                          .top_k = (int)cnn_json_num(cnn_json_get(&j, "top_k"), -1),
                          .max_det = (int)cnn_json_num(cnn_json_get(&j, "max_det"), -1),
                          .letterbox = lb && lb->type == CNN_JSON_BOOL && lb->boolean};
    for (int i = 0; i < 3; i++) s.sha256[i] = cnn_json_str(cnn_json_get(cnn_json_get(model, files[i]), "sha256"));
    cnn_run_settings_line(&s, line, n);
    *finished = fin && fin->type == CNN_JSON_BOOL && fin->boolean && !(intr && intr->boolean);
    cnn_json_free(&j);
    return CNN_OK;
}
