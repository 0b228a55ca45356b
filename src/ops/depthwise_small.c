/* Depthwise convolution on small planes, vectorised across channels.
 *
 * On planes at most 8 columns wide (EfficientNet's last stages at 64 px
 * run on 2x2 to 8x8 planes) the row kernel of depthwise.c fills few lanes
 * and pays a padded copy per plane. Here a block of VLANES channels
 * of one image is copied once into a zero-padded channels-last buffer
 * ([hp][wp][VLANES]: one vector per pixel, lane = channel), so every tap of
 * every output is one full-vector multiply-add, whatever the plane size.
 * A block past the last channel fills its spare lanes with zeros.
 *
 * Forward: one task per (image, channel block); each output is its bias
 * plus its taps in (ky, kx) order, the sum the row kernel forms. Backward:
 * one task per channel block, images in order: dweight and dbias sum over
 * images, then output pixels, in order, per channel (lane); dinp is
 * scattered tap by tap into a padded buffer. No result depends on the
 * thread count. */
#include "depthwise_small.h"
#include "anomaly/ops/fused.h"
#include "act_rows.h"
#include "anomaly/error.h"
#include "vec.h"

#include <stdlib.h>
#include <string.h>

/* Output rows this narrow or narrower (the row kernel would fill at most
 * half of a 64-byte vector). */
#define SMALL_MAX_OW 8

typedef struct SmallGeom {
    int hp, wp, kk, nblk;
    size_t xb, yb; /* reals in a padded input block and in an output block */
} SmallGeom;

static SmallGeom small_geom(const Conv2dShape *s) {
    SmallGeom g;
    g.hp = s->h + s->pad_t + s->pad_b;
    g.wp = s->w + s->pad_l + s->pad_r;
    g.kk = s->kh * s->kw;
    g.nblk = (s->c + VLANES - 1) / VLANES;
    g.xb = (size_t)g.hp * g.wp * VLANES;
    g.yb = (size_t)s->oh * s->ow * VLANES;
    return g;
}

int depthwise_small_applies(const Conv2dShape *s) {
    /* every tap of every output inside the padded plane */
    return s->ow <= SMALL_MAX_OW && (s->oh - 1) * s->sh + s->kh <= s->h + s->pad_t + s->pad_b &&
           (s->ow - 1) * s->sw + s->kw <= s->w + s->pad_l + s->pad_r;
}

/* The planes [cb][h][w] of channels c0.. of one image into the interior of
 * xb (channels-last; border and spare lanes zero). */
static void pack_input(real *xb, const real *src, int cb, const Conv2dShape *s, SmallGeom g) {
    memset(xb, 0, g.xb * sizeof *xb);
    for (int l = 0; l < cb; l++) {
        const real *p = src + (size_t)l * s->h * s->w;
        for (int iy = 0; iy < s->h; iy++) {
            real *row = xb + ((size_t)(iy + s->pad_t) * g.wp + s->pad_l) * VLANES + l;
            for (int ix = 0; ix < s->w; ix++) row[(size_t)ix * VLANES] = p[(size_t)iy * s->w + ix];
        }
    }
}

/* Taps of channels c0.. as vectors: wb [kk][VLANES]. */
static void pack_taps(real *wb, const real *weight, int c0, int cb, int kk) {
    memset(wb, 0, (size_t)kk * VLANES * sizeof *wb);
    for (int l = 0; l < cb; l++)
        for (int t = 0; t < kk; t++) wb[(size_t)t * VLANES + l] = weight[(size_t)(c0 + l) * kk + t];
}

/* acc [oh*ow][VLANES] (holding the bias) += the taps in (ky, kx) order. */
VEC_DISPATCH_VOID_FMA(small_forward, (real *acc, const real *xb, const real *wb,
                                      const Conv2dShape *s, SmallGeom g),
                      (acc, xb, wb, s, g)) {
    VEC_FMA_BODY
    for (int ky = 0; ky < s->kh; ky++)
        for (int kx = 0; kx < s->kw; kx++) {
            vreal w, a, x;
            vload(&w, wb + (size_t)(ky * s->kw + kx) * VLANES);
            for (int oy = 0; oy < s->oh; oy++) {
                const real *xr = xb + ((size_t)(oy * s->sh + ky) * g.wp + kx) * VLANES;
                real *ar = acc + (size_t)oy * s->ow * VLANES;
                for (int ox = 0; ox < s->ow; ox++) {
                    vload(&a, ar + (size_t)ox * VLANES);
                    vload(&x, xr + (size_t)ox * s->sw * VLANES);
                    a += w * x;
                    vstore(ar + (size_t)ox * VLANES, &a);
                }
            }
        }
}

void depthwise_small_forward(real *out, const real *inp, const real *weight, const real *bias,
                             const Conv2dShape *s, const real *affine, BnAct act) {
    const SmallGeom g = small_geom(s);
    const long ntask = (long)s->n * g.nblk;
    const size_t ohw = (size_t)s->oh * s->ow, hw = (size_t)s->h * s->w;
#pragma omp parallel if (ntask > 1)
    {
        real *xb = xmalloc((g.xb + g.yb + (size_t)g.kk * VLANES) * sizeof *xb,
                           "depthwise channel-block buffers");
        real *acc = xb + g.xb, *wb = acc + g.yb;
#pragma omp for schedule(static)
        for (long t = 0; t < ntask; t++) {
            const int n = (int)(t / g.nblk), c0 = (int)(t % g.nblk) * VLANES;
            const int cb = s->c - c0 < VLANES ? s->c - c0 : VLANES;
            const size_t first = (size_t)n * s->c + c0; /* plane of (n, c0) */
            pack_input(xb, inp + first * hw, cb, s, g);
            pack_taps(wb, weight, c0, cb, g.kk);
            for (size_t p = 0; p < ohw; p++)
                for (int l = 0; l < VLANES; l++)
                    acc[p * VLANES + l] = bias && l < cb ? bias[c0 + l] : 0;
            small_forward(acc, xb, wb, s, g);
            for (int l = 0; l < cb; l++) {
                real *o = out + (first + l) * ohw;
                for (size_t p = 0; p < ohw; p++) o[p] = acc[p * VLANES + l];
                if (affine)
                    batchnorm2d_act_rows(o, ohw, 1, (int)ohw, affine + c0 + l,
                                         affine + s->c + c0 + l, act);
            }
        }
        free(xb);
    }
}

/* One image of a channel block: pw [kk][VLANES] += dy * input at each tap,
 * pb [VLANES] += dy (each over the output pixels in order), dxb (padded,
 * channels-last) += w * dy at each tap. dy [oh*ow][VLANES]; xb or dxb may be
 * NULL when dweight or dinp is not wanted, pb when dbias is not. */
VEC_DISPATCH_VOID_FMA(small_backward, (real *pw, real *pb, real *dxb, const real *dy,
                                       const real *xb, const real *wb, const Conv2dShape *s,
                                       SmallGeom g),
                      (pw, pb, dxb, dy, xb, wb, s, g)) {
    VEC_FMA_BODY
    const size_t ohw = (size_t)s->oh * s->ow;
    vreal a, d, x, w;
    if (pb) {
        vload(&a, pb);
        for (size_t p = 0; p < ohw; p++) {
            vload(&d, dy + p * VLANES);
            a += d;
        }
        vstore(pb, &a);
    }
    for (int ky = 0; ky < s->kh; ky++)
        for (int kx = 0; kx < s->kw; kx++) {
            const int t = ky * s->kw + kx;
            if (xb) {
                vload(&a, pw + (size_t)t * VLANES);
                for (int oy = 0; oy < s->oh; oy++) {
                    const real *xr = xb + ((size_t)(oy * s->sh + ky) * g.wp + kx) * VLANES;
                    const real *dr = dy + (size_t)oy * s->ow * VLANES;
                    for (int ox = 0; ox < s->ow; ox++) {
                        vload(&d, dr + (size_t)ox * VLANES);
                        vload(&x, xr + (size_t)ox * s->sw * VLANES);
                        a += d * x;
                    }
                }
                vstore(pw + (size_t)t * VLANES, &a);
            }
            if (dxb) {
                vload(&w, wb + (size_t)t * VLANES);
                for (int oy = 0; oy < s->oh; oy++) {
                    real *xr = dxb + ((size_t)(oy * s->sh + ky) * g.wp + kx) * VLANES;
                    const real *dr = dy + (size_t)oy * s->ow * VLANES;
                    for (int ox = 0; ox < s->ow; ox++) {
                        vload(&d, dr + (size_t)ox * VLANES);
                        vload(&x, xr + (size_t)ox * s->sw * VLANES);
                        x += w * d;
                        vstore(xr + (size_t)ox * s->sw * VLANES, &x);
                    }
                }
            }
        }
}

void depthwise_small_backward(real *dinp, real *dweight, real *dbias, const real *dout,
                              const real *inp, const real *weight, const Conv2dShape *s) {
    const SmallGeom g = small_geom(s);
    const size_t ohw = (size_t)s->oh * s->ow, hw = (size_t)s->h * s->w;
    const size_t kv = (size_t)g.kk * VLANES;
#pragma omp parallel if (g.nblk > 1)
    {
        /* xb, dxb: padded blocks; dy: the block of dout; wb, pw: taps; pb */
        real *xb = xmalloc((2 * g.xb + g.yb + 2 * kv + VLANES) * sizeof *xb,
                           "depthwise channel-block buffers");
        real *dxb = xb + g.xb, *dy = dxb + g.xb, *wb = dy + g.yb, *pw = wb + kv, *pb = pw + kv;
#pragma omp for schedule(static)
        for (int b = 0; b < g.nblk; b++) {
            const int c0 = b * VLANES, cb = s->c - c0 < VLANES ? s->c - c0 : VLANES;
            pack_taps(wb, weight, c0, cb, g.kk);
            memset(pw, 0, (kv + VLANES) * sizeof *pw);
            for (int n = 0; n < s->n; n++) {
                const size_t first = (size_t)n * s->c + c0;
                memset(dy, 0, g.yb * sizeof *dy);
                for (int l = 0; l < cb; l++) {
                    const real *src = dout + (first + l) * ohw;
                    for (size_t p = 0; p < ohw; p++) dy[p * VLANES + l] = src[p];
                }
                if (dweight) pack_input(xb, inp + first * hw, cb, s, g);
                if (dinp) memset(dxb, 0, g.xb * sizeof *dxb);
                small_backward(dweight ? pw : NULL, dbias ? pb : NULL, dinp ? dxb : NULL, dy,
                               dweight ? xb : NULL, wb, s, g);
                if (!dinp) continue;
                for (int l = 0; l < cb; l++) {
                    real *d = dinp + (first + l) * hw;
                    for (int iy = 0; iy < s->h; iy++) {
                        const real *row =
                            dxb + ((size_t)(iy + s->pad_t) * g.wp + s->pad_l) * VLANES + l;
                        for (int ix = 0; ix < s->w; ix++)
                            d[(size_t)iy * s->w + ix] += row[(size_t)ix * VLANES];
                    }
                }
            }
            for (int l = 0; l < cb; l++) {
                if (dweight)
                    for (int t = 0; t < g.kk; t++)
                        dweight[(size_t)(c0 + l) * g.kk + t] += pw[(size_t)t * VLANES + l];
                if (dbias) dbias[c0 + l] += pb[l];
            }
        }
        free(xb);
    }
}
