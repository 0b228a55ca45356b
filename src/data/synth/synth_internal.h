/* The look-alike generator's drawing kit, shared by the files of
 * src/data/synth/ and nothing else.
 *
 * Pictures are painted on a float RGB canvas (values 0..1) and rounded to
 * 8 bits at the end. The canvas is float whatever the build's `real`, so the
 * float and double builds write the same data set byte for byte.
 *
 * Shapes are signed-distance functions evaluated in a Frame's coordinates;
 * a pixel's coverage comes from its distance to the edge in pixels, which
 * anti-aliases every edge and lets one drawing serve any --size. */
#ifndef ANOMALY_SYNTH_INTERNAL_H
#define ANOMALY_SYNTH_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "anomaly/image.h"
#include "anomaly/pmath.h" /* pm_sin & co.: the same images on every CPU */
#include "anomaly/rng.h"

typedef struct Canvas {
    int w, h;
    float *px; /* [h][w][3], 0..1 */
} Canvas;

/* Maps frame coordinates to pixel coordinates: pixel = t + m * p. The unit
 * frame spans the image as [0,1]^2; object frames put an object's own axes
 * at its pose (and mirror it, for a flipped part). */
typedef struct Frame {
    double m[4], t[2]; /* forward: [a b; c d], (tx, ty) */
    double inv[4];     /* inverse of m */
    double scale;      /* pixels per frame unit */
} Frame;

/* Colour, opacity and edge softness (in pixels; 1 = a crisp, anti-aliased
 * edge, more = a fuzzy one). */
typedef struct Ink {
    float rgb[3];
    float alpha;
    float soft;
} Ink;

/* Signed distance to a shape's edge in frame units, negative inside. */
typedef double (*SdfFn)(const void *ctx, double x, double y);
/* Colour of a covered pixel: rgb holds the canvas pixel on entry and the
 * colour to blend in on return; (x, y) in frame coordinates. */
typedef void (*ShadeFn)(const void *ctx, double x, double y, float rgb[3]);
/* Colour of the pixel at unit coordinates (u, v), for whole-image textures. */
typedef void (*FieldFn)(const void *ctx, double u, double v, float rgb[3]);

/* Length of (x, y); libm's hypot guards against overflow we cannot have
 * here and costs several times more. */
static inline double dist2d(double x, double y) { return sqrt(x * x + y * y); }

/* ---- draw.c ---- */
void canvas_init(Canvas *cv, int w, int h);
void canvas_free(Canvas *cv);
void canvas_fill(Canvas *cv, const float rgb[3]);
/* Sets every pixel from fn at the pixel centre. */
void canvas_field(Canvas *cv, FieldFn fn, const void *ctx);
/* Rounds to 8 bits; gray: R = G = B = luminance (Rec. 601 weights). */
void canvas_to_image(const Canvas *cv, Image *img, int gray);

Frame frame_unit(int side);
/* A child frame: origin at (x, y) of the parent, axes turned by `angle`
 * radians (clockwise on screen, y pointing down), lengths times `scale`,
 * x axis mirrored when `mirror`. */
Frame frame_child(const Frame *parent, double x, double y, double angle, double scale, int mirror);
void frame_apply(const Frame *f, double x, double y, double *px, double *py);

Ink ink(float r, float g, float b, float alpha);
Ink ink_gray(float v, float alpha);
Ink ink_soft(Ink k, float soft);
Ink ink_scaled(const float rgb[3], float factor, float alpha);

/* The core painter: blends ink (or shade's colour, when shade is set) into
 * every pixel by coverage, over the frame box [x0,x1] x [y0,y1] that holds
 * the shape. */
void paint(Canvas *cv, const Frame *f, SdfFn sdf, const void *ctx, const double box[4], Ink k,
           ShadeFn shade, const void *sctx);

void draw_circle(Canvas *cv, const Frame *f, double x, double y, double r, Ink k);
void draw_ring(Canvas *cv, const Frame *f, double x, double y, double r_in, double r_out, Ink k);
void draw_ellipse(Canvas *cv, const Frame *f, double x, double y, double rx, double ry,
                  double angle, Ink k);
/* An ellipse coloured by shade. */
void shade_ellipse(Canvas *cv, const Frame *f, double x, double y, double rx, double ry,
                   double angle, Ink k, ShadeFn shade, const void *sctx);
/* A line with round caps; at least one pixel wide whatever the frame. */
void draw_segment(Canvas *cv, const Frame *f, double x0, double y0, double x1, double y1,
                  double width, Ink k);
/* xy: [n][2] points, joined as one shape so overlaps blend once. */
void draw_polyline(Canvas *cv, const Frame *f, const double *xy, int n, double width, Ink k);
void draw_polygon(Canvas *cv, const Frame *f, const double *xy, int n, Ink k);
/* A polygon coloured by shade. */
void shade_polygon(Canvas *cv, const Frame *f, const double *xy, int n, Ink k, ShadeFn shade,
                   const void *sctx);
/* Rotated rectangle of half sizes hw x hh with corners rounded by radius. */
void draw_box(Canvas *cv, const Frame *f, double x, double y, double hw, double hh, double angle,
              double radius, Ink k);

/* An irregular round shape: radius r(theta) = r * (1 + sum a_k sin(k theta + p_k)). */
#define BLOB_TERMS 4
typedef struct Blob {
    double x, y, r;
    double amp[BLOB_TERMS], phase[BLOB_TERMS];
} Blob;
/* A blob around (x, y) whose outline wobbles by about `irregular` * r. */
Blob blob_make(Rng *rng, double x, double y, double r, double irregular);
double blob_sdf(const void *blob, double x, double y);
void blob_box(const Blob *b, double box[4]);
void draw_blob(Canvas *cv, const Frame *f, const Blob *b, Ink k);
/* Multiplies the pixels under the blob (or line) by factor: a stain or a
 * shadow that keeps the texture underneath. */
void tint_blob(Canvas *cv, const Frame *f, const Blob *b, const float factor[3], float alpha,
               float soft);
void tint_polyline(Canvas *cv, const Frame *f, const double *xy, int n, double width,
                   const float factor[3], float alpha, float soft);

/* ---- noise.c ---- */
uint32_t hash3(int32_t x, int32_t y, uint32_t seed);
/* Uniform in [0, 1) from a lattice point. */
double hash_unit(int32_t x, int32_t y, uint32_t seed);
/* Smooth value noise in [-1, 1], one lattice cell per unit. */
double value_noise(double x, double y, uint32_t seed);
/* Sum of `octaves` value noises, each twice the frequency and half the
 * amplitude of the last; roughly in [-1, 1]. */
double fbm(double x, double y, int octaves, uint32_t seed);
/* Cellular noise: distances to the nearest and second-nearest feature point
 * (one per unit cell). */
void worley(double x, double y, uint32_t seed, double *f1, double *f2);
uint32_t rng_u32(Rng *r);
/* A random-walk path of n points from (x, y), each step `step` long, the
 * heading wandering by up to `wander` radians a step. xy: [n][2]. */
void random_walk(Rng *r, double *xy, int n, double x, double y, double heading, double step,
                 double wander);
/* n points along a quadratic Bezier curve from p0 through control c to p1. */
void bezier_points(double *xy, int n, double x0, double y0, double cx, double cy, double x1,
                   double y1);

/* ---- defects.c: marks shared by several classes (unit-frame sizes) ---- */
/* A stain: irregular soft patch multiplying the colours under it. */
void mark_stain(Canvas *cv, const Frame *f, Rng *r, double x, double y, double radius,
                const float factor[3]);
/* A dark straight slit with lighter lips. */
void mark_slit(Canvas *cv, const Frame *f, Rng *r, double x, double y, double length,
               double width, const float dark[3]);
/* A dark hole with a frayed rim. */
void mark_hole(Canvas *cv, const Frame *f, Rng *r, double x, double y, double radius,
               const float dark[3], const float rim[3]);
/* A few shiny metal flakes clustered around (x, y). */
void mark_metal_bits(Canvas *cv, const Frame *f, Rng *r, double x, double y, double size);
/* A loose fibre: a thin curved line with a faint shadow. */
void mark_thread(Canvas *cv, const Frame *f, Rng *r, double x, double y, double length,
                 double width, const float rgb[3]);
/* A branching crack. */
void mark_crack(Canvas *cv, const Frame *f, Rng *r, double x, double y, double length,
                double width, const float rgb[3]);
/* A thin straight scratch. */
void mark_scratch(Canvas *cv, const Frame *f, Rng *r, double x, double y, double length,
                  double width, const float rgb[3]);
/* A glossy drop: dark body, bright highlight. */
void mark_drop(Canvas *cv, const Frame *f, Rng *r, double x, double y, double radius,
               const float rgb[3], float alpha);
/* Small foreign particles. */
void mark_debris(Canvas *cv, const Frame *f, Rng *r, double x, double y, double spread,
                 double size, int count, const float rgb[3]);

/* ---- synth.c: what every class shares ---- */
static inline int state_is(const char *state, const char *name) { return strcmp(state, name) == 0; }

/* Lighting and sensor noise, drawn from the scene stream. */
typedef struct Light {
    double gain, tint[3], vignette, vx, vy, noise;
    uint32_t noise_seed;
} Light;
void light_draw(Light *l, Rng *scene);
void light_apply(Canvas *cv, const Light *l);
/* A plain backdrop with a gentle large-scale variation. */
void paint_background(Canvas *cv, const float rgb[3], double variation, uint32_t seed);
/* Picks `n` distinct defects for a `combined` label: sets bits of a mask
 * over `count` candidates. */
unsigned pick_defects(Rng *def, int count, int n);

/* Never two draws in one expression or argument list: C leaves the order of
 * operands and arguments unspecified, and gcc and clang pick differently, so
 * the images would depend on the compiler. Draw into variables first.
 *
 * A class painter: draws an image of state `state` of its class. Every draw
 * from `scene` (pose, lighting, texture phase) happens whatever the state, so
 * a good and a defective image with the same scene stream differ only by
 * the defect, whose draws come from `def`. */
typedef void (*ClassPainter)(Canvas *cv, const char *state, Rng *scene, Rng *def);

/* ---- textures.c, textures2.c, objects.c, objects2.c ---- */
void paint_carpet(Canvas *cv, const char *state, Rng *scene, Rng *def);
void paint_grid(Canvas *cv, const char *state, Rng *scene, Rng *def);
void paint_leather(Canvas *cv, const char *state, Rng *scene, Rng *def);
void paint_tile(Canvas *cv, const char *state, Rng *scene, Rng *def);
void paint_wood(Canvas *cv, const char *state, Rng *scene, Rng *def);
void paint_bottle(Canvas *cv, const char *state, Rng *scene, Rng *def);
void paint_cable(Canvas *cv, const char *state, Rng *scene, Rng *def);
void paint_capsule(Canvas *cv, const char *state, Rng *scene, Rng *def);
void paint_hazelnut(Canvas *cv, const char *state, Rng *scene, Rng *def);
void paint_metal_nut(Canvas *cv, const char *state, Rng *scene, Rng *def);
void paint_pill(Canvas *cv, const char *state, Rng *scene, Rng *def);
void paint_screw(Canvas *cv, const char *state, Rng *scene, Rng *def);
void paint_toothbrush(Canvas *cv, const char *state, Rng *scene, Rng *def);
void paint_transistor(Canvas *cv, const char *state, Rng *scene, Rng *def);
void paint_zipper(Canvas *cv, const char *state, Rng *scene, Rng *def);

/* ---- font.c ---- */
#define FONT_W 5
#define FONT_H 8
/* The 5x8 glyph of c: FONT_H rows, bit 4 the leftmost column; a box for
 * characters the font lacks. */
const uint8_t *font_glyph(char c);
/* Text in a frame: glyph dots as small boxes, the text centred on (x, y),
 * its capitals `height` tall; glyph columns beyond `clip` (a fraction 0..1 of the text's
 * width) are left out, for a partly missing print. */
void draw_text(Canvas *cv, const Frame *f, double x, double y, double height, const char *s,
               double clip, Ink k);

#endif
