"""Layers with Keras's names."""
from fastrnn.layers.base import Layer
from fastrnn.layers.core import Dense, Input, InputLayer
from fastrnn.layers.recurrent import GRU, LSTM, RNN, SimpleRNN

__all__ = ["Layer", "Dense", "Input", "InputLayer", "RNN", "SimpleRNN", "LSTM", "GRU"]
