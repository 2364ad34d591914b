
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The core's arena (kochava_arena.h).
 */


#include <stdlib.h>

#include "kochava_arena.h"


typedef struct kochava_arena_chunk_s  kochava_arena_chunk_t;

struct kochava_arena_chunk_s {
    kochava_arena_chunk_t    *next;
    size_t                    size;          /* of data */
    char                      data[];
};

struct kochava_arena_s {
    kochava_arena_chunk_t    *first;
    kochava_arena_chunk_t    *current;
    size_t                    used;          /* of current->data */
    size_t                    chunk_size;    /* of the next new chunk */
    void                     *buf;           /* the caller's block, not
                                                freed; NULL: ours */
};


static kochava_arena_t *kochava_arena_init(void *buf, size_t size,
    size_t next_size);


size_t  kochava_arena_malloced;
size_t  kochava_arena_fail_after;


kochava_arena_t *
kochava_arena_create(size_t size)
{
    size_t            total;
    kochava_arena_t  *arena;

    size = size < 1024 ? 1024 : size;
    total = sizeof(kochava_arena_t) + sizeof(kochava_arena_chunk_t) + size;

    /* the arena and its first chunk in one allocation */

    arena = malloc(total);
    if (arena == NULL) {
        return NULL;
    }

    kochava_arena_malloced += total;

    /* the next chunk twice as large, as every chunk up to 1 MB */

    kochava_arena_init(arena, total, size < 1024 * 1024 ? size * 2 : size);
    arena->buf = NULL;

    return arena;
}


kochava_arena_t *
kochava_arena_create_in(void *buf, size_t size, size_t next_size)
{
    if (size < KOCHAVA_ARENA_MIN) {
        return kochava_arena_create(next_size);
    }

    return kochava_arena_init(buf, size, next_size);
}


/* buf holds the arena and, after it, its first chunk */

static kochava_arena_t *
kochava_arena_init(void *buf, size_t size, size_t next_size)
{
    kochava_arena_t        *arena;
    kochava_arena_chunk_t  *chunk;

    arena = buf;
    chunk = (kochava_arena_chunk_t *) (arena + 1);

    chunk->next = NULL;
    chunk->size = size - sizeof(kochava_arena_t)
                  - sizeof(kochava_arena_chunk_t);

    arena->first = chunk;
    arena->current = chunk;
    arena->used = 0;
    arena->chunk_size = next_size < 1024 ? 1024 : next_size;
    arena->buf = buf;

    return arena;
}


void
kochava_arena_destroy(kochava_arena_t *arena)
{
    kochava_arena_chunk_t  *chunk, *next, *first;

    if (arena == NULL) {
        return;
    }

    /* the first chunk is in the arena's own block */

    first = (kochava_arena_chunk_t *) (arena + 1);

    for (chunk = arena->first; chunk; chunk = next) {
        next = chunk->next;

        if (chunk != first) {
            free(chunk);
        }
    }

    if (arena->buf == NULL) {
        free(arena);
    }
}


void *
kochava_arena_alloc(kochava_arena_t *arena, size_t size)
{
    char                   *p;
    size_t                  want;
    kochava_arena_chunk_t  *chunk, *next;

    if (kochava_arena_fail_after && --kochava_arena_fail_after == 0) {
        return NULL;
    }

    if (size > (size_t) -1 / 2) {
        return NULL;
    }

    size = (size + 7) & ~(size_t) 7;

    chunk = arena->current;

    if (chunk->size - arena->used >= size) {
        p = chunk->data + arena->used;
        arena->used += size;
        return p;
    }

    /* a chunk kept by a release, or a new one after the current one */

    next = chunk->next;

    if (next && next->size >= size) {
        arena->current = next;
        arena->used = size;
        return next->data;
    }

    want = arena->chunk_size;

    if (want < size) {
        want = size;
    }

    next = malloc(sizeof(kochava_arena_chunk_t) + want);
    if (next == NULL) {
        return NULL;
    }

    kochava_arena_malloced += sizeof(kochava_arena_chunk_t) + want;

    next->size = want;
    next->next = chunk->next;
    chunk->next = next;

    /* grows with the document: a 3 MB batch takes few chunks */

    if (arena->chunk_size < 1024 * 1024) {
        arena->chunk_size *= 2;
    }

    arena->current = next;
    arena->used = size;

    return next->data;
}


void
kochava_arena_mark(kochava_arena_t *arena, kochava_arena_mark_t *mark)
{
    mark->chunk = arena->current;
    mark->used = arena->used;
}


void
kochava_arena_release(kochava_arena_t *arena, kochava_arena_mark_t *mark)
{
    arena->current = mark->chunk;
    arena->used = mark->used;
}
