
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The set of a request's messageIds (kochava_idset.c): SipHash-2-4
 * against the reference vectors, membership, copies, a full set, and the
 * probes of a batch-sized set staying linear in its ids.
 */


#include "test_helpers.h"
#include "kochava_internal.h"


int
main(void)
{
    int               rc, dup, fail;
    char              id[64], num[8];
    size_t            i, probes;
    unsigned char     key[16], msg[64];
    uint64_t          k0, k1;
    kochava_arena_t  *arena;
    kochava_idset_t   set;

    /* SipHash-2-4: key 00..0f, messages 00.., the paper's vectors */

    for (i = 0; i < 16; i++) {
        key[i] = (unsigned char) i;
    }

    for (i = 0; i < 64; i++) {
        msg[i] = (unsigned char) i;
    }

    memcpy(&k0, key, 8);
    memcpy(&k1, key + 8, 8);

    ok(kochava_siphash(k0, k1, msg, 0) == 0x726fdb47dd0e0e31ULL,
       "SipHash-2-4 of the empty message");
    ok(kochava_siphash(k0, k1, msg, 15) == 0xa129ca6149be45e5ULL,
       "SipHash-2-4 of 00..0e (the paper's example)");
    ok(kochava_siphash(k0, k1, msg, 8) == 0x93f5f5799a932462ULL,
       "SipHash-2-4 of one whole word");

    /* membership */

    arena = kochava_arena_create(1024);

    ok(kochava_idset_init(&set, arena, 4) == 0 && set.mask + 1 == 8,
       "4 ids: 8 slots");

    strcpy(num, "42");

    is_int(kochava_idset_add(&set, "a", 1, 0), 0, "a is new");
    is_int(kochava_idset_add(&set, "b", 1, 0), 0, "b is new");
    is_int(kochava_idset_add(&set, "a", 1, 0), 1, "a again is in");
    is_int(kochava_idset_add(&set, "ab", 2, 0), 0, "ab is another id");
    is_int(kochava_idset_add(&set, num, 2, 1), 0, "42, copied, is new");

    strcpy(num, "xx");

    is_int(kochava_idset_add(&set, "42", 2, 0), 1,
           "the copy outlives the caller's buffer");
    is_int(kochava_idset_add(&set, "c", 1, 0), -1,
           "a fifth id does not fit a set made for 4");
    is_int(kochava_idset_add(&set, "b", 1, 0), 1, "a full set still answers");

    kochava_arena_destroy(arena);

    /*
     * 2,500 ids that differ in their last bytes only, then all of them
     * again: each lookup looks at a few slots (no scan of the set)
     */

    arena = kochava_arena_create(65536);

    ok(kochava_idset_init(&set, arena, 2500) == 0 && set.mask + 1 == 8192,
       "2,500 ids: 8,192 slots");

    dup = 0;
    fail = 0;

    for (i = 0; i < 5000; i++) {
        sprintf(id, "00000000-0000-4000-8000-%012zu", i % 2500);

        rc = kochava_idset_add(&set, id, strlen(id), 1);

        if (rc < 0) {
            fail++;
        }

        dup += (rc == 1);
    }

    probes = set.probes;

    ok(fail == 0 && dup == 2500 && set.n == 2500,
       "2,500 ids twice: 2,500 in, 2,500 found again");
    ok(probes < 3 * 5000, "%zu slots looked at for 5,000 lookups", probes);

    kochava_arena_destroy(arena);

    /* another key moves the slots: kochava_seed() draws one */

    kochava_seed(1);
    k0 = kochava_siphash(1, 2, "id", 2);

    ok(k0 != kochava_siphash(3, 4, "id", 2), "the key changes the hash");

    return done_testing();
}
