/* im2col.c — see im2col.h. Rows of col are (channel, ky, kx); columns are output pixels. */
#include "im2col.h"

#include <string.h>

void cnn_im2col(const float *im, int c, int h, int w, int k, int stride, int pad, float *col)
{
    cnn_im2col_rows(im, c, h, w, k, stride, pad, 0, cnn_conv_out_size(h, k, stride, pad), col);
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
                    if (iy < 0 || iy >= h) {
                        memset(dst, 0, sizeof(float) * ow);
                        continue;
                    }
                    const float *src = plane + (long)iy * w;
                    if (stride == 1) {
                        /* contiguous middle, zero edges */
                        int ox0 = pad - kx, ox1 = w + pad - kx; /* valid ox in [ox0, ox1) */
                        if (ox0 < 0) ox0 = 0;
                        if (ox1 > ow) ox1 = ow;
                        for (int ox = 0; ox < ox0 && ox < ow; ox++) dst[ox] = 0;
                        if (ox1 > ox0)
                            memcpy(dst + ox0, src + ox0 - pad + kx, sizeof(float) * (ox1 - ox0));
                        for (int ox = ox1 > ox0 ? ox1 : ox0; ox < ow; ox++) dst[ox] = 0;
                    } else {
                        for (int ox = 0; ox < ow; ox++) {
                            const int ix = ox * stride - pad + kx;
                            dst[ox] = (ix >= 0 && ix < w) ? src[ix] : 0.0f;
                        }
                    }
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
