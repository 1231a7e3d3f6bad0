/* route.c — [route]: concatenates earlier layers' outputs along channels; with groups/group_id
 * it takes channel slice group_id of groups from each (yolov4-tiny's CSP split). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"
#include "net.h"

#define ROUTE_MAX 16

typedef struct {
    int n, from[ROUTE_MAX]; /* absolute layer indices */
    int groups, group_id;
} route_p;

static cnn_status route_parse(cnn_layer *l, const cnn_cfg *cfg, cnn_cfg_section *s, cnn_error *err)
{
    route_p *p = calloc(1, sizeof *p);
    if (!p) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    l->p = p;
    cnn_status st;
    int refs[ROUTE_MAX];
    if ((st = cnn_cfg_ints(cfg, s, "layers", refs, ROUTE_MAX, &p->n, err))) return st;
    if (p->n == 0) return cnn_cfg_fail_err(err, cfg, s, NULL, "layers= is required");
    for (int i = 0; i < p->n; i++) {
        p->from[i] = cnn_layer_ref(refs[i], l->index);
        if (p->from[i] < 0)
            return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "layers"),
                                    "%d does not name an earlier layer (this is layer %d)", refs[i],
                                    l->index);
    }
    if ((st = cnn_cfg_int(cfg, s, "groups", 1, 1, 1 << 16, &p->groups, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "group_id", 0, 0, p->groups - 1, &p->group_id, err))) return st;
    return CNN_OK;
}

static cnn_status route_plan(cnn_layer *l, const cnn_net *net, cnn_error *err)
{
    const route_p *p = l->p;
    const cnn_layer *first = &net->layers[p->from[0]];
    l->out = (cnn_shape){0, first->out.h, first->out.w};
    for (int i = 0; i < p->n; i++) {
        const cnn_layer *src = &net->layers[p->from[i]];
        if (src->out.h != l->out.h || src->out.w != l->out.w)
            return cnn_fail(err, CNN_ERR_MODEL, "layer %d is %dx%d but layer %d is %dx%d",
                            p->from[i], src->out.h, src->out.w, p->from[0], l->out.h, l->out.w);
        if (src->out.c % p->groups)
            return cnn_fail(err, CNN_ERR_MODEL, "groups=%d does not divide the %d channels of layer %d",
                            p->groups, src->out.c, p->from[i]);
        l->out.c += src->out.c / p->groups;
    }
    return CNN_OK;
}

static void route_forward(cnn_layer *l, const float *in, cnn_net *net)
{
    (void)in;
    const route_p *p = l->p;
    const size_t out_size = cnn_shape_size(l->out);
    for (int b = 0; b < net->batch; b++) {
        float *dst = l->output + b * out_size;
        for (int i = 0; i < p->n; i++) {
            const cnn_layer *src = &net->layers[p->from[i]];
            const size_t part = cnn_shape_size(src->out) / p->groups;
            memcpy(dst, src->output + b * cnn_shape_size(src->out) + p->group_id * part,
                   part * sizeof(float));
            dst += part;
        }
    }
}

static void route_describe(const cnn_layer *l, char *buf, size_t n)
{
    const route_p *p = l->p;
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < p->n && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%d", i ? "," : "", p->from[i]);
    if (p->groups > 1 && len < n) snprintf(buf + len, n - len, " %d/%d", p->group_id, p->groups);
}

static void route_free(cnn_layer *l) { free(l->p); }

static void route_backward(cnn_layer *l, const float *in, float *in_delta, cnn_net *net)
{
    (void)in, (void)in_delta;
    const route_p *p = l->p;
    const size_t out_size = cnn_shape_size(l->out);
    for (int b = 0; b < net->batch; b++) {
        const float *d = l->delta + b * out_size;
        for (int i = 0; i < p->n; i++) {
            cnn_layer *src = &net->layers[p->from[i]];
            const size_t part = cnn_shape_size(src->out) / p->groups;
            float *dst = src->delta + b * cnn_shape_size(src->out) + p->group_id * part;
            for (size_t k = 0; k < part; k++) dst[k] += d[k];
            d += part;
        }
    }
}

const cnn_layer_ops cnn_route_ops = {
    .section = "route",
    .type = "route",
    .parse = route_parse,
    .plan = route_plan,
    .forward = route_forward,
    .describe = route_describe,
    .free = route_free,
    .backward = route_backward,
};
