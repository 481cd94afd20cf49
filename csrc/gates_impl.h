/* Body of the gate kernels of gates.h, for one element type.  gates.c includes this
 * file twice, with T the type and FR(name) giving the suffixed name. */

void FR(fr_lstm_fwd)(T *z, const T *b, const T *c_prev, T *c, T *ac, T *h,
                     int B, int H, int act, int ract) {
    for (int r = 0; r < B; r++) {
        T *zr = z + (long)r * 4 * H;
        const T *cp = c_prev + (long)r * H;
        T *cr = c + (long)r * H, *ar = ac + (long)r * H, *hr = h + (long)r * H;
        for (int j = 0; j < H; j++) {
            T zi = zr[j], zf = zr[H + j], zg = zr[2 * H + j], zo = zr[3 * H + j];
            if (b) {
                zi += b[j]; zf += b[H + j]; zg += b[2 * H + j]; zo += b[3 * H + j];
            }
            T i = FR(fr_act)(zi, ract), f = FR(fr_act)(zf, ract);
            T g = FR(fr_act)(zg, act), o = FR(fr_act)(zo, ract);
            T cn = f * cp[j] + i * g;
            T a = FR(fr_act)(cn, act);
            zr[j] = i; zr[H + j] = f; zr[2 * H + j] = g; zr[3 * H + j] = o;
            cr[j] = cn; ar[j] = a; hr[j] = o * a;
        }
    }
}

void FR(fr_lstm_bwd)(T *z, const T *c_prev, const T *ac, T *dh, T *dc,
                     const unsigned char *mask, int B, int H, int act, int ract) {
    for (int r = 0; r < B; r++) {
        T *zr = z + (long)r * 4 * H;
        const T *cp = c_prev + (long)r * H, *ar = ac + (long)r * H;
        T *dhr = dh + (long)r * H, *dcr = dc + (long)r * H;
        if (mask && !mask[r]) {
            for (int j = 0; j < 4 * H; j++) zr[j] = 0;
            continue;
        }
        for (int j = 0; j < H; j++) {
            T i = zr[j], f = zr[H + j], g = zr[2 * H + j], o = zr[3 * H + j];
            T a = ar[j];
            T dct = dcr[j] + dhr[j] * o * FR(fr_dact)(a, act);
            zr[j] = dct * g * FR(fr_dact)(i, ract);
            zr[H + j] = dct * cp[j] * FR(fr_dact)(f, ract);
            zr[2 * H + j] = dct * i * FR(fr_dact)(g, act);
            zr[3 * H + j] = dhr[j] * a * FR(fr_dact)(o, ract);
            dcr[j] = dct * f;
        }
        if (mask) {
            for (int j = 0; j < H; j++) dhr[j] = 0;
        }
    }
}

void FR(fr_gru_fwd)(T *xg, T *mh, const T *brec, const T *h_prev, T *h,
                    int B, int H, int act, int ract) {
    for (int r = 0; r < B; r++) {
        T *xr = xg + (long)r * 3 * H, *mr = mh + (long)r * 3 * H;
        const T *hp = h_prev + (long)r * H;
        T *hr = h + (long)r * H;
        if (brec) {
            for (int j = 0; j < 3 * H; j++) mr[j] += brec[j];
        }
        for (int j = 0; j < H; j++) {
            T z = FR(fr_act)(xr[j] + mr[j], ract);
            T rg = FR(fr_act)(xr[H + j] + mr[H + j], ract);
            T hh = FR(fr_act)(xr[2 * H + j] + rg * mr[2 * H + j], act);
            xr[j] = z; xr[H + j] = rg; xr[2 * H + j] = hh;
            hr[j] = z * hp[j] + ((T)1 - z) * hh;
        }
    }
}

void FR(fr_gru_bwd)(T *xg, T *mh, const T *h_prev, T *dh, const unsigned char *mask,
                    int B, int H, int act, int ract) {
    for (int r = 0; r < B; r++) {
        T *xr = xg + (long)r * 3 * H, *mr = mh + (long)r * 3 * H, *dhr = dh + (long)r * H;
        const T *hp = h_prev + (long)r * H;
        if (mask && !mask[r]) {
            for (int j = 0; j < 3 * H; j++) xr[j] = mr[j] = 0;
            continue;
        }
        for (int j = 0; j < H; j++) {
            T z = xr[j], rg = xr[H + j], hh = xr[2 * H + j], d = dhr[j];
            T dpz = d * (hp[j] - hh) * FR(fr_dact)(z, ract);
            T dph = d * ((T)1 - z) * FR(fr_dact)(hh, act);
            T dpr = dph * mr[2 * H + j] * FR(fr_dact)(rg, ract);
            xr[j] = dpz; xr[H + j] = dpr; xr[2 * H + j] = dph;
            mr[j] = dpz; mr[H + j] = dpr; mr[2 * H + j] = dph * rg;
            dhr[j] = d * z;
        }
    }
}

void FR(fr_gru1_fwd_zr)(T *xg, const T *mzr, const T *h_prev, T *rh, int B, int H,
                        int ract) {
    for (int r = 0; r < B; r++) {
        T *xr = xg + (long)r * 3 * H;
        const T *mr = mzr + (long)r * 3 * H, *hp = h_prev + (long)r * H;
        T *rhr = rh + (long)r * H;
        for (int j = 0; j < H; j++) {
            T z = FR(fr_act)(xr[j] + mr[j], ract);
            T rg = FR(fr_act)(xr[H + j] + mr[H + j], ract);
            xr[j] = z; xr[H + j] = rg;
            rhr[j] = rg * hp[j];
        }
    }
}

void FR(fr_gru1_fwd_h)(T *xg, const T *mh, const T *h_prev, T *h, int B, int H,
                       int act) {
    for (int r = 0; r < B; r++) {
        T *xr = xg + (long)r * 3 * H, *hr = h + (long)r * H;
        const T *mr = mh + (long)r * 3 * H, *hp = h_prev + (long)r * H;
        for (int j = 0; j < H; j++) {
            T z = xr[j];
            T hh = FR(fr_act)(xr[2 * H + j] + mr[2 * H + j], act);
            xr[2 * H + j] = hh;
            hr[j] = z * hp[j] + ((T)1 - z) * hh;
        }
    }
}

void FR(fr_gru1_bwd_zh)(T *xg, const T *h_prev, T *dh, const unsigned char *mask,
                        int B, int H, int act, int ract) {
    for (int r = 0; r < B; r++) {
        T *xr = xg + (long)r * 3 * H, *dhr = dh + (long)r * H;
        const T *hp = h_prev + (long)r * H;
        if (mask && !mask[r]) {
            for (int j = 0; j < 3 * H; j++) xr[j] = 0;
            continue;
        }
        for (int j = 0; j < H; j++) {
            T z = xr[j], hh = xr[2 * H + j], d = dhr[j];
            xr[j] = d * (hp[j] - hh) * FR(fr_dact)(z, ract);
            xr[2 * H + j] = d * ((T)1 - z) * FR(fr_dact)(hh, act);
            dhr[j] = d * z;
        }
    }
}

void FR(fr_gru1_bwd_r)(T *xg, const T *h_prev, const T *drh, T *dh, int B, int H,
                       int ract) {
    for (int r = 0; r < B; r++) {
        T *xr = xg + (long)r * 3 * H, *dhr = dh + (long)r * H;
        const T *hp = h_prev + (long)r * H, *dr = drh + (long)r * H;
        for (int j = 0; j < H; j++) {
            T rg = xr[H + j];
            xr[H + j] = dr[j] * hp[j] * FR(fr_dact)(rg, ract);
            dhr[j] += dr[j] * rg;
        }
    }
}
