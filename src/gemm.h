/* gemm.h — the one seam to BLAS. C = alpha * op(A) * op(B) + beta * C, row-major, with leading
 * dimensions as in cblas. cnn_gemm calls cblas_sgemm; cnn_gemm_ref is a plain loop nest that is
 * always compiled, used by tests as the specification. */
#ifndef CNN_GEMM_H
#define CNN_GEMM_H

void cnn_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);
void cnn_gemm_ref(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* OpenBLAS introspection and control, for --version, bench and thread settings. */
const char *cnn_blas_config(void);
const char *cnn_blas_corename(void);
void cnn_blas_set_threads(int n);
int cnn_blas_threads(void);

#endif
