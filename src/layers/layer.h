/* layer.h — what every layer kind shares, and the ops table a kind implements.
 * A kind lives in one file, src/layers/<kind>.c, and is listed once in registry.c.
 * Tensors are NCHW float32, row-major. A layer's parameters are a view into the network's
 * parameter block, in .weights file order, so loading and saving are one loop. */
#ifndef CNN_LAYER_H
#define CNN_LAYER_H

#include <stddef.h>

#include "activations.h"
#include "cfg.h"
#include "status.h"

typedef struct {
    int c, h, w;
} cnn_shape;

static inline size_t cnn_shape_size(cnn_shape s) { return (size_t)s.c * s.h * s.w; }

typedef struct cnn_net cnn_net;
typedef struct cnn_layer cnn_layer;

typedef enum {
    CNN_LAYER_PLAIN = 0,
    CNN_LAYER_YOLO,    /* detection head, decoded by detect.c */
    CNN_LAYER_REGION,  /* yolov2 detection head */
    CNN_LAYER_SOFTMAX  /* classifier output */
} cnn_layer_role;

typedef struct {
    const char *section; /* cfg section name, e.g. "convolutional" */
    const char *type;    /* short name for tables, e.g. "conv" */
    /* Reads the section's options into a kind-specific struct stored in l->p. */
    cnn_status (*parse)(cnn_layer *l, const cnn_cfg *cfg, cnn_cfg_section *s, cnn_error *err);
    /* Pass 1: given l->in (and earlier layers), sets l->out, n_params, n_fused, n_workspace,
     * flops. Must not allocate anything but what parse already holds. */
    cnn_status (*plan)(cnn_layer *l, const cnn_net *net, cnn_error *err);
    /* After parameters are loaded: derive inference parameters (e.g. fold batch-norm) into
     * l->fused. Optional. */
    void (*prepare)(cnn_layer *l);
    /* in is (batch, in.c, in.h, in.w); writes l->output (batch, out.c, out.h, out.w).
     * Must not allocate. */
    void (*forward)(cnn_layer *l, const float *in, cnn_net *net);
    /* One-line description of the options for `info` (e.g. "16 3x3/1"). Optional. */
    void (*describe)(const cnn_layer *l, char *buf, size_t n);
    void (*free)(cnn_layer *l); /* frees l->p; optional */

    /* ---- training (train.c); a kind without backward cannot be trained ---- */
    /* Forward in training mode: batch statistics for batch-norm, dropout masks, and whatever
     * backward needs kept in l->saved. NULL means forward is also the training forward. */
    void (*forward_train)(cnn_layer *l, const float *in, cnn_net *net);
    /* With l->delta = dL/d(output) for the batch: adds dL/d(parameters) into l->grad and
     * dL/d(input) into in_delta (NULL when nothing before needs it). May use net->train_ws. */
    void (*backward)(cnn_layer *l, const float *in, float *in_delta, cnn_net *net);
    /* Marks each parameter (file order): CNN_PARAM_FIXED (running statistics, updated by
     * forward_train itself), CNN_PARAM_WEIGHT (decayed), CNN_PARAM_BIAS or CNN_PARAM_SLOPE
     * (not decayed).
     * NULL: all n_params are weights. */
    void (*param_roles)(const cnn_layer *l, unsigned char *roles);
} cnn_layer_ops;

/* SLOPE: a learned activation slope (prelu); trained like a bias (no weight decay) but
 * initialised to CNN_PRELU_INIT, not 0. */
enum { CNN_PARAM_FIXED = 0, CNN_PARAM_WEIGHT = 1, CNN_PARAM_BIAS = 2, CNN_PARAM_SLOPE = 3 };

struct cnn_layer {
    const cnn_layer_ops *ops;
    int index;          /* position in the network, 0-based, as darknet counts */
    int cfg_line;       /* line of the [section] header */
    cnn_layer_role role;
    cnn_shape in, out;
    cnn_activation act; /* for table display; kinds without one keep LINEAR */
    int batch_norm;     /* conv and connected: batch_normalize=1 (params hold scales, means,
                           variances; n_fused > 0 does not tell: packed kernels use it too) */
    int fold_in_place;  /* conv: fold batch-norm into params themselves (cnn_net_fold_in_place):
                           0 no, 1 at the next prepare, 2 done (params hold folded weights) */
    size_t n_params;    /* floats in the .weights file */
    size_t n_fused;     /* floats of derived inference parameters */
    size_t n_workspace; /* floats of shared scratch needed by forward */
    double flops;       /* per image, multiply-add counted as 2 */
    float *params;      /* view, n_params floats, file order */
    float *fused;       /* view, n_fused floats */
    float *output;      /* view, batch * cnn_shape_size(out) floats */
    /* training only (NULL until cnn_net_train_alloc) */
    size_t n_saved;     /* floats kept from forward_train for backward, per batch item */
    size_t n_train_ws;  /* floats of scratch needed by forward_train/backward (whole batch) */
    float *saved;       /* view, batch * n_saved floats */
    float *delta;       /* view, dL/d(output), same size as output */
    float *grad;        /* view, dL/d(params), n_params floats */
    void *p;            /* kind-specific options and pointers */
};

/* Looks a section name up in the registry (registry.c); NULL when unknown. */
const cnn_layer_ops *cnn_layer_lookup(const char *section);
/* Names of all sections, for messages ("expected one of ..."). */
void cnn_layer_kinds(char *buf, size_t n);

/* Resolves a darknet layer reference (negative = relative to index) to an absolute index.
 * Returns -1 when it does not name an earlier layer. */
int cnn_layer_ref(int ref, int index);

#endif
