/* model.c — model lookup by name, loading of cfg + weights + names, seeded test weights. */
#include "model.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "heads.h"

#define NAMES_MAX_BYTES (4u << 20)
#define NAMES_MAX_COUNT 100000

static int exe_dir(char *buf, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    if (len <= 0) return -1;
    buf[len] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash) return -1;
    *slash = '\0';
    return 0;
}

cnn_status cnn_model_resolve(const char *name, cnn_model_paths *out, cnn_error *err)
{
    memset(out, 0, sizeof *out);
    if (!name[0]) return cnn_fail(err, CNN_ERR_USAGE, "empty model name");
    const char *base = strrchr(name, '/');
    snprintf(out->name, sizeof out->name, "%s", base ? base + 1 : name);
    size_t nl = strlen(out->name);
    if (nl > 4 && strcmp(out->name + nl - 4, ".cfg") == 0) out->name[nl - 4] = '\0';

    if (strchr(name, '/')) { /* a path prefix: PREFIX.cfg, PREFIX.weights, PREFIX.names */
        char prefix[CNN_PATH_MAX];
        snprintf(prefix, sizeof prefix, "%s", name);
        size_t pl = strlen(prefix);
        if (pl > 4 && strcmp(prefix + pl - 4, ".cfg") == 0) prefix[pl - 4] = '\0';
        snprintf(out->cfg, sizeof out->cfg, "%s.cfg", prefix);
        snprintf(out->weights, sizeof out->weights, "%s.weights", prefix);
        snprintf(out->names, sizeof out->names, "%s.names", prefix);
        if (!cnn_is_file(out->names)) out->names[0] = '\0';
        if (!cnn_is_file(out->cfg))
            return cnn_fail(err, CNN_ERR_MODEL, "%s: model cfg not found", out->cfg);
        return CNN_OK;
    }

    char dirs[4][CNN_PATH_MAX];
    int nd = 0;
    const char *home = getenv("CNNDEMO_HOME");
    if (home && home[0]) snprintf(dirs[nd++], CNN_PATH_MAX, "%s", home);
    char exe[CNN_PATH_MAX - 32];
    if (exe_dir(exe, sizeof exe) == 0) snprintf(dirs[nd++], CNN_PATH_MAX, "%s/../share/cnndemo", exe);
    snprintf(dirs[nd++], CNN_PATH_MAX, "%s", CNN_INSTALL_DATADIR);
    snprintf(dirs[nd++], CNN_PATH_MAX, "%s", CNN_SOURCE_DIR);
    char looked[1024] = "";
    size_t ll = 0;
    for (int i = 0; i < nd; i++) {
        char cfg[CNN_PATH_MAX + 300];
        snprintf(cfg, sizeof cfg, "%s/models/%s.cfg", dirs[i], name);
        if (ll < sizeof looked)
            ll += (size_t)snprintf(looked + ll, sizeof looked - ll, "%s%s", i ? ", " : "", cfg);
        if (!cnn_is_file(cfg)) continue;
        snprintf(out->cfg, sizeof out->cfg, "%s", cfg);
        snprintf(out->weights, sizeof out->weights, "%s/weights/%s.weights", dirs[i], name);
        snprintf(out->names, sizeof out->names, "%s/models/%s.names", dirs[i], name);
        if (!cnn_is_file(out->names)) out->names[0] = '\0';
        return CNN_OK;
    }
    return cnn_fail(err, CNN_ERR_MODEL, "model '%s' not found (looked for %s)", name, looked);
}

void cnn_names_free(char **names, int n)
{
    if (!names) return;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

cnn_status cnn_names_load(const char *path, char ***names, int *n, cnn_error *err)
{
    *names = NULL;
    *n = 0;
    char *text;
    size_t len;
    cnn_status st = cnn_read_file(path, NAMES_MAX_BYTES, &text, &len, CNN_ERR_MODEL, err);
    if (st) return st;
    int count = 0, cap = 0;
    char **list = NULL;
    int line = 1;
    for (size_t pos = 0; pos < len; line++) {
        size_t end = pos;
        while (end < len && text[end] != '\n') end++;
        size_t e = end;
        if (e > pos && text[e - 1] == '\r') e--;
        for (size_t i = pos; i < e; i++) {
            if (text[i] == '\0') {
                st = cnn_fail(err, CNN_ERR_MODEL, "%s:%d: NUL byte in a class name", path, line);
                goto done;
            }
        }
        if (count >= NAMES_MAX_COUNT) {
            st = cnn_fail(err, CNN_ERR_MODEL, "%s:%d: more than %d names", path, line, NAMES_MAX_COUNT);
            goto done;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(list, sizeof *list * cap);
            if (!grown) {
                st = cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
                goto done;
            }
            list = grown;
        }
        list[count] = strndup(text + pos, e - pos);
        if (!list[count]) {
            st = cnn_fail(err, CNN_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        count++;
        pos = end + 1;
    }
    while (count > 0 && list[count - 1][0] == '\0') free(list[--count]); /* trailing blanks */
done:
    free(text);
    if (st) {
        cnn_names_free(list, count);
        return st;
    }
    *names = list;
    *n = count;
    return CNN_OK;
}

static int output_classes(const cnn_net *net)
{
    for (int i = net->n_layers - 1; i >= 0; i--) {
        const cnn_layer *l = &net->layers[i];
        if (l->role == CNN_LAYER_YOLO) return ((const cnn_yolo_params *)l->p)->classes;
        if (l->role == CNN_LAYER_REGION) {
            int c = ((const cnn_region_params *)l->p)->classes;
            return c ? c : 1;
        }
    }
    return (int)cnn_shape_size(cnn_net_output(net)->out);
}

cnn_status cnn_model_open(const cnn_model_paths *paths, int batch, int fold_in_place, cnn_model *m,
                          cnn_error *err)
{
    memset(m, 0, sizeof *m);
    m->paths = *paths;
    cnn_status st = cnn_net_build(paths->cfg, batch, &m->net, err);
    if (st) return st;
    if (fold_in_place) cnn_net_fold_in_place(m->net);
    if (paths->weights[0] && (st = cnn_net_load_weights(m->net, paths->weights, err))) goto fail;
    if (paths->names[0] && (st = cnn_names_load(paths->names, &m->names, &m->n_names, err))) goto fail;
    m->n_classes = output_classes(m->net);
    return CNN_OK;
fail:
    cnn_model_close(m);
    return st;
}

void cnn_model_close(cnn_model *m)
{
    if (!m) return;
    cnn_net_free(m->net);
    cnn_names_free(m->names, m->n_names);
    m->net = NULL;
    m->names = NULL;
    m->n_names = 0;
}

const char *cnn_model_class_name(const cnn_model *m, int id, char *buf, size_t n)
{
    if (id >= 0 && id < m->n_names && m->names[id][0]) return m->names[id];
    snprintf(buf, n, "class %d", id);
    return buf;
}

void cnn_net_init_random(cnn_net *net, cnn_rng *rng)
{
    for (int i = 0; i < net->n_layers; i++) {
        cnn_layer *l = &net->layers[i];
        if (!l->n_params) continue;
        /* fan-in from the weight count: all weights follow the biases and BN stats in conv,
         * precede them in connected; both have n_params = out + weights [+ 3*out], and a prelu
         * conv has its out slopes after the weights. */
        const int outs = l->out.c;
        const int bn = l->batch_norm, prelu = l->act == CNN_ACT_PRELU; /* prelu: conv only */
        const size_t nw = l->n_params - (size_t)outs * (bn ? 4 : 1) - (prelu ? outs : 0);
        const float fan_in = (float)nw / outs;
        const float scale = sqrtf(2.0f / fan_in) * sqrtf(3.0f); /* He, uniform */
        for (size_t k = 0; k < l->n_params; k++) l->params[k] = 0;
        float *bias = l->params;
        for (int o = 0; o < outs; o++) bias[o] = 0.1f * (cnn_rng_uniform(rng) - 0.5f);
        const int conv_layout = strcmp(l->ops->section, "connected") != 0;
        float *w = conv_layout ? l->params + outs * (bn ? 4 : 1) : l->params + outs;
        for (size_t k = 0; k < nw; k++) w[k] = scale * (2 * cnn_rng_uniform(rng) - 1);
        if (bn) {
            float *s = conv_layout ? l->params + outs : l->params + outs + nw;
            for (int o = 0; o < outs; o++) {
                s[o] = 0.5f + cnn_rng_uniform(rng);             /* scale */
                s[outs + o] = 0.2f * (cnn_rng_uniform(rng) - 0.5f); /* mean */
                s[2 * outs + o] = 0.5f + cnn_rng_uniform(rng);   /* variance */
            }
        }
        for (int o = 0; prelu && o < outs; o++) w[nw + o] = 0.5f * cnn_rng_uniform(rng); /* slopes */
    }
    cnn_net_prepare(net);
}
