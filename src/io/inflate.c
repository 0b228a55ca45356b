/* DEFLATE and gzip decoding (RFC 1951, RFC 1952). Huffman codes are decoded
 * through one lookup table per code, indexed by the next (bit-reversed)
 * max-length bits of input. */
#include "anomaly/inflate.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BITS 15

typedef struct Inflater {
    const uint8_t *in;
    size_t n, pos;   /* pos counts zero bytes read past the end too */
    uint64_t buf;    /* bits not yet consumed, next bit lowest */
    int cnt;
    uint8_t *out;
    size_t out_n, out_cap, max_out;
    char *err;
    size_t errlen;
    uint16_t *lit, *dist; /* tables: symbol << 4 | code length; 0 = no code */
    int lit_bits, dist_bits;
} Inflater;

static int fail(Inflater *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, s->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static void refill(Inflater *s, int k) {
    while (s->cnt < k) {
        uint64_t byte = s->pos < s->n ? s->in[s->pos] : 0;
        s->buf |= byte << s->cnt;
        s->pos++;
        s->cnt += 8;
    }
}

/* Bits consumed so far. */
static size_t consumed(const Inflater *s) { return s->pos * 8 - (size_t)s->cnt; }

/* Takes k bits (k <= 32); -1 when they run past the end of the input. */
static int64_t take(Inflater *s, int k) {
    refill(s, k);
    uint64_t v = s->buf & ((1ULL << k) - 1);
    s->buf >>= k;
    s->cnt -= k;
    if (consumed(s) > s->n * 8) return fail(s, "deflate data is truncated");
    return (int64_t)v;
}

/* Builds the table of a canonical Huffman code from its code lengths. An
 * incomplete code is allowed (RFC 1951 permits one for distances); its
 * unused bit patterns decode as errors. */
static int build(Inflater *s, uint16_t *table, int *bits, const uint8_t *len, int nsym, const char *what) {
    int count[MAX_BITS + 1] = {0}, next[MAX_BITS + 1];
    for (int i = 0; i < nsym; i++) count[len[i]]++;
    count[0] = 0;
    int left = 1, max = 0;
    for (int l = 1; l <= MAX_BITS; l++) {
        left = 2 * left - count[l];
        if (left < 0) return fail(s, "deflate data has an over-subscribed %s code", what);
        if (count[l]) max = l;
    }
    *bits = max ? max : 1;
    memset(table, 0, sizeof(uint16_t) << *bits);
    int code = 0;
    for (int l = 1; l <= MAX_BITS; l++) {
        code = (code + count[l - 1]) << 1;
        next[l] = code;
    }
    for (int sym = 0; sym < nsym; sym++) {
        int l = len[sym];
        if (!l) continue;
        int c = next[l]++, rev = 0;
        for (int b = 0; b < l; b++) rev |= ((c >> b) & 1) << (l - 1 - b);
        for (int k = rev; k < (1 << *bits); k += 1 << l) table[k] = (uint16_t)(sym << 4 | l);
    }
    return 0;
}

static int decode(Inflater *s, const uint16_t *table, int bits) {
    refill(s, bits);
    uint16_t e = table[s->buf & ((1u << bits) - 1)];
    int l = e & 15;
    if (!l) return fail(s, "deflate data holds an invalid Huffman code");
    s->buf >>= l;
    s->cnt -= l;
    if (consumed(s) > s->n * 8) return fail(s, "deflate data is truncated");
    return e >> 4;
}

static int put(Inflater *s, uint8_t b) {
    if (s->out_n == s->out_cap) {
        if (s->out_n >= s->max_out) return fail(s, "decompressed data exceed %zu bytes", s->max_out);
        size_t cap = s->out_cap ? 2 * s->out_cap : 65536;
        if (cap > s->max_out) cap = s->max_out;
        uint8_t *p = realloc(s->out, cap);
        if (!p) return fail(s, "out of memory decompressing %zu bytes", cap);
        s->out = p;
        s->out_cap = cap;
    }
    s->out[s->out_n++] = b;
    return 0;
}

static const uint16_t len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                       33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                       1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

/* The literal/length and distance codes of one compressed block. */
static int codes(Inflater *s) {
    for (;;) {
        int sym = decode(s, s->lit, s->lit_bits);
        if (sym < 0) return -1;
        if (sym < 256) {
            if (put(s, (uint8_t)sym)) return -1;
            continue;
        }
        if (sym == 256) return 0;
        sym -= 257;
        if (sym >= 29) return fail(s, "deflate data hold an invalid length code");
        int64_t extra = take(s, len_extra[sym]);
        if (extra < 0) return -1;
        size_t len = len_base[sym] + (size_t)extra;
        int d = decode(s, s->dist, s->dist_bits);
        if (d < 0) return -1;
        if (d >= 30) return fail(s, "deflate data hold an invalid distance code");
        extra = take(s, dist_extra[d]);
        if (extra < 0) return -1;
        size_t dist = dist_base[d] + (size_t)extra;
        if (dist > s->out_n) return fail(s, "deflate data refer back before the start of the output");
        for (size_t i = 0; i < len; i++)
            if (put(s, s->out[s->out_n - dist])) return -1;
    }
}

static int fixed_block(Inflater *s) {
    uint8_t len[288 + 30];
    for (int i = 0; i < 288; i++) len[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
    for (int i = 0; i < 30; i++) len[288 + i] = 5;
    if (build(s, s->lit, &s->lit_bits, len, 288, "literal/length") ||
        build(s, s->dist, &s->dist_bits, len + 288, 30, "distance"))
        return -1;
    return codes(s);
}

static int dynamic_block(Inflater *s) {
    static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    int64_t hlit = take(s, 5), hdist = take(s, 5), hclen = take(s, 4);
    if (hlit < 0 || hdist < 0 || hclen < 0) return -1;
    hlit += 257, hdist += 1, hclen += 4;
    if (hlit > 286 || hdist > 30) return fail(s, "deflate data declare too many codes");
    uint8_t cl[19] = {0}, len[286 + 30];
    for (int i = 0; i < hclen; i++) {
        int64_t v = take(s, 3);
        if (v < 0) return -1;
        cl[order[i]] = (uint8_t)v;
    }
    uint16_t cl_table[1 << 7];
    int cl_bits;
    if (build(s, cl_table, &cl_bits, cl, 19, "code-length")) return -1;
    for (int i = 0; i < hlit + hdist;) {
        int sym = decode(s, cl_table, cl_bits);
        if (sym < 0) return -1;
        if (sym < 16) {
            len[i++] = (uint8_t)sym;
            continue;
        }
        int64_t rep;
        uint8_t v = 0;
        if (sym == 16) {
            if (i == 0) return fail(s, "deflate data repeat a code length before the first");
            v = len[i - 1];
            rep = take(s, 2);
            if (rep >= 0) rep += 3;
        } else if (sym == 17) {
            rep = take(s, 3);
            if (rep >= 0) rep += 3;
        } else {
            rep = take(s, 7);
            if (rep >= 0) rep += 11;
        }
        if (rep < 0) return -1;
        if (i + rep > hlit + hdist) return fail(s, "deflate code lengths overflow their table");
        while (rep--) len[i++] = v;
    }
    if (len[256] == 0) return fail(s, "deflate block has no end-of-block code");
    if (build(s, s->lit, &s->lit_bits, len, (int)hlit, "literal/length") ||
        build(s, s->dist, &s->dist_bits, len + hlit, (int)hdist, "distance"))
        return -1;
    return codes(s);
}

static int stored_block(Inflater *s) {
    s->buf >>= s->cnt & 7; /* to the next byte boundary */
    s->cnt -= s->cnt & 7;
    int64_t len = take(s, 16), nlen = take(s, 16);
    if (len < 0 || nlen < 0) return -1;
    if ((len ^ 0xffff) != nlen) return fail(s, "deflate stored block has a corrupt length");
    for (int64_t i = 0; i < len; i++) {
        int64_t b = take(s, 8);
        if (b < 0 || put(s, (uint8_t)b)) return -1;
    }
    return 0;
}

int inflate_raw(const uint8_t *in, size_t n, size_t max_out, uint8_t **out, size_t *out_n,
                size_t *used, char *err, size_t errlen) {
    Inflater s;
    memset(&s, 0, sizeof s);
    s.in = in, s.n = n, s.max_out = max_out, s.err = err, s.errlen = errlen;
    s.lit = malloc(sizeof(uint16_t) << MAX_BITS);
    s.dist = malloc(sizeof(uint16_t) << MAX_BITS);
    int rc = s.lit && s.dist ? 0 : fail(&s, "out of memory");
    for (int64_t final = 0; rc == 0 && !final;) {
        final = take(&s, 1);
        int64_t type = take(&s, 2);
        if (final < 0 || type < 0) rc = -1;
        else if (type == 0) rc = stored_block(&s);
        else if (type == 1) rc = fixed_block(&s);
        else if (type == 2) rc = dynamic_block(&s);
        else rc = fail(&s, "deflate data hold an invalid block type");
    }
    free(s.lit);
    free(s.dist);
    if (rc) {
        free(s.out);
        return -1;
    }
    *out = s.out ? s.out : malloc(1);
    *out_n = s.out_n;
    if (used) *used = (consumed(&s) + 7) / 8;
    return 0;
}

static uint32_t crc_table[256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void crc_table_fill(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
    pthread_once(&crc_table_once, crc_table_fill); /* threads may checksum at once */
    const uint32_t *table = crc_table;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int gzip_decode(const uint8_t *in, size_t n, size_t max_out, uint8_t **out, size_t *out_n,
                char *err, size_t errlen) {
    uint8_t *all = NULL;
    size_t total = 0, at = 0;
    int members = 0;
    while (at < n) {
        if (members > 0) { /* only zero padding may follow the last member */
            size_t z = at;
            while (z < n && in[z] == 0) z++;
            if (z == n) break;
        }
        const uint8_t *p = in + at;
        size_t left = n - at, h = 10;
        if (left < 18 || p[0] != 0x1f || p[1] != 0x8b) {
            snprintf(err, errlen, members ? "gzip data have trailing garbage" : "not gzip data (no 1f 8b signature)");
            goto bad;
        }
        if (p[2] != 8) {
            snprintf(err, errlen, "gzip data use compression method %d, not deflate", p[2]);
            goto bad;
        }
        int flg = p[3];
        if (flg & 0xe0) {
            snprintf(err, errlen, "gzip header has reserved flags set");
            goto bad;
        }
        if (flg & 4) h += 2 + (size_t)(p[10] | p[11] << 8);          /* FEXTRA */
        for (int f = 8; f <= 16; f += 8)                               /* FNAME, FCOMMENT */
            if (flg & f) {
                while (h < left && p[h]) h++;
                h++;
            }
        if (flg & 2) h += 2; /* FHCRC */
        if (h + 8 > left) {
            snprintf(err, errlen, "gzip data are truncated");
            goto bad;
        }
        uint8_t *part;
        size_t part_n, used;
        if (inflate_raw(p + h, left - h, max_out - total, &part, &part_n, &used, err, errlen))
            goto bad;
        if (h + used + 8 > left) {
            free(part);
            snprintf(err, errlen, "gzip data are truncated (no trailer)");
            goto bad;
        }
        const uint8_t *trailer = p + h + used;
        if (crc32_update(0, part, part_n) != le32(trailer) || (uint32_t)part_n != le32(trailer + 4)) {
            free(part);
            snprintf(err, errlen, "gzip data are corrupt (CRC-32 or length mismatch)");
            goto bad;
        }
        uint8_t *grown = realloc(all, total + part_n + 1);
        if (!grown) {
            free(part);
            snprintf(err, errlen, "out of memory");
            goto bad;
        }
        all = grown;
        memcpy(all + total, part, part_n);
        total += part_n;
        free(part);
        at += h + used + 8;
        members++;
    }
    if (!members) {
        snprintf(err, errlen, "gzip data are empty");
        goto bad;
    }
    *out = all;
    *out_n = total;
    return 0;
bad:
    free(all);
    return -1;
}

int read_file_maybe_gzip(const char *path, size_t max_out, uint8_t **out, size_t *out_n,
                         char *err, size_t errlen) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, fp)) > 0;) {
        n += got;
        if (n == cap) {
            uint8_t *p = n >= max_out + 1 ? NULL : realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
    }
    int bad = ferror(fp);
    fclose(fp);
    if (!buf || bad) {
        free(buf);
        snprintf(err, errlen, "cannot read %s: %s", path, bad ? "read error" : "too large or out of memory");
        return -1;
    }
    if (n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
        char why[256];
        int rc = gzip_decode(buf, n, max_out, out, out_n, why, sizeof why);
        free(buf);
        if (rc) snprintf(err, errlen, "%s: %s", path, why);
        return rc;
    }
    *out = buf;
    *out_n = n;
    return 0;
}
