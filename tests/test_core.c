/* Core pieces: arena, parameter table, tape, RNG. */
#include "check.h"

#include <stdint.h>

#include "anomaly/arena.h"
#include "anomaly/params.h"
#include "anomaly/rng.h"
#include "anomaly/tape.h"

static void test_arena_reuses_chunks(void) {
    Arena a;
    arena_init(&a, 1024);
    char *p = arena_alloc(&a, 100);
    CHECK(((uintptr_t)p & 63) == 0, "allocation not 64-byte aligned");
    char *big = arena_alloc(&a, (size_t)70 << 20); /* overflows into a chunk */
    CHECK(a.extra != NULL, "expected an overflow chunk");
    const size_t peak = a.peak;
    arena_reset(&a);
    CHECK(a.extra == NULL && a.spare != NULL && a.used == 0, "reset must keep the chunk as a spare");
    char *base = a.base;
    CHECK(arena_alloc(&a, 100) == p && a.base == base, "the second step starts in the same block");
    CHECK(arena_alloc(&a, (size_t)70 << 20) == big && a.spare == NULL,
          "the second step of the same shape must reuse the chunk, not allocate");
    CHECK(a.peak == peak, "peak %zu, expected %zu", a.peak, peak);
    ArenaMark m = arena_mark(&a);
    char *x = arena_alloc(&a, 4096);        /* the first chunk is full: a second */
    char *y = arena_alloc(&a, (size_t)64 << 20); /* and a third */
    arena_release(&a, m);
    ArenaMark r = arena_mark(&a);
    CHECK(r.extra == m.extra && r.extra_used == m.extra_used && a.spare != NULL,
          "release must rewind and keep the later chunks as spares");
    CHECK(arena_alloc(&a, (size_t)10 << 20) == x, "an overflow must reuse a spare");
    CHECK(arena_alloc(&a, (size_t)60 << 20) == y, "an overflow must reuse the spare that fits");
    arena_release(&a, m);
    arena_alloc(&a, (size_t)100 << 20); /* fits no spare: a new chunk */
    CHECK(a.spare == NULL, "spares that fit nothing go back before a new chunk");
    arena_free(&a);
}

static void test_params_layout(void) {
    ParamTable t;
    params_init(&t);
    int s4[4] = {8, 3, 3, 3}, s1[1] = {8};
    int w = params_add(&t, "conv.weight", PARAM_TRAINABLE, 4, s4);
    int g = params_add(&t, "bn.weight", PARAM_TRAINABLE, 1, s1);
    int rm = params_add(&t, "bn.running_mean", PARAM_BUFFER, 1, s1);
    int nb = params_add(&t, "bn.num_batches_tracked", PARAM_COUNTER, 0, NULL);
    params_finalize(&t);
    CHECK(t.n_param == 216 + 8, "n_param %zu", t.n_param);
    CHECK(t.n_buffer == 8 && t.n_counter == 1, "buffers %zu counters %zu", t.n_buffer, t.n_counter);
    CHECK(params_data(&t, g) == t.param + 216, "trainables are contiguous in registration order");
    CHECK(params_data(&t, rm) == t.buffer, "buffers live apart from trainables");
    CHECK(params_find(&t, "bn.num_batches_tracked") == nb, "lookup by name");
    Tensor x = params_tensor(&t, w);
    CHECK(x.n == 8 && x.c == 3 && x.h == 3 && x.w == 3 && x.grad == t.grad, "tensor view of conv.weight");
    params_free(&t);
}

static void square_backward(Tape *t, void *ctx) {
    Tensor **io = ctx; /* y = x * x */
    real *gx = tape_grad(t, io[0]);
    for (size_t i = 0; i < tensor_numel(io[0]); i++) gx[i] += 2 * io[0]->data[i] * io[1]->grad[i];
}

static void test_tape_accumulates(void) {
    Arena a;
    arena_init(&a, 1 << 16);
    Tape t;
    tape_init(&t, &a);
    t.recording = 1;
    real xv[3] = {1, -2, 3};
    Tensor *x = tape_wrap(&t, xv, 1, 3, 1, 1);
    x->requires_grad = 1;
    /* y = x^2 used twice: loss = sum(y) + sum(y) -> d/dx = 4x */
    Tensor *y = tape_tensor(&t, 1, 3, 1, 1);
    for (int i = 0; i < 3; i++) y->data[i] = xv[i] * xv[i];
    Tensor **io = tape_ctx(&t, 2 * sizeof *io);
    io[0] = x;
    io[1] = y;
    tape_push(&t, "square", square_backward, io);
    real *gy = tape_grad(&t, y);
    for (int i = 0; i < 3; i++) gy[i] = 2; /* two uses of y */
    for (int i = t.count - 1; i >= 0; i--) t.nodes[i].backward(&t, t.nodes[i].ctx);
    real want[3] = {4, -8, 12};
    CHECK_CLOSE("dx", x->grad, want, 3, 0);
    tape_reset(&t);
    CHECK(t.count == 0 && a.used == 0, "reset empties the tape and the arena");
    tape_free(&t);
    arena_free(&a);
}

static void test_rng_streams(void) {
    Rng a, b, c;
    rng_stream(&a, 42, 1, 2);
    rng_stream(&b, 42, 1, 2);
    rng_stream(&c, 42, 2, 1);
    uint64_t x = rng_u64(&a);
    CHECK(x == rng_u64(&b), "same key, same stream");
    CHECK(x != rng_u64(&c), "swapped key words give another stream");
    Rng r;
    rng_seed(&r, 7);
    double sum = 0, sq = 0;
    int n = 200000, below[5] = {0};
    for (int i = 0; i < n; i++) {
        double u = rng_uniform(&r);
        CHECK(u >= 0 && u < 1, "uniform out of range: %g", u);
        sum += u;
        sq += u * u;
        below[rng_below(&r, 5)]++;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    CHECK(fabs(mean - 0.5) < 0.005 && fabs(var - 1.0 / 12) < 0.002, "uniform mean %g var %g", mean, var);
    for (int k = 0; k < 5; k++) CHECK(abs(below[k] - n / 5) < 1500, "rng_below bucket %d has %d", k, below[k]);
}

int main(void) {
    RUN(test_arena_reuses_chunks);
    RUN(test_params_layout);
    RUN(test_tape_accumulates);
    RUN(test_rng_streams);
    CHECK_MAIN_END();
}
