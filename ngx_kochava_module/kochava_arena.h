
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The core's arena: memory taken from malloc() in chunks and given back
 * all at once (or back to a mark), like an nginx pool but with no nginx.
 * The JSON trees of kochava_json.h live in one.
 */


#ifndef _KOCHAVA_ARENA_H_INCLUDED_
#define _KOCHAVA_ARENA_H_INCLUDED_


#include <stddef.h>


/* the arena: chunks from malloc(), freed together */

typedef struct kochava_arena_s  kochava_arena_t;

typedef struct {
    void                     *chunk;
    size_t                    used;
} kochava_arena_mark_t;

kochava_arena_t *kochava_arena_create(size_t size);

/*
 * An arena whose first chunk is buf (on the stack, say): nothing is
 * taken from malloc() until size bytes are used.  buf must be 8-byte
 * aligned and outlive the arena; destroy it all the same.
 */
#define KOCHAVA_ARENA_MIN  128

kochava_arena_t *kochava_arena_create_in(void *buf, size_t size,
    size_t next_size);
void kochava_arena_destroy(kochava_arena_t *arena);

/* 8-byte aligned; NULL when malloc() fails */
void *kochava_arena_alloc(kochava_arena_t *arena, size_t size);

/* gives back everything allocated after the mark (chunks stay for reuse) */
void kochava_arena_mark(kochava_arena_t *arena, kochava_arena_mark_t *mark);
void kochava_arena_release(kochava_arena_t *arena,
    kochava_arena_mark_t *mark);

/* bytes taken from malloc() by all arenas of the process (for tests) */
extern size_t  kochava_arena_malloced;

/*
 * For tests: when nonzero, kochava_arena_alloc() fails once it has been
 * called this many more times (1: the next call fails).
 */
extern size_t  kochava_arena_fail_after;


#endif /* _KOCHAVA_ARENA_H_INCLUDED_ */
