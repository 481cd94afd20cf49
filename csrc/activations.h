/* Element-wise activations of fastrnn's recurrent kernels, float and double.
 *
 * Activation codes (fastrnn/activations.py keeps the same table):
 *   0 linear, 1 tanh, 2 sigmoid, 3 relu.
 *
 * fr_bias_act_{f,d}(z, b, rows, cols, ld, act)
 *     z[r, c] = act(z[r, c] + b[c]) in place; z is rows x cols with row stride ld;
 *     b has cols entries, or is NULL for no bias.
 * fr_act_grad_{f,d}(dz, dh, h, n, act)
 *     dz[i] = dh[i] * act'(.) expressed through the activation's output h[i]
 *     (tanh: 1 - h^2, sigmoid: h (1 - h), relu: h > 0, linear: 1).
 *     dz may alias dh.
 * All functions are thread-safe and need no GIL.
 */
#ifndef FASTRNN_ACTIVATIONS_H
#define FASTRNN_ACTIVATIONS_H

#define FR_LINEAR 0
#define FR_TANH 1
#define FR_SIGMOID 2
#define FR_RELU 3

void fr_bias_act_f(float *z, const float *b, int rows, int cols, int ld, int act);
void fr_bias_act_d(double *z, const double *b, int rows, int cols, int ld, int act);
void fr_act_grad_f(float *dz, const float *dh, const float *h, long n, int act);
void fr_act_grad_d(double *dz, const double *dh, const double *h, long n, int act);

float fr_sigmoid_f(float x);
double fr_sigmoid_d(double x);

#endif
