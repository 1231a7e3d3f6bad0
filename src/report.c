/* report.c — see report.h. Numbers are printed with fixed precision so output is stable. */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cnn_stage_names[CNN_STAGE_COUNT] = {"decode", "preprocess", "forward",
                                                      "postprocess", "draw_encode"};

static int reserve(cnn_sbuf *b, size_t extra)
{
    if (b->oom) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return -1;
    }
    b->s = s;
    b->cap = cap;
    return 0;
}

void cnn_sbuf_printf(cnn_sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n) != 0) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 when it is not one. */
static int utf8_len(const unsigned char *p)
{
    int len = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : 0;
    if (p[0] >= 0xf5) return 0;
    for (int i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if (len == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0))) return 0;
    if (len == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))) return 0;
    return len;
}

void cnn_sbuf_json_string(cnn_sbuf *b, const char *s)
{
    cnn_sbuf_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': cnn_sbuf_printf(b, "\\\""); break;
        case '\\': cnn_sbuf_printf(b, "\\\\"); break;
        case '\n': cnn_sbuf_printf(b, "\\n"); break;
        case '\r': cnn_sbuf_printf(b, "\\r"); break;
        case '\t': cnn_sbuf_printf(b, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                cnn_sbuf_printf(b, "\\u%04x", *p);
            } else if (*p < 0x80) {
                cnn_sbuf_printf(b, "%c", *p);
            } else {
                /* valid UTF-8 passes through; any other byte (a Latin-1 file name, say) becomes
                 * \u00XX so the line stays valid JSON; cnn_jsonl_string maps it back to the byte */
                int len = utf8_len(p);
                if (len) {
                    cnn_sbuf_printf(b, "%.*s", len, (const char *)p);
                    p += len - 1;
                } else {
                    cnn_sbuf_printf(b, "\\u%04x", *p);
                }
            }
        }
    }
    cnn_sbuf_printf(b, "\"");
}

void cnn_sbuf_clear(cnn_sbuf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->s) b->s[0] = '\0';
}

void cnn_sbuf_free(cnn_sbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* {"layer": L, "class_id": C | "detections": [indices], "peak_x": X, "peak_y": Y, "ms": T}:
 * peak null when there is no map, layer null when nothing was explained. */
static void report_explain(cnn_sbuf *b, const cnn_result *r)
{
    const cnn_explanation *e = r->explain;
    if (!e) {
        cnn_sbuf_printf(b, "null");
        return;
    }
    if (e->layer >= 0) cnn_sbuf_printf(b, "{\"layer\": %d, ", e->layer);
    else cnn_sbuf_printf(b, "{\"layer\": null, ");
    if (r->n_top || e->class_id >= 0) {
        if (e->class_id >= 0) cnn_sbuf_printf(b, "\"class_id\": %d", e->class_id);
        else cnn_sbuf_printf(b, "\"class_id\": null");
    } else {
        cnn_sbuf_printf(b, "\"detections\": [");
        for (int i = 0, k = 0; i < r->n_dets; i++)
            if (e->head >= 0 && r->dets[i].layer == e->head) cnn_sbuf_printf(b, "%s%d", k++ ? ", " : "", i);
        cnn_sbuf_printf(b, "]");
    }
    if (e->ok) cnn_sbuf_printf(b, ", \"peak_x\": %.1f, \"peak_y\": %.1f", e->peak_x, e->peak_y);
    else cnn_sbuf_printf(b, ", \"peak_x\": null, \"peak_y\": null");
    cnn_sbuf_printf(b, ", \"ms\": %.3f}", e->ms);
}

void cnn_report_jsonl(cnn_sbuf *b, const cnn_result *r, const cnn_model *m)
{
    char tmp[32];
    cnn_sbuf_printf(b, "{\"path\": ");
    cnn_sbuf_json_string(b, r->path);
    cnn_sbuf_printf(b, ", \"width\": %d, \"height\": %d, \"model\": ", r->width, r->height);
    cnn_sbuf_json_string(b, m->paths.name);
    cnn_sbuf_printf(b, ", \"detections\": [");
    for (int i = 0; i < r->n_dets; i++) {
        const cnn_det *d = &r->dets[i];
        cnn_sbuf_printf(b, "%s{\"class_id\": %d, \"class\": ", i ? ", " : "", d->class_id);
        cnn_sbuf_json_string(b, cnn_model_class_name(m, d->class_id, tmp, sizeof tmp));
        cnn_sbuf_printf(b, ", \"score\": %.4f, \"box\": [%.1f, %.1f, %.1f, %.1f]}", d->score, d->x1,
                        d->y1, d->x2, d->y2);
    }
    cnn_sbuf_printf(b, "], \"classes\": [");
    for (int i = 0; i < r->n_top; i++) {
        cnn_sbuf_printf(b, "%s{\"class_id\": %d, \"class\": ", i ? ", " : "", r->top_ids[i]);
        cnn_sbuf_json_string(b, cnn_model_class_name(m, r->top_ids[i], tmp, sizeof tmp));
        cnn_sbuf_printf(b, ", \"prob\": %.4f}", r->top_p[i]);
    }
    cnn_sbuf_printf(b, "]");
    if (r->explained) {
        cnn_sbuf_printf(b, ", \"explain\": ");
        report_explain(b, r);
    }
    cnn_sbuf_printf(b, ", \"output\": ");
    if (r->output) cnn_sbuf_json_string(b, r->output);
    else cnn_sbuf_printf(b, "null");
    cnn_sbuf_printf(b, ", \"timing_ms\": {");
    for (int s = 0; s < CNN_STAGE_COUNT; s++)
        cnn_sbuf_printf(b, "%s\"%s\": %.3f", s ? ", " : "", cnn_stage_names[s], r->ms[s]);
    cnn_sbuf_printf(b, "}, \"error\": ");
    if (r->error) cnn_sbuf_json_string(b, r->error);
    else cnn_sbuf_printf(b, "null");
    cnn_sbuf_printf(b, "}\n");
}

/* TSV: one row per detection or class: path, kind, class_id, class, score, x1, y1, x2, y2. */
void cnn_report_tsv(cnn_sbuf *b, const cnn_result *r, const cnn_model *m)
{
    char tmp[32];
    if (r->error) {
        cnn_sbuf_printf(b, "%s\terror\t\t%s\t\t\t\t\t\n", r->path, r->error);
        return;
    }
    for (int i = 0; i < r->n_dets; i++) {
        const cnn_det *d = &r->dets[i];
        cnn_sbuf_printf(b, "%s\tdetection\t%d\t%s\t%.4f\t%.1f\t%.1f\t%.1f\t%.1f\n", r->path,
                        d->class_id, cnn_model_class_name(m, d->class_id, tmp, sizeof tmp),
                        d->score, d->x1, d->y1, d->x2, d->y2);
    }
    for (int i = 0; i < r->n_top; i++)
        cnn_sbuf_printf(b, "%s\tclass\t%d\t%s\t%.4f\t\t\t\t\n", r->path, r->top_ids[i],
                        cnn_model_class_name(m, r->top_ids[i], tmp, sizeof tmp), r->top_p[i]);
}

void cnn_report_text(cnn_sbuf *b, const cnn_result *r, const cnn_model *m)
{
    char tmp[32];
    if (r->error) {
        cnn_sbuf_printf(b, "%s: error: %s\n", r->path, r->error);
        return;
    }
    if (r->n_top) {
        cnn_sbuf_printf(b, "%s:", r->path);
        for (int i = 0; i < r->n_top; i++)
            cnn_sbuf_printf(b, "%s %s %.2f", i ? "," : "",
                            cnn_model_class_name(m, r->top_ids[i], tmp, sizeof tmp), r->top_p[i]);
        cnn_sbuf_printf(b, "\n");
    } else {
        cnn_sbuf_printf(b, "%s: %d detection%s\n", r->path, r->n_dets, r->n_dets == 1 ? "" : "s");
        for (int i = 0; i < r->n_dets; i++) {
            const cnn_det *d = &r->dets[i];
            cnn_sbuf_printf(b, "  %-16s %.2f  [%.0f, %.0f, %.0f, %.0f]\n",
                            cnn_model_class_name(m, d->class_id, tmp, sizeof tmp), d->score, d->x1,
                            d->y1, d->x2, d->y2);
        }
    }
    if (r->explain && r->explain->ok)
        cnn_sbuf_printf(b, "  explain: peak at (%.0f, %.0f), layer %d\n", r->explain->peak_x,
                        r->explain->peak_y, r->explain->layer);
}

void cnn_report_csv_header(cnn_sbuf *b)
{
    cnn_sbuf_printf(b, "path,width,height,kind,class_id,class,score,x1,y1,x2,y2,error\n");
}

static void csv_field(cnn_sbuf *b, const char *s)
{
    cnn_sbuf_printf(b, "\"");
    for (; *s; s++) cnn_sbuf_printf(b, *s == '"' ? "\"\"" : "%c", *s);
    cnn_sbuf_printf(b, "\"");
}

void cnn_report_csv(cnn_sbuf *b, const cnn_result *r, const cnn_model *m)
{
    char tmp[32];
    if (r->error || (r->n_dets == 0 && r->n_top == 0)) {
        csv_field(b, r->path);
        cnn_sbuf_printf(b, ",%d,%d,%s,,,,,,,,", r->width, r->height, r->error ? "error" : "none");
        if (r->error) csv_field(b, r->error);
        cnn_sbuf_printf(b, "\n");
        return;
    }
    for (int i = 0; i < r->n_dets; i++) {
        const cnn_det *d = &r->dets[i];
        csv_field(b, r->path);
        cnn_sbuf_printf(b, ",%d,%d,detection,%d,", r->width, r->height, d->class_id);
        csv_field(b, cnn_model_class_name(m, d->class_id, tmp, sizeof tmp));
        cnn_sbuf_printf(b, ",%.4f,%.1f,%.1f,%.1f,%.1f,\n", d->score, d->x1, d->y1, d->x2, d->y2);
    }
    for (int i = 0; i < r->n_top; i++) {
        csv_field(b, r->path);
        cnn_sbuf_printf(b, ",%d,%d,class,%d,", r->width, r->height, r->top_ids[i]);
        csv_field(b, cnn_model_class_name(m, r->top_ids[i], tmp, sizeof tmp));
        cnn_sbuf_printf(b, ",%.4f,,,,,\n", r->top_p[i]);
    }
}

void cnn_report_yolo_txt(cnn_sbuf *b, const cnn_result *r)
{
    for (int i = 0; i < r->n_dets; i++) {
        const cnn_det *d = &r->dets[i];
        cnn_sbuf_printf(b, "%d %.6f %.6f %.6f %.6f\n", d->class_id,
                        (d->x1 + d->x2) / 2 / r->width, (d->y1 + d->y2) / 2 / r->height,
                        (d->x2 - d->x1) / r->width, (d->y2 - d->y1) / r->height);
    }
}
