"""Reference GRU (Keras 3), gate order z, r, h, both reset_after variants."""
import numpy as np

from .activations import act, act_grad


def gru_forward(x, W, U, b, h0, activation="tanh",
                recurrent_activation="sigmoid", reset_after=True):
    """Forward pass over all T steps.

    x:  (B, T, I)  inputs, batch-major
    W:  (I, 3H)    kernel, columns [z | r | h]
    U:  (H, 3H)    recurrent kernel, same column order
    b:  reset_after=True: (2, 3H), b[0] input bias, b[1] recurrent bias;
        reset_after=False: (3H,); or None (use_bias=False)
    h0: (B, H)     initial state, or None for zeros
    Returns (hseq, cache) with hseq: (B, T, H).

    With act = activation, ra = recurrent_activation and _z, _r, _h the column
    blocks [0:H], [H:2H], [2H:3H], for t = 0 .. T-1:

    reset_after=True:
        mx  = x_t W + b[0]
        mh  = h_{t-1} U + b[1]
        z   = ra(mx_z + mh_z)
        r   = ra(mx_r + mh_r)
        hh  = act(mx_h + r * mh_h)
        h_t = z * h_{t-1} + (1 - z) * hh

    reset_after=False:
        mx  = x_t W + b
        z   = ra(mx_z + h_{t-1} U_z)
        r   = ra(mx_r + h_{t-1} U_r)
        hh  = act(mx_h + (r * h_{t-1}) U_h)
        h_t = z * h_{t-1} + (1 - z) * hh
    """
    x, W, U = np.asarray(x), np.asarray(W), np.asarray(U)
    B, T, I = x.shape
    H = U.shape[0]
    arrays = [x, W, U] + ([np.asarray(b)] if b is not None else [])
    dtype = np.result_type(*arrays)
    if b is not None:
        b = np.asarray(b)
        want = (2, 3 * H) if reset_after else (3 * H,)
        if b.shape != want:
            raise ValueError(f"GRU bias must have shape {want} for "
                             f"reset_after={reset_after}, got {b.shape}")
    h0 = np.zeros((B, H), dtype) if h0 is None else np.asarray(h0)

    hseq = np.zeros((B, T, H), dtype)
    # per-step values kept for backward
    zs = np.zeros((B, T, H), dtype)      # pre-activation of z
    rs = np.zeros((B, T, H), dtype)      # pre-activation of r
    hhs = np.zeros((B, T, H), dtype)     # pre-activation of hh
    mhhs = np.zeros((B, T, H), dtype)    # mh_h (reset_after=True only)

    h_prev = h0
    for t in range(T):
        mx = x[:, t] @ W
        if reset_after:
            if b is not None:
                mx = mx + b[0]
            mh = h_prev @ U
            if b is not None:
                mh = mh + b[1]
            a_z = mx[:, 0:H] + mh[:, 0:H]
            a_r = mx[:, H:2 * H] + mh[:, H:2 * H]
            z = act(recurrent_activation, a_z)
            r = act(recurrent_activation, a_r)
            a_h = mx[:, 2 * H:3 * H] + r * mh[:, 2 * H:3 * H]
            mhhs[:, t] = mh[:, 2 * H:3 * H]
        else:
            if b is not None:
                mx = mx + b
            a_z = mx[:, 0:H] + h_prev @ U[:, 0:H]
            a_r = mx[:, H:2 * H] + h_prev @ U[:, H:2 * H]
            z = act(recurrent_activation, a_z)
            r = act(recurrent_activation, a_r)
            a_h = mx[:, 2 * H:3 * H] + (r * h_prev) @ U[:, 2 * H:3 * H]
        hh = act(activation, a_h)
        h = z * h_prev + (1 - z) * hh
        zs[:, t], rs[:, t], hhs[:, t] = a_z, a_r, a_h
        hseq[:, t] = h
        h_prev = h

    cache = dict(x=x, W=W, U=U, b=b, h0=h0, hseq=hseq, zs=zs, rs=rs,
                 hhs=hhs, mhhs=mhhs, activation=activation,
                 recurrent_activation=recurrent_activation,
                 reset_after=reset_after)
    return hseq, cache


def gru_backward(dhseq, cache):
    """Backpropagation through time for gru_forward.

    dhseq: (B, T, H) = dL/dh_t for every output h_t.
    Returns dict(dx=(B,T,I), dW=(I,3H), dU=(H,3H), db=(same shape as b) or None,
                 dh0=(B,H)).

    For t = T-1 .. 0, with dh_next = dL/dh_t from step t+1 (0 at t = T-1):
        dh   = dhseq[:, t] + dh_next
        da_z = dh * (h_{t-1} - hh) * ra'(a_z)     h_t = z h_{t-1} + (1 - z) hh
        da_h = dh * (1 - z) * act'(a_h)
        dh_prev = dh * z                          direct path through z * h_{t-1}

    reset_after=True  (a_h = mx_h + r * mh_h):
        da_r = da_h * mh_h * ra'(a_r)
        dmx  = [da_z | da_r | da_h]               dL/dmx
        dmh  = [da_z | da_r | da_h * r]           dL/dmh
        dW  += x_t^T dmx ;  db[0] += sum_batch dmx
        dU  += h_{t-1}^T dmh ;  db[1] += sum_batch dmh
        dh_prev += dmh U^T

    reset_after=False (a_h = mx_h + (r * h_{t-1}) U_h):
        drh  = da_h U_h^T                         dL/d(r * h_{t-1})
        da_r = drh * h_{t-1} * ra'(a_r)
        dmx  = [da_z | da_r | da_h] ;  dW += x_t^T dmx ;  db += sum_batch dmx
        dU_z += h_{t-1}^T da_z ;  dU_r += h_{t-1}^T da_r ;  dU_h += (r h_{t-1})^T da_h
        dh_prev += drh * r + da_z U_z^T + da_r U_r^T

    and in both cases dx_t = dmx W^T, dh_next = dh_prev; dh0 = dh_next after step 0.
    """
    x, W, U, b = cache["x"], cache["W"], cache["U"], cache["b"]
    h0, hseq = cache["h0"], cache["hseq"]
    zs, rs, hhs, mhhs = cache["zs"], cache["rs"], cache["hhs"], cache["mhhs"]
    act_name, ra_name = cache["activation"], cache["recurrent_activation"]
    reset_after = cache["reset_after"]
    dhseq = np.asarray(dhseq)
    B, T, I = x.shape
    H = U.shape[0]
    dtype = hseq.dtype

    dx = np.zeros((B, T, I), dtype)
    dW = np.zeros(W.shape, dtype)
    dU = np.zeros(U.shape, dtype)
    db = np.zeros(b.shape, dtype) if b is not None else None
    dh_next = np.zeros((B, H), dtype)
    U_z, U_r, U_h = U[:, 0:H], U[:, H:2 * H], U[:, 2 * H:3 * H]
    for t in reversed(range(T)):
        h_prev = hseq[:, t - 1] if t > 0 else h0
        a_z, a_r, a_h = zs[:, t], rs[:, t], hhs[:, t]
        # recompute the gate values from the stored pre-activations
        z = act(ra_name, a_z)
        r = act(ra_name, a_r)
        hh = act(act_name, a_h)

        dh = dhseq[:, t] + dh_next
        da_z = dh * (h_prev - hh) * act_grad(ra_name, a_z)
        da_h = dh * (1 - z) * act_grad(act_name, a_h)
        dh_prev = dh * z

        if reset_after:
            mh_h = mhhs[:, t]
            da_r = da_h * mh_h * act_grad(ra_name, a_r)
            dmx = np.concatenate([da_z, da_r, da_h], axis=1)
            dmh = np.concatenate([da_z, da_r, da_h * r], axis=1)
            dW += x[:, t].T @ dmx
            dU += h_prev.T @ dmh
            if db is not None:
                db[0] += dmx.sum(axis=0)
                db[1] += dmh.sum(axis=0)
            dh_prev = dh_prev + dmh @ U.T
        else:
            drh = da_h @ U_h.T
            da_r = drh * h_prev * act_grad(ra_name, a_r)
            dmx = np.concatenate([da_z, da_r, da_h], axis=1)
            dW += x[:, t].T @ dmx
            if db is not None:
                db += dmx.sum(axis=0)
            dU[:, 0:H] += h_prev.T @ da_z
            dU[:, H:2 * H] += h_prev.T @ da_r
            dU[:, 2 * H:3 * H] += (r * h_prev).T @ da_h
            dh_prev = dh_prev + drh * r + da_z @ U_z.T + da_r @ U_r.T

        dx[:, t] = dmx @ W.T
        dh_next = dh_prev
    return dict(dx=dx, dW=dW, dU=dU, db=db, dh0=dh_next)
