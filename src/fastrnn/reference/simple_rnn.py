"""Reference SimpleRNN (Keras 3): h_t = act(x_t W + h_{t-1} U + b)."""
import numpy as np

from .activations import act, act_grad


def simple_rnn_forward(x, W, U, b, h0, activation="tanh"):
    """Forward pass over all T steps.

    x:  (B, T, I)  inputs, batch-major
    W:  (I, H)     kernel
    U:  (H, H)     recurrent kernel
    b:  (H,)       bias, or None (use_bias=False)
    h0: (B, H)     initial state, or None for zeros
    Returns (hseq, cache) with hseq: (B, T, H), hseq[:, t] = h_t.

    For t = 0 .. T-1:
        z_t = x_t W + h_{t-1} U + b
        h_t = act(z_t)
    """
    x, W, U = np.asarray(x), np.asarray(W), np.asarray(U)
    B, T, I = x.shape
    H = U.shape[0]
    arrays = [x, W, U] + ([np.asarray(b)] if b is not None else [])
    dtype = np.result_type(*arrays)
    if b is not None:
        b = np.asarray(b)
    h0 = np.zeros((B, H), dtype) if h0 is None else np.asarray(h0)

    hseq = np.zeros((B, T, H), dtype)
    zseq = np.zeros((B, T, H), dtype)   # pre-activations, kept for backward
    h_prev = h0
    for t in range(T):
        z = x[:, t] @ W + h_prev @ U
        if b is not None:
            z = z + b
        h = act(activation, z)
        zseq[:, t] = z
        hseq[:, t] = h
        h_prev = h

    cache = dict(x=x, W=W, U=U, b=b, h0=h0, hseq=hseq, zseq=zseq,
                 activation=activation)
    return hseq, cache


def simple_rnn_backward(dhseq, cache):
    """Backpropagation through time for simple_rnn_forward.

    dhseq: (B, T, H) = dL/dh_t for every output h_t (for return_sequences=False,
           zeros everywhere but the last step).
    Returns dict(dx=(B,T,I), dW=(I,H), dU=(H,H), db=(H,) or None, dh0=(B,H)).

    For t = T-1 .. 0, with dh_next = dL/dh_t coming from step t+1 (0 at t = T-1):
        dh   = dhseq[:, t] + dh_next          total dL/dh_t
        dz   = dh * act'(z_t)
        dW  += x_t^T dz
        dU  += h_{t-1}^T dz
        db  += sum_batch dz
        dx_t = dz W^T
        dh_next = dz U^T                      dL/dh_{t-1} through the recurrence
    dh0 = dh_next after step 0.
    """
    x, W, U, b = cache["x"], cache["W"], cache["U"], cache["b"]
    h0, hseq, zseq = cache["h0"], cache["hseq"], cache["zseq"]
    activation = cache["activation"]
    dhseq = np.asarray(dhseq)
    B, T, I = x.shape
    H = U.shape[0]
    dtype = hseq.dtype

    dx = np.zeros((B, T, I), dtype)
    dW = np.zeros(W.shape, dtype)
    dU = np.zeros(U.shape, dtype)
    db = np.zeros((H,), dtype) if b is not None else None
    dh_next = np.zeros((B, H), dtype)
    for t in reversed(range(T)):
        h_prev = hseq[:, t - 1] if t > 0 else h0
        dh = dhseq[:, t] + dh_next
        dz = dh * act_grad(activation, zseq[:, t])
        dW += x[:, t].T @ dz
        dU += h_prev.T @ dz
        if db is not None:
            db += dz.sum(axis=0)
        dx[:, t] = dz @ W.T
        dh_next = dz @ U.T
    dh0 = dh_next
    return dict(dx=dx, dW=dW, dU=dU, db=db, dh0=dh0)
