/* Reference pooling, NCHW, with PyTorch's window rules (pool.h). Each
 * (image, channel) plane is handled by one thread; threads split planes. */
#include "anomaly/ops/pool.h"
#include "anomaly/error.h"

#include <math.h>

/* out[p] = (sum of the plane in double, i = 0..hw-1 in order) / hw */
void global_avgpool_forward_ref(real *out, const real *inp, int n, int c, int hw) {
    const long planes = (long)n * c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        double sum = 0;
        for (int i = 0; i < hw; i++) sum += inp[p * hw + i];
        out[p] = (real)(sum / hw);
    }
}

void global_avgpool_backward_ref(real *dinp, const real *dout, int n, int c, int hw) {
    const long planes = (long)n * c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const real g = dout[p] / (real)hw;
        for (int i = 0; i < hw; i++) dinp[p * hw + i] += g;
    }
}

static void require_resolved(const Pool2dShape *s, const char *who) {
    if (s->oh < 1 || s->ow < 1) fatal("%s: call pool2d_shape_resolve first", who);
}

/* The input cells [y0, y1) x [x0, x1) of output (oy, ox), clipped to the
 * input; `padded` is the window clipped to input + padding instead. */
typedef struct Window {
    int y0, y1, x0, x1, padded;
} Window;

static Window window(const Pool2dShape *s, int oy, int ox) {
    const int y0 = oy * s->sh - s->pad_t, x0 = ox * s->sw - s->pad_l;
    const int py1 = y0 + s->kh < s->h + s->pad_t ? y0 + s->kh : s->h + s->pad_t;
    const int px1 = x0 + s->kw < s->w + s->pad_l ? x0 + s->kw : s->w + s->pad_l;
    Window win;
    win.padded = (py1 - y0) * (px1 - x0);
    win.y0 = y0 > 0 ? y0 : 0;
    win.x0 = x0 > 0 ? x0 : 0;
    win.y1 = y0 + s->kh < s->h ? y0 + s->kh : s->h;
    win.x1 = x0 + s->kw < s->w ? x0 + s->kw : s->w;
    return win;
}

/* Index in the plane of the window's first maximum in row-major order; a
 * NaN wins over numbers (PyTorch). Padding is -inf, never chosen. */
static size_t argmax(const real *x, const Pool2dShape *s, int oy, int ox) {
    const Window win = window(s, oy, ox);
    size_t best = (size_t)win.y0 * s->w + win.x0;
    real best_val = -INFINITY;
    for (int y = win.y0; y < win.y1; y++)
        for (int xx = win.x0; xx < win.x1; xx++) {
            const size_t i = (size_t)y * s->w + xx;
            if (x[i] > best_val || isnan(x[i])) {
                best_val = x[i];
                best = i;
            }
        }
    return best;
}

void maxpool2d_forward_ref(real *out, const real *inp, const Pool2dShape *s) {
    require_resolved(s, "maxpool2d_forward");
    const long planes = (long)s->n * s->c;
    const size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->oh * s->ow;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const real *x = inp + p * in_plane;
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++)
                out[p * out_plane + (size_t)oy * s->ow + ox] = x[argmax(x, s, oy, ox)];
    }
}

void maxpool2d_backward_ref(real *dinp, const real *dout, const real *inp, const Pool2dShape *s) {
    require_resolved(s, "maxpool2d_backward");
    const long planes = (long)s->n * s->c;
    const size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->oh * s->ow;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const real *x = inp + p * in_plane;
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++)
                dinp[p * in_plane + argmax(x, s, oy, ox)] +=
                    dout[p * out_plane + (size_t)oy * s->ow + ox];
    }
}

/* PyTorch's divisor: the window clipped to input + padding with
 * count_include_pad, else the input cells only. */
static int divisor(const Pool2dShape *s, Window win) {
    return s->count_include_pad ? win.padded : (win.y1 - win.y0) * (win.x1 - win.x0);
}

static int empty(Window win) { return win.y0 >= win.y1 || win.x0 >= win.x1; }

void avgpool2d_forward_ref(real *out, const real *inp, const Pool2dShape *s) {
    require_resolved(s, "avgpool2d_forward");
    const long planes = (long)s->n * s->c;
    const size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->oh * s->ow;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const real *x = inp + p * in_plane;
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                const Window win = window(s, oy, ox);
                const int d = divisor(s, win);
                real sum = 0;
                for (int y = win.y0; y < win.y1; y++)
                    for (int xx = win.x0; xx < win.x1; xx++) sum += x[(size_t)y * s->w + xx];
                /* no window lies wholly in the padding after pool2d_shape_resolve */
                out[p * out_plane + (size_t)oy * s->ow + ox] =
                    d > 0 && !empty(win) ? sum / (real)d : (real)0;
            }
    }
}

void avgpool2d_backward_ref(real *dinp, const real *dout, const Pool2dShape *s) {
    require_resolved(s, "avgpool2d_backward");
    const long planes = (long)s->n * s->c;
    const size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->oh * s->ow;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                const Window win = window(s, oy, ox);
                const int d = divisor(s, win);
                if (d <= 0 || empty(win)) continue;
                const real g = dout[p * out_plane + (size_t)oy * s->ow + ox] / (real)d;
                for (int y = win.y0; y < win.y1; y++)
                    for (int xx = win.x0; xx < win.x1; xx++)
                        dinp[p * in_plane + (size_t)y * s->w + xx] += g;
            }
    }
}
