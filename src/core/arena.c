#include "anomaly/arena.h"
#include "anomaly/error.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN 64

struct ArenaChunk {
    ArenaChunk *next;
    size_t cap, used;
    char *mem; /* aligned start of the usable bytes */
    void *raw;
};

static size_t round_up(size_t n) { return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1); }

static void *aligned_block(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, ALIGN, bytes ? bytes : ALIGN) != 0)
        fatal("out of memory: cannot allocate a %zu-byte arena block", bytes);
    return p;
}

void arena_init(Arena *a, size_t initial_bytes) {
    memset(a, 0, sizeof *a);
    a->cap = round_up(initial_bytes);
    a->base = a->cap ? aligned_block(a->cap) : NULL;
}

static void free_chunks(Arena *a) {
    ArenaChunk *c = a->extra;
    while (c) {
        ArenaChunk *next = c->next;
        free(c->raw);
        free(c);
        c = next;
    }
    a->extra = NULL;
    a->extra_used = 0;
}

void arena_free(Arena *a) {
    free_chunks(a);
    free(a->base);
    memset(a, 0, sizeof *a);
}

static void note_peak(Arena *a) {
    size_t total = a->used + a->extra_used;
    if (total > a->peak) a->peak = total;
}

void *arena_alloc(Arena *a, size_t bytes) {
    bytes = round_up(bytes ? bytes : 1);
    if (a->used + bytes <= a->cap) {
        void *p = a->base + a->used;
        a->used += bytes;
        note_peak(a);
        return p;
    }
    /* Overflow: the newest chunk, or a new one of at least 64 MiB. */
    ArenaChunk *c = a->extra;
    if (!c || c->used + bytes > c->cap) {
        size_t cap = bytes > ((size_t)64 << 20) ? bytes : ((size_t)64 << 20);
        c = xmalloc(sizeof *c, "an arena chunk");
        c->raw = aligned_block(cap);
        c->mem = c->raw;
        c->cap = cap;
        c->used = 0;
        c->next = a->extra;
        a->extra = c;
    }
    void *p = c->mem + c->used;
    c->used += bytes;
    a->extra_used += bytes;
    note_peak(a);
    return p;
}

void *arena_calloc(Arena *a, size_t bytes) {
    void *p = arena_alloc(a, bytes);
    memset(p, 0, bytes);
    return p;
}

void arena_reset(Arena *a) {
    if (a->extra) {
        free_chunks(a);
        free(a->base);
        a->cap = round_up(a->peak);
        a->base = aligned_block(a->cap);
    }
    a->used = 0;
}

ArenaMark arena_mark(const Arena *a) {
    ArenaMark m = {a->used, a->extra, a->extra ? a->extra->used : 0};
    return m;
}

void arena_release(Arena *a, ArenaMark m) {
    if (m.used <= a->used) a->used = m.used;
    /* Chunks made after the mark go back to the system; the chunk that was
     * newest at the mark rewinds to its old fill. */
    while (a->extra && a->extra != m.extra) {
        ArenaChunk *c = a->extra;
        a->extra = c->next;
        a->extra_used -= c->used;
        free(c->raw);
        free(c);
    }
    if (a->extra && m.extra_used <= a->extra->used) {
        a->extra_used -= a->extra->used - m.extra_used;
        a->extra->used = m.extra_used;
    }
}
