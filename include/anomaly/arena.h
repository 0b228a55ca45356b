/* A bump allocator for one training or inference step.
 *
 * Every activation, saved tensor, activation gradient and kernel workspace of
 * a step comes from one arena, so a step does no per-op malloc. The first
 * step may overflow the main block into extra chunks (of at least 64 MiB).
 * Chunks are never given back before arena_free, except to make room for
 * a larger one: a released chunk (arena_release) and, at arena_reset, every
 * chunk becomes a spare that the next overflow reuses (the one that fits
 * most tightly), so later steps of the same shape never allocate and never
 * fault a page in again. Page faults are expensive on virtual machines: a
 * step that gave its memory back and took it again paid for every page
 * twice (b6 inference at 640 px x 8: 17.6 s for the first batch instead of
 * 6.1, 5.2 s for the second instead of 3.7). Allocations are 64-byte
 * aligned. */
#ifndef ANOMALY_ARENA_H
#define ANOMALY_ARENA_H

#include <stddef.h>

typedef struct ArenaChunk ArenaChunk;

typedef struct Arena {
    char *base;         /* main block */
    size_t cap;         /* bytes in the main block */
    size_t used;        /* bytes used in the main block */
    ArenaChunk *extra;  /* overflow chunks of this step (newest first) */
    ArenaChunk *spare;  /* chunks released this step, for reuse (arena_release) */
    size_t extra_used;  /* bytes handed out from overflow chunks */
    size_t peak;        /* largest used + extra_used seen since creation */
} Arena;

void arena_init(Arena *a, size_t initial_bytes);
void arena_free(Arena *a);
/* Returns `bytes` of uninitialised, 64-byte aligned memory. */
void *arena_alloc(Arena *a, size_t bytes);
/* Same, zero-filled. */
void *arena_calloc(Arena *a, size_t bytes);
/* Frees everything for the next step (chunks become spares). */
void arena_reset(Arena *a);

/* Stack-like release, for inference that frees a block's temporaries once
 * its output is kept: everything allocated after the mark is freed (overflow
 * chunks made since become spares). */
typedef struct ArenaMark {
    size_t used;
    ArenaChunk *extra;
    size_t extra_used;
} ArenaMark;
ArenaMark arena_mark(const Arena *a);
void arena_release(Arena *a, ArenaMark m);

/* Reuse of dead space below the top, for training's backward pass (tape.c):
 * when everything allocated between the marks `floor` and `*frontier` is
 * no longer needed, arena_take_below hands out `bytes` from the top end of
 * that range and lowers *frontier, or returns NULL when the range has no
 * contiguous room left. The range may span the main block and overflow
 * chunks; a piece of it too small for the request but alone in its segment
 * is passed to spill (if not NULL) before the search moves down. The arena's
 * top (arena_alloc, arena_release) is not touched. */
typedef void (*ArenaSpillFn)(void *user, void *block, size_t bytes);
void *arena_take_below(Arena *a, ArenaMark floor, ArenaMark *frontier, size_t bytes,
                       ArenaSpillFn spill, void *user);
/* memset of every byte between the marks lo <= hi (a test's poison). */
void arena_fill_between(Arena *a, ArenaMark lo, ArenaMark hi, int byte);

#endif
