/* metrics.c — see metrics.h. Detection matching sorts index keys once (detections by class,
 * descending score; ground truth by class and image) and then walks each class's slice. */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- classification ---- */

int cnn_metric_rank(const float *p, int k, int truth)
{
    int rank = 0;
    for (int j = 0; j < k; j++)
        if (p[j] > p[truth] || (j < truth && p[j] == p[truth])) rank++;
    return rank;
}

void cnn_metric_prf(const long long *cm, int k, cnn_class_prf *out)
{
    for (int c = 0; c < k; c++) {
        cnn_class_prf r = {.tp = cm[(size_t)c * k + c]};
        for (int j = 0; j < k; j++) {
            r.support += cm[(size_t)c * k + j];
            r.predicted += cm[(size_t)j * k + c];
        }
        r.precision = r.predicted ? (double)r.tp / r.predicted : 0;
        r.recall = r.support ? (double)r.tp / r.support : 0;
        r.f1 = r.precision + r.recall > 0
                   ? 2 * r.precision * r.recall / (r.precision + r.recall)
                   : 0;
        out[c] = r;
    }
}

int cnn_metric_macro(const cnn_class_prf *c, int k, double *precision, double *recall, double *f1)
{
    double p = 0, r = 0, f = 0;
    int n = 0;
    for (int i = 0; i < k; i++) {
        if (!c[i].support && !c[i].predicted) continue;
        p += c[i].precision, r += c[i].recall, f += c[i].f1;
        n++;
    }
    *precision = n ? p / n : NAN;
    *recall = n ? r / n : NAN;
    *f1 = n ? f / n : NAN;
    return n;
}

void cnn_metric_binary(const long long *cm, int positive, double *sensitivity,
                       double *specificity)
{
    const int pos = positive ? 1 : 0, neg = 1 - pos;
    const long long tp = cm[pos * 2 + pos], fn = cm[pos * 2 + neg];
    const long long tn = cm[neg * 2 + neg], fp = cm[neg * 2 + pos];
    *sensitivity = (tp + fn) ? (double)tp / (tp + fn) : NAN;
    *specificity = (tn + fp) ? (double)tn / (tn + fp) : NAN;
}

static int by_score_asc(const void *pa, const void *pb)
{
    const cnn_scored *a = pa, *b = pb;
    return (a->score > b->score) - (a->score < b->score);
}

double cnn_metric_auc(cnn_scored *items, int n)
{
    qsort(items, (size_t)n, sizeof *items, by_score_asc);
    double pos_rank_sum = 0;
    long long n_pos = 0;
    for (int a = 0; a < n;) {
        int b = a + 1;
        while (b < n && items[b].score == items[a].score) b++;
        const double mid_rank = (a + 1 + b) / 2.0; /* mean of the 1-based ranks a+1 .. b */
        for (int i = a; i < b; i++)
            if (items[i].positive) pos_rank_sum += mid_rank, n_pos++;
        a = b;
    }
    const long long n_neg = n - n_pos;
    if (n_pos == 0 || n_neg == 0) return NAN;
    return (pos_rank_sum - (double)n_pos * (n_pos + 1) / 2) / ((double)n_pos * n_neg);
}

/* ---- detection ---- */

double cnn_eval_iou(const cnn_eval_box *a, const cnn_eval_box *b)
{
    const double iw = fmin(a->x2, b->x2) - fmax(a->x1, b->x1);
    const double ih = fmin(a->y2, b->y2) - fmax(a->y1, b->y1);
    if (!(iw > 0 && ih > 0)) return 0;
    const double inter = iw * ih;
    const double uni = ((double)a->x2 - a->x1) * ((double)a->y2 - a->y1) +
                       ((double)b->x2 - b->x1) * ((double)b->y2 - b->y1) - inter;
    return uni > 0 ? inter / uni : 0;
}

double cnn_coco_iou(int i) { return (50 + 5 * i) / 100.0; }

typedef struct {
    int cls;
    float score;
    int i;
} det_key;

typedef struct {
    int cls, image, i;
} gt_key;

static int det_key_cmp(const void *pa, const void *pb)
{
    const det_key *a = pa, *b = pb;
    if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

static int gt_key_cmp(const void *pa, const void *pb)
{
    const gt_key *a = pa, *b = pb;
    if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
    if (a->image != b->image) return a->image < b->image ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* Sorted keys of all detections and ground truth, plus scratch for one class's matching. */
typedef struct {
    det_key *dk;
    gt_key *gk;
    int *tp_cum;
    unsigned char *used;
} eval_work;

static void work_free(eval_work *w)
{
    free(w->dk), free(w->gk), free(w->tp_cum), free(w->used);
}

static cnn_status work_init(eval_work *w, const cnn_eval_box *dets, int n_dets,
                            const cnn_eval_box *gts, int n_gts, cnn_error *err)
{
    w->dk = malloc(sizeof *w->dk * (n_dets ? n_dets : 1));
    w->gk = malloc(sizeof *w->gk * (n_gts ? n_gts : 1));
    w->tp_cum = malloc(sizeof *w->tp_cum * (n_dets ? n_dets : 1));
    w->used = malloc(n_gts ? n_gts : 1);
    if (!w->dk || !w->gk || !w->tp_cum || !w->used) {
        work_free(w);
        return cnn_fail(err, CNN_ERR_NOMEM, "out of memory for %d detections and %d boxes", n_dets,
                        n_gts);
    }
    for (int i = 0; i < n_dets; i++) w->dk[i] = (det_key){dets[i].class_id, dets[i].score, i};
    for (int i = 0; i < n_gts; i++) w->gk[i] = (gt_key){gts[i].class_id, gts[i].image, i};
    qsort(w->dk, (size_t)n_dets, sizeof *w->dk, det_key_cmp);
    qsort(w->gk, (size_t)n_gts, sizeof *w->gk, gt_key_cmp);
    return CNN_OK;
}

/* [*lo, *hi) = the entries of class cls in class-sorted keys (cls is every key's first field). */
#define DEFINE_SLICE(name, key_t)                                                              \
    static void name(const key_t *keys, int n, int cls, int *lo, int *hi)                     \
    {                                                                                          \
        int a = 0, b = n;                                                                      \
        while (a < b) {                                                                        \
            int m = a + (b - a) / 2;                                                           \
            if (keys[m].cls < cls) a = m + 1;                                                  \
            else b = m;                                                                        \
        }                                                                                      \
        *lo = a;                                                                               \
        while (a < n && keys[a].cls == cls) a++;                                               \
        *hi = a;                                                                               \
    }
DEFINE_SLICE(det_slice, det_key)
DEFINE_SLICE(gt_slice, gt_key)

/* One class at one threshold: dk[0..nd) in matching order, gk[0..ng) sorted by image. */
static void match_class(const cnn_eval_box *dets, const det_key *dk, int nd,
                        const cnn_eval_box *gts, const gt_key *gk, int ng, double thr,
                        float pr_conf, eval_work *w, cnn_ap_result *out)
{
    memset(w->used, 0, (size_t)ng);
    int tp = 0;
    for (int j = 0; j < nd; j++) {
        const cnn_eval_box *d = &dets[dk[j].i];
        int lo = 0, hi = ng; /* first ground-truth box of d's image */
        while (lo < hi) {
            int m = lo + (hi - lo) / 2;
            if (gk[m].image < d->image) lo = m + 1;
            else hi = m;
        }
        int best = -1;
        double best_iou = 0;
        for (int g = lo; g < ng && gk[g].image == d->image; g++) {
            if (w->used[g]) continue;
            const double iou = cnn_eval_iou(d, &gts[gk[g].i]);
            if (iou >= thr && iou > best_iou) best = g, best_iou = iou;
        }
        if (best >= 0) w->used[best] = 1, tp++;
        w->tp_cum[j] = tp;
    }
    *out = (cnn_ap_result){.n_gt = ng, .n_det = nd, .tp = tp};
    while (out->pr_det < nd && dk[out->pr_det].score > pr_conf) out->pr_det++;
    out->pr_tp = out->pr_det ? w->tp_cum[out->pr_det - 1] : 0;
    out->precision = out->pr_det ? (double)out->pr_tp / out->pr_det : NAN;
    out->recall = ng ? (double)out->pr_tp / ng : NAN;
    if (ng == 0) {
        out->ap = NAN;
        return;
    }
    /* Recall levels i/100 from the top down: the points reaching level i form a suffix
     * [j, nd) of the ranking that grows as i falls, and `env` is the best precision in it. */
    double sum = 0, env = 0;
    int j = nd;
    for (int i = 100; i >= 0; i--) {
        while (j > 0 && 100LL * w->tp_cum[j - 1] >= (long long)i * ng) {
            j--;
            env = fmax(env, (double)w->tp_cum[j] / (j + 1));
        }
        if (j < nd) sum += env;
    }
    out->ap = sum / 101;
}

cnn_status cnn_metric_ap(const cnn_eval_box *dets, int n_dets, const cnn_eval_box *gts, int n_gts,
                         int class_id, double iou_thr, float pr_conf, cnn_ap_result *out,
                         cnn_error *err)
{
    eval_work w;
    cnn_status st = work_init(&w, dets, n_dets, gts, n_gts, err);
    if (st) return st;
    int d0, d1, g0, g1;
    det_slice(w.dk, n_dets, class_id, &d0, &d1);
    gt_slice(w.gk, n_gts, class_id, &g0, &g1);
    match_class(dets, w.dk + d0, d1 - d0, gts, w.gk + g0, g1 - g0, iou_thr, pr_conf, &w, out);
    work_free(&w);
    return CNN_OK;
}

cnn_status cnn_metric_map(const cnn_eval_box *dets, int n_dets, const cnn_eval_box *gts,
                          int n_gts, int n_classes, float pr_conf, cnn_class_ap *per_class,
                          double *map50, double *map, cnn_error *err)
{
    eval_work w;
    cnn_status st = work_init(&w, dets, n_dets, gts, n_gts, err);
    if (st) return st;
    double sum50 = 0, sum = 0;
    int with_gt = 0;
    for (int c = 0; c < n_classes; c++) {
        int d0, d1, g0, g1;
        det_slice(w.dk, n_dets, c, &d0, &d1);
        gt_slice(w.gk, n_gts, c, &g0, &g1);
        cnn_class_ap *r = &per_class[c];
        memset(r, 0, sizeof *r);
        for (int t = 0; t < CNN_COCO_IOUS; t++) {
            cnn_ap_result a;
            match_class(dets, w.dk + d0, d1 - d0, gts, w.gk + g0, g1 - g0, cnn_coco_iou(t),
                        pr_conf, &w, &a);
            r->ap[t] = a.ap;
            r->ap50_95 += a.ap / CNN_COCO_IOUS;
            if (t == 0) {
                r->n_gt = a.n_gt, r->n_det = a.n_det;
                r->precision = a.precision, r->recall = a.recall;
            }
        }
        r->ap50 = r->ap[0];
        if (r->n_gt > 0) sum50 += r->ap50, sum += r->ap50_95, with_gt++;
    }
    *map50 = with_gt ? sum50 / with_gt : NAN;
    *map = with_gt ? sum / with_gt : NAN;
    work_free(&w);
    return CNN_OK;
}
