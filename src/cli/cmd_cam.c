/* anomaly cam: Grad-CAM heat maps of a model over images (viz.h). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"
#include "anomaly/npy.h"
#include "anomaly/raster.h"
#include "anomaly/safetensors.h"
#include "anomaly/tester.h"
#include "anomaly/transforms.h"
#include "anomaly/viz.h"
#include "cli_model.h"

int cmd_cam(int argc, char **argv);

static const char usage[] =
    "--model NAME --num_classes N --weights W (--image IMG | --images DIR --grid)\n"
    "       [--labels labels.csv] [--label NAME | --top K] [--img_size S] --out CAM.png [--npy CAM.npy]\n"
    "\n"
    "Grad-CAM on the last convolution (_conv_head for EfficientNet, layer4\n"
    "for ResNeXt and ResNeSt) in eval mode, with this program's own backward:\n"
    "the channels of that layer's output weighted by the spatial mean of the\n"
    "score's gradient, summed, negatives cut. The heat map is drawn over the\n"
    "image with the label and its logit written under it.\n"
    "The image is resized to --img_size (the test transform) when given;\n"
    "otherwise it goes in at its own size, and with --images every image must\n"
    "have the size of the first. --label: that label's map (a name from\n"
    "--labels, or a class index); --top K: the K highest-scoring labels (default 1).\n"
    "--npy writes the raw maps, float32 [pictures][h][w], unnormalised.";

static int has_image_suffix(const char *s) {
    const char *dot = strrchr(s, '.');
    return dot && (!strcmp(dot, ".png") || !strcmp(dot, ".PNG") || !strcmp(dot, ".jpg") || !strcmp(dot, ".jpeg") ||
                   !strcmp(dot, ".JPG"));
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The PNG and JPEG files of dir, sorted. */
static char **list_images(const char *dir, int *n) {
    DIR *d = opendir(dir);
    if (!d) fatal("anomaly cam: --images %s: %s", dir, strerror(errno));
    char **v = NULL;
    int cap = 0;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !has_image_suffix(e->d_name)) continue;
        if (*n == cap) v = xrealloc(v, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *v, "image list");
        char path[4096];
        path_printf(path, sizeof path, "%s/%s", dir, e->d_name);
        v[(*n)++] = xstrdup(path);
    }
    closedir(d);
    if (*n == 0) fatal("anomaly cam: --images %s holds no .png or .jpg file", dir);
    qsort(v, (size_t)*n, sizeof *v, str_cmp);
    return v;
}

/* Index of --label: a name from the labels file, or a number. */
static int label_index(const char *s, char **names, int n_names, int C) {
    for (int i = 0; names && i < n_names; i++)
        if (strcmp(names[i], s) == 0) return i;
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end && v >= 0 && v < C) return (int)v;
    if (names) fatal("anomaly cam: --label '%s' is not a label of the labels file (nor a class index below %d)", s, C);
    fatal("anomaly cam: --label '%s' is not a class index below %d (give --labels to use names)", s, C);
    return -1;
}

/* Labels ordered by logit, highest first (the lower index on ties). */
static void rank(const real *logits, int C, int *order) {
    for (int i = 0; i < C; i++) order[i] = i;
    for (int i = 1; i < C; i++)
        for (int j = i; j > 0 && logits[order[j]] > logits[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int cmd_cam(int argc, char **argv) {
    ModelFlags mf;
    model_flags_default(&mf);
    const char *weights = NULL, *image = NULL, *images = NULL, *labels_path = NULL, *label = NULL;
    const char *out = NULL, *npy = NULL;
    int top = 0, grid = 0, img_size = 0, scale = 0;
    double arc_scale = 8;
    const ArgSpec specs[] = {
        MODEL_FLAG_SPECS(mf),
        {"weights", ARG_STRING, &weights, "checkpoint (.safetensors)", NULL, 1},
        {"image", ARG_STRING, &image, "the image (PNG or JPEG)", NULL, 0},
        {"images", ARG_STRING, &images, "a folder of images (with --grid)", NULL, 0},
        {"grid", ARG_FLAG, &grid, "one sheet of every image in --images, each with its top label", NULL, 0},
        {"labels", ARG_STRING, &labels_path, "labels.csv naming the classes (an experiment's)", NULL, 0},
        {"label", ARG_STRING, &label, "the label whose map to draw (name or index)", NULL, 0},
        {"top", ARG_INT, &top, "maps of the K highest-scoring labels (default 1)", NULL, 0},
        {"img_size", ARG_INT, &img_size, "resize images to this size first (the test transform)", NULL, 0},
        {"scale", ARG_INT, &scale, "enlarge the picture this many times (default: to about 128 px)", NULL, 0},
        {"arc_scale", ARG_DOUBLE, &arc_scale, "ArcFace heads: logits = arc_scale * cos (default 8)", NULL, 0},
        {"out", ARG_STRING, &out, "where to write the PNG", NULL, 1},
        {"npy", ARG_STRING, &npy, "also write the raw maps as .npy", NULL, 0},
        {NULL, ARG_FLAG, NULL, NULL, NULL, 0},
    };
    args_parse("cam", usage, specs, argc, argv, NULL, 0);
    if (!image == !images) fatal("anomaly cam: give one of --image IMG or --images DIR --grid");
    if (images && !grid) fatal("anomaly cam: --images needs --grid (one sheet of every image)");
    if (grid && !images) fatal("anomaly cam: --grid needs --images DIR");
    if (label && top) fatal("anomaly cam: --label and --top exclude each other");
    if (grid && top > 1) fatal("anomaly cam: --grid draws one map per image; --top %d does not apply", top);
    if (top < 0) fatal("anomaly cam: --top must be >= 1, not %d", top);
    if (img_size < 0) fatal("anomaly cam: --img_size must be >= 1, not %d", img_size);
    if (scale < 0) fatal("anomaly cam: --scale must be >= 1, not %d", scale);
    if (!top) top = 1;

    char err[1024], **names = NULL;
    int n_names = 0;
    if (labels_path) {
        if (labels_read(labels_path, &names, &n_names, err, sizeof err)) fatal("anomaly cam: %s", err);
        if (n_names != mf.num_classes)
            fatal("anomaly cam: %s lists %d labels but --num_classes is %d", labels_path, n_names, mf.num_classes);
    }
    Model *m = model_from_flags(&mf);
    safetensors_load_params(weights, &m->params);
    const int C = m->cfg.num_classes;
    int fixed = label ? label_index(label, names, n_names, C) : -1;
    if (top > C) fatal("anomaly cam: --top %d but the model has %d classes", top, C);

    int n_img = 1;
    char **paths = images ? list_images(images, &n_img) : NULL;
    int n_pic = grid ? n_img : (fixed >= 0 ? 1 : top);
    Image *pics = xcalloc((size_t)n_pic, sizeof *pics, "CAM pictures");
    real *maps = NULL;
    int map_h = 0, map_w = 0, size_w = 0, size_h = 0, *order = xmalloc((size_t)C * sizeof *order, "ranks");
    int pic = 0;
    for (int i = 0; i < n_img; i++) {
        const char *path = paths ? paths[i] : image;
        Image raw, im;
        if (image_read(path, &raw, err, sizeof err)) fatal("anomaly cam: %s", err);
        if (img_size) {
            image_resize(&im, &raw, img_size, img_size);
            image_free(&raw);
        } else {
            im = raw;
            if (i == 0) {
                size_w = im.w;
                size_h = im.h;
            } else if (im.w != size_w || im.h != size_h) {
                fatal("anomaly cam: %s is %dx%d but %s is %dx%d: give --img_size to resize every image", path, im.w,
                      im.h, paths[0], size_w, size_h);
            }
        }
        real *x = xmalloc((size_t)3 * im.w * im.h * sizeof(real), "a CAM input");
        image_normalize(x, &im);
        int s = scale ? scale : (im.w >= 128 ? 1 : (128 + im.w - 1) / im.w);
        /* the top label first: its logits rank the others */
        Cam cam;
        cam_compute(&cam, m, x, im.h, im.w, fixed >= 0 ? fixed : 0, arc_scale);
        rank(cam.logits, C, order);
        int want = grid || fixed >= 0 ? 1 : top;
        for (int k = 0; k < want; k++) {
            int lab = fixed >= 0 ? fixed : order[k];
            if (lab != (fixed >= 0 ? fixed : 0)) {
                cam_free(&cam);
                cam_compute(&cam, m, x, im.h, im.w, lab, arc_scale);
            }
            char l1[300], l2[300], nb[24];
            snprintf(nb, sizeof nb, "%d", lab);
            snprintf(l1, sizeof l1, "%s", names ? names[lab] : nb);
            int r = 0;
            while (order[r] != lab) r++;
            snprintf(l2, sizeof l2, "logit %.3f (rank %d) %s", (double)cam.logits[lab], r + 1, base_name(path));
            cam_overlay(&pics[pic], &im, &cam, s, l1, l2);
            if (!maps) {
                map_h = cam.h;
                map_w = cam.w;
                maps = xmalloc((size_t)n_pic * map_h * map_w * sizeof(real), "CAM maps");
            }
            memcpy(maps + (size_t)pic * map_h * map_w, cam.map, (size_t)map_h * map_w * sizeof(real));
            pic++;
            double top_v = 0;
            for (int q = 0; q < cam.h * cam.w; q++)
                if (cam.map[q] > top_v) top_v = cam.map[q];
            printf("%s %s logit %.6f rank %d map %dx%d max %.6g\n", path, l1, (double)cam.logits[lab], r + 1, cam.h,
                   cam.w, top_v);
        }
        cam_free(&cam);
        free(x);
        image_free(&im);
    }
    Image sheet;
    int cols = grid ? (int)ceil(sqrt((double)n_pic)) : n_pic;
    if (n_pic == 1) {
        sheet = pics[0];
        pics[0].px = NULL;
    } else {
        raster_sheet(&sheet, pics, n_pic, cols, 6);
    }
    if (npy) {
        int64_t shape[3] = {n_pic, map_h, map_w};
        npy_write_real(npy, maps, 3, shape);
    }
    image_write_png(out, &sheet);
    image_free(&sheet);
    for (int i = 0; i < n_pic; i++) image_free(&pics[i]);
    free(pics);
    free(maps);
    free(order);
    for (int i = 0; paths && i < n_img; i++) free(paths[i]);
    free(paths);
    if (names) labels_free(names, n_names);
    model_free(m);
    return 0;
}
