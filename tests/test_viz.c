/* The raster module (raster.h) and the pictures drawn with it (viz.h):
 * each written, decoded back, and probed at pixels whose colour follows
 * from what was drawn. */
#include <sys/stat.h>
#include <unistd.h>

#include "anomaly/image.h"
#include "anomaly/raster.h"
#include "anomaly/viz.h"
#include "check.h"
#include "tmpdir.h"

static int same(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

static int count_colour(const Image *img, int x0, int y0, int x1, int y1, Rgb c) {
    int n = 0;
    for (int y = y0; y < y1 && y < img->h; y++)
        for (int x = x0; x < x1 && x < img->w; x++) n += same(raster_get(img, x, y), c);
    return n;
}

static void test_raster_shapes(void) {
    Image img;
    image_alloc(&img, 40, 30);
    const Rgb white = {255, 255, 255}, red = {255, 0, 0}, blue = {0, 0, 255};
    raster_clear(&img, white);
    /* a rectangle partly outside: clipped, nothing else touched */
    raster_rect(&img, 35, -5, 10, 10, red);
    CHECK(count_colour(&img, 0, 0, 40, 30, red) == 5 * 5, "clipped rectangle: %d red pixels",
          count_colour(&img, 0, 0, 40, 30, red));
    CHECK(same(raster_get(&img, 35, 4), red) && same(raster_get(&img, 34, 4), white) &&
              same(raster_get(&img, 35, 5), white),
          "rectangle corners");
    /* a diagonal line: both ends, one pixel per column */
    raster_line(&img, 2, 3, 12, 13, 1, blue);
    CHECK(same(raster_get(&img, 2, 3), blue) && same(raster_get(&img, 12, 13), blue) &&
              same(raster_get(&img, 7, 8), blue),
          "diagonal line ends and middle");
    CHECK(count_colour(&img, 0, 0, 40, 30, blue) == 11, "diagonal line: %d pixels, want 11",
          count_colour(&img, 0, 0, 40, 30, blue));
    /* a shallow line still has one pixel per column */
    raster_clear(&img, white);
    raster_line(&img, 0, 20, 39, 25, 1, blue);
    int cols = 0;
    for (int x = 0; x < 40; x++) cols += count_colour(&img, x, 0, x + 1, 30, blue) == 1;
    CHECK(cols == 40, "shallow line: %d of 40 columns with exactly one pixel", cols);
    raster_clear(&img, white);
    raster_line(&img, 10, 10, 20, 10, 3, blue);
    CHECK(count_colour(&img, 0, 0, 40, 30, blue) == 13 * 3, "3-wide line: %d pixels, want 39 (a 3x3 pen)",
          count_colour(&img, 0, 0, 40, 30, blue));
    image_free(&img);
}

static void test_raster_text(void) {
    CHECK(raster_text_width("", 1) == 0 && raster_text_width("ab", 1) == 11 && raster_text_width("ab", 2) == 22,
          "text widths");
    const uint8_t *g = raster_glyph('T');
    CHECK(g && g[0] == 0x1F && g[1] == 0x04 && g[7] == 0, "glyph of T");
    CHECK(raster_glyph('\n') == NULL && raster_glyph(' ') != NULL, "glyph range");
    Image img;
    image_alloc(&img, 30, 20);
    const Rgb white = {255, 255, 255}, ink = {10, 20, 30};
    raster_clear(&img, white);
    raster_text(&img, 2, 3, "T", 2, ink);
    /* the T's bar: 10 x 2 pixels from (2, 3); its stem two pixels wide at x 6..7 */
    CHECK(count_colour(&img, 2, 3, 12, 5, ink) == 20, "T bar");
    CHECK(same(raster_get(&img, 6, 10), ink) && same(raster_get(&img, 7, 16), ink) &&
              same(raster_get(&img, 5, 10), white) && same(raster_get(&img, 8, 10), white),
          "T stem");
    CHECK(count_colour(&img, 0, 0, 30, 20, ink) == (5 + 6) * 4, "T dots: %d pixels", count_colour(&img, 0, 0, 30, 20, ink));
    /* turned up: the bar becomes a column at the left, read bottom to top */
    raster_clear(&img, white);
    raster_text_up(&img, 2, 15, "T", 1, ink);
    CHECK(count_colour(&img, 2, 10, 3, 15, ink) == 5 && count_colour(&img, 3, 0, 30, 20, ink) == 6, "T turned up");
    image_free(&img);
}

static void test_raster_heat(void) {
    Rgb lo = raster_heat(0), hi = raster_heat(1), mid = raster_heat(0.5);
    CHECK(lo.b > 100 && lo.r == 0, "cold end is blue (%d %d %d)", lo.r, lo.g, lo.b);
    CHECK(hi.r > 200 && hi.b == 0, "hot end is red (%d %d %d)", hi.r, hi.g, hi.b);
    CHECK(mid.g > 200, "middle is cyan to yellow (%d %d %d)", mid.r, mid.g, mid.b);
    CHECK(same(raster_heat(-3), lo) && same(raster_heat(7), hi) && same(raster_heat(NAN), lo), "clamped");
    Rgb m = raster_mix(rgb(0, 100, 200), rgb(100, 100, 0), 0.25);
    CHECK(m.r == 25 && m.g == 100 && m.b == 150, "mix (%d %d %d)", m.r, m.g, m.b);
}

static void test_sheet(void) {
    Image cells[3], sheet;
    const Rgb c[3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
    for (int i = 0; i < 3; i++) {
        image_alloc(&cells[i], 4 + i, 3);
        raster_clear(&cells[i], c[i]);
    }
    raster_sheet(&sheet, cells, 3, 2, 2);
    /* cells 6 x 3, two columns, two rows */
    CHECK(sheet.w == 2 + 2 * 8 && sheet.h == 2 + 2 * 5, "sheet %dx%d", sheet.w, sheet.h);
    CHECK(same(raster_get(&sheet, 2, 2), c[0]) && same(raster_get(&sheet, 10, 2), c[1]) &&
              same(raster_get(&sheet, 2, 7), c[2]) && same(raster_get(&sheet, 1, 1), rgb(255, 255, 255)),
          "sheet cells");
    for (int i = 0; i < 3; i++) image_free(&cells[i]);
    image_free(&sheet);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_curves(void) {
    char exp[600], dir[700], path[800], err[1024];
    snprintf(exp, sizeof exp, "%s/exp", tmpdir);
    mkdir(exp, 0755);
    const char *runs[2] = {"Fold1_E0", "Fold2_E0"};
    for (int r = 0; r < 2; r++) {
        snprintf(dir, sizeof dir, "%s/%s", exp, runs[r]);
        mkdir(dir, 0755);
        snprintf(path, sizeof path, "%s/log.csv", dir);
        write_file(path, r == 0 ? "epoch,train_loss,train_f1,val_loss,val_f1,lr,seconds,saved\n"
                                  "1,4.0,0.1,3.0,0.2,0.001,1.0,1\n2,3.0,0.3,2.5,0.4,0.001,1.0,1\n"
                                  "3,2.0,0.5,2.6,0.35,0.0001,1.0,0\n"
                                : "epoch,train_loss,train_f1,val_loss,val_f1,lr,seconds,saved\n"
                                  "1,4.2,0.1,,,0.001,1.0,1\n2,3.1,0.2,,,0.001,1.0,0\n");
    }
    RunLog *logs;
    int n;
    CHECK(exp_logs_read(exp, &logs, &n, err, sizeof err) == 0, "%s", err);
    if (n != 2) {
        CHECK(0, "%d runs, want 2", n);
        return;
    }
    CHECK(strcmp(logs[0].name, "Fold1_E0") == 0 && logs[0].n == 3 && logs[1].n == 2, "runs read");
    CHECK(logs[0].saved[1] == 1 && logs[0].saved[2] == 0 && isnan(logs[1].val_loss[0]) && logs[0].lr[2] == 1e-4,
          "cells read");
    exp_logs_free(logs, n);
    const char *png = tmp_path("curves.png");
    CHECK(curves_write(exp, png, err, sizeof err) == 0, "%s", err);
    Image img;
    CHECK(image_read(png, &img, err, sizeof err) == 0, "%s", err);
    if (!img.px) return;
    CHECK(img.w == 1000 && img.h == 440, "curves %dx%d", img.w, img.h);
    /* both runs' colours in the loss panel (left half), the first run's in
     * the F1 panel, and the saved epochs' black-edged squares */
    const Rgb run1 = {0, 114, 178}, run2 = {213, 94, 0};
    CHECK(count_colour(&img, 60, 50, 440, 340, run1) > 100, "run 1 in the loss panel");
    CHECK(count_colour(&img, 60, 50, 440, 340, run2) > 50, "run 2 in the loss panel");
    CHECK(count_colour(&img, 550, 50, 930, 340, run1) > 100, "run 1 in the F1 panel");
    int squares = 0;
    for (int y = 1; y + 6 < img.h; y++)
        for (int x = 1; x + 6 < img.w; x++)
            if (same(raster_get(&img, x, y), rgb(40, 40, 40)) && same(raster_get(&img, x + 6, y + 6), rgb(40, 40, 40)) &&
                same(raster_get(&img, x + 3, y + 3), run1) && same(raster_get(&img, x + 1, y + 1), run1))
                squares++;
    /* run 1 saved epochs 1 and 2: a square on each panel */
    CHECK(squares == 4, "%d squares of run 1's saved epochs, want 4", squares);
    image_free(&img);
    /* an empty directory is one clear reason */
    snprintf(dir, sizeof dir, "%s/empty", tmpdir);
    mkdir(dir, 0755);
    CHECK(curves_write(dir, tmp_path("none.png"), err, sizeof err) != 0 && strstr(err, "no run directory"),
          "empty experiment: '%s'", err);
    CHECK(access(tmp_path("none.png"), F_OK) != 0, "nothing written for an empty experiment");
    rmdir(dir);
    for (int r = 0; r < 2; r++) {
        snprintf(path, sizeof path, "%s/%s/log.csv", exp, runs[r]);
        remove(path);
        snprintf(dir, sizeof dir, "%s/%s", exp, runs[r]);
        rmdir(dir);
    }
    rmdir(exp);
}

static void test_augment_sheet(void) {
    Image in, sheet;
    image_alloc(&in, 32, 32);
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++) raster_pixel(&in, x, y, rgb((uint8_t)(8 * x), (uint8_t)(8 * y), 77));
    /* aug_ver 1 draws no op: each cell is the image itself (32 px shown 3x) */
    augment_sheet(&sheet, &in, 3, 1, 32, 42, 0, 0);
    const int cell_w = 186 + 8, cell_h = 4 + 9 + 96 + 3 + 9 + 4;
    CHECK(sheet.w == 2 + 3 * (cell_w + 2) && sheet.h == 2 + cell_h + 2, "sheet %dx%d", sheet.w, sheet.h);
    int bad = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 32; y += 5)
            for (int x = 0; x < 32; x += 5)
                bad += !same(raster_get(&sheet, 2 + c * (cell_w + 2) + 4 + 3 * x + 1, 2 + 4 + 9 + 3 * y + 2),
                             raster_get(&in, x, y));
    CHECK(bad == 0, "%d probed pixels differ from the image", bad);
    image_free(&sheet);
    /* aug_ver 2: draws differ from epoch to epoch, and are the same for the same epoch */
    Image a, b;
    augment_sheet(&a, &in, 2, 2, 32, 42, 5, 0);
    augment_sheet(&b, &in, 2, 2, 32, 42, 5, 0);
    CHECK(a.w == b.w && a.h == b.h && memcmp(a.px, b.px, (size_t)a.w * a.h * 3) == 0, "same draws, same sheet");
    int differ = 0;
    for (int y = 0; y < 96; y++)
        for (int x = 0; x < 96; x++)
            differ += !same(raster_get(&a, 2 + 4 + x, 2 + 13 + y), raster_get(&a, 2 + cell_w + 2 + 4 + x, 2 + 13 + y));
    CHECK(differ > 1000, "epochs 0 and 1 look alike (%d pixels differ)", differ);
    image_free(&a);
    image_free(&b);
    image_free(&in);
}

int main(void) {
    tmpdir_create("viz");
    RUN(test_raster_shapes);
    RUN(test_raster_text);
    RUN(test_raster_heat);
    RUN(test_sheet);
    RUN(test_curves);
    RUN(test_augment_sheet);
    tmpdir_remove();
    CHECK_MAIN_END();
}
