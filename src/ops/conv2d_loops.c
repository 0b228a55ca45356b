/* Direct-loop convolution: the definition the fast kernels are tested
 * against. Every sum is taken in double so the reference is more accurate
 * than anything it checks; speed is no concern here. */
#include "anomaly/ops/conv2d.h"

void conv2d_forward_ref(real *out, const real *inp, const real *weight, const real *bias,
                        const Conv2dShape *s) {
    const int cg = s->c / s->groups, ocg = s->oc / s->groups;
    for (int n = 0; n < s->n; n++)
        for (int o = 0; o < s->oc; o++) {
            const int g = o / ocg;
            for (int oy = 0; oy < s->oh; oy++)
                for (int ox = 0; ox < s->ow; ox++) {
                    double acc = bias ? bias[o] : 0;
                    for (int ci = 0; ci < cg; ci++)
                        for (int ky = 0; ky < s->kh; ky++) {
                            const int iy = oy * s->sh - s->pad_t + ky * s->dh;
                            if (iy < 0 || iy >= s->h) continue;
                            for (int kx = 0; kx < s->kw; kx++) {
                                const int ix = ox * s->sw - s->pad_l + kx * s->dw;
                                if (ix < 0 || ix >= s->w) continue;
                                const int c = g * cg + ci;
                                acc += (double)weight[((o * cg + ci) * s->kh + ky) * s->kw + kx] *
                                       inp[(((size_t)n * s->c + c) * s->h + iy) * s->w + ix];
                            }
                        }
                    out[(((size_t)n * s->oc + o) * s->oh + oy) * s->ow + ox] = (real)acc;
                }
        }
}

void conv2d_backward_ref(real *dinp, real *dweight, real *dbias, const real *dout,
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
                        double acc = 0;
                        for (int n = 0; n < s->n; n++)
                            for (int oy = 0; oy < s->oh; oy++) {
                                const int iy = oy * s->sh - s->pad_t + ky * s->dh;
                                if (iy < 0 || iy >= s->h) continue;
                                for (int ox = 0; ox < s->ow; ox++) {
                                    const int ix = ox * s->sw - s->pad_l + kx * s->dw;
                                    if (ix < 0 || ix >= s->w) continue;
                                    acc += (double)DOUT(n, o, oy, ox) *
                                           inp[(((size_t)n * s->c + c) * s->h + iy) * s->w + ix];
                                }
                            }
                        dweight[((o * cg + ci) * s->kh + ky) * s->kw + kx] += (real)acc;
                    }
    if (dinp)
        /* gather form: each input pixel sums over the outputs that read it */
        for (int n = 0; n < s->n; n++)
            for (int c = 0; c < s->c; c++) {
                const int g = c / cg, ci = c % cg;
                for (int iy = 0; iy < s->h; iy++)
                    for (int ix = 0; ix < s->w; ix++) {
                        double acc = 0;
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
                                for (int oo = 0; oo < ocg; oo++) {
                                    const int o = g * ocg + oo;
                                    const real wv = weight[((o * cg + ci) * s->kh + ky) * s->kw + kx];
                                    acc += (double)wv * DOUT(n, o, oy, ox);
                                }
                            }
                        }
                        dinp[(((size_t)n * s->c + c) * s->h + iy) * s->w + ix] += (real)acc;
                    }
            }
#undef DOUT
}
