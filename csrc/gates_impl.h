/* Body of the gate kernels of gates.h, for one element type.  gates.c includes this
 * file twice, with T the type and FR(name) giving the suffixed name.
 *
 * Each kernel is a loop over rows calling a per-row function that is always inlined.
 * The kernel calls it with the constant codes (tanh, sigmoid) on the default path, so
 * the activation switches fold away and the compiler vectorizes the loop over units;
 * other activations take the same code with run-time codes (slower, same results). */

#define FR_FAST(act, ract) ((act) == FR_TANH && (ract) == FR_SIGMOID)
#define FR_ROW static inline __attribute__((always_inline)) void

FR_ROW FR(lstm_fwd_row)(T *restrict zr, const T *restrict b, const T *restrict cp,
                        T *restrict cr, T *restrict ar, T *restrict hr, int H,
                        int act, int ract) {
    /* Gate blocks as separate pointers: plain j indexing keeps the loop affine (and
     * vectorizable) even under -fwrapv, which Python's build flags add. */
    T *zi = zr, *zf = zr + H, *zg = zr + 2 * H, *zo = zr + 3 * H;
    const T *bi = b, *bf = b + H, *bg = b + 2 * H, *bo = b + 3 * H;
    /* Two passes, the gates then the cell: in one, each unit would be a chain of two
     * activations in a row (a gate, then act of the new cell), longer than the
     * out-of-order window covers; split, the iterations of each pass are independent
     * (about 1.2x faster on W5's shapes).  The gates pass through z, in L1. */
    for (int j = 0; j < H; j++) {
        zi[j] = FR(fr_act)(zi[j] + bi[j], ract);
        zf[j] = FR(fr_act)(zf[j] + bf[j], ract);
        zg[j] = FR(fr_act)(zg[j] + bg[j], act);
        zo[j] = FR(fr_act)(zo[j] + bo[j], ract);
    }
    for (int j = 0; j < H; j++) {
        T cn = zf[j] * cp[j] + zi[j] * zg[j];
        T a = FR(fr_act)(cn, act);
        cr[j] = cn; ar[j] = a; hr[j] = zo[j] * a;
    }
}

FR_KERNEL void FR(fr_lstm_fwd)(T *z, const T *b, const T *c_prev, T *c, T *ac, T *h,
                     int B, int H, int act, int ract) {
#ifdef FR_LSTM_FWD_SIMD
    /* float, tanh and sigmoid: the AVX-512 kernel of lstm512.c where the CPU has it */
    if (FR_FAST(act, ract) && FR_LSTM_FWD_SIMD(z, b, c_prev, c, ac, h, B, H))
        return;
#endif
    for (int r = 0; r < B; r++) {
        long o1 = (long)r * H, o4 = 4 * o1;
        if (FR_FAST(act, ract))
            FR(lstm_fwd_row)(z + o4, b, c_prev + o1, c + o1, ac + o1, h + o1, H,
                             FR_TANH, FR_SIGMOID);
        else
            FR(lstm_fwd_row)(z + o4, b, c_prev + o1, c + o1, ac + o1, h + o1, H, act, ract);
    }
}

FR_ROW FR(lstm_bwd_row)(T *restrict zr, const T *restrict cp, const T *restrict ar,
                        T *restrict dhr, T *restrict dcr, int H, int act, int ract) {
    T *zi = zr, *zf = zr + H, *zg = zr + 2 * H, *zo = zr + 3 * H;
    for (int j = 0; j < H; j++) {
        T i = zi[j], f = zf[j], g = zg[j], o = zo[j];
        T a = ar[j];
        T dct = dcr[j] + dhr[j] * o * FR(fr_dact)(a, act);
        zi[j] = dct * g * FR(fr_dact)(i, ract);
        zf[j] = dct * cp[j] * FR(fr_dact)(f, ract);
        zg[j] = dct * i * FR(fr_dact)(g, act);
        zo[j] = dhr[j] * a * FR(fr_dact)(o, ract);
        dcr[j] = dct * f;
    }
}

FR_KERNEL void FR(fr_lstm_bwd)(T *z, const T *c_prev, const T *ac, T *dh, T *dc,
                     const unsigned char *mask, int B, int H, int act, int ract) {
    for (int r = 0; r < B; r++) {
        long o1 = (long)r * H, o4 = 4 * o1;
        if (mask && !mask[r]) {
            for (int j = 0; j < 4 * H; j++) z[o4 + j] = 0;
            continue;
        }
        if (FR_FAST(act, ract))
            FR(lstm_bwd_row)(z + o4, c_prev + o1, ac + o1, dh + o1, dc + o1, H,
                             FR_TANH, FR_SIGMOID);
        else
            FR(lstm_bwd_row)(z + o4, c_prev + o1, ac + o1, dh + o1, dc + o1, H, act, ract);
        if (mask) {
            for (int j = 0; j < H; j++) dh[o1 + j] = 0;
        }
    }
}

FR_ROW FR(gru_fwd_row)(T *restrict xr, T *restrict mr, const T *restrict brec,
                       const T *restrict hp, T *restrict hr, int H, int act, int ract) {
    T *xz = xr, *xrg = xr + H, *xh = xr + 2 * H;
    T *mz = mr, *mrg = mr + H, *mhh = mr + 2 * H;
    if (brec) {
        for (int j = 0; j < 3 * H; j++) mr[j] += brec[j];
    }
    for (int j = 0; j < H; j++) {       /* two passes, as in lstm_fwd_row */
        xz[j] = FR(fr_act)(xz[j] + mz[j], ract);
        xrg[j] = FR(fr_act)(xrg[j] + mrg[j], ract);
    }
    for (int j = 0; j < H; j++) {
        T z = xz[j];
        T hh = FR(fr_act)(xh[j] + xrg[j] * mhh[j], act);
        xh[j] = hh;
        hr[j] = z * hp[j] + ((T)1 - z) * hh;
    }
}

FR_KERNEL void FR(fr_gru_fwd)(T *xg, T *mh, const T *brec, const T *h_prev, T *h,
                    int B, int H, int act, int ract) {
    for (int r = 0; r < B; r++) {
        long o1 = (long)r * H, o3 = 3 * o1;
        if (FR_FAST(act, ract))
            FR(gru_fwd_row)(xg + o3, mh + o3, brec, h_prev + o1, h + o1, H,
                            FR_TANH, FR_SIGMOID);
        else
            FR(gru_fwd_row)(xg + o3, mh + o3, brec, h_prev + o1, h + o1, H, act, ract);
    }
}

FR_ROW FR(gru_bwd_row)(T *restrict xr, T *restrict mr, const T *restrict hp,
                       T *restrict dhr, int H, int act, int ract) {
    T *xz = xr, *xrg = xr + H, *xh = xr + 2 * H;
    T *mz = mr, *mrg = mr + H, *mhh = mr + 2 * H;
    for (int j = 0; j < H; j++) {
        T z = xz[j], rg = xrg[j], hh = xh[j], d = dhr[j];
        T dpz = d * (hp[j] - hh) * FR(fr_dact)(z, ract);
        T dph = d * ((T)1 - z) * FR(fr_dact)(hh, act);
        T dpr = dph * mhh[j] * FR(fr_dact)(rg, ract);
        xz[j] = dpz; xrg[j] = dpr; xh[j] = dph;
        mz[j] = dpz; mrg[j] = dpr; mhh[j] = dph * rg;
        dhr[j] = d * z;
    }
}

FR_KERNEL void FR(fr_gru_bwd)(T *xg, T *mh, const T *h_prev, T *dh, const unsigned char *mask,
                    int B, int H, int act, int ract) {
    for (int r = 0; r < B; r++) {
        long o1 = (long)r * H, o3 = 3 * o1;
        if (mask && !mask[r]) {
            for (int j = 0; j < 3 * H; j++) xg[o3 + j] = mh[o3 + j] = 0;
            continue;
        }
        if (FR_FAST(act, ract))
            FR(gru_bwd_row)(xg + o3, mh + o3, h_prev + o1, dh + o1, H, FR_TANH, FR_SIGMOID);
        else
            FR(gru_bwd_row)(xg + o3, mh + o3, h_prev + o1, dh + o1, H, act, ract);
    }
}

FR_ROW FR(gru1_fwd_zr_row)(T *restrict xr, const T *restrict mr, const T *restrict hp,
                           T *restrict rhr, int H, int ract) {
    T *xz = xr, *xrg = xr + H;
    const T *mz = mr, *mrg = mr + H;
    for (int j = 0; j < H; j++) {
        T z = FR(fr_act)(xz[j] + mz[j], ract);
        T rg = FR(fr_act)(xrg[j] + mrg[j], ract);
        xz[j] = z; xrg[j] = rg;
        rhr[j] = rg * hp[j];
    }
}

FR_KERNEL void FR(fr_gru1_fwd_zr)(T *xg, const T *mzr, const T *h_prev, T *rh, int B, int H,
                        int ract) {
    for (int r = 0; r < B; r++) {
        long o1 = (long)r * H, o3 = 3 * o1;
        if (ract == FR_SIGMOID)
            FR(gru1_fwd_zr_row)(xg + o3, mzr + o3, h_prev + o1, rh + o1, H, FR_SIGMOID);
        else
            FR(gru1_fwd_zr_row)(xg + o3, mzr + o3, h_prev + o1, rh + o1, H, ract);
    }
}

FR_ROW FR(gru1_fwd_h_row)(T *restrict xr, const T *restrict mr, const T *restrict hp,
                          T *restrict hr, int H, int act) {
    T *xz = xr, *xh = xr + 2 * H;
    const T *mhh = mr + 2 * H;
    for (int j = 0; j < H; j++) {
        T z = xz[j];
        T hh = FR(fr_act)(xh[j] + mhh[j], act);
        xh[j] = hh;
        hr[j] = z * hp[j] + ((T)1 - z) * hh;
    }
}

FR_KERNEL void FR(fr_gru1_fwd_h)(T *xg, const T *mh, const T *h_prev, T *h, int B, int H,
                       int act) {
    for (int r = 0; r < B; r++) {
        long o1 = (long)r * H, o3 = 3 * o1;
        if (act == FR_TANH)
            FR(gru1_fwd_h_row)(xg + o3, mh + o3, h_prev + o1, h + o1, H, FR_TANH);
        else
            FR(gru1_fwd_h_row)(xg + o3, mh + o3, h_prev + o1, h + o1, H, act);
    }
}

FR_KERNEL void FR(fr_gru1_bwd_zh)(T *xg, const T *h_prev, T *dh, const unsigned char *mask,
                        int B, int H, int act, int ract) {
    for (int r = 0; r < B; r++) {
        T *xr = xg + (long)r * 3 * H, *dhr = dh + (long)r * H;
        const T *hp = h_prev + (long)r * H;
        if (mask && !mask[r]) {
            for (int j = 0; j < 3 * H; j++) xr[j] = 0;
            continue;
        }
        T *xz = xr, *xh = xr + 2 * H;
        for (int j = 0; j < H; j++) {
            T z = xz[j], hh = xh[j], d = dhr[j];
            xz[j] = d * (hp[j] - hh) * FR(fr_dact)(z, ract);
            xh[j] = d * ((T)1 - z) * FR(fr_dact)(hh, act);
            dhr[j] = d * z;
        }
    }
}

FR_KERNEL void FR(fr_gru1_bwd_r)(T *xg, const T *h_prev, const T *drh, T *dh, int B, int H,
                       int ract) {
    for (int r = 0; r < B; r++) {
        T *xr = xg + (long)r * 3 * H, *dhr = dh + (long)r * H;
        const T *hp = h_prev + (long)r * H, *dr = drh + (long)r * H;
        T *xrg = xr + H;
        for (int j = 0; j < H; j++) {
            T rg = xrg[j];
            xrg[j] = dr[j] * hp[j] * FR(fr_dact)(rg, ract);
            dhr[j] += dr[j] * rg;
        }
    }
}

#undef FR_FAST
#undef FR_ROW
