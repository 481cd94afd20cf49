/* Fused element-wise gate math of the LSTM and GRU kernels, float (_f) and double (_d).
 *
 * One call handles one time step for a batch of B rows; matrices are row-major and
 * contiguous; gate blocks are laid out as in Keras (LSTM i, f, c, o; GRU z, r, h),
 * each H wide.  `act` and `ract` are activation codes of activations.h (activation
 * and recurrent activation).  Derivatives are taken through the stored outputs.
 *
 * LSTM (gates G = 4H per row)
 *   fr_lstm_fwd(z, b, c_prev, c, ac, h, B, H, act, ract)
 *     in  z (B,4H) = x_t W + h_{t-1} U;  b (4H) (zeros without a bias)
 *     out z = [i, f, g, o] activated;  c = f c_prev + i g;  ac = act(c);  h = o ac
 *   fr_lstm_bwd(z, c_prev, ac, dh, dc, mask, B, H, act, ract)
 *     in  z = gates of the step, dh = dL/dh_t, dc = dL/dc_t from step t+1
 *     out z = dL/d(pre-activations) [di, df, dg, do];  dc = dL/dc_{t-1}
 *     With a mask (see below) dh ends as the masked rows' carry.
 *
 * GRU, reset_after=True (Keras default; G = 3H)
 *   fr_gru_fwd(xg, mh, brec, h_prev, h, B, H, act, ract)
 *     in  xg (B,3H) = x_t W + b_in;  mh (B,3H) = h_{t-1} U;  brec (3H) or NULL (no recurrent bias)
 *     out mh += brec;  xg = [z, r, hh];  h = z h_prev + (1 - z) hh,
 *         z = ract(xg_z + mh_z), r = ract(xg_r + mh_r), hh = act(xg_h + r mh_h)
 *   fr_gru_bwd(xg, mh, h_prev, dh, mask, B, H, act, ract)
 *     out xg = dL/d(x_t W + b_in);  mh = dL/d(h_{t-1} U + b_rec);  dh = dh * z
 *     (the caller adds mh U^T to dh to finish dL/dh_{t-1})
 *
 * GRU, reset_after=False (G = 3H), two halves around the GEMM rh U_h:
 *   fr_gru1_fwd_zr(xg, mzr, h_prev, rh, B, H, ract)
 *     in  xg (B,3H) = x_t W + b;  mzr (B, ld 3H): first 2H columns = h_{t-1} U_zr
 *     out xg_z = z, xg_r = r;  rh (B,H) = r h_prev
 *   fr_gru1_fwd_h(xg, mh, h_prev, h, B, H, act)
 *     in  mh (B, ld 3H) whose last H columns = rh U_h
 *     out xg_h = hh = act(xg_h + mh_h);  h = z h_prev + (1 - z) hh
 *   fr_gru1_bwd_zh(xg, h_prev, dh, mask, B, H, act, ract)
 *     out xg_z = dL/dpre_z, xg_h = dL/dpre_h (xg_r still holds r);  dh = dh * z
 *   fr_gru1_bwd_r(xg, h_prev, drh, dh, B, H, ract)
 *     in  drh (B,H) = dpre_h U_h^T
 *     out xg_r = dL/dpre_r;  dh += drh * r
 *
 * Masks: `mask` is NULL or holds one byte per row, 0 for a masked (skipped) step.
 * A masked row keeps its state (the caller copies it forward with fr_keep_rows), so
 * its backward is the identity: the gate gradients of the row are zero and dh (and
 * dc) pass through unchanged.  With a mask, the unmasked rows' dh is zeroed after use,
 * and the caller's dz U^T GEMM then accumulates (beta = 1) onto that carry.
 */
#ifndef FASTRNN_GATES_H
#define FASTRNN_GATES_H


#define FR_DECLARE_GATES(T, S)                                                          \
    void fr_lstm_fwd_##S(T *z, const T *b, const T *c_prev, T *c, T *ac, T *h,          \
                         int B, int H, int act, int ract);                              \
    void fr_lstm_bwd_##S(T *z, const T *c_prev, const T *ac, T *dh, T *dc,              \
                         const unsigned char *mask, int B, int H, int act, int ract);   \
    void fr_gru_fwd_##S(T *xg, T *mh, const T *brec, const T *h_prev, T *h,            \
                        int B, int H, int act, int ract);                               \
    void fr_gru_bwd_##S(T *xg, T *mh, const T *h_prev, T *dh,                          \
                        const unsigned char *mask, int B, int H, int act, int ract);    \
    void fr_gru1_fwd_zr_##S(T *xg, const T *mzr, const T *h_prev, T *rh, int B, int H, \
                            int ract);                                                  \
    void fr_gru1_fwd_h_##S(T *xg, const T *mh, const T *h_prev, T *h, int B, int H,    \
                           int act);                                                    \
    void fr_gru1_bwd_zh_##S(T *xg, const T *h_prev, T *dh, const unsigned char *mask,  \
                            int B, int H, int act, int ract);                           \
    void fr_gru1_bwd_r_##S(T *xg, const T *h_prev, const T *drh, T *dh, int B, int H,  \
                           int ract);

FR_DECLARE_GATES(float, f)
FR_DECLARE_GATES(double, d)

/* fr_lstm_fwd_f for tanh and sigmoid in AVX-512 (lstm512.c); fr_lstm_fwd_f calls it
 * first.  Returns 0, having done nothing, where the CPU or FASTRNN_KERNEL rules it out. */
int fr_lstm_fwd512_f(float *z, const float *b, const float *c_prev, float *c, float *ac,
                     float *h, int B, int H);

#endif
