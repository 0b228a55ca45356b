/* Does Grad-CAM look at the defect? For a model trained on the look-alike
 * data (ANOMALY_CAM_EXP=demo_out/results/1 after make demo; without it the
 * test skips, as it takes minutes on a busy machine), 50 fresh defective images are rendered next to their class's
 * good image from the same scene streams: the pixels that differ are the
 * planted defect. The map of the true label is taken, and its hottest cell
 * counts as a hit when the defect reaches into it. The rate is printed
 * beside chance (the share of cells the defect reaches), and must beat it. */
#include <unistd.h>

#include "anomaly/labels.h"
#include "anomaly/synth.h"
#include "anomaly/transforms.h"
#include "anomaly/viz.h"
#include "check.h"

enum { N_IMAGES = 50 };
#define SEED 2718 /* streams apart from the data set's (seed 42) */

static void test_hottest_cell_on_defect(void) {
    const char *exp = getenv("ANOMALY_CAM_EXP");
    if (!exp) {
        check_skip("set ANOMALY_CAM_EXP to a trained experiment, e.g. demo_out/results/1 after make demo");
        return;
    }
    char path[4096], err[2048], **names;
    snprintf(path, sizeof path, "%s/train_args.csv", exp);
    CHECK(access(path, R_OK) == 0, "ANOMALY_CAM_EXP=%s: no %s", exp, path);
    if (access(path, R_OK) != 0) return;
    TestModel tm;
    int n_names;
    Model *m = exp_first_model(exp, &tm, &names, &n_names, NULL, 0, err, sizeof err);
    CHECK(m != NULL, "%s", err);
    if (!m) return;
    const int side = tm.img_size;
    int hits = 0, used = 0;
    double chance = 0;
    real *x = new_real((size_t)3 * side * side);
    for (int i = 0, l = 0; used < N_IMAGES && i < 10 * N_IMAGES; i++, l = (l + 1) % MVTEC_N_LABELS) {
        const MvtecLabel *d = &mvtec_labels[l];
        if (mvtec_label_is_good(d)) continue;
        char good[128], label[128];
        snprintf(good, sizeof good, "%s-good", d->cls);
        snprintf(label, sizeof label, "%s-%s", d->cls, d->state);
        int k = -1;
        for (int j = 0; j < n_names; j++)
            if (strcmp(names[j], label) == 0) k = j;
        if (k < 0) continue;
        Image a, b;
        synth_render(&a, l, side, SEED, (uint64_t)i);
        synth_render(&b, mvtec_label_index(good), side, SEED, (uint64_t)i);
        image_normalize(x, &a);
        Cam cam;
        cam_compute(&cam, m, x, side, side, k, tm.scale);
        int best = 0;
        for (int c = 1; c < cam.h * cam.w; c++)
            if (cam.map[c] > cam.map[best]) best = c;
        /* which cells the defect (a strong change) reaches */
        int reached = 0, hit = 0;
        for (int c = 0; c < cam.h * cam.w; c++) {
            int y0 = (c / cam.w) * side / cam.h, y1 = (c / cam.w + 1) * side / cam.h;
            int x0 = (c % cam.w) * side / cam.w, x1 = (c % cam.w + 1) * side / cam.w, on = 0;
            for (int y = y0; y < y1 && !on; y++)
                for (int xx = x0; xx < x1 && !on; xx++) {
                    const uint8_t *p = a.px + ((size_t)y * side + xx) * 3, *q = b.px + ((size_t)y * side + xx) * 3;
                    on = abs(p[0] - q[0]) + abs(p[1] - q[1]) + abs(p[2] - q[2]) >= 60;
                }
            reached += on;
            if (c == best) hit = on;
        }
        if (reached) {
            used++;
            hits += hit && cam.map[best] > 0;
            chance += (double)reached / (cam.h * cam.w);
        }
        cam_free(&cam);
        image_free(&a);
        image_free(&b);
    }
    chance /= used ? used : 1;
    printf("  %s: the hottest of %s's map cells lies on the planted defect in %d of %d images (%.0f %%); a cell "
           "drawn at random would in %.0f %%\n", exp, cam_layer(m), hits, used, 100.0 * hits / (used ? used : 1),
           100 * chance);
    CHECK(used == N_IMAGES, "only %d usable images", used);
    CHECK(hits > chance * used, "no better than chance");
    free(x);
    labels_free(names, n_names);
    model_free(m);
}

int main(void) {
    RUN(test_hottest_cell_on_defect);
    CHECK_MAIN_END();
}
