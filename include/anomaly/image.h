/* 8-bit RGB images and their files.
 *
 * Every image is decoded to 8-bit RGB, interleaved, row-major (HWC), whatever
 * the file held: gray, gray+alpha, RGB, RGBA, palette, 16-bit (PNG, via
 * libpng) or baseline/progressive JPEG (via libjpeg). Alpha is dropped. */
#ifndef ANOMALY_IMAGE_H
#define ANOMALY_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Larger images than the limits of anomaly/limits.h (LIMIT_IMAGE_SIDE,
 * LIMIT_IMAGE_PIXELS) are refused before any pixel memory is allocated: a
 * corrupt header must not cost gigabytes. */

typedef struct Image {
    int w, h;
    uint8_t *px; /* [h][w][3] */
} Image;

/* Allocates a w x h image (pixels zeroed); fatal() on failure or on a size
 * outside the size limits. */
void image_alloc(Image *img, int w, int h);
void image_free(Image *img);

/* Reads a PNG or JPEG (chosen by the file's signature, not its name).
 * Returns 0; or -1 with a one-line reason in err naming the file (missing,
 * truncated, corrupt, unsupported). Never crashes on bad input, and nothing
 * of libpng's or libjpeg's own reporting reaches stderr: their messages end
 * up in err. Pixel values are those of OpenCV's imread (16-bit samples keep
 * their high byte; alpha is dropped, not composited). A JPEG that libjpeg
 * would decode only with a warning (truncated or corrupt data) is an error. */
int image_read(const char *path, Image *img, char *err, size_t errlen);
/* Same, fatal() on error. */
void image_read_or_die(const char *path, Image *img);

/* Writes an 8-bit RGB PNG atomically (temp + rename); fatal() on error. */
void image_write_png(const char *path, const Image *img);
/* Writes an 8-bit RGB JPEG atomically with the given quality (1-100). */
void image_write_jpeg(const char *path, const Image *img, int quality);

#endif
