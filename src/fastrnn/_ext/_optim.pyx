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

Each rule is a ``cdef`` kernel on pointers (NULL for an absent slot); the ``def``
functions wrap it for one variable, and ``step_table`` runs it over every variable of
a model in one call from a table of buffer addresses that ``fastrnn.optimizers``
builds once (validated there, kept alive by its cache): small models take thousands
of steps, and per-variable calls and buffer acquisitions dominate them.

Notation below: g = grad, lr = learning rate, all operations element-wise.
"""
from cython cimport floating
from libc.math cimport sqrt, sqrtf


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef void _sgd(floating *var, const floating *grad, floating *momentum_buf, Py_ssize_t n,
               floating lr, floating mu, bint nesterov) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating m
    if momentum_buf == NULL:
        for i in range(n):
            var[i] = var[i] - grad[i] * lr
    elif nesterov:
        for i in range(n):
            m = momentum_buf[i] * mu - grad[i] * lr
            momentum_buf[i] = m
            var[i] = var[i] + (m * mu - grad[i] * lr)
    else:
        for i in range(n):
            m = momentum_buf[i] * mu - grad[i] * lr
            momentum_buf[i] = m
            var[i] = var[i] + m


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
    if var.shape[0] == 0:
        return
    with nogil:
        _sgd(&var[0], &grad[0], NULL if momentum_buf is None else &momentum_buf[0],
             var.shape[0], <floating> learning_rate, <floating> momentum, nesterov)


cdef void _rmsprop(floating *var, const floating *grad, floating *velocity,
                   floating *momentum_buf, floating *average_grad, Py_ssize_t n,
                   floating lr, floating r, floating one_minus_r, floating mu,
                   floating eps) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, v, a, inc, m
    cdef bint centered = average_grad != NULL
    cdef bint use_momentum = momentum_buf != NULL
    # One loop per option combination: no branch inside a loop, so it vectorizes.
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
    if var.shape[0] == 0:
        return
    with nogil:
        _rmsprop(&var[0], &grad[0], &velocity[0],
                 NULL if momentum_buf is None else &momentum_buf[0],
                 NULL if average_grad is None else &average_grad[0], var.shape[0],
                 <floating> learning_rate, <floating> rho, <floating> (1.0 - rho),
                 <floating> momentum, <floating> epsilon)


cdef void _adam(floating *var, const floating *grad, floating *m_buf, floating *v_buf,
                floating *v_hat_buf, Py_ssize_t n, floating a, floating one_minus_b1,
                floating one_minus_b2, floating eps) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, m, v, vh
    cdef bint amsgrad = v_hat_buf != NULL
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
    if var.shape[0] == 0:
        return
    with nogil:
        _adam(&var[0], &grad[0], &m_buf[0], &v_buf[0],
              NULL if v_hat_buf is None else &v_hat_buf[0], var.shape[0], <floating> alpha,
              <floating> (1.0 - beta_1), <floating> (1.0 - beta_2), <floating> epsilon)


cdef void _adagrad(floating *var, const floating *grad, floating *accumulator,
                   Py_ssize_t n, floating lr, floating eps) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, acc
    for i in range(n):
        g = grad[i]
        acc = accumulator[i] + g * g
        accumulator[i] = acc
        var[i] = var[i] - (lr * g) / _sqrt(acc + eps)


def adagrad(floating[::1] var, const floating[::1] grad, floating[::1] accumulator,
            double learning_rate, double epsilon):
    """Adagrad step, in place.  Shapes: all buffers (n,).  acc = ``accumulator``::

        acc = acc + g**2
        var = var - lr * g / sqrt(acc + epsilon)
    """
    if var.shape[0] == 0:
        return
    with nogil:
        _adagrad(&var[0], &grad[0], &accumulator[0], var.shape[0],
                 <floating> learning_rate, <floating> epsilon)


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


cdef void _table_step(int kind, const long long[:, ::1] table, floating dummy,
                      double p0, double p1, double p2, double p3, bint flag) noexcept nogil:
    cdef Py_ssize_t r
    cdef Py_ssize_t n
    for r in range(table.shape[0]):
        n = <Py_ssize_t> table[r, 0]
        if n == 0:
            continue
        if kind == 0:
            _sgd(<floating *> table[r, 1], <const floating *> table[r, 2],
                 <floating *> table[r, 3], n, <floating> p0, <floating> p1, flag)
        elif kind == 1:
            _rmsprop(<floating *> table[r, 1], <const floating *> table[r, 2],
                     <floating *> table[r, 3], <floating *> table[r, 4],
                     <floating *> table[r, 5], n, <floating> p0, <floating> p1,
                     <floating> (1.0 - p1), <floating> p2, <floating> p3)
        elif kind == 2:
            _adam(<floating *> table[r, 1], <const floating *> table[r, 2],
                  <floating *> table[r, 3], <floating *> table[r, 4], <floating *> table[r, 5],
                  n, <floating> p0, <floating> (1.0 - p1), <floating> (1.0 - p2),
                  <floating> p3)
        else:
            _adagrad(<floating *> table[r, 1], <const floating *> table[r, 2],
                     <floating *> table[r, 3], n, <floating> p0, <floating> p1)


def step_table(int kind, const long long[:, ::1] table, bint double_precision,
               double p0, double p1, double p2, double p3, bint flag):
    """Apply one rule to every variable listed in ``table`` (one row each:
    n, then the addresses of var, grad and up to three slots, 0 for an absent slot).

    kind 0 SGD (p0 lr, p1 momentum, flag nesterov; slot: momentum), 1 RMSprop (p0 lr,
    p1 rho, p2 momentum, p3 epsilon; slots: velocity, momentum, average gradient),
    2 Adam (p0 alpha, p1 beta_1, p2 beta_2, p3 epsilon; slots: m, v, v_hat),
    3 Adagrad (p0 lr, p1 epsilon; slot: accumulator).  All buffers of one table have
    the dtype given by double_precision.  The caller guarantees that every address
    is a live, C-contiguous buffer of n elements.
    """
    with nogil:
        if double_precision:
            _table_step[double](kind, table, 0.0, p0, p1, p2, p3, flag)
        else:
            _table_step[float](kind, table, 0.0, p0, p1, p2, p3, flag)
