"""Reference LSTM (Keras 3), gate order i, f, c, o."""
import numpy as np

from .activations import act, act_grad


def lstm_forward(x, W, U, b, h0, c0, activation="tanh",
                 recurrent_activation="sigmoid"):
    """Forward pass over all T steps.

    x:  (B, T, I)   inputs, batch-major
    W:  (I, 4H)     kernel, columns [i | f | c | o]
    U:  (H, 4H)     recurrent kernel, same column order
    b:  (4H,)       bias, or None (use_bias=False)
    h0: (B, H)      initial hidden state, or None for zeros
    c0: (B, H)      initial cell state, or None for zeros
    Returns (hseq, cseq, cache) with hseq, cseq: (B, T, H).

    With act = activation and ra = recurrent_activation, for t = 0 .. T-1:
        z   = x_t W + h_{t-1} U + b
        z_i, z_f, z_c, z_o = z[:, 0:H], z[:, H:2H], z[:, 2H:3H], z[:, 3H:4H]
        i   = ra(z_i)                        input gate
        f   = ra(z_f)                        forget gate
        g   = act(z_c)                       candidate
        c_t = f * c_{t-1} + i * g
        o   = ra(z_o)                        output gate
        h_t = o * act(c_t)
    """
    x, W, U = np.asarray(x), np.asarray(W), np.asarray(U)
    B, T, I = x.shape
    H = U.shape[0]
    arrays = [x, W, U] + ([np.asarray(b)] if b is not None else [])
    dtype = np.result_type(*arrays)
    if b is not None:
        b = np.asarray(b)
    h0 = np.zeros((B, H), dtype) if h0 is None else np.asarray(h0)
    c0 = np.zeros((B, H), dtype) if c0 is None else np.asarray(c0)

    hseq = np.zeros((B, T, H), dtype)
    cseq = np.zeros((B, T, H), dtype)
    zseq = np.zeros((B, T, 4 * H), dtype)   # pre-activations of the 4 gates
    h_prev, c_prev = h0, c0
    for t in range(T):
        z = x[:, t] @ W + h_prev @ U
        if b is not None:
            z = z + b
        z_i, z_f, z_c, z_o = z[:, 0:H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:4 * H]
        i = act(recurrent_activation, z_i)
        f = act(recurrent_activation, z_f)
        g = act(activation, z_c)
        c = f * c_prev + i * g
        o = act(recurrent_activation, z_o)
        h = o * act(activation, c)
        zseq[:, t] = z
        cseq[:, t] = c
        hseq[:, t] = h
        h_prev, c_prev = h, c

    cache = dict(x=x, W=W, U=U, b=b, h0=h0, c0=c0, hseq=hseq, cseq=cseq,
                 zseq=zseq, activation=activation,
                 recurrent_activation=recurrent_activation)
    return hseq, cseq, cache


def lstm_backward(dhseq, dcseq_last, cache):
    """Backpropagation through time for lstm_forward.

    dhseq:      (B, T, H) = dL/dh_t for every output h_t
    dcseq_last: (B, H) = dL/dc_{T-1} of the last cell state (return_state), or None
    Returns dict(dx=(B,T,I), dW=(I,4H), dU=(H,4H), db=(4H,) or None,
                 dh0=(B,H), dc0=(B,H)).

    For t = T-1 .. 0, with dh_next, dc_next = dL/dh_t, dL/dc_t from step t+1
    (dh_next = 0 and dc_next = dcseq_last at t = T-1):
        dh   = dhseq[:, t] + dh_next
        dc   = dc_next + dh * o * act'(c_t)   h_t = o * act(c_t)
        dz_o = dh * act(c_t) * ra'(z_o)
        dz_i = dc * g * ra'(z_i)              c_t = f * c_{t-1} + i * g
        dz_f = dc * c_{t-1} * ra'(z_f)
        dz_c = dc * i * act'(z_c)
        dz   = [dz_i | dz_f | dz_c | dz_o]
        dW  += x_t^T dz ;  dU += h_{t-1}^T dz ;  db += sum_batch dz
        dx_t = dz W^T
        dh_next = dz U^T
        dc_next = dc * f
    dh0, dc0 = dh_next, dc_next after step 0.
    """
    x, W, U, b = cache["x"], cache["W"], cache["U"], cache["b"]
    h0, c0 = cache["h0"], cache["c0"]
    hseq, cseq, zseq = cache["hseq"], cache["cseq"], cache["zseq"]
    act_name, ra_name = cache["activation"], cache["recurrent_activation"]
    dhseq = np.asarray(dhseq)
    B, T, I = x.shape
    H = U.shape[0]
    dtype = hseq.dtype

    dx = np.zeros((B, T, I), dtype)
    dW = np.zeros(W.shape, dtype)
    dU = np.zeros(U.shape, dtype)
    db = np.zeros((4 * H,), dtype) if b is not None else None
    dh_next = np.zeros((B, H), dtype)
    if dcseq_last is None:
        dc_next = np.zeros((B, H), dtype)
    else:
        dc_next = np.asarray(dcseq_last).astype(dtype, copy=True)
    for t in reversed(range(T)):
        h_prev = hseq[:, t - 1] if t > 0 else h0
        c_prev = cseq[:, t - 1] if t > 0 else c0
        c = cseq[:, t]
        z = zseq[:, t]
        z_i, z_f, z_c, z_o = z[:, 0:H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:4 * H]
        # recompute the gate values from the stored pre-activations
        i = act(ra_name, z_i)
        f = act(ra_name, z_f)
        g = act(act_name, z_c)
        o = act(ra_name, z_o)

        dh = dhseq[:, t] + dh_next
        dc = dc_next + dh * o * act_grad(act_name, c)
        dz_o = dh * act(act_name, c) * act_grad(ra_name, z_o)
        dz_i = dc * g * act_grad(ra_name, z_i)
        dz_f = dc * c_prev * act_grad(ra_name, z_f)
        dz_c = dc * i * act_grad(act_name, z_c)
        dz = np.concatenate([dz_i, dz_f, dz_c, dz_o], axis=1)

        dW += x[:, t].T @ dz
        dU += h_prev.T @ dz
        if db is not None:
            db += dz.sum(axis=0)
        dx[:, t] = dz @ W.T
        dh_next = dz @ U.T
        dc_next = dc * f
    return dict(dx=dx, dW=dW, dU=dU, db=db, dh0=dh_next, dc0=dc_next)
