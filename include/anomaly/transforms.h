/* Image transforms of the data pipeline (SPEC §2): the geometric and
 * photometric augmentations on 8-bit RGB images at their original size, then
 * Resize and Normalize into a CHW `real` buffer.
 *
 * Every op reproduces what albumentations 1.x does through OpenCV 4.x, with
 * OpenCV's integer arithmetic where OpenCV uses it (fixed-point bilinear
 * weights in resize and warpAffine, bit-exact binomial Gaussian blur), so
 * tools/opencv_ops.py can apply the same op with the same parameters and
 * compare. Choices where the reference is ambiguous are documented at each
 * function.
 *
 * Ownership: every function writing an `Image *out` allocates it with
 * image_alloc() (any previous content is ignored, not freed); the caller
 * frees it with image_free(). `out` never aliases `in`.
 * Threads: the ops parallelise over rows with OpenMP; every output pixel is
 * computed independently, so results are bit-identical for any thread count.
 */
#ifndef ANOMALY_TRANSFORMS_H
#define ANOMALY_TRANSFORMS_H

#include <stddef.h>
#include <stdint.h>

#include "anomaly/image.h"
#include "anomaly/real.h"
#include "anomaly/rng.h"

/* ---- transforms.c: Resize and Normalize ---- */

/* cv2.resize(..., INTER_LINEAR): half-pixel centres, src = (dst+0.5)*scale-0.5
 * clamped at the borders, 11-bit fixed-point weights. Downscaling samples the
 * two nearest source pixels (no area averaging), as OpenCV does. The rounding
 * is that of OpenCV 4.x's x86 SIMD code (bit-exact against Debian's 4.6); its
 * scalar fallback, used on other CPUs, can differ by 1 level. */
void image_resize(Image *out, const Image *in, int out_w, int out_h);

/* albumentations Normalize with ImageNet statistics:
 * out[c][y][x] = (px - 255*mean[c]) * (1 / (255*std[c])), the constants formed
 * in `real` arithmetic (the float build reproduces the float32 numbers of
 * albumentations). out: [3][h][w]. */
void image_normalize(real *out, const Image *in);

/* Resize to size x size (skipped when already that size), then Normalize.
 * out: [3][size][size]. The test / validation transform. */
void resize_normalize(real *out, const Image *in, int size);

extern const double imagenet_mean[3];
extern const double imagenet_std[3];

/* ---- geometry.c: flips, quarter turns, affine warps ---- */

/* Rows reversed (albumentations VerticalFlip). */
void image_vflip(Image *out, const Image *in);

/* np.rot90(img, k): k counter-clockwise quarter turns (k taken mod 4, negative
 * allowed); a non-square image comes out transposed in size. */
void image_rot90(Image *out, const Image *in, int k);

/* cv2.getRotationMatrix2D(center, angle_deg, scale): the 2x3 forward matrix
 * m = [a b tx; -b a ty], a = scale*cos, b = scale*sin, positive angles
 * counter-clockwise on screen. */
void rotation_matrix(double m[6], double cx, double cy, double angle_deg, double scale);

/* cv2.warpAffine(in, m, (w, h), INTER_LINEAR, BORDER_REFLECT_101) with the
 * forward matrix m (inverted here as OpenCV does), same output size as `in`.
 * Source coordinates in 1/32 pixel steps and 15-bit weights, as OpenCV. */
void image_warp_affine(Image *out, const Image *in, const double m[6]);

/* albumentations rotation centre. albumentations >= 1.1 (the seed's
 * requirement) rotates about (w/2 - 0.5, h/2 - 0.5), the true centre in
 * pixel-centre coordinates (older releases used (w/2, h/2)); we use the
 * former, so 180 degrees is an exact flip of both axes. */
void image_rotate(Image *out, const Image *in, double angle_deg);

/* albumentations ShiftScaleRotate: rotation_matrix about the same centre with
 * `scale`, then dx*w and dy*h added to the translation; one warp. */
void image_shift_scale_rotate(Image *out, const Image *in, double angle_deg, double scale,
                              double dx, double dy);

/* ---- photometric.c: lookup tables, blurs, noise ---- */

/* Lookup tables as albumentations builds them; every one truncates its float
 * value toward zero after clipping to [0, 255] (numpy .astype(uint8)):
 *   contrast:   float32(i) * float32(alpha)
 *   gamma:      255 * (i * (1/255))^gamma, in double (so even gamma 1 maps
 *               24 levels one down, 33 -> 32 the first, as albumentations)
 *   brightness: float32(i) + float32(beta * 255) */
void lut_contrast(uint8_t lut[256], double alpha);
void lut_gamma(uint8_t lut[256], double gamma);
void lut_brightness(uint8_t lut[256], double beta);
void image_apply_lut(Image *out, const Image *in, const uint8_t lut[256]);

/* The k x k motion-blur kernel: cv2.line(kernel, (x0,y0), (x1,y1), 1,
 * thickness=1) (8-connected Bresenham, drawn from the left end), normalised to
 * sum 1 in float32 as albumentations does. kernel: [k][k]. */
void motion_blur_kernel(float *kernel, int k, int x0, int y0, int x1, int y1);

/* cv2.filter2D(in, -1, kernel) with an odd k x k float kernel: correlation
 * (not flipped) about the centre, BORDER_REFLECT_101, sums in float over the
 * nonzero taps in row-major order, rounded to nearest-even. kernel: [k][k]. */
void image_filter2d(Image *out, const Image *in, const float *kernel, int k);

/* image_filter2d with motion_blur_kernel. */
void image_motion_blur(Image *out, const Image *in, int k, int x0, int y0, int x1, int y1);

/* cv2.medianBlur(in, k), odd k >= 3: per channel, BORDER_REPLICATE. Exact. */
void image_median_blur(Image *out, const Image *in, int k);

/* cv2.GaussianBlur(in, (k, k), 0) for k = 3 or 5, BORDER_REFLECT_101. With
 * sigma 0 OpenCV does not use the formula sigma = 0.3*((k-1)*0.5-1)+0.8 for
 * k <= 7: it takes the binomial kernels [1 2 1]/4 and [1 4 6 4 1]/16 and
 * rounds half up (its bit-exact 8-bit path). Exact. */
void image_gaussian_blur(Image *out, const Image *in, int k);

/* albumentations GaussNoise(per_channel=True): out = trunc(clip(px + n, 0, 255))
 * with n ~ N(0, var) independent per pixel and channel (Marsaglia's polar
 * method), drawn from rng_stream(noise_seed, row, 0) so rows can be filled in
 * parallel.
 * Truncation (as albumentations' astype(uint8)) lowers the mean by ~0.5. */
void image_gauss_noise(Image *out, const Image *in, double var, uint64_t noise_seed);

/* ---- augment.c: the aug_ver pipelines ---- */

typedef enum AugOpKind {
    AUG_ROTATE90,
    AUG_ROTATE,
    AUG_VFLIP,
    AUG_SHIFT_SCALE_ROTATE,
    AUG_CONTRAST,
    AUG_GAMMA,
    AUG_BRIGHTNESS,
    AUG_MOTION_BLUR,
    AUG_MEDIAN_BLUR,
    AUG_GAUSSIAN_BLUR,
    AUG_GAUSS_NOISE,
    AUG_RESIZE,
    AUG_OP_COUNT
} AugOpKind;

/* One applied op with its parameters; only the fields of its kind are used.
 * Sampled real parameters are rounded to 6 decimals so that the logged line
 * (printed with 6 decimals) replays bit-exactly. */
typedef struct AugOp {
    AugOpKind kind;
    double angle, scale, dx, dy; /* rotate, shift_scale_rotate (degrees, factor, fractions) */
    double value;                /* alpha, gamma, beta or var */
    int k;                       /* quarter turns, blur kernel size, resize size */
    int line[4];                 /* motion blur x0, y0, x1, y1 */
    uint64_t noise_seed;         /* gauss_noise */
} AugOp;

#define AUG_LOG_MAX 8
/* The ops applied to one image, in order. */
typedef struct AugLog {
    int count;
    AugOp op[AUG_LOG_MAX];
} AugLog;

/* The op's name ("rotate", "shift_scale_rotate", ...); -1 / NULL if unknown. */
const char *aug_op_name(AugOpKind kind);
int aug_op_kind(const char *name);

/* One line, no newline, in the form `NAME key=value ...` where every key is
 * the `anomaly augment --op NAME` flag that replays it:
 *   rotate90 k=K
 *   rotate angle=A border=reflect101
 *   vflip
 *   shift_scale_rotate angle=A scale=S dx=DX dy=DY border=reflect101
 *   contrast alpha=A | gamma gamma=G | brightness beta=B
 *   motion_blur kernel=K line=X0,Y0,X1,Y1
 *   median_blur kernel=K | gaussian_blur kernel=K
 *   gauss_noise var=V noise_seed=N
 *   resize img_size=N
 * Reals are printed with 6 decimals. Returns what snprintf returns. */
int aug_op_format(char *buf, size_t len, const AugOp *op);

/* Applies one op to `in` (out allocated as for every op above). */
void aug_op_apply(Image *out, const Image *in, const AugOp *op);

/* The train-time augmentations at the original size (steps 1-5 of SPEC §2
 * for aug_ver 2; nothing for aug_ver 1, which copies). Draws every parameter
 * from r, normally rng_stream(&r, seed, epoch, image_index). log may be NULL. */
void augment_image(Image *out, const Image *in, int aug_ver, Rng *r, AugLog *log);

/* augment_image, then resize_normalize: the whole train transform.
 * out: [3][size][size]. */
void train_transform(real *out, const Image *in, int aug_ver, int size, Rng *r, AugLog *log);

#endif
