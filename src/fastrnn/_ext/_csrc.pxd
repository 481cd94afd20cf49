# Declarations of the C helpers in csrc/ (compiled into each kernel module that uses them).
cdef extern from "activations.h" nogil:
    int FR_LINEAR, FR_TANH, FR_SIGMOID, FR_RELU
    void fr_bias_act_f(float *z, const float *b, int rows, int cols, int ld, int act)
    void fr_bias_act_d(double *z, const double *b, int rows, int cols, int ld, int act)
    void fr_act_grad_f(float *dz, const float *dh, const float *h, long n, int act)
    void fr_act_grad_d(double *dz, const double *dh, const double *h, long n, int act)
    void fr_keep_rows_f(float *cur, const float *prev, const unsigned char *mask, int B, int H)
    void fr_keep_rows_d(double *cur, const double *prev, const unsigned char *mask, int B, int H)
    void fr_mask_split_f(float *dz, float *dh, const unsigned char *mask, int B, int H)
    void fr_mask_split_d(double *dz, double *dh, const unsigned char *mask, int B, int H)
    void fr_sum_rows_f(const float *a, long rows, int cols, float *out)
    void fr_sum_rows_d(const double *a, long rows, int cols, double *out)

cdef extern from "gates.h" nogil:
    void fr_lstm_fwd_f(float *z, const float *b, const float *c_prev, float *c, float *ac,
                       float *h, int B, int H, int act, int ract)
    void fr_lstm_fwd_d(double *z, const double *b, const double *c_prev, double *c,
                       double *ac, double *h, int B, int H, int act, int ract)
    void fr_lstm_bwd_f(float *z, const float *c_prev, const float *ac, float *dh,
                       float *dc, const unsigned char *mask, int B, int H, int act, int ract)
    void fr_lstm_bwd_d(double *z, const double *c_prev, const double *ac, double *dh,
                       double *dc, const unsigned char *mask, int B, int H, int act, int ract)
    void fr_gru_fwd_f(float *xg, float *mh, const float *brec, const float *h_prev, float *h,
                      int B, int H, int act, int ract)
    void fr_gru_fwd_d(double *xg, double *mh, const double *brec, const double *h_prev,
                      double *h, int B, int H, int act, int ract)
    void fr_gru_bwd_f(float *xg, float *mh, const float *h_prev, float *dh,
                      const unsigned char *mask, int B, int H, int act, int ract)
    void fr_gru_bwd_d(double *xg, double *mh, const double *h_prev, double *dh,
                      const unsigned char *mask, int B, int H, int act, int ract)
    void fr_gru1_fwd_zr_f(float *xg, const float *mzr, const float *h_prev, float *rh,
                          int B, int H, int ract)
    void fr_gru1_fwd_zr_d(double *xg, const double *mzr, const double *h_prev, double *rh,
                          int B, int H, int ract)
    void fr_gru1_fwd_h_f(float *xg, const float *mh, const float *h_prev, float *h,
                         int B, int H, int act)
    void fr_gru1_fwd_h_d(double *xg, const double *mh, const double *h_prev, double *h,
                         int B, int H, int act)
    void fr_gru1_bwd_zh_f(float *xg, const float *h_prev, float *dh,
                          const unsigned char *mask, int B, int H, int act, int ract)
    void fr_gru1_bwd_zh_d(double *xg, const double *h_prev, double *dh,
                          const unsigned char *mask, int B, int H, int act, int ract)
    void fr_gru1_bwd_r_f(float *xg, const float *h_prev, const float *drh, float *dh,
                         int B, int H, int ract)
    void fr_gru1_bwd_r_d(double *xg, const double *h_prev, const double *drh, double *dh,
                         int B, int H, int ract)


cdef extern from "rgemm.h" nogil:
    int fr_rgemm_supported()
    int fr_rgemm_level()
    long fr_rgemm_packed_size(int K, int N)
    int fr_packed_wants_huge(long floats, double flops)
    float *fr_packed_alloc(long floats, double flops)
    void fr_rgemm_pack(const float *U, int K, int N, int ldu, int trans, float *P)
    void fr_rgemm(int M, int N, int K, const float *A, int lda, const float *P, float beta,
                  float *C, int ldc, int reverse)
    void fr_rgemm2(int M, int N, int K, const float *A, int lda, int K1, const float *A2,
                   int lda2, const float *P, float beta, float *C, int ldc, int reverse)
