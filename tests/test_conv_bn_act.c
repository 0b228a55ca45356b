/* Inference's convolution + BatchNorm + activation kernels
 * (conv2d_forward_bn_act, depthwise_conv2d_forward_bn_act): the same bits
 * as the convolution followed by batchnorm2d_act_recompute, for every tile
 * layout of the convolution (1x1 bands, im2col bands, several images per
 * tile, row blocks, the grouped direct kernel), the depthwise kernel's
 * plane and small-plane paths, with and without bias, swish and ReLU, on
 * every instruction-set level this CPU has, at 1 and 2 threads, and in the
 * exact mode. */
#include "check.h"

#include <omp.h>
#include <stdint.h>

#include "anomaly/exact.h"
#include "anomaly/isa.h"
#include "anomaly/ops.h"
#include "anomaly/ops/depthwise.h"
#include "anomaly/ops/fused.h"
#include "anomaly/rng.h"

typedef struct Geo {
    const char *what;
    int n, c, h, w, oc, k, stride, pad, groups, bias;
} Geo;

static const Geo GEOS[] = {
    {"1x1 images per tile (2)", 2, 16, 40, 40, 24, 1, 1, 0, 1, 0},
    {"1x1 bands of the input itself", 2, 16, 80, 80, 24, 1, 1, 0, 1, 1},
    {"3x3 im2col bands, partial last", 2, 8, 70, 70, 12, 3, 1, 1, 1, 0},
    {"1x1 images per tile", 8, 24, 7, 7, 40, 1, 1, 0, 1, 1},
    {"3x3 stride 2 im2col, images per tile", 2, 8, 33, 31, 16, 3, 2, 1, 1, 1},
    {"3x3 row blocks, one image", 1, 32, 9, 9, 70, 3, 1, 1, 1, 0},
    {"grouped 3x3 (direct kernel)", 2, 64, 12, 12, 64, 3, 1, 1, 32, 0},
    {"grouped 1x1", 3, 12, 10, 10, 18, 1, 1, 0, 3, 1},
    {"depthwise 5x5 planes", 2, 20, 23, 23, 20, 5, 1, 2, 20, 0},
    {"depthwise 3x3 stride 2", 2, 12, 30, 30, 12, 3, 2, 1, 12, 1},
    {"depthwise small planes", 3, 21, 6, 6, 21, 3, 1, 1, 21, 0},
};

static Conv2dShape shape_of(const Geo *g) {
    Conv2dShape s = {0};
    s.n = g->n;
    s.c = g->c;
    s.h = g->h;
    s.w = g->w;
    s.oc = g->oc;
    s.kh = s.kw = g->k;
    s.sh = s.sw = g->stride;
    s.dh = s.dw = 1;
    s.pad_t = s.pad_b = s.pad_l = s.pad_r = g->pad;
    s.groups = g->groups;
    char err[200];
    if (conv2d_shape_resolve(&s, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", g->what, err);
        exit(2);
    }
    return s;
}

static int is_depthwise(const Geo *g) { return g->groups == g->c && g->oc == g->c; }

/* y = conv(x) through the kernel the fused op stands beside */
static void conv_plain(real *y, const real *x, const real *w, const real *b, const Geo *g,
                       const Conv2dShape *s) {
    if (is_depthwise(g)) {
        depthwise_conv2d_forward(y, x, w, b, s);
        return;
    }
    void *work = malloc(conv2d_forward_workspace_bytes(s) + 64);
    conv2d_forward(y, x, w, b, s, work);
    free(work);
}

static void conv_fused(real *y, const real *x, const real *w, const real *b, const Geo *g,
                       const Conv2dShape *s, const real *affine, BnAct act) {
    if (is_depthwise(g)) {
        depthwise_conv2d_forward_bn_act(y, x, w, b, s, affine, act);
        return;
    }
    void *work = malloc(conv2d_forward_workspace_bytes(s) + 64);
    conv2d_forward_bn_act(y, x, w, b, s, work, affine, act);
    free(work);
}

/* One geometry and activation at the current level, thread count and mode:
 * fused output against the two kernels', bit for bit. */
static void check_geo(const Geo *g, BnAct act, const char *where) {
    const Conv2dShape s = shape_of(g);
    const size_t nx = (size_t)s.n * s.c * s.h * s.w, ny = (size_t)s.n * s.oc * s.oh * s.ow;
    const size_t nw = (size_t)s.oc * (s.c / s.groups) * s.kh * s.kw;
    real *x = new_real(nx), *w = new_real(nw), *b = new_real(s.oc);
    real *affine = new_real(2 * (size_t)s.oc), *want = new_real(ny), *got = new_real(ny);
    Rng r;
    rng_seed(&r, 7 + (uint64_t)s.oc * 31 + s.h);
    fill_uniform(x, nx, &r, -2, 2);
    fill_uniform(w, nw, &r, -0.5, 0.5);
    fill_uniform(b, s.oc, &r, -0.3, 0.3);
    fill_uniform(affine, s.oc, &r, 0.2, 1.8);          /* scale */
    fill_uniform(affine + s.oc, s.oc, &r, -0.6, 0.6);  /* shift */
    const real *bias = g->bias ? b : NULL;
    conv_plain(want, x, w, bias, g, &s);
    const BatchNormShape bs = {s.n, s.oc, s.oh * s.ow, 0, 0};
    batchnorm2d_act_recompute(want, want, affine, &bs, act);
    for (size_t i = 0; i < ny; i++) got[i] = (real)12345; /* every value must be written */
    conv_fused(got, x, w, bias, g, &s, affine, act);
    char what[200];
    snprintf(what, sizeof what, "%s, %s, %s", g->what, act == BN_ACT_SWISH ? "swish" : "relu",
             where);
    CHECK_SAME_BITS(what, got, want, ny * sizeof(real));
    free(x), free(w), free(b), free(affine), free(want), free(got);
}

static void check_all(const char *where) {
    for (size_t i = 0; i < sizeof GEOS / sizeof GEOS[0]; i++) {
        check_geo(&GEOS[i], BN_ACT_SWISH, where);
        check_geo(&GEOS[i], BN_ACT_RELU, where);
    }
}

static void test_fused_matches_two_kernels(void) {
    const IsaLevel keep = isa_level();
    const IsaLevel levels[] = {ISA_GENERIC, ISA_AVX2, ISA_AVX512};
    const int threads = omp_get_max_threads();
    int ran = 0;
    for (int i = 0; i < 3; i++) {
        if (levels[i] > isa_cpu_level() || isa_force(levels[i]) != 0) continue;
        for (int t = 1; t <= 2; t++) {
            omp_set_num_threads(t);
            char where[64];
            snprintf(where, sizeof where, "%s, %d thread(s)", isa_name(levels[i]), t);
            check_all(where);
        }
        ran++;
    }
    omp_set_num_threads(threads);
    isa_force(keep);
    CHECK(ran >= 1, "no instruction-set level could be forced");
}

static void test_fused_exact_mode(void) {
    exact_mode_set(1);
    check_all("exact mode");
    exact_mode_set(0);
}

int main(void) {
    RUN(test_fused_matches_two_kernels);
    RUN(test_fused_exact_mode);
    CHECK_MAIN_END();
}
