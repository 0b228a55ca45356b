/* anomaly augment: the train transform of one image, or one op with given
 * parameters, written as a PNG, with one line per applied op on stdout.
 *
 * The line format (see aug_op_format in transforms.h) is `NAME key=value ...`
 * and every key is a flag of `--op NAME`, so any logged line replays as
 *   anomaly augment IMAGE --op NAME --key value ... --out OUT.png
 * and tools/opencv_ops.py takes the same flags to do it with OpenCV. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/args.h"
#include "anomaly/error.h"
#include "anomaly/image.h"
#include "anomaly/rng.h"
#include "anomaly/transforms.h"
#include "anomaly/viz.h"

int cmd_augment(int argc, char **argv);

static const char usage[] =
    "IMAGE --out OUT.png [--aug_ver 1|2] [--img_size N] [--seed S] [--epoch E] [--index I]\n"
    "       anomaly augment IMAGE --out OUT.png --op NAME [op flags]\n"
    "       anomaly augment IMAGE --out SHEET.png --sheet N [--aug_ver 1|2] [--img_size N] [--seed S] [--epoch E] [--index I]\n"
    "\n"
    "Without --op: the train transform of the image up to (not including)\n"
    "Normalize, drawn from the stream (seed, epoch, index) as training does.\n"
    "With --op: that one op with the given parameters.\n"
    "With --sheet N: N draws (epochs E .. E+N-1) on one picture, each with its\n"
    "ops written under it (--img_size default 128 there).\n"
    "Prints one line per applied op, `NAME key=value ...`, where each key is\n"
    "the flag that replays it with --op NAME (reals with 6 decimals):\n"
    "  rotate90 k=K                      np.rot90 K times\n"
    "  rotate angle=A border=reflect101  about (w/2-0.5, h/2-0.5), bilinear\n"
    "  vflip\n"
    "  shift_scale_rotate angle=A scale=S dx=DX dy=DY border=reflect101\n"
    "  contrast alpha=A | gamma gamma=G | brightness beta=B    (lookup tables)\n"
    "  motion_blur kernel=K line=X0,Y0,X1,Y1\n"
    "  median_blur kernel=K | gaussian_blur kernel=K\n"
    "  gauss_noise var=V noise_seed=N\n"
    "  resize img_size=N";

/* Which op flags each op needs (and accepts). */
enum { F_ANGLE = 1, F_SCALE = 2, F_DX = 4, F_DY = 8, F_ALPHA = 16, F_GAMMA = 32, F_BETA = 64,
       F_KERNEL = 128, F_LINE = 256, F_K = 512, F_VAR = 1024, F_NOISE_SEED = 2048, F_BORDER = 4096,
       F_IMG_SIZE = 8192 };

static const int op_flags[AUG_OP_COUNT] = {
    [AUG_ROTATE90] = F_K,
    [AUG_ROTATE] = F_ANGLE | F_BORDER,
    [AUG_VFLIP] = 0,
    [AUG_SHIFT_SCALE_ROTATE] = F_ANGLE | F_SCALE | F_DX | F_DY | F_BORDER,
    [AUG_CONTRAST] = F_ALPHA,
    [AUG_GAMMA] = F_GAMMA,
    [AUG_BRIGHTNESS] = F_BETA,
    [AUG_MOTION_BLUR] = F_KERNEL | F_LINE,
    [AUG_MEDIAN_BLUR] = F_KERNEL,
    [AUG_GAUSSIAN_BLUR] = F_KERNEL,
    [AUG_GAUSS_NOISE] = F_VAR | F_NOISE_SEED,
    [AUG_RESIZE] = F_IMG_SIZE,
};

static const char *const flag_names[] = {"angle", "scale", "dx", "dy", "alpha", "gamma", "beta",
                                         "kernel", "line", "k", "var", "noise_seed", "border",
                                         "img_size"};

static void parse_line(const char *s, int line[4]) {
    char tail;
    if (sscanf(s, "%d,%d,%d,%d%c", &line[0], &line[1], &line[2], &line[3], &tail) != 4)
        fatal("anomaly augment: --line needs X0,Y0,X1,Y1, not '%s'", s);
}

static uint64_t parse_u64(const char *s) {
    char *end;
    if (!*s || *s == '-') fatal("anomaly augment: --noise_seed needs a whole number >= 0, not '%s'", s);
    unsigned long long v = strtoull(s, &end, 10);
    if (*end) fatal("anomaly augment: --noise_seed needs a whole number >= 0, not '%s'", s);
    return (uint64_t)v;
}

static void print_op(const AugOp *op) {
    char buf[256];
    aug_op_format(buf, sizeof buf, op);
    printf("%s\n", buf);
}

int cmd_augment(int argc, char **argv) {
    const char *out_path = NULL, *op_name = NULL, *line = NULL, *noise_seed = NULL, *border = NULL;
    int aug_ver = 2, img_size = INT_MIN, kernel = INT_MIN, k = INT_MIN, sheet = INT_MIN;
    long long seed = 42, epoch = 0, index = 0;
    double angle = NAN, scale = NAN, dx = NAN, dy = NAN, alpha = NAN, gamma = NAN, beta = NAN, var = NAN;
    /* The names go in the help text rather than in `choices`, whose column
     * is too narrow for twelve of them. */
    char op_names[512] = "";
    for (int i = 0; i < AUG_OP_COUNT; i++) {
        strcat(op_names, i ? ", " : "");
        strcat(op_names, aug_op_name((AugOpKind)i));
    }
    char op_help[600];
    snprintf(op_help, sizeof op_help, "apply only this op: %s", op_names);
    const ArgSpec specs[] = {
        {"out", ARG_STRING, &out_path, "where to write the PNG", NULL, 1},
        {"aug_ver", ARG_INT, &aug_ver, "pipeline: 1 = resize only, 2 = SPEC §2 augmentations (default 2)", NULL, 0},
        {"img_size", ARG_INT, &img_size, "final size (pipeline default 576; needed by --op resize)", NULL, 0},
        {"seed", ARG_LONG, &seed, "run seed (default 42)", NULL, 0},
        {"epoch", ARG_LONG, &epoch, "epoch of the draw (default 0)", NULL, 0},
        {"index", ARG_LONG, &index, "image index of the draw (default 0)", NULL, 0},
        {"op", ARG_STRING, &op_name, op_help, NULL, 0},
        {"sheet", ARG_INT, &sheet, "N draws on one picture, each with its ops written under it", NULL, 0},
        {"angle", ARG_DOUBLE, &angle, "rotate, shift_scale_rotate: degrees, counter-clockwise", NULL, 0},
        {"scale", ARG_DOUBLE, &scale, "shift_scale_rotate: scale factor", NULL, 0},
        {"dx", ARG_DOUBLE, &dx, "shift_scale_rotate: shift as a fraction of the width", NULL, 0},
        {"dy", ARG_DOUBLE, &dy, "shift_scale_rotate: shift as a fraction of the height", NULL, 0},
        {"border", ARG_STRING, &border, "rotate, shift_scale_rotate: border mode (the only one)", "reflect101", 0},
        {"alpha", ARG_DOUBLE, &alpha, "contrast: lut(i) = clip(i*alpha)", NULL, 0},
        {"gamma", ARG_DOUBLE, &gamma, "gamma: lut(i) = 255*(i/255)^gamma", NULL, 0},
        {"beta", ARG_DOUBLE, &beta, "brightness: lut(i) = clip(i + beta*255)", NULL, 0},
        {"kernel", ARG_INT, &kernel, "motion_blur, median_blur, gaussian_blur: odd kernel size", NULL, 0},
        {"line", ARG_STRING, &line, "motion_blur: X0,Y0,X1,Y1 inside the kernel", NULL, 0},
        {"k", ARG_INT, &k, "rotate90: quarter turns", NULL, 0},
        {"var", ARG_DOUBLE, &var, "gauss_noise: variance", NULL, 0},
        {"noise_seed", ARG_STRING, &noise_seed, "gauss_noise: seed of the noise", NULL, 0},
        {NULL, ARG_FLAG, NULL, NULL, NULL, 0},
    };
    const char *pos[1];
    if (args_parse("augment", usage, specs, argc, argv, pos, 1) != 1)
        fatal("anomaly augment: needs one input image (see anomaly augment --help)");

    int given = (!isnan(angle) ? F_ANGLE : 0) | (!isnan(scale) ? F_SCALE : 0) | (!isnan(dx) ? F_DX : 0) |
                (!isnan(dy) ? F_DY : 0) | (!isnan(alpha) ? F_ALPHA : 0) | (!isnan(gamma) ? F_GAMMA : 0) |
                (!isnan(beta) ? F_BETA : 0) | (kernel != INT_MIN ? F_KERNEL : 0) | (line ? F_LINE : 0) |
                (k != INT_MIN ? F_K : 0) | (!isnan(var) ? F_VAR : 0) | (noise_seed ? F_NOISE_SEED : 0) |
                (border ? F_BORDER : 0);

    Image in, out;
    if (sheet != INT_MIN) {
        if (op_name || given) fatal("anomaly augment: --sheet draws the pipeline; it takes no --op or op parameters");
        if (sheet < 1 || sheet > 1000) fatal("anomaly augment: --sheet must be 1 to 1000, not %d", sheet);
        if (aug_ver != 1 && aug_ver != 2) fatal("anomaly augment: --aug_ver must be 1 or 2, not %d", aug_ver);
        if (img_size == INT_MIN) img_size = 128;
        if (img_size < 1) fatal("anomaly augment: --img_size must be >= 1, not %d", img_size);
        if (epoch < 0 || index < 0) fatal("anomaly augment: --epoch and --index must be >= 0");
        image_read_or_die(pos[0], &in);
        augment_sheet(&out, &in, sheet, aug_ver, img_size, (uint64_t)seed, (uint64_t)index, (uint64_t)epoch);
        image_write_png(out_path, &out);
        printf("%s\n", out_path);
        image_free(&in);
        image_free(&out);
        return 0;
    }
    image_read_or_die(pos[0], &in);
    if (!op_name) {
        if (given) fatal("anomaly augment: op parameters need --op (see anomaly augment --help)");
        if (aug_ver != 1 && aug_ver != 2) fatal("anomaly augment: --aug_ver must be 1 or 2, not %d", aug_ver);
        if (img_size == INT_MIN) img_size = 576;
        if (img_size < 1) fatal("anomaly augment: --img_size must be >= 1, not %d", img_size);
        Rng r;
        rng_stream(&r, (uint64_t)seed, (uint64_t)epoch, (uint64_t)index);
        AugLog log;
        Image a;
        augment_image(&a, &in, aug_ver, &r, &log);
        AugOp resize = {.kind = AUG_RESIZE, .k = img_size};
        aug_op_apply(&out, &a, &resize);
        image_free(&a);
        for (int i = 0; i < log.count; i++) print_op(&log.op[i]);
        print_op(&resize);
    } else {
        AugOp op;
        memset(&op, 0, sizeof op);
        if (aug_op_kind(op_name) < 0) fatal("anomaly augment: unknown --op '%s' (one of %s)", op_name, op_names);
        op.kind = (AugOpKind)aug_op_kind(op_name);
        if (img_size != INT_MIN) given |= F_IMG_SIZE;
        int need = op_flags[op.kind], required = need & ~F_BORDER;
        for (int b = 0; b < (int)(sizeof flag_names / sizeof *flag_names); b++) {
            if ((given & (1 << b)) && !(need & (1 << b)))
                fatal("anomaly augment: --%s does not apply to --op %s", flag_names[b], op_name);
            if ((required & (1 << b)) && !(given & (1 << b)))
                fatal("anomaly augment: --op %s needs --%s", op_name, flag_names[b]);
        }
        op.angle = angle;
        op.scale = scale;
        op.dx = dx;
        op.dy = dy;
        op.value = op.kind == AUG_CONTRAST ? alpha : op.kind == AUG_GAMMA ? gamma : op.kind == AUG_BRIGHTNESS ? beta : var;
        op.k = op.kind == AUG_ROTATE90 ? k : op.kind == AUG_RESIZE ? img_size : kernel;
        if (line) parse_line(line, op.line);
        if (noise_seed) op.noise_seed = parse_u64(noise_seed);
        if (op.kind == AUG_RESIZE && img_size < 1) fatal("anomaly augment: --img_size must be >= 1, not %d", img_size);
        aug_op_apply(&out, &in, &op);
        print_op(&op);
    }
    image_write_png(out_path, &out);
    image_free(&in);
    image_free(&out);
    return 0;
}
