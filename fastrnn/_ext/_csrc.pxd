# Declarations of the C helpers in csrc/ (compiled into each kernel module that uses them).
cdef extern from "activations.h" nogil:
    int FR_LINEAR, FR_TANH, FR_SIGMOID, FR_RELU
    void fr_bias_act_f(float *z, const float *b, int rows, int cols, int ld, int act)
    void fr_bias_act_d(double *z, const double *b, int rows, int cols, int ld, int act)
    void fr_act_grad_f(float *dz, const float *dh, const float *h, long n, int act)
    void fr_act_grad_d(double *dz, const double *dh, const double *h, long n, int act)
    float fr_sigmoid_f(float x)
    double fr_sigmoid_d(double x)
