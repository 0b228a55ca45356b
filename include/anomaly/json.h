/* A small strict JSON reader (RFC 8259) and a string builder for writing.
 *
 * Enough for safetensors headers and small config files: objects, arrays,
 * strings (all escapes, \uXXXX with surrogate pairs, UTF-8 checked),
 * numbers, true, false, null. Strict: no comments, no trailing commas, no
 * leading zeros, no control characters in strings, nothing but whitespace
 * after the value, nesting at most JSON_MAX_DEPTH deep. Errors say what was
 * wrong and at which byte. Duplicate object keys are kept (in order); callers
 * that need unique keys check with json_object_find_duplicate(). */
#ifndef ANOMALY_JSON_H
#define ANOMALY_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64

typedef enum JsonType {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} JsonType;

typedef struct JsonValue JsonValue;
typedef struct JsonMember JsonMember;

struct JsonValue {
    JsonType type;
    size_t pos;          /* byte offset of the value in the parsed text */
    int boolean;         /* JSON_BOOL */
    double number;       /* JSON_NUMBER */
    int is_int;          /* JSON_NUMBER written as an integer that fits int64 */
    int64_t integer;     /* valid when is_int */
    char *str;           /* JSON_STRING: decoded UTF-8, NUL-terminated */
    size_t len;          /* JSON_STRING: bytes (may hold NUL from \u0000) */
    size_t count;        /* JSON_ARRAY / JSON_OBJECT: elements / members */
    JsonValue *items;    /* JSON_ARRAY: [count] */
    JsonMember *members; /* JSON_OBJECT: [count], in text order */
};

struct JsonMember {
    char *key; /* decoded, NUL-terminated */
    size_t key_len;
    size_t key_pos; /* byte offset of the key's opening quote */
    JsonValue value;
};

/* Parses text[0..len). Returns a tree to free with json_free(), or NULL with
 * "at byte N: reason" in err. */
JsonValue *json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(JsonValue *v);

/* First member named key (exact bytes, no embedded NUL), or NULL. */
const JsonValue *json_object_get(const JsonValue *obj, const char *key);
/* Index of the first member whose key repeats an earlier one, or -1. */
long json_object_find_duplicate(const JsonValue *obj);
/* "object", "array", ... for messages. */
const char *json_type_name(JsonType t);

/* A growable NUL-terminated byte string, for writing JSON text. */
typedef struct JsonBuf {
    char *data;
    size_t len, cap;
} JsonBuf;

void json_buf_init(JsonBuf *b);
void json_buf_free(JsonBuf *b);
void json_buf_append(JsonBuf *b, const char *s, size_t n);
void json_buf_puts(JsonBuf *b, const char *s);
void json_buf_printf(JsonBuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends s as a quoted JSON string, escaping quotes, backslashes and
 * control characters (other bytes are copied as they are). */
void json_buf_string(JsonBuf *b, const char *s);

#endif
