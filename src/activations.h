/* activations.h — element-wise activation functions, applied in place over float arrays.
 * Names follow darknet's cfg spelling; an unknown name is an error, never a silent ReLU. */
#ifndef CNN_ACTIVATIONS_H
#define CNN_ACTIVATIONS_H

#include <stddef.h>

typedef enum {
    CNN_ACT_LINEAR = 0,
    CNN_ACT_RELU,
    CNN_ACT_LEAKY,    /* x > 0 ? x : 0.1x */
    CNN_ACT_RELU6,
    CNN_ACT_ELU,
    CNN_ACT_SELU,
    CNN_ACT_LOGISTIC,
    CNN_ACT_TANH,
    CNN_ACT_SWISH,    /* x * logistic(x); cfg names swish and silu */
    CNN_ACT_MISH,     /* x * tanh(softplus(x)) */
    CNN_ACT_HARDSWISH,
    CNN_ACT_LEAKY_001, /* x > 0 ? x : 0.01x; cfg name leaky_0.01 (PyTorch's default slope) */
    CNN_ACT_PRELU,     /* x > 0 ? x : a_c x with a learned slope a_c per channel; only
                        * [convolutional] has the slopes, so the scalar functions below use the
                        * initial slope CNN_PRELU_INIT */
    CNN_ACT_COUNT
} cnn_activation;

#define CNN_PRELU_INIT 0.25f

/* Returns 0 and sets *out for a known name, -1 otherwise. */
int cnn_activation_parse(const char *name, cnn_activation *out);
const char *cnn_activation_name(cnn_activation a);

float cnn_activate(float x, cnn_activation a);
/* Derivative with respect to the input x (for the backward pass and gradient checks). */
float cnn_activation_grad(float x, cnn_activation a);

void cnn_activate_array(float *x, size_t n, cnn_activation a);

/* y[c, i] = act(y[c, i] + bias[c]) for c < channels, i < spatial: the fused epilogue of
 * convolution and connected layers. y is (channels, spatial). */
void cnn_bias_activate(float *y, const float *bias, int channels, int spatial, cnn_activation a);

/* The same epilogue for PReLU: y[c, i] = prelu(y[c, i] + bias[c], slope[c]). */
void cnn_bias_prelu(float *y, const float *bias, const float *slope, int channels, int spatial);

#endif
