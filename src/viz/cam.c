/* Grad-CAM (viz.h): the gradient of one class score with respect to the last
 * convolution's output, averaged over space, weighs that output's channels.
 * The gradient comes from the tape's own backward: a capture node pushed
 * right after the layer's output runs, in reverse, after every consumer has
 * added its share and before the producer recycles the buffer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"
#include "anomaly/raster.h"
#include "anomaly/viz.h"

const char *cam_layer(const Model *m) {
    return strncmp(m->cfg.name, "efficientnet", 12) == 0 ? "_conv_head" : "layer4";
}

typedef struct Capture {
    const char *layer;
    Tensor *act;  /* the layer's output, once seen */
    Tensor shape; /* a copy of it, and of its values: backward reuses */
    real *value;  /* their memory */
    real *grad;   /* its gradient, copied in backward */
} Capture;

static void capture_backward(Tape *t, void *ctx) {
    (void)t;
    Capture *c = *(Capture **)ctx;
    if (c->act->grad) memcpy(c->grad, c->act->grad, tensor_numel(c->act) * sizeof(real));
}

/* The hook's user pointer: the tape (to push on) and the capture. */
typedef struct HookCtx {
    Tape *tape;
    Capture *cap;
} HookCtx;

static void hook(void *user, const char *name, const Tensor *x) {
    HookCtx *h = user;
    if (strcmp(name, h->cap->layer) != 0 || h->cap->act) return;
    h->cap->act = (Tensor *)x; /* the op's own output: the tape owns it */
    h->cap->grad = xcalloc(tensor_numel(x), sizeof(real), "a Grad-CAM gradient");
    h->cap->shape = *x;
    h->cap->value = xmalloc(tensor_numel(x) * sizeof(real), "a Grad-CAM activation");
    memcpy(h->cap->value, x->data, tensor_numel(x) * sizeof(real));
    Capture **slot = tape_ctx(h->tape, sizeof *slot);
    *slot = h->cap;
    tape_push(h->tape, "gradcam_capture", capture_backward, slot);
}

void cam_compute(Cam *cam, Model *m, const real *x, int h, int w, int label, double arc_scale) {
    const int C = m->cfg.num_classes;
    if (label < 0 || label >= C) fatal("Grad-CAM: class %d outside the model's %d", label, C);
    Arena arena;
    arena_init(&arena, 0);
    Tape t;
    tape_init(&t, &arena);
    t.recording = 1;
    t.training = 0;
    Capture cap;
    memset(&cap, 0, sizeof cap);
    cap.layer = cam_layer(m);
    HookCtx hc = {&t, &cap};
    t.dump = hook;
    t.dump_user = &hc;
    size_t n_in = (size_t)3 * (size_t)h * (size_t)w;
    real *in = arena_alloc(&arena, n_in * sizeof(real));
    memcpy(in, x, n_in * sizeof(real));
    Tensor *out = model_forward(m, &t, tape_wrap(&t, in, 1, 3, h, w));
    if (!cap.act) fatal("Grad-CAM: %s has no module output named %s", m->cfg.name, cap.layer);
    const double scale = m->cfg.arcface ? arc_scale : 1;
    memset(cam, 0, sizeof *cam);
    cam->n_classes = C;
    cam->logits = xmalloc((size_t)C * sizeof(real), "Grad-CAM logits");
    for (int k = 0; k < C; k++) cam->logits[k] = (real)(out->data[k] * scale);
    /* d score / d out: one-hot (scale for the cosine head); a zero seed
     * leaves it as it is */
    tape_grad(&t, out)[label] = (real)scale;
    tape_backward(&t, out, 0);

    const Tensor *a = &cap.shape;
    const int K = a->c, hw = a->h * a->w;
    cam->h = a->h;
    cam->w = a->w;
    cam->map = xcalloc((size_t)hw, sizeof(real), "a Grad-CAM map");
    /* weights and sum in double, in a fixed order */
    double *acc = xcalloc((size_t)hw, sizeof(double), "a Grad-CAM map");
    for (int k = 0; k < K; k++) {
        const real *g = cap.grad + (size_t)k * hw, *v = cap.value + (size_t)k * hw;
        double alpha = 0;
        for (int i = 0; i < hw; i++) alpha += g[i];
        alpha /= hw;
        for (int i = 0; i < hw; i++) acc[i] += alpha * v[i];
    }
    for (int i = 0; i < hw; i++) cam->map[i] = (real)(acc[i] > 0 ? acc[i] : 0);
    free(acc);
    free(cap.grad);
    free(cap.value);
    tape_free(&t);
    arena_free(&arena);
}

void cam_free(Cam *cam) {
    free(cam->map);
    free(cam->logits);
    memset(cam, 0, sizeof *cam);
}

void cam_upsample(real *out, const Cam *cam, int w, int h) {
    double top = 0;
    for (int i = 0; i < cam->h * cam->w; i++)
        if (cam->map[i] > top) top = cam->map[i];
    const double sy = (double)cam->h / h, sx = (double)cam->w / w;
    for (int y = 0; y < h; y++) {
        double fy = (y + 0.5) * sy - 0.5;
        if (fy < 0) fy = 0;
        int y0 = (int)fy, y1 = y0 + 1 < cam->h ? y0 + 1 : y0;
        double ty = fy - y0;
        for (int x = 0; x < w; x++) {
            double fx = (x + 0.5) * sx - 0.5;
            if (fx < 0) fx = 0;
            int x0 = (int)fx, x1 = x0 + 1 < cam->w ? x0 + 1 : x0;
            double tx = fx - x0;
            const real *m = cam->map;
            double v = (1 - ty) * ((1 - tx) * m[y0 * cam->w + x0] + tx * m[y0 * cam->w + x1]) +
                       ty * ((1 - tx) * m[y1 * cam->w + x0] + tx * m[y1 * cam->w + x1]);
            out[(size_t)y * w + x] = (real)(top > 0 ? v / top : 0);
        }
    }
}

void cam_overlay(Image *out, const Image *img, const Cam *cam, int scale, const char *line1,
                 const char *line2) {
    const int W = img->w * scale, H = img->h * scale, pad = 4, bar = 8;
    int width = W + 2 * pad + bar + 4;
    int w1 = line1 ? raster_text_width(line1, 1) : 0, w2 = line2 ? raster_text_width(line2, 1) : 0;
    if (w1 + 2 * pad > width) width = w1 + 2 * pad;
    if (w2 + 2 * pad > width) width = w2 + 2 * pad;
    image_alloc(out, width, H + 2 * pad + 2 * RASTER_ADV_Y + 2);
    raster_clear(out, rgb(255, 255, 255));
    real *heat = xmalloc((size_t)W * H * sizeof(real), "a Grad-CAM picture");
    cam_upsample(heat, cam, W, H);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            Rgb p = raster_get(img, x / scale, y / scale);
            raster_pixel(out, pad + x, pad + y, raster_mix(p, raster_heat(heat[(size_t)y * W + x]), 0.5));
        }
    free(heat);
    /* the colour bar: cold at the bottom, hot at the top */
    for (int y = 0; y < H; y++)
        raster_rect(out, pad + W + 4, pad + y, bar, 1, raster_heat(1 - (double)y / (H > 1 ? H - 1 : 1)));
    const Rgb ink = {20, 20, 20};
    if (line1) raster_text(out, pad, pad + H + 2, line1, 1, ink);
    if (line2) raster_text(out, pad, pad + H + 2 + RASTER_ADV_Y, line2, 1, ink);
}
