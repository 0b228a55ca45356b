/* Elementwise kernels: residual add, squeeze-excitation scale, dropout,
 * drop-connect and row L2 normalisation.
 *
 * Every output element is written by exactly one thread and every reduction
 * (ds, the row norms) runs serially inside one thread, so the results are the
 * same for any OpenMP thread count. Small inputs stay single-threaded: the
 * fork costs more than the work. */
#include "anomaly/ops/elementwise.h"
#include "anomaly/exact.h"
#include "vec.h"

#include <math.h>

/* Below this many elements a loop runs on one thread. */
#define EW_PARALLEL_MIN 16384

/* ------------------------------------------------------------------------ */

/* Elements per parallel task of the plain elementwise loops. */
#define EW_CHUNK 16384

/* y[i] = a[i] + b[i] over one chunk; y may be a (accumulation). */
VEC_DISPATCH_VOID(add_span, (real *y, const real *a, const real *b, size_t n), (y, a, b, n)) {
    size_t i = 0;
    for (; i + VLANES <= n; i += VLANES) {
        vreal u, v;
        vload(&u, a + i);
        vload(&v, b + i);
        u += v;
        vstore(y + i, &u);
    }
    for (; i < n; i++) y[i] = a[i] + b[i];
}

/* out, a, b [n] */
void add_forward(real *out, const real *a, const real *b, size_t n) {
    if (exact_mode()) {
        add_forward_ref(out, a, b, n);
        return;
    }
    const size_t chunks = (n + EW_CHUNK - 1) / EW_CHUNK;
#pragma omp parallel for schedule(static) if (n >= EW_PARALLEL_MIN)
    for (size_t k = 0; k < chunks; k++) {
        const size_t lo = k * EW_CHUNK, len = n - lo < EW_CHUNK ? n - lo : EW_CHUNK;
        add_span(out + lo, a + lo, b + lo, len);
    }
}

/* da, db [n] or NULL (may be the same buffer when a and b are one tensor);
 * dout [n] */
void add_backward(real *da, real *db, const real *dout, size_t n) {
    if (exact_mode()) {
        add_backward_ref(da, db, dout, n);
        return;
    }
    const size_t chunks = (n + EW_CHUNK - 1) / EW_CHUNK;
#pragma omp parallel for schedule(static) if (n >= EW_PARALLEL_MIN)
    for (size_t k = 0; k < chunks; k++) {
        const size_t lo = k * EW_CHUNK, len = n - lo < EW_CHUNK ? n - lo : EW_CHUNK;
        /* one after the other, so da == db receives dout twice */
        if (da) add_span(da + lo, da + lo, dout + lo, len);
        if (db) add_span(db + lo, db + lo, dout + lo, len);
    }
}

/* ------------------------------------------------------------------------ */

/* y [hw] = x * sp, one plane (a plain loop would stay scalar: the compiler
 * cannot rule out y overlapping x). */
VEC_DISPATCH_VOID(channel_scale_span, (real *y, const real *x, real sp, int hw), (y, x, sp, hw)) {
    int j = 0;
    for (; j + VLANES <= hw; j += VLANES) {
        vreal v;
        vload(&v, x + j);
        v = v * sp;
        vstore(y + j, &v);
    }
    for (; j < hw; j++) y[j] = x[j] * sp;
}

/* out, inp [n, c, hw]; s [n, c] */
void channel_scale_forward(real *out, const real *inp, const real *s, int n, int c, int hw) {
    if (exact_mode()) {
        channel_scale_forward_ref(out, inp, s, n, c, hw);
        return;
    }
    int planes = n * c;
#pragma omp parallel for schedule(static) if ((size_t)planes * hw >= EW_PARALLEL_MIN)
    for (int p = 0; p < planes; p++)
        channel_scale_span(out + (size_t)p * hw, inp + (size_t)p * hw, s[p], hw);
}

/* One plane of channel_scale_backward: dx [hw] += g * sp (dx may be NULL);
 * returns sum(g * x) in double (x may be NULL: then 0), summed per vector
 * lane, lanes added in a fixed tree, the last few values after. */
VEC_DISPATCH(double, channel_scale_plane, (real *dx, const real *g, const real *x, real sp, int hw),
             (dx, g, x, sp, hw)) {
    vdbl lo = VDSPLAT(0), hi = VDSPLAT(0), ga, gb, xa, xb;
    double tail = 0;
    int j = 0;
    for (; j + VLANES <= hw; j += VLANES) {
        vreal gv, v;
        vload(&gv, g + j);
        if (dx) {
            vload(&v, dx + j);
            v += gv * sp;
            vstore(dx + j, &v);
        }
        if (x) {
            vload(&v, x + j);
            vwiden(&ga, &gb, &gv);
            vwiden(&xa, &xb, &v);
            lo += ga * xa;
            hi += gb * xb;
        }
    }
    for (; j < hw; j++) {
        if (dx) dx[j] += g[j] * sp;
        if (x) tail += (double)g[j] * x[j];
    }
    return vdbl_total(&lo, &hi) + tail;
}

/* dinp [n, c, hw] or NULL; ds [n, c] or NULL; dout, inp [n, c, hw]; s [n, c] */
void channel_scale_backward(real *dinp, real *ds, const real *dout, const real *inp,
                            const real *s, int n, int c, int hw) {
    if (exact_mode()) {
        channel_scale_backward_ref(dinp, ds, dout, inp, s, n, c, hw);
        return;
    }
    int planes = n * c;
#pragma omp parallel for schedule(static) if ((size_t)planes * hw >= EW_PARALLEL_MIN)
    for (int p = 0; p < planes; p++) {
        const double acc = channel_scale_plane(dinp ? dinp + (size_t)p * hw : NULL,
                                               dout + (size_t)p * hw,
                                               ds ? inp + (size_t)p * hw : NULL, s[p], hw);
        if (ds) ds[p] += (real)acc;
    }
}

/* ------------------------------------------------------------------------ */

/* out, inp [n]; mask [n] (1 keep, 0 drop) */
void dropout_forward(real *out, const real *inp, const uint8_t *mask, real scale, size_t n) {
    if (exact_mode()) {
        dropout_forward_ref(out, inp, mask, scale, n);
        return;
    }
    /* PyTorch multiplies by a noise tensor holding mask * scale; the same
     * product keeps the bits (including -0 for dropped negatives). */
#pragma omp parallel for schedule(static) if (n >= EW_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] * (mask[i] ? scale : (real)0);
}

/* dinp, dout [n]; mask [n] */
void dropout_backward(real *dinp, const real *dout, const uint8_t *mask, real scale, size_t n) {
    if (exact_mode()) {
        dropout_backward_ref(dinp, dout, mask, scale, n);
        return;
    }
#pragma omp parallel for schedule(static) if (n >= EW_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * (mask[i] ? scale : (real)0);
}

/* ------------------------------------------------------------------------ */

/* The original divides by the keep probability, a Python double rounded to
 * the tensor's type; going through double here gives that rounding. */
static real keep_prob(real rate) { return (real)(1.0 - (double)rate); }

/* Elements per parallel task of drop_connect; fixed, so no split depends on
 * the thread count (none could change a value anyway). */
#define EW_CHUNK 16384

/* One sample's span, keep flag kv (0 or 1): forward y = x / kp * kv (the
 * original's order), backward (accumulate) y += x * kv / kp. */
VEC_DISPATCH_VOID(drop_connect_span, (real *y, const real *x, real kp, real kv, size_t len,
                                      int backward), (y, x, kp, kv, len, backward)) {
    size_t j = 0;
    for (; j + VLANES <= len; j += VLANES) {
        vreal v, a;
        vload(&v, x + j);
        if (backward) {
            vload(&a, y + j);
            a += v * kv / kp;
        } else {
            a = v / kp * kv;
        }
        vstore(y + j, &a);
    }
    for (; j < len; j++) {
        if (backward) y[j] += x[j] * kv / kp;
        else y[j] = x[j] / kp * kv;
    }
}

/* drop_connect_span over y, x [n, inner] in fixed chunks of EW_CHUNK
 * elements, each cut into pieces of one sample. */
static void drop_connect_chunks(real *y, const real *x, const uint8_t *keep, real kp, int n,
                                size_t inner, int backward) {
    const size_t total = (size_t)n * inner;
    const long chunks = (long)((total + EW_CHUNK - 1) / EW_CHUNK);
#pragma omp parallel for schedule(static) if (total >= EW_PARALLEL_MIN)
    for (long k = 0; k < chunks; k++) {
        for (size_t lo = (size_t)k * EW_CHUNK, end = lo + EW_CHUNK < total ? lo + EW_CHUNK : total;
             lo < end;) {
            const size_t i = lo / inner, hi = (i + 1) * inner < end ? (i + 1) * inner : end;
            drop_connect_span(y + lo, x + lo, kp, (real)keep[i], hi - lo, backward);
            lo = hi;
        }
    }
}

/* out, inp [n, inner]; keep [n] (1 keep, 0 drop) */
void drop_connect_forward(real *out, const real *inp, const uint8_t *keep, real rate,
                          int n, size_t inner) {
    if (exact_mode()) {
        drop_connect_forward_ref(out, inp, keep, rate, n, inner);
        return;
    }
    drop_connect_chunks(out, inp, keep, keep_prob(rate), n, inner, 0);
}

/* dinp, dout [n, inner]; keep [n] */
void drop_connect_backward(real *dinp, const real *dout, const uint8_t *keep, real rate,
                           int n, size_t inner) {
    if (exact_mode()) {
        drop_connect_backward_ref(dinp, dout, keep, rate, n, inner);
        return;
    }
    drop_connect_chunks(dinp, dout, keep, keep_prob(rate), n, inner, 1);
}

/* ------------------------------------------------------------------------ */

/* ||row||, summed in double and rounded to real as PyTorch's norm returns it. */
static real row_norm(const real *x, int cols) {
    double s = 0;
    for (int j = 0; j < cols; j++) s += (double)x[j] * x[j];
    return (real)sqrt(s);
}

/* out, inp [rows, cols] */
void l2norm_rows_forward(real *out, const real *inp, int rows, int cols, real eps) {
    if (exact_mode()) {
        l2norm_rows_forward_ref(out, inp, rows, cols, eps);
        return;
    }
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= EW_PARALLEL_MIN)
    for (int r = 0; r < rows; r++) {
        const real *x = inp + (size_t)r * cols;
        real *y = out + (size_t)r * cols;
        real nrm = row_norm(x, cols);
        real d = nrm >= eps ? nrm : eps; /* clamp_min(eps) */
        for (int j = 0; j < cols; j++) y[j] = x[j] / d;
    }
}

/* dinp, dout, inp [rows, cols]
 *
 * y = x / d with d = max(||x||, eps). The quotient gives dy / d and, through
 * d, g_d = -sum(dy * x) / d^2. clamp_min passes g_d on only where
 * ||x|| >= eps (PyTorch's rule at equality); below eps d is the constant eps.
 * The norm then sends x * g_d / ||x||, masked to 0 at ||x|| = 0 as PyTorch's
 * norm backward does. */
void l2norm_rows_backward(real *dinp, const real *dout, const real *inp, int rows, int cols,
                          real eps) {
    if (exact_mode()) {
        l2norm_rows_backward_ref(dinp, dout, inp, rows, cols, eps);
        return;
    }
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= EW_PARALLEL_MIN)
    for (int r = 0; r < rows; r++) {
        const real *x = inp + (size_t)r * cols;
        const real *g = dout + (size_t)r * cols;
        real *dx = dinp + (size_t)r * cols;
        real nrm = row_norm(x, cols);
        double d = nrm >= eps ? nrm : eps;
        double through_norm = 0; /* g_d / ||x|| */
        if (nrm >= eps && nrm > 0) {
            double dot = 0;
            for (int j = 0; j < cols; j++) dot += (double)g[j] * x[j];
            through_norm = -dot / (d * d) / (double)nrm;
        }
        for (int j = 0; j < cols; j++) dx[j] += (real)(g[j] / d + x[j] * through_norm);
    }
}
