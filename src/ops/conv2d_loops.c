/* Direct-loop convolution: the definition that the reference path
 * (src/ops/ref/conv2d.c, unfold + gemm_ref) is tested against bit for bit,
 * and that the fast kernels are tested against within a bound.
 *
 * Every sum is taken in `real`, from zero, in the order the reference's
 * GEMM takes it, and added where the reference adds it:
 *   out    = (sum over input channel, kernel row, kernel column) + bias
 *   dweight = dweight + (sum over output pixels of image 0) + (... image 1) ...
 *   dinp   = dinp + (tap (0,0)'s sum over output channels) + (tap (0,1)'s) ...
 *   dbias  += the sum over images and pixels in double.
 * Taps that fall in the padding are skipped: in the reference they add a
 * product with an exact zero, which changes no sum (a sum started at +0
 * never becomes -0 by adding zeros). */
#include "anomaly/ops/conv2d.h"

void conv2d_forward_loops(real *out, const real *inp, const real *weight, const real *bias,
                          const Conv2dShape *s) {
    const int cg = s->c / s->groups, ocg = s->oc / s->groups;
    for (int n = 0; n < s->n; n++)
        for (int o = 0; o < s->oc; o++) {
            const int g = o / ocg;
            for (int oy = 0; oy < s->oh; oy++)
                for (int ox = 0; ox < s->ow; ox++) {
                    real acc = 0;
                    for (int ci = 0; ci < cg; ci++)
                        for (int ky = 0; ky < s->kh; ky++) {
                            const int iy = oy * s->sh - s->pad_t + ky * s->dh;
                            if (iy < 0 || iy >= s->h) continue;
                            for (int kx = 0; kx < s->kw; kx++) {
                                const int ix = ox * s->sw - s->pad_l + kx * s->dw;
                                if (ix < 0 || ix >= s->w) continue;
                                const int c = g * cg + ci;
                                acc += weight[(((size_t)o * cg + ci) * s->kh + ky) * s->kw + kx] *
                                       inp[(((size_t)n * s->c + c) * s->h + iy) * s->w + ix];
                            }
                        }
                    out[(((size_t)n * s->oc + o) * s->oh + oy) * s->ow + ox] =
                        bias ? acc + bias[o] : acc;
                }
        }
}

void conv2d_backward_loops(real *dinp, real *dweight, real *dbias, const real *dout,
                           const real *inp, const real *weight, const Conv2dShape *s) {
    const int cg = s->c / s->groups, ocg = s->oc / s->groups;
#define DOUT(n, o, oy, ox) dout[(((size_t)(n) * s->oc + (o)) * s->oh + (oy)) * s->ow + (ox)]
    if (dbias)
        for (int o = 0; o < s->oc; o++) {
            double acc = 0;
            for (int n = 0; n < s->n; n++)
                for (int oy = 0; oy < s->oh; oy++)
                    for (int ox = 0; ox < s->ow; ox++) acc += DOUT(n, o, oy, ox);
            dbias[o] += (real)acc;
        }
    if (dweight)
        for (int o = 0; o < s->oc; o++)
            for (int ci = 0; ci < cg; ci++)
                for (int ky = 0; ky < s->kh; ky++)
                    for (int kx = 0; kx < s->kw; kx++) {
                        const int c = o / ocg * cg + ci;
                        real *dw = &dweight[(((size_t)o * cg + ci) * s->kh + ky) * s->kw + kx];
                        for (int n = 0; n < s->n; n++) {
                            real acc = 0; /* this image's share */
                            for (int oy = 0; oy < s->oh; oy++) {
                                const int iy = oy * s->sh - s->pad_t + ky * s->dh;
                                if (iy < 0 || iy >= s->h) continue;
                                for (int ox = 0; ox < s->ow; ox++) {
                                    const int ix = ox * s->sw - s->pad_l + kx * s->dw;
                                    if (ix < 0 || ix >= s->w) continue;
                                    acc += DOUT(n, o, oy, ox) *
                                           inp[(((size_t)n * s->c + c) * s->h + iy) * s->w + ix];
                                }
                            }
                            *dw = acc + *dw;
                        }
                    }
    if (dinp)
        /* gather form: each input pixel takes, tap by tap, the sum over the
         * output channels of the output that tap connects it to */
        for (int n = 0; n < s->n; n++)
            for (int c = 0; c < s->c; c++) {
                const int g = c / cg, ci = c % cg;
                for (int iy = 0; iy < s->h; iy++)
                    for (int ix = 0; ix < s->w; ix++) {
                        real *dx = &dinp[(((size_t)n * s->c + c) * s->h + iy) * s->w + ix];
                        for (int ky = 0; ky < s->kh; ky++) {
                            const int ty = iy + s->pad_t - ky * s->dh; /* = oy * sh */
                            if (ty < 0 || ty % s->sh) continue;
                            const int oy = ty / s->sh;
                            if (oy >= s->oh) continue;
                            for (int kx = 0; kx < s->kw; kx++) {
                                const int tx = ix + s->pad_l - kx * s->dw;
                                if (tx < 0 || tx % s->sw) continue;
                                const int ox = tx / s->sw;
                                if (ox >= s->ow) continue;
                                real acc = 0;
                                for (int oo = 0; oo < ocg; oo++) {
                                    const int o = g * ocg + oo;
                                    acc += weight[(((size_t)o * cg + ci) * s->kh + ky) * s->kw + kx] *
                                           DOUT(n, o, oy, ox);
                                }
                                *dx += acc;
                            }
                        }
                    }
            }
#undef DOUT
}
