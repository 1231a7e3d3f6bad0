/* net.h — a network: layers built from a cfg in two passes (plan every shape and size, then
 * allocate parameter, activation and workspace blocks once), weights I/O and forward.
 * The cnn_net owns everything it points to; free with cnn_net_free. A built network is
 * read-only during forward except for its own activations and workspace: to run several images
 * at once on threads, build one network per thread (cnn_net_clone shares the parameters).
 * A network runs each forward on `threads` cores (1 after building; cnn_net_set_threads): the
 * caller's thread plus a pool of helpers it owns (pool.c). */
#ifndef CNN_NET_H
#define CNN_NET_H

#include <stdint.h>

#include "image.h"
#include "layer.h"
#include "pool.h"

/* Refuse networks whose planned memory exceeds this (a malicious or mistyped cfg). */
#define CNN_NET_MAX_BYTES (8ull << 30)

struct cnn_net {
    char *cfg_path;
    int cfg_line;          /* line of the [net] section, for messages */
    cnn_layer *layers;
    int n_layers;
    int batch;
    cnn_shape in;          /* network input (c, h, w) */
    cnn_preproc pp;        /* preprocessing from [net] */
    int explain_layer;     /* [net] x_explain_layer: Grad-CAM's layer for --explain, or -1 */
    float *input;          /* (batch, in.c, in.h, in.w) */
    float *params;         /* all layers' parameters, file order */
    size_t n_params;
    float *fused;
    size_t n_fused;
    float *acts;           /* all layer outputs */
    size_t n_acts;
    float *workspace;      /* scratch: threads slices of n_workspace floats */
    size_t n_workspace;
    int threads;           /* cores a forward uses, counting the caller's */
    cnn_pool *pool;        /* threads - 1 helpers; NULL for 1 thread */
    double flops;          /* per image */
    int shares_params;     /* a clone: params/fused belong to another net */
    int params_folded;     /* weights loaded after cnn_net_fold_in_place (params are folded) */
    /* training state (cnn_net_train_alloc) */
    float *deltas, *grads, *saved, *train_ws;
    size_t n_train_ws;
    const void *truth;     /* a cnn_truth (data.h): the batch's boxes, for yolo/region losses */
    float loss;            /* summed by the loss layers during forward_train */
    int training;          /* forward_train sets it; dropout and batch-norm read it */
    int bn_recal;          /* > 0: batch-norm recalibration step k (running stats = plain mean) */
    int frozen;            /* forward_train/backward differentiate the inference function:
                              batch-norm uses its running statistics and leaves them alone,
                              dropout is the identity (cnn_net_grad_alloc sets it; explain.c) */
    /* weights file header */
    int32_t major, minor, revision;
    uint64_t seen;
};

cnn_status cnn_net_build(const char *cfg_path, int batch, cnn_net **out, cnn_error *err);
/* Same from cfg text already in memory (name used in messages). */
cnn_status cnn_net_build_text(const char *text, size_t len, const char *name, int batch,
                              cnn_net **out, cnn_error *err);
/* A network sharing src's parameters, with its own activations, workspace and thread pool (of
 * src's thread count), for another thread. src must outlive the clone. */
cnn_status cnn_net_clone(const cnn_net *src, cnn_net **out, cnn_error *err);
void cnn_net_free(cnn_net *net);
/* Sets the cores each forward uses (1..CNN_NET_MAX_THREADS), starting threads - 1 helpers and
 * sizing the workspace for them; results agree across thread counts up to float rounding.
 * Not during a forward. */
cnn_status cnn_net_set_threads(cnn_net *net, int threads, cnn_error *err);
#define CNN_NET_MAX_THREADS 256

/* Inference only, to halve the parameter memory: call before cnn_net_load_weights (not on a
 * clone), which then folds batch-norm into the convolution weights in params itself instead of
 * into a copy. The file's values are lost: saving fails, and the network must not be trained
 * or explained (both need the unfolded batch-norm). */
void cnn_net_fold_in_place(cnn_net *net);

/* Bytes a weights file for this network must have, for a given header version. */
uint64_t cnn_net_weights_bytes(const cnn_net *net, int major, int minor);
/* Reads a darknet .weights file; its size must match the cfg exactly. Then prepares. */
cnn_status cnn_net_load_weights(cnn_net *net, const char *path, cnn_error *err);
/* Writes a darknet .weights file (major 0, minor 2, uint64 seen), atomically. */
cnn_status cnn_net_save_weights(const cnn_net *net, const char *path, cnn_error *err);
/* Recomputes derived parameters (batch-norm folding) after params changed. */
void cnn_net_prepare(cnn_net *net);

/* Runs every layer on net->input. No allocation. If layer_seconds is non-NULL it receives the
 * wall time of each layer. */
void cnn_net_forward(cnn_net *net, double *layer_seconds);

/* Training: allocates deltas, gradients and saved activations (fails if a layer kind cannot be
 * trained), runs the training forward and the backward pass over the whole batch.
 * forward_train zeroes every delta and net->loss first; loss layers (yolo, region) write their
 * deltas during it, and the caller sets a classifier's last-layer delta before backward.
 * Backward accumulates into grads (callers zero them per step, see train.c). */
cnn_status cnn_net_train_alloc(cnn_net *net, cnn_error *err);
void cnn_net_forward_train(cnn_net *net);
void cnn_net_backward(cnn_net *net);
/* Backward of layers last down to first (inclusive); the delta of layer first-1 receives
 * dL/d(its output) (nothing below first runs). cnn_net_backward is (n_layers-1, 0). */
void cnn_net_backward_range(cnn_net *net, int last, int first);

/* Gradients of the inference function (Grad-CAM, explain.c): the same buffers as
 * cnn_net_train_alloc, and net->frozen set, so forward_train computes exactly what
 * cnn_net_forward does (batch-norm with running statistics, no dropout) and backward its
 * derivative. Nothing shared is written, so this works on a clone. Detection heads without a
 * backward are allowed: heads are terminal, the caller seeds the delta of a head's input. */
cnn_status cnn_net_grad_alloc(cnn_net *net, cnn_error *err);

/* The last layer, and the detection heads. */
const cnn_layer *cnn_net_output(const cnn_net *net);

size_t cnn_net_memory_bytes(const cnn_net *net);

#endif
