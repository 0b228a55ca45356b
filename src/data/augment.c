/* The train-time augmentation pipelines (SPEC §2) and the op table shared by
 * the pipeline, its log and `anomaly augment --op`.
 *
 * aug_ver 2 draws from the image's stream in this fixed order (so a stream
 * always yields the same ops whatever else happens in the run):
 *   1. u < 0.7: which = below(2); 0: rotate90 k = below(4);
 *                                 1: rotate angle = U(-45, 45)
 *   2. u < 0.5: vflip
 *   3. shift_scale_rotate: angle = U(-45, 45), scale = U(0.9, 1.1),
 *      dx = U(-0.0625, 0.0625), dy = U(-0.0625, 0.0625)
 *   4. u < 0.5: which = below(3); contrast alpha = U(0.8, 1.2) |
 *      gamma gamma = U(0.8, 1.2) | brightness beta = U(-0.2, 0.2)
 *   5. u < 0.5: which = below(4); then
 *      motion_blur: k = 3 + 2*below(2); x0 = below(k), x1 = below(k); if
 *        x0 == x1 the two y are distinct (y0 = below(k), y1 = below(k-1),
 *        skipping y0), else y0 = below(k), y1 = below(k) (albumentations'
 *        rule, so the line is never a single point);
 *      median_blur / gaussian_blur: k = 3 + 2*below(2);
 *      gauss_noise: var = U(5, 20), noise_seed = u64.
 * u is rng_uniform; U(a, b) is rng_range rounded to 6 decimals. */
#include "anomaly/transforms.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "anomaly/error.h"

static const char *const op_names[AUG_OP_COUNT] = {
    [AUG_ROTATE90] = "rotate90",
    [AUG_ROTATE] = "rotate",
    [AUG_VFLIP] = "vflip",
    [AUG_SHIFT_SCALE_ROTATE] = "shift_scale_rotate",
    [AUG_CONTRAST] = "contrast",
    [AUG_GAMMA] = "gamma",
    [AUG_BRIGHTNESS] = "brightness",
    [AUG_MOTION_BLUR] = "motion_blur",
    [AUG_MEDIAN_BLUR] = "median_blur",
    [AUG_GAUSSIAN_BLUR] = "gaussian_blur",
    [AUG_GAUSS_NOISE] = "gauss_noise",
    [AUG_RESIZE] = "resize",
};

const char *aug_op_name(AugOpKind kind) {
    return (unsigned)kind < AUG_OP_COUNT ? op_names[kind] : NULL;
}

int aug_op_kind(const char *name) {
    for (int i = 0; i < AUG_OP_COUNT; i++)
        if (strcmp(op_names[i], name) == 0) return i;
    return -1;
}

int aug_op_format(char *buf, size_t len, const AugOp *op) {
    const char *name = aug_op_name(op->kind);
    switch (op->kind) {
    case AUG_ROTATE90: return snprintf(buf, len, "%s k=%d", name, op->k);
    case AUG_ROTATE: return snprintf(buf, len, "%s angle=%.6f border=reflect101", name, op->angle);
    case AUG_VFLIP: return snprintf(buf, len, "%s", name);
    case AUG_SHIFT_SCALE_ROTATE:
        return snprintf(buf, len, "%s angle=%.6f scale=%.6f dx=%.6f dy=%.6f border=reflect101", name,
                        op->angle, op->scale, op->dx, op->dy);
    case AUG_CONTRAST: return snprintf(buf, len, "%s alpha=%.6f", name, op->value);
    case AUG_GAMMA: return snprintf(buf, len, "%s gamma=%.6f", name, op->value);
    case AUG_BRIGHTNESS: return snprintf(buf, len, "%s beta=%.6f", name, op->value);
    case AUG_MOTION_BLUR:
        return snprintf(buf, len, "%s kernel=%d line=%d,%d,%d,%d", name, op->k, op->line[0], op->line[1],
                        op->line[2], op->line[3]);
    case AUG_MEDIAN_BLUR:
    case AUG_GAUSSIAN_BLUR: return snprintf(buf, len, "%s kernel=%d", name, op->k);
    case AUG_GAUSS_NOISE:
        return snprintf(buf, len, "%s var=%.6f noise_seed=%llu", name, op->value,
                        (unsigned long long)op->noise_seed);
    case AUG_RESIZE: return snprintf(buf, len, "%s img_size=%d", name, op->k);
    case AUG_OP_COUNT: break;
    }
    return snprintf(buf, len, "unknown");
}

void aug_op_apply(Image *out, const Image *in, const AugOp *op) {
    switch (op->kind) {
    case AUG_ROTATE90: image_rot90(out, in, op->k); return;
    case AUG_ROTATE: image_rotate(out, in, op->angle); return;
    case AUG_VFLIP: image_vflip(out, in); return;
    case AUG_SHIFT_SCALE_ROTATE: image_shift_scale_rotate(out, in, op->angle, op->scale, op->dx, op->dy); return;
    case AUG_CONTRAST:
    case AUG_GAMMA:
    case AUG_BRIGHTNESS: {
        uint8_t lut[256];
        if (op->kind == AUG_CONTRAST) lut_contrast(lut, op->value);
        else if (op->kind == AUG_GAMMA) lut_gamma(lut, op->value);
        else lut_brightness(lut, op->value);
        image_apply_lut(out, in, lut);
        return;
    }
    case AUG_MOTION_BLUR:
        if (op->k < 3 || op->k % 2 == 0) fatal("motion_blur: kernel %d must be odd and >= 3", op->k);
        image_motion_blur(out, in, op->k, op->line[0], op->line[1], op->line[2], op->line[3]);
        return;
    case AUG_MEDIAN_BLUR: image_median_blur(out, in, op->k); return;
    case AUG_GAUSSIAN_BLUR: image_gaussian_blur(out, in, op->k); return;
    case AUG_GAUSS_NOISE: image_gauss_noise(out, in, op->value, op->noise_seed); return;
    case AUG_RESIZE: image_resize(out, in, op->k, op->k); return;
    case AUG_OP_COUNT: break;
    }
    fatal("augment: unknown op %d", (int)op->kind);
}

/* Parameters are kept to 6 decimals so the logged line replays exactly. */
static double draw(Rng *r, double lo, double hi) { return nearbyint(rng_range(r, lo, hi) * 1e6) / 1e6; }

static int draw_odd_kernel(Rng *r) { return 3 + 2 * (int)rng_below(r, 2); }

static AugOp new_op(AugOpKind kind) {
    AugOp op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    return op;
}

/* Samples the aug_ver 2 ops in the order documented at the top. */
static int sample_v2(Rng *r, AugOp ops[AUG_LOG_MAX]) {
    int n = 0;
    if (rng_uniform(r) < 0.7) {
        if (rng_below(r, 2) == 0) {
            ops[n] = new_op(AUG_ROTATE90);
            ops[n++].k = (int)rng_below(r, 4);
        } else {
            ops[n] = new_op(AUG_ROTATE);
            ops[n++].angle = draw(r, -45, 45);
        }
    }
    if (rng_uniform(r) < 0.5) ops[n++] = new_op(AUG_VFLIP);
    ops[n] = new_op(AUG_SHIFT_SCALE_ROTATE);
    ops[n].angle = draw(r, -45, 45);
    ops[n].scale = draw(r, 0.9, 1.1);
    ops[n].dx = draw(r, -0.0625, 0.0625);
    ops[n++].dy = draw(r, -0.0625, 0.0625);
    if (rng_uniform(r) < 0.5) {
        switch (rng_below(r, 3)) {
        case 0: ops[n] = new_op(AUG_CONTRAST); ops[n++].value = draw(r, 0.8, 1.2); break;
        case 1: ops[n] = new_op(AUG_GAMMA); ops[n++].value = draw(r, 0.8, 1.2); break;
        default: ops[n] = new_op(AUG_BRIGHTNESS); ops[n++].value = draw(r, -0.2, 0.2); break;
        }
    }
    if (rng_uniform(r) < 0.5) {
        switch (rng_below(r, 4)) {
        case 0: {
            AugOp op = new_op(AUG_MOTION_BLUR);
            int k = op.k = draw_odd_kernel(r);
            op.line[0] = (int)rng_below(r, (uint64_t)k);
            op.line[2] = (int)rng_below(r, (uint64_t)k);
            op.line[1] = (int)rng_below(r, (uint64_t)k);
            if (op.line[0] == op.line[2]) {
                op.line[3] = (int)rng_below(r, (uint64_t)k - 1);
                if (op.line[3] >= op.line[1]) op.line[3]++;
            } else {
                op.line[3] = (int)rng_below(r, (uint64_t)k);
            }
            ops[n++] = op;
            break;
        }
        case 1: ops[n] = new_op(AUG_MEDIAN_BLUR); ops[n++].k = draw_odd_kernel(r); break;
        case 2: ops[n] = new_op(AUG_GAUSSIAN_BLUR); ops[n++].k = draw_odd_kernel(r); break;
        default:
            ops[n] = new_op(AUG_GAUSS_NOISE);
            ops[n].value = draw(r, 5, 20);
            ops[n++].noise_seed = rng_u64(r);
            break;
        }
    }
    return n;
}

void augment_image(Image *out, const Image *in, int aug_ver, Rng *r, AugLog *log) {
    AugOp ops[AUG_LOG_MAX];
    int n;
    if (aug_ver == 1) n = 0;
    else if (aug_ver == 2) n = sample_v2(r, ops);
    else fatal("augment: unknown aug_ver %d (1 or 2)", aug_ver);
    if (log) {
        log->count = n;
        memcpy(log->op, ops, (size_t)n * sizeof *ops);
    }
    /* Ping-pong through fresh images; `in` itself is never written. */
    Image cur = *in;
    for (int i = 0; i < n; i++) {
        Image next;
        aug_op_apply(&next, &cur, &ops[i]);
        if (i > 0) image_free(&cur);
        cur = next;
    }
    if (n == 0) {
        image_alloc(out, in->w, in->h);
        memcpy(out->px, in->px, (size_t)in->w * in->h * 3);
    } else {
        *out = cur;
    }
}

void train_transform(real *out, const Image *in, int aug_ver, int size, Rng *r, AugLog *log) {
    Image a;
    augment_image(&a, in, aug_ver, r, log);
    resize_normalize(out, &a, size);
    image_free(&a);
}
