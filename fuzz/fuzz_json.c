
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The core's JSON against jansson, its reference: every input must be
 * accepted or refused by both, and what is accepted must be written byte
 * for byte as json_dumpb(JSON_COMPACT | JSON_REAL_PRECISION(16)) writes
 * it.  The first byte of the input picks the flags.
 *
 * One difference is meant: jansson skips a NUL byte that directly follows
 * a number or true/false/null ("[1\0]" is [1] to it); ours refuses every
 * NUL byte outside a string.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kochava_json.h"


int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int               rc;
    char             *ours, *theirs;
    size_t            n, ours_len, theirs_len;
    json_t           *ref;
    unsigned          flags;
    json_error_t      error;
    kochava_json_t   *v;
    kochava_arena_t  *arena;

    if (size == 0) {
        return 0;
    }

    flags = data[0] & (KOCHAVA_JSON_ANY | KOCHAVA_JSON_DUPLICATES);
    data++;
    size--;

    arena = kochava_arena_create(256);
    if (arena == NULL) {
        abort();
    }

    rc = kochava_json_parse(arena, (const char *) data, size, flags, 2048,
                            &v);

    ref = json_loadb((const char *) data, size,
                     ((flags & KOCHAVA_JSON_ANY) ? JSON_DECODE_ANY : 0)
                     | ((flags & KOCHAVA_JSON_DUPLICATES)
                        ? 0 : JSON_REJECT_DUPLICATES),
                     &error);

    if (rc == -1) {
        abort();
    }

    if (ref && rc != 0 && memchr(data, '\0', size)) {
        json_decref(ref);
        ref = NULL;
    }

    if ((rc == 0) != (ref != NULL)) {
        fprintf(stderr, "ours %s, jansson %s (%s)\n",
                rc == 0 ? "accepts" : "refuses",
                ref ? "accepts" : "refuses", ref ? "" : error.text);
        abort();
    }

    if (ref) {
        n = kochava_json_dump_size(v);
        ours = malloc(n + 1);
        if (ours == NULL) {
            abort();
        }

        ours_len = kochava_json_dump_into(v, ours);

        theirs = json_dumps(ref, JSON_COMPACT | JSON_REAL_PRECISION(16)
                                 | JSON_ENCODE_ANY);
        if (theirs == NULL) {
            abort();
        }

        theirs_len = strlen(theirs);

        if (ours_len != n || ours_len != theirs_len
            || memcmp(ours, theirs, n) != 0)
        {
            fprintf(stderr, "ours    %.*s\njansson %s\n", (int) ours_len,
                    ours, theirs);
            abort();
        }

        if (kochava_json_depth(v) != 0 && json_is_object(ref)
            && kochava_json_count(v) != json_object_size(ref))
        {
            abort();
        }

        free(ours);
        free(theirs);
        json_decref(ref);
    }

    kochava_arena_destroy(arena);

    return 0;
}
