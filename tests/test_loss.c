/* Losses: hand-computed values, central-difference gradient checks,
 * accumulation, the autograd wrappers, and the label check. */
#include "check.h"

#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "anomaly/arena.h"
#include "anomaly/ops/loss.h"
#include "anomaly/rng.h"
#include "anomaly/tape.h"

#define MAXE 1024 /* elements of the largest test batch */

/* ---- a scalar function of one real array, for finite differences ---- */

typedef enum { F_CE, F_SMOOTH, F_ARC } FnKind;

typedef struct LossCase {
    FnKind kind;
    const int *labels;
    int n, c;
    real eps;
    int classes;
    const uint8_t *target;
    real margin, scale;
    const real *w; /* ArcFace: weights of the outputs, the scalar is sum w * out */
} LossCase;

static double eval(const LossCase *k, const real *x) {
    switch (k->kind) {
    case F_CE: return cross_entropy_forward(x, k->labels, k->n, k->c);
    case F_SMOOTH: return label_smoothing_forward(x, k->labels, k->n, k->c, k->eps, k->classes);
    case F_ARC: {
        real out[MAXE];
        arcface_forward(out, x, k->labels, k->target, k->n, k->c, k->margin, k->scale);
        double s = 0;
        for (int i = 0; i < k->n * k->c; i++) s += (double)k->w[i] * out[i];
        return s;
    }
    }
    return 0;
}

/* Analytic gradient of eval() scaled by dloss, accumulated onto `g`. */
static void analytic(const LossCase *k, real *g, const real *x, real dloss) {
    switch (k->kind) {
    case F_CE: cross_entropy_backward(g, x, k->labels, k->n, k->c, dloss); break;
    case F_SMOOTH:
        label_smoothing_backward(g, x, k->labels, k->n, k->c, k->eps, k->classes, dloss);
        break;
    case F_ARC: {
        real dout[MAXE];
        for (int i = 0; i < k->n * k->c; i++) dout[i] = dloss * k->w[i];
        arcface_backward(g, dout, x, k->labels, k->target, k->n, k->c, k->margin, k->scale);
        break;
    }
    }
}

/* Central differences with the steps actually representable in `real`. A
 * step never exceeds `near` times the distance of x to +-1 when near > 0
 * (ArcFace's cosines), so it cannot cross the acos guard. */
static void numeric(const LossCase *k, double *out, real *x, double h, double near) {
    for (int i = 0; i < k->n * k->c; i++) {
        real x0 = x[i];
        double hi = h;
        if (near > 0 && near * (1 - fabs((double)x0)) < hi) hi = near * (1 - fabs((double)x0));
        x[i] = (real)(x0 + hi);
        double up = (double)x[i] - x0, fp = eval(k, x);
        x[i] = (real)(x0 - hi);
        double dn = x0 - (double)x[i], fm = eval(k, x);
        x[i] = x0;
        out[i] = (fp - fm) / (up + dn);
    }
}

/* Compares dloss * numeric gradient with the analytic one; the analytic
 * gradient lands on a buffer of ones to check that backward accumulates. */
static void gradcheck(const char *what, const LossCase *k, real *x, double h, double near,
                      double tol) {
    const real dloss = (real)0.75;
    int m = k->n * k->c;
    double num[MAXE], got[MAXE];
    real g[MAXE];
    for (int i = 0; i < m; i++) g[i] = 1;
    analytic(k, g, x, dloss);
    numeric(k, num, x, h, near);
    for (int i = 0; i < m; i++) {
        got[i] = (double)g[i] - 1;
        num[i] *= dloss;
    }
    CHECK_CLOSE_D(what, got, num, (size_t)m, tol);
}

static void random_batch(real *x, int *labels, int n, int c, uint64_t seed, double sd) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n * c; i++) x[i] = (real)(sd * rng_normal(&r));
    for (int i = 0; i < n; i++) labels[i] = (int)rng_below(&r, (uint64_t)c);
}

/* ---- cross-entropy ---- */

static void test_ce_uniform_logits_give_log_c(void) {
    const int cs[3] = {2, 7, 88}, n = 3;
    for (int t = 0; t < 3; t++) {
        int c = cs[t], labels[3] = {0, c - 1, c / 2};
        real x[3 * 88], g[3 * 88], want[3 * 88];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++) x[i * c + j] = (real)(0.37 + i); /* a constant per row */
        double loss = cross_entropy_forward(x, labels, n, c);
        CHECK(fabs(loss - log((double)c)) < 1e-12, "c = %d: loss %.17g, want log(c) = %.17g", c,
              loss, log((double)c));
        for (int i = 0; i < n * c; i++) g[i] = 0;
        cross_entropy_backward(g, x, labels, n, c, 1);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
                want[i * c + j] = (real)((1.0 / c - (j == labels[i])) / n);
        CHECK_CLOSE("uniform-logit gradient", g, want, (size_t)(n * c), TOL(1e-6, 1e-14));
    }
}

static void test_ce_hand_values(void) {
    real x[2] = {0, (real)log(3.0)};
    int one = 1;
    double loss = cross_entropy_forward(x, &one, 1, 2);
    CHECK(fabs(loss + log(0.75)) < TOL(1e-7, 1e-15), "loss %.17g, want -log(3/4)", loss);
    /* The maximum is subtracted first: exp(1000) would overflow. */
    real big[3] = {1000, 0, -1000};
    double l1 = cross_entropy_forward(big, &one, 1, 3);
    CHECK(fabs(l1 - 1000) < 1e-9, "large logits: loss %.17g, want 1000", l1);
    int zero = 0;
    double l0 = cross_entropy_forward(big, &zero, 1, 3);
    CHECK(l0 >= 0 && l0 < 1e-300 + 1e-12, "large logits: loss %.17g, want ~0", l0);
    real g[3] = {0, 0, 0};
    cross_entropy_backward(g, big, &one, 1, 3, 1);
    real want[3] = {1, -1, 0};
    CHECK_CLOSE("large-logit gradient", g, want, 3, 1e-12);
}

static void test_ce_gradcheck(void) {
    const int shapes[3][2] = {{1, 2}, {4, 5}, {6, 88}};
    for (int s = 0; s < 3; s++) {
        int n = shapes[s][0], c = shapes[s][1], labels[8];
        real x[MAXE];
        random_batch(x, labels, n, c, 10 + (uint64_t)s, 2.0);
        LossCase k = {.kind = F_CE, .labels = labels, .n = n, .c = c};
        char what[64];
        snprintf(what, sizeof what, "CE gradient n=%d c=%d", n, c);
        gradcheck(what, &k, x, TOL(1e-3, 1e-5), 0, TOL(1e-4, 1e-7));
    }
}

/* ---- label smoothing ---- */

/* -sum_j q_j log_softmax_j with the original's weights, written directly. */
static double smoothing_reference(const real *x, const int *labels, int n, int c, double eps,
                                  int classes) {
    double total = 0;
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < c; j++) s += exp((double)x[i * c + j]);
        for (int j = 0; j < c; j++) {
            double q = j == labels[i] ? 1 - eps : eps / (classes - 1);
            total -= q * ((double)x[i * c + j] - log(s));
        }
    }
    return total / n;
}

static void test_smoothing_hand_values(void) {
    int labels[4];
    real x[4 * 6];
    random_batch(x, labels, 4, 6, 3, 1.5);
    double ce = cross_entropy_forward(x, labels, 4, 6);
    double ls0 = label_smoothing_forward(x, labels, 4, 6, 0, 6);
    CHECK(fabs(ce - ls0) < 1e-13, "eps = 0 must be cross-entropy: %.17g vs %.17g", ls0, ce);
    const real eps = (real)0.1;
    const int classes_list[2] = {6, 88};
    for (int t = 0; t < 2; t++) {
        int classes = classes_list[t];
        double got = label_smoothing_forward(x, labels, 4, 6, eps, classes);
        double want = smoothing_reference(x, labels, 4, 6, eps, classes);
        CHECK(fabs(got - want) < 1e-12 * fabs(want), "classes %d: %.17g, reference %.17g", classes,
              got, want);
    }
    /* Uniform logits: every log_softmax is -log c, so the loss is log(c)
     * times the total target mass, which is 1 only when classes == c. */
    real u[2 * 5] = {0};
    int ul[2] = {0, 4};
    double mass88 = (1 - (double)eps) + 4 * (double)eps / 87;
    double l5 = label_smoothing_forward(u, ul, 2, 5, eps, 5);
    double l88 = label_smoothing_forward(u, ul, 2, 5, eps, 88);
    CHECK(fabs(l5 - log(5.0)) < 1e-12, "uniform, classes = c: %.17g, want log 5", l5);
    CHECK(fabs(l88 - mass88 * log(5.0)) < 1e-12, "uniform, classes = 88 on 5 outputs: %.17g, want %.17g",
          l88, mass88 * log(5.0));
}

static void test_smoothing_gradcheck(void) {
    const int shapes[4][3] = {{3, 4, 4}, {5, 88, 88}, {4, 6, 88}, {2, 3, 2}};
    for (int s = 0; s < 4; s++) {
        int n = shapes[s][0], c = shapes[s][1], labels[8];
        real x[MAXE];
        random_batch(x, labels, n, c, 20 + (uint64_t)s, 2.0);
        LossCase k = {.kind = F_SMOOTH, .labels = labels, .n = n, .c = c, .eps = (real)0.1,
                      .classes = shapes[s][2]};
        char what[80];
        snprintf(what, sizeof what, "smoothing gradient n=%d c=%d classes=%d", n, c, k.classes);
        gradcheck(what, &k, x, TOL(1e-3, 1e-5), 0, TOL(1e-4, 1e-7));
    }
}

/* ---- ArcFace ---- */

static void test_arcface_values(void) {
    const real s = 8, m = (real)0.1;
    /* Two samples, three classes; only label 1 is in the target set. */
    real cs[6] = {0.5f, 0.25f, -0.75f, 0.1f, 0.5f, 1.0f};
    int labels[2] = {0, 1};
    uint8_t target[3] = {0, 1, 0};
    real out[6], want[6];
    arcface_forward(out, cs, labels, target, 2, 3, m, s);
    for (int i = 0; i < 6; i++) want[i] = s * cs[i];
    want[4] = (real)(8 * cos(acos(0.5) + (double)m)); /* sample 1, true class 1 */
    CHECK_CLOSE("ArcFace with a target set", out, want, 6, TOL(1e-7, 1e-15));
    /* NULL target: every sample's true class gets the margin. */
    arcface_forward(out, cs, labels, NULL, 2, 3, m, s);
    want[0] = (real)(8 * cos(acos(0.5) + (double)m));
    CHECK_CLOSE("ArcFace without a target set", out, want, 6, TOL(1e-7, 1e-15));
    /* Cosines at and beyond +-1 are clamped before acos on margin entries
     * only; other entries stay scale * cos. */
    real edge[6] = {1.0f, (real)1.5, -1.0f, (real)-1.5, (real)-1.5, (real)1.5};
    int el[3] = {0, 0, 1};
    arcface_forward(out, edge, el, NULL, 3, 2, m, s);
    real c_m = (real)(8 * cos((double)m));
    real ew[6] = {c_m, 12, -c_m, -12, -12, c_m};
    CHECK_CLOSE("ArcFace at and beyond +-1", out, ew, 6, TOL(1e-6, 1e-15));
}

static void fill_weights(real *w, int m, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < m; i++) w[i] = (real)rng_range(&r, -1, 1);
}

static void test_arcface_gradcheck(void) {
    const int n = 6, c = 7;
    int labels[6] = {0, 1, 3, 4, 6, 3};
    uint8_t subset[7] = {0, 1, 0, 1, 1, 0, 0}, none[7] = {0};
    const uint8_t *targets[3] = {subset, NULL, none};
    const char *names[3] = {"target {1,3,4}", "NULL target", "empty target"};
    const double near = TOL(0.99, 0.9999);
    real x[42], w[42];
    Rng r;
    rng_seed(&r, 5);
    for (int i = 0; i < n * c; i++) x[i] = (real)rng_range(&r, -0.9, 0.9);
    /* True-class cosines close to +-1, where acos is steepest. */
    x[0 * c + 0] = (real)near;
    x[1 * c + 1] = (real)-near;
    x[2 * c + 3] = (real)near;
    x[3 * c + 4] = (real)(-near);
    fill_weights(w, n * c, 6);
    for (int t = 0; t < 3; t++) {
        LossCase k = {.kind = F_ARC, .labels = labels, .n = n, .c = c, .target = targets[t],
                      .margin = (real)0.1, .scale = 8, .w = w};
        char what[64];
        snprintf(what, sizeof what, "ArcFace gradient, %s", names[t]);
        gradcheck(what, &k, x, TOL(1e-3, 1e-6), TOL(0.1, 1e-3), TOL(2e-3, 1e-6));
    }
}

/* At and beyond +-1 the slope is the one at +-(1 - 1e-7): large but finite. */
static void test_arcface_guard_at_pm1(void) {
    real x[4] = {1.0f, -1.0f, (real)1.5, (real)-1.5}, dout[4] = {1, 1, 1, 1}, g[4] = {0};
    int labels[4] = {0, 0, 0, 0};
    arcface_backward(g, dout, x, labels, NULL, 4, 1, (real)0.1, 8);
    double a = 1 - 1e-7, root = sqrt((1 - a) * (1 + a));
    double want[4] = {8 * sin(acos(a) + 0.1) / root, 8 * sin(acos(-a) + 0.1) / root, 0, 0};
    want[2] = want[0];
    want[3] = want[1];
    double got[4];
    for (int i = 0; i < 4; i++) got[i] = g[i];
    CHECK_CLOSE_D("guarded ArcFace slope", got, want, 4, TOL(1e-6, 1e-12));
    CHECK(got[0] > 1000 && got[0] < 2000, "slope at +1 is %g", got[0]);
}

/* ---- autograd ---- */

/* cos -> ArcFace -> label smoothing (the 88-class quirk) on a tape, seeded
 * with dloss = 2, against the kernels called by hand; then cross-entropy. */
static void test_autograd_matches_kernels(void) {
    enum { N = 4, C = 5 };
    Arena a;
    arena_init(&a, 1 << 16);
    Tape t;
    tape_init(&t, &a);
    t.recording = 1;
    int labels[N] = {0, 2, 4, 2};
    uint8_t target[C] = {0, 0, 1, 0, 1};
    real cs[N * C];
    Rng r;
    rng_seed(&r, 9);
    for (int i = 0; i < N * C; i++) cs[i] = (real)rng_range(&r, -0.95, 0.95);
    Tensor *x = tape_wrap(&t, cs, N, C, 1, 1);
    x->requires_grad = 1;
    Tensor *logits = ag_arcface(&t, x, labels, target, (real)0.1, 8);
    labels[0] = 3; /* the tape must have kept its own copy */
    Tensor *loss = ag_label_smoothing(&t, logits, (int[]){0, 2, 4, 2}, (real)0.1, 88);
    labels[0] = 0;
    CHECK(loss->n == 1 && loss->c == 1 && loss->h == 1 && loss->w == 1, "loss must be [1,1,1,1]");
    /* the outputs before backward, which may reuse their memory */
    real want_logits[N * C], dlog[N * C] = {0}, dcos[N * C] = {0};
    arcface_forward(want_logits, cs, labels, target, N, C, (real)0.1, 8);
    CHECK_CLOSE("ArcFace output", logits->data, want_logits, N * C, 0);
    double lv = label_smoothing_forward(want_logits, labels, N, C, (real)0.1, 88);
    CHECK(loss->data[0] == (real)lv, "loss %.9g, kernel %.9g", (double)loss->data[0], lv);
    tape_backward(&t, loss, 2);
    label_smoothing_backward(dlog, want_logits, labels, N, C, (real)0.1, 88, 2);
    arcface_backward(dcos, dlog, cs, labels, target, N, C, (real)0.1, 8);
    CHECK(x->grad != NULL, "no gradient reached the cosines");
    if (x->grad) CHECK_CLOSE("d loss / d cos", x->grad, dcos, N * C, 0);

    tape_reset(&t);
    t.recording = 1;
    x = tape_wrap(&t, cs, N, C, 1, 1);
    x->requires_grad = 1;
    loss = ag_cross_entropy(&t, x, labels);
    CHECK(loss->data[0] == (real)cross_entropy_forward(cs, labels, N, C), "CE value");
    tape_backward(&t, loss, 1);
    real dce[N * C] = {0};
    cross_entropy_backward(dce, cs, labels, N, C, 1);
    if (x->grad) CHECK_CLOSE("d CE / d logits", x->grad, dce, N * C, 0);

    /* Inference: the same value, nothing recorded. */
    tape_reset(&t);
    t.recording = 0;
    x = tape_wrap(&t, cs, N, C, 1, 1);
    Tensor *l2 = ag_cross_entropy(&t, x, labels);
    CHECK(t.count == 0 && l2->data[0] == loss->data[0], "inference must not record");
    tape_free(&t);
    arena_free(&a);
}

/* ---- bad labels ---- */

/* Runs one loss on a label equal to c in a child process; it must exit with
 * status 1 and say which label was wrong. */
static void expect_label_error(int which) {
    int fd[2];
    if (pipe(fd) != 0) {
        CHECK(0, "pipe failed");
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        real x[6] = {0}, out[6];
        int labels[2] = {1, 3};
        if (which == 0) cross_entropy_forward(x, labels, 2, 3);
        if (which == 1) label_smoothing_forward(x, labels, 2, 3, (real)0.1, 88);
        if (which == 2) arcface_forward(out, x, labels, NULL, 2, 3, (real)0.1, 8);
        _exit(0);
    }
    close(fd[1]);
    char msg[512] = {0};
    size_t got = 0;
    ssize_t r;
    while (got < sizeof msg - 1 && (r = read(fd[0], msg + got, sizeof msg - 1 - got)) > 0)
        got += (size_t)r;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1, "loss %d: a bad label must be fatal",
          which);
    CHECK(strstr(msg, "label 3") && strstr(msg, "[0, 3)"), "loss %d: unclear message: %s", which,
          msg);
}

static void test_bad_label_is_fatal(void) {
    for (int which = 0; which < 3; which++) expect_label_error(which);
}

int main(void) {
    RUN(test_ce_uniform_logits_give_log_c);
    RUN(test_ce_hand_values);
    RUN(test_ce_gradcheck);
    RUN(test_smoothing_hand_values);
    RUN(test_smoothing_gradcheck);
    RUN(test_arcface_values);
    RUN(test_arcface_gradcheck);
    RUN(test_arcface_guard_at_pm1);
    RUN(test_autograd_matches_kernels);
    RUN(test_bad_label_is_fatal);
    CHECK_MAIN_END();
}
