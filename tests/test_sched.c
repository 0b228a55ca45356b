/* Learning-rate schedulers against PyTorch 1.13's lr sequences (fixtures
 * written by tools/make_sched_fixtures.py into tests/fixtures/sched/), the
 * state round trip, and the early-stopping counter. */
#include "check.h"

#include "anomaly/sched.h"

#define FIXTURE_DIR "tests/fixtures/sched/"
#define MAX_EPOCHS 256

typedef struct Seq {
    char kind[16];
    double a[3];               /* lr, factor|step_size, patience|gamma */
    int n;
    double metric[MAX_EPOCHS], lr[MAX_EPOCHS];
} Seq;

static int read_seq(const char *name, Seq *s) {
    char path[256], line[512];
    snprintf(path, sizeof path, FIXTURE_DIR "%s.txt", name);
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    int header = 0;
    s->n = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#') continue;
        if (!header) {
            header = sscanf(line, "%15s %lf %lf %lf", s->kind, &s->a[0], &s->a[1], &s->a[2]) == 4;
            if (!header) break;
            continue;
        }
        if (s->n == MAX_EPOCHS) break;
        /* strtod reads nan and inf, which scanf also does, but keep one path */
        char *end;
        s->metric[s->n] = strtod(line, &end);
        s->lr[s->n] = strtod(end, NULL);
        s->n++;
    }
    fclose(fp);
    return header && s->n > 0;
}

static const char *const cases[] = {
    "reduce_default", "reduce_patience0", "reduce_patience2_noisy", "reduce_eps_floor", "reduce_nan",
    "step_default", "step_3_half", "step_1",
};

/* Every epoch's lr must be PyTorch's double, bit for bit. Halfway through,
 * the state goes through sched_format / sched_parse, as on resume. */
static void test_against_pytorch(void) {
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Seq q;
        if (!read_seq(cases[c], &q)) {
            CHECK(0, "cannot read " FIXTURE_DIR "%s.txt (run from the repository root)", cases[c]);
            continue;
        }
        Sched s;
        if (strcmp(q.kind, "reduce") == 0) sched_init_reduce(&s, q.a[0], q.a[1], (int)q.a[2]);
        else sched_init_step(&s, q.a[0], (int)q.a[1], q.a[2]);
        int first_bad = -1, changes = 0;
        double got_bad = 0;
        for (int e = 0; e < q.n; e++) {
            double before = s.lr;
            sched_step(&s, q.metric[e]);
            if (s.lr != before) changes++;
            if (s.lr != q.lr[e] && first_bad < 0) {
                first_bad = e;
                got_bad = s.lr;
            }
            if (e == q.n / 2) {
                char buf[512], buf2[512], err[256];
                sched_format(buf, sizeof buf, &s);
                Sched t;
                memset(&t, 0xff, sizeof t);
                CHECK(sched_parse(&t, buf, err, sizeof err) == 0, "%s: %s", cases[c], err);
                sched_format(buf2, sizeof buf2, &t);
                CHECK(strcmp(buf, buf2) == 0 && t.lr == s.lr && t.best == s.best && t.kind == s.kind,
                      "%s: round trip of '%s' gave '%s'", cases[c], buf, buf2);
                s = t;
            }
        }
        CHECK(first_bad < 0, "%s: epoch %d lr %.17g, PyTorch %.17g", cases[c], first_bad, got_bad,
              first_bad < 0 ? 0 : q.lr[first_bad]);
        CHECK(changes > 0, "%s: the sequence never changes the lr, so it tests nothing", cases[c]);
    }
}

static void test_reduce_rules(void) {
    /* patience 2: three bad epochs in a row reduce, the counter restarts. */
    Sched s;
    sched_init_reduce(&s, 1.0, 0.5, 2);
    double m[] = {1.0, 1.0, 1.0, 1.0, 0.99995, 0.9, 0.9, 0.9, 0.9};
    double want[] = {1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25};
    for (int e = 0; e < 9; e++) {
        sched_step(&s, m[e]);
        CHECK(s.lr == want[e], "epoch %d: lr %g, want %g (bad epochs %d)", e, s.lr, want[e], s.num_bad_epochs);
        if (e == 4) CHECK(s.num_bad_epochs == 1 && s.best == 1.0, "0.99995 must count as a bad epoch");
    }
    /* 0.99995 is below the best 1.0 but not by the 1e-4 relative threshold. */
    CHECK(s.best == 0.9, "best %g", s.best);
    CHECK(sched_kind_from_name("Reduce") == SCHED_REDUCE && sched_kind_from_name("Step") == SCHED_STEP &&
              sched_kind_from_name("step") == -1,
          "scheduler names are the original's --scheduler values");
}

static void test_parse_errors(void) {
    Sched s;
    char err[256];
    CHECK(sched_parse(&s, "kind=Reduce lr=1", err, sizeof err) == -1 && strstr(err, "missing"), "%s", err);
    CHECK(sched_parse(&s, "kind=Plateau", err, sizeof err) == -1 && strstr(err, "unknown kind"), "%s", err);
    char buf[512];
    Sched t;
    sched_init_reduce(&t, 5e-5, 0.1, 5);
    sched_format(buf, sizeof buf, &t);
    CHECK(strstr(buf, "best=inf") != NULL, "inf must be written as inf: %s", buf);
    strcat(buf, " extra=1");
    CHECK(sched_parse(&s, buf, err, sizeof err) == -1 && strstr(err, "unknown key 'extra'"), "%s", err);
}

static void test_early_stop(void) {
    EarlyStop e;
    early_stop_init(&e, 3);
    double v[] = {1.0, 0.8, 0.8, 0.9, 0.7, 0.75, 0.71, 0.7};
    int improved[] = {1, 1, 0, 0, 1, 0, 0, 0};
    int done[] = {0, 0, 0, 0, 0, 0, 0, 1};
    for (int i = 0; i < 8; i++) {
        CHECK(early_stop_update(&e, v[i]) == improved[i], "epoch %d improved?", i);
        CHECK(early_stop_done(&e) == done[i], "epoch %d done? bad %d", i, e.bad_epochs);
    }
}

int main(void) {
    RUN(test_against_pytorch);
    RUN(test_reduce_rules);
    RUN(test_parse_errors);
    RUN(test_early_stop);
    CHECK_MAIN_END();
}
