/* Reference depthwise convolution (depthwise.h): each output channel reads
 * its own input channel. Written as direct loops that do exactly the
 * arithmetic of the general reference convolution (ref/conv2d.c) with
 * groups == channels, whose per-channel GEMMs of one row would spend most of
 * their time packing:
 *   out = (sum over (kernel row, kernel column) in order, from zero, of
 *          v * w, where v is the input pixel or 0 in the padding) + bias
 *   dweight += the sum over output pixels (row by row) of dout * v, one
 *          image after the other
 *   dinp   += (0 + w * dout) for each tap in (kernel row, kernel column)
 *          order, as im2col's adjoint adds them
 * tests/test_ref_kernels.c checks that the two give the same bits.
 *
 * Threads: (image, channel) planes for the forward pass and the input
 * gradient, channels for the weight gradient (images summed in order). */
#include "anomaly/ops/depthwise.h"
#include "anomaly/ops/fused.h"
#include "anomaly/error.h"

static void check_depthwise(const Conv2dShape *s) {
    if (s->groups != s->c || s->oc != s->c || s->dh != 1 || s->dw != 1)
        fatal("depthwise conv2d needs groups == in == out channels and no dilation "
              "(got groups %d, channels %d -> %d, dilation %dx%d)",
              s->groups, s->c, s->oc, s->dh, s->dw);
}

/* The input pixel tap (ky, kx) of output (oy, ox) reads, or 0 in the padding. */
static real tap(const real *x, const Conv2dShape *s, int oy, int ox, int ky, int kx) {
    const int iy = oy * s->sh - s->pad_t + ky, ix = ox * s->sw - s->pad_l + kx;
    return iy >= 0 && iy < s->h && ix >= 0 && ix < s->w ? x[(size_t)iy * s->w + ix] : (real)0;
}

void depthwise_conv2d_forward_ref(real *out, const real *inp, const real *weight,
                                  const real *bias, const Conv2dShape *s) {
    check_depthwise(s);
    const size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->oh * s->ow;
    const long planes = (long)s->n * s->c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const int c = (int)(p % s->c);
        const real *x = inp + (size_t)p * hw, *w = weight + (size_t)c * s->kh * s->kw;
        real *y = out + (size_t)p * ohw;
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                real acc = 0;
                for (int ky = 0; ky < s->kh; ky++)
                    for (int kx = 0; kx < s->kw; kx++)
                        acc += tap(x, s, oy, ox, ky, kx) * w[ky * s->kw + kx];
                y[(size_t)oy * s->ow + ox] = bias ? acc + bias[c] : acc;
            }
    }
}

void depthwise_conv2d_forward_bn_act_ref(real *out, const real *inp, const real *weight,
                                         const real *bias, const Conv2dShape *s,
                                         const real *affine, BnAct act) {
    depthwise_conv2d_forward_ref(out, inp, weight, bias, s);
    const BatchNormShape bs = {s->n, s->c, s->oh * s->ow, 0, 0};
    batchnorm2d_act_recompute_ref(out, out, affine, &bs, act);
}

void depthwise_conv2d_backward_ref(real *dinp, real *dweight, real *dbias, const real *dout,
                                   const real *inp, const real *weight, const Conv2dShape *s) {
    check_depthwise(s);
    const size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->oh * s->ow;
    const int taps = s->kh * s->kw;
    if (dbias) /* images, then pixels, in order, in double (as ref/conv2d.c) */
        for (int c = 0; c < s->c; c++) {
            double acc = 0;
            for (int n = 0; n < s->n; n++)
                for (size_t j = 0; j < ohw; j++) acc += dout[((size_t)n * s->c + c) * ohw + j];
            dbias[c] += (real)acc;
        }
    if (dweight) {
#pragma omp parallel for schedule(static)
        for (int c = 0; c < s->c; c++)
            for (int n = 0; n < s->n; n++) {
                const real *x = inp + ((size_t)n * s->c + c) * hw;
                const real *g = dout + ((size_t)n * s->c + c) * ohw;
                for (int k = 0; k < taps; k++) {
                    real acc = 0;
                    for (int oy = 0; oy < s->oh; oy++)
                        for (int ox = 0; ox < s->ow; ox++)
                            acc += g[(size_t)oy * s->ow + ox] *
                                   tap(x, s, oy, ox, k / s->kw, k % s->kw);
                    dweight[(size_t)c * taps + k] = acc + dweight[(size_t)c * taps + k];
                }
            }
    }
    if (dinp) {
        const long planes = (long)s->n * s->c;
#pragma omp parallel for schedule(static)
        for (long p = 0; p < planes; p++) {
            const int c = (int)(p % s->c);
            const real *g = dout + (size_t)p * ohw, *w = weight + (size_t)c * taps;
            real *dx = dinp + (size_t)p * hw;
            for (int ky = 0; ky < s->kh; ky++)
                for (int kx = 0; kx < s->kw; kx++)
                    for (int oy = 0; oy < s->oh; oy++)
                        for (int ox = 0; ox < s->ow; ox++) {
                            const int iy = oy * s->sh - s->pad_t + ky;
                            const int ix = ox * s->sw - s->pad_l + kx;
                            if (iy >= 0 && iy < s->h && ix >= 0 && ix < s->w)
                                dx[(size_t)iy * s->w + ix] +=
                                    (real)0 + w[ky * s->kw + kx] * g[(size_t)oy * s->ow + ox];
                        }
        }
    }
}
