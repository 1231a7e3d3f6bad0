/* im2col.c — see im2col.h. Rows of col are (channel, ky, kx); columns are output pixels. */
#include "im2col.h"

#include <string.h>

void cnn_im2col(const float *im, int c, int h, int w, int k, int stride, int pad, float *col)
{
    cnn_im2col_rows(im, c, h, w, k, stride, pad, 0, cnn_conv_out_size(h, k, stride, pad), col);
}

/* One row of col: dst[ox] = src[ox * s + off] where that is inside [0, w), else 0. The valid
 * range is computed once; the copy is a memcpy for stride 1 and a loop the compiler vectorises
 * for the constant stride 2 (the other strides are rare). */
static inline void im2col_row(float *dst, const float *src, int w, int ow, int s, int off)
{
    int x0 = off < 0 ? (-off + s - 1) / s : 0;
    int x1 = w - 1 - off < 0 ? 0 : (w - 1 - off) / s + 1;
    if (x1 > ow) x1 = ow;
    if (x0 > x1) x0 = x1;
    for (int ox = 0; ox < x0; ox++) dst[ox] = 0;
    if (s == 1) memcpy(dst + x0, src + x0 + off, sizeof(float) * (x1 - x0));
    else if (s == 2)
        for (int ox = x0; ox < x1; ox++) dst[ox] = src[2 * ox + off];
    else
        for (int ox = x0; ox < x1; ox++) dst[ox] = src[ox * s + off];
    for (int ox = x1; ox < ow; ox++) dst[ox] = 0;
}

void cnn_im2col_rows(const float *im, int c, int h, int w, int k, int stride, int pad, int oy0,
                     int oy1, float *col)
{
    const int ow = cnn_conv_out_size(w, k, stride, pad);
    const long band = (long)(oy1 - oy0) * ow;
    for (int ch = 0; ch < c; ch++) {
        const float *plane = im + (long)ch * h * w;
        for (int ky = 0; ky < k; ky++) {
            for (int kx = 0; kx < k; kx++) {
                float *row = col + ((long)(ch * k + ky) * k + kx) * band;
                for (int oy = oy0; oy < oy1; oy++) {
                    const int iy = oy * stride - pad + ky;
                    float *dst = row + (long)(oy - oy0) * ow;
                    if (iy < 0 || iy >= h) memset(dst, 0, sizeof(float) * ow);
                    else im2col_row(dst, plane + (long)iy * w, w, ow, stride, kx - pad);
                }
            }
        }
    }
}

void cnn_col2im(const float *col, int c, int h, int w, int k, int stride, int pad, float *im)
{
    const int oh = cnn_conv_out_size(h, k, stride, pad);
    const int ow = cnn_conv_out_size(w, k, stride, pad);
    for (int ch = 0; ch < c; ch++) {
        float *plane = im + (long)ch * h * w;
        for (int ky = 0; ky < k; ky++) {
            for (int kx = 0; kx < k; kx++) {
                const float *row = col + ((long)(ch * k + ky) * k + kx) * oh * ow;
                for (int oy = 0; oy < oh; oy++) {
                    const int iy = oy * stride - pad + ky;
                    if (iy < 0 || iy >= h) continue;
                    for (int ox = 0; ox < ow; ox++) {
                        const int ix = ox * stride - pad + kx;
                        if (ix >= 0 && ix < w) plane[(long)iy * w + ix] += row[(long)oy * ow + ox];
                    }
                }
            }
        }
    }
}
