/* PNG (libpng) and JPEG (libjpeg) reading and writing.
 *
 * Both libraries report errors through callbacks that must not return; ours
 * record the message and longjmp back to the function that set up the
 * decoder, which frees what it allocated and returns -1. Everything a
 * longjmp can cross is kept in a struct owned by the caller of that
 * function, so no local of the setjmp frame changes between setjmp and
 * longjmp (C99 7.13.2.1). */
#include "anomaly/image.h"
#include "anomaly/atomic_file.h"
#include "anomaly/error.h"
#include "anomaly/limits.h"
#include "io_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#define IMAGE_MAX_FILE_BYTES ((size_t)1 << 30)

static int size_ok(long long w, long long h) {
    const long long side = limit_get(LIMIT_IMAGE_SIDE);
    return w >= 1 && h >= 1 && w <= side && h <= side && w * h <= limit_get(LIMIT_IMAGE_PIXELS);
}

/* "image size W x H is out of range (...)": the limits and how to raise them. */
static void size_message(char *msg, size_t len, unsigned long w, unsigned long h) {
    snprintf(msg, len, "image size %lu x %lu is out of range (at most %lld per side, %lld pixels: %s, %s)", w, h,
             (long long)limit_get(LIMIT_IMAGE_SIDE), (long long)limit_get(LIMIT_IMAGE_PIXELS),
             limit_env_name(LIMIT_IMAGE_SIDE), limit_env_name(LIMIT_IMAGE_PIXELS));
}

void image_alloc(Image *img, int w, int h) {
    if (!size_ok(w, h)) {
        char msg[256];
        size_message(msg, sizeof msg, (unsigned long)(w < 0 ? 0 : w), (unsigned long)(h < 0 ? 0 : h));
        fatal("%s", msg);
    }
    img->w = w;
    img->h = h;
    img->px = xcalloc((size_t)w * (size_t)h, 3, "image pixels");
}

void image_free(Image *img) {
    free(img->px);
    img->px = NULL;
    img->w = img->h = 0;
}

/* ---- PNG ---- */

typedef struct PngRead {
    const uint8_t *data;
    size_t size, pos;
    png_structp png;
    png_infop info;
    uint8_t *buf;    /* decoded rows, before conversion to RGB */
    png_bytep *rows; /* [h] pointers into buf */
    char msg[256];
} PngRead;

static void png_on_error(png_structp png, png_const_charp msg) {
    PngRead *s = png_get_error_ptr(png);
    if (!s->msg[0]) snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* libpng warns about harmless things (unknown colour profiles, say); the
 * image is still decoded exactly, so the warnings are dropped. */
static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void png_read_mem(png_structp png, png_bytep out, size_t n) {
    PngRead *s = png_get_io_ptr(png);
    if (n > s->size - s->pos) {
        snprintf(s->msg, sizeof s->msg, "the file is truncated");
        png_error(png, s->msg);
    }
    memcpy(out, s->data + s->pos, n);
    s->pos += n;
}

/* Decodes s->data into img; on error returns -1 with the reason in s->msg.
 * The caller frees s->buf, s->rows and the libpng structs either way. */
static int png_decode(PngRead *s, Image *img) {
    if (setjmp(png_jmpbuf(s->png))) return -1;
    png_set_read_fn(s->png, s, png_read_mem);
    /* Leave the size limits to our own check below, which names them. */
    png_set_user_limits(s->png, 0x7fffffff, 0x7fffffff);
    png_read_info(s->png, s->info);
    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(s->png, s->info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if (!size_ok(w, h)) {
        size_message(s->msg, sizeof s->msg, (unsigned long)w, (unsigned long)h);
        png_error(s->png, s->msg);
    }
    /* OpenCV's choices: keep the high byte of 16-bit samples, expand
     * palettes and low-bit gray to 8-bit values. */
    if (depth == 16) png_set_strip_16(s->png);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(s->png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(s->png);
    png_set_interlace_handling(s->png);
    png_read_update_info(s->png, s->info);
    int ch = png_get_channels(s->png, s->info);
    size_t rowbytes = png_get_rowbytes(s->png, s->info);
    if (ch < 1 || ch > 4 || png_get_bit_depth(s->png, s->info) != 8 || rowbytes != (size_t)w * (size_t)ch) {
        snprintf(s->msg, sizeof s->msg, "unsupported PNG layout (%d channels, %d-bit)", ch, depth);
        png_error(s->png, s->msg);
    }
    s->buf = xmalloc(rowbytes * h, "PNG rows");
    s->rows = xmalloc(h * sizeof *s->rows, "PNG row pointers");
    for (png_uint_32 y = 0; y < h; y++) s->rows[y] = s->buf + (size_t)y * rowbytes;
    png_read_image(s->png, s->rows);
    /* Reading up to IEND catches a file cut after its last image data. */
    png_read_end(s->png, NULL);
    image_alloc(img, (int)w, (int)h);
    size_t n = (size_t)w * h;
    const uint8_t *src = s->buf;
    uint8_t *dst = img->px;
    for (size_t i = 0; i < n; i++, src += ch, dst += 3) {
        if (ch <= 2) {
            dst[0] = dst[1] = dst[2] = src[0];
        } else {
            dst[0] = src[0];
            dst[1] = src[1];
            dst[2] = src[2];
        }
    }
    return 0;
}

static int read_png(const char *path, const uint8_t *data, size_t size, Image *img, char *err,
                    size_t errlen) {
    PngRead s;
    memset(&s, 0, sizeof s);
    s.data = data;
    s.size = size;
    s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, png_on_error, png_on_warning);
    if (s.png) s.info = png_create_info_struct(s.png);
    if (!s.png || !s.info) {
        if (s.png) png_destroy_read_struct(&s.png, NULL, NULL);
        error_format(err, errlen, "%s: cannot set up the PNG decoder", path);
        return -1;
    }
    int rc = png_decode(&s, img);
    png_destroy_read_struct(&s.png, &s.info, NULL);
    free(s.buf);
    free(s.rows);
    if (rc != 0) {
        image_free(img);
        error_format(err, errlen, "%s: cannot read PNG: %s", path, s.msg[0] ? s.msg : "unknown error");
    }
    return rc;
}

/* ---- JPEG ---- */

typedef struct JpegRead {
    struct jpeg_error_mgr mgr; /* first, so the library's pointer is ours */
    jmp_buf jump;
    struct jpeg_decompress_struct cinfo;
    uint8_t *row;
    char msg[JMSG_LENGTH_MAX + 64];
} JpegRead;

static void jpeg_on_error(j_common_ptr cinfo) {
    JpegRead *s = (JpegRead *)cinfo->err;
    if (!s->msg[0]) cinfo->err->format_message(cinfo, s->msg);
    longjmp(s->jump, 1);
}

/* Warnings (level -1) mean corrupt or missing data that libjpeg would paper
 * over with gray; we refuse the image instead. Trace messages are dropped. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    if (level < 0) jpeg_on_error(cinfo);
}

static int jpeg_decode(JpegRead *s, const uint8_t *data, size_t size, Image *img) {
    if (setjmp(s->jump)) return -1;
    jpeg_create_decompress(&s->cinfo);
    jpeg_mem_src(&s->cinfo, data, (unsigned long)size);
    jpeg_read_header(&s->cinfo, TRUE);
    if (!size_ok(s->cinfo.image_width, s->cinfo.image_height)) {
        size_message(s->msg, sizeof s->msg, (unsigned long)s->cinfo.image_width,
                     (unsigned long)s->cinfo.image_height);
        return -1;
    }
    int gray = s->cinfo.num_components == 1;
    if (!gray && s->cinfo.num_components != 3) {
        snprintf(s->msg, sizeof s->msg, "unsupported JPEG with %d colour components (CMYK?)",
                 s->cinfo.num_components);
        return -1;
    }
    s->cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    s->cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&s->cinfo);
    int w = (int)s->cinfo.output_width, h = (int)s->cinfo.output_height;
    int ch = s->cinfo.output_components;
    if (ch != (gray ? 1 : 3)) {
        snprintf(s->msg, sizeof s->msg, "unexpected JPEG output with %d components", ch);
        return -1;
    }
    image_alloc(img, w, h);
    s->row = xmalloc((size_t)w * (size_t)ch, "a JPEG row");
    while (s->cinfo.output_scanline < s->cinfo.output_height) {
        int y = (int)s->cinfo.output_scanline;
        JSAMPROW rows[1] = {s->row};
        if (jpeg_read_scanlines(&s->cinfo, rows, 1) != 1) {
            snprintf(s->msg, sizeof s->msg, "the decoder stopped at row %d", y);
            return -1;
        }
        uint8_t *dst = img->px + (size_t)y * (size_t)w * 3;
        if (gray)
            for (int x = 0; x < w; x++) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = s->row[x];
        else
            memcpy(dst, s->row, (size_t)w * 3);
    }
    jpeg_finish_decompress(&s->cinfo);
    return 0;
}

static int read_jpeg(const char *path, const uint8_t *data, size_t size, Image *img, char *err,
                     size_t errlen) {
    JpegRead *s = xcalloc(1, sizeof *s, "a JPEG decoder");
    s->cinfo.err = jpeg_std_error(&s->mgr);
    s->mgr.error_exit = jpeg_on_error;
    s->mgr.emit_message = jpeg_on_message;
    int rc = jpeg_decode(s, data, size, img);
    jpeg_destroy_decompress(&s->cinfo);
    free(s->row);
    if (rc != 0) {
        image_free(img);
        error_format(err, errlen, "%s: cannot read JPEG: %s", path, s->msg[0] ? s->msg : "unknown error");
    }
    free(s);
    return rc;
}

int image_read(const char *path, Image *img, char *err, size_t errlen) {
    memset(img, 0, sizeof *img);
    uint8_t *data;
    size_t size;
    if (io_read_file(path, IMAGE_MAX_FILE_BYTES, &data, &size, err, errlen) != 0) return -1;
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    int rc;
    if (size >= 8 && memcmp(data, png_sig, 8) == 0) {
        rc = read_png(path, data, size, img, err, errlen);
    } else if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) {
        rc = read_jpeg(path, data, size, img, err, errlen);
    } else {
        error_format(err, errlen, "%s: not a PNG or JPEG file (%s)", path,
                size == 0 ? "it is empty" : "unknown signature");
        rc = -1;
    }
    free(data);
    return rc;
}

void image_read_or_die(const char *path, Image *img) {
    char err[1024];
    if (image_read(path, img, err, sizeof err) != 0) fatal("%s", err);
}

/* ---- writing ---- */

typedef struct PngWrite {
    png_structp png;
    png_infop info;
    char msg[256];
} PngWrite;

static void png_on_write_error(png_structp png, png_const_charp msg) {
    PngWrite *s = png_get_error_ptr(png);
    if (!s->msg[0]) snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static int png_encode(PngWrite *s, FILE *fp, const Image *img) {
    if (setjmp(png_jmpbuf(s->png))) return -1;
    png_init_io(s->png, fp);
    /* Level 1, as OpenCV's default: large images, written often, and the
     * files are only read back by us. */
    png_set_compression_level(s->png, 1);
    png_set_IHDR(s->png, s->info, (png_uint_32)img->w, (png_uint_32)img->h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(s->png, s->info);
    for (int y = 0; y < img->h; y++) png_write_row(s->png, img->px + (size_t)y * (size_t)img->w * 3);
    png_write_end(s->png, NULL);
    return 0;
}

void image_write_png(const char *path, const Image *img) {
    if (!img->px || !size_ok(img->w, img->h)) fatal("cannot write %s: empty or oversized image", path);
    PngWrite s;
    memset(&s, 0, sizeof s);
    s.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &s, png_on_write_error, png_on_warning);
    if (s.png) s.info = png_create_info_struct(s.png);
    if (!s.png || !s.info) fatal("cannot write %s: cannot set up the PNG encoder", path);
    AtomicFile f;
    atomic_file_open(&f, path);
    int rc = png_encode(&s, f.fp, img);
    png_destroy_write_struct(&s.png, &s.info);
    if (rc != 0) {
        atomic_file_abort(&f);
        fatal("cannot write %s: %s", path, s.msg);
    }
    atomic_file_commit(&f);
}

typedef struct JpegWrite {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    struct jpeg_compress_struct cinfo;
    char msg[JMSG_LENGTH_MAX + 64];
} JpegWrite;

static void jpeg_on_write_error(j_common_ptr cinfo) {
    JpegWrite *s = (JpegWrite *)cinfo->err;
    if (!s->msg[0]) cinfo->err->format_message(cinfo, s->msg);
    longjmp(s->jump, 1);
}

static void jpeg_on_write_message(j_common_ptr cinfo, int level) {
    if (level < 0) jpeg_on_write_error(cinfo);
}

static int jpeg_encode(JpegWrite *s, FILE *fp, const Image *img, int quality) {
    if (setjmp(s->jump)) return -1;
    jpeg_create_compress(&s->cinfo);
    jpeg_stdio_dest(&s->cinfo, fp);
    s->cinfo.image_width = (JDIMENSION)img->w;
    s->cinfo.image_height = (JDIMENSION)img->h;
    s->cinfo.input_components = 3;
    s->cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&s->cinfo);
    jpeg_set_quality(&s->cinfo, quality, TRUE);
    jpeg_start_compress(&s->cinfo, TRUE);
    while (s->cinfo.next_scanline < s->cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(img->px + (size_t)s->cinfo.next_scanline * (size_t)img->w * 3);
        jpeg_write_scanlines(&s->cinfo, &row, 1);
    }
    jpeg_finish_compress(&s->cinfo);
    return 0;
}

void image_write_jpeg(const char *path, const Image *img, int quality) {
    if (!img->px || !size_ok(img->w, img->h)) fatal("cannot write %s: empty or oversized image", path);
    if (quality < 1 || quality > 100)
        fatal("cannot write %s: JPEG quality %d is not in 1..100", path, quality);
    JpegWrite *s = xcalloc(1, sizeof *s, "a JPEG encoder");
    s->cinfo.err = jpeg_std_error(&s->mgr);
    s->mgr.error_exit = jpeg_on_write_error;
    s->mgr.emit_message = jpeg_on_write_message;
    AtomicFile f;
    atomic_file_open(&f, path);
    int rc = jpeg_encode(s, f.fp, img, quality);
    jpeg_destroy_compress(&s->cinfo);
    if (rc != 0) {
        char msg[sizeof s->msg];
        memcpy(msg, s->msg, sizeof msg);
        free(s);
        atomic_file_abort(&f);
        fatal("cannot write %s: %s", path, msg);
    }
    free(s);
    atomic_file_commit(&f);
}
