/* The gate kernels of gates.h: gates_impl.h instantiated for float and double. */
#include "activations.h"
#include "gates.h"

#define T float
#define FR(name) name##_f
#define FR_LSTM_FWD_SIMD fr_lstm_fwd512_f
#include "gates_impl.h"
#undef T
#undef FR
#undef FR_LSTM_FWD_SIMD

#define T double
#define FR(name) name##_d
#include "gates_impl.h"
#undef T
#undef FR
