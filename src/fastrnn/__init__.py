"""fastrnn: Keras-compatible recurrent networks (SimpleRNN, LSTM, GRU) for the CPU.

Replace ``keras`` by ``fastrnn`` in the imports of a Keras RNN program.
"""
from fastrnn import (activations, callbacks, config, initializers, layers, losses, metrics,
                     models, optimizers, utils)
from fastrnn.layers import Input
from fastrnn.models import Sequential

__version__ = "0.1.0"

__all__ = ["activations", "callbacks", "config", "initializers", "layers", "losses", "metrics",
           "models", "optimizers", "utils", "Input", "Sequential", "__version__"]
