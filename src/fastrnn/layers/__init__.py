"""Layers with Keras's names."""
from fastrnn.layers.base import Layer
from fastrnn.layers.core import (Activation, Dense, Dropout, Embedding, Flatten, Input,
                                 InputLayer, Masking)
from fastrnn.layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from fastrnn.layers.wrappers import Bidirectional, TimeDistributed

__all__ = ["Layer", "Input", "InputLayer", "Dense", "Embedding", "Dropout", "Activation",
           "Flatten", "Masking", "RNN", "SimpleRNN", "LSTM", "GRU", "TimeDistributed",
           "Bidirectional"]
