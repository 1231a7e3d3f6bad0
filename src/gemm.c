/* gemm.c — the only caller of cblas_sgemm (see gemm.h). Row-major throughout. */
#include "gemm.h"

#include <cblas.h>

void cnn_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void cnn_gemm_ref(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double sum = 0;
            for (int p = 0; p < k; p++) {
                float av = trans_a ? a[(long)p * lda + i] : a[(long)i * lda + p];
                float bv = trans_b ? b[(long)j * ldb + p] : b[(long)p * ldb + j];
                sum += (double)av * bv;
            }
            float *cv = &c[(long)i * ldc + j];
            *cv = (float)(alpha * sum + (beta == 0.0f ? 0.0 : (double)beta * *cv));
        }
    }
}

const char *cnn_blas_config(void) { return openblas_get_config(); }
const char *cnn_blas_corename(void) { return openblas_get_corename(); }
void cnn_blas_set_threads(int n) { openblas_set_num_threads(n); }
int cnn_blas_threads(void) { return openblas_get_num_threads(); }
