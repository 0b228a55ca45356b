/* DEFLATE (RFC 1951) and gzip (RFC 1952) decoding, so compressed inputs
 * (Fashion-MNIST's .gz IDX files) need no library beyond libc.
 *
 * Decoding is strict: a bad block type, an over-subscribed or unusable
 * Huffman code, a distance reaching before the output's start, truncated
 * input, a wrong CRC-32 or length in a gzip trailer, or output beyond the
 * caller's limit are errors with a one-line reason. Corrupt input never
 * crashes the decoder. */
#ifndef ANOMALY_INFLATE_H
#define ANOMALY_INFLATE_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 (the gzip / PNG polynomial) of n bytes, continuing from crc (0 to start). */
uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n);

/* Decodes one raw DEFLATE stream from in[0..n). On success returns 0 and
 * sets *out (malloc'ed, the caller frees it), *out_n and *used (the input
 * bytes the stream took, up to its final block's last whole byte). Returns
 * -1 with the reason in err otherwise. */
int inflate_raw(const uint8_t *in, size_t n, size_t max_out, uint8_t **out, size_t *out_n,
                size_t *used, char *err, size_t errlen);

/* Decodes a gzip file's bytes: one or more members, each checked against its
 * CRC-32 and length; zero bytes after the last member are ignored. Same
 * contract as inflate_raw (without `used`). */
int gzip_decode(const uint8_t *in, size_t n, size_t max_out, uint8_t **out, size_t *out_n,
                char *err, size_t errlen);

/* Reads a whole file, gunzipping it when it starts with the gzip signature
 * (1f 8b). Returns 0, or -1 with a reason naming the file in err. */
int read_file_maybe_gzip(const char *path, size_t max_out, uint8_t **out, size_t *out_n,
                         char *err, size_t errlen);

#endif
