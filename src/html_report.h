/* html_report.h — `--report`: one self-contained DIR/report.html per output folder. Inline CSS,
 * charts as inline SVG, no scripts and no external assets: it reads offline, and images are
 * relative links to files in the same folder (annotated images, thumbnails, chart PNGs), so the
 * folder can be moved or archived as a whole. Every string from outside (file names, class
 * names, error messages, command lines) is HTML-escaped (invalid UTF-8 shown as U+FFFD) and every
 * link percent-encoded. The page is written to a temporary name and renamed (fsutil.h).
 *
 * Two levels: ready-made pages (detect/classify runs, `val`), and the builder they are made of,
 * for other commands (`study`) to compose their own: begin, sections, tables, charts, figures,
 * finish. Builder output goes to a caller-owned cnn_sbuf (report.h); out of memory shows as
 * b->oom and makes cnn_html_finish fail. */
#ifndef CNN_HTML_REPORT_H
#define CNN_HTML_REPORT_H

#include "image.h"
#include "report.h"

/* ---- builder ---- */

/* <!doctype html>, <head> with the style sheet, <h1>title</h1> and an optional subtitle line. */
void cnn_html_begin(cnn_sbuf *b, const char *title, const char *subtitle);
/* <h2 id="id">heading</h2> (id: letters, digits, '-' only; used for in-page links). */
void cnn_html_section(cnn_sbuf *b, const char *id, const char *heading);
/* Escaped text, and a paragraph of escaped text. */
void cnn_html_text(cnn_sbuf *b, const char *s);
void cnn_html_para(cnn_sbuf *b, const char *s);
/* A relative URL, percent-encoded except for unreserved characters and '/'. */
void cnn_html_url(cnn_sbuf *b, const char *rel);
/* Two-column table of n key/value pairs (class "kv"). */
void cnn_html_kv(cnn_sbuf *b, const char *const *keys, const char *const *vals, int n);
/* A table with class cls: ncols header cells, then nrows x ncols cells (row-major), each row
 * <tr class="row">; a cell starting with '\x01' is right-aligned (numbers). */
void cnn_html_table(cnn_sbuf *b, const char *cls, const char *const *head, int ncols,
                    const char *const *cells, int nrows);
/* Horizontal bar chart (inline SVG, class "chart"): n labelled values, the longest bar for the
 * largest value; each value printed with `fmt` (printf, one double) and unit. */
void cnn_html_bars(cnn_sbuf *b, const char *title, const char *const *labels, const double *values,
                   int n, const char *fmt, const char *unit);
/* Confusion matrix (k, k), cm[t * k + p] = samples of true class t predicted as p; cells shaded
 * by their share of the row, the diagonal in green. Class "confusion". */
void cnn_html_confusion(cnn_sbuf *b, const char *const *names, int k, const long long *cm);
/* A figure linking to a file in the report's folder (e.g. a chart PNG), with a caption. */
void cnn_html_figure(cnn_sbuf *b, const char *rel_src, const char *caption);
/* Closes the page and writes dir/report.html atomically. */
cnn_status cnn_html_finish(cnn_sbuf *b, const char *dir, cnn_error *err);

/* ---- detect / classify runs ---- */

/* Thumbnails of annotated images: DIR/thumbs/<input path>.jpg, at most this many pixels on the
 * longer side (mirroring input sub-paths as images/ does). */
#define CNN_HTML_THUMB_SIDE 240
/* At most this many thumbnails in the gallery (the results table lists every input). */
#define CNN_HTML_MAX_GALLERY 2000
void cnn_html_thumb_path(const char *dir, const char *input, char *out, size_t n);
cnn_status cnn_html_write_thumbnail(const cnn_rgb8 *img, const char *dir, const char *input,
                                    cnn_error *err);

/* The page of a detect/classify output folder, built from DIR/run.json and DIR/results.jsonl
 * (so it covers results kept by --resume too): summary, timing (table + chart), charts of the
 * results, a thumbnail gallery linking to the annotated images, a row per input (class
 * "result"; failures included) and the failures (class "failure") with their reasons. */
cnn_status cnn_html_write_run(const char *dir, cnn_error *err);

/* ---- val ---- */

/* What `cnndemo val` measured, as plain arrays (all owned by the caller). Undefined numbers are
 * NaN and show as "n/a". */
typedef struct {
    const char *model, *dataset, *split; /* shown in the title and summary; NULL = not shown */
    int n_metrics;                       /* headline metrics, e.g. top1, f1, map50 */
    const char *const *metric_names;
    const double *metric_values;         /* values in [0, 1] are also charted */
    long long n_samples;                 /* images evaluated */
    int k;                               /* classes */
    const char *const *names;            /* k class names */
    /* classifier (NULL for a detector): cm is (k, k), row = true class, column = predicted */
    const long long *cm, *support;
    const double *precision, *recall, *f1;
    /* detector (NULL for a classifier): per class */
    const int *n_gt, *n_det;
    const double *ap50, *ap50_95, *det_precision, *det_recall;
} cnn_html_val;

/* Writes dir/report.html: summary and metrics (table + chart), then for a classifier the
 * confusion matrix and the per-class precision/recall/F1 table, for a detector the per-class
 * AP table and an AP@0.5 chart. */
cnn_status cnn_html_write_val(const char *dir, const cnn_html_val *v, cnn_error *err);

#endif
