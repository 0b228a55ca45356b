/* Pooling kernels, NCHW, with PyTorch's CPU window rules.
 *
 * Threads split the n * c planes. A plane's outputs, and its gradient
 * accumulations, are computed by one thread in a fixed order, so every result
 * is the same for any thread count. */
#include "anomaly/ops/pool.h"
#include "anomaly/exact.h"
#include "anomaly/error.h"
#include "bn_channel.h"

#include <math.h>
#include <stdio.h>

/* Below this many input elements a parallel region costs more than it saves. */
#define POOL_PARALLEL_MIN 32768

/* The mean of one plane [hw], summed in double (bn_channel.h's order). */
VEC_DISPATCH(real, plane_mean, (const real *x, int hw), (x, hw)) {
    return (real)(bn_sum(x, (size_t)hw, 1, hw) / hw);
}

/* out [n, c]; inp [n, c, hw]. The sum is taken in double. */
void global_avgpool_forward(real *out, const real *inp, int n, int c, int hw) {
    if (exact_mode()) {
        global_avgpool_forward_ref(out, inp, n, c, hw);
        return;
    }
    const long planes = (long)n * c;
#pragma omp parallel for schedule(static) if ((size_t)planes * (size_t)hw >= POOL_PARALLEL_MIN)
    for (long p = 0; p < planes; p++) out[p] = plane_mean(inp + (size_t)p * (size_t)hw, hw);
}

/* dx [hw] += g */
VEC_DISPATCH_VOID(add_scalar, (real *dx, real g, int hw), (dx, g, hw)) {
    int i = 0;
    for (; i + VLANES <= hw; i += VLANES) {
        vreal v;
        vload(&v, dx + i);
        v += g;
        vstore(dx + i, &v);
    }
    for (; i < hw; i++) dx[i] += g;
}

/* dinp [n, c, hw]; dout [n, c] */
void global_avgpool_backward(real *dinp, const real *dout, int n, int c, int hw) {
    if (exact_mode()) {
        global_avgpool_backward_ref(dinp, dout, n, c, hw);
        return;
    }
    const long planes = (long)n * c;
#pragma omp parallel for schedule(static) if ((size_t)planes * (size_t)hw >= POOL_PARALLEL_MIN)
    for (long p = 0; p < planes; p++) add_scalar(dinp + (size_t)p * (size_t)hw, dout[p] / (real)hw, hw);
}

/* PyTorch's pooling_output_shape for one dimension; returns the size or a
 * value < 1 when no window fits. */
static int pool_out_size(int in, int k, int stride, int pad, int ceil_mode) {
    long num = (long)in + 2L * pad - k + (ceil_mode ? stride - 1 : 0);
    /* Floor division: num can be negative when the window exceeds the input. */
    long o = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
    /* In ceil mode the last window must start inside the input or the
     * leading padding, never wholly in the trailing padding. */
    if (ceil_mode && (o - 1) * stride >= (long)in + pad) o--;
    return (int)o;
}

int pool2d_shape_resolve(Pool2dShape *s, char *err, size_t errlen) {
    if (s->n < 1 || s->c < 1 || s->h < 1 || s->w < 1) {
        snprintf(err, errlen, "empty input [%d, %d, %d, %d]", s->n, s->c, s->h, s->w);
        return -1;
    }
    if (s->kh < 1 || s->kw < 1 || s->sh < 1 || s->sw < 1) {
        snprintf(err, errlen, "kernel %dx%d and stride %dx%d must be positive", s->kh,
                 s->kw, s->sh, s->sw);
        return -1;
    }
    if (s->pad_t < 0 || s->pad_l < 0 || s->pad_t > s->kh / 2 || s->pad_l > s->kw / 2) {
        snprintf(err, errlen, "padding %dx%d must be between 0 and half the kernel %dx%d",
                 s->pad_t, s->pad_l, s->kh, s->kw);
        return -1;
    }
    s->oh = pool_out_size(s->h, s->kh, s->sh, s->pad_t, s->ceil_mode);
    s->ow = pool_out_size(s->w, s->kw, s->sw, s->pad_l, s->ceil_mode);
    if (s->oh < 1 || s->ow < 1) {
        snprintf(err, errlen, "input %dx%d is too small for kernel %dx%d, padding %dx%d",
                 s->h, s->w, s->kh, s->kw, s->pad_t, s->pad_l);
        return -1;
    }
    return 0;
}

static void require_resolved(const Pool2dShape *s, const char *who) {
    if (s->oh < 1 || s->ow < 1) fatal("%s: call pool2d_shape_resolve first", who);
}

/* Index in the plane [h, w] of the maximum of output cell (oy, ox): the
 * first maximum in row-major window order, a NaN winning over numbers as in
 * PyTorch; cells in the padding are -inf and never chosen. */
static size_t max_index(const real *x, const Pool2dShape *s, int oy, int ox) {
    int y0 = oy * s->sh - s->pad_t, x0 = ox * s->sw - s->pad_l;
    int y1 = y0 + s->kh < s->h ? y0 + s->kh : s->h;
    int x1 = x0 + s->kw < s->w ? x0 + s->kw : s->w;
    if (y0 < 0) y0 = 0;
    if (x0 < 0) x0 = 0;
    size_t best = (size_t)y0 * (size_t)s->w + (size_t)x0;
    real best_val = -INFINITY;
    /* selects instead of branches: which cell wins is a coin toss for a
     * branch predictor; v != v is isnan(v) without a call */
    for (int y = y0; y < y1; y++)
        for (int xx = x0; xx < x1; xx++) {
            const size_t i = (size_t)y * (size_t)s->w + (size_t)xx;
            const real v = x[i];
            const int take = (v > best_val) | (v != v);
            best_val = take ? v : best_val;
            best = take ? i : best;
        }
    return best;
}

/* out [n, c, oh, ow]; inp [n, c, h, w] */
void maxpool2d_forward(real *out, const real *inp, const Pool2dShape *s) {
    if (exact_mode()) {
        maxpool2d_forward_ref(out, inp, s);
        return;
    }
    require_resolved(s, "maxpool2d_forward");
    const long planes = (long)s->n * s->c;
    const size_t in_plane = (size_t)s->h * (size_t)s->w;
    const size_t out_plane = (size_t)s->oh * (size_t)s->ow;
#pragma omp parallel for schedule(static) if ((size_t)planes * in_plane >= POOL_PARALLEL_MIN)
    for (long p = 0; p < planes; p++) {
        const real *x = inp + (size_t)p * in_plane; /* [h, w] */
        real *y = out + (size_t)p * out_plane;      /* [oh, ow] */
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++)
                y[(size_t)oy * s->ow + ox] = x[max_index(x, s, oy, ox)];
    }
}

/* dinp, inp [n, c, h, w]; dout [n, c, oh, ow]. The argmax is found again from
 * the input, so nothing but the input is saved. */
void maxpool2d_backward(real *dinp, const real *dout, const real *inp, const Pool2dShape *s) {
    if (exact_mode()) {
        maxpool2d_backward_ref(dinp, dout, inp, s);
        return;
    }
    require_resolved(s, "maxpool2d_backward");
    const long planes = (long)s->n * s->c;
    const size_t in_plane = (size_t)s->h * (size_t)s->w;
    const size_t out_plane = (size_t)s->oh * (size_t)s->ow;
#pragma omp parallel for schedule(static) if ((size_t)planes * in_plane >= POOL_PARALLEL_MIN)
    for (long p = 0; p < planes; p++) {
        const real *x = inp + (size_t)p * in_plane;   /* [h, w] */
        const real *dy = dout + (size_t)p * out_plane; /* [oh, ow] */
        real *dx = dinp + (size_t)p * in_plane;       /* [h, w] */
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++)
                dx[max_index(x, s, oy, ox)] += dy[(size_t)oy * s->ow + ox];
    }
}

/* The valid (in-input) rows and columns of output cell (oy, ox) and its
 * divisor. With count_include_pad the divisor counts padded cells, but the
 * window is first clipped to input + padding, which matters for the last
 * window in ceil mode; without it only input cells count. */
typedef struct AvgWindow {
    int y0, y1, x0, x1;
    int divisor;
} AvgWindow;

static AvgWindow avg_window(const Pool2dShape *s, int oy, int ox) {
    AvgWindow win;
    int y0 = oy * s->sh - s->pad_t, x0 = ox * s->sw - s->pad_l;
    int y1 = y0 + s->kh < s->h + s->pad_t ? y0 + s->kh : s->h + s->pad_t;
    int x1 = x0 + s->kw < s->w + s->pad_l ? x0 + s->kw : s->w + s->pad_l;
    const int padded_cells = (y1 - y0) * (x1 - x0);
    win.y0 = y0 > 0 ? y0 : 0;
    win.x0 = x0 > 0 ? x0 : 0;
    win.y1 = y1 < s->h ? y1 : s->h;
    win.x1 = x1 < s->w ? x1 : s->w;
    win.divisor = s->count_include_pad ? padded_cells : (win.y1 - win.y0) * (win.x1 - win.x0);
    return win;
}

/* out [n, c, oh, ow]; inp [n, c, h, w] */
void avgpool2d_forward(real *out, const real *inp, const Pool2dShape *s) {
    if (exact_mode()) {
        avgpool2d_forward_ref(out, inp, s);
        return;
    }
    require_resolved(s, "avgpool2d_forward");
    const long planes = (long)s->n * s->c;
    const size_t in_plane = (size_t)s->h * (size_t)s->w;
    const size_t out_plane = (size_t)s->oh * (size_t)s->ow;
#pragma omp parallel for schedule(static) if ((size_t)planes * in_plane >= POOL_PARALLEL_MIN)
    for (long p = 0; p < planes; p++) {
        const real *x = inp + (size_t)p * in_plane; /* [h, w] */
        real *y = out + (size_t)p * out_plane;      /* [oh, ow] */
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                const AvgWindow win = avg_window(s, oy, ox);
                real sum = 0;
                for (int yy = win.y0; yy < win.y1; yy++)
                    for (int xx = win.x0; xx < win.x1; xx++) sum += x[(size_t)yy * s->w + xx];
                /* A window wholly in the padding cannot occur after
                 * pool2d_shape_resolve; PyTorch would write 0 there. */
                y[(size_t)oy * s->ow + ox] = win.divisor > 0 && win.y0 < win.y1 && win.x0 < win.x1
                                                 ? sum / (real)win.divisor
                                                 : (real)0;
            }
    }
}

/* dinp [n, c, h, w]; dout [n, c, oh, ow] */
void avgpool2d_backward(real *dinp, const real *dout, const Pool2dShape *s) {
    if (exact_mode()) {
        avgpool2d_backward_ref(dinp, dout, s);
        return;
    }
    require_resolved(s, "avgpool2d_backward");
    const long planes = (long)s->n * s->c;
    const size_t in_plane = (size_t)s->h * (size_t)s->w;
    const size_t out_plane = (size_t)s->oh * (size_t)s->ow;
#pragma omp parallel for schedule(static) if ((size_t)planes * in_plane >= POOL_PARALLEL_MIN)
    for (long p = 0; p < planes; p++) {
        const real *dy = dout + (size_t)p * out_plane; /* [oh, ow] */
        real *dx = dinp + (size_t)p * in_plane;       /* [h, w] */
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                const AvgWindow win = avg_window(s, oy, ox);
                if (win.divisor <= 0 || win.y0 >= win.y1 || win.x0 >= win.x1) continue;
                const real g = dy[(size_t)oy * s->ow + ox] / (real)win.divisor;
                for (int yy = win.y0; yy < win.y1; yy++)
                    for (int xx = win.x0; xx < win.x1; xx++) dx[(size_t)yy * s->w + xx] += g;
            }
    }
}
