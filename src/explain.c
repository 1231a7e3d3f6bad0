/* explain.c — see explain.h. One explanation: copy the input into the explainer's clone, run the
 * frozen training forward (the inference function, keeping what backward needs), seed the delta
 * of the target's logits, run backward from there down to the layer after A, then weight A's
 * channels by their mean gradient. */
#include "explain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heads.h"

struct cnn_explainer {
    cnn_net *net;  /* clone with gradient buffers (net->frozen) */
    int layer;     /* the caller's choice of layer A, or -1 */
    float *cam;    /* largest layer-A output plane */
    float *alpha;  /* largest layer-A channel count */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int is_rectifier(cnn_activation a)
{
    switch (a) {
    case CNN_ACT_RELU: case CNN_ACT_LEAKY: case CNN_ACT_RELU6: case CNN_ACT_ELU: case CNN_ACT_SELU:
    case CNN_ACT_SWISH: case CNN_ACT_MISH: case CNN_ACT_HARDSWISH: return 1;
    default: return 0;
    }
}

int cnn_explain_layer(const cnn_net *net, int before)
{
    int any = -1;
    for (int i = before - 1; i >= 0; i--) {
        const cnn_layer *l = &net->layers[i];
        if (strcmp(l->ops->section, "convolutional") != 0 || (long)l->out.h * l->out.w < 2) continue;
        if (is_rectifier(l->act)) return i;
        if (any < 0) any = i;
    }
    return any;
}

/* Layer A for the output at `before`: the caller's choice when it comes before, else the rule. */
static int pick(const cnn_net *net, int chosen, int before)
{
    return chosen >= 0 && chosen < before ? chosen : cnn_explain_layer(net, before);
}

static int is_head(const cnn_layer *l) { return l->role == CNN_LAYER_YOLO || l->role == CNN_LAYER_REGION; }

/* Layers after A up to `last` must have a backward pass (heads in between are terminal). */
static cnn_status check_path(const cnn_net *net, int chosen, int out_layer, int last, cnn_error *err)
{
    const int a = pick(net, chosen, out_layer);
    if (a < 0)
        return cnn_fail(err, CNN_ERR_MODEL,
                        "%s: --explain: no [convolutional] layer with a spatial output before layer %d",
                        net->cfg_path, out_layer);
    for (int i = a + 1; i <= last; i++) {
        const cnn_layer *l = &net->layers[i];
        if (!l->ops->backward && !is_head(l))
            return cnn_fail(err, CNN_ERR_MODEL,
                            "%s:%d: --explain: layer %d [%s] has no backward pass to take the gradient through",
                            net->cfg_path, l->cfg_line, l->index, l->ops->section);
    }
    return CNN_OK;
}

cnn_status cnn_explainer_create(const cnn_net *src, int layer, cnn_explainer **out, cnn_error *err)
{
    *out = NULL;
    if (layer >= src->n_layers || (layer >= 0 && (long)src->layers[layer].out.h * src->layers[layer].out.w < 2))
        return cnn_fail(err, CNN_ERR_USAGE, "--explain-layer %d: %s", layer,
                        layer >= src->n_layers ? "no such layer" : "its output has a single cell");
    cnn_explainer *x = calloc(1, sizeof *x);
    if (!x) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    x->layer = layer;
    cnn_status st = CNN_OK;
    int after = layer < 0; /* an output after the chosen layer */
    size_t plane = 1, chans = 1;
    int n_outputs = 0;
    for (int i = 0; i < src->n_layers && !st; i++) {
        const cnn_layer *l = &src->layers[i];
        if (l->role == CNN_LAYER_PLAIN) continue;
        n_outputs++;
        st = check_path(src, layer, i, l->role == CNN_LAYER_SOFTMAX ? i : i - 1, err);
        if (st) break;
        after |= layer < i;
        const cnn_layer *a = &src->layers[pick(src, layer, i)];
        if ((size_t)a->out.h * a->out.w > plane) plane = (size_t)a->out.h * a->out.w;
        if ((size_t)a->out.c > chans) chans = (size_t)a->out.c;
    }
    if (!st && n_outputs == 0)
        st = cnn_fail(err, CNN_ERR_MODEL, "%s: --explain needs a [softmax] or detection-head output",
                      src->cfg_path);
    if (!st && !after)
        st = cnn_fail(err, CNN_ERR_USAGE, "--explain-layer %d: no output comes after it", layer);
    if (!st) st = cnn_net_clone(src, &x->net, err);
    if (!st) st = cnn_net_grad_alloc(x->net, err);
    if (!st) {
        x->cam = malloc(plane * sizeof *x->cam);
        x->alpha = malloc(chans * sizeof *x->alpha);
        if (!x->cam || !x->alpha) st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    }
    if (st) {
        cnn_explainer_free(x);
        return st;
    }
    *out = x;
    return CNN_OK;
}

void cnn_explainer_free(cnn_explainer *x)
{
    if (!x) return;
    cnn_net_free(x->net);
    free(x->cam);
    free(x->alpha);
    free(x);
}

static void begin(cnn_explainer *x, const float *input, cnn_explanation *e)
{
    memset(e, 0, sizeof *e);
    e->layer = e->class_id = e->head = -1;
    e->net_w = x->net->in.w, e->net_h = x->net->in.h;
    e->ms = now_ms();
    memcpy(x->net->input, input, sizeof(float) * cnn_shape_size(x->net->in));
    /* backward also accumulates parameter gradients, which nothing here reads: keep them bounded */
    memset(x->net->grads, 0, sizeof(float) * x->net->n_params);
    cnn_net_forward_train(x->net);
}

/* Sub-cell position of a maximum 1 with neighbours l and r: the vertex of the parabola through
 * them, in [-0.5, 0.5] cells. */
static float sub_cell(float l, float r)
{
    const float den = l - 2.0f + r;
    if (!(den < 0)) return 0;
    const float d = 0.5f * (l - r) / den;
    return d < -0.5f ? -0.5f : (d > 0.5f ? 0.5f : d);
}

/* With layer a's delta = dT/dA: the weighted map, normalised, and its peak. */
static void grad_cam(cnn_explainer *x, int a, const cnn_frame *f, cnn_explanation *e)
{
    const cnn_layer *l = &x->net->layers[a];
    const int c = l->out.c, w = l->out.w, h = l->out.h;
    const size_t hw = (size_t)w * h;
    for (int ch = 0; ch < c; ch++) {
        double s = 0;
        for (size_t i = 0; i < hw; i++) s += l->delta[ch * hw + i];
        x->alpha[ch] = (float)(s / hw);
    }
    float mx = 0;
    size_t arg = 0;
    for (size_t i = 0; i < hw; i++) {
        double v = 0;
        for (int ch = 0; ch < c; ch++) v += (double)x->alpha[ch] * l->output[ch * hw + i];
        x->cam[i] = v > 0 ? (float)v : 0.0f;
        if (x->cam[i] > mx) mx = x->cam[i], arg = i;
    }
    e->layer = a;
    e->gw = w, e->gh = h;
    e->cam = x->cam;
    if (!(mx > 0) || !isfinite(mx)) return; /* nothing positive: no map */
    for (size_t i = 0; i < hw; i++) x->cam[i] /= mx;
    const int cx = (int)(arg % w), cy = (int)(arg / w);
    const float *m = x->cam;
    const float dx = cx > 0 && cx < w - 1 ? sub_cell(m[arg - 1], m[arg + 1]) : 0;
    const float dy = cy > 0 && cy < h - 1 ? sub_cell(m[arg - w], m[arg + w]) : 0;
    /* map coordinates (cell centres at +0.5) in network-input pixels, then through the frame */
    const float nx = (cx + 0.5f + dx) * e->net_w / w;
    const float ny = (cy + 0.5f + dy) * e->net_h / h;
    float px = (nx - f->off_x) / f->scale_x, py = (ny - f->off_y) / f->scale_y;
    e->peak_x = px < 0 ? 0 : (px > f->img_w ? (float)f->img_w : px);
    e->peak_y = py < 0 ? 0 : (py > f->img_h ? (float)f->img_h : py);
    e->ok = 1;
}

void cnn_explain_class(cnn_explainer *x, const float *input, int class_id, const cnn_frame *f,
                       cnn_explanation *e)
{
    begin(x, input, e);
    cnn_net *net = x->net;
    const int last = net->n_layers - 1;
    cnn_layer *out = &net->layers[last];
    if (out->role == CNN_LAYER_SOFTMAX && class_id >= 0 && (size_t)class_id < cnn_shape_size(out->out)) {
        const int a = pick(net, x->layer, last);
        e->class_id = class_id;
        /* softmax backward passes its delta through: the seed is d(logit)/d(logits) = one-hot */
        out->delta[class_id] = 1.0f;
        cnn_net_backward_range(net, last, a + 1);
        grad_cam(x, a, f, e);
    }
    e->ms = now_ms() - e->ms;
}

void cnn_explain_detections(cnn_explainer *x, const float *input, const cnn_det *dets, int n,
                            const cnn_frame *f, cnn_explanation *e)
{
    begin(x, input, e);
    cnn_net *net = x->net;
    if (n > 0 && dets[0].layer > 0 && dets[0].layer < net->n_layers && is_head(&net->layers[dets[0].layer])) {
        const int head = dets[0].layer, a = pick(net, x->layer, head);
        const cnn_layer *hl = &net->layers[head];
        const int yolo = hl->role == CNN_LAYER_YOLO;
        const cnn_yolo_params *yp = hl->p;
        const cnn_region_params *rp = hl->p;
        const int classes = yolo ? yp->classes : rp->classes;
        const size_t entries = yolo ? (size_t)classes + 5 : (size_t)rp->coords + 1 + classes;
        const size_t obj = yolo ? 4 : (size_t)rp->coords;
        const size_t hw = (size_t)hl->out.h * hl->out.w;
        float *seed = net->layers[head - 1].delta; /* dT/d(head input) */
        for (int i = 0; i < n; i++) {
            const cnn_det *d = &dets[i];
            if (d->layer != head) continue;
            float *cell = seed + (size_t)d->anchor * entries * hw + (size_t)d->cell;
            cell[obj * hw] += 1.0f;
            if (classes > 0) cell[(obj + 1 + (size_t)d->class_id) * hw] += 1.0f;
        }
        e->head = head;
        cnn_net_backward_range(net, head - 1, a + 1);
        grad_cam(x, a, f, e);
    }
    e->ms = now_ms() - e->ms;
}

void cnn_jet(float v, uint8_t rgb[3])
{
    v = v < 0 ? 0 : (v > 1 ? 1 : v);
    const float c[3] = {1.5f - fabsf(4 * v - 3), 1.5f - fabsf(4 * v - 2), 1.5f - fabsf(4 * v - 1)};
    for (int k = 0; k < 3; k++) rgb[k] = (uint8_t)lrintf(255 * (c[k] < 0 ? 0 : (c[k] > 1 ? 1 : c[k])));
}

void cnn_explain_overlay(cnn_rgb8 *img, const cnn_explanation *e, const cnn_frame *f, float alpha)
{
    if (!e->ok) return;
    const int gw = e->gw, gh = e->gh;
    const float gx_per_net = (float)gw / e->net_w, gy_per_net = (float)gh / e->net_h;
    uint8_t lut[256][3];
    for (int i = 0; i < 256; i++) cnn_jet(i / 255.0f, lut[i]);
    for (int y = 0; y < img->h; y++) {
        /* pixel centre -> network input -> map coordinates (cell centres at integers) */
        float gy = ((y + 0.5f) * f->scale_y + f->off_y) * gy_per_net - 0.5f;
        gy = gy < 0 ? 0 : (gy > gh - 1 ? gh - 1 : gy);
        const int y0 = (int)gy, y1 = y0 + 1 < gh ? y0 + 1 : y0;
        const float fy = gy - y0;
        uint8_t *row = img->px + (size_t)y * img->w * 3;
        for (int x = 0; x < img->w; x++) {
            float gx = ((x + 0.5f) * f->scale_x + f->off_x) * gx_per_net - 0.5f;
            gx = gx < 0 ? 0 : (gx > gw - 1 ? gw - 1 : gx);
            const int x0 = (int)gx, x1 = x0 + 1 < gw ? x0 + 1 : x0;
            const float fx = gx - x0;
            const float *c0 = e->cam + (size_t)y0 * gw, *c1 = e->cam + (size_t)y1 * gw;
            const float v = (1 - fy) * ((1 - fx) * c0[x0] + fx * c0[x1]) + fy * ((1 - fx) * c1[x0] + fx * c1[x1]);
            const uint8_t *col = lut[(int)lrintf(v * 255)];
            for (int k = 0; k < 3; k++)
                row[3 * x + k] = (uint8_t)lrintf((1 - alpha) * row[3 * x + k] + alpha * col[k]);
        }
    }
}
