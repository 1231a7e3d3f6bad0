/* train.c — optimisers, schedules, steps and checkpoints (see train.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "fsutil.h"
#include "train.h"

#define STATE_MAGIC "CNNTRAIN1"

struct cnn_trainer {
    cnn_net *net;
    cnn_train_opts o;
    long step;
    float *m, *v;            /* momentum (SGD) or first/second moments (Adam) */
    unsigned char *roles;    /* CNN_PARAM_* per parameter */
    cnn_box_label *truth_boxes;
    int *truth_count;
    int max_boxes;
    float *sample;           /* one augmented sample */
};

cnn_status cnn_train_opts_from_cfg(const char *cfg_path, cnn_train_opts *o, cnn_error *err)
{
    memset(o, 0, sizeof *o);
    o->lr = 0.001f, o->momentum = 0.9f, o->decay = 0.0005f, o->power = 4;
    o->b1 = 0.9f, o->b2 = 0.999f, o->eps = 1e-7f;
    o->aug = (cnn_augment){.flip = 1, .shift = 0, .brightness = 0, .contrast = 0, .fill = 0};
    cnn_cfg cfg;
    cnn_status st = cnn_cfg_load(cfg_path, &cfg, err);
    if (st) return st;
    cnn_cfg_section *s = &cfg.secs[0];
    int max_batches = 0, n_scales = 0;
    if ((st = cnn_cfg_float(&cfg, s, "learning_rate", o->lr, 0, 10, &o->lr, err)) ||
        (st = cnn_cfg_float(&cfg, s, "momentum", o->momentum, 0, 0.9999f, &o->momentum, err)) ||
        (st = cnn_cfg_float(&cfg, s, "decay", o->decay, 0, 1, &o->decay, err)) ||
        (st = cnn_cfg_int(&cfg, s, "burn_in", 0, 0, 1 << 30, &o->burn_in, err)) ||
        (st = cnn_cfg_float(&cfg, s, "power", o->power, 0, 100, &o->power, err)) ||
        (st = cnn_cfg_int(&cfg, s, "max_batches", 0, 0, 1 << 30, &max_batches, err)) ||
        (st = cnn_cfg_int(&cfg, s, "adam", 0, 0, 1, &o->adam, err)) ||
        (st = cnn_cfg_float(&cfg, s, "B1", o->b1, 0, 0.99999f, &o->b1, err)) ||
        (st = cnn_cfg_float(&cfg, s, "B2", o->b2, 0, 0.99999f, &o->b2, err)) ||
        (st = cnn_cfg_float(&cfg, s, "eps", o->eps, 0, 1, &o->eps, err)) ||
        (st = cnn_cfg_ints(&cfg, s, "steps", o->steps, CNN_TRAIN_MAX_STEPS, &o->n_steps, err)) ||
        (st = cnn_cfg_floats(&cfg, s, "scales", o->scales, CNN_TRAIN_MAX_STEPS, &n_scales, err)))
        goto done;
    o->max_steps = max_batches;
    const char *policy = cnn_cfg_str(s, "policy", o->n_steps ? "steps" : "constant");
    cnn_cfg_opt *po = cnn_cfg_find(s, "policy");
    if (!strcmp(policy, "constant")) o->policy = CNN_LR_CONSTANT;
    else if (!strcmp(policy, "steps")) o->policy = CNN_LR_STEPS;
    else if (!strcmp(policy, "poly")) o->policy = CNN_LR_POLY;
    else if (!strcmp(policy, "cosine")) o->policy = CNN_LR_COSINE;
    else {
        st = cnn_fail(err, CNN_ERR_MODEL, "%s:%d: policy=%s: expected constant, steps, poly or cosine",
                      cfg_path, po ? po->line : s->line, policy);
        goto done;
    }
    if (o->policy == CNN_LR_STEPS && n_scales != o->n_steps) {
        st = cnn_fail(err, CNN_ERR_MODEL, "%s:%d: %d steps but %d scales", cfg_path, s->line,
                      o->n_steps, n_scales);
        goto done;
    }
done:
    cnn_cfg_free(&cfg);
    return st;
}

float cnn_train_lr(const cnn_train_opts *o, long step)
{
    if (step < o->burn_in) return o->lr * powf((float)(step + 1) / o->burn_in, 4);
    switch (o->policy) {
    case CNN_LR_CONSTANT: return o->lr;
    case CNN_LR_STEPS: {
        float lr = o->lr;
        for (int i = 0; i < o->n_steps && step >= o->steps[i]; i++) lr *= o->scales[i];
        return lr;
    }
    case CNN_LR_POLY:
        return o->max_steps > 0 ? o->lr * powf(1.0f - (float)step / o->max_steps, o->power) : o->lr;
    case CNN_LR_COSINE:
        if (o->max_steps <= o->burn_in) return o->lr;
        return o->lr * 0.5f *
               (1 + cosf(3.14159265f * (float)(step - o->burn_in) / (o->max_steps - o->burn_in)));
    }
    return o->lr;
}

void cnn_train_init_params(cnn_net *net, cnn_rng *rng)
{
    for (int i = 0; i < net->n_layers; i++) {
        cnn_layer *l = &net->layers[i];
        if (!l->n_params) continue;
        unsigned char *roles = malloc(l->n_params);
        if (!roles) continue;
        if (l->ops->param_roles) l->ops->param_roles(l, roles);
        else memset(roles, CNN_PARAM_WEIGHT, l->n_params);
        size_t nw = 0;
        for (size_t k = 0; k < l->n_params; k++) nw += roles[k] == CNN_PARAM_WEIGHT;
        const float fan_in = (float)nw / l->out.c;
        const float limit = sqrtf(6.0f / fan_in); /* He-uniform */
        /* batch-norm layout: bias, scale = BIAS; mean, var = FIXED (in file order) */
        int seen_fixed = 0;
        for (size_t k = 0; k < l->n_params; k++) {
            switch (roles[k]) {
            case CNN_PARAM_WEIGHT: l->params[k] = limit * (2 * cnn_rng_uniform(rng) - 1); break;
            case CNN_PARAM_BIAS: l->params[k] = 0; break;
            case CNN_PARAM_SLOPE: l->params[k] = CNN_PRELU_INIT; break;
            case CNN_PARAM_FIXED: l->params[k] = seen_fixed++ < l->out.c ? 0.0f : 1.0f; break;
            }
        }
        /* batch-norm scales start at 1: they are the BIAS run right after the biases */
        int n_fixed = seen_fixed;
        if (n_fixed) {
            size_t k = 0;
            while (k < l->n_params && roles[k] != CNN_PARAM_BIAS) k++;
            size_t run = 0;
            while (k + run < l->n_params && roles[k + run] == CNN_PARAM_BIAS) run++;
            /* conv: [bias n][scale n] contiguous; connected: bias first, scale after weights */
            if (run == 2u * l->out.c) {
                for (int c = 0; c < l->out.c; c++) l->params[k + l->out.c + c] = 1;
            } else {
                size_t s = k + run;
                while (s < l->n_params && roles[s] != CNN_PARAM_BIAS) s++;
                for (int c = 0; c < l->out.c && s + c < l->n_params; c++) l->params[s + c] = 1;
            }
        }
        free(roles);
    }
    cnn_net_prepare(net);
}

cnn_status cnn_trainer_new(cnn_net *net, const cnn_train_opts *o, cnn_trainer **out, cnn_error *err)
{
    *out = NULL;
    cnn_status st = net->deltas ? CNN_OK : cnn_net_train_alloc(net, err);
    if (st) return st;
    cnn_trainer *t = calloc(1, sizeof *t);
    if (!t) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    t->net = net;
    t->o = *o;
    t->max_boxes = 64;
    size_t np = net->n_params ? net->n_params : 1;
    t->m = calloc(np, sizeof(float));
    t->v = calloc(np, sizeof(float));
    t->roles = malloc(np);
    t->truth_boxes = malloc(sizeof *t->truth_boxes * (size_t)net->batch * t->max_boxes);
    t->truth_count = calloc(net->batch, sizeof(int));
    t->sample = malloc(sizeof(float) * cnn_shape_size(net->in));
    if (!t->m || !t->v || !t->roles || !t->truth_boxes || !t->truth_count || !t->sample) {
        cnn_trainer_free(t);
        return cnn_fail(err, CNN_ERR_NOMEM, "out of memory for the optimiser");
    }
    for (int i = 0; i < net->n_layers; i++) {
        const cnn_layer *l = &net->layers[i];
        unsigned char *r = t->roles + (l->params - net->params);
        if (!l->n_params) continue;
        if (l->ops->param_roles) l->ops->param_roles(l, r);
        else memset(r, CNN_PARAM_WEIGHT, l->n_params);
    }
    *out = t;
    return CNN_OK;
}

void cnn_trainer_free(cnn_trainer *t)
{
    if (!t) return;
    free(t->m);
    free(t->v);
    free(t->roles);
    free(t->truth_boxes);
    free(t->truth_count);
    free(t->sample);
    free(t);
}

long cnn_trainer_steps_done(const cnn_trainer *t) { return t->step; }

void cnn_train_permutation(uint64_t seed, long epoch, int *perm, int n)
{
    cnn_rng r = cnn_rng_seed(seed * 0x100000001B3ull + (uint64_t)epoch);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(cnn_rng_next(&r) % (uint64_t)(i + 1)), tmp = perm[i];
        perm[i] = perm[j], perm[j] = tmp;
    }
}

/* Cross-entropy of the softmax output; writes dL/d(logits) = (p - onehot) / batch. */
static float softmax_ce(cnn_layer *l, const cnn_dataset *ds, const int *idx, int batch)
{
    const int n = (int)cnn_shape_size(l->out);
    float loss = 0;
    for (int b = 0; b < batch; b++) {
        const float *p = l->output + (size_t)b * n;
        float *d = l->delta + (size_t)b * n;
        const int y = ds->y[idx[b]];
        for (int k = 0; k < n; k++) d[k] = (p[k] - (k == y)) / batch;
        /* the floor keeps a confident mistake finite; a NaN must stay NaN so that a diverged
         * run is reported, not scored as a confident mistake */
        loss -= isnan(p[y]) ? NAN : logf(p[y] > 1e-12f ? p[y] : 1e-12f);
    }
    return loss / batch;
}

static void update(cnn_trainer *t, float lr)
{
    cnn_net *net = t->net;
    const cnn_train_opts *o = &t->o;
    const size_t n = net->n_params;
    float *w = net->params, *g = net->grads;
    if (o->adam) {
        const long s = t->step + 1;
        const float c1 = 1 - powf(o->b1, (float)s), c2 = 1 - powf(o->b2, (float)s);
        for (size_t i = 0; i < n; i++) {
            if (t->roles[i] == CNN_PARAM_FIXED) continue;
            t->m[i] = o->b1 * t->m[i] + (1 - o->b1) * g[i];
            t->v[i] = o->b2 * t->v[i] + (1 - o->b2) * g[i] * g[i];
            float step = (t->m[i] / c1) / (sqrtf(t->v[i] / c2) + o->eps);
            if (t->roles[i] == CNN_PARAM_WEIGHT) step += o->decay * w[i]; /* decoupled (AdamW) */
            w[i] -= lr * step;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            if (t->roles[i] == CNN_PARAM_FIXED) continue;
            float gi = g[i] + (t->roles[i] == CNN_PARAM_WEIGHT ? o->decay * w[i] : 0);
            t->m[i] = o->momentum * t->m[i] - lr * gi;
            w[i] += t->m[i];
        }
    }
}

float cnn_trainer_step(cnn_trainer *t, const cnn_dataset *ds, const int *idx)
{
    cnn_net *net = t->net;
    const int batch = net->batch;
    const size_t per = cnn_shape_size(net->in);
    cnn_rng r = cnn_rng_seed(t->o.seed * 0x9E3779B97F4A7C15ull ^ (uint64_t)(t->step + 1) * 0xD1B54A32D192ED03ull);
    for (int b = 0; b < batch; b++) {
        const int i = idx[b];
        cnn_box_label *boxes = NULL;
        int nb = 0;
        if (ds->kind == CNN_DATA_YOLO) {
            nb = ds->box_count[i] < t->max_boxes ? ds->box_count[i] : t->max_boxes;
            boxes = t->truth_boxes + (size_t)b * t->max_boxes;
            memcpy(boxes, ds->boxes + ds->box_first[i], sizeof *boxes * nb);
        }
        cnn_data_augment(cnn_data_sample(ds, i), net->input + b * per, ds->c, ds->h, ds->w, &t->o.aug,
                         boxes, &nb, &r);
        if (boxes) t->truth_count[b] = nb;
    }
    cnn_truth truth = {t->truth_boxes, t->truth_count, t->max_boxes};
    net->truth = ds->kind == CNN_DATA_YOLO ? &truth : NULL;
    cnn_net_forward_train(net);
    cnn_layer *last = &net->layers[net->n_layers - 1];
    float loss;
    if (last->role == CNN_LAYER_SOFTMAX && ds->y) loss = softmax_ce(last, ds, idx, batch);
    else loss = net->loss; /* the loss layers report the batch mean */
    memset(net->grads, 0, sizeof(float) * net->n_params);
    cnn_net_backward(net);
    net->truth = NULL;
    update(t, cnn_train_lr(&t->o, t->step));
    t->step++;
    net->seen += (uint64_t)batch;
    return loss;
}

void cnn_trainer_recalibrate_bn(cnn_trainer *t, const cnn_dataset *ds, int steps)
{
    cnn_net *net = t->net;
    const int batch = net->batch, per_epoch = ds->n / batch;
    const size_t per = cnn_shape_size(net->in);
    int *perm = malloc(sizeof(int) * ds->n);
    if (!perm || per_epoch < 1) {
        free(perm);
        return;
    }
    cnn_train_permutation(t->o.seed, 0, perm, ds->n);
    for (int k = 0; k < steps; k++) {
        const int *idx = perm + (size_t)(k % per_epoch) * batch;
        for (int b = 0; b < batch; b++)
            memcpy(net->input + b * per, cnn_data_sample(ds, idx[b]), sizeof(float) * per);
        net->bn_recal = k + 1;
        net->truth = NULL;
        cnn_net_forward_train(net);
    }
    net->bn_recal = 0;
    free(perm);
    cnn_net_prepare(net);
}

static uint64_t fnv1a(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

typedef struct {
    char magic[16];
    uint64_t n_params, step, weights_hash;
    int32_t adam, batch;
} state_header;

cnn_status cnn_trainer_save(const cnn_trainer *t, const char *path, cnn_error *err)
{
    const cnn_net *net = t->net;
    cnn_status st = cnn_net_save_weights(net, path, err);
    if (st) return st;
    state_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, STATE_MAGIC, sizeof STATE_MAGIC);
    h.n_params = net->n_params, h.step = (uint64_t)t->step, h.adam = t->o.adam, h.batch = net->batch;
    h.weights_hash = fnv1a(net->params, sizeof(float) * net->n_params);
    size_t n = sizeof h + 2 * sizeof(float) * net->n_params;
    unsigned char *buf = malloc(n);
    if (!buf) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, t->m, sizeof(float) * net->n_params);
    memcpy(buf + sizeof h + sizeof(float) * net->n_params, t->v, sizeof(float) * net->n_params);
    char spath[4200];
    snprintf(spath, sizeof spath, "%s.state", path);
    st = cnn_write_file_atomic(spath, buf, n, err);
    free(buf);
    return st;
}

cnn_status cnn_trainer_load(cnn_trainer *t, const char *path, cnn_error *err)
{
    cnn_net *net = t->net;
    cnn_status st = cnn_net_load_weights(net, path, err);
    if (st) return st;
    char spath[4200];
    snprintf(spath, sizeof spath, "%s.state", path);
    char *buf;
    size_t n;
    size_t want = sizeof(state_header) + 2 * sizeof(float) * net->n_params;
    if ((st = cnn_read_file(spath, want + 1, &buf, &n, CNN_ERR_INPUT, err))) return st;
    state_header h;
    if (n != want) {
        free(buf);
        return cnn_fail(err, CNN_ERR_INPUT, "%s: %zu bytes, expected %zu for this network", spath, n,
                        want);
    }
    memcpy(&h, buf, sizeof h);
    if (memcmp(h.magic, STATE_MAGIC, sizeof STATE_MAGIC) != 0 || h.n_params != net->n_params ||
        h.weights_hash != fnv1a(net->params, sizeof(float) * net->n_params) ||
        h.adam != t->o.adam || h.batch != net->batch) {
        free(buf);
        return cnn_fail(err, CNN_ERR_INPUT,
                        "%s: does not belong to %s (other weights, optimiser or batch size)", spath,
                        path);
    }
    memcpy(t->m, buf + sizeof h, sizeof(float) * net->n_params);
    memcpy(t->v, buf + sizeof h + sizeof(float) * net->n_params, sizeof(float) * net->n_params);
    t->step = (long)h.step;
    free(buf);
    return CNN_OK;
}

double cnn_eval_top1(cnn_net *net, const cnn_dataset *ds)
{
    cnn_net_prepare(net);
    const int batch = net->batch;
    const size_t per = cnn_shape_size(net->in);
    const cnn_layer *last = &net->layers[net->n_layers - 1];
    const int k = (int)cnn_shape_size(last->out);
    long correct = 0;
    for (int s = 0; s < ds->n; s += batch) {
        const int m = ds->n - s < batch ? ds->n - s : batch;
        memcpy(net->input, cnn_data_sample(ds, s), sizeof(float) * per * m);
        if (m < batch) memset(net->input + per * m, 0, sizeof(float) * per * (batch - m));
        cnn_net_forward(net, NULL);
        for (int b = 0; b < m; b++) {
            const float *p = last->output + (size_t)b * k;
            int best = 0;
            for (int c = 1; c < k; c++) best = p[c] > p[best] ? c : best;
            correct += best == ds->y[s + b];
        }
    }
    return ds->n ? (double)correct / ds->n : 0;
}
