/* Split-attention kernels: radix softmax against a literal re-implementation
 * of timm's view / transpose / softmax, every gradient against central finite
 * differences, the autograd wrappers in a SplitAttn-shaped chain, and 1- vs
 * 2-thread bit identity. */
#include "check.h"

#include <omp.h>

#include "anomaly/arena.h"
#include "anomaly/ops/attn.h"
#include "anomaly/ops/elementwise.h"
#include "anomaly/rng.h"
#include "anomaly/tape.h"

#define GRAD_TOL TOL(3e-3, 1e-6)
#define FD_STEP TOL(1e-2, 1e-5)

static real *randn(size_t n, Rng *r, double lo, double hi) {
    real *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (real)rng_range(r, lo, hi);
    return x;
}

static real *zeros(size_t n) { return calloc(n ? n : 1, sizeof(real)); }

static real *copy_of(const real *x, size_t n) {
    real *y = malloc((n ? n : 1) * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    return y;
}

typedef void (*ForwardFn)(void *ctx, real *out);

static double weighted(const real *g, const real *o, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * o[i];
    return s;
}

/* grad[j] = d(sum_i g_i out_i)/dx_j by central differences (x is restored). */
static void numeric_grad(real *grad, ForwardFn fwd, void *ctx, real *x, size_t nx, const real *g,
                         size_t nout, double h) {
    real *o = malloc(nout * sizeof *o);
    for (size_t j = 0; j < nx; j++) {
        real save = x[j];
        real xp = (real)(save + h), xm = (real)(save - h);
        x[j] = xp;
        fwd(ctx, o);
        double lp = weighted(g, o, nout);
        x[j] = xm;
        fwd(ctx, o);
        double lm = weighted(g, o, nout);
        x[j] = save;
        grad[j] = (real)((lp - lm) / ((double)xp - (double)xm));
    }
    free(o);
}

static void subtract(real *x, const real *base, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] -= base[i];
}

/* (card, radix) pairs: sigmoid (radix 1) and softmax, with 1 and 2 groups. */
static const int CASES[][2] = {{1, 1}, {2, 1}, {1, 2}, {2, 2}, {1, 4}, {2, 4}};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

/* ------------------------------------------------------------------------ */

/* timm, step by step: x.view(batch, card, radix, -1) as strides, .transpose(1, 2)
 * by swapping two strides, softmax over dim 1 in double, then reshape (a
 * contiguous walk of the transposed shape). */
static void timm_rsoftmax(real *out, const real *x, int batch, int card, int radix, int inner) {
    long shape[4] = {batch, card, radix, inner};
    long stride[4] = {(long)card * radix * inner, (long)radix * inner, inner, 1};
    long ts = stride[1];
    stride[1] = stride[2];
    stride[2] = ts;
    ts = shape[1];
    shape[1] = shape[2];
    shape[2] = ts;
    size_t o = 0;
    for (long b = 0; b < shape[0]; b++)
        for (long r = 0; r < shape[1]; r++)
            for (long k = 0; k < shape[2]; k++)
                for (long i = 0; i < shape[3]; i++) {
                    const real *base = x + b * stride[0] + k * stride[2] + i * stride[3];
                    double v = base[r * stride[1]];
                    if (radix == 1) {
                        out[o++] = (real)(1 / (1 + exp(-v)));
                        continue;
                    }
                    double mx = base[0], sum = 0;
                    for (long s = 1; s < shape[1]; s++)
                        if (base[s * stride[1]] > mx) mx = base[s * stride[1]];
                    for (long s = 0; s < shape[1]; s++) sum += exp(base[s * stride[1]] - mx);
                    out[o++] = (real)(exp(v - mx) / sum);
                }
}

typedef struct SoftmaxCase {
    real *x;
    int n, card, radix, inner;
} SoftmaxCase;

static void softmax_fwd(void *p, real *out) {
    SoftmaxCase *c = p;
    radix_softmax_forward(out, c->x, c->n, c->card, c->radix, c->inner);
}

static void test_radix_softmax_matches_timm(void) {
    Rng r;
    rng_seed(&r, 21);
    for (int k = 0; k < N_CASES; k++) {
        int n = 2, card = CASES[k][0], radix = CASES[k][1], inner = 5;
        size_t total = (size_t)n * card * radix * inner;
        real *x = randn(total, &r, -4, 4), *got = zeros(total), *ref = zeros(total);
        radix_softmax_forward(got, x, n, card, radix, inner);
        timm_rsoftmax(ref, x, n, card, radix, inner);
        char what[64];
        snprintf(what, sizeof what, "card %d radix %d", card, radix);
        CHECK_CLOSE(what, got, ref, total, TOL(1e-6, 1e-15));
        if (radix > 1) { /* each softmax sums to 1 */
            double s = 0;
            for (int q = 0; q < radix; q++) s += got[(size_t)q * card * inner];
            CHECK(fabs(s - 1) < TOL(1e-6, 1e-14), "%s: weights sum to %.17g", what, s);
        }
        free(x); free(got); free(ref);
    }
}

static void test_radix_softmax_grads(void) {
    Rng r;
    rng_seed(&r, 22);
    for (int k = 0; k < N_CASES; k++) {
        SoftmaxCase c = {NULL, 2, CASES[k][0], CASES[k][1], 3};
        size_t total = (size_t)c.n * c.card * c.radix * c.inner;
        c.x = randn(total, &r, -2, 2);
        real *out = zeros(total), *g = randn(total, &r, -1, 1), *base = randn(total, &r, -1, 1);
        real *dx = copy_of(base, total), *num = zeros(total);
        softmax_fwd(&c, out);
        radix_softmax_backward(dx, g, out, c.n, c.card, c.radix, c.inner);
        subtract(dx, base, total);
        numeric_grad(num, softmax_fwd, &c, c.x, total, g, total, FD_STEP);
        char what[64];
        snprintf(what, sizeof what, "dinp card %d radix %d", c.card, c.radix);
        CHECK_CLOSE(what, dx, num, total, GRAD_TOL);
        free(c.x); free(out); free(g); free(base); free(dx); free(num);
    }
}

/* ------------------------------------------------------------------------ */

typedef struct SumCase {
    real *x, *attn; /* attn NULL: plain radix sum */
    int n, radix, c, hw;
} SumCase;

static void sum_fwd(void *p, real *out) {
    SumCase *s = p;
    if (s->attn)
        radix_weighted_sum_forward(out, s->x, s->attn, s->n, s->radix, s->c, s->hw);
    else
        radix_sum_forward(out, s->x, s->n, s->radix, s->c, s->hw);
}

static void test_radix_sums_forward(void) {
    Rng r;
    rng_seed(&r, 23);
    int n = 2, radix = 4, c = 3, hw = 5;
    size_t nx = (size_t)n * radix * c * hw, no = (size_t)n * c * hw;
    real *x = randn(nx, &r, -1, 1), *a = randn((size_t)n * radix * c, &r, 0, 1);
    real *got = zeros(no), *ref = zeros(no), *wref = zeros(no);
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            for (int j = 0; j < hw; j++) {
                double s = 0, w = 0;
                for (int q = 0; q < radix; q++) {
                    double v = x[(((size_t)b * radix + q) * c + ch) * hw + j];
                    s += v;
                    w += v * a[((size_t)b * radix + q) * c + ch];
                }
                ref[((size_t)b * c + ch) * hw + j] = (real)s;
                wref[((size_t)b * c + ch) * hw + j] = (real)w;
            }
    radix_sum_forward(got, x, n, radix, c, hw);
    CHECK_CLOSE("sum over splits", got, ref, no, TOL(1e-6, 1e-15));
    radix_weighted_sum_forward(got, x, a, n, radix, c, hw);
    CHECK_CLOSE("weighted sum over splits", got, wref, no, TOL(1e-6, 1e-15));
    free(x); free(a); free(got); free(ref); free(wref);
}

static void test_radix_sums_grads(void) {
    Rng r;
    rng_seed(&r, 24);
    int radices[3] = {1, 2, 4};
    for (int k = 0; k < 3; k++) {
        SumCase s = {NULL, NULL, 2, radices[k], 3, 4};
        size_t nx = (size_t)s.n * s.radix * s.c * s.hw, na = (size_t)s.n * s.radix * s.c;
        size_t no = (size_t)s.n * s.c * s.hw;
        s.x = randn(nx, &r, -1, 1);
        real *a = randn(na, &r, 0, 1), *g = randn(no, &r, -1, 1);
        real *bx = randn(nx, &r, -1, 1), *ba = randn(na, &r, -1, 1);
        real *dx = copy_of(bx, nx), *da = copy_of(ba, na), *num = zeros(nx);
        char what[64];

        radix_sum_backward(dx, g, s.n, s.radix, s.c, s.hw);
        subtract(dx, bx, nx);
        numeric_grad(num, sum_fwd, &s, s.x, nx, g, no, FD_STEP);
        snprintf(what, sizeof what, "radix sum dinp, radix %d", s.radix);
        CHECK_CLOSE(what, dx, num, nx, GRAD_TOL);

        s.attn = a;
        memcpy(dx, bx, nx * sizeof *dx);
        radix_weighted_sum_backward(dx, da, g, s.x, a, s.n, s.radix, s.c, s.hw);
        subtract(dx, bx, nx);
        subtract(da, ba, na);
        numeric_grad(num, sum_fwd, &s, s.x, nx, g, no, FD_STEP);
        snprintf(what, sizeof what, "weighted sum dinp, radix %d", s.radix);
        CHECK_CLOSE(what, dx, num, nx, GRAD_TOL);
        numeric_grad(num, sum_fwd, &s, a, na, g, no, FD_STEP);
        snprintf(what, sizeof what, "weighted sum dattn, radix %d", s.radix);
        CHECK_CLOSE(what, da, num, na, GRAD_TOL);

        /* NULL skips one gradient without touching the other. */
        real *da2 = zeros(na);
        radix_weighted_sum_backward(NULL, da2, g, s.x, a, s.n, s.radix, s.c, s.hw);
        CHECK_CLOSE("dattn alone", da2, da, na, TOL(1e-6, 1e-14));
        free(s.x); free(a); free(g); free(bx); free(ba); free(dx); free(da); free(num); free(da2);
    }
}

/* ------------------------------------------------------------------------ */

/* The data path of timm's SplitAttn after its convolutions: logits from fc2
 * go through the radix softmax and weight the splits of x; x is also summed
 * over the splits (the gap branch), so it is used twice:
 *   out = radix_weighted_sum(x, rsoftmax(logits)) + radix_sum(x). */
typedef struct ChainCase {
    real *x, *logits;
    int n, card, radix, c, hw;
} ChainCase;

static void chain_fwd(void *p, real *out) {
    ChainCase *k = p;
    size_t na = (size_t)k->n * k->radix * k->c, no = (size_t)k->n * k->c * k->hw;
    real *attn = zeros(na), *s = zeros(no), *w = zeros(no);
    radix_softmax_forward(attn, k->logits, k->n, k->card, k->radix, k->c / k->card);
    radix_weighted_sum_forward(w, k->x, attn, k->n, k->radix, k->c, k->hw);
    radix_sum_forward(s, k->x, k->n, k->radix, k->c, k->hw);
    add_forward(out, w, s, no);
    free(attn);
    free(s);
    free(w);
}

static void test_split_attn_chain_on_tape(void) {
    Rng r;
    rng_seed(&r, 25);
    for (int q = 0; q < N_CASES; q++) {
        ChainCase k = {NULL, NULL, 2, CASES[q][0], CASES[q][1], 4, 6};
        size_t nx = (size_t)k.n * k.radix * k.c * k.hw, na = (size_t)k.n * k.radix * k.c;
        size_t no = (size_t)k.n * k.c * k.hw;
        k.x = randn(nx, &r, -1, 1);
        k.logits = randn(na, &r, -2, 2);
        real *g = randn(no, &r, -1, 1), *ref = zeros(no), *num = zeros(nx);

        Arena a;
        Tape t;
        arena_init(&a, 1 << 16);
        tape_init(&t, &a);
        t.recording = t.training = 1;
        Tensor *xt = tape_wrap(&t, k.x, k.n, k.radix * k.c, 2, 3);
        Tensor *lt = tape_wrap(&t, k.logits, k.n, k.radix * k.c, 1, 1);
        xt->requires_grad = lt->requires_grad = 1;
        Tensor *attn = ag_radix_softmax(&t, lt, k.card, k.radix);
        Tensor *y = ag_add(&t, ag_radix_weighted_sum(&t, xt, attn, k.radix),
                           ag_radix_sum(&t, xt, k.radix));
        CHECK(y->n == k.n && y->c == k.c && y->h == 2 && y->w == 3, "output shape");
        chain_fwd(&k, ref);
        CHECK_CLOSE("forward", y->data, ref, no, 0);
        memcpy(tape_grad(&t, y), g, no * sizeof *g);
        tape_backward(&t, y, 0);
        CHECK(xt->grad && lt->grad, "card %d radix %d: no gradient reached the inputs", k.card,
              k.radix);

        char what[64];
        numeric_grad(num, chain_fwd, &k, k.x, nx, g, no, FD_STEP);
        snprintf(what, sizeof what, "dx card %d radix %d", k.card, k.radix);
        if (xt->grad) CHECK_CLOSE(what, xt->grad, num, nx, GRAD_TOL);
        numeric_grad(num, chain_fwd, &k, k.logits, na, g, no, FD_STEP);
        snprintf(what, sizeof what, "dlogits card %d radix %d", k.card, k.radix);
        if (lt->grad) CHECK_CLOSE(what, lt->grad, num, na, GRAD_TOL);
        tape_free(&t);
        arena_free(&a);
        free(k.x); free(k.logits); free(g); free(ref); free(num);
    }
}

/* ------------------------------------------------------------------------ */

static void run_all(real *res, const real *x, const real *a, const real *g, int n, int card,
                    int radix, int c, int hw) {
    size_t nx = (size_t)n * radix * c * hw, na = (size_t)n * radix * c, no = (size_t)n * c * hw;
    real *o = res;
    radix_softmax_forward(o, x, n, card, radix, (int)(nx / ((size_t)n * card * radix))); o += nx;
    radix_softmax_backward(o, g, res, n, card, radix, (int)(nx / ((size_t)n * card * radix)));
    o += nx;
    radix_softmax_forward(o, x, n, card, 1, (int)(nx / ((size_t)n * card))); o += nx;
    radix_softmax_backward(o, g, o - nx, n, card, 1, (int)(nx / ((size_t)n * card))); o += nx;
    radix_sum_forward(o, x, n, radix, c, hw); o += no;
    radix_sum_backward(o, g, n, radix, c, hw); o += nx;
    radix_weighted_sum_forward(o, x, a, n, radix, c, hw); o += no;
    radix_weighted_sum_backward(o, o + nx, g, x, a, n, radix, c, hw); o += nx + na;
}

static void test_threads_bit_identical(void) {
    Rng r;
    rng_seed(&r, 26);
    int n = 4, card = 2, radix = 4, c = 64, hw = 40;
    size_t nx = (size_t)n * radix * c * hw, na = (size_t)n * radix * c;
    size_t nres = 8 * nx + na;
    real *x = randn(nx, &r, -3, 3), *a = randn(na, &r, 0, 1), *g = randn(nx, &r, -1, 1);
    real *r1 = zeros(nres), *r2 = zeros(nres);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    run_all(r1, x, a, g, n, card, radix, c, hw);
    omp_set_num_threads(2);
    run_all(r2, x, a, g, n, card, radix, c, hw);
    omp_set_num_threads(saved);
    CHECK_SAME_BITS("1 vs 2 threads", r1, r2, nres * sizeof(real));
    free(x); free(a); free(g); free(r1); free(r2);
}

int main(void) {
    RUN(test_radix_softmax_matches_timm);
    RUN(test_radix_softmax_grads);
    RUN(test_radix_sums_forward);
    RUN(test_radix_sums_grads);
    RUN(test_split_attn_chain_on_tape);
    RUN(test_threads_bit_identical);
    CHECK_MAIN_END();
}
