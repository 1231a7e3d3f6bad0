/* conv.h — what conv.c (inference) and conv_train.c (training) share about [convolutional]. */
#ifndef CNN_CONV_H
#define CNN_CONV_H

#include "layer.h"

#define BN_EPS 0.000001f /* darknet's variance epsilon */

typedef struct {
    int filters, size, stride, pad, groups, batch_norm;
    int dilation;
    const float *w, *b; /* inference weights (n, c/g, k, k) and bias (n): params or fused */
    const float *packed; /* direct and pointwise kernels: the inference weights packed
                            (conv_pack), in fused; w is then NULL if it would have been a folded
                            copy (batch-norm) */
    int packed_fb;       /* filters per block of packed */
    const float *slope;  /* activation=prelu: the n learned slopes (params, after the weights) */
    int batch_chunk;     /* GEMM on a small map with batch > 1: images per GEMM (their column
                            matrices side by side), or 0 for one image at a time */
} conv_p;

/* Number of weights (n, c/g, k, k), and where a PReLU layer's slopes start in its params. */
size_t cnn_conv_n_weights(const cnn_layer *l);
size_t cnn_conv_slope_offset(const cnn_layer *l);

/* Sets l->n_saved and l->n_train_ws for a training batch (called by plan). */
void cnn_conv_plan_train(cnn_layer *l, int batch);
void cnn_conv_forward_train(cnn_layer *l, const float *in, cnn_net *net);
void cnn_conv_backward(cnn_layer *l, const float *in, float *in_delta, cnn_net *net);
void cnn_conv_param_roles(const cnn_layer *l, unsigned char *roles);

/* Batch-norm over channel-major data x (n rows of m values), shared by conv and connected:
 * training forward writes xhat, inv_std and y = scale * xhat + bias, and moves the running
 * mean/variance towards the batch's (momentum, see cnn_bn_momentum); backward turns dL/dy (dy, n x m,
 * overwritten with dL/dx) into bias and scale gradients. */
void cnn_bn_forward_train(const float *x, int n, int m, const float *scale, const float *bias,
                          float *run_mean, float *run_var, float *xhat, float *inv_std, float *y,
                          float momentum);
/* The running-statistics momentum for the net's next step: a plain average over the first 100
 * steps (so short runs get usable statistics), then darknet's 0.01. */
float cnn_bn_momentum(const cnn_net *net);
void cnn_bn_backward(float *dy, int n, int m, const float *scale, const float *xhat,
                     const float *inv_std, float *dbias, float *dscale);

/* Inference-mode batch-norm (net->frozen): running statistics, nothing updated; backward is
 * dL/dx = scale * inv_std * dy. Same arguments and layouts as the training versions. */
void cnn_bn_forward_frozen(const float *x, int n, int m, const float *scale, const float *bias,
                           const float *run_mean, const float *run_var, float *xhat,
                           float *inv_std, float *y);
void cnn_bn_backward_frozen(float *dy, int n, int m, const float *scale, const float *xhat,
                            const float *inv_std, float *dbias, float *dscale);

/* delta[i] *= act'(z[i]) */
void cnn_activation_backward(const float *z, float *delta, size_t n, cnn_activation a);
/* PReLU with slope a over n values: *dslope += sum of delta[i] * z[i] where z[i] <= 0, then
 * delta[i] *= (z[i] > 0 ? 1 : a). */
void cnn_prelu_backward(const float *z, float *delta, size_t n, float a, float *dslope);

#endif
