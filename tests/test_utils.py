"""fastrnn.utils helpers as in keras.utils, and Sequential.input_shape."""
import numpy as np
import pytest

from fastrnn.layers import LSTM, Input
from fastrnn.models import Sequential
from fastrnn.utils import pad_sequences, to_categorical


def test_pad_sequences_like_keras():
    seqs = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9]]
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=4), [
        [0, 1, 2, 3], [0, 0, 0, 4], [0, 0, 0, 0], [6, 7, 8, 9]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=4, padding="post",
                                                truncating="post", value=-1), [
        [1, 2, 3, -1], [4, -1, -1, -1], [-1, -1, -1, -1], [5, 6, 7, 8]])
    out = pad_sequences(seqs)
    assert out.shape == (4, 5) and out.dtype == np.int32
    vec = pad_sequences([np.ones((2, 3)), np.ones((1, 3))], dtype="float32")
    assert vec.shape == (2, 2, 3) and vec[1, 0].sum() == 0
    with pytest.raises(ValueError, match="padding"):
        pad_sequences(seqs, padding="middle")


def test_to_categorical_like_keras():
    np.testing.assert_array_equal(to_categorical([0, 2, 1]),
                                  [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    assert to_categorical(np.array([[1], [0]]), num_classes=3).shape == (2, 3)
    assert to_categorical(np.zeros((2, 5), int), 4).shape == (2, 5, 4)
    with pytest.raises(ValueError, match="ids must be in"):
        to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="whole numbers"):
        to_categorical([0.5])


def test_sequential_input_shape():
    assert Sequential([Input(shape=(16, 1)), LSTM(8)]).input_shape == (None, 16, 1)
    with pytest.raises(AttributeError, match="no input shape"):
        Sequential([LSTM(8)]).input_shape
