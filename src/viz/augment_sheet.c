/* A sheet of augmented draws of one image (viz.h): what the train transform
 * really produced, with the ops that produced it. */
#include <stdio.h>
#include <stdlib.h>

#include "anomaly/error.h"
#include "anomaly/raster.h"
#include "anomaly/rng.h"
#include "anomaly/transforms.h"
#include "anomaly/viz.h"

enum { PAD = 4, MIN_TEXT_W = 186 };

void augment_sheet(Image *out, const Image *in, int n, int aug_ver, int size, uint64_t seed, uint64_t index,
                   uint64_t first_epoch) {
    if (n < 1) fatal("augment sheet: %d draws: need at least one", n);
    const int scale = size >= 96 ? 1 : (96 + size - 1) / size, shown = size * scale;
    const int cell_w = (shown > MIN_TEXT_W ? shown : MIN_TEXT_W) + 2 * PAD;
    Image *cells = xcalloc((size_t)n, sizeof *cells, "an augment sheet");
    const Rgb ink = {20, 20, 20}, alt = {120, 60, 0}, head = {0, 90, 160};
    for (int i = 0; i < n; i++) {
        uint64_t epoch = first_epoch + (uint64_t)i;
        Rng r;
        rng_stream(&r, seed, epoch, index);
        AugLog log;
        Image a, sized;
        augment_image(&a, in, aug_ver, &r, &log);
        AugOp resize = {.kind = AUG_RESIZE, .k = size};
        aug_op_apply(&sized, &a, &resize);
        image_free(&a);
        char text[AUG_LOG_MAX][256];
        int lines = 0;
        for (int k = 0; k < log.count; k++) {
            aug_op_format(text[k], sizeof text[k], &log.op[k]);
            lines += raster_text_wrapped(NULL, 0, 0, cell_w - 2 * PAD, text[k], 1, ink);
        }
        if (log.count == 0) lines++;
        image_alloc(&cells[i], cell_w, PAD + RASTER_ADV_Y + shown + 3 + lines * RASTER_ADV_Y + PAD);
        raster_clear(&cells[i], rgb(255, 255, 255));
        char title[64];
        snprintf(title, sizeof title, "epoch %llu", (unsigned long long)epoch);
        raster_text(&cells[i], PAD, PAD, title, 1, head);
        raster_blit(&cells[i], &sized, PAD, PAD + RASTER_ADV_Y, scale);
        int y = PAD + RASTER_ADV_Y + shown + 3;
        /* ops alternate in colour, so a wrapped one reads as one */
        for (int k = 0; k < log.count; k++)
            y += RASTER_ADV_Y * raster_text_wrapped(&cells[i], PAD, y, cell_w - 2 * PAD, text[k], 1, k % 2 ? alt : ink);
        if (log.count == 0) raster_text(&cells[i], PAD, y, "(no op drawn)", 1, ink);
        raster_frame(&cells[i], 0, 0, cells[i].w, cells[i].h, rgb(200, 200, 200));
        image_free(&sized);
    }
    int cols = n < 6 ? n : 6;
    raster_sheet(out, cells, n, cols, 2);
    for (int i = 0; i < n; i++) image_free(&cells[i]);
    free(cells);
}
