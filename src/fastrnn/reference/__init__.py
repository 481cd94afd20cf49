"""fastrnn.reference: the pure-NumPy oracle.

Readable per-timestep forward and backward (BPTT) loops for Dense, SimpleRNN,
LSTM and GRU with Keras 3 weight layouts and formulas, plus the MSE and MAE
losses.  It imports nothing but NumPy and shares no code with the rest of
fastrnn, so that the fast kernels can be checked against it.  It is written for
reading, not for speed.

All sequence inputs are batch-major: x has shape (B, T, I).
"""
from .activations import act, act_grad
from .dense import dense_forward, dense_backward
from .simple_rnn import simple_rnn_forward, simple_rnn_backward
from .lstm import lstm_forward, lstm_backward
from .gru import gru_forward, gru_backward
from .losses import mse, mae

__all__ = [
    "act", "act_grad",
    "dense_forward", "dense_backward",
    "simple_rnn_forward", "simple_rnn_backward",
    "lstm_forward", "lstm_backward",
    "gru_forward", "gru_backward",
    "mse", "mae",
]
