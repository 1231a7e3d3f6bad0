/* html_report.c — see html_report.h. The page is plain HTML 5 with one inline style sheet;
 * charts are SVG elements written here (no scripts). Reports of runs read the folder's own
 * run.json and results.jsonl back through json.c. */
#include "html_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "inputs.h"
#include "json.h"
#include "model.h"

/* ---- builder ---- */

static const char style[] =
    "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;color:#1d2430;"
    "background:#fafbfc}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dde5;"
    "padding-bottom:4px}.sub{color:#5a6472;margin:0 0 16px}"
    "nav a{margin-right:14px}"
    "table{border-collapse:collapse;background:#fff;margin:6px 0}"
    "th,td{border:1px solid #d8dde5;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#eef1f5}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "table.kv th{width:13em}"
    "tr.failed td,tr.failure td{background:#fff1f0}"
    ".gallery{display:flex;flex-wrap:wrap;gap:10px}"
    ".gallery figure{margin:0;width:" "244px;background:#fff;border:1px solid #d8dde5;padding:4px}"
    ".gallery img{display:block;max-width:240px;max-height:240px;margin:auto}"
    ".gallery figcaption{font-size:12px;word-break:break-all;color:#3a4350}"
    "figure.fig img{max-width:100%;border:1px solid #d8dde5;background:#fff}"
    "svg.chart{background:#fff;border:1px solid #d8dde5;margin:6px 12px 6px 0}"
    "svg.chart text{font:12px system-ui,sans-serif;fill:#1d2430}"
    ".charts{display:flex;flex-wrap:wrap}"
    "table.confusion td{text-align:right;min-width:3em}"
    "code{font-size:12px}";

void cnn_html_text(cnn_sbuf *b, const char *s)
{
    if (!s) return;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': cnn_sbuf_printf(b, "&amp;"); break;
        case '<': cnn_sbuf_printf(b, "&lt;"); break;
        case '>': cnn_sbuf_printf(b, "&gt;"); break;
        case '"': cnn_sbuf_printf(b, "&quot;"); break;
        case '\'': cnn_sbuf_printf(b, "&#39;"); break;
        default:
            if (*p < 0x20 && *p != '\n' && *p != '\t') {
                cnn_sbuf_printf(b, "\xef\xbf\xbd");
            } else if (*p < 0x80) {
                cnn_sbuf_printf(b, "%c", *p);
            } else {
                /* well-formed UTF-8 passes; any other byte shows as U+FFFD */
                int len = *p >= 0xc2 && *p <= 0xdf ? 2 : *p >= 0xe0 && *p <= 0xef ? 3 : *p >= 0xf0 && *p <= 0xf4 ? 4 : 0;
                for (int i = 1; i < len; i++)
                    if ((p[i] & 0xc0) != 0x80) len = 0;
                if (len == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0))) len = 0;
                if (len == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))) len = 0;
                if (len) {
                    cnn_sbuf_printf(b, "%.*s", len, (const char *)p);
                    p += len - 1;
                } else {
                    cnn_sbuf_printf(b, "\xef\xbf\xbd");
                }
            }
        }
    }
}

void cnn_html_para(cnn_sbuf *b, const char *s)
{
    cnn_sbuf_printf(b, "<p>");
    cnn_html_text(b, s);
    cnn_sbuf_printf(b, "</p>\n");
}

void cnn_html_url(cnn_sbuf *b, const char *rel)
{
    for (const unsigned char *p = (const unsigned char *)rel; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~' || *p == '/')
            cnn_sbuf_printf(b, "%c", *p);
        else
            cnn_sbuf_printf(b, "%%%02X", *p);
    }
}

void cnn_html_begin(cnn_sbuf *b, const char *title, const char *subtitle)
{
    cnn_sbuf_printf(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                       "<title>");
    cnn_html_text(b, title);
    cnn_sbuf_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", style);
    cnn_html_text(b, title);
    cnn_sbuf_printf(b, "</h1>\n");
    if (subtitle) {
        cnn_sbuf_printf(b, "<p class=\"sub\">");
        cnn_html_text(b, subtitle);
        cnn_sbuf_printf(b, "</p>\n");
    }
}

void cnn_html_section(cnn_sbuf *b, const char *id, const char *heading)
{
    cnn_sbuf_printf(b, "<h2 id=\"");
    for (const char *p = id; *p; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-')
            cnn_sbuf_printf(b, "%c", *p);
    cnn_sbuf_printf(b, "\">");
    cnn_html_text(b, heading);
    cnn_sbuf_printf(b, "</h2>\n");
}

void cnn_html_kv(cnn_sbuf *b, const char *const *keys, const char *const *vals, int n)
{
    cnn_sbuf_printf(b, "<table class=\"kv\">\n");
    for (int i = 0; i < n; i++) {
        cnn_sbuf_printf(b, "<tr><th>");
        cnn_html_text(b, keys[i]);
        cnn_sbuf_printf(b, "</th><td>");
        cnn_html_text(b, vals[i]);
        cnn_sbuf_printf(b, "</td></tr>\n");
    }
    cnn_sbuf_printf(b, "</table>\n");
}

void cnn_html_table(cnn_sbuf *b, const char *cls, const char *const *head, int ncols,
                    const char *const *cells, int nrows)
{
    cnn_sbuf_printf(b, "<table class=\"%s\">\n<thead><tr>", cls);
    for (int c = 0; c < ncols; c++) {
        cnn_sbuf_printf(b, "<th>");
        cnn_html_text(b, head[c]);
        cnn_sbuf_printf(b, "</th>");
    }
    cnn_sbuf_printf(b, "</tr></thead>\n<tbody>\n");
    for (int r = 0; r < nrows; r++) {
        cnn_sbuf_printf(b, "<tr class=\"row\">");
        for (int c = 0; c < ncols; c++) {
            const char *s = cells[(size_t)r * ncols + c];
            const int num = s && s[0] == '\x01';
            cnn_sbuf_printf(b, num ? "<td class=\"n\">" : "<td>");
            cnn_html_text(b, num ? s + 1 : s);
            cnn_sbuf_printf(b, "</td>");
        }
        cnn_sbuf_printf(b, "</tr>\n");
    }
    cnn_sbuf_printf(b, "</tbody></table>\n");
}

void cnn_html_bars(cnn_sbuf *b, const char *title, const char *const *labels, const double *values,
                   int n, const char *fmt, const char *unit)
{
    const int label_w = 150, bar_w = 300, value_w = 90, row_h = 22, top = 28;
    const int width = label_w + bar_w + value_w + 16, height = top + n * row_h + 8;
    double mx = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(values[i]) && values[i] > mx) mx = values[i];
    cnn_sbuf_printf(b, "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                       "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
                    width, height, width, height);
    cnn_html_text(b, title);
    cnn_sbuf_printf(b, "\"><text x=\"8\" y=\"18\" font-weight=\"bold\">");
    cnn_html_text(b, title);
    cnn_sbuf_printf(b, "</text>\n");
    for (int i = 0; i < n; i++) {
        const int y = top + i * row_h;
        const double v = values[i];
        const double w = isfinite(v) && v > 0 && mx > 0 ? v / mx * bar_w : 0;
        char num[64];
        if (isfinite(v)) snprintf(num, sizeof num, fmt, v);
        else snprintf(num, sizeof num, "n/a");
        cnn_sbuf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w, y + 15);
        cnn_html_text(b, labels[i]);
        cnn_sbuf_printf(b, "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#4a7bd0\"/>"
                           "<text x=\"%.1f\" y=\"%d\">",
                        label_w + 6, y + 3, w, row_h - 6, label_w + 10 + w, y + 15);
        cnn_html_text(b, num);
        if (unit && isfinite(v)) cnn_html_text(b, unit);
        cnn_sbuf_printf(b, "</text>\n");
    }
    cnn_sbuf_printf(b, "</svg>\n");
}

void cnn_html_confusion(cnn_sbuf *b, const char *const *names, int k, const long long *cm)
{
    cnn_sbuf_printf(b, "<table class=\"confusion\">\n<thead><tr><th>true \\ predicted</th>");
    for (int p = 0; p < k; p++) {
        cnn_sbuf_printf(b, "<th>");
        cnn_html_text(b, names[p]);
        cnn_sbuf_printf(b, "</th>");
    }
    cnn_sbuf_printf(b, "<th>total</th></tr></thead>\n<tbody>\n");
    for (int t = 0; t < k; t++) {
        long long row = 0;
        for (int p = 0; p < k; p++) row += cm[(size_t)t * k + p];
        cnn_sbuf_printf(b, "<tr class=\"row\"><th>");
        cnn_html_text(b, names[t]);
        cnn_sbuf_printf(b, "</th>");
        for (int p = 0; p < k; p++) {
            const long long v = cm[(size_t)t * k + p];
            const double share = row ? (double)v / row : 0;
            /* the diagonal in green, errors in red, more opaque for a larger share of the row */
            cnn_sbuf_printf(b, "<td style=\"background:rgba(%s,%.2f)\">%lld</td>",
                            t == p ? "40,160,80" : "220,60,50", v ? 0.08 + 0.6 * share : 0.0, v);
        }
        cnn_sbuf_printf(b, "<td class=\"n\">%lld</td></tr>\n", row);
    }
    cnn_sbuf_printf(b, "</tbody></table>\n");
}

void cnn_html_figure(cnn_sbuf *b, const char *rel_src, const char *caption)
{
    cnn_sbuf_printf(b, "<figure class=\"fig\"><a href=\"");
    cnn_html_url(b, rel_src);
    cnn_sbuf_printf(b, "\"><img src=\"");
    cnn_html_url(b, rel_src);
    cnn_sbuf_printf(b, "\" alt=\"");
    cnn_html_text(b, caption);
    cnn_sbuf_printf(b, "\"></a><figcaption>");
    cnn_html_text(b, caption);
    cnn_sbuf_printf(b, "</figcaption></figure>\n");
}

cnn_status cnn_html_finish(cnn_sbuf *b, const char *dir, cnn_error *err)
{
    cnn_sbuf_printf(b, "<p class=\"sub\">Written by cnndemo %s.</p>\n</body>\n</html>\n", CNN_VERSION);
    char path[CNN_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/report.html", dir);
    if (b->oom) return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
    return cnn_write_file_atomic(path, b->s, b->len, err);
}

/* ---- thumbnails ---- */

void cnn_html_thumb_path(const char *dir, const char *input, char *out, size_t n)
{
    char sub[CNN_PATH_MAX + 16];
    snprintf(sub, sizeof sub, "%s/thumbs", dir);
    cnn_output_path(sub, input, NULL, out, n);
    const size_t len = strlen(out);
    snprintf(out + len, n - len, ".jpg");
}

cnn_status cnn_html_write_thumbnail(const cnn_rgb8 *img, const char *dir, const char *input,
                                    cnn_error *err)
{
    const int side = img->w > img->h ? img->w : img->h;
    const double s = side > CNN_HTML_THUMB_SIDE ? (double)CNN_HTML_THUMB_SIDE / side : 1.0;
    int tw = (int)lround(img->w * s), th = (int)lround(img->h * s);
    tw = tw < 1 ? 1 : tw, th = th < 1 ? 1 : th;
    cnn_rgb8 t = {0};
    cnn_status st = cnn_rgb8_alloc(&t, tw, th, err);
    if (st) return st;
    /* box filter: each thumbnail pixel is the mean of the source pixels it covers */
    for (int y = 0; y < th; y++) {
        int y0 = (int)((long long)y * img->h / th), y1 = (int)((long long)(y + 1) * img->h / th);
        if (y1 <= y0) y1 = y0 + 1;
        for (int x = 0; x < tw; x++) {
            int x0 = (int)((long long)x * img->w / tw), x1 = (int)((long long)(x + 1) * img->w / tw);
            if (x1 <= x0) x1 = x0 + 1;
            unsigned long sum[3] = {0, 0, 0}, cnt = (unsigned long)(y1 - y0) * (x1 - x0);
            for (int yy = y0; yy < y1; yy++) {
                const uint8_t *row = img->px + ((size_t)yy * img->w + x0) * 3;
                for (int xx = 0; xx < x1 - x0; xx++)
                    for (int k = 0; k < 3; k++) sum[k] += row[3 * xx + k];
            }
            for (int k = 0; k < 3; k++) t.px[((size_t)y * tw + x) * 3 + k] = (uint8_t)((sum[k] + cnt / 2) / cnt);
        }
    }
    uint8_t *enc = NULL;
    size_t n = 0;
    char path[CNN_PATH_MAX + 64];
    cnn_html_thumb_path(dir, input, path, sizeof path);
    st = cnn_image_encode(&t, CNN_FMT_JPEG, 85, &enc, &n, err);
    if (!st) st = cnn_mkdirs_for(path, err);
    if (!st) st = cnn_write_file_atomic(path, enc, n, err);
    free(enc);
    cnn_rgb8_free(&t);
    return st;
}

/* ---- run report ---- */

typedef struct {
    cnn_json run;      /* run.json */
    cnn_json *rows;    /* results.jsonl, one object per input */
    int n_rows, bad_lines;
    int n_failed, has_explain, classify;
} run_data;

static void run_data_free(run_data *d)
{
    cnn_json_free(&d->run);
    for (int i = 0; i < d->n_rows; i++) cnn_json_free(&d->rows[i]);
    free(d->rows);
}

static cnn_status load_run(const char *dir, run_data *d, cnn_error *err)
{
    char path[CNN_PATH_MAX + 32], *text = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/run.json", dir);
    cnn_status st = cnn_read_file(path, 64u << 20, &text, &n, CNN_ERR_OUTPUT, err);
    if (!st) st = cnn_json_parse(text, n, path, &d->run, err);
    free(text);
    if (st) return st;
    const char *task = cnn_json_str(cnn_json_get(&d->run, "task"));
    d->classify = task && strcmp(task, "classify") == 0;
    snprintf(path, sizeof path, "%s/results.jsonl", dir);
    if ((st = cnn_read_file(path, (size_t)4 << 30, &text, &n, CNN_ERR_OUTPUT, err))) return st;
    int cap = 0;
    for (char *line = text, *end; line < text + n; line = end + 1) {
        end = memchr(line, '\n', (size_t)(text + n - line));
        if (!end) break; /* a line cut short by a kill: not a result */
        cnn_json row;
        cnn_error ignore = {0};
        if (cnn_json_parse(line, (size_t)(end - line), path, &row, &ignore) != CNN_OK ||
            row.type != CNN_JSON_OBJ || !cnn_json_str(cnn_json_get(&row, "path"))) {
            cnn_json_free(&row);
            d->bad_lines++;
            continue;
        }
        if (d->n_rows == cap) {
            cap = cap ? cap * 2 : 64;
            cnn_json *rows = realloc(d->rows, sizeof *rows * cap);
            if (!rows) {
                cnn_json_free(&row);
                free(text);
                return cnn_fail(err, CNN_ERR_NOMEM, "out of memory for the report");
            }
            d->rows = rows;
        }
        if (cnn_json_str(cnn_json_get(&row, "error"))) d->n_failed++;
        if (cnn_json_get(&row, "explain")) d->has_explain = 1;
        d->rows[d->n_rows++] = row;
    }
    free(text);
    return CNN_OK;
}

static const char *js(const cnn_json *obj, const char *key, const char *dflt)
{
    const char *s = cnn_json_str(cnn_json_get(obj, key));
    return s ? s : dflt;
}

/* "face 0.87, face 0.65" (at most max entries, then "... (N in all)") */
static void result_summary(cnn_sbuf *b, const cnn_json *row, int classify, int max)
{
    const cnn_json *list = cnn_json_get(row, classify ? "classes" : "detections");
    const int n = cnn_json_len(list);
    if (n == 0) {
        cnn_sbuf_printf(b, classify ? "-" : "nothing found");
        return;
    }
    for (int i = 0; i < n && i < max; i++) {
        const cnn_json *e = cnn_json_at(list, i);
        cnn_sbuf_printf(b, "%s", i ? ", " : "");
        cnn_html_text(b, js(e, "class", "?"));
        cnn_sbuf_printf(b, " %.2f", cnn_json_num(cnn_json_get(e, classify ? "prob" : "score"), 0));
    }
    if (n > max) cnn_sbuf_printf(b, ", &hellip; (%d in all)", n);
}

static void run_summary(cnn_sbuf *b, const run_data *d)
{
    const cnn_json *r = &d->run, *model = cnn_json_get(r, "model");
    char vals[12][CNN_PATH_MAX + 96];
    const char *keys[12];
    int n = 0;
    cnn_sbuf cmd = {0};
    const cnn_json *argv = cnn_json_get(r, "command");
    for (int i = 0; i < cnn_json_len(argv); i++) {
        const char *a = cnn_json_str(cnn_json_at(argv, i));
        cnn_sbuf_printf(&cmd, "%s%s", i ? " " : "", a ? a : "?");
    }
    keys[n] = "command";
    snprintf(vals[n++], sizeof vals[0], "%s", cmd.s ? cmd.s : "");
    cnn_sbuf_free(&cmd);
    keys[n] = "model";
    snprintf(vals[n++], sizeof vals[0], "%s", js(model, "name", "?"));
    const char *files[3] = {"cfg", "weights", "names"};
    for (int i = 0; i < 3; i++) {
        const cnn_json *f = cnn_json_get(model, files[i]);
        if (!f || f->type != CNN_JSON_OBJ) continue;
        keys[n] = files[i];
        snprintf(vals[n++], sizeof vals[0], "%s (sha256 %.16s…)", js(f, "path", "?"), js(f, "sha256", "?"));
    }
    keys[n] = "results";
    snprintf(vals[n++], sizeof vals[0], "%d inputs in results.jsonl: %d ok, %d failed%s", d->n_rows,
             d->n_rows - d->n_failed, d->n_failed, d->bad_lines ? " (plus unreadable lines)" : "");
    const cnn_json *fin = cnn_json_get(r, "finished"), *intr = cnn_json_get(r, "interrupted");
    keys[n] = "this run";
    snprintf(vals[n++], sizeof vals[0],
             "%.0f processed, %.0f failed, %.0f skipped (--resume), %.0f not started; %s, started %s",
             cnn_json_num(cnn_json_get(r, "processed"), 0), cnn_json_num(cnn_json_get(r, "failed"), 0),
             cnn_json_num(cnn_json_get(r, "skipped_resume"), 0), cnn_json_num(cnn_json_get(r, "not_started"), 0),
             intr && intr->boolean ? "INTERRUPTED" : (fin && fin->boolean ? "finished" : "not finished"),
             js(r, "started", "?"));
    keys[n] = "throughput";
    snprintf(vals[n++], sizeof vals[0], "%.2f s wall, %.2f images/s, %.0f worker(s) x %.0f BLAS thread(s) (%s)",
             cnn_json_num(cnn_json_get(r, "wall_s"), 0), cnn_json_num(cnn_json_get(r, "images_per_s"), 0),
             cnn_json_num(cnn_json_get(r, "workers"), 0), cnn_json_num(cnn_json_get(r, "blas_threads"), 0),
             js(r, "blas_core", "?"));
    keys[n] = "thresholds";
    if (d->classify) snprintf(vals[n++], sizeof vals[0], "top-%.0f", cnn_json_num(cnn_json_get(r, "top_k"), 0));
    else
        snprintf(vals[n++], sizeof vals[0], "score > %.2f, NMS IoU %.2f",
                 cnn_json_num(cnn_json_get(r, "conf"), 0), cnn_json_num(cnn_json_get(r, "iou"), 0));
    const char *kp[12], *vp[12];
    for (int i = 0; i < n; i++) kp[i] = keys[i], vp[i] = vals[i];
    cnn_html_kv(b, kp, vp, n);
}

static void run_timing(cnn_sbuf *b, const run_data *d)
{
    const cnn_json *t = cnn_json_get(&d->run, "timing_ms");
    const cnn_json *first = cnn_json_get(t, "first"), *steady = cnn_json_get(t, "steady_mean");
    const int has_steady = cnn_json_num(cnn_json_get(&d->run, "processed"), 0) > 1;
    char cells[CNN_STAGE_COUNT + 1][3][48];
    const char *cp[(CNN_STAGE_COUNT + 1) * 3], *labels[CNN_STAGE_COUNT];
    double vals[CNN_STAGE_COUNT], tf = 0, ts = 0;
    for (int s = 0; s <= CNN_STAGE_COUNT; s++) {
        double f, m;
        if (s < CNN_STAGE_COUNT) {
            f = cnn_json_num(cnn_json_get(first, cnn_stage_names[s]), NAN);
            m = cnn_json_num(cnn_json_get(steady, cnn_stage_names[s]), NAN);
            tf += isfinite(f) ? f : 0, ts += isfinite(m) ? m : 0;
            labels[s] = cnn_stage_names[s];
            vals[s] = has_steady ? m : f;
            snprintf(cells[s][0], sizeof cells[s][0], "%s", cnn_stage_names[s]);
        } else {
            f = tf, m = ts;
            snprintf(cells[s][0], sizeof cells[s][0], "total");
        }
        snprintf(cells[s][1], sizeof cells[s][1], "\x01%.2f", f);
        if (has_steady) snprintf(cells[s][2], sizeof cells[s][2], "\x01%.2f", m);
        else snprintf(cells[s][2], sizeof cells[s][2], "\x01-");
        for (int c = 0; c < 3; c++) cp[s * 3 + c] = cells[s][c];
    }
    const char *head[3] = {"stage", "first image (ms)", "steady state, mean (ms)"};
    cnn_html_table(b, "timing", head, 3, cp, CNN_STAGE_COUNT + 1);
    cnn_html_bars(b, has_steady ? "Time per image by stage (steady state)" : "Time per image by stage (first image)",
                  labels, vals, CNN_STAGE_COUNT, "%.2f", " ms");
}

static void run_charts(cnn_sbuf *b, const run_data *d)
{
    cnn_sbuf_printf(b, "<div class=\"charts\">\n");
    if (d->classify) {
        /* top-1 class counts, in order of first appearance, most frequent first */
        int cap = 16, n = 0;
        const char **names = malloc(sizeof *names * cap);
        double *counts = malloc(sizeof *counts * cap);
        for (int i = 0; names && counts && i < d->n_rows; i++) {
            const char *c = js(cnn_json_at(cnn_json_get(&d->rows[i], "classes"), 0), "class", NULL);
            if (!c) continue;
            int k = 0;
            while (k < n && strcmp(names[k], c) != 0) k++;
            if (k == n) {
                if (n == cap) {
                    cap *= 2;
                    const char **nn = realloc(names, sizeof *names * cap);
                    double *nc = nn ? realloc(counts, sizeof *counts * cap) : NULL;
                    if (nn) names = nn;
                    if (nc) counts = nc;
                    if (!nn || !nc) break;
                }
                names[n] = c, counts[n++] = 0;
            }
            counts[k]++;
        }
        for (int i = 1; names && counts && i < n; i++) /* insertion sort, descending, stable */
            for (int j = i; j > 0 && counts[j] > counts[j - 1]; j--) {
                const double tc = counts[j];
                const char *tn = names[j];
                counts[j] = counts[j - 1], names[j] = names[j - 1];
                counts[j - 1] = tc, names[j - 1] = tn;
            }
        if (names && counts) cnn_html_bars(b, "Top-1 class (images)", names, counts, n < 30 ? n : 30, "%.0f", "");
        else b->oom = 1;
        free(names);
        free(counts);
    } else {
        static const char *const nlabels[] = {"0", "1", "2", "3", "4", "5", "6-9", "10+"};
        static const char *const slabels[] = {"0.0-0.1", "0.1-0.2", "0.2-0.3", "0.3-0.4", "0.4-0.5",
                                              "0.5-0.6", "0.6-0.7", "0.7-0.8", "0.8-0.9", "0.9-1.0"};
        double per[8] = {0}, scores[10] = {0};
        for (int i = 0; i < d->n_rows; i++) {
            if (cnn_json_str(cnn_json_get(&d->rows[i], "error"))) continue;
            const cnn_json *dets = cnn_json_get(&d->rows[i], "detections");
            const int n = cnn_json_len(dets);
            per[n <= 5 ? n : (n < 10 ? 6 : 7)]++;
            for (int k = 0; k < n; k++) {
                const double s = cnn_json_num(cnn_json_get(cnn_json_at(dets, k), "score"), 0);
                int bin = (int)(s * 10);
                scores[bin < 0 ? 0 : (bin > 9 ? 9 : bin)]++;
            }
        }
        cnn_html_bars(b, "Detections per image (images)", nlabels, per, 8, "%.0f", "");
        cnn_html_bars(b, "Detection scores (detections)", slabels, scores, 10, "%.0f", "");
    }
    cnn_sbuf_printf(b, "</div>\n");
}

/* Relative links of an input's annotated image and thumbnail, if those files exist. */
static void row_links(const char *dir, const char *input, char *img, char *thumb, size_t n)
{
    char full[CNN_PATH_MAX + 96];
    img[0] = thumb[0] = '\0';
    cnn_output_path("images", input, NULL, img, n);
    snprintf(full, sizeof full, "%s/%s", dir, img);
    if (!cnn_is_file(full)) {
        img[0] = '\0';
        return;
    }
    cnn_html_thumb_path(".", input, full, sizeof full);
    snprintf(thumb, n, "%s", full + 2); /* drop "./" */
    snprintf(full, sizeof full, "%s/%s", dir, thumb);
    if (!cnn_is_file(full)) snprintf(thumb, n, "%s", img); /* no thumbnail: the image itself */
}

static void run_gallery_and_rows(cnn_sbuf *b, const run_data *d, const char *dir)
{
    char img[CNN_PATH_MAX + 64], thumb[CNN_PATH_MAX + 64];
    int shown = 0, total = 0;
    for (int i = 0; i < d->n_rows; i++) total += !cnn_json_str(cnn_json_get(&d->rows[i], "error"));
    cnn_html_section(b, "gallery", "Images");
    if (total > CNN_HTML_MAX_GALLERY)
        cnn_sbuf_printf(b, "<p>The first %d of %d images; the results table lists every input.</p>\n",
                        CNN_HTML_MAX_GALLERY, total);
    cnn_sbuf_printf(b, "<div class=\"gallery\">\n");
    for (int i = 0; i < d->n_rows && shown < CNN_HTML_MAX_GALLERY; i++) {
        const char *path = js(&d->rows[i], "path", "");
        if (cnn_json_str(cnn_json_get(&d->rows[i], "error"))) continue;
        row_links(dir, path, img, thumb, sizeof img);
        if (!img[0]) continue;
        cnn_sbuf_printf(b, "<figure><a href=\"");
        cnn_html_url(b, img);
        cnn_sbuf_printf(b, "\"><img class=\"thumb\" loading=\"lazy\" src=\"");
        cnn_html_url(b, thumb);
        cnn_sbuf_printf(b, "\" alt=\"");
        cnn_html_text(b, path);
        cnn_sbuf_printf(b, "\"></a><figcaption><a href=\"#r%d\">", i + 1);
        cnn_html_text(b, path);
        cnn_sbuf_printf(b, "</a><br>");
        result_summary(b, &d->rows[i], d->classify, 3);
        cnn_sbuf_printf(b, "</figcaption></figure>\n");
        shown++;
    }
    if (shown == 0) cnn_sbuf_printf(b, "<p>No annotated images (--no-images, or every input failed).</p>\n");
    cnn_sbuf_printf(b, "</div>\n");

    cnn_html_section(b, "results", "Results");
    cnn_sbuf_printf(b, "<table class=\"results\">\n<thead><tr><th>#</th><th>input</th><th>size</th><th>%s</th>%s"
                       "<th>forward (ms)</th><th>total (ms)</th><th>status</th></tr></thead>\n<tbody>\n",
                    d->classify ? "top classes" : "detections", d->has_explain ? "<th>explain peak (x, y)</th>" : "");
    for (int i = 0; i < d->n_rows; i++) {
        const cnn_json *row = &d->rows[i];
        const char *path = js(row, "path", ""), *error = cnn_json_str(cnn_json_get(row, "error"));
        cnn_sbuf_printf(b, "<tr class=\"result %s\" id=\"r%d\"><td class=\"n\">%d</td><td>", error ? "failed" : "ok",
                        i + 1, i + 1);
        row_links(dir, path, img, thumb, sizeof img);
        if (img[0]) {
            cnn_sbuf_printf(b, "<a href=\"");
            cnn_html_url(b, img);
            cnn_sbuf_printf(b, "\">");
        }
        cnn_html_text(b, path);
        cnn_sbuf_printf(b, "%s</td>", img[0] ? "</a>" : "");
        if (error) {
            cnn_sbuf_printf(b, "<td></td><td>");
            cnn_html_text(b, error);
            cnn_sbuf_printf(b, "</td>%s<td></td><td></td><td>failed</td></tr>\n", d->has_explain ? "<td></td>" : "");
            continue;
        }
        cnn_sbuf_printf(b, "<td class=\"n\">%.0f&times;%.0f</td><td>", cnn_json_num(cnn_json_get(row, "width"), 0),
                        cnn_json_num(cnn_json_get(row, "height"), 0));
        result_summary(b, row, d->classify, 5);
        cnn_sbuf_printf(b, "</td>");
        if (d->has_explain) {
            const cnn_json *e = cnn_json_get(row, "explain");
            const cnn_json *px = cnn_json_get(e, "peak_x"), *py = cnn_json_get(e, "peak_y");
            if (px && px->type == CNN_JSON_NUM && py && py->type == CNN_JSON_NUM)
                cnn_sbuf_printf(b, "<td class=\"n\">%.0f, %.0f</td>", px->num, py->num);
            else
                cnn_sbuf_printf(b, "<td>-</td>");
        }
        const cnn_json *t = cnn_json_get(row, "timing_ms");
        double total_ms = 0;
        for (int s = 0; s < CNN_STAGE_COUNT; s++) total_ms += cnn_json_num(cnn_json_get(t, cnn_stage_names[s]), 0);
        cnn_sbuf_printf(b, "<td class=\"n\">%.2f</td><td class=\"n\">%.2f</td><td>ok</td></tr>\n",
                        cnn_json_num(cnn_json_get(t, "forward"), 0), total_ms);
    }
    cnn_sbuf_printf(b, "</tbody></table>\n");

    cnn_html_section(b, "failures", "Failures");
    if (d->n_failed == 0) {
        cnn_sbuf_printf(b, "<p>None.</p>\n");
    } else {
        cnn_sbuf_printf(b, "<table class=\"failures\">\n<thead><tr><th>input</th><th>reason</th></tr></thead>\n<tbody>\n");
        for (int i = 0; i < d->n_rows; i++) {
            const char *error = cnn_json_str(cnn_json_get(&d->rows[i], "error"));
            if (!error) continue;
            cnn_sbuf_printf(b, "<tr class=\"failure\"><td><a href=\"#r%d\">", i + 1);
            cnn_html_text(b, js(&d->rows[i], "path", ""));
            cnn_sbuf_printf(b, "</a></td><td>");
            cnn_html_text(b, error);
            cnn_sbuf_printf(b, "</td></tr>\n");
        }
        cnn_sbuf_printf(b, "</tbody></table>\n");
    }
    if (d->bad_lines)
        cnn_sbuf_printf(b, "<p>%d line%s of results.jsonl could not be read (cut short by a kill?) and %s "
                           "not shown.</p>\n",
                        d->bad_lines, d->bad_lines == 1 ? "" : "s", d->bad_lines == 1 ? "is" : "are");
}

cnn_status cnn_html_write_run(const char *dir, cnn_error *err)
{
    run_data d = {0};
    cnn_status st = load_run(dir, &d, err);
    if (st) {
        run_data_free(&d);
        return st;
    }
    cnn_sbuf b = {0};
    char title[512], sub[256];
    snprintf(title, sizeof title, "cnndemo %s — %s", d.classify ? "classify" : "detect",
             js(cnn_json_get(&d.run, "model"), "name", "?"));
    snprintf(sub, sizeof sub, "%d input%s, %d failed%s — started %s", d.n_rows, d.n_rows == 1 ? "" : "s",
             d.n_failed, d.has_explain ? " — with Grad-CAM heatmaps (--explain)" : "",
             js(&d.run, "started", "?"));
    cnn_html_begin(&b, title, sub);
    cnn_sbuf_printf(&b, "<nav><a href=\"#summary\">Summary</a><a href=\"#timing\">Timing</a>"
                        "<a href=\"#charts\">Charts</a><a href=\"#gallery\">Images</a>"
                        "<a href=\"#results\">Results</a><a href=\"#failures\">Failures (%d)</a></nav>\n",
                    d.n_failed);
    cnn_html_section(&b, "summary", "Summary");
    run_summary(&b, &d);
    if (d.has_explain)
        cnn_html_para(&b, "Heatmaps: Grad-CAM on the last rectifier-activated convolutional layer, from the "
                          "gradient of the top class's logit (classify) or of the objectness and class logits "
                          "of the strongest detection's head (detect); red is where the output came from.");
    cnn_html_section(&b, "timing", "Timing");
    run_timing(&b, &d);
    cnn_html_section(&b, "charts", "Charts");
    run_charts(&b, &d);
    run_gallery_and_rows(&b, &d, dir);
    st = cnn_html_finish(&b, dir, err);
    cnn_sbuf_free(&b);
    run_data_free(&d);
    return st;
}

/* ---- val ---- */

static void num_cell(char *buf, size_t n, double v, const char *fmt)
{
    buf[0] = '\x01';
    if (isfinite(v)) snprintf(buf + 1, n - 1, fmt, v);
    else snprintf(buf + 1, n - 1, "n/a");
}

cnn_status cnn_html_write_val(const char *dir, const cnn_html_val *v, cnn_error *err)
{
    cnn_sbuf b = {0};
    char title[512], sub[512];
    snprintf(title, sizeof title, "cnndemo val — %s", v->model ? v->model : "?");
    snprintf(sub, sizeof sub, "%s%s%s%s — %lld images, %d classes", v->dataset ? v->dataset : "",
             v->split ? " (split " : "", v->split ? v->split : "", v->split ? ")" : "", v->n_samples, v->k);
    cnn_html_begin(&b, title, sub);
    cnn_html_section(&b, "metrics", "Metrics");
    const int nm = v->n_metrics;
    char (*cells)[2][64] = calloc(nm > 0 ? (size_t)nm : 1, sizeof *cells);
    const char **cp = calloc(2 * (size_t)(nm > 0 ? nm : 1), sizeof *cp);
    double *chart = calloc(nm > 0 ? (size_t)nm : 1, sizeof *chart);
    const char **chart_names = calloc(nm > 0 ? (size_t)nm : 1, sizeof *chart_names);
    if (!cells || !cp || !chart || !chart_names) {
        b.oom = 1;
    } else {
        int nc = 0;
        for (int i = 0; i < nm; i++) {
            snprintf(cells[i][0], sizeof cells[i][0], "%s", v->metric_names[i]);
            num_cell(cells[i][1], sizeof cells[i][1], v->metric_values[i], "%.4f");
            cp[2 * i] = cells[i][0], cp[2 * i + 1] = cells[i][1];
            if (isfinite(v->metric_values[i]) && v->metric_values[i] >= 0 && v->metric_values[i] <= 1)
                chart_names[nc] = v->metric_names[i], chart[nc++] = v->metric_values[i];
        }
        const char *head[2] = {"metric", "value"};
        cnn_html_table(&b, "metrics", head, 2, cp, nm);
        if (nc) cnn_html_bars(&b, "Metrics", chart_names, chart, nc, "%.3f", "");
    }
    free(cells), free(cp), free(chart), free(chart_names);

    const int k = v->k;
    if (v->cm) {
        cnn_html_section(&b, "confusion", "Confusion matrix");
        cnn_html_confusion(&b, v->names, k, v->cm);
    }
    const int det = v->ap50 != NULL;
    if (v->precision || det) {
        const int ncol = det ? 7 : 5;
        cnn_html_section(&b, "per-class", "Per class");
        char (*cells2)[7][48] = calloc(k > 0 ? (size_t)k : 1, sizeof *cells2);
        const char **cp2 = calloc((size_t)(k > 0 ? k : 1) * ncol, sizeof *cp2);
        if (!cells2 || !cp2) {
            b.oom = 1;
        } else {
            for (int c = 0; c < k; c++) {
                snprintf(cells2[c][0], 48, "%s", v->names[c]);
                if (det) {
                    snprintf(cells2[c][1], 48, "\x01%d", v->n_gt ? v->n_gt[c] : 0);
                    snprintf(cells2[c][2], 48, "\x01%d", v->n_det ? v->n_det[c] : 0);
                    num_cell(cells2[c][3], 48, v->ap50[c], "%.4f");
                    num_cell(cells2[c][4], 48, v->ap50_95 ? v->ap50_95[c] : NAN, "%.4f");
                    num_cell(cells2[c][5], 48, v->det_precision ? v->det_precision[c] : NAN, "%.4f");
                    num_cell(cells2[c][6], 48, v->det_recall ? v->det_recall[c] : NAN, "%.4f");
                } else {
                    snprintf(cells2[c][1], 48, "\x01%lld", v->support ? v->support[c] : 0);
                    num_cell(cells2[c][2], 48, v->precision[c], "%.4f");
                    num_cell(cells2[c][3], 48, v->recall ? v->recall[c] : NAN, "%.4f");
                    num_cell(cells2[c][4], 48, v->f1 ? v->f1[c] : NAN, "%.4f");
                }
                for (int j = 0; j < ncol; j++) cp2[c * ncol + j] = cells2[c][j];
            }
            static const char *const hc[5] = {"class", "support", "precision", "recall", "F1"};
            static const char *const hd[7] = {"class", "ground truth", "detections", "AP@0.5", "AP@0.5:0.95",
                                              "precision", "recall"};
            cnn_html_table(&b, "per-class", det ? hd : hc, ncol, cp2, k);
            if (det) cnn_html_bars(&b, "AP@0.5 per class", v->names, v->ap50, k < 40 ? k : 40, "%.3f", "");
            else if (v->f1) cnn_html_bars(&b, "F1 per class", v->names, v->f1, k < 40 ? k : 40, "%.3f", "");
        }
        free(cells2), free(cp2);
    }
    cnn_status st = cnn_html_finish(&b, dir, err);
    cnn_sbuf_free(&b);
    return st;
}
