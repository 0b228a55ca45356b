#include "anomaly/json.h"
#include "anomaly/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Parser {
    const char *s;
    size_t len, pos;
    char *err;
    size_t errlen;
    int failed;
} Parser;

static int fail_at(Parser *p, size_t pos, const char *fmt, ...) ANOMALY_PRINTF(3, 4);
static int fail_at(Parser *p, size_t pos, const char *fmt, ...) {
    if (p->failed) return -1; /* keep the first (innermost) reason */
    p->failed = 1;
    if (p->err && p->errlen) {
        int n = snprintf(p->err, p->errlen, "at byte %zu: ", pos);
        if (n >= 0 && (size_t)n < p->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static void skip_ws(Parser *p) {
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int parse_value(Parser *p, JsonValue *v, int depth);

/* Describes the byte at pos for messages ("end of input", "'x'", "byte 0x93"). */
static const char *describe(Parser *p, size_t pos, char *buf, size_t n) {
    if (pos >= p->len) return "end of input";
    unsigned char c = (unsigned char)p->s[pos];
    if (c >= 0x20 && c < 0x7f) snprintf(buf, n, "'%c'", c);
    else snprintf(buf, n, "byte 0x%02x", c);
    return buf;
}

static int expect_literal(Parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail_at(p, p->pos, "invalid literal (expected %s)", word);
    p->pos += n;
    return 0;
}

static int hex4(Parser *p, size_t at, unsigned *out) {
    if (p->len - at < 4) return fail_at(p, at, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[at + (size_t)i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return fail_at(p, at + (size_t)i, "invalid hex digit in \\u escape");
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid (overlong
 * forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t need;
    unsigned cp, min;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) { need = 2; cp = c & 0x1f; min = 0x80; }
    else if ((c & 0xf0) == 0xe0) { need = 3; cp = c & 0x0f; min = 0x800; }
    else if ((c & 0xf8) == 0xf0) { need = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < need) return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return need;
}

/* Parses a string at p->pos (the opening quote) into a fresh buffer. */
static int parse_string(Parser *p, char **out, size_t *out_len) {
    size_t start = p->pos++;
    /* Decoded text is never longer than the source. */
    size_t end = p->pos;
    while (end < p->len && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    size_t cap = (end < p->len ? end : p->len) - start + 1;
    char *o = xmalloc(cap, "a JSON string");
    size_t n = 0;
    for (;;) {
        if (p->pos >= p->len) {
            free(o);
            return fail_at(p, start, "unterminated string");
        }
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') { p->pos++; break; }
        if (c < 0x20) {
            free(o);
            return fail_at(p, p->pos, "control character 0x%02x in a string (must be escaped)", c);
        }
        if (c == '\\') {
            size_t at = p->pos;
            if (p->pos + 1 >= p->len) { free(o); return fail_at(p, at, "unterminated string"); }
            char e = p->s[p->pos + 1];
            p->pos += 2;
            switch (e) {
            case '"': o[n++] = '"'; break;
            case '\\': o[n++] = '\\'; break;
            case '/': o[n++] = '/'; break;
            case 'b': o[n++] = '\b'; break;
            case 'f': o[n++] = '\f'; break;
            case 'n': o[n++] = '\n'; break;
            case 'r': o[n++] = '\r'; break;
            case 't': o[n++] = '\t'; break;
            case 'u': {
                unsigned cp, lo;
                if (hex4(p, p->pos, &cp)) { free(o); return -1; }
                p->pos += 4;
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    free(o);
                    return fail_at(p, at, "lone low surrogate \\u%04x", cp);
                }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (p->len - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                        free(o);
                        return fail_at(p, at, "high surrogate \\u%04x not followed by a low one", cp);
                    }
                    if (hex4(p, p->pos + 2, &lo)) { free(o); return -1; }
                    if (lo < 0xdc00 || lo > 0xdfff) {
                        free(o);
                        return fail_at(p, at, "high surrogate \\u%04x not followed by a low one", cp);
                    }
                    p->pos += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                n += put_utf8(o + n, cp);
                break;
            }
            default:
                free(o);
                return fail_at(p, at, "invalid escape \\%c", e >= 0x20 && e < 0x7f ? e : '?');
            }
            continue;
        }
        size_t k = utf8_seq((const unsigned char *)p->s + p->pos, p->len - p->pos);
        if (!k) { free(o); return fail_at(p, p->pos, "invalid UTF-8 in a string"); }
        memcpy(o + n, p->s + p->pos, k);
        n += k;
        p->pos += k;
    }
    o[n] = '\0';
    *out = o;
    *out_len = n;
    return 0;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int parse_number(Parser *p, JsonValue *v) {
    size_t start = p->pos, i = p->pos;
    int integral = 1;
    if (i < p->len && p->s[i] == '-') i++;
    if (i >= p->len || !is_digit(p->s[i])) return fail_at(p, start, "invalid number");
    if (p->s[i] == '0') {
        i++;
        if (i < p->len && is_digit(p->s[i])) return fail_at(p, start, "number with a leading zero");
    } else {
        while (i < p->len && is_digit(p->s[i])) i++;
    }
    if (i < p->len && p->s[i] == '.') {
        integral = 0;
        i++;
        if (i >= p->len || !is_digit(p->s[i])) return fail_at(p, i, "digit expected after '.'");
        while (i < p->len && is_digit(p->s[i])) i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        integral = 0;
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (i >= p->len || !is_digit(p->s[i])) return fail_at(p, i, "digit expected in exponent");
        while (i < p->len && is_digit(p->s[i])) i++;
    }
    size_t n = i - start;
    char small[64];
    char *tok = n < sizeof small ? small : xmalloc(n + 1, "a JSON number");
    memcpy(tok, p->s + start, n);
    tok[n] = '\0';
    v->type = JSON_NUMBER;
    v->number = strtod(tok, NULL);
    if (integral) {
        errno = 0;
        long long x = strtoll(tok, NULL, 10);
        if (errno == 0) { v->is_int = 1; v->integer = (int64_t)x; }
    }
    if (tok != small) free(tok);
    p->pos = i;
    return 0;
}

static int parse_array(Parser *p, JsonValue *v, int depth) {
    size_t cap = 0;
    v->type = JSON_ARRAY;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') { p->pos++; return 0; }
    for (;;) {
        if (v->count == cap) {
            cap = cap ? 2 * cap : 4;
            v->items = xrealloc(v->items, cap * sizeof *v->items, "a JSON array");
        }
        JsonValue *item = &v->items[v->count];
        memset(item, 0, sizeof *item);
        v->count++;
        skip_ws(p);
        if (parse_value(p, item, depth + 1)) return -1;
        skip_ws(p);
        char buf[16];
        if (p->pos < p->len && p->s[p->pos] == ',') { p->pos++; continue; }
        if (p->pos < p->len && p->s[p->pos] == ']') { p->pos++; return 0; }
        return fail_at(p, p->pos, "expected ',' or ']' in an array, found %s",
                       describe(p, p->pos, buf, sizeof buf));
    }
}

static int parse_object(Parser *p, JsonValue *v, int depth) {
    size_t cap = 0;
    char buf[16];
    v->type = JSON_OBJECT;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') { p->pos++; return 0; }
    for (;;) {
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '"')
            return fail_at(p, p->pos, "expected a string key, found %s",
                           describe(p, p->pos, buf, sizeof buf));
        if (v->count == cap) {
            cap = cap ? 2 * cap : 8;
            v->members = xrealloc(v->members, cap * sizeof *v->members, "a JSON object");
        }
        JsonMember *m = &v->members[v->count];
        memset(m, 0, sizeof *m);
        v->count++;
        m->key_pos = p->pos;
        if (parse_string(p, &m->key, &m->key_len)) return -1;
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':')
            return fail_at(p, p->pos, "expected ':' after a key, found %s",
                           describe(p, p->pos, buf, sizeof buf));
        p->pos++;
        skip_ws(p);
        if (parse_value(p, &m->value, depth + 1)) return -1;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') { p->pos++; continue; }
        if (p->pos < p->len && p->s[p->pos] == '}') { p->pos++; return 0; }
        return fail_at(p, p->pos, "expected ',' or '}' in an object, found %s",
                       describe(p, p->pos, buf, sizeof buf));
    }
}

static int parse_value(Parser *p, JsonValue *v, int depth) {
    char buf[16];
    v->pos = p->pos;
    if (depth > JSON_MAX_DEPTH)
        return fail_at(p, p->pos, "nesting deeper than %d levels", JSON_MAX_DEPTH);
    if (p->pos >= p->len) return fail_at(p, p->pos, "value expected, found end of input");
    switch (p->s[p->pos]) {
    case '{': return parse_object(p, v, depth);
    case '[': return parse_array(p, v, depth);
    case '"':
        v->type = JSON_STRING;
        return parse_string(p, &v->str, &v->len);
    case 't': v->type = JSON_BOOL; v->boolean = 1; return expect_literal(p, "true");
    case 'f': v->type = JSON_BOOL; v->boolean = 0; return expect_literal(p, "false");
    case 'n': v->type = JSON_NULL; return expect_literal(p, "null");
    default:
        if (p->s[p->pos] == '-' || is_digit(p->s[p->pos])) return parse_number(p, v);
        return fail_at(p, p->pos, "value expected, found %s", describe(p, p->pos, buf, sizeof buf));
    }
}

static void free_contents(JsonValue *v) {
    if (v->type == JSON_STRING) free(v->str);
    if (v->type == JSON_ARRAY) {
        for (size_t i = 0; i < v->count; i++) free_contents(&v->items[i]);
        free(v->items);
    }
    if (v->type == JSON_OBJECT) {
        for (size_t i = 0; i < v->count; i++) {
            free(v->members[i].key);
            free_contents(&v->members[i].value);
        }
        free(v->members);
    }
}

JsonValue *json_parse(const char *text, size_t len, char *err, size_t errlen) {
    Parser p = {text, len, 0, err, errlen, 0};
    JsonValue *v = xcalloc(1, sizeof *v, "a JSON value");
    if (err && errlen) err[0] = '\0';
    skip_ws(&p);
    int rc = parse_value(&p, v, 1);
    if (!rc) {
        skip_ws(&p);
        char buf[16];
        if (p.pos < p.len)
            rc = fail_at(&p, p.pos, "unexpected %s after the value", describe(&p, p.pos, buf, sizeof buf));
    }
    if (rc) {
        json_free(v);
        return NULL;
    }
    return v;
}

void json_free(JsonValue *v) {
    if (!v) return;
    free_contents(v);
    free(v);
}

const JsonValue *json_object_get(const JsonValue *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->count; i++)
        if (obj->members[i].key_len == n && memcmp(obj->members[i].key, key, n) == 0)
            return &obj->members[i].value;
    return NULL;
}

static int cmp_member_ptr(const void *a, const void *b) {
    const JsonMember *x = *(const JsonMember *const *)a, *y = *(const JsonMember *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    return x < y ? -1 : (x > y); /* equal keys: text order */
}

long json_object_find_duplicate(const JsonValue *obj) {
    if (!obj || obj->type != JSON_OBJECT || obj->count < 2) return -1;
    /* Sorting pointers keeps this O(n log n) for headers with thousands of keys. */
    const JsonMember **s = xmalloc(obj->count * sizeof *s, "a key index");
    for (size_t i = 0; i < obj->count; i++) s[i] = &obj->members[i];
    qsort(s, obj->count, sizeof *s, cmp_member_ptr);
    long first = -1;
    for (size_t i = 1; i < obj->count; i++) {
        if (s[i]->key_len == s[i - 1]->key_len && memcmp(s[i]->key, s[i - 1]->key, s[i]->key_len) == 0) {
            long idx = (long)(s[i] - obj->members);
            if (first < 0 || idx < first) first = idx;
        }
    }
    free(s);
    return first;
}

const char *json_type_name(JsonType t) {
    switch (t) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "boolean";
    case JSON_NUMBER: return "number";
    case JSON_STRING: return "string";
    case JSON_ARRAY: return "array";
    case JSON_OBJECT: return "object";
    }
    return "?";
}

void json_buf_init(JsonBuf *b) { memset(b, 0, sizeof *b); }

void json_buf_free(JsonBuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

void json_buf_append(JsonBuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        b->data = xrealloc(b->data, cap, "a JSON text");
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void json_buf_puts(JsonBuf *b, const char *s) { json_buf_append(b, s, strlen(s)); }

void json_buf_printf(JsonBuf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) fatal("cannot format JSON text");
    if ((size_t)n < sizeof small) {
        json_buf_append(b, small, (size_t)n);
        return;
    }
    char *big = xmalloc((size_t)n + 1, "a JSON text");
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    json_buf_append(b, big, (size_t)n);
    free(big);
}

void json_buf_string(JsonBuf *b, const char *s) {
    json_buf_append(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"': json_buf_append(b, "\\\"", 2); break;
        case '\\': json_buf_append(b, "\\\\", 2); break;
        case '\n': json_buf_append(b, "\\n", 2); break;
        case '\r': json_buf_append(b, "\\r", 2); break;
        case '\t': json_buf_append(b, "\\t", 2); break;
        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *c);
                json_buf_append(b, esc, 6);
            } else {
                json_buf_append(b, (const char *)c, 1);
            }
        }
    }
    json_buf_append(b, "\"", 1);
}
