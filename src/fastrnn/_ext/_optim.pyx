"""In-place optimizer update kernels (Keras 3 update rules).

Every kernel updates 1-D C-contiguous buffers in place, element by element, in a
``nogil`` loop.  ``var`` (the weight), ``grad`` and the optimizer slots of one call
all have the same length n and the same dtype (float32 or float64, the fused
``floating`` type): callers pass ``w.reshape(-1)`` views of C-contiguous arrays.
The scalar hyperparameters arrive as Python floats (double) and are rounded to
the buffer's dtype once, so float32 weights are updated in float32 arithmetic,
as Keras does (it casts the learning rate and the gradient to the variable dtype).

Nothing here validates its inputs (bounds checking is off): lengths, dtypes and
contiguity are checked in Python, in ``fastrnn.optimizers``, before these run.
An optional slot is passed as ``None`` when its option is off.

Notation below: g = grad, lr = learning rate, all operations element-wise.
"""
from cython cimport floating
from libc.math cimport sqrt, sqrtf


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


def sgd(floating[::1] var, const floating[::1] grad, floating[::1] momentum_buf,
        double learning_rate, double momentum, bint nesterov):
    """SGD step, in place.  Shapes: var, grad, momentum_buf all (n,).

    Without momentum (``momentum_buf`` is None)::

        var = var - g * lr

    With momentum (m = ``momentum_buf``, mu = ``momentum``)::

        m = m * mu - g * lr
        var = var + m                      (nesterov False)
        var = var + (m * mu - g * lr)      (nesterov True)
    """
    cdef Py_ssize_t i, n = var.shape[0]
    cdef floating lr = <floating> learning_rate
    cdef floating mu = <floating> momentum
    cdef floating m
    if momentum_buf is None:
        with nogil:
            for i in range(n):
                var[i] = var[i] - grad[i] * lr
        return
    with nogil:
        if nesterov:
            for i in range(n):
                m = momentum_buf[i] * mu - grad[i] * lr
                momentum_buf[i] = m
                var[i] = var[i] + (m * mu - grad[i] * lr)
        else:
            for i in range(n):
                m = momentum_buf[i] * mu - grad[i] * lr
                momentum_buf[i] = m
                var[i] = var[i] + m


def rmsprop(floating[::1] var, const floating[::1] grad, floating[::1] velocity,
            floating[::1] momentum_buf, floating[::1] average_grad,
            double learning_rate, double rho, double momentum, double epsilon):
    """RMSprop step, in place.  Shapes: all buffers (n,).

    v = ``velocity``, a = ``average_grad`` (None unless centered),
    m = ``momentum_buf`` (None unless momentum > 0)::

        v = rho * v + (1 - rho) * g**2
        centered:     a = rho * a + (1 - rho) * g
                      denom = v - a**2 + epsilon
        not centered: denom = v + epsilon
        inc = lr * g / sqrt(denom)
        with momentum: m = momentum * m + inc;  var = var - m
        otherwise:     var = var - inc
    """
    cdef Py_ssize_t i, n = var.shape[0]
    cdef floating lr = <floating> learning_rate
    cdef floating r = <floating> rho
    cdef floating one_minus_r = <floating> (1.0 - rho)
    cdef floating mu = <floating> momentum
    cdef floating eps = <floating> epsilon
    cdef floating g, v, a, inc, m
    cdef bint centered = average_grad is not None
    cdef bint use_momentum = momentum_buf is not None
    # One loop per option combination: no branch inside a loop, so it vectorizes.
    with nogil:
        if centered and use_momentum:
            for i in range(n):
                g = grad[i]
                v = r * velocity[i] + one_minus_r * (g * g)
                velocity[i] = v
                a = r * average_grad[i] + one_minus_r * g
                average_grad[i] = a
                inc = (lr * g) / _sqrt(v - a * a + eps)
                m = mu * momentum_buf[i] + inc
                momentum_buf[i] = m
                var[i] = var[i] - m
        elif centered:
            for i in range(n):
                g = grad[i]
                v = r * velocity[i] + one_minus_r * (g * g)
                velocity[i] = v
                a = r * average_grad[i] + one_minus_r * g
                average_grad[i] = a
                var[i] = var[i] - (lr * g) / _sqrt(v - a * a + eps)
        elif use_momentum:
            for i in range(n):
                g = grad[i]
                v = r * velocity[i] + one_minus_r * (g * g)
                velocity[i] = v
                inc = (lr * g) / _sqrt(v + eps)
                m = mu * momentum_buf[i] + inc
                momentum_buf[i] = m
                var[i] = var[i] - m
        else:
            for i in range(n):
                g = grad[i]
                v = r * velocity[i] + one_minus_r * (g * g)
                velocity[i] = v
                var[i] = var[i] - (lr * g) / _sqrt(v + eps)


def adam(floating[::1] var, const floating[::1] grad, floating[::1] m_buf,
         floating[::1] v_buf, floating[::1] v_hat_buf,
         double alpha, double beta_1, double beta_2, double epsilon):
    """Adam step, in place.  Shapes: all buffers (n,).

    ``alpha`` is computed by the caller: with t = iterations + 1,
    alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t).
    m = ``m_buf``, v = ``v_buf``, v_hat = ``v_hat_buf`` (None unless amsgrad)::

        m = m + (g - m) * (1 - beta_1)
        v = v + (g**2 - v) * (1 - beta_2)
        amsgrad: v_hat = maximum(v_hat, v); v = v_hat   (v_buf keeps the EMA)
        var = var - (m * alpha) / (sqrt(v) + epsilon)
    """
    cdef Py_ssize_t i, n = var.shape[0]
    cdef floating a = <floating> alpha
    cdef floating one_minus_b1 = <floating> (1.0 - beta_1)
    cdef floating one_minus_b2 = <floating> (1.0 - beta_2)
    cdef floating eps = <floating> epsilon
    cdef floating g, m, v, vh
    cdef bint amsgrad = v_hat_buf is not None
    with nogil:
        if amsgrad:
            for i in range(n):
                g = grad[i]
                m = m_buf[i] + (g - m_buf[i]) * one_minus_b1
                m_buf[i] = m
                v = v_buf[i] + (g * g - v_buf[i]) * one_minus_b2
                v_buf[i] = v
                vh = v_hat_buf[i]
                # maximum(v_hat, v); a NaN v propagates (a NaN v_hat can only
                # come from an earlier NaN v, which stays in v's EMA)
                vh = vh if vh >= v else v
                v_hat_buf[i] = vh
                var[i] = var[i] - (m * a) / (_sqrt(vh) + eps)
        else:
            for i in range(n):
                g = grad[i]
                m = m_buf[i] + (g - m_buf[i]) * one_minus_b1
                m_buf[i] = m
                v = v_buf[i] + (g * g - v_buf[i]) * one_minus_b2
                v_buf[i] = v
                var[i] = var[i] - (m * a) / (_sqrt(v) + eps)


def adagrad(floating[::1] var, const floating[::1] grad, floating[::1] accumulator,
            double learning_rate, double epsilon):
    """Adagrad step, in place.  Shapes: all buffers (n,).  acc = ``accumulator``::

        acc = acc + g**2
        var = var - lr * g / sqrt(acc + epsilon)
    """
    cdef Py_ssize_t i, n = var.shape[0]
    cdef floating lr = <floating> learning_rate
    cdef floating eps = <floating> epsilon
    cdef floating g, acc
    with nogil:
        for i in range(n):
            g = grad[i]
            acc = accumulator[i] + g * g
            accumulator[i] = acc
            var[i] = var[i] - (lr * g) / _sqrt(acc + eps)


def sum_squares(const floating[::1] x):
    """Return sum(x**2) over a 1-D C-contiguous buffer of shape (n,), accumulated
    in double whatever the dtype (so a float32 gradient's norm does not overflow).
    Four independent partial sums (no -ffast-math, so written out by hand)."""
    cdef Py_ssize_t i, n = x.shape[0], n4 = n - n % 4
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, x0, x1, x2, x3
    with nogil:
        for i in range(0, n4, 4):
            x0 = <double> x[i]
            x1 = <double> x[i + 1]
            x2 = <double> x[i + 2]
            x3 = <double> x[i + 3]
            s0 += x0 * x0
            s1 += x1 * x1
            s2 += x2 * x2
            s3 += x3 * x3
        for i in range(n4, n):
            x0 = <double> x[i]
            s0 += x0 * x0
    return (s0 + s1) + (s2 + s3)
