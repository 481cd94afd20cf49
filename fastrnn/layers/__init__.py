"""Layers with Keras's names."""
from fastrnn.layers.base import Layer
from fastrnn.layers.core import Dense, Input, InputLayer
from fastrnn.layers.recurrent import RNN, SimpleRNN

__all__ = ["Layer", "Dense", "Input", "InputLayer", "RNN", "SimpleRNN"]
