/* conv_train.c — training forward and backward of [convolutional] (and the batch-norm and
 * activation derivatives that [connected] shares).
 *
 * Images go through each GEMM in chunks of several at once (CHUNK_FLOATS: the chunk's column
 * matrix stays in cache between im2col and the GEMMs; one image at a time would make narrow
 * GEMMs, the whole batch would stream 10x the activations through memory): for group g the
 * column matrix is (K = c/g*k*k) x (chunk*oh*ow), and
 *   forward   Z_g  = W_g . col_g                     (n/g x M)
 *   weights   dW_g += dZ_g . col_g^T                  (n/g x K)
 *   input     dcol_g = W_g^T . dZ_g, then col2im per image into dL/d(input).
 * Z is kept channel-major (n x M) in l->saved, so batch-norm statistics are contiguous rows.
 * saved = [xhat n x M][z n x M][inv_std n]; z is the pre-activation value (after batch-norm).
 * PReLU: dL/d(slope_f) = sum over channel f's values with z <= 0 of dL/dy * z.
 * train_ws = [col K x chunk cols][dcol K x chunk cols][dz n x M]. */
#include <math.h>
#include <string.h>

#include "conv.h"
#include "gemm.h"
#include "im2col.h"
#include "net.h"

#define CHUNK_FLOATS (2u << 20)

/* Images per chunk for this layer (at least 1). */
static int chunk_images(const cnn_layer *l, int batch)
{
    const conv_p *p = l->p;
    const size_t per = (size_t)(l->in.c / p->groups) * p->size * p->size * l->out.h * l->out.w;
    size_t n = CHUNK_FLOATS / (per ? per : 1);
    return n < 1 ? 1 : n > (size_t)batch ? batch : (int)n;
}

void cnn_conv_plan_train(cnn_layer *l, int batch)
{
    const conv_p *p = l->p;
    const size_t spatial = (size_t)l->out.h * l->out.w, m = spatial * batch;
    const size_t kk = (size_t)(l->in.c / p->groups) * p->size * p->size;
    /* per batch item, rounded up so the batch's block holds xhat, z and inv_std */
    l->n_saved = 2 * cnn_shape_size(l->out) + ((size_t)p->filters + batch - 1) / batch;
    l->n_train_ws = 2 * kk * spatial * chunk_images(l, batch) + (size_t)p->filters * m;
}

void cnn_conv_param_roles(const cnn_layer *l, unsigned char *roles)
{
    const conv_p *p = l->p;
    const int n = p->filters;
    size_t i = 0;
    for (int f = 0; f < n; f++) roles[i++] = CNN_PARAM_BIAS;
    if (p->batch_norm) {
        for (int f = 0; f < n; f++) roles[i++] = CNN_PARAM_BIAS; /* scales */
        for (int f = 0; f < 2 * n; f++) roles[i++] = CNN_PARAM_FIXED; /* mean, variance */
    }
    const size_t nw = cnn_conv_n_weights(l);
    for (size_t k = 0; k < nw; k++) roles[i++] = CNN_PARAM_WEIGHT;
    for (; i < l->n_params; i++) roles[i] = CNN_PARAM_SLOPE; /* prelu */
}

void cnn_activation_backward(const float *z, float *delta, size_t n, cnn_activation a)
{
    switch (a) {
    case CNN_ACT_LINEAR: return;
    case CNN_ACT_RELU:
        for (size_t i = 0; i < n; i++) delta[i] = z[i] > 0 ? delta[i] : 0;
        return;
    case CNN_ACT_LEAKY:
        for (size_t i = 0; i < n; i++) delta[i] = z[i] > 0 ? delta[i] : 0.1f * delta[i];
        return;
    case CNN_ACT_LEAKY_001:
        for (size_t i = 0; i < n; i++) delta[i] = z[i] > 0 ? delta[i] : 0.01f * delta[i];
        return;
    default:
        for (size_t i = 0; i < n; i++) delta[i] *= cnn_activation_grad(z[i], a);
    }
}

void cnn_prelu_backward(const float *z, float *delta, size_t n, float a, float *dslope)
{
    double ds = 0;
    for (size_t i = 0; i < n; i++) {
        if (z[i] > 0) continue;
        ds += (double)delta[i] * z[i];
        delta[i] *= a;
    }
    *dslope += (float)ds;
}

float cnn_bn_momentum(const cnn_net *net)
{
    if (net->bn_recal > 0) return 1.0f / net->bn_recal;
    const double steps = (double)net->seen / net->batch;
    return steps < 99 ? (float)(1.0 / (steps + 1)) : 0.01f;
}

void cnn_bn_forward_train(const float *x, int n, int m, const float *scale, const float *bias,
                          float *run_mean, float *run_var, float *xhat, float *inv_std, float *y,
                          float momentum)
{
    for (int f = 0; f < n; f++) {
        const float *xf = x + (size_t)f * m;
        double sum = 0, sq = 0;
        for (int i = 0; i < m; i++) sum += xf[i];
        const double mean = sum / m;
        for (int i = 0; i < m; i++) sq += (xf[i] - mean) * (xf[i] - mean);
        const double var = sq / m;
        const float is = (float)(1.0 / sqrt(var + BN_EPS));
        inv_std[f] = is;
        float *xh = xhat + (size_t)f * m, *yf = y + (size_t)f * m;
        for (int i = 0; i < m; i++) {
            xh[i] = (float)(xf[i] - mean) * is;
            yf[i] = scale[f] * xh[i] + bias[f];
        }
        run_mean[f] += momentum * ((float)mean - run_mean[f]);
        run_var[f] += momentum * ((float)(m > 1 ? sq / (m - 1) : var) - run_var[f]);
    }
}

void cnn_bn_backward(float *dy, int n, int m, const float *scale, const float *xhat,
                     const float *inv_std, float *dbias, float *dscale)
{
    for (int f = 0; f < n; f++) {
        float *d = dy + (size_t)f * m;
        const float *xh = xhat + (size_t)f * m;
        double sd = 0, sdx = 0;
        for (int i = 0; i < m; i++) {
            sd += d[i];
            sdx += d[i] * xh[i];
        }
        dbias[f] += (float)sd;
        dscale[f] += (float)sdx;
        /* dL/dxhat = scale * dy; dL/dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat*xhat)) */
        const float a = scale[f] * inv_std[f];
        const float mean_d = (float)(sd / m), mean_dx = (float)(sdx / m);
        for (int i = 0; i < m; i++) d[i] = a * (d[i] - mean_d - xh[i] * mean_dx);
    }
}

/* Inference-mode batch-norm (net->frozen, explain.c): the affine map of the running statistics,
 * y = scale * (x - mean) / sqrt(var + eps) + bias, exactly what prepare folds into the weights;
 * nothing is updated. Same xhat/inv_std layout as the training version, for backward. */
void cnn_bn_forward_frozen(const float *x, int n, int m, const float *scale, const float *bias,
                           const float *run_mean, const float *run_var, float *xhat,
                           float *inv_std, float *y)
{
    for (int f = 0; f < n; f++) {
        const float is = 1.0f / sqrtf(run_var[f] + BN_EPS);
        inv_std[f] = is;
        const float *xf = x + (size_t)f * m;
        float *xh = xhat + (size_t)f * m, *yf = y + (size_t)f * m;
        for (int i = 0; i < m; i++) {
            xh[i] = (xf[i] - run_mean[f]) * is;
            yf[i] = scale[f] * xh[i] + bias[f];
        }
    }
}

/* Its derivative: dL/dx = scale * inv_std * dy (the statistics are constants). */
void cnn_bn_backward_frozen(float *dy, int n, int m, const float *scale, const float *xhat,
                            const float *inv_std, float *dbias, float *dscale)
{
    for (int f = 0; f < n; f++) {
        float *d = dy + (size_t)f * m;
        const float *xh = xhat + (size_t)f * m;
        double sd = 0, sdx = 0;
        const float a = scale[f] * inv_std[f];
        for (int i = 0; i < m; i++) {
            sd += d[i];
            sdx += d[i] * xh[i];
            d[i] *= a;
        }
        dbias[f] += (float)sd;
        dscale[f] += (float)sdx;
    }
}

/* im2col/col2im of one image with a column-matrix row stride ld, so each image writes its own
 * block of columns of the batch's matrix directly (stride-1 rows: one copy per valid span). */
static void im2col_ld(const float *im, int c, int h, int w, int k, int stride, int pad, float *col,
                      size_t ld)
{
    const int oh = cnn_conv_out_size(h, k, stride, pad), ow = cnn_conv_out_size(w, k, stride, pad);
    for (int ch = 0; ch < c; ch++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *row = col + ((size_t)(ch * k + ky) * k + kx) * ld;
                const float *plane = im + (size_t)ch * h * w;
                for (int oy = 0; oy < oh; oy++) {
                    const int iy = oy * stride - pad + ky;
                    float *dst = row + (size_t)oy * ow;
                    if (iy < 0 || iy >= h) {
                        memset(dst, 0, sizeof(float) * ow);
                        continue;
                    }
                    const float *src = plane + (size_t)iy * w;
                    if (stride == 1) {
                        int x0 = pad - kx > 0 ? pad - kx : 0, x1 = w + pad - kx < ow ? w + pad - kx : ow;
                        for (int ox = 0; ox < x0; ox++) dst[ox] = 0;
                        if (x1 > x0) memcpy(dst + x0, src + x0 - pad + kx, sizeof(float) * (x1 - x0));
                        for (int ox = x1 > x0 ? x1 : x0; ox < ow; ox++) dst[ox] = 0;
                    } else {
                        for (int ox = 0; ox < ow; ox++) {
                            const int ix = ox * stride - pad + kx;
                            dst[ox] = (ix >= 0 && ix < w) ? src[ix] : 0.0f;
                        }
                    }
                }
            }
}

static void col2im_ld(const float *col, size_t ld, int c, int h, int w, int k, int stride, int pad,
                      float *im)
{
    const int oh = cnn_conv_out_size(h, k, stride, pad), ow = cnn_conv_out_size(w, k, stride, pad);
    for (int ch = 0; ch < c; ch++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *row = col + ((size_t)(ch * k + ky) * k + kx) * ld;
                float *plane = im + (size_t)ch * h * w;
                for (int oy = 0; oy < oh; oy++) {
                    const int iy = oy * stride - pad + ky;
                    if (iy < 0 || iy >= h) continue;
                    float *restrict dst = plane + (size_t)iy * w;
                    const float *restrict src = row + (size_t)oy * ow;
                    if (stride == 1) {
                        int x0 = pad - kx > 0 ? pad - kx : 0, x1 = w + pad - kx < ow ? w + pad - kx : ow;
                        for (int ox = x0; ox < x1; ox++) dst[ox - pad + kx] += src[ox];
                    } else {
                        for (int ox = 0; ox < ow; ox++) {
                            const int ix = ox * stride - pad + kx;
                            if (ix >= 0 && ix < w) dst[ix] += src[ox];
                        }
                    }
                }
            }
}

/* Column matrix of images [b0, b1) for group gi: col is K x ((b1-b0)*spatial). */
static void chunk_im2col(const cnn_layer *l, const float *in, int b0, int b1, int gi, float *col)
{
    const conv_p *p = l->p;
    const int cg = l->in.c / p->groups;
    const size_t spatial = (size_t)l->out.h * l->out.w, ld = spatial * (b1 - b0);
    const size_t in_size = cnn_shape_size(l->in), plane = (size_t)l->in.h * l->in.w;
    for (int b = b0; b < b1; b++)
        im2col_ld(in + b * in_size + (size_t)gi * cg * plane, cg, l->in.h, l->in.w, p->size,
                  p->stride, p->pad, col + (b - b0) * spatial, ld);
}

static const float *raw_weights(const cnn_layer *l)
{
    const conv_p *p = l->p;
    return l->params + p->filters * (p->batch_norm ? 4 : 1);
}

void cnn_conv_forward_train(cnn_layer *l, const float *in, cnn_net *net)
{
    const conv_p *p = l->p;
    const int n = p->filters, g = p->groups, ng = n / g;
    const int kk = l->in.c / g * p->size * p->size, batch = net->batch;
    const size_t spatial = (size_t)l->out.h * l->out.w, m = spatial * batch;
    float *col = net->train_ws, *z = col + 2 * (size_t)kk * spatial * chunk_images(l, batch);
    float *xhat = l->saved, *zs = xhat + (size_t)n * m, *inv_std = zs + (size_t)n * m;
    const float *w = raw_weights(l), *bias = l->params;
    const int chunk = chunk_images(l, batch);
    for (int gi = 0; gi < g; gi++)
        for (int b0 = 0; b0 < batch; b0 += chunk) {
            const int b1 = b0 + chunk < batch ? b0 + chunk : batch, cols = (b1 - b0) * (int)spatial;
            chunk_im2col(l, in, b0, b1, gi, col);
            cnn_gemm(0, 0, ng, cols, kk, 1.0f, w + (size_t)gi * ng * kk, kk, col, cols, 0.0f,
                     z + (size_t)gi * ng * m + b0 * spatial, (int)m);
        }
    if (p->batch_norm) {
        float *scale = l->params + n, *mean = scale + n, *var = mean + n;
        if (net->frozen)
            cnn_bn_forward_frozen(z, n, (int)m, scale, bias, mean, var, xhat, inv_std, zs);
        else
            cnn_bn_forward_train(z, n, (int)m, scale, bias, mean, var, xhat, inv_std, zs,
                                 cnn_bn_momentum(net));
    } else {
        for (int f = 0; f < n; f++)
            for (size_t i = 0; i < m; i++) zs[f * m + i] = z[f * m + i] + bias[f];
    }
    /* channel-major z -> (batch, n, spatial) output, activated */
    const float *slope = l->act == CNN_ACT_PRELU ? l->params + cnn_conv_slope_offset(l) : NULL;
    for (int b = 0; b < batch; b++)
        for (int f = 0; f < n; f++) {
            float *y = l->output + ((size_t)b * n + f) * spatial;
            memcpy(y, zs + f * m + b * spatial, sizeof(float) * spatial);
            if (slope) cnn_bias_prelu(y, NULL, slope + f, 1, (int)spatial);
            else cnn_activate_array(y, spatial, l->act);
        }
}

void cnn_conv_backward(cnn_layer *l, const float *in, float *in_delta, cnn_net *net)
{
    const conv_p *p = l->p;
    const int n = p->filters, g = p->groups, ng = n / g, cg = l->in.c / g;
    const int kk = cg * p->size * p->size, batch = net->batch;
    const size_t spatial = (size_t)l->out.h * l->out.w, m = spatial * batch;
    const size_t ccols = spatial * chunk_images(l, batch);
    float *col = net->train_ws, *dcol = col + (size_t)kk * ccols, *dz = dcol + (size_t)kk * ccols;
    const float *xhat = l->saved, *zs = xhat + (size_t)n * m, *inv_std = zs + (size_t)n * m;
    /* dz = delta (gathered channel-major) * act'(z) */
    for (int b = 0; b < batch; b++)
        for (int f = 0; f < n; f++)
            memcpy(dz + f * m + b * spatial, l->delta + ((size_t)b * n + f) * spatial,
                   sizeof(float) * spatial);
    if (l->act == CNN_ACT_PRELU) {
        const size_t so = cnn_conv_slope_offset(l);
        for (int f = 0; f < n; f++)
            cnn_prelu_backward(zs + f * m, dz + f * m, m, l->params[so + f], l->grad + so + f);
    } else {
        cnn_activation_backward(zs, dz, (size_t)n * m, l->act);
    }
    float *dbias = l->grad;
    if (p->batch_norm) {
        if (net->frozen)
            cnn_bn_backward_frozen(dz, n, (int)m, l->params + n, xhat, inv_std, dbias, l->grad + n);
        else
            cnn_bn_backward(dz, n, (int)m, l->params + n, xhat, inv_std, dbias, l->grad + n);
    } else {
        for (int f = 0; f < n; f++) {
            double s = 0;
            for (size_t i = 0; i < m; i++) s += dz[f * m + i];
            dbias[f] += (float)s;
        }
    }
    const float *w = raw_weights(l);
    float *dw = l->grad + n * (p->batch_norm ? 4 : 1);
    const size_t in_size = cnn_shape_size(l->in), plane = (size_t)l->in.h * l->in.w;
    const int chunk = chunk_images(l, batch);
    for (int gi = 0; gi < g; gi++)
        for (int b0 = 0; b0 < batch; b0 += chunk) {
            const int b1 = b0 + chunk < batch ? b0 + chunk : batch, cols = (b1 - b0) * (int)spatial;
            const float *dzg = dz + (size_t)gi * ng * m + b0 * spatial;
            chunk_im2col(l, in, b0, b1, gi, col);
            cnn_gemm(0, 1, ng, kk, cols, 1.0f, dzg, (int)m, col, cols, 1.0f,
                     dw + (size_t)gi * ng * kk, kk);
            if (!in_delta) continue;
            cnn_gemm(1, 0, kk, cols, ng, 1.0f, w + (size_t)gi * ng * kk, kk, dzg, (int)m, 0.0f,
                     dcol, cols);
            for (int b = b0; b < b1; b++)
                col2im_ld(dcol + (b - b0) * spatial, (size_t)cols, cg, l->in.h, l->in.w, p->size,
                          p->stride, p->pad, in_delta + b * in_size + (size_t)gi * cg * plane);
        }
}
