/* Reference 2-D convolution (conv2d.h): per image and group, the input is
 * unfolded into a column matrix (im2col below, written plainly) and
 * multiplied by the group's weights with gemm_ref. So every output is one
 * sum in `real`, from zero, over K = c/groups * kh * kw terms in the order
 * (input channel, kernel row, kernel column), with the bias added after;
 * src/ops/conv2d_loops.c spells the same sums as direct loops and
 * tests/test_ref_kernels.c checks that the two agree bit for bit.
 *
 * Threads: the forward pass and the input gradient split the independent
 * (image, group) pairs; the weight gradient splits the groups and sums the
 * images of a group in order. A single pair runs gemm_ref's own threads
 * (tiles of independent outputs). No split changes a bit. */
#include "anomaly/ops/conv2d.h"
#include "anomaly/ops/fused.h"
#include "anomaly/blas.h"
#include "anomaly/error.h"

#include <stdlib.h>

/* col [K, oh * ow], row k = (ci * kh + ky) * kw + kx: the input pixel tap
 * (ky, kx) of channel ci reads for each output pixel, 0 in the padding.
 * x [cg, h, w]: the group's channels of one image. */
static void im2col(real *col, const real *x, const Conv2dShape *s, int cg) {
    const size_t ohw = (size_t)s->oh * s->ow;
    for (int ci = 0; ci < cg; ci++)
        for (int ky = 0; ky < s->kh; ky++)
            for (int kx = 0; kx < s->kw; kx++) {
                real *row = col + ((size_t)(ci * s->kh + ky) * s->kw + kx) * ohw;
                for (int oy = 0; oy < s->oh; oy++)
                    for (int ox = 0; ox < s->ow; ox++) {
                        const int iy = oy * s->sh - s->pad_t + ky * s->dh;
                        const int ix = ox * s->sw - s->pad_l + kx * s->dw;
                        const int inside = iy >= 0 && iy < s->h && ix >= 0 && ix < s->w;
                        row[(size_t)oy * s->ow + ox] =
                            inside ? x[((size_t)ci * s->h + iy) * s->w + ix] : (real)0;
                    }
            }
}

/* The adjoint: dx [cg, h, w] += col, rows k in order (so an input pixel
 * receives its taps in (kernel row, kernel column) order). */
static void col2im_add(real *dx, const real *col, const Conv2dShape *s, int cg) {
    const size_t ohw = (size_t)s->oh * s->ow;
    for (int ci = 0; ci < cg; ci++)
        for (int ky = 0; ky < s->kh; ky++)
            for (int kx = 0; kx < s->kw; kx++) {
                const real *row = col + ((size_t)(ci * s->kh + ky) * s->kw + kx) * ohw;
                for (int oy = 0; oy < s->oh; oy++)
                    for (int ox = 0; ox < s->ow; ox++) {
                        const int iy = oy * s->sh - s->pad_t + ky * s->dh;
                        const int ix = ox * s->sw - s->pad_l + kx * s->dw;
                        if (iy >= 0 && iy < s->h && ix >= 0 && ix < s->w)
                            dx[((size_t)ci * s->h + iy) * s->w + ix] += row[(size_t)oy * s->ow + ox];
                    }
            }
}

void conv2d_forward_ref(real *out, const real *inp, const real *weight, const real *bias,
                        const Conv2dShape *s, void *work) {
    (void)work; /* the column matrix is allocated here */
    const int cg = s->c / s->groups, ocg = s->oc / s->groups, K = cg * s->kh * s->kw;
    const size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->oh * s->ow;
    const long pairs = (long)s->n * s->groups;
#pragma omp parallel for schedule(static) if (pairs > 1)
    for (long t = 0; t < pairs; t++) {
        const int n = (int)(t / s->groups), g = (int)(t % s->groups);
        real *col = xmalloc((size_t)K * ohw * sizeof *col, "a convolution's column matrix");
        im2col(col, inp + ((size_t)n * s->c + (size_t)g * cg) * hw, s, cg);
        real *y = out + ((size_t)n * s->oc + (size_t)g * ocg) * ohw; /* [ocg, ohw] */
        /* y = W_g [ocg, K] * col [K, ohw] */
        gemm_ref(0, 0, ocg, (int)ohw, K, 1, weight + (size_t)g * ocg * K, K, col, (int)ohw, 0, y,
                 (int)ohw);
        if (bias)
            for (int o = 0; o < ocg; o++)
                for (size_t j = 0; j < ohw; j++) y[o * ohw + j] += bias[g * ocg + o];
        free(col);
    }
}

/* The convolution's reference, then the reference BatchNorm + activation
 * over the whole output. */
void conv2d_forward_bn_act_ref(real *out, const real *inp, const real *weight, const real *bias,
                               const Conv2dShape *s, void *work, const real *affine, BnAct act) {
    conv2d_forward_ref(out, inp, weight, bias, s, work);
    const BatchNormShape bs = {s->n, s->oc, s->oh * s->ow, 0, 0};
    batchnorm2d_act_recompute_ref(out, out, affine, &bs, act);
}

void conv2d_backward_ref(real *dinp, real *dweight, real *dbias, const real *dout,
                         const real *inp, const real *weight, const Conv2dShape *s, void *work) {
    (void)work;
    const int cg = s->c / s->groups, ocg = s->oc / s->groups, K = cg * s->kh * s->kw;
    const size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->oh * s->ow;
    if (dbias) /* images, then pixels, in order, in double */
        for (int o = 0; o < s->oc; o++) {
            double acc = 0;
            for (int n = 0; n < s->n; n++)
                for (size_t j = 0; j < ohw; j++) acc += dout[((size_t)n * s->oc + o) * ohw + j];
            dbias[o] += (real)acc;
        }
    if (dweight) {
        /* dW_g [ocg, K] += dY [ocg, ohw] * col^T, one image after the other */
#pragma omp parallel for schedule(static) if (s->groups > 1)
        for (int g = 0; g < s->groups; g++) {
            real *col = xmalloc((size_t)K * ohw * sizeof *col, "a convolution's column matrix");
            for (int n = 0; n < s->n; n++) {
                im2col(col, inp + ((size_t)n * s->c + (size_t)g * cg) * hw, s, cg);
                gemm_ref(0, 1, ocg, K, (int)ohw, 1, dout + ((size_t)n * s->oc + (size_t)g * ocg) * ohw,
                         (int)ohw, col, (int)ohw, 1, dweight + (size_t)g * ocg * K, K);
            }
            free(col);
        }
    }
    if (dinp) {
        /* dcol [K, ohw] = W_g^T dY, then folded back onto the image */
        const long pairs = (long)s->n * s->groups;
#pragma omp parallel for schedule(static) if (pairs > 1)
        for (long t = 0; t < pairs; t++) {
            const int n = (int)(t / s->groups), g = (int)(t % s->groups);
            real *dcol = xmalloc((size_t)K * ohw * sizeof *dcol, "a convolution's column gradient");
            gemm_ref(1, 0, K, (int)ohw, ocg, 1, weight + (size_t)g * ocg * K, K,
                     dout + ((size_t)n * s->oc + (size_t)g * ocg) * ohw, (int)ohw, 0, dcol,
                     (int)ohw);
            col2im_add(dinp + ((size_t)n * s->c + (size_t)g * cg) * hw, dcol, s, cg);
            free(dcol);
        }
    }
}
