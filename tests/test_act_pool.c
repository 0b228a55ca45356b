/* Activations and pooling: values at extreme inputs, PyTorch's output-size
 * and divisor rules (values computed once with torch 1.13), naive reference
 * loops, central finite differences for every kernel, thread-count
 * independence, and the autograd wrappers against the kernels. */
#include "check.h"

#include <omp.h>
#include <stdint.h>

#include "anomaly/arena.h"
#include "anomaly/ops/act.h"
#include "anomaly/ops/pool.h"
#include "anomaly/rng.h"
#include "anomaly/tape.h"

/* Distinct values at least `gap` apart, in random order, so that small
 * perturbations never change which cell of a window is the maximum. */
static void fill_distinct(real *a, size_t n, Rng *r, double gap) {
    for (size_t i = 0; i < n; i++) a[i] = (real)(gap * ((double)i - (double)n / 2));
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        real t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static Pool2dShape pool_shape(int n, int c, int h, int w, int k, int s, int p, int ceil_mode,
                              int count_include_pad) {
    Pool2dShape ps;
    memset(&ps, 0, sizeof ps);
    ps.n = n; ps.c = c; ps.h = h; ps.w = w;
    ps.kh = ps.kw = k;
    ps.sh = ps.sw = s;
    ps.pad_t = ps.pad_l = p;
    ps.ceil_mode = ceil_mode;
    ps.count_include_pad = count_include_pad;
    char err[256];
    if (pool2d_shape_resolve(&ps, err, sizeof err) != 0) {
        printf("  unexpected: %s\n", err);
        ps.oh = ps.ow = 0;
    }
    return ps;
}

/* ---- one interface over every kernel, for the generic checks ---- */

typedef enum { OP_SWISH, OP_RELU, OP_SIGMOID, OP_GAP, OP_MAX, OP_AVG } OpKind;

typedef struct OpCase {
    const char *name;
    OpKind kind;
    Pool2dShape ps; /* n, c, h, w (and the window for OP_MAX / OP_AVG) */
} OpCase;

static size_t op_in(const OpCase *o) { return (size_t)o->ps.n * o->ps.c * o->ps.h * o->ps.w; }

static size_t op_out(const OpCase *o) {
    size_t nc = (size_t)o->ps.n * o->ps.c;
    if (o->kind == OP_GAP) return nc;
    if (o->kind == OP_MAX || o->kind == OP_AVG) return nc * o->ps.oh * o->ps.ow;
    return op_in(o);
}

static void op_forward(const OpCase *o, real *out, const real *x) {
    const Pool2dShape *s = &o->ps;
    switch (o->kind) {
    case OP_SWISH: swish_forward(out, x, op_in(o)); break;
    case OP_RELU: relu_forward(out, x, op_in(o)); break;
    case OP_SIGMOID: sigmoid_forward(out, x, op_in(o)); break;
    case OP_GAP: global_avgpool_forward(out, x, s->n, s->c, s->h * s->w); break;
    case OP_MAX: maxpool2d_forward(out, x, s); break;
    case OP_AVG: avgpool2d_forward(out, x, s); break;
    }
}

/* dx += d(sum(f(x) * dy))/dx */
static void op_backward(const OpCase *o, real *dx, const real *dy, const real *x) {
    const Pool2dShape *s = &o->ps;
    switch (o->kind) {
    case OP_SWISH: swish_backward(dx, dy, x, op_in(o)); break;
    case OP_RELU: relu_backward(dx, dy, x, op_in(o)); break;
    case OP_SIGMOID: {
        real *y = new_real(op_in(o));
        sigmoid_forward(y, x, op_in(o));
        sigmoid_backward(dx, dy, y, op_in(o));
        free(y);
        break;
    }
    case OP_GAP: global_avgpool_backward(dx, dy, s->n, s->c, s->h * s->w); break;
    case OP_MAX: maxpool2d_backward(dx, dy, x, s); break;
    case OP_AVG: avgpool2d_backward(dx, dy, s); break;
    }
}

static double op_loss(const OpCase *o, const real *x, const real *w) {
    real *out = new_real(op_out(o));
    op_forward(o, out, x);
    double l = 0;
    for (size_t i = 0; i < op_out(o); i++) l += (double)out[i] * w[i];
    free(out);
    return l;
}

/* Inputs that keep finite differences valid: distinct values for max pool,
 * values away from the kink of relu. */
static void op_input(const OpCase *o, real *x, Rng *r) {
    size_t n = op_in(o);
    if (o->kind == OP_MAX) {
        fill_distinct(x, n, r, 0.05);
        return;
    }
    fill_uniform(x, n, r, -4, 4);
    if (o->kind == OP_RELU)
        for (size_t i = 0; i < n; i++)
            if (fabs((double)x[i]) < 0.1) x[i] += (real)0.2;
}

static void grad_check(const OpCase *o, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    size_t n = op_in(o), m = op_out(o);
    real *x = new_real(n), *w = new_real(m), *dx = new_real(n);
    op_input(o, x, &r);
    fill_uniform(w, m, &r, -1, 1);
    op_backward(o, dx, w, x);
    double *num = malloc(n * sizeof *num), *ana = malloc(n * sizeof *ana);
    const double h = TOL(1e-2, 1e-6);
    for (size_t i = 0; i < n; i++) {
        real v = x[i];
        real hi = (real)(v + h), lo = (real)(v - h);
        x[i] = hi;
        double lp = op_loss(o, x, w);
        x[i] = lo;
        double lm = op_loss(o, x, w);
        x[i] = v;
        num[i] = (lp - lm) / ((double)hi - (double)lo); /* the step actually taken */
        ana[i] = dx[i];
    }
    CHECK_CLOSE_D(o->name, ana, num, n, TOL(1e-3, 1e-7));
    free(x); free(w); free(dx); free(num); free(ana);
}

static OpCase act_case(const char *name, OpKind kind, int n) {
    OpCase o;
    memset(&o, 0, sizeof o);
    o.name = name;
    o.kind = kind;
    o.ps = pool_shape(1, 1, n, 1, 1, 1, 0, 0, 0);
    return o;
}

static OpCase pool_case(const char *name, OpKind kind, Pool2dShape ps) {
    OpCase o;
    o.name = name;
    o.kind = kind;
    o.ps = ps;
    return o;
}

/* The pool cases every generic check runs through. */
static int pool_cases(OpCase *c, int n, int ch, int h, int w) {
    int k = 0;
    c[k++] = pool_case("global avgpool", OP_GAP, pool_shape(n, ch, h, w, 1, 1, 0, 0, 0));
    c[k++] = pool_case("maxpool k3 s2 p1", OP_MAX, pool_shape(n, ch, h, w, 3, 2, 1, 0, 0));
    c[k++] = pool_case("maxpool k3 s2 ceil", OP_MAX, pool_shape(n, ch, h, w, 3, 2, 0, 1, 0));
    c[k++] = pool_case("avgpool k2 s2 ceil excl", OP_AVG, pool_shape(n, ch, h, w, 2, 2, 0, 1, 0));
    c[k++] = pool_case("avgpool k3 s1 p1 incl", OP_AVG, pool_shape(n, ch, h, w, 3, 1, 1, 0, 1));
    c[k++] = pool_case("avgpool k3 s2 p1 ceil incl", OP_AVG, pool_shape(n, ch, h, w, 3, 2, 1, 1, 1));
    c[k++] = pool_case("avgpool k4 s3 p2 ceil excl", OP_AVG, pool_shape(n, ch, h, w, 4, 3, 2, 1, 0));
    return k;
}

/* ---- activations ---- */

static void test_act_values(void) {
    real x[] = {-1000, -100, -89, -30, -5, -1, -1e-3f, 0, 1e-3f, 1, 5, 30, 89, 100, 1000};
    size_t n = sizeof x / sizeof *x;
    real ys[16], yg[16], yr[16];
    swish_forward(ys, x, n);
    sigmoid_forward(yg, x, n);
    relu_forward(yr, x, n);
    const double tol = TOL(4e-7, 4e-16), tiny = TOL(1e-35, 1e-300); /* per element */
    for (size_t i = 0; i < n; i++) {
        long double s = 1.0L / (1.0L + expl(-(long double)x[i]));
        long double ws = (long double)x[i] * s;
        CHECK(isfinite(ys[i]) && isfinite(yg[i]), "non-finite activation at x = %g", (double)x[i]);
        CHECK(fabsl(yg[i] - s) <= tol * s + tiny, "sigmoid(%g) = %.9g, want %.9Lg", (double)x[i],
              (double)yg[i], s);
        CHECK(fabsl(ys[i] - ws) <= tol * fabsl(ws) + tiny, "swish(%g) = %.9g, want %.9Lg", (double)x[i],
              (double)ys[i], ws);
        CHECK(yr[i] == (x[i] > 0 ? x[i] : 0), "relu(%g) = %g", (double)x[i], (double)yr[i]);
    }
    CHECK(yg[n - 1] == 1 && yg[0] == 0 && ys[n - 1] == 1000 && ys[0] == 0,
          "saturated values: sigmoid %g %g, swish %g %g", (double)yg[0], (double)yg[n - 1],
          (double)ys[0], (double)ys[n - 1]);
    /* Gradients at saturation stay finite: swish' -> 1 and 0, sigmoid' -> 0. */
    real dy[16], dx[16] = {0};
    for (size_t i = 0; i < n; i++) dy[i] = 1;
    swish_backward(dx, dy, x, n);
    CHECK(dx[0] == 0 && dx[n - 1] == 1, "swish'(-1000) = %g, swish'(1000) = %g", (double)dx[0],
          (double)dx[n - 1]);
    memset(dx, 0, sizeof dx);
    sigmoid_backward(dx, dy, yg, n);
    CHECK(dx[0] == 0 && dx[n - 1] == 0 && fabs((double)dx[7] - 0.25) < 1e-7, "sigmoid' %g %g %g",
          (double)dx[0], (double)dx[7], (double)dx[n - 1]);
}

static void test_relu_grad_at_zero(void) {
    real x[4] = {0, -0.0f, 2, -2}, dy[4] = {1, 1, 3, 1}, dx[4] = {5, 5, 5, 5};
    relu_backward(dx, dy, x, 4);
    real want[4] = {5, 5, 8, 5}; /* accumulates; nothing flows at 0 */
    CHECK_CLOSE("relu dx", dx, want, 4, 0);
}

static void test_act_grads(void) {
    OpCase o[3] = {act_case("swish", OP_SWISH, 64), act_case("relu", OP_RELU, 64),
                   act_case("sigmoid", OP_SIGMOID, 64)};
    for (int i = 0; i < 3; i++) grad_check(&o[i], 100 + i);
}

/* ---- pooling ---- */

static void test_pool_output_size(void) {
    /* h, k, s, p, ceil, PyTorch's output size (0: PyTorch refuses) */
    static const int cases[][6] = {
        {7, 3, 2, 1, 0, 4}, {112, 3, 2, 1, 0, 56}, {5, 2, 2, 0, 1, 3}, {5, 2, 2, 0, 0, 2},
        {5, 3, 3, 1, 1, 2}, /* the last window would start in the padding */
        {4, 4, 3, 2, 1, 2}, /* likewise */
        {6, 3, 2, 1, 1, 4}, {6, 3, 2, 0, 1, 3}, {7, 2, 2, 0, 1, 4}, {1, 3, 2, 1, 0, 1},
        {1, 3, 2, 1, 1, 1}, {3, 3, 3, 1, 1, 2},
        {2, 3, 1, 0, 0, 0}, /* window larger than the input */
        {8, 3, 2, 2, 0, 0}, /* padding over half the kernel */
        {8, 3, 0, 1, 0, 0}, /* zero stride */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const int *c = cases[i];
        Pool2dShape s;
        memset(&s, 0, sizeof s);
        s.n = 1; s.c = 1; s.h = c[0]; s.w = 9;
        s.kh = c[1]; s.kw = 3; s.sh = c[2]; s.sw = 2; s.pad_t = c[3]; s.pad_l = 1;
        s.ceil_mode = c[4];
        char err[256] = "";
        int rc = pool2d_shape_resolve(&s, err, sizeof err);
        if (c[5] == 0) {
            CHECK(rc != 0 && err[0], "h %d k %d s %d p %d must be refused", c[0], c[1], c[2], c[3]);
        } else {
            CHECK(rc == 0 && s.oh == c[5], "h %d k %d s %d p %d ceil %d: oh %d, want %d (%s)", c[0],
                  c[1], c[2], c[3], c[4], s.oh, c[5], err);
            CHECK(rc == 0 && s.ow == 5, "w 9 k3 s2 p1: ow %d, want 5", s.ow);
        }
    }
}

/* Independent references: each kernel offset (ki, kj) of each window is
 * classified as an input cell (2, index in *i), a padding cell (1), or a
 * cell past the padded edge (0). */
static int window_cell(const Pool2dShape *s, int p, int oy, int ox, int ki, int kj, size_t *i) {
    int iy = oy * s->sh - s->pad_t + ki, ix = ox * s->sw - s->pad_l + kj;
    if (iy >= s->h + s->pad_t || ix >= s->w + s->pad_l) return 0;
    if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) return 1;
    *i = ((size_t)p * s->h + iy) * s->w + ix;
    return 2;
}

static void maxpool_naive(real *out, size_t *arg, const real *x, const Pool2dShape *s) {
    for (int p = 0; p < s->n * s->c; p++)
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                size_t o = ((size_t)p * s->oh + oy) * s->ow + ox, i, best = (size_t)-1;
                for (int ki = 0; ki < s->kh; ki++)
                    for (int kj = 0; kj < s->kw; kj++)
                        if (window_cell(s, p, oy, ox, ki, kj, &i) == 2 &&
                            (best == (size_t)-1 || x[i] > x[best]))
                            best = i;
                out[o] = x[best];
                arg[o] = best;
            }
}

/* Forward into out, backward of dy added into dx. */
static void avgpool_naive(real *out, real *dx, const real *dy, const real *x, const Pool2dShape *s) {
    for (int p = 0; p < s->n * s->c; p++)
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                size_t o = ((size_t)p * s->oh + oy) * s->ow + ox, i;
                int cells[3] = {0, 0, 0};
                real sum = 0;
                for (int ki = 0; ki < s->kh; ki++)
                    for (int kj = 0; kj < s->kw; kj++) {
                        int kind = window_cell(s, p, oy, ox, ki, kj, &i);
                        cells[kind]++;
                        if (kind == 2) sum += x[i];
                    }
                int div = s->count_include_pad ? cells[1] + cells[2] : cells[2];
                out[o] = sum / (real)div;
                for (int ki = 0; ki < s->kh; ki++)
                    for (int kj = 0; kj < s->kw; kj++)
                        if (window_cell(s, p, oy, ox, ki, kj, &i) == 2) dx[i] += dy[o] / (real)div;
            }
}

static void test_maxpool_vs_naive(void) {
    Rng r;
    rng_seed(&r, 7);
    Pool2dShape shapes[3] = {pool_shape(2, 3, 9, 8, 3, 2, 1, 0, 0),
                             pool_shape(1, 2, 7, 10, 3, 2, 1, 1, 0),
                             pool_shape(2, 1, 6, 7, 2, 2, 0, 1, 0)};
    for (int t = 0; t < 3; t++) {
        const Pool2dShape *s = &shapes[t];
        size_t n = (size_t)s->n * s->c * s->h * s->w, m = (size_t)s->n * s->c * s->oh * s->ow;
        real *x = new_real(n), *out = new_real(m), *want = new_real(m), *dy = new_real(m);
        real *dx = new_real(n), *want_dx = new_real(n);
        size_t *arg = malloc(m * sizeof *arg);
        /* Few distinct values, so windows hold ties. */
        for (size_t i = 0; i < n; i++) x[i] = (real)(int)rng_below(&r, 4);
        fill_uniform(dy, m, &r, -1, 1);
        maxpool_naive(want, arg, x, s);
        for (size_t o = 0; o < m; o++) want_dx[arg[o]] += dy[o];
        maxpool2d_forward(out, x, s);
        maxpool2d_backward(dx, dy, x, s);
        CHECK_CLOSE("maxpool out", out, want, m, 0);
        CHECK_CLOSE("maxpool dx (ties go to the first maximum)", dx, want_dx, n, TOL(1e-6, 1e-15));
        free(x); free(out); free(want); free(dy); free(dx); free(want_dx); free(arg);
    }
    /* PyTorch's argmax with ties: every row is 3 1 3 2 2 0, k3 s2 p1 ceil. */
    Pool2dShape s = pool_shape(1, 1, 5, 6, 3, 2, 1, 1, 0);
    real x[30], dy[12], dx[30] = {0}, want[30] = {0};
    for (int i = 0; i < 30; i++) x[i] = (real)("313220"[i % 6] - '0');
    for (int i = 0; i < 12; i++) dy[i] = (real)(i + 1);
    static const int torch_index[12] = {0, 2, 3, 5, 6, 8, 9, 11, 18, 20, 21, 23};
    for (int i = 0; i < 12; i++) want[torch_index[i]] += dy[i];
    CHECK(s.oh == 3 && s.ow == 4, "output %dx%d, want 3x4", s.oh, s.ow);
    maxpool2d_backward(dx, dy, x, &s);
    CHECK_CLOSE("maxpool argmax as PyTorch", dx, want, 30, 0);
}

/* Forward values bit for bit as PyTorch's CPU loop picks them (a cell
 * replaces the maximum when larger or NaN, scanning the window row by row)
 * on windows full of ties between +0 and -0, infinities and NaN. */
static void test_maxpool_special_values(void) {
    const real vals[6] = {-INFINITY, -1, (real)-0.0, 0, 1, NAN};
    Pool2dShape shapes[2] = {pool_shape(2, 3, 9, 8, 3, 2, 1, 0, 0), pool_shape(1, 4, 7, 10, 3, 2, 1, 1, 0)};
    Rng r;
    rng_seed(&r, 9);
    for (int t = 0; t < 2; t++) {
        const Pool2dShape *s = &shapes[t];
        size_t n = (size_t)s->n * s->c * s->h * s->w, m = (size_t)s->n * s->c * s->oh * s->ow;
        real *x = new_real(n), *out = new_real(m), *want = new_real(m);
        for (size_t i = 0; i < n; i++) {
            /* mostly zeros of both signs and -inf, a few NaN and numbers */
            const uint64_t k = rng_below(&r, 20);
            x[i] = vals[k < 6 ? k : (k < 13 ? 2 : (k < 18 ? 3 : 0))];
        }
        for (int p = 0; p < s->n * s->c; p++)
            for (int oy = 0; oy < s->oh; oy++)
                for (int ox = 0; ox < s->ow; ox++) {
                    real best = -INFINITY;
                    size_t i;
                    for (int ki = 0; ki < s->kh; ki++)
                        for (int kj = 0; kj < s->kw; kj++)
                            if (window_cell(s, p, oy, ox, ki, kj, &i) == 2 &&
                                (x[i] > best || isnan(x[i])))
                                best = x[i];
                    want[((size_t)p * s->oh + oy) * s->ow + ox] = best;
                }
        maxpool2d_forward(out, x, s);
        CHECK_SAME_BITS("maxpool values with signed zeros, infinities and NaN", out, want,
                        m * sizeof(real));
        free(x); free(out); free(want);
    }
}

static void test_avgpool_vs_naive(void) {
    Rng r;
    rng_seed(&r, 8);
    OpCase c[12];
    int k = pool_cases(c, 2, 3, 7, 9);
    c[k++] = pool_case("avgpool k3 s3 p1 ceil incl", OP_AVG, pool_shape(1, 2, 5, 5, 3, 3, 1, 1, 1));
    /* Last windows reaching past the padded edge, with count_include_pad. */
    c[k++] = pool_case("avgpool k2 s2 ceil incl", OP_AVG, pool_shape(2, 3, 7, 9, 2, 2, 0, 1, 1));
    c[k++] = pool_case("avgpool k3 s2 p1 ceil incl 5x6", OP_AVG, pool_shape(1, 2, 5, 6, 3, 2, 1, 1, 1));
    c[k++] = pool_case("avgpool k4 s3 p2 ceil incl", OP_AVG, pool_shape(2, 1, 7, 8, 4, 3, 2, 1, 1));
    for (int t = 0; t < k; t++) {
        if (c[t].kind != OP_AVG) continue;
        const Pool2dShape *s = &c[t].ps;
        size_t n = op_in(&c[t]), m = op_out(&c[t]);
        real *x = new_real(n), *out = new_real(m), *want = new_real(m), *dy = new_real(m);
        real *dx = new_real(n), *want_dx = new_real(n);
        fill_uniform(x, n, &r, -2, 2);
        fill_uniform(dy, m, &r, -1, 1);
        avgpool_naive(want, want_dx, dy, x, s);
        avgpool2d_forward(out, x, s);
        avgpool2d_backward(dx, dy, s);
        CHECK_CLOSE(c[t].name, out, want, m, TOL(1e-6, 1e-15));
        CHECK_CLOSE(c[t].name, dx, want_dx, n, TOL(1e-6, 1e-15));
        free(x); free(out); free(want); free(dy); free(dx); free(want_dx);
    }
}

/* Outputs of torch.nn.functional.avg_pool2d on arange(35).view(1,1,5,7)
 * (on its first 6 columns where w is 6), from `first` on. */
static void test_avgpool_matches_torch(void) {
    static const struct {
        const char *name;
        int w, k, s, p, ceil_mode, incl, oh, ow, first, count;
        double want[12];
    } cases[] = {
        {"k2 s2 ceil excl", 7, 2, 2, 0, 1, 0, 3, 4, 0, 12,
         {4, 6, 8, 9.5, 18, 20, 22, 23.5, 28.5, 30.5, 32.5, 34}},
        /* the clipped last window has the same divisor either way */
        {"k2 s2 ceil incl", 7, 2, 2, 0, 1, 1, 3, 4, 0, 12,
         {4, 6, 8, 9.5, 18, 20, 22, 23.5, 28.5, 30.5, 32.5, 34}},
        {"k3 s3 p1 ceil incl", 7, 3, 3, 1, 1, 1, 2, 3, 0, 6,
         {16.0 / 9, 13.0 / 3, 4, 43.0 / 3, 24, 53.0 / 3}},
        /* the last column window reaches past the padding */
        {"k3 s2 p1 ceil incl", 6, 3, 2, 1, 1, 1, 3, 4, 0, 12,
         {16.0 / 9, 11.0 / 3, 5, 17.0 / 6, 29.0 / 3, 16, 18, 9.5, 100.0 / 9, 53.0 / 3, 19,
          59.0 / 6}},
        {"k3 s1 p1 excl", 7, 3, 1, 1, 0, 0, 5, 7, 0, 7, {4, 4.5, 5.5, 6.5, 7.5, 8.5, 9}},
        {"k3 s1 p1 incl", 7, 3, 1, 1, 0, 1, 5, 7, 28, 7,
         {100.0 / 9, 17, 53.0 / 3, 55.0 / 3, 19, 59.0 / 3, 40.0 / 3}},
    };
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        real x[35], out[35];
        double got[12];
        int w = cases[t].w;
        for (int i = 0; i < 5 * w; i++) x[i] = (real)((i / w) * 7 + i % w);
        Pool2dShape s = pool_shape(1, 1, 5, w, cases[t].k, cases[t].s, cases[t].p,
                                   cases[t].ceil_mode, cases[t].incl);
        CHECK(s.oh == cases[t].oh && s.ow == cases[t].ow, "%s: output %dx%d", cases[t].name, s.oh,
              s.ow);
        if (s.oh != cases[t].oh || s.ow != cases[t].ow) continue;
        avgpool2d_forward(out, x, &s);
        for (int i = 0; i < cases[t].count; i++) got[i] = out[cases[t].first + i];
        CHECK_CLOSE_D(cases[t].name, got, cases[t].want, (size_t)cases[t].count, TOL(1e-7, 1e-15));
    }
}

static void test_global_avgpool(void) {
    real x[2 * 3 * 5], out[6], want[6];
    for (int i = 0; i < 30; i++) x[i] = (real)(i * i % 7) - 2;
    for (int p = 0; p < 6; p++) {
        double s = 0;
        for (int i = 0; i < 5; i++) s += x[p * 5 + i];
        want[p] = (real)(s / 5);
    }
    global_avgpool_forward(out, x, 2, 3, 5);
    CHECK_CLOSE("global avgpool", out, want, 6, TOL(1e-7, 1e-15));
}

static void test_pool_grads(void) {
    OpCase c[8];
    int k = pool_cases(c, 2, 2, 7, 6);
    for (int i = 0; i < k; i++) grad_check(&c[i], 200 + i);
}

/* ---- determinism ---- */

static void run_case(const OpCase *o, const real *x, const real *dy, real *out, real *dx) {
    op_forward(o, out, x);
    memset(dx, 0, op_in(o) * sizeof(real));
    op_backward(o, dx, dy, x);
}

static void test_threads_bitwise(void) {
    OpCase c[12];
    int k = pool_cases(c, 4, 16, 33, 31); /* above the parallel threshold */
    c[k++] = act_case("swish", OP_SWISH, 70001);
    c[k++] = act_case("relu", OP_RELU, 70001);
    c[k++] = act_case("sigmoid", OP_SIGMOID, 70001);
    int saved = omp_get_max_threads();
    Rng r;
    rng_seed(&r, 9);
    for (int t = 0; t < k; t++) {
        size_t n = op_in(&c[t]), m = op_out(&c[t]);
        real *x = new_real(n), *dy = new_real(m), *o1 = new_real(m), *o2 = new_real(m);
        real *d1 = new_real(n), *d2 = new_real(n);
        fill_uniform(x, n, &r, -3, 3);
        fill_uniform(dy, m, &r, -1, 1);
        omp_set_num_threads(1);
        run_case(&c[t], x, dy, o1, d1);
        omp_set_num_threads(2);
        run_case(&c[t], x, dy, o2, d2);
        CHECK_SAME_BITS(c[t].name, o1, o2, m * sizeof(real));
        CHECK_SAME_BITS(c[t].name, d1, d2, n * sizeof(real));
        free(x); free(dy); free(o1); free(o2); free(d1); free(d2);
    }
    omp_set_num_threads(saved);
}

/* ---- autograd wrappers ---- */

static Tensor *ag_apply(Tape *t, const OpCase *o, Tensor *x) {
    switch (o->kind) {
    case OP_SWISH: return ag_swish(t, x);
    case OP_RELU: return ag_relu(t, x);
    case OP_SIGMOID: return ag_sigmoid(t, x);
    case OP_GAP: return ag_global_avgpool(t, x);
    case OP_MAX: return ag_maxpool2d(t, x, &o->ps);
    case OP_AVG: return ag_avgpool2d(t, x, &o->ps);
    }
    return NULL;
}

static void test_ag_matches_kernels(void) {
    OpCase c[12];
    int k = pool_cases(c, 2, 3, 7, 6);
    c[k++] = act_case("swish", OP_SWISH, 126);
    c[k++] = act_case("relu", OP_RELU, 126);
    c[k++] = act_case("sigmoid", OP_SIGMOID, 126);
    Arena a;
    arena_init(&a, 1 << 16);
    Tape t;
    tape_init(&t, &a);
    Rng r;
    rng_seed(&r, 10);
    for (int i = 0; i < k; i++) {
        OpCase o = c[i];
        size_t n = op_in(&o), m = op_out(&o);
        real *xd = new_real(n), *dy = new_real(m), *out = new_real(m), *dx = new_real(n);
        fill_uniform(xd, n, &r, -3, 3);
        fill_uniform(dy, m, &r, -1, 1);
        run_case(&o, xd, dy, out, dx);
        /* Activations see the data as [2, 3, 7, 3]; pools as their shape. */
        int h = o.kind <= OP_SIGMOID ? 7 : o.ps.h, w = o.kind <= OP_SIGMOID ? 3 : o.ps.w;
        tape_reset(&t);
        t.recording = 1;
        t.training = 1;
        Tensor *x = tape_wrap(&t, xd, 2, 3, h, w);
        x->requires_grad = 1;
        Tensor *y = ag_apply(&t, &o, x);
        CHECK(tensor_numel(y) == m, "%s: output has %zu values, want %zu", o.name, tensor_numel(y), m);
        if (o.kind == OP_GAP) CHECK(y->h == 1 && y->w == 1, "global pool output [n, c, 1, 1]");
        if (o.kind == OP_MAX || o.kind == OP_AVG)
            CHECK(y->h == o.ps.oh && y->w == o.ps.ow, "%s: output %dx%d", o.name, y->h, y->w);
        CHECK_CLOSE(o.name, y->data, out, m, 0);
        memcpy(tape_grad(&t, y), dy, m * sizeof(real));
        tape_backward(&t, y, 0);
        CHECK(x->grad != NULL, "%s: no input gradient", o.name);
        if (x->grad) CHECK_CLOSE(o.name, x->grad, dx, n, 0);

        /* An input that needs no gradient gets none; inference records nothing. */
        tape_reset(&t);
        Tensor *xc = tape_wrap(&t, xd, 2, 3, h, w);
        y = ag_apply(&t, &o, xc);
        memcpy(tape_grad(&t, y), dy, m * sizeof(real));
        tape_backward(&t, y, 0);
        CHECK(xc->grad == NULL, "%s: gradient for a constant input", o.name);
        tape_reset(&t);
        t.recording = 0;
        y = ag_apply(&t, &o, tape_wrap(&t, xd, 2, 3, h, w));
        CHECK(t.count == 0 && !y->requires_grad, "%s: inference must not record", o.name);
        free(xd); free(dy); free(out); free(dx);
    }
    tape_free(&t);
    arena_free(&a);
}

int main(void) {
    RUN(test_act_values);
    RUN(test_relu_grad_at_zero);
    RUN(test_act_grads);
    RUN(test_pool_output_size);
    RUN(test_maxpool_vs_naive);
    RUN(test_maxpool_special_values);
    RUN(test_avgpool_vs_naive);
    RUN(test_avgpool_matches_torch);
    RUN(test_global_avgpool);
    RUN(test_pool_grads);
    RUN(test_threads_bitwise);
    RUN(test_ag_matches_kernels);
    CHECK_MAIN_END();
}
