/* net.c — building a network from a cfg (parse, plan, allocate), weights I/O and forward.
 * Memory: one block each for parameters (file order), derived parameters, activations and the
 * shared workspace, sized exactly by the plan; nothing is allocated after cnn_net_build. */
#include "net.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fsutil.h"

static const char *const net_training_keys[] = {
    "batch", "subdivisions", "momentum", "decay", "angle", "saturation", "exposure", "hue",
    "learning_rate", "burn_in", "max_batches", "steps", "scales", "mosaic", "flip", "blur",
    "gaussian_noise", "mixup", "cutmix", "max_chart_loss", "aspect", "jitter", "min_crop",
    "max_crop", "power", "gamma", "step", "adam", "B1", "B2", "eps", "time_steps",
    "track", "augment_speed", "sequential_subdivisions", "try_fix_nan", "label_smooth_eps",
    "resize_step", "random", "dynamic_minibatch", "optimized_memory", "workspace_size_limit_MB",
    "loss_scale", "mosaic_bound", "contrastive", "unsupervised", "inputs", "max_epochs",
    "bias_match", "seen", "rotate", "letterbox", NULL};
static const char *const net_text_keys[] = {"policy", NULL};

static cnn_status parse_net_section(cnn_net *net, const cnn_cfg *cfg, cnn_cfg_section *s,
                                    cnn_error *err)
{
    cnn_status st;
    int w, h, c, letter_box;
    if ((st = cnn_cfg_int(cfg, s, "width", 0, 1, 16384, &w, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "height", 0, 1, 16384, &h, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "channels", 3, 1, 3, &c, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "letter_box", 0, 0, 1, &letter_box, err))) return st;
    if (w == 0 || h == 0) return cnn_cfg_fail_err(err, cfg, s, NULL, "width and height are required");
    if (c == 2) return cnn_cfg_fail_err(err, cfg, s, NULL, "channels must be 1 (grey) or 3 (RGB)");
    net->in = (cnn_shape){c, h, w};

    cnn_preproc *pp = &net->pp;
    memset(pp, 0, sizeof *pp);
    pp->w = w, pp->h = h, pp->c = c;
    pp->letterbox = letter_box ? CNN_LETTERBOX_CENTER : CNN_LETTERBOX_NONE;
    pp->kernel = CNN_RESIZE_LINEAR;
    pp->fill = 0.5f;

    /* Extension keys (README, "cfg extensions"). */
    cnn_cfg_opt *o;
    if ((o = cnn_cfg_find(s, "x_letterbox"))) {
        if (strcmp(o->val, "none") == 0) pp->letterbox = CNN_LETTERBOX_NONE;
        else if (strcmp(o->val, "center") == 0) pp->letterbox = CNN_LETTERBOX_CENTER;
        else if (strcmp(o->val, "topleft") == 0) pp->letterbox = CNN_LETTERBOX_TOPLEFT;
        else return cnn_cfg_fail_err(err, cfg, s, o, "expected none, center or topleft");
    }
    if ((o = cnn_cfg_find(s, "x_resize"))) {
        if (strcmp(o->val, "bilinear") == 0) pp->kernel = CNN_RESIZE_LINEAR;
        else if (strcmp(o->val, "bilinear_legacy") == 0) pp->kernel = CNN_RESIZE_LINEAR_LEGACY;
        else return cnn_cfg_fail_err(err, cfg, s, o, "expected bilinear or bilinear_legacy");
    }
    int n_mean = 0;
    if ((st = cnn_cfg_floats(cfg, s, "x_mean", pp->mean, 3, &n_mean, err))) return st;
    if (n_mean != 0 && n_mean != c)
        return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "x_mean"),
                                "needs %d values (one per channel)", c);
    if ((st = cnn_cfg_float(cfg, s, "x_input_divisor", 255.0f, 1e-6f, 1e9f, &pp->divisor, err)))
        return st;
    if ((st = cnn_cfg_float(cfg, s, "x_fill", pp->letterbox == CNN_LETTERBOX_CENTER ? 0.5f : 0.0f,
                            -1e6f, 1e6f, &pp->fill, err)))
        return st;
    if ((st = cnn_cfg_int(cfg, s, "x_explain_layer", -1, -1, 1 << 20, &net->explain_layer, err)))
        return st;
    if ((st = cnn_cfg_accept_numbers(cfg, s, net_training_keys, err))) return st;
    cnn_cfg_accept_any(s, net_text_keys);
    return cnn_cfg_check_unused(cfg, s, err);
}

const cnn_layer *cnn_net_output(const cnn_net *net) { return &net->layers[net->n_layers - 1]; }

void cnn_net_free(cnn_net *net)
{
    if (!net) return;
    for (int i = 0; i < net->n_layers; i++) {
        cnn_layer *l = &net->layers[i];
        if (l->ops && l->ops->free && !net->shares_params) l->ops->free(l);
    }
    free(net->layers);
    if (!net->shares_params) {
        free(net->params);
        free(net->fused);
        free(net->cfg_path);
    }
    free(net->input);
    free(net->acts);
    free(net->workspace);
    free(net->deltas);
    free(net->grads);
    free(net->saved);
    free(net->train_ws);
    cnn_pool_free(net->pool);
    free(net);
}

static float *alloc_floats(size_t n)
{
    return calloc(n ? n : 1, sizeof(float));
}

/* Pass 2: one block per kind of memory, then views into it. */
static cnn_status allocate(cnn_net *net, int with_params, cnn_error *err)
{
    size_t n_in = (size_t)net->batch * cnn_shape_size(net->in);
    net->n_params = net->n_fused = net->n_acts = net->n_workspace = 0;
    net->flops = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const cnn_layer *l = &net->layers[i];
        net->n_params += l->n_params;
        net->n_fused += l->n_fused;
        net->n_acts += (size_t)net->batch * cnn_shape_size(l->out);
        if (l->n_workspace > net->n_workspace) net->n_workspace = l->n_workspace;
        net->flops += l->flops;
    }
    size_t bytes = cnn_net_memory_bytes(net) + n_in * sizeof(float);
    if (bytes > CNN_NET_MAX_BYTES)
        return cnn_fail(err, CNN_ERR_MODEL,
                        "%s:%d: [net] width/height: network would need %.1f MiB (params %zu, activations %zu, "
                        "workspace %zu floats), over the %llu MiB limit",
                        net->cfg_path, net->cfg_line, bytes / 1048576.0, net->n_params, net->n_acts,
                        net->n_workspace, CNN_NET_MAX_BYTES >> 20);
    net->input = alloc_floats(n_in);
    net->acts = alloc_floats(net->n_acts);
    net->workspace = alloc_floats(net->n_workspace * net->threads);
    if (with_params) {
        net->params = alloc_floats(net->n_params);
        net->fused = alloc_floats(net->n_fused);
    }
    if (!net->input || !net->acts || !net->workspace || !net->params || !net->fused)
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory for %.1f MiB", net->cfg_path,
                        bytes / 1048576.0);
    float *pp = net->params, *fp = net->fused, *ap = net->acts;
    for (int i = 0; i < net->n_layers; i++) {
        cnn_layer *l = &net->layers[i];
        l->params = pp;
        l->fused = fp;
        l->output = ap;
        pp += l->n_params;
        fp += l->n_fused;
        ap += (size_t)net->batch * cnn_shape_size(l->out);
    }
    return CNN_OK;
}

size_t cnn_net_memory_bytes(const cnn_net *net)
{
    return (net->n_params + net->n_fused + net->n_acts + net->n_workspace * net->threads) *
           sizeof(float);
}

static cnn_status build_from_cfg(cnn_cfg *cfg, int batch, cnn_net **out, cnn_error *err)
{
    *out = NULL;
    if (batch < 1 || batch > 4096) return cnn_fail(err, CNN_ERR_USAGE, "batch %d out of range", batch);
    cnn_net *net = calloc(1, sizeof *net);
    if (!net) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    net->batch = batch;
    net->threads = 1;
    net->cfg_path = strdup(cfg->path);
    cnn_status st = CNN_OK;
    if (!net->cfg_path) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    cnn_cfg_section *first = &cfg->secs[0];
    if (strcmp(first->name, "net") != 0 && strcmp(first->name, "network") != 0) {
        st = cnn_fail(err, CNN_ERR_MODEL, "%s:%d: the first section must be [net], not [%s]",
                      cfg->path, first->line, first->name);
        goto fail;
    }
    if ((st = parse_net_section(net, cfg, first, err))) goto fail;
    /* the memory check names the input size, which is what makes a network too large */
    cnn_cfg_opt *width = cnn_cfg_find(first, "width");
    net->cfg_line = width ? width->line : first->line;
    if (cfg->n_secs < 2) {
        st = cnn_fail(err, CNN_ERR_MODEL, "%s: no layers after [net]", cfg->path);
        goto fail;
    }
    net->layers = calloc((size_t)cfg->n_secs - 1, sizeof *net->layers);
    if (!net->layers) {
        st = cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 1; i < cfg->n_secs; i++) {
        cnn_cfg_section *s = &cfg->secs[i];
        cnn_layer *l = &net->layers[i - 1];
        l->index = i - 1;
        l->cfg_line = s->line;
        l->in = i == 1 ? net->in : net->layers[i - 2].out;
        l->ops = cnn_layer_lookup(s->name);
        if (!l->ops) {
            char kinds[512];
            cnn_layer_kinds(kinds, sizeof kinds);
            st = cnn_fail(err, CNN_ERR_MODEL, "%s:%d: unknown section [%s] (known: %s)", cfg->path,
                          s->line, s->name, kinds);
            goto fail;
        }
        net->n_layers = i; /* so free() sees this layer's p */
        if ((st = l->ops->parse(l, cfg, s, err))) goto fail;
        if ((st = cnn_cfg_check_unused(cfg, s, err))) goto fail;
        if ((st = l->ops->plan(l, net, err))) {
            cnn_error_prefix(err, "%s:%d: layer %d [%s]: ", cfg->path, s->line, l->index, s->name);
            goto fail;
        }
        if (l->out.c < 1 || l->out.h < 1 || l->out.w < 1) {
            st = cnn_fail(err, CNN_ERR_MODEL, "%s:%d: layer %d [%s]: output shape %dx%dx%d is empty",
                          cfg->path, s->line, l->index, s->name, l->out.c, l->out.h, l->out.w);
            goto fail;
        }
        if ((double)cnn_shape_size(l->out) * batch * sizeof(float) > (double)CNN_NET_MAX_BYTES) {
            st = cnn_fail(err, CNN_ERR_MODEL, "%s:%d: layer %d [%s]: output %dx%dx%d is too large",
                          cfg->path, s->line, l->index, s->name, l->out.c, l->out.h, l->out.w);
            goto fail;
        }
    }
    net->n_layers = cfg->n_secs - 1;
    if ((st = allocate(net, 1, err))) goto fail;
    net->major = 0, net->minor = 2, net->revision = 0, net->seen = 0;
    cnn_net_prepare(net);
    *out = net;
    return CNN_OK;
fail:
    cnn_net_free(net);
    return st;
}

cnn_status cnn_net_build_text(const char *text, size_t len, const char *name, int batch,
                              cnn_net **out, cnn_error *err)
{
    cnn_cfg cfg;
    cnn_status st = cnn_cfg_parse(text, len, name, &cfg, err);
    if (st) return st;
    st = build_from_cfg(&cfg, batch, out, err);
    cnn_cfg_free(&cfg);
    return st;
}

cnn_status cnn_net_build(const char *cfg_path, int batch, cnn_net **out, cnn_error *err)
{
    cnn_cfg cfg;
    cnn_status st = cnn_cfg_load(cfg_path, &cfg, err);
    if (st) return st;
    st = build_from_cfg(&cfg, batch, out, err);
    cnn_cfg_free(&cfg);
    return st;
}

cnn_status cnn_net_clone(const cnn_net *src, cnn_net **out, cnn_error *err)
{
    *out = NULL;
    cnn_net *net = calloc(1, sizeof *net);
    if (!net) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    *net = *src;
    net->shares_params = 1;
    net->input = net->acts = net->workspace = NULL;
    net->pool = NULL;
    net->layers = malloc(sizeof *net->layers * src->n_layers);
    if (!net->layers) {
        free(net);
        return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    }
    memcpy(net->layers, src->layers, sizeof *net->layers * src->n_layers);
    net->params = src->params;
    net->fused = src->fused;
    cnn_status st = allocate(net, 0, err);
    if (st) {
        cnn_net_free(net);
        return st;
    }
    /* allocate() re-pointed params/fused views at the same blocks; keep them. */
    if (net->threads > 1 && (st = cnn_pool_create(net->threads, &net->pool, err))) {
        cnn_net_free(net);
        return st;
    }
    *out = net;
    return CNN_OK;
}

cnn_status cnn_net_set_threads(cnn_net *net, int threads, cnn_error *err)
{
    if (threads < 1 || threads > CNN_NET_MAX_THREADS)
        return cnn_fail(err, CNN_ERR_USAGE, "%d threads: expected 1..%d", threads, CNN_NET_MAX_THREADS);
    if (threads == net->threads) return CNN_OK;
    const int old = net->threads;
    net->threads = threads;
    const size_t bytes = cnn_net_memory_bytes(net);
    net->threads = old;
    if (bytes > CNN_NET_MAX_BYTES)
        return cnn_fail(err, CNN_ERR_USAGE, "%s: %d threads would need %.1f MiB, over the %llu MiB limit",
                        net->cfg_path, threads, bytes / 1048576.0, CNN_NET_MAX_BYTES >> 20);
    cnn_pool *pool = NULL;
    cnn_status st;
    if (threads > 1 && (st = cnn_pool_create(threads, &pool, err))) return st;
    float *ws = alloc_floats(net->n_workspace * threads);
    if (!ws) {
        cnn_pool_free(pool);
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory for the workspace of %d threads",
                        net->cfg_path, threads);
    }
    free(net->workspace);
    cnn_pool_free(net->pool);
    net->workspace = ws;
    net->pool = pool;
    net->threads = threads;
    return CNN_OK;
}

void cnn_net_prepare(cnn_net *net)
{
    for (int i = 0; i < net->n_layers; i++) {
        cnn_layer *l = &net->layers[i];
        if (l->ops->prepare) l->ops->prepare(l);
    }
}

static int header_seen_is_64(int major, int minor)
{
    return (major * 10 + minor) >= 2 && major < 1000 && minor < 1000;
}

uint64_t cnn_net_weights_bytes(const cnn_net *net, int major, int minor)
{
    return 12u + (header_seen_is_64(major, minor) ? 8u : 4u) + (uint64_t)net->n_params * 4u;
}

static uint32_t rd_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void cnn_net_fold_in_place(cnn_net *net)
{
    /* building prepared the (all-zero) parameters into the folded copies in fused; a fresh
     * block leaves the pages the copies would use untouched, so they never take memory */
    float *fused = net->shares_params ? NULL : alloc_floats(net->n_fused);
    if (fused) {
        free(net->fused);
        net->fused = fused;
        for (int i = 0; i < net->n_layers; i++) {
            net->layers[i].fused = fused;
            fused += net->layers[i].n_fused;
        }
    }
    for (int i = 0; i < net->n_layers; i++) net->layers[i].fold_in_place = 1;
    cnn_net_prepare(net);
}

cnn_status cnn_net_load_weights(cnn_net *net, const char *path, cnn_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cnn_fail(err, CNN_ERR_MODEL, "%s: cannot open weights: %s", path, strerror(errno));
    struct stat stt;
    if (fstat(fileno(f), &stt) != 0 || !S_ISREG(stt.st_mode)) {
        fclose(f);
        return cnn_fail(err, CNN_ERR_MODEL, "%s: not a regular file", path);
    }
    uint64_t actual = (uint64_t)stt.st_size;
    unsigned char hdr[20];
    if (actual < 16 || fread(hdr, 1, 12, f) != 12) {
        fclose(f);
        return cnn_fail(err, CNN_ERR_MODEL,
                        "%s: weights file has %llu bytes, too short for a header; the cfg needs "
                        "%llu bytes",
                        path, (unsigned long long)actual,
                        (unsigned long long)cnn_net_weights_bytes(net, 0, 2));
    }
    int32_t major = (int32_t)rd_u32(hdr), minor = (int32_t)rd_u32(hdr + 4),
            revision = (int32_t)rd_u32(hdr + 8);
    if (major < 0 || minor < 0 || major >= 1000 || minor >= 1000) {
        fclose(f);
        return cnn_fail(err, CNN_ERR_MODEL, "%s: unsupported weights header version %d.%d.%d", path,
                        major, minor, revision);
    }
    int seen64 = header_seen_is_64(major, minor);
    uint64_t expected = cnn_net_weights_bytes(net, major, minor);
    if (actual != expected) {
        fclose(f);
        long long diff = (long long)actual - (long long)expected;
        return cnn_fail(err, CNN_ERR_MODEL,
                        "%s: weights file has %llu bytes but %s needs %llu (%zu floats + %d-byte "
                        "header): %lld bytes %s",
                        path, (unsigned long long)actual, net->cfg_path,
                        (unsigned long long)expected, net->n_params, seen64 ? 20 : 16,
                        diff < 0 ? -diff : diff, diff < 0 ? "missing" : "too many");
    }
    size_t seen_bytes = seen64 ? 8 : 4;
    if (fread(hdr + 12, 1, seen_bytes, f) != seen_bytes ||
        fread(net->params, sizeof(float), net->n_params, f) != net->n_params) {
        fclose(f);
        return cnn_fail(err, CNN_ERR_MODEL, "%s: read error", path);
    }
    fclose(f);
    net->major = major, net->minor = minor, net->revision = revision;
    net->seen = seen64 ? (uint64_t)rd_u32(hdr + 12) | (uint64_t)rd_u32(hdr + 16) << 32
                       : rd_u32(hdr + 12);
    for (size_t i = 0; i < net->n_params; i++) {
        if (!isfinite(net->params[i])) {
            size_t off = i, li = 0;
            while (li < (size_t)net->n_layers && off >= net->layers[li].n_params)
                off -= net->layers[li++].n_params;
            return cnn_fail(err, CNN_ERR_MODEL,
                            "%s: byte offset %zu: non-finite value in the parameters of layer %zu",
                            path, (seen64 ? 20 : 16) + i * 4, li);
        }
    }
    for (int i = 0; i < net->n_layers; i++) { /* fresh parameters: fold them again */
        cnn_layer *l = &net->layers[i];
        if (l->fold_in_place) l->fold_in_place = 1, net->params_folded = 1;
    }
    cnn_net_prepare(net);
    return CNN_OK;
}

cnn_status cnn_net_save_weights(const cnn_net *net, const char *path, cnn_error *err)
{
    if (net->params_folded)
        return cnn_fail(err, CNN_ERR_USAGE, "%s: the network's parameters were folded for inference", path);
    size_t n = 20 + net->n_params * sizeof(float);
    unsigned char *buf = malloc(n);
    if (!buf) return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
    int32_t hdr[3] = {0, 2, 0};
    uint64_t seen = net->seen;
    memcpy(buf, hdr, 12);
    memcpy(buf + 12, &seen, 8);
    memcpy(buf + 20, net->params, net->n_params * sizeof(float));
    cnn_status st = cnn_write_file_atomic(path, buf, n, err);
    free(buf);
    return st;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cnn_net_forward(cnn_net *net, double *layer_seconds)
{
    const float *in = net->input;
    for (int i = 0; i < net->n_layers; i++) {
        cnn_layer *l = &net->layers[i];
        double t0 = layer_seconds ? now_seconds() : 0;
        l->ops->forward(l, in, net);
        if (layer_seconds) layer_seconds[i] = now_seconds() - t0;
        in = l->output;
    }
}

/* frozen: for cnn_net_grad_alloc (clones and heads without backward allowed). */
static cnn_status backward_alloc(cnn_net *net, int frozen, cnn_error *err)
{
    if (net->shares_params && !frozen)
        return cnn_fail(err, CNN_ERR_INTERNAL, "a cloned network cannot be trained");
    size_t n_saved = 0, ws = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const cnn_layer *l = &net->layers[i];
        if (!l->ops->backward && !(frozen && l->role != CNN_LAYER_PLAIN))
            return cnn_fail(err, CNN_ERR_MODEL, "%s:%d: layer %d [%s] cannot be trained",
                            net->cfg_path, l->cfg_line, l->index, l->ops->section);
        n_saved += l->n_saved * net->batch;
        ws = l->n_train_ws > ws ? l->n_train_ws : ws;
    }
    double bytes = ((double)net->n_acts + net->n_params + n_saved + ws) * sizeof(float);
    if (bytes > (double)CNN_NET_MAX_BYTES)
        return cnn_fail(err, CNN_ERR_MODEL, "%s: training needs %.1f MiB (limit %llu MiB)",
                        net->cfg_path, bytes / 1048576.0, CNN_NET_MAX_BYTES >> 20);
    net->deltas = calloc(net->n_acts ? net->n_acts : 1, sizeof(float));
    net->grads = calloc(net->n_params ? net->n_params : 1, sizeof(float));
    net->saved = calloc(n_saved ? n_saved : 1, sizeof(float));
    net->train_ws = calloc(ws ? ws : 1, sizeof(float));
    net->n_train_ws = ws;
    if (!net->deltas || !net->grads || !net->saved || !net->train_ws)
        return cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory for training (%.1f MiB)",
                        net->cfg_path, bytes / 1048576.0);
    float *dp = net->deltas, *gp = net->grads, *sp = net->saved;
    for (int i = 0; i < net->n_layers; i++) {
        cnn_layer *l = &net->layers[i];
        l->delta = dp, l->grad = gp, l->saved = sp;
        dp += (size_t)net->batch * cnn_shape_size(l->out);
        gp += l->n_params;
        sp += l->n_saved * net->batch;
    }
    net->frozen = frozen;
    return CNN_OK;
}

cnn_status cnn_net_train_alloc(cnn_net *net, cnn_error *err) { return backward_alloc(net, 0, err); }
cnn_status cnn_net_grad_alloc(cnn_net *net, cnn_error *err) { return backward_alloc(net, 1, err); }

void cnn_net_forward_train(cnn_net *net)
{
    memset(net->deltas, 0, sizeof(float) * net->n_acts);
    net->loss = 0;
    net->training = 1;
    const float *in = net->input;
    for (int i = 0; i < net->n_layers; i++) {
        cnn_layer *l = &net->layers[i];
        if (l->ops->forward_train) l->ops->forward_train(l, in, net);
        else l->ops->forward(l, in, net);
        in = l->output;
    }
    net->training = 0;
}

void cnn_net_backward(cnn_net *net) { cnn_net_backward_range(net, net->n_layers - 1, 0); }

void cnn_net_backward_range(cnn_net *net, int last, int first)
{
    for (int i = last; i >= first; i--) {
        cnn_layer *l = &net->layers[i];
        const float *in = i ? net->layers[i - 1].output : net->input;
        float *in_delta = i ? net->layers[i - 1].delta : NULL;
        l->ops->backward(l, in, in_delta, net);
    }
}
