/* activations.c — activation functions and the fused bias + activation pass (see activations.h).
 * Formulas match darknet where darknet defines them (leaky slope 0.1, elu alpha 1, selu
 * constants, mish with softplus threshold 20); leaky_0.01 and prelu are ours. */
#include "activations.h"

#include <math.h>
#include <string.h>

static const char *const act_names[CNN_ACT_COUNT] = {
    [CNN_ACT_LINEAR] = "linear",     [CNN_ACT_RELU] = "relu",       [CNN_ACT_LEAKY] = "leaky",
    [CNN_ACT_RELU6] = "relu6",       [CNN_ACT_ELU] = "elu",         [CNN_ACT_SELU] = "selu",
    [CNN_ACT_LOGISTIC] = "logistic", [CNN_ACT_TANH] = "tanh",       [CNN_ACT_SWISH] = "swish",
    [CNN_ACT_MISH] = "mish",         [CNN_ACT_HARDSWISH] = "hardswish",
    [CNN_ACT_LEAKY_001] = "leaky_0.01", [CNN_ACT_PRELU] = "prelu",
};

int cnn_activation_parse(const char *name, cnn_activation *out)
{
    for (int a = 0; a < CNN_ACT_COUNT; a++) {
        if (strcmp(name, act_names[a]) == 0) {
            *out = (cnn_activation)a;
            return 0;
        }
    }
    if (strcmp(name, "silu") == 0) {
        *out = CNN_ACT_SWISH;
        return 0;
    }
    return -1;
}

const char *cnn_activation_name(cnn_activation a)
{
    return (a >= 0 && a < CNN_ACT_COUNT) ? act_names[a] : "?";
}

static const float selu_alpha = 1.6732632423543772f;
static const float selu_scale = 1.0507009873554805f;

static inline float logistic(float x) { return 1.0f / (1.0f + expf(-x)); }

static inline float softplus(float x)
{
    /* darknet's threshold: beyond +-20 softplus is x or exp(x) to float precision */
    if (x > 20.0f) return x;
    if (x < -20.0f) return expf(x);
    return log1pf(expf(x));
}

float cnn_activate(float x, cnn_activation a)
{
    switch (a) {
    case CNN_ACT_LINEAR: return x;
    case CNN_ACT_RELU: return x > 0 ? x : 0;
    case CNN_ACT_LEAKY: return x > 0 ? x : 0.1f * x;
    case CNN_ACT_LEAKY_001: return x > 0 ? x : 0.01f * x;
    case CNN_ACT_PRELU: return x > 0 ? x : CNN_PRELU_INIT * x;
    case CNN_ACT_RELU6: return x < 0 ? 0 : (x > 6 ? 6 : x);
    case CNN_ACT_ELU: return x >= 0 ? x : expm1f(x);
    case CNN_ACT_SELU: return x >= 0 ? selu_scale * x : selu_scale * selu_alpha * expm1f(x);
    case CNN_ACT_LOGISTIC: return logistic(x);
    case CNN_ACT_TANH: return tanhf(x);
    case CNN_ACT_SWISH: return x * logistic(x);
    case CNN_ACT_MISH: return x * tanhf(softplus(x));
    case CNN_ACT_HARDSWISH: {
        float r = x + 3.0f;
        r = r < 0 ? 0 : (r > 6 ? 6 : r);
        return x * r / 6.0f;
    }
    case CNN_ACT_COUNT: break;
    }
    return x;
}

float cnn_activation_grad(float x, cnn_activation a)
{
    switch (a) {
    case CNN_ACT_LINEAR: return 1;
    case CNN_ACT_RELU: return x > 0 ? 1 : 0;
    case CNN_ACT_LEAKY: return x > 0 ? 1 : 0.1f;
    case CNN_ACT_LEAKY_001: return x > 0 ? 1 : 0.01f;
    case CNN_ACT_PRELU: return x > 0 ? 1 : CNN_PRELU_INIT;
    case CNN_ACT_RELU6: return (x > 0 && x < 6) ? 1 : 0;
    case CNN_ACT_ELU: return x >= 0 ? 1 : expf(x);
    case CNN_ACT_SELU: return x >= 0 ? selu_scale : selu_scale * selu_alpha * expf(x);
    case CNN_ACT_LOGISTIC: {
        float s = logistic(x);
        return s * (1 - s);
    }
    case CNN_ACT_TANH: {
        float t = tanhf(x);
        return 1 - t * t;
    }
    case CNN_ACT_SWISH: {
        float s = logistic(x);
        return s + x * s * (1 - s);
    }
    case CNN_ACT_MISH: {
        float sp = softplus(x), t = tanhf(sp);
        return t + x * (1 - t * t) * logistic(x);
    }
    case CNN_ACT_HARDSWISH:
        if (x <= -3) return 0;
        if (x >= 3) return 1;
        return (2 * x + 3) / 6.0f;
    case CNN_ACT_COUNT: break;
    }
    return 1;
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void cnn_activate_array(float *x, size_t n, cnn_activation a)
{
    switch (a) {
    case CNN_ACT_LINEAR: return;
    case CNN_ACT_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0.0f;
        return;
    case CNN_ACT_LEAKY:
        for (size_t i = 0; i < n; i++) {
            const float v = x[i], small = 0.1f * v; /* unconditional, so the loop vectorises */
            x[i] = v > 0 ? v : small;
        }
        return;
    case CNN_ACT_LEAKY_001:
        for (size_t i = 0; i < n; i++) {
            const float v = x[i], small = 0.01f * v;
            x[i] = v > 0 ? v : small;
        }
        return;
    default:
        for (size_t i = 0; i < n; i++) x[i] = cnn_activate(x[i], a);
        return;
    }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void cnn_bias_activate(float *y, const float *bias, int channels, int spatial, cnn_activation a)
{
    for (int c = 0; c < channels; c++) {
        float *row = y + (size_t)c * spatial;
        const float b = bias ? bias[c] : 0.0f;
        switch (a) {
        case CNN_ACT_LINEAR:
            for (int i = 0; i < spatial; i++) row[i] += b;
            break;
        case CNN_ACT_RELU:
            for (int i = 0; i < spatial; i++) {
                const float v = row[i] + b;
                row[i] = v > 0 ? v : 0.0f;
            }
            break;
        case CNN_ACT_LEAKY:
            for (int i = 0; i < spatial; i++) {
                /* both arms computed unconditionally: with -ftrapping-math a conditional multiply
                 * would keep the loop scalar */
                const float v = row[i] + b, small = 0.1f * v;
                row[i] = v > 0 ? v : small;
            }
            break;
        case CNN_ACT_LEAKY_001:
            for (int i = 0; i < spatial; i++) {
                const float v = row[i] + b, small = 0.01f * v;
                row[i] = v > 0 ? v : small;
            }
            break;
        default:
            for (int i = 0; i < spatial; i++) row[i] = cnn_activate(row[i] + b, a);
            break;
        }
    }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void cnn_bias_prelu(float *y, const float *bias, const float *slope, int channels, int spatial)
{
    for (int c = 0; c < channels; c++) {
        float *row = y + (size_t)c * spatial;
        const float b = bias ? bias[c] : 0.0f, a = slope[c];
        for (int i = 0; i < spatial; i++) {
            const float v = row[i] + b, small = a * v;
            row[i] = v > 0 ? v : small;
        }
    }
}
