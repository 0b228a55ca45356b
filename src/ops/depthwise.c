/* Depthwise convolution as a direct kernel.
 *
 * im2col would copy every input pixel kh*kw times to feed GEMMs with a single
 * output row. Instead each (image, channel) plane is copied once into a
 * zero-padded scratch plane, so the tap loops need no bounds tests and run
 * over whole rows in vectors of VLANES output columns (vec.h), each lane
 * summing its taps in the same (ky, kx) order.
 *
 * Forward: one task per (image, channel). Backward: one task per channel,
 * images in order, which reads each plane of dout once for all three
 * gradients: dinp is scattered into a padded plane, dweight and dbias are
 * collected in per-column partial sums that are added up at the end. No
 * result depends on the thread count. Planes at most 8 columns wide go to
 * depthwise_small.c, which vectorises across channels instead. */
#include "anomaly/ops/depthwise.h"
#include "anomaly/ops/fused.h"
#include "act_rows.h"
#include "anomaly/exact.h"
#include "anomaly/error.h"
#include "depthwise_small.h"
#include "direct_conv.h"
#include "vec.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static void check_depthwise(const Conv2dShape *s) {
    if (s->groups != s->c || s->oc != s->c || s->dh != 1 || s->dw != 1)
        fatal("depthwise conv2d needs groups == in == out channels and no dilation "
              "(got groups %d, channels %d -> %d, dilation %dx%d)",
              s->groups, s->c, s->oc, s->dh, s->dw);
}

/* Vectors are computed four at a time, each with its own sum: one sum
 * alone would wait on the add latency at every tap. */
#define JOBS 4

/* acc[g] = init + sum over taps t in order of w[t] * src[base[g] + off[t]].
 * Written out for the four sums: as arrays they would live in memory. */
VINLINE void gather_taps(vreal acc[JOBS], const real *src, const size_t base[JOBS], real init,
                         const real *w, const ptrdiff_t *off, int nt) {
    vreal a0 = VSPLAT(init), a1 = a0, a2 = a0, a3 = a0, v0, v1, v2, v3;
    const real *s0 = src + base[0], *s1 = src + base[1], *s2 = src + base[2], *s3 = src + base[3];
    for (int t = 0; t < nt; t++) {
        const real wt = w[t];
        const ptrdiff_t o = off[t];
        vload(&v0, s0 + o);
        vload(&v1, s1 + o);
        vload(&v2, s2 + o);
        vload(&v3, s3 + o);
        a0 += wt * v0;
        a1 += wt * v1;
        a2 += wt * v2;
        a3 += wt * v3;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* One plane: y [oh, ow] from the padded plane xp. Every value is b plus its
 * taps in (ky, kx) order. Jobs are the vectors of output columns, row by
 * row; the last of a row may be partial: it reads zeros past the row and
 * stores only the real columns. */
VEC_DISPATCH_VOID_FMA(forward_plane, (real *y, const real *xp, const real *wc,
                                      const ptrdiff_t *toff, real b, const Conv2dShape *s,
                                      PadGeom g), (y, xp, wc, toff, b, s, g)) {
    VEC_FMA_BODY
    const int per_row = g.owv / VLANES, njobs = s->oh * per_row;
    for (int j0 = 0; j0 < njobs; j0 += JOBS) {
        size_t base[JOBS];
        int oy[JOBS], ox[JOBS];
        for (int k = 0; k < JOBS; k++) {
            const int j = j0 + k < njobs ? j0 + k : j0; /* spare lanes redo job j0 */
            oy[k] = j / per_row;
            ox[k] = j % per_row * VLANES;
            base[k] = (size_t)oy[k] * s->sh * g.rs + (size_t)ox[k];
        }
        vreal acc[JOBS];
        gather_taps(acc, xp, base, b, wc, toff, g.kk);
        for (int k = 0; k < JOBS && j0 + k < njobs; k++)
            vstore_n(y + (size_t)oy[k] * s->ow + ox[k], &acc[k],
                     s->ow - ox[k] < VLANES ? s->ow - ox[k] : VLANES);
    }
}

/* The forward; with affine, each plane then goes through BatchNorm +
 * activation while it is in cache. */
static void forward_impl(real *out, const real *inp, const real *weight, const real *bias,
                         const Conv2dShape *s, const real *affine, BnAct act) {
    if (exact_mode()) {
        if (affine) depthwise_conv2d_forward_bn_act_ref(out, inp, weight, bias, s, affine, act);
        else depthwise_conv2d_forward_ref(out, inp, weight, bias, s);
        return;
    }
    check_depthwise(s);
    if (depthwise_small_applies(s)) {
        depthwise_small_forward(out, inp, weight, bias, s, affine, act);
        return;
    }
    const PadGeom g = dconv_pad_geom(s);
    ptrdiff_t *toff = dconv_tap_offsets(s, g);
    const long ntask = (long)s->n * s->c;
#pragma omp parallel if (ntask > 1)
    {
        real *xp = dconv_zeroed_plane(dconv_plane_reals(g), "a depthwise padded plane");
#pragma omp for schedule(static)
        for (long t = 0; t < ntask; t++) {
            const int c = (int)(t % s->c);
            dconv_pad_plane(xp, inp + (size_t)t * s->h * s->w, s, g);
            real *y = out + (size_t)t * s->oh * s->ow;
            forward_plane(y, xp, weight + (size_t)c * g.kk, toff, bias ? bias[c] : 0, s, g);
            if (affine)
                batchnorm2d_act_rows(y, 0, 1, s->oh * s->ow, affine + c, affine + s->c + c,
                                     act);
        }
        free(xp);
    }
    free(toff);
}

void depthwise_conv2d_forward(real *out, const real *inp, const real *weight,
                              const real *bias, const Conv2dShape *s) {
    forward_impl(out, inp, weight, bias, s, NULL, 0);
}

void depthwise_conv2d_forward_bn_act(real *out, const real *inp, const real *weight,
                                     const real *bias, const Conv2dShape *s,
                                     const real *affine, BnAct act) {
    if (act != BN_ACT_SWISH && act != BN_ACT_RELU)
        fatal("depthwise_conv2d_forward_bn_act: unknown activation %d", (int)act);
    forward_impl(out, inp, weight, bias, s, affine, act);
}

/* ---- backward ----------------------------------------------------------- */

/* The taps of one (row class a = pr mod sh, phase) pair: weights in (ky, kx)
 * order and their offsets, to be subtracted from the reading position. */
typedef struct TapSet {
    int n;
    real *w;        /* [kk] */
    ptrdiff_t *off; /* [kk] */
} TapSet;

static void tap_set(TapSet *ts, const real *wc, const Conv2dShape *s, DoutGeom d, int a, int ph) {
    ts->n = 0;
    for (int ky = a; ky < s->kh; ky += s->sh)
        for (int kx = ph; kx < s->kw; kx += s->sw) {
            ts->w[ts->n] = wc[ky * s->kw + kx];
            /* reading position minus this: row (ky - a) / sh up, kx / sw left */
            ts->off[ts->n] = -((ptrdiff_t)((ky - a) / s->sh) * d.cols + kx / s->sw);
            ts->n++;
        }
}

/* dp (interior rows, phase layout) = the gathered dinp of one plane, from
 * dyp (pad_dout). */
VEC_DISPATCH_VOID_FMA(dinp_plane, (real *dp, const real *dyp, const real *wc, TapSet *ts,
                                   const Conv2dShape *s, PadGeom g, DoutGeom d),
             (dp, dyp, wc, ts, s, g, d)) {
    VEC_FMA_BODY
    const int per_seg = (g.wq + VLANES - 1) / VLANES;
    for (int a = 0; a < s->sh; a++) {
        /* interior padded rows pr = a (mod sh) */
        int pr0 = s->pad_t + ((a - s->pad_t) % s->sh + s->sh) % s->sh;
        const int nrows = pr0 < s->pad_t + s->h ? (s->pad_t + s->h - 1 - pr0) / s->sh + 1 : 0;
        for (int ph = 0; ph < s->sw; ph++) {
            tap_set(ts, wc, s, d, a, ph); /* none (kernel narrower than stride): zeros */
            const int njobs = nrows * per_seg;
            for (int j0 = 0; j0 < njobs; j0 += JOBS) {
                size_t base[JOBS];
                int pr[JOBS], jj[JOBS];
                for (int k = 0; k < JOBS; k++) {
                    const int j = j0 + k < njobs ? j0 + k : j0;
                    pr[k] = pr0 + j / per_seg * s->sh;
                    jj[k] = j % per_seg * VLANES;
                    /* dout row (pr - a) / sh, column jj, in the padded copy */
                    base[k] = (size_t)(d.top + (pr[k] - a) / s->sh) * d.cols + d.left + jj[k];
                }
                vreal acc[JOBS];
                gather_taps(acc, dyp, base, 0, ts->w, ts->off, ts->n);
                for (int k = 0; k < JOBS && j0 + k < njobs; k++)
                    vstore_n(dp + (size_t)pr[k] * g.rs + (size_t)ph * g.wq + jj[k], &acc[k],
                             g.wq - jj[k] < VLANES ? g.wq - jj[k] : VLANES);
            }
        }
    }
}

/* part[t] += sum over the plane of dout * input at tap t, and part[kk] +=
 * sum of dout (when want_dbias), each VLANES per-lane sums, taken four
 * output vectors at a time in a fixed order. dy [oh, ow]; xp: the padded
 * input plane, or NULL when dweight is not wanted. */
VEC_DISPATCH_VOID_FMA(params_plane, (real *part, const real *dy, const real *xp,
                                     const ptrdiff_t *toff, int want_dbias, const Conv2dShape *s,
                                     PadGeom g), (part, dy, xp, toff, want_dbias, s, g)) {
    VEC_FMA_BODY
    const int per_row = g.owv / VLANES, njobs = s->oh * per_row;
    vreal d[JOBS], p, x0, x1, x2, x3;
    const real *xb[JOBS];
    for (int j0 = 0; j0 < njobs; j0 += JOBS) {
        for (int k = 0; k < JOBS; k++) {
            const int j = j0 + k < njobs ? j0 + k : j0;
            const int oy = j / per_row, ox = j % per_row * VLANES;
            /* zeros past the row (and for spare jobs) keep those lanes out */
            const int cnt = j0 + k < njobs ? (s->ow - ox < VLANES ? s->ow - ox : VLANES) : 0;
            vload_n(&d[k], dy + (size_t)oy * s->ow + ox, cnt);
            xb[k] = xp ? xp + (size_t)oy * s->sh * g.rs + (size_t)ox : NULL;
        }
        const vreal d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3];
        if (want_dbias) {
            vload(&p, part + (size_t)g.kk * VLANES);
            p += (d0 + d1) + (d2 + d3);
            vstore(part + (size_t)g.kk * VLANES, &p);
        }
        if (!xp) continue;
        for (int t = 0; t < g.kk; t++) {
            const ptrdiff_t o = toff[t];
            vload(&x0, xb[0] + o);
            vload(&x1, xb[1] + o);
            vload(&x2, xb[2] + o);
            vload(&x3, xb[3] + o);
            vload(&p, part + (size_t)t * VLANES);
            p += (d0 * x0 + d1 * x1) + (d2 * x2 + d3 * x3);
            vstore(part + (size_t)t * VLANES, &p);
        }
    }
}

void depthwise_conv2d_backward(real *dinp, real *dweight, real *dbias, const real *dout,
                               const real *inp, const real *weight, const Conv2dShape *s) {
    if (exact_mode()) {
        depthwise_conv2d_backward_ref(dinp, dweight, dbias, dout, inp, weight, s);
        return;
    }
    check_depthwise(s);
    if (!dinp && !dweight && !dbias) return;
    if (depthwise_small_applies(s)) {
        depthwise_small_backward(dinp, dweight, dbias, dout, inp, weight, s);
        return;
    }
    const PadGeom g = dconv_pad_geom(s);
    const DoutGeom d = dconv_dout_geom(s, g);
    ptrdiff_t *toff = dconv_tap_offsets(s, g);
    const size_t plane = dconv_plane_reals(g), dplane = (size_t)d.rows * d.cols;
#pragma omp parallel if (s->c > 1)
    {
        real *xp = dweight ? dconv_zeroed_plane(plane, "a depthwise padded plane") : NULL;
        /* dp: rows and columns written whole before they are read */
        real *dp = dinp ? xmalloc(plane * sizeof *dp, "a depthwise padded plane") : NULL;
        real *dyp = dinp ? dconv_zeroed_plane(dplane, "a depthwise padded gradient") : NULL;
        TapSet ts;
        ts.w = xmalloc((size_t)g.kk * sizeof *ts.w, "depthwise taps");
        ts.off = xmalloc((size_t)g.kk * sizeof *ts.off, "depthwise taps");
        /* [kk + 1][VLANES], row kk for dbias */
        real *part = xmalloc((size_t)(g.kk + 1) * VLANES * sizeof *part, "depthwise gradient sums");
#pragma omp for schedule(static)
        for (int c = 0; c < s->c; c++) {
            const real *wc = weight + (size_t)c * g.kk; /* [kh, kw] */
            memset(part, 0, (size_t)(g.kk + 1) * VLANES * sizeof *part);
            for (int n = 0; n < s->n; n++) {
                const size_t pl = (size_t)n * s->c + c;
                const real *dy = dout + pl * s->oh * s->ow; /* [oh, ow] */
                if (dinp) {
                    dconv_pad_dout(dyp, dy, s, d);
                    dinp_plane(dp, dyp, wc, &ts, s, g, d);
                    dconv_unpad_add(dinp + pl * s->h * s->w, dp, s, g);
                }
                if (dweight) dconv_pad_plane(xp, inp + pl * s->h * s->w, s, g);
                if (dweight || dbias) params_plane(part, dy, xp, toff, dbias != NULL, s, g);
            }
            /* each sum over the lanes, in lane order */
            for (int t = 0; t <= g.kk; t++) {
                real acc = 0;
                for (int l = 0; l < VLANES; l++) acc += part[(size_t)t * VLANES + l];
                if (t < g.kk && dweight) dweight[(size_t)c * g.kk + t] += acc;
                if (t == g.kk && dbias) dbias[c] += acc;
            }
        }
        free(part);
        free(ts.off);
        free(ts.w);
        free(dyp);
        free(dp);
        free(xp);
    }
    free(toff);
}
