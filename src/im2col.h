/* im2col.h — unrolls a (c, h, w) image into columns for convolution as GEMM.
 * Output col is (c*kh*kw, out_h*out_w), row-major; padding reads as zero. col2im is the adjoint
 * (accumulating), used by the backward pass. */
#ifndef CNN_IM2COL_H
#define CNN_IM2COL_H

void cnn_im2col(const float *im, int c, int h, int w, int k, int stride, int pad, float *col);
/* Only output rows [oy0, oy1): col is (c*k*k, (oy1-oy0)*out_w), for cache-sized bands. */
void cnn_im2col_rows(const float *im, int c, int h, int w, int k, int stride, int pad, int oy0,
                     int oy1, float *col);
void cnn_col2im(const float *col, int c, int h, int w, int k, int stride, int pad, float *im);

static inline int cnn_conv_out_size(int in, int k, int stride, int pad)
{
    return (in + 2 * pad - k) / stride + 1;
}

#endif
