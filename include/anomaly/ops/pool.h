/* Pooling, NCHW. Backward ACCUMULATES into dinp. */
#ifndef ANOMALY_OPS_POOL_H
#define ANOMALY_OPS_POOL_H

#include <stddef.h>
#include "../real.h"
#include "../tensor.h"
#include "../tape.h"

/* Global average pool: out [n, c] = mean over hw of inp [n, c, hw]. */
void global_avgpool_forward(real *out, const real *inp, int n, int c, int hw);
/* Reference: each plane summed in double, i = 0..hw-1 in order, divided by hw. */
void global_avgpool_forward_ref(real *out, const real *inp, int n, int c, int hw);
void global_avgpool_backward(real *dinp, const real *dout, int n, int c, int hw);
void global_avgpool_backward_ref(real *dinp, const real *dout, int n, int c, int hw);

typedef struct Pool2dShape {
    int n, c, h, w;
    int kh, kw, sh, sw;
    int pad_t, pad_l;        /* symmetric padding as PyTorch (bottom/right = top/left) */
    int ceil_mode;           /* output size rounds up (PyTorch rule) */
    int count_include_pad;   /* avg pool: divide by the full window */
    int oh, ow;              /* set by pool2d_shape_resolve */
} Pool2dShape;

/* Output size as PyTorch: floor or ceil of (h + 2p - k) / s + 1, where with
 * ceil_mode the last window must start inside the input or left padding.
 * Also refuses what PyTorch refuses (padding over half the kernel, no
 * window fitting). Returns 0, or -1 with a message (no prefix) in err. */
int pool2d_shape_resolve(Pool2dShape *s, char *err, size_t errlen);

/* Max pool; padding is -inf. Ties pick the first maximum in row-major window
 * order (PyTorch's CPU kernel). */
void maxpool2d_forward(real *out, const real *inp, const Pool2dShape *s);
/* Reference: windows in row-major order; backward adds each output's gradient
 * at its argmax, outputs in row-major order. */
void maxpool2d_forward_ref(real *out, const real *inp, const Pool2dShape *s);
void maxpool2d_backward(real *dinp, const real *dout, const real *inp, const Pool2dShape *s);
void maxpool2d_backward_ref(real *dinp, const real *dout, const real *inp, const Pool2dShape *s);

/* Average pool with PyTorch's divisor rules (count_include_pad counts padded
 * cells but never cells past the padded edge in ceil mode). */
void avgpool2d_forward(real *out, const real *inp, const Pool2dShape *s);
/* Reference: a window summed in `real`, row-major from 0; backward spreads
 * dout / divisor over the window, outputs in row-major order. */
void avgpool2d_forward_ref(real *out, const real *inp, const Pool2dShape *s);
void avgpool2d_backward(real *dinp, const real *dout, const Pool2dShape *s);
void avgpool2d_backward_ref(real *dinp, const real *dout, const Pool2dShape *s);

/* Autograd. Global average pool returns [n, c, 1, 1]. The 2-D pools read
 * only the window fields of s (kernel, stride, padding, modes): n, c, h, w
 * come from x and the shape is resolved for it (fatal if no window fits). */
Tensor *ag_global_avgpool(Tape *t, Tensor *x);
Tensor *ag_maxpool2d(Tape *t, Tensor *x, const Pool2dShape *s);
Tensor *ag_avgpool2d(Tape *t, Tensor *x, const Pool2dShape *s);

#endif
