
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * The fleet store's answer parser (kochava_store_parse): the first byte
 * picks how many keys the batch asked about and the size of the pieces
 * the rest is fed in.  The answer is parsed twice, whole and in pieces:
 * both must agree, never take more than they were given, nor anything
 * after "MN".  The key and the batch builder run over the same bytes.
 */


#include <stdlib.h>
#include <string.h>

#include "kochava_store.h"


#define FUZZ_STORE_MAX  64


int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);


static int
fuzz_store_parse(const char *s, size_t len, size_t step,
    kochava_store_reply_t *replies, size_t n, size_t *taken)
{
    int                     rc;
    size_t                  i, used, chunk;
    kochava_store_parser_t  p;

    kochava_store_parser_init(&p, replies, n);

    rc = KOCHAVA_STORE_AGAIN;
    *taken = 0;

    for (i = 0; i < len; i += chunk) {
        chunk = (len - i < step) ? len - i : step;

        rc = kochava_store_parse(&p, s + i, chunk, &used);

        if (used > chunk) {
            abort();
        }

        *taken += used;

        if (rc != KOCHAVA_STORE_AGAIN) {
            break;
        }

        if (used != chunk) {
            abort();
        }
    }

    if (rc == KOCHAVA_STORE_ERROR && p.error == NULL) {
        abort();
    }

    return rc;
}


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    int                     rc1, rc2;
    char                    buf[2 * KOCHAVA_STORE_CMD_MAX + 8];
    size_t                  n, step, taken1, taken2, i;
    uint64_t                cas[2];
    kochava_store_key_t     keys[2];
    kochava_store_reply_t   r1[FUZZ_STORE_MAX], r2[FUZZ_STORE_MAX];

    if (size == 0) {
        return 0;
    }

    n = (data[0] & 0x3f) + 1;
    step = (data[0] >> 6) * 3 + 1;

    rc1 = fuzz_store_parse((const char *) data + 1, size - 1, size, r1, n,
                           &taken1);
    rc2 = fuzz_store_parse((const char *) data + 1, size - 1, step, r2, n,
                           &taken2);

    if (rc1 != rc2 || (rc1 != KOCHAVA_STORE_ERROR && taken1 != taken2)) {
        abort();
    }

    if (rc1 == KOCHAVA_STORE_DONE) {
        if (taken1 < 4 || memcmp(data + taken1 - 3, "MN\r\n", 4) != 0
            || memcmp(r1, r2, n * sizeof(kochava_store_reply_t)) != 0)
        {
            abort();
        }
    }

    for (i = 0; i < n; i++) {
        if (r1[i].reply > KOCHAVA_STORE_NOT_FOUND) {
            abort();
        }
    }

    /* the keys of these bytes fit the commands */

    kochava_store_key(&keys[0], "app", 3, (const char *) data, size);
    kochava_store_key(&keys[1], (const char *) data, size / 2, "", 0);
    cas[0] = size;
    cas[1] = 1;

    (void) kochava_store_batch(buf,
                               (kochava_store_op_e)
                                   (data[0] % KOCHAVA_STORE_NOPS),
                               keys, cas, NULL, 2, 86400);

    return 0;
}
