/* PyTorch .pth files (torch.save's zip format) read without Python, through
 * safetensors_open. Fixtures from tools/make_pth_fixtures.py: every dtype,
 * 0-d tensors, non-contiguous and offset views, shared storages, an empty
 * tensor; deflated entries; ZIP64 fields and end records; a pickle
 * calling posix.system; truncated and corrupted copies. */
#include "check.h"
#include "tmpdir.h"

#include <math.h>
#include <string.h>

#include "anomaly/ensemble.h"
#include "anomaly/safetensors.h"

#define FIX "tests/fixtures/pth/"

/* Both files hold the same tensors, in the same order, bit for bit. */
static void same_tensors(const char *got_path, const char *ref_path) {
    SafeTensors got, ref;
    char err[512];
    if (safetensors_open(got_path, &got, err, sizeof err)) {
        CHECK(0, "%s", err);
        return;
    }
    if (safetensors_open(ref_path, &ref, err, sizeof err)) {
        CHECK(0, "%s", err);
        safetensors_close(&got);
        return;
    }
    CHECK(got.count == ref.count, "%s: %d tensors, the reference %d", got_path, got.count, ref.count);
    for (int i = 0; i < got.count && i < ref.count; i++) {
        const StTensor *a = &got.tensors[i], *b = &ref.tensors[i];
        int same = strcmp(a->name, b->name) == 0 && a->dtype == b->dtype && a->ndim == b->ndim &&
                   a->nbytes == b->nbytes && memcmp(a->data, b->data, a->nbytes) == 0;
        for (int d = 0; same && d < a->ndim; d++) same = a->shape[d] == b->shape[d];
        CHECK(same, "%s: tensor %d (%s, %s) differs from the reference (%s, %s)", got_path, i, a->name,
              st_dtype_name(a->dtype), b->name, st_dtype_name(b->dtype));
    }
    safetensors_close(&got);
    safetensors_close(&ref);
}

static void test_dtypes_views_and_shared_storages(void) {
    same_tensors(FIX "state.pth", FIX "state_ref.safetensors");
    SafeTensors st;
    char err[512];
    if (safetensors_open(FIX "state.pth", &st, err, sizeof err)) return;
    const StTensor *s = safetensors_find(&st, "scalar"), *c = safetensors_find(&st, "bn.num_batches_tracked");
    float v = 0;
    int64_t k = 0;
    if (s) memcpy(&v, s->data, 4);
    if (c) memcpy(&k, c->data, 8);
    CHECK(s && s->ndim == 0 && s->dtype == ST_F32 && v == 2.5f, "0-d float32 tensor 2.5");
    CHECK(c && c->ndim == 0 && c->dtype == ST_I64 && k == 17, "0-d int64 counter 17");
    const StTensor *t = safetensors_find(&st, "transposed");
    CHECK(t && t->ndim == 2 && t->shape[0] == 6 && t->shape[1] == 4, "transposed view keeps its shape [6, 4]");
    safetensors_close(&st);
}

static void test_deflated_zip64(void) {
    same_tensors(FIX "deflated.pth", FIX "state_ref.safetensors");
    same_tensors(FIX "zip64.pth", FIX "state_ref.safetensors"); /* ZIP64 central directory and end records */
}

static void test_lone_tensor(void) {
    SafeTensors st;
    char err[512];
    if (safetensors_open(FIX "features.pth", &st, err, sizeof err)) {
        CHECK(0, "%s", err);
        return;
    }
    const StTensor *t = safetensors_find(&st, "tensor");
    CHECK(st.count == 1 && t && t->ndim == 3 && t->shape[0] == 3 && t->shape[1] == 4 && t->shape[2] == 5,
          "a bare tensor reads as one tensor named 'tensor' [3, 4, 5]");
    if (t && t->numel == 60) {
        float x;
        memcpy(&x, t->data + 4 * 59, 4);
        CHECK(x == 59.0f / 7.0f, "last element 59/7, got %.9g", x);
    }
    safetensors_close(&st);
}

static void test_other_globals_refused(void) {
    SafeTensors st;
    char err[512] = "";
    CHECK(safetensors_open(FIX "evil.pth", &st, err, sizeof err) == -1, "a pickle calling posix.system must fail");
    CHECK(strstr(err, "global posix.system is not allowed") && strstr(err, "evil.pth"), "message: %s", err);
    CHECK(safetensors_open(FIX "legacy.pth", &st, err, sizeof err) == -1 && strstr(err, "legacy (pre-1.6) format"),
          "message: %s", err);
}

static void test_truncated_and_corrupted(void) {
    size_t n;
    uint8_t *b = read_bytes(FIX "state.pth", &n);
    if (!b) {
        CHECK(0, "cannot read state.pth");
        return;
    }
    const char *p = tmp_path("cut.pth");
    SafeTensors st;
    char err[512];
    int refused = 0, tried = 0;
    for (size_t len = 0; len < n; len += len < 64 || len > n - 64 ? 1 : 97) {
        write_bytes(p, b, len);
        tried++;
        if (safetensors_open(p, &st, err, sizeof err) == 0) safetensors_close(&st);
        else refused += err[0] != 0;
    }
    CHECK(refused == tried, "%d of %d truncated copies refused", refused, tried);
    write_bytes(p, b, n - 30);
    CHECK(safetensors_open(p, &st, err, sizeof err) == -1 && strstr(err, "truncated"), "message: %s", err);
    /* A changed storage byte: the CRC-32 check names the entry. */
    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    size_t at = 0; /* the first storage entry's local header name, then 60 bytes on */
    for (size_t i = 0; i + 7 < n && !at; i++)
        if (memcmp(b + i, "/data/0", 7) == 0) at = i + 60;
    CHECK(at && at < n, "state.pth has a data/0 entry");
    c[at < n ? at : 0] ^= 0xff;
    write_bytes(p, c, n);
    CHECK(safetensors_open(p, &st, err, sizeof err) == -1 && strstr(err, "CRC-32"), "message: %s", err);
    /* Single-byte changes all over the file: an error or a file, never a
     * crash (many land in the alignment padding torch writes, and load). */
    int refused_some = 0;
    for (size_t i = 0; i < n; i += 3) {
        memcpy(c, b, n);
        c[i] ^= 0x5a;
        write_bytes(p, c, n);
        if (safetensors_open(p, &st, err, sizeof err) == 0) safetensors_close(&st);
        else refused_some = 1;
    }
    CHECK(refused_some, "no corrupted copy was refused");
    free(c);
    free(b);
}

/* The seed's real feature tensor, read from ../shared or ../../shared (the
 * shared folder beside the checkout) when it is there. */
static void test_seed_features(void) {
    static const char *const where[] = {"shared/seed/results/features_92(576).pth",
                                        "../shared/seed/results/features_92(576).pth",
                                        "../../shared/seed/results/features_92(576).pth"};
    const char *path = NULL;
    for (size_t i = 0; i < sizeof where / sizeof where[0] && !path; i++)
        if (access(where[i], R_OK) == 0) path = where[i];
    if (!path) {
        check_skip("the seed's features_92(576).pth is not in shared/seed/results beside the checkout");
        return;
    }
    SafeTensors st;
    char err[512];
    if (safetensors_open(path, &st, err, sizeof err)) {
        CHECK(0, "%s", err);
        return;
    }
    const StTensor *t = safetensors_find(&st, "tensor");
    CHECK(t && t->dtype == ST_F32 && t->ndim == 3 && t->shape[0] == 5 && t->shape[1] == 2154 && t->shape[2] == 88,
          "features_92 is float32 [5, 2154, 88]");
    if (t && t->numel == (size_t)5 * 2154 * 88) {
        size_t finite = 0;
        float lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < t->numel; i++) {
            float x;
            memcpy(&x, t->data + 4 * i, 4);
            finite += isfinite(x) != 0;
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
        /* ArcFace logits are scale 8 times a cosine */
        CHECK(finite == t->numel && lo >= -8.001f && hi <= 8.001f && hi - lo > 1,
              "finite ArcFace logits within [-8, 8]: %zu finite, range [%g, %g]", finite, lo, hi);
    }
    safetensors_close(&st);
}

static void write_text(const char *name, const char *text) {
    FILE *fp = fopen(tmp_path(name), "wb");
    if (!fp) exit(1);
    fputs(text, fp);
    fclose(fp);
}

/* An ensemble recipe's load() takes a features .pth as torch.save wrote it:
 * features.pth is arange(60)/7 as [3 folds, 4 rows, 5 labels], so every
 * row's mean peaks at the last label. */
static void test_recipe_loads_pth(void) {
    size_t n;
    uint8_t *b = read_bytes(FIX "features.pth", &n);
    if (!b) {
        CHECK(0, "cannot read features.pth");
        return;
    }
    write_bytes(tmp_path("features_1.pth"), b, n);
    free(b);
    write_text("train.csv", "index,file_name,class,state,label\n0,a.png,a,good,a-good\n1,b.png,b,good,b-good\n"
               "2,c.png,c,good,c-good\n3,d.png,d,good,d-good\n4,e.png,e,good,e-good\n");
    write_text("sub.csv", "index,label\n0,x\n1,x\n2,x\n3,x\n");
    char err[1024];
    Recipe *r = recipe_parse("t.recipe", "labels train.csv\nrows sub.csv\nlet f = load(features_1.pth)\n"
                             "let x = decode(mean(f))\nwrite x to o.csv\n", err, sizeof err);
    CHECK(r != NULL, "%s", err);
    if (!r) return;
    EnsembleOptions opt = {tmpdir, NULL, NULL};
    EnsembleResult res;
    int rc = recipe_run(r, &opt, &res, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        for (size_t i = 0; i < res.n_rows; i++)
            CHECK(strcmp(res.label[i], "e-good") == 0, "row %zu: %s", i, res.label[i]);
        ensemble_result_free(&res);
    }
    recipe_free(r);
}

int main(void) {
    tmpdir_create("pth");
    RUN(test_dtypes_views_and_shared_storages);
    RUN(test_deflated_zip64);
    RUN(test_lone_tensor);
    RUN(test_other_globals_refused);
    RUN(test_truncated_and_corrupted);
    RUN(test_seed_features);
    RUN(test_recipe_loads_pth);
    tmpdir_remove();
    CHECK_MAIN_END();
}
