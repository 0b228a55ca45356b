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

static void free_list(ArenaChunk *c) {
    while (c) {
        ArenaChunk *next = c->next;
        free(c->raw);
        free(c);
        c = next;
    }
}

static void free_chunks(Arena *a) {
    free_list(a->extra);
    free_list(a->spare);
    a->extra = a->spare = NULL;
    a->extra_used = 0;
}

/* The spare chunk that fits `bytes` most tightly, unlinked; NULL if none. */
static ArenaChunk *take_spare(Arena *a, size_t bytes) {
    ArenaChunk **best = NULL;
    for (ArenaChunk **p = &a->spare; *p; p = &(*p)->next)
        if ((*p)->cap >= bytes && (!best || (*p)->cap < (*best)->cap)) best = p;
    if (!best) return NULL;
    ArenaChunk *c = *best;
    *best = c->next;
    return c;
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
    /* Once overflow chunks exist everything goes to them, so that allocation
     * order is address order within the main block and then chunk by chunk
     * (arena_take_below walks it). */
    if (!a->extra && a->used + bytes <= a->cap) {
        void *p = a->base + a->used;
        a->used += bytes;
        note_peak(a);
        return p;
    }
    /* Overflow: the newest chunk, a spare one (released earlier in this
     * step, its pages already in memory), or a new one of at least 64 MiB. */
    ArenaChunk *c = a->extra;
    if (!c || c->used + bytes > c->cap) {
        c = take_spare(a, bytes);
        if (!c) {
            /* none fits: the spares go back first, so the step holds no
             * more than if they had been freed when released */
            free_list(a->spare);
            a->spare = NULL;
            size_t cap = bytes > ((size_t)64 << 20) ? bytes : ((size_t)64 << 20);
            c = xmalloc(sizeof *c, "an arena chunk");
            c->raw = aligned_block(cap);
            c->mem = c->raw;
            c->cap = cap;
        }
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
    /* no chunk goes back: the next step reuses them as spares */
    while (a->extra) {
        ArenaChunk *c = a->extra;
        a->extra = c->next;
        c->next = a->spare;
        a->spare = c;
    }
    a->extra_used = 0;
    a->used = 0;
}

ArenaMark arena_mark(const Arena *a) {
    ArenaMark m = {a->used, a->extra, a->extra ? a->extra->used : 0};
    return m;
}

void arena_release(Arena *a, ArenaMark m) {
    if (m.used <= a->used) a->used = m.used;
    /* Chunks made after the mark become spares for the rest of the step
     * (inference releases every block's temporaries, and giving them back
     * to the system would fault their pages in again for the next block);
     * the chunk that was newest at the mark rewinds to its old fill. */
    while (a->extra && a->extra != m.extra) {
        ArenaChunk *c = a->extra;
        a->extra = c->next;
        a->extra_used -= c->used;
        c->next = a->spare;
        a->spare = c;
    }
    if (a->extra && m.extra_used <= a->extra->used) {
        a->extra_used -= a->extra->used - m.extra_used;
        a->extra->used = m.extra_used;
    }
}

/* ---- space below a frontier (see arena.h) ---- */

/* The bytes of segment `m` (the main block or an overflow chunk) and m's
 * offset in it. */
static char *seg_mem(const Arena *a, ArenaMark m) { return m.extra ? m.extra->mem : a->base; }
static size_t seg_off(ArenaMark m) { return m.extra ? m.extra_used : m.used; }

/* Moves m to the end of the segment allocated before its own; 0 if none. */
static int seg_prev(const Arena *a, ArenaMark *m) {
    if (!m->extra) return 0;
    ArenaChunk *older = m->extra->next;
    m->extra = older;
    m->extra_used = older ? older->used : 0;
    m->used = a->used;
    return 1;
}

void *arena_take_below(Arena *a, ArenaMark floor, ArenaMark *frontier, size_t bytes,
                       ArenaSpillFn spill, void *user) {
    bytes = round_up(bytes ? bytes : 1);
    for (;;) {
        const int same = frontier->extra == floor.extra;
        const size_t lo = same ? seg_off(floor) : 0, hi = seg_off(*frontier);
        if (hi >= lo + bytes) {
            if (frontier->extra)
                frontier->extra_used -= bytes;
            else
                frontier->used -= bytes;
            return seg_mem(a, *frontier) + hi - bytes;
        }
        if (same) return NULL;
        /* the rest of this segment, below the frontier, is free as a whole */
        if (spill && hi > lo) spill(user, seg_mem(a, *frontier) + lo, hi - lo);
        if (!seg_prev(a, frontier)) return NULL;
    }
}

void arena_fill_between(Arena *a, ArenaMark lo, ArenaMark hi, int byte) {
    for (;;) {
        const int same = hi.extra == lo.extra;
        const size_t from = same ? seg_off(lo) : 0, to = seg_off(hi);
        if (to > from) memset(seg_mem(a, hi) + from, byte, to - from);
        if (same || !seg_prev(a, &hi)) return;
    }
}
