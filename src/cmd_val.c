/* cmd_val.c — `cnndemo val`: a model's accuracy on a labelled dataset loaded into memory
 * (data.h) through the model's own preprocessing, run in batches of -b samples.
 * Classifiers (last layer [softmax]): top-1/top-5, per-class precision/recall/F1, confusion
 * matrix, and for two classes sensitivity, specificity and ROC AUC. Detectors (yolo/region
 * heads): COCO-style mAP@0.5 and mAP@0.5:0.95 with a per-class AP/P/R table; boxes are compared
 * in network-input fractions (where data.c puts the labels), clipped to the image's area there.
 * stdout: the report (text, or one JSON object); -o DIR adds confusion.csv, per_class.csv and
 * metrics.json; --fail-under METRIC=VALUE makes the exit status VAL_EXIT_BELOW (7) when a metric
 * is below its threshold (or undefined), after everything else was written. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "html_report.h"
#include "data.h"
#include "detect.h"
#include "fsutil.h"
#include "metrics.h"
#include "report.h"

enum { VAL_EXIT_BELOW = 7 }; /* a --fail-under threshold was not met (README, exit codes) */

typedef enum { M_TOP1, M_TOP5, M_F1, M_AUC, M_SENS, M_SPEC, M_MAP50, M_MAP, M_COUNT } metric_id;
static const char *const metric_names[M_COUNT] = {"top1", "top5", "f1", "auc", "sensitivity",
                                                  "specificity", "map50", "map"};

typedef struct {
    metric_id metric;
    double threshold;
    const char *spec; /* as given, for messages */
} gate;

typedef struct {
    cli_model_opts mo;
    const char *split, *format, *out_dir, *positive;
    int limit, batch, verbose, report;
    float conf, iou;
    cli_strs fail_under;
} val_opts;

/* What the run measured; value[] is indexed by metric_id (NaN when not applicable). */
typedef struct {
    int detect;           /* task */
    int k;                /* classes */
    const char **names;   /* k class names */
    double value[M_COUNT];
    /* classification */
    long long n, top1_hits, top5_hits;
    long long *cm;        /* (k, k), row = true class, column = predicted */
    cnn_class_prf *prf;
    double macro_p, macro_r;
    int positive;         /* binary: the positive class id, else -1 */
    /* detection */
    cnn_class_ap *ap;
    int n_images, n_gt, n_det;
    float conf, iou, pr_conf;
} val_result;

static const char *layout_name(cnn_data_kind k)
{
    return k == CNN_DATA_IDX ? "IDX" : k == CNN_DATA_YOLO ? "YOLO" : "folder";
}

static cnn_status parse_gate(const char *spec, gate *g, cnn_error *err)
{
    const char *eq = strchr(spec, '=');
    g->spec = spec;
    g->metric = M_COUNT;
    for (int m = 0; eq && m < M_COUNT; m++)
        if (strlen(metric_names[m]) == (size_t)(eq - spec) &&
            !strncmp(spec, metric_names[m], (size_t)(eq - spec)))
            g->metric = (metric_id)m;
    if (g->metric == M_COUNT)
        return cnn_fail(err, CNN_ERR_USAGE,
                        "--fail-under '%s': expected METRIC=VALUE with METRIC one of top1, top5, "
                        "f1, auc, sensitivity, specificity, map50, map",
                        spec);
    char *end;
    g->threshold = strtod(eq + 1, &end);
    if (end == eq + 1 || *end || !isfinite(g->threshold))
        return cnn_fail(err, CNN_ERR_USAGE, "--fail-under '%s': '%s' is not a number", spec, eq + 1);
    return CNN_OK;
}

/* ---- rendering ---- */

static void json_num(cnn_sbuf *b, double v)
{
    if (isfinite(v)) cnn_sbuf_printf(b, "%.6f", v);
    else cnn_sbuf_printf(b, "null");
}

static const char *num4(double v, char *buf, size_t n)
{
    if (isfinite(v)) snprintf(buf, n, "%.4f", v);
    else snprintf(buf, n, "-");
    return buf;
}

static void csv_field(cnn_sbuf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        cnn_sbuf_printf(b, "%s", s);
        return;
    }
    cnn_sbuf_printf(b, "\"");
    for (; *s; s++) cnn_sbuf_printf(b, *s == '"' ? "\"\"" : "%c", *s);
    cnn_sbuf_printf(b, "\"");
}

static int name_width(const val_result *r)
{
    int w = 5; /* "class" */
    for (int c = 0; c < r->k; c++) {
        int l = (int)strlen(r->names[c]);
        w = l > w ? l : w;
    }
    return w > 32 ? 32 : w;
}

static void text_report(cnn_sbuf *b, const val_result *r, const cnn_model *m, const char *dir,
                        const cnn_dataset *ds, const char *split)
{
    char a[32], c[32];
    const int nw = name_width(r);
    if (!r->detect) {
        char d[32];
        cnn_sbuf_printf(b, "val: model %s, dataset %s (%s layout, %s split): %lld samples, %d classes\n",
                        m->paths.name, dir, layout_name(ds->kind), split, r->n, r->k);
        cnn_sbuf_printf(b, "top1         %s  (%lld/%lld)\n", num4(r->value[M_TOP1], a, sizeof a),
                        r->top1_hits, r->n);
        cnn_sbuf_printf(b, "top5         %s  (%lld/%lld%s)\n", num4(r->value[M_TOP5], a, sizeof a),
                        r->top5_hits, r->n, r->k < 5 ? "; fewer than 5 classes" : "");
        cnn_sbuf_printf(b, "f1           %s  (macro; precision %s, recall %s)\n",
                        num4(r->value[M_F1], a, sizeof a), num4(r->macro_p, c, sizeof c),
                        num4(r->macro_r, d, sizeof d));
        if (r->positive >= 0) {
            const int p = r->positive, q = 1 - p;
            const long long *cm = r->cm;
            cnn_sbuf_printf(b, "sensitivity  %s  (positive class %s: %lld/%lld)\n",
                            num4(r->value[M_SENS], a, sizeof a), r->names[p], cm[p * 2 + p],
                            cm[p * 2 + p] + cm[p * 2 + q]);
            cnn_sbuf_printf(b, "specificity  %s  (%lld/%lld)\n", num4(r->value[M_SPEC], a, sizeof a),
                            cm[q * 2 + q], cm[q * 2 + q] + cm[q * 2 + p]);
            cnn_sbuf_printf(b, "auc          %s  (ROC, from P(%s))\n",
                            num4(r->value[M_AUC], a, sizeof a), r->names[p]);
        }
        cnn_sbuf_printf(b, "\n%-4s %-*s %9s %9s %9s %9s %9s\n", "id", nw, "class", "support",
                        "predicted", "precision", "recall", "f1");
        for (int k = 0; k < r->k; k++) {
            const cnn_class_prf *p = &r->prf[k];
            char e[32];
            cnn_sbuf_printf(b, "%-4d %-*.*s %9lld %9lld %9s %9s %9s\n", k, nw, nw, r->names[k],
                            p->support, p->predicted, num4(p->precision, a, sizeof a),
                            num4(p->recall, c, sizeof c), num4(p->f1, e, sizeof e));
        }
        long long most = 1;
        for (int i = 0; i < r->k * r->k; i++) most = r->cm[i] > most ? r->cm[i] : most;
        int cw = snprintf(NULL, 0, "%lld", most), iw = snprintf(NULL, 0, "%d", r->k - 1);
        cw = (cw > iw ? cw : iw) + 1;
        cnn_sbuf_printf(b, "\nconfusion matrix (rows: true class, columns: predicted class id)\n");
        cnn_sbuf_printf(b, "%-4s %-*s", "id", nw, "class");
        for (int k = 0; k < r->k; k++) cnn_sbuf_printf(b, " %*d", cw, k);
        cnn_sbuf_printf(b, "\n");
        for (int t = 0; t < r->k; t++) {
            cnn_sbuf_printf(b, "%-4d %-*.*s", t, nw, nw, r->names[t]);
            for (int k = 0; k < r->k; k++) cnn_sbuf_printf(b, " %*lld", cw, r->cm[(size_t)t * r->k + k]);
            cnn_sbuf_printf(b, "\n");
        }
        return;
    }
    cnn_sbuf_printf(b, "val: model %s, dataset %s (%s layout, %s split): %d images, %d boxes, %d class%s\n",
                    m->paths.name, dir, layout_name(ds->kind), split, r->n_images, r->n_gt, r->k,
                    r->k == 1 ? "" : "es");
    cnn_sbuf_printf(b, "map50        %s  (mAP at IoU 0.5)\n", num4(r->value[M_MAP50], a, sizeof a));
    cnn_sbuf_printf(b, "map          %s  (mAP at IoU 0.5:0.95)\n", num4(r->value[M_MAP], a, sizeof a));
    cnn_sbuf_printf(b, "%d detections with score > %g after NMS at IoU %.2f; precision and recall "
                       "at score > %.2f, IoU 0.5\n",
                    r->n_det, r->conf, r->iou, r->pr_conf);
    cnn_sbuf_printf(b, "\n%-4s %-*s %9s %10s %9s %9s %9s %9s\n", "id", nw, "class", "boxes",
                    "detections", "ap50", "ap50_95", "precision", "recall");
    for (int k = 0; k < r->k; k++) {
        const cnn_class_ap *p = &r->ap[k];
        char e[32], f[32];
        cnn_sbuf_printf(b, "%-4d %-*.*s %9d %10d %9s %9s %9s %9s\n", k, nw, nw, r->names[k], p->n_gt,
                        p->n_det, num4(p->ap50, a, sizeof a), num4(p->ap50_95, c, sizeof c),
                        num4(p->precision, e, sizeof e), num4(p->recall, f, sizeof f));
    }
}

static void json_report(cnn_sbuf *b, const val_result *r, const cnn_model *m, const char *dir,
                        const cnn_dataset *ds, const char *split, const gate *gates, int n_gates)
{
    cnn_sbuf_printf(b, "{\"task\": \"%s\", \"model\": ", r->detect ? "detect" : "classify");
    cnn_sbuf_json_string(b, m->paths.name);
    cnn_sbuf_printf(b, ", \"dataset\": ");
    cnn_sbuf_json_string(b, dir);
    cnn_sbuf_printf(b, ", \"layout\": \"%s\", \"split\": \"%s\", \"classes\": [",
                    layout_name(ds->kind), split);
    for (int k = 0; k < r->k; k++) {
        cnn_sbuf_printf(b, "%s", k ? ", " : "");
        cnn_sbuf_json_string(b, r->names[k]);
    }
    cnn_sbuf_printf(b, "]");
    if (!r->detect) {
        cnn_sbuf_printf(b, ", \"samples\": %lld", r->n);
        for (int mi = M_TOP1; mi <= M_F1; mi++) {
            cnn_sbuf_printf(b, ", \"%s\": ", metric_names[mi]);
            json_num(b, r->value[mi]);
        }
        cnn_sbuf_printf(b, ", \"precision\": ");
        json_num(b, r->macro_p);
        cnn_sbuf_printf(b, ", \"recall\": ");
        json_num(b, r->macro_r);
        cnn_sbuf_printf(b, ", \"positive\": ");
        if (r->positive >= 0) cnn_sbuf_json_string(b, r->names[r->positive]);
        else cnn_sbuf_printf(b, "null");
        for (int mi = M_AUC; mi <= M_SPEC; mi++) {
            cnn_sbuf_printf(b, ", \"%s\": ", metric_names[mi]);
            json_num(b, r->value[mi]);
        }
        cnn_sbuf_printf(b, ",\n \"per_class\": [");
        for (int k = 0; k < r->k; k++) {
            const cnn_class_prf *p = &r->prf[k];
            cnn_sbuf_printf(b, "%s{\"class_id\": %d, \"class\": ", k ? ",\n  " : "\n  ", k);
            cnn_sbuf_json_string(b, r->names[k]);
            cnn_sbuf_printf(b, ", \"support\": %lld, \"predicted\": %lld, \"precision\": ", p->support,
                            p->predicted);
            json_num(b, p->precision);
            cnn_sbuf_printf(b, ", \"recall\": ");
            json_num(b, p->recall);
            cnn_sbuf_printf(b, ", \"f1\": ");
            json_num(b, p->f1);
            cnn_sbuf_printf(b, "}");
        }
        cnn_sbuf_printf(b, "],\n \"confusion\": [");
        for (int t = 0; t < r->k; t++) {
            cnn_sbuf_printf(b, "%s[", t ? ", " : "");
            for (int k = 0; k < r->k; k++)
                cnn_sbuf_printf(b, "%s%lld", k ? ", " : "", r->cm[(size_t)t * r->k + k]);
            cnn_sbuf_printf(b, "]");
        }
        cnn_sbuf_printf(b, "]");
    } else {
        cnn_sbuf_printf(b, ", \"images\": %d, \"boxes\": %d, \"detections\": %d, \"conf\": %g, "
                           "\"iou\": %g, \"pr_conf\": %g, \"map50\": ",
                        r->n_images, r->n_gt, r->n_det, r->conf, r->iou, r->pr_conf);
        json_num(b, r->value[M_MAP50]);
        cnn_sbuf_printf(b, ", \"map\": ");
        json_num(b, r->value[M_MAP]);
        cnn_sbuf_printf(b, ",\n \"per_class\": [");
        for (int k = 0; k < r->k; k++) {
            const cnn_class_ap *p = &r->ap[k];
            cnn_sbuf_printf(b, "%s{\"class_id\": %d, \"class\": ", k ? ",\n  " : "\n  ", k);
            cnn_sbuf_json_string(b, r->names[k]);
            cnn_sbuf_printf(b, ", \"boxes\": %d, \"detections\": %d, \"ap50\": ", p->n_gt, p->n_det);
            json_num(b, p->ap50);
            cnn_sbuf_printf(b, ", \"ap50_95\": ");
            json_num(b, p->ap50_95);
            cnn_sbuf_printf(b, ", \"ap\": [");
            for (int t = 0; t < CNN_COCO_IOUS; t++) {
                cnn_sbuf_printf(b, "%s", t ? ", " : "");
                json_num(b, p->ap[t]);
            }
            cnn_sbuf_printf(b, "], \"precision\": ");
            json_num(b, p->precision);
            cnn_sbuf_printf(b, ", \"recall\": ");
            json_num(b, p->recall);
            cnn_sbuf_printf(b, "}");
        }
        cnn_sbuf_printf(b, "]");
    }
    cnn_sbuf_printf(b, ",\n \"fail_under\": [");
    for (int i = 0; i < n_gates; i++) {
        const double v = r->value[gates[i].metric];
        cnn_sbuf_printf(b, "%s{\"metric\": \"%s\", \"threshold\": %g, \"value\": ", i ? ", " : "",
                        metric_names[gates[i].metric], gates[i].threshold);
        json_num(b, v);
        cnn_sbuf_printf(b, ", \"pass\": %s}", v >= gates[i].threshold ? "true" : "false");
    }
    cnn_sbuf_printf(b, "]}\n");
}

/* ",<value>" with 6 decimals, or "," alone when undefined */
static void csv_num(cnn_sbuf *b, double v)
{
    if (isfinite(v)) cnn_sbuf_printf(b, ",%.6f", v);
    else cnn_sbuf_printf(b, ",");
}

static void csv_per_class(cnn_sbuf *b, const val_result *r)
{
    cnn_sbuf_printf(b, r->detect ? "class_id,class,boxes,detections,ap50,ap50_95,precision,recall\n"
                                 : "class_id,class,support,predicted,precision,recall,f1\n");
    for (int k = 0; k < r->k; k++) {
        cnn_sbuf_printf(b, "%d,", k);
        csv_field(b, r->names[k]);
        if (!r->detect) {
            const cnn_class_prf *p = &r->prf[k];
            cnn_sbuf_printf(b, ",%lld,%lld", p->support, p->predicted);
            csv_num(b, p->precision), csv_num(b, p->recall), csv_num(b, p->f1);
        } else {
            const cnn_class_ap *p = &r->ap[k];
            cnn_sbuf_printf(b, ",%d,%d", p->n_gt, p->n_det);
            csv_num(b, p->ap50), csv_num(b, p->ap50_95), csv_num(b, p->precision);
            csv_num(b, p->recall);
        }
        cnn_sbuf_printf(b, "\n");
    }
}

static void csv_confusion(cnn_sbuf *b, const val_result *r)
{
    cnn_sbuf_printf(b, "true\\predicted");
    for (int k = 0; k < r->k; k++) {
        cnn_sbuf_printf(b, ",");
        csv_field(b, r->names[k]);
    }
    cnn_sbuf_printf(b, "\n");
    for (int t = 0; t < r->k; t++) {
        csv_field(b, r->names[t]);
        for (int k = 0; k < r->k; k++) cnn_sbuf_printf(b, ",%lld", r->cm[(size_t)t * r->k + k]);
        cnn_sbuf_printf(b, "\n");
    }
}

static cnn_status write_sbuf(const char *dir, const char *name, const cnn_sbuf *b, cnn_error *err)
{
    char path[CNN_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (b->oom) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory for %s", path);
    return cnn_write_file_atomic(path, b->s ? b->s : "", b->len, err);
}

/* ---- running the model ---- */

/* Copies samples [s0, s0 + nb) into the network input (zeros after them) and runs forward. */
static void forward_batch(cnn_net *net, const cnn_dataset *ds, int s0, int nb)
{
    const size_t per = cnn_shape_size(net->in);
    memcpy(net->input, cnn_data_sample(ds, s0), sizeof(float) * per * nb);
    if (nb < net->batch) memset(net->input + per * nb, 0, sizeof(float) * per * (net->batch - nb));
    cnn_net_forward(net, NULL);
}

static void progress(int done, int total)
{
    if (isatty(STDERR_FILENO)) fprintf(stderr, "\rval: %d/%d%s", done, total, done == total ? "\n" : "");
}

static cnn_status run_classify(cnn_net *net, const cnn_dataset *ds, const int *class_map,
                               val_result *r, cnn_error *err)
{
    const int k = r->k;
    const cnn_layer *out = cnn_net_output(net);
    cnn_scored *scored = r->positive >= 0 ? malloc(sizeof *scored * ds->n) : NULL;
    if (r->positive >= 0 && !scored) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    for (int s0 = 0; s0 < ds->n; s0 += net->batch) {
        const int nb = ds->n - s0 < net->batch ? ds->n - s0 : net->batch;
        forward_batch(net, ds, s0, nb);
        for (int b = 0; b < nb; b++) {
            const float *p = out->output + (size_t)b * k;
            const int truth = class_map[ds->y[s0 + b]];
            const int rank = cnn_metric_rank(p, k, truth);
            int pred;
            cnn_topk(p, k, 1, &pred);
            r->top1_hits += rank < 1;
            r->top5_hits += rank < 5;
            r->cm[(size_t)truth * k + pred]++;
            if (scored) scored[s0 + b] = (cnn_scored){p[r->positive], truth == r->positive};
        }
        progress(s0 + nb, ds->n);
    }
    r->n = ds->n;
    cnn_metric_prf(r->cm, k, r->prf);
    for (int i = 0; i < M_COUNT; i++) r->value[i] = NAN;
    r->value[M_TOP1] = r->n ? (double)r->top1_hits / r->n : NAN;
    r->value[M_TOP5] = r->n ? (double)r->top5_hits / r->n : NAN;
    cnn_metric_macro(r->prf, k, &r->macro_p, &r->macro_r, &r->value[M_F1]);
    if (scored) {
        cnn_metric_binary(r->cm, r->positive, &r->value[M_SENS], &r->value[M_SPEC]);
        r->value[M_AUC] = cnn_metric_auc(scored, ds->n);
        free(scored);
    }
    return CNN_OK;
}

typedef struct {
    cnn_eval_box *v;
    int n, cap;
} box_list;

static int box_push(box_list *l, cnn_eval_box b)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 1024;
        cnn_eval_box *v = realloc(l->v, sizeof *v * cap);
        if (!v) return -1;
        l->v = v, l->cap = cap;
    }
    l->v[l->n++] = b;
    return 0;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Corners clipped to the part of the network input the image covers, in input fractions. */
static cnn_eval_box clip_box(cnn_eval_box b, const cnn_frame *f, int nw, int nh)
{
    const float x0 = clampf(f->off_x / nw, 0, 1), x1 = clampf((f->off_x + f->img_w * f->scale_x) / nw, 0, 1);
    const float y0 = clampf(f->off_y / nh, 0, 1), y1 = clampf((f->off_y + f->img_h * f->scale_y) / nh, 0, 1);
    b.x1 = clampf(b.x1, x0, x1), b.x2 = clampf(b.x2, x0, x1);
    b.y1 = clampf(b.y1, y0, y1), b.y2 = clampf(b.y2, y0, y1);
    return b;
}

static cnn_status run_detect(cnn_net *net, const cnn_dataset *ds, val_result *r, cnn_error *err)
{
    const int nw = net->in.w, nh = net->in.h;
    /* decode into network-input pixels: a frame for an image the size of the input itself */
    const cnn_frame ident = {.scale_x = 1, .scale_y = 1, .img_w = nw, .img_h = nh};
    const int cap = (int)cnn_detect_capacity(net);
    cnn_det *dets = malloc(sizeof *dets * (cap ? cap : 1));
    box_list det = {0}, gt = {0};
    cnn_status st = CNN_OK;
    if (!dets) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < ds->n; i++) {
        for (int j = ds->box_first[i]; j < ds->box_first[i] + ds->box_count[i]; j++) {
            const cnn_box_label *l = &ds->boxes[j];
            cnn_eval_box b = {.image = i, .class_id = l->cls, .x1 = l->x - l->w / 2,
                              .y1 = l->y - l->h / 2, .x2 = l->x + l->w / 2, .y2 = l->y + l->h / 2};
            if (box_push(&gt, clip_box(b, &ds->frames[i], nw, nh))) goto oom;
        }
    }
    for (int s0 = 0; s0 < ds->n; s0 += net->batch) {
        const int nb = ds->n - s0 < net->batch ? ds->n - s0 : net->batch;
        forward_batch(net, ds, s0, nb);
        for (int b = 0; b < nb; b++) {
            int n = cnn_detect_decode(net, b, &ident, r->conf, dets, cap);
            n = cnn_nms(dets, n, r->iou);
            for (int j = 0; j < n; j++) {
                const cnn_det *d = &dets[j];
                cnn_eval_box e = {.image = s0 + b, .class_id = d->class_id, .score = d->score,
                                  .x1 = d->x1 / nw, .y1 = d->y1 / nh, .x2 = d->x2 / nw,
                                  .y2 = d->y2 / nh};
                if (box_push(&det, clip_box(e, &ds->frames[s0 + b], nw, nh))) goto oom;
            }
        }
        progress(s0 + nb, ds->n);
    }
    r->n_images = ds->n, r->n_gt = gt.n, r->n_det = det.n;
    for (int i = 0; i < M_COUNT; i++) r->value[i] = NAN;
    st = cnn_metric_map(det.v, det.n, gt.v, gt.n, r->k, r->pr_conf, r->ap, &r->value[M_MAP50],
                        &r->value[M_MAP], err);
    goto done;
oom:
    st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory for boxes");
done:
    free(dets);
    free(det.v);
    free(gt.v);
    return st;
}

/* Dataset class index -> model class index; fills r->names. */
static cnn_status map_classes(const cnn_model *m, const cnn_dataset *ds, const char *dir,
                              val_result *r, int *class_map, cnn_error *err)
{
    const int k = r->k;
    if (m->n_names && m->n_names != k)
        return cnn_fail(err, CNN_ERR_MODEL, "%s: %d class names but the model outputs %d classes",
                        m->paths.names, m->n_names, k);
    for (int c = 0; c < k; c++)
        r->names[c] = m->n_names ? m->names[c] : (c < ds->n_classes ? ds->class_names[c] : NULL);
    if (ds->kind == CNN_DATA_FOLDER) {
        /* class folders are matched to the model's classes by name when it has names */
        if (!m->n_names && ds->n_classes != k)
            return cnn_fail(err, CNN_ERR_INPUT,
                            "%s: %d class folders but the model outputs %d classes (give the "
                            "model's class names with --names to match folders by name)",
                            dir, ds->n_classes, k);
        for (int c = 0; c < ds->n_classes; c++) {
            class_map[c] = m->n_names ? -1 : c;
            for (int j = 0; m->n_names && j < k; j++)
                if (!strcmp(ds->class_names[c], m->names[j])) class_map[c] = j;
            if (class_map[c] < 0)
                return cnn_fail(err, CNN_ERR_INPUT, "%s/%s: the model has no class named '%s' (%s)",
                                dir, ds->class_names[c], ds->class_names[c], m->paths.names);
        }
        return CNN_OK;
    }
    for (int c = 0; c < ds->n_classes; c++) class_map[c] = c;
    for (int i = 0; ds->y && i < ds->n; i++)
        if (ds->y[i] >= k)
            return cnn_fail(err, CNN_ERR_INPUT, "%s: sample %d has label %d but the model outputs %d classes",
                            dir, i, ds->y[i], k);
    for (int j = 0; j < ds->n_boxes; j++) {
        if (ds->boxes[j].cls < k) continue;
        int i = 0;
        while (i + 1 < ds->n && ds->box_first[i + 1] <= j) i++;
        return cnn_fail(err, CNN_ERR_INPUT, "%s: a box of class %d but the model has %d classes",
                        ds->paths[i], ds->boxes[j].cls, k);
    }
    return CNN_OK;
}

/* report.html through html_report.c: the measured metrics, then the confusion matrix and
 * per-class table (classifier) or per-class AP (detector). */
static cnn_status write_report(const char *out_dir, const val_result *r, const cnn_model *m,
                               const char *dir, const char *split, cnn_error *err)
{
    const char *mnames[M_COUNT];
    double mvals[M_COUNT];
    int nm = 0;
    for (int i = 0; i < M_COUNT; i++)
        if (isfinite(r->value[i])) mnames[nm] = metric_names[i], mvals[nm++] = r->value[i];
    const int k = r->k;
    long long *support = calloc((size_t)k, sizeof *support);
    double *d = calloc((size_t)k * 5, sizeof *d);
    int *ni = calloc((size_t)k * 2, sizeof *ni);
    if (!support || !d || !ni) {
        free(support), free(d), free(ni);
        return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    }
    cnn_html_val v = {.model = m->paths.name, .dataset = dir, .split = split, .n_metrics = nm,
                      .metric_names = mnames, .metric_values = mvals, .k = k, .names = r->names};
    if (r->detect) {
        for (int c = 0; c < k; c++) {
            ni[c] = r->ap[c].n_gt, ni[k + c] = r->ap[c].n_det;
            d[c] = r->ap[c].ap50, d[k + c] = r->ap[c].ap50_95;
            d[2 * k + c] = r->ap[c].precision, d[3 * k + c] = r->ap[c].recall;
        }
        v.n_samples = r->n_images;
        v.n_gt = ni, v.n_det = ni + k, v.ap50 = d, v.ap50_95 = d + k;
        v.det_precision = d + 2 * k, v.det_recall = d + 3 * k;
    } else {
        for (int c = 0; c < k; c++) {
            support[c] = r->prf[c].support;
            d[c] = r->prf[c].precision, d[k + c] = r->prf[c].recall, d[2 * k + c] = r->prf[c].f1;
        }
        v.n_samples = r->n;
        v.cm = r->cm, v.support = support, v.precision = d, v.recall = d + k, v.f1 = d + 2 * k;
    }
    cnn_status st = cnn_html_write_val(out_dir, &v, err);
    free(support), free(d), free(ni);
    return st;
}

int cmd_val(int argc, char **argv)
{
    val_opts o = {.split = "test", .format = "text", .batch = 8, .conf = 0.001f, .iou = -1};
    const cli_opt opts[] = {
        CLI_MODEL_OPTS(o.mo),
        {"split", 0, CLI_STR, &o.split, "S", "train or test (default test)", 0, 0},
        {"limit", 0, CLI_INT, &o.limit, "N", "only the first N samples (evenly over class folders)", 1, 1 << 24},
        {"batch", 'b', CLI_INT, &o.batch, "B", "samples per forward pass (default 8)", 1, 1024},
        {"conf", 0, CLI_FLOAT, &o.conf, "P", "detection: score threshold for mAP (default 0.001)", 0, 1},
        {"iou", 0, CLI_FLOAT, &o.iou, "P", "detection: NMS IoU (default: the model's, else 0.45)", 0, 1},
        {"positive", 0, CLI_STR, &o.positive, "NAME", "two classes: the positive one (default tumour, else class 1)", 0, 0},
        {"fail-under", 0, CLI_STRS, &o.fail_under, "M=V", "exit 7 when metric M < V (repeatable): top1, top5, f1, auc, sensitivity, specificity, map50, map", 0, 0},
        {"format", 'f', CLI_STR, &o.format, "F", "stdout: text or json", 0, 0},
        {"output", 'o', CLI_STR, &o.out_dir, "DIR", "also write confusion.csv, per_class.csv, metrics.json", 0, 0},
        {"report", 0, CLI_FLAG, &o.report, NULL, "also write DIR/report.html (needs -o DIR)", 0, 0},
        {"verbose", 'v', CLI_FLAG, &o.verbose, NULL, "timing on stderr", 0, 0},
        {0},
    };
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0;
    if (!pos) return 1;
    int rc = cli_parse("val", "-m MODEL [options] DATA_DIR", opts, argc, argv, pos, &npos);
    if (rc) {
        free(pos);
        return rc < 0 ? 0 : rc;
    }
    cnn_error err = {0};
    gate gates[CLI_STRS_MAX];
    const char *bad = NULL;
    if (strcmp(o.split, "train") && strcmp(o.split, "test")) bad = "--split must be train or test";
    else if (strcmp(o.format, "text") && strcmp(o.format, "json")) bad = "--format must be text or json";
    else if (!o.mo.model && !o.mo.cfg) bad = "no model (-m NAME, or --cfg and --weights)";
    else if (npos != 1) bad = "expected one DATA_DIR (see --help)";
    else if (o.report && !o.out_dir) bad = "--report needs -o DIR (report.html is written there)";
    for (int i = 0; !bad && i < o.fail_under.n; i++)
        if (parse_gate(o.fail_under.v[i], &gates[i], &err)) bad = err.msg;
    if (bad) {
        fprintf(stderr, "cnndemo val: %s\n", bad);
        free(pos);
        return 2;
    }
    const char *dir = pos[0];
    free(pos);

    cnn_model m = {0};
    cnn_dataset ds = {0};
    val_result r = {.positive = -1};
    int *class_map = NULL;
    char(*fallback)[24] = NULL; /* "class N" for classes without a name */
    cnn_sbuf out = {0}, file = {0};
    o.mo.inference_only = 1;
    if ((rc = cli_open_model(&o.mo, NULL, o.batch, &m))) return rc;
    const int threads = cli_apply_threads(o.mo.threads);
    cnn_net *net = m.net;
    if (cnn_net_set_threads(net, threads, &err)) goto fail;
    int has_head = 0;
    for (int i = 0; i < net->n_layers; i++)
        has_head |= net->layers[i].role == CNN_LAYER_YOLO || net->layers[i].role == CNN_LAYER_REGION;
    r.detect = cnn_net_output(net)->role != CNN_LAYER_SOFTMAX;
    r.k = m.n_classes;
    if (r.detect && !has_head) {
        cnn_fail(&err, CNN_ERR_USAGE, "%s has neither a [softmax] output nor a yolo/region head",
                 m.paths.cfg);
        goto fail;
    }
    /* every gate must be measurable by this model */
    for (int i = 0; i < o.fail_under.n; i++) {
        const metric_id g = gates[i].metric;
        const int for_detect = g == M_MAP50 || g == M_MAP;
        const int binary = g == M_AUC || g == M_SENS || g == M_SPEC;
        if (for_detect != r.detect || (binary && r.k != 2)) {
            if (binary && !r.detect)
                cnn_fail(&err, CNN_ERR_USAGE, "--fail-under %s: %s needs two classes, %s has %d",
                         gates[i].spec, metric_names[g], m.paths.name, r.k);
            else
                cnn_fail(&err, CNN_ERR_USAGE, "--fail-under %s: %s is not measured for a %s",
                         gates[i].spec, metric_names[g], r.detect ? "detector" : "classifier");
            goto fail;
        }
    }
    if (o.positive && (r.detect || r.k != 2)) {
        cnn_fail(&err, CNN_ERR_USAGE, "--positive needs a classifier with two classes");
        goto fail;
    }

    const double t0 = cli_now();
    if (cnn_data_load(dir, &net->pp, strcmp(o.split, "train") ? CNN_SPLIT_TEST : CNN_SPLIT_TRAIN,
                      o.limit, &ds, &err))
        goto fail;
    const double t_load = cli_now() - t0;
    if (r.detect != (ds.kind == CNN_DATA_YOLO)) {
        cnn_fail(&err, CNN_ERR_INPUT, "%s: a %s dataset, but %s is a %s", dir,
                 ds.kind == CNN_DATA_YOLO ? "detection (images/ + labels/)" : "classification",
                 m.paths.name, r.detect ? "detector" : "classifier");
        goto fail;
    }
    r.names = calloc((size_t)r.k, sizeof *r.names);
    class_map = calloc((size_t)ds.n_classes, sizeof *class_map);
    fallback = calloc((size_t)r.k, sizeof *fallback);
    if (!r.names || !class_map || !fallback) {
        cnn_fail(&err, CNN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (map_classes(&m, &ds, dir, &r, class_map, &err)) goto fail;
    for (int c = 0; c < r.k; c++) {
        if (r.names[c] && r.names[c][0]) continue;
        snprintf(fallback[c], sizeof fallback[c], "class%d", c); /* as data.c names them */
        r.names[c] = fallback[c];
    }

    if (!r.detect && r.k == 2) {
        r.positive = 1;
        for (int c = 0; c < 2; c++)
            if (!strcmp(r.names[c], o.positive ? o.positive : "tumour")) r.positive = c;
        if (o.positive && strcmp(r.names[r.positive], o.positive)) {
            cnn_fail(&err, CNN_ERR_USAGE, "--positive %s: the classes are '%s' and '%s'", o.positive,
                     r.names[0], r.names[1]);
            goto fail;
        }
    }
    cnn_status st;
    const double t1 = cli_now();
    if (r.detect) {
        float model_conf, model_nms;
        cnn_detect_model_thresholds(net, &model_conf, &model_nms);
        r.conf = o.conf;
        r.iou = o.iou >= 0 ? o.iou : (model_nms >= 0 ? model_nms : 0.45f);
        r.pr_conf = model_conf >= 0 ? model_conf : 0.25f; /* what `detect` keeps by default */
        r.ap = calloc((size_t)r.k, sizeof *r.ap);
        st = r.ap ? run_detect(net, &ds, &r, &err) : cnn_fail(&err, CNN_ERR_NOMEM, "out of memory");
    } else {
        r.cm = calloc((size_t)r.k * r.k, sizeof *r.cm);
        r.prf = calloc((size_t)r.k, sizeof *r.prf);
        st = r.cm && r.prf ? run_classify(net, &ds, class_map, &r, &err)
                           : cnn_fail(&err, CNN_ERR_NOMEM, "out of memory");
    }
    const double t_run = cli_now() - t1;
    if (st) goto fail;

    if (!strcmp(o.format, "json")) json_report(&out, &r, &m, dir, &ds, o.split, gates, o.fail_under.n);
    else text_report(&out, &r, &m, dir, &ds, o.split);
    if (out.oom) {
        cnn_fail(&err, CNN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    fwrite(out.s, 1, out.len, stdout);
    if (fflush(stdout) != 0) {
        cnn_fail(&err, CNN_ERR_OUTPUT, "stdout: write failed");
        goto fail;
    }
    if (o.out_dir) {
        st = cnn_mkdirs(o.out_dir, &err);
        if (!st && !r.detect) {
            csv_confusion(&file, &r);
            st = write_sbuf(o.out_dir, "confusion.csv", &file, &err);
            cnn_sbuf_clear(&file);
        }
        if (!st) {
            csv_per_class(&file, &r);
            st = write_sbuf(o.out_dir, "per_class.csv", &file, &err);
            cnn_sbuf_clear(&file);
        }
        if (!st) {
            json_report(&file, &r, &m, dir, &ds, o.split, gates, o.fail_under.n);
            st = write_sbuf(o.out_dir, "metrics.json", &file, &err);
        }
        if (!st && o.report) st = write_report(o.out_dir, &r, &m, dir, o.split, &err);
        if (st) goto fail;
    }
    if (o.verbose)
        fprintf(stderr, "val: %d samples loaded in %.2f s, run in %.2f s (batch %d, %d BLAS thread%s)\n",
                ds.n, t_load, t_run, net->batch, threads, threads == 1 ? "" : "s");
    rc = 0;
    for (int i = 0; i < o.fail_under.n; i++) {
        const double v = r.value[gates[i].metric];
        if (v >= gates[i].threshold) continue;
        if (isfinite(v))
            fprintf(stderr, "cnndemo val: %s = %.6f is below the --fail-under threshold %g\n",
                    metric_names[gates[i].metric], v, gates[i].threshold);
        else
            fprintf(stderr, "cnndemo val: %s is undefined on this dataset, which fails --fail-under %s\n",
                    metric_names[gates[i].metric], gates[i].spec);
        rc = VAL_EXIT_BELOW;
    }
    goto cleanup;
fail:
    rc = cli_report(&err);
cleanup:
    cnn_sbuf_free(&out);
    cnn_sbuf_free(&file);
    free(r.names), free(r.cm), free(r.prf), free(r.ap);
    free(class_map);
    free(fallback);
    cnn_data_free(&ds);
    cnn_model_close(&m);
    return rc;
}
