
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The client messageIds of one request, each once: an open-addressing
 * hash set in the document's arena, sized for the request's messages when
 * it is made (at most 2 slots per message, rounded up to a power of two:
 * 8192 slots of 4 bytes for 2,500 messages), so it never grows and never
 * scans.  The ids are hashed with SipHash-2-4 under a key drawn once per
 * process (kochava_seed()): a client who can choose its messageIds cannot
 * choose their slots, so a batch cannot be made to probe quadratically.
 */


#include <stdint.h>
#include <string.h>

#include "kochava_internal.h"


#define KOCHAVA_IDSET_MIN  8

#define kochava_rotl(x, b)  (uint64_t) (((x) << (b)) | ((x) >> (64 - (b))))

#define kochava_sipround(v0, v1, v2, v3)                                      \
    v0 += v1; v1 = kochava_rotl(v1, 13); v1 ^= v0;                            \
    v0 = kochava_rotl(v0, 32);                                                \
    v2 += v3; v3 = kochava_rotl(v3, 16); v3 ^= v2;                            \
    v0 += v3; v3 = kochava_rotl(v3, 21); v3 ^= v0;                            \
    v2 += v1; v1 = kochava_rotl(v1, 17); v1 ^= v2;                            \
    v2 = kochava_rotl(v2, 32)


/* a fixed key until kochava_idset_seed(): the unit tests' */
static uint64_t  kochava_idset_k0 = 0x0706050403020100ULL;
static uint64_t  kochava_idset_k1 = 0x0f0e0d0c0b0a0908ULL;


static uint64_t kochava_splitmix(uint64_t *state);


void
kochava_idset_seed(uint64_t seed)
{
    kochava_idset_k0 = kochava_splitmix(&seed);
    kochava_idset_k1 = kochava_splitmix(&seed);
}


static uint64_t
kochava_splitmix(uint64_t *state)
{
    uint64_t  z;

    *state += 0x9e3779b97f4a7c15ULL;

    z = *state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


/* SipHash-2-4 (Aumasson and Bernstein), little-endian words */

uint64_t
kochava_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    size_t                i, n;
    uint64_t              v0, v1, v2, v3, m;
    const unsigned char  *p;

    p = data;

    v0 = k0 ^ 0x736f6d6570736575ULL;
    v1 = k1 ^ 0x646f72616e646f6dULL;
    v2 = k0 ^ 0x6c7967656e657261ULL;
    v3 = k1 ^ 0x7465646279746573ULL;

    n = len & ~(size_t) 7;

    for (i = 0; i < n; i += 8) {
        m = (uint64_t) p[i]
            | (uint64_t) p[i + 1] << 8 | (uint64_t) p[i + 2] << 16
            | (uint64_t) p[i + 3] << 24 | (uint64_t) p[i + 4] << 32
            | (uint64_t) p[i + 5] << 40 | (uint64_t) p[i + 6] << 48
            | (uint64_t) p[i + 7] << 56;

        v3 ^= m;
        kochava_sipround(v0, v1, v2, v3);
        kochava_sipround(v0, v1, v2, v3);
        v0 ^= m;
    }

    m = (uint64_t) len << 56;

    for (i = n; i < len; i++) {
        m |= (uint64_t) p[i] << (8 * (i - n));
    }

    v3 ^= m;
    kochava_sipround(v0, v1, v2, v3);
    kochava_sipround(v0, v1, v2, v3);
    v0 ^= m;

    v2 ^= 0xff;
    kochava_sipround(v0, v1, v2, v3);
    kochava_sipround(v0, v1, v2, v3);
    kochava_sipround(v0, v1, v2, v3);
    kochava_sipround(v0, v1, v2, v3);

    return v0 ^ v1 ^ v2 ^ v3;
}


int
kochava_idset_init(kochava_idset_t *set, kochava_arena_t *arena, size_t max)
{
    size_t  size;

    size = KOCHAVA_IDSET_MIN;

    while (size < 2 * max) {
        size *= 2;
    }

    set->slots = kochava_arena_alloc(arena, size * sizeof(uint32_t));
    set->entries = kochava_arena_alloc(arena,
                                       max * sizeof(kochava_idset_entry_t));

    if (set->slots == NULL || set->entries == NULL) {
        set->slots = NULL;
        return -1;
    }

    memset(set->slots, 0, size * sizeof(uint32_t));

    set->arena = arena;
    set->mask = size - 1;
    set->n = 0;
    set->max = max;
    set->probes = 0;

    return 0;
}


/*
 * Adds id: its bytes must outlive the set, or copy is set and they are
 * copied into the arena.  Returns 0 when it was not in the set, 1 when it
 * was, -1 when the set is full (more ids than it was made for: a caller's
 * bug, never a client's) or the copy found no memory.
 */

int
kochava_idset_add(kochava_idset_t *set, const char *id, size_t len,
    int copy)
{
    char                   *p;
    size_t                  i;
    uint32_t                slot;
    uint64_t                hash;
    kochava_idset_entry_t  *e;

    hash = kochava_siphash(kochava_idset_k0, kochava_idset_k1, id, len);

    for (i = (size_t) hash & set->mask; /* void */ ; i = (i + 1) & set->mask) {
        set->probes++;

        slot = set->slots[i];

        if (slot == 0) {
            break;
        }

        e = &set->entries[slot - 1];

        if (e->hash == hash && e->len == len
            && memcmp(e->data, id, len) == 0)
        {
            return 1;
        }
    }

    if (set->n == set->max) {
        return -1;
    }

    if (copy) {
        p = kochava_arena_alloc(set->arena, len ? len : 1);
        if (p == NULL) {
            return -1;
        }

        memcpy(p, id, len);
        id = p;
    }

    e = &set->entries[set->n++];
    e->data = id;
    e->len = len;
    e->hash = hash;

    set->slots[i] = (uint32_t) set->n;

    return 0;
}
