/* PNG and JPEG reading and writing: every PNG colour type and bit depth
 * (written here with libpng directly), OpenCV's decoding of the fixtures,
 * round trips, and bad files (missing, empty, not an image, truncated,
 * corrupt, absurd sizes), which must fail cleanly and print nothing. */
#include "check.h"
#include "tmpdir.h"

#include <setjmp.h>
#include <stdint.h>
#include <unistd.h>

#include <png.h>

#include "anomaly/image.h"
#include "anomaly/rng.h"

/* A PNG of the given colour type, depth and interlacing, written with
 * libpng; `expect` gets the RGB that imread gives for it. Samples follow a
 * fixed pattern that reaches every value of small depths. */
static int write_test_png(const char *path, int w, int h, int color, int depth, int interlace,
                          uint8_t *expect) {
    int ch = color == PNG_COLOR_TYPE_GRAY         ? 1
             : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
             : color == PNG_COLOR_TYPE_RGB        ? 3
             : color == PNG_COLOR_TYPE_RGBA       ? 4
                                                  : 1;
    int maxv = (1 << depth) - 1, bps = depth == 16 ? 2 : 1;
    png_color palette[256];
    png_byte trans[256];
    for (int i = 0; i < 256; i++) {
        palette[i].red = (png_byte)(i * 7 + 3);
        palette[i].green = (png_byte)(255 - i);
        palette[i].blue = (png_byte)(i * 13);
        trans[i] = (png_byte)(i * 5);
    }
    uint8_t *rows = calloc((size_t)w * h * ch * bps, 1);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int rgb[3];
            for (int c = 0; c < ch; c++) {
                int v = (x * 31 + y * 17 + c * 71 + (x ^ y) * 5) % (maxv + 1);
                if (depth == 16) v = (v * 40503) & 0xffff; /* spread over both bytes */
                uint8_t *s = rows + (((size_t)y * w + x) * ch + c) * bps;
                if (depth == 16) {
                    s[0] = (uint8_t)(v >> 8);
                    s[1] = (uint8_t)(v & 0xff);
                } else {
                    s[0] = (uint8_t)v;
                }
                int v8 = depth == 16 ? v >> 8 : depth < 8 ? v * 255 / maxv : v;
                if (color == PNG_COLOR_TYPE_PALETTE) {
                    rgb[0] = palette[v].red;
                    rgb[1] = palette[v].green;
                    rgb[2] = palette[v].blue;
                } else if (c < 3) {
                    rgb[c] = v8;
                }
            }
            if (ch <= 2 && color != PNG_COLOR_TYPE_PALETTE) rgb[1] = rgb[2] = rgb[0];
            for (int c = 0; c < 3; c++) expect[((size_t)y * w + x) * 3 + c] = (uint8_t)rgb[c];
        }
    FILE *fp = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(fp);
        free(rows);
        return -1;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_set_PLTE(png, info, palette, 1 << depth);
        png_set_tRNS(png, info, trans, 1 << depth, NULL);
    }
    png_write_info(png, info);
    if (depth < 8) png_set_packing(png);
    png_bytep *rp = malloc((size_t)h * sizeof *rp);
    for (int y = 0; y < h; y++) rp[y] = rows + (size_t)y * w * ch * bps;
    png_write_image(png, rp);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    free(rp);
    free(rows);
    return 0;
}

static void test_png_every_color_type(void) {
    static const struct {
        int color, depth;
    } kinds[] = {
        {PNG_COLOR_TYPE_GRAY, 1},        {PNG_COLOR_TYPE_GRAY, 2},    {PNG_COLOR_TYPE_GRAY, 4},
        {PNG_COLOR_TYPE_GRAY, 8},        {PNG_COLOR_TYPE_GRAY, 16},   {PNG_COLOR_TYPE_GRAY_ALPHA, 8},
        {PNG_COLOR_TYPE_GRAY_ALPHA, 16}, {PNG_COLOR_TYPE_RGB, 8},     {PNG_COLOR_TYPE_RGB, 16},
        {PNG_COLOR_TYPE_RGBA, 8},        {PNG_COLOR_TYPE_RGBA, 16},   {PNG_COLOR_TYPE_PALETTE, 1},
        {PNG_COLOR_TYPE_PALETTE, 2},     {PNG_COLOR_TYPE_PALETTE, 4}, {PNG_COLOR_TYPE_PALETTE, 8},
    };
    int w = 13, h = 11; /* odd sizes: partial bytes and partial Adam7 passes */
    uint8_t *expect = malloc((size_t)w * h * 3);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        for (int interlace = 0; interlace < 2; interlace++) {
            const char *p = tmp_path("kind.png");
            if (write_test_png(p, w, h, kinds[i].color, kinds[i].depth, interlace, expect) != 0) {
                CHECK(0, "libpng could not write colour type %d depth %d", kinds[i].color, kinds[i].depth);
                continue;
            }
            Image img;
            char err[512];
            int rc = image_read(p, &img, err, sizeof err);
            CHECK(rc == 0, "colour type %d depth %d interlace %d: %s", kinds[i].color, kinds[i].depth,
                  interlace, err);
            if (rc) continue;
            CHECK(img.w == w && img.h == h, "size %d x %d", img.w, img.h);
            size_t bad = 0, first = 0;
            for (size_t k = 0; k < (size_t)w * h * 3; k++)
                if (img.px[k] != expect[k] && bad++ == 0) first = k;
            CHECK(bad == 0,
                  "colour type %d depth %d interlace %d: %zu values differ, first at %zu (%d, want %d)",
                  kinds[i].color, kinds[i].depth, interlace, bad, first, img.px[first], expect[first]);
            image_free(&img);
        }
    free(expect);
}

static void pattern(Image *img, int w, int h) {
    image_alloc(img, w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                img->px[((size_t)y * w + x) * 3 + c] =
                    (uint8_t)(128 + 100 * sin(0.21 * x + 0.13 * y + 2.0 * c));
}

static void test_png_roundtrip(void) {
    static const int sizes[][2] = {{1, 1}, {1, 7}, {7, 1}, {33, 17}, {64, 64}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        Image a, b;
        pattern(&a, sizes[i][0], sizes[i][1]);
        const char *p = tmp_path("rt.png");
        image_write_png(p, &a);
        char err[512];
        int rc = image_read(p, &b, err, sizeof err);
        CHECK(rc == 0, "%s", err);
        if (rc == 0) {
            CHECK(b.w == a.w && b.h == a.h && memcmp(a.px, b.px, (size_t)a.w * a.h * 3) == 0,
                  "%d x %d differs", a.w, a.h);
            image_free(&b);
        }
        image_free(&a);
    }
}

static void test_jpeg_roundtrip(void) {
    Image a, b;
    pattern(&a, 40, 24);
    const char *p = tmp_path("rt.jpg");
    image_write_jpeg(p, &a, 95);
    char err[512];
    int rc = image_read(p, &b, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        CHECK(b.w == 40 && b.h == 24, "size %d x %d", b.w, b.h);
        double sum = 0;
        int worst = 0;
        for (size_t k = 0; k < (size_t)40 * 24 * 3; k++) {
            int d = abs((int)a.px[k] - (int)b.px[k]);
            sum += d;
            if (d > worst) worst = d;
        }
        double mean = sum / (40 * 24 * 3);
        /* quality 95, chroma subsampled 2x2: a few levels on average */
        CHECK(mean < 4 && worst < 40, "JPEG error mean %.2f max %d", mean, worst);
        image_free(&b);
    }
    image_free(&a);
}

static void test_matches_opencv(void) {
    static const char *names[] = {"photo.jpg", "gray.jpg", "progressive.jpg", "rgba16.png", "gray16.png"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[256], ref[300], err[512];
        snprintf(path, sizeof path, "tests/fixtures/data/%s", names[i]);
        snprintf(ref, sizeof ref, "%s.rgb", path);
        size_t n;
        uint8_t *want = read_bytes(ref, &n);
        CHECK(want != NULL, "missing fixture %s (run from the repository root)", ref);
        if (!want) continue;
        Image img;
        int rc = image_read(path, &img, err, sizeof err);
        CHECK(rc == 0, "%s", err);
        if (rc == 0) {
            CHECK((size_t)img.w * img.h * 3 == n, "%s: %d x %d for %zu bytes", names[i], img.w, img.h, n);
            size_t bad = 0, first = 0;
            for (size_t k = 0; k < n && (size_t)img.w * img.h * 3 == n; k++)
                if (img.px[k] != want[k] && bad++ == 0) first = k;
            CHECK(bad == 0, "%s: %zu values differ from OpenCV, first at %zu (%d, want %d)", names[i], bad,
                  first, img.px[first], want[first]);
            image_free(&img);
        }
        free(want);
    }
}

static void expect_fail(const char *path, const char *needle) {
    Image img;
    char err[512] = "";
    int rc = image_read(path, &img, err, sizeof err);
    CHECK(rc == -1, "%s was accepted", path);
    if (rc == 0) image_free(&img);
    CHECK(strstr(err, path) != NULL, "error '%s' does not name the file", err);
    CHECK(!needle || strstr(err, needle) != NULL, "error '%s' does not mention '%s'", err, needle);
    CHECK(img.px == NULL, "pixels left allocated after an error");
}

static uint32_t crc32_of(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

/* Every prefix of a file must be refused. */
static int accepted_prefixes(const uint8_t *d, size_t n, const char *path) {
    int accepted = 0;
    for (size_t cut = 0; cut < n; cut++) {
        write_bytes(path, d, cut);
        Image img;
        char err[512];
        if (image_read(path, &img, err, sizeof err) == 0) {
            accepted++;
            image_free(&img);
        }
    }
    return accepted;
}

static void test_bad_files(void) {
    /* libpng and libjpeg must not print anything: catch stderr in a file. */
    fflush(stderr);
    int saved = dup(2);
    char errfile[256];
    snprintf(errfile, sizeof errfile, "%s", tmp_path("stderr.txt"));
    FILE *cap = fopen(errfile, "w");
    dup2(fileno(cap), 2);

    expect_fail(tmp_path("missing.png"), "No such file");
    write_bytes(tmp_path("empty.png"), "", 0);
    expect_fail(tmp_path("empty.png"), "empty");
    write_bytes(tmp_path("text.png"), "this is not an image\n", 21);
    expect_fail(tmp_path("text.png"), "not a PNG or JPEG");

    Image a;
    pattern(&a, 21, 14);
    image_write_png(tmp_path("good.png"), &a);
    image_write_jpeg(tmp_path("good.jpg"), &a, 90);
    image_free(&a);
    size_t np, nj;
    uint8_t *png = read_bytes(tmp_path("good.png"), &np), *jpg = read_bytes(tmp_path("good.jpg"), &nj);
    CHECK(accepted_prefixes(png, np, tmp_path("cut.png")) == 0, "a truncated PNG was accepted");
    CHECK(accepted_prefixes(jpg, nj, tmp_path("cut.jpg")) == 0, "a truncated JPEG was accepted");
    write_bytes(tmp_path("cut.png"), png, np / 2);
    expect_fail(tmp_path("cut.png"), "truncated");
    write_bytes(tmp_path("cut.jpg"), jpg, nj / 2);
    expect_fail(tmp_path("cut.jpg"), "Premature end");

    /* a flipped byte in the image data: the chunk CRC no longer matches */
    uint8_t *m = malloc(np > nj ? np : nj);
    memcpy(m, png, np);
    m[np - 20] ^= 0x55;
    write_bytes(tmp_path("crc.png"), m, np);
    expect_fail(tmp_path("crc.png"), "cannot read PNG");
    /* JPEG scan data overwritten with garbage */
    memcpy(m, jpg, nj);
    for (size_t i = nj / 2; i < nj / 2 + 40 && i < nj - 2; i++) m[i] = (uint8_t)(i * 97);
    write_bytes(tmp_path("garbage.jpg"), m, nj);
    expect_fail(tmp_path("garbage.jpg"), "cannot read JPEG");

    /* absurd sizes, with a valid IHDR CRC: refused before any allocation */
    memcpy(m, png, np);
    m[16] = 0, m[17] = 1, m[18] = 0x86, m[19] = 0xa0; /* width 100000 */
    uint32_t crc = crc32_of(m + 12, 17);
    m[29] = (uint8_t)(crc >> 24), m[30] = (uint8_t)(crc >> 16), m[31] = (uint8_t)(crc >> 8),
    m[32] = (uint8_t)crc;
    write_bytes(tmp_path("wide.png"), m, np);
    expect_fail(tmp_path("wide.png"), "out of range");
    memcpy(m, jpg, nj);
    for (size_t i = 2; i + 9 < nj; i++)
        if (m[i] == 0xFF && (m[i + 1] == 0xC0 || m[i + 1] == 0xC2)) { /* SOF: height, width */
            m[i + 5] = m[i + 7] = 0xF0; /* 61440 x 61440: within libjpeg's limit, beyond ours */
            m[i + 6] = m[i + 8] = 0;
            break;
        }
    write_bytes(tmp_path("huge.jpg"), m, nj);
    expect_fail(tmp_path("huge.jpg"), "out of range");
    free(m);
    free(png);
    free(jpg);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(cap);
    size_t n_err;
    char *said = (char *)read_bytes(errfile, &n_err);
    CHECK(n_err == 0, "the image libraries printed: %.200s", said ? said : "");
    free(said);
}

/* Random byte changes must give an error or an image, never a crash or a
 * message on stderr (run under AddressSanitizer too). */
static void test_survives_corruption(void) {
    fflush(stderr);
    int saved = dup(2);
    char errfile[256];
    snprintf(errfile, sizeof errfile, "%s", tmp_path("stderr2.txt"));
    FILE *cap = fopen(errfile, "w");
    dup2(fileno(cap), 2);
    Image a;
    pattern(&a, 19, 12);
    image_write_png(tmp_path("f.png"), &a);
    image_write_jpeg(tmp_path("f.jpg"), &a, 85);
    image_free(&a);
    char files[2][256];
    snprintf(files[0], sizeof files[0], "%s", tmp_path("f.png"));
    snprintf(files[1], sizeof files[1], "%s", tmp_path("f.jpg"));
    Rng r;
    rng_seed(&r, 5);
    int rejected = 0;
    for (int f = 0; f < 2; f++) {
        size_t n;
        uint8_t *d = read_bytes(files[f], &n), *m = malloc(n);
        for (int trial = 0; trial < 400; trial++) {
            memcpy(m, d, n);
            int flips = 1 + (int)rng_below(&r, 3);
            for (int k = 0; k < flips; k++) m[8 + rng_below(&r, n - 8)] = (uint8_t)rng_u64(&r);
            write_bytes(tmp_path("mut"), m, n);
            Image img;
            char err[512];
            if (image_read(tmp_path("mut"), &img, err, sizeof err) == 0)
                image_free(&img);
            else
                rejected++;
        }
        free(d);
        free(m);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(cap);
    size_t n_err;
    char *said = (char *)read_bytes(errfile, &n_err);
    CHECK(n_err == 0, "the image libraries printed: %.200s", said ? said : "");
    free(said);
    CHECK(rejected > 200, "only %d of 800 corrupt files were refused", rejected);
}

int main(void) {
    tmpdir_create("image");
    RUN(test_png_every_color_type);
    RUN(test_png_roundtrip);
    RUN(test_jpeg_roundtrip);
    RUN(test_matches_opencv);
    RUN(test_bad_files);
    RUN(test_survives_corruption);
    tmpdir_remove();
    CHECK_MAIN_END();
}
