
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * An attribution postback: the first byte picks Kochava or Tune and query
 * string or JSON, the rest is the parameters.
 */


#include "fuzz_common.h"


int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char                  err[256];
    size_t                len;
    fuzz_block_t         *blocks;
    kochava_conf_t        conf;
    kochava_result_t      res;
    kochava_allocator_t   a;

    if (size == 0) {
        return 0;
    }

    fuzz_conf(&conf, data, size);

    blocks = NULL;
    a.alloc = fuzz_alloc;
    a.data = &blocks;

    if (kochava_postback(&conf, (kochava_postback_e) (data[0] & 1),
                         (data[0] >> 1) & 1, (const char *) data + 1,
                         size - 1, 1710962816000LL, &a, &res, err,
                         sizeof(err))
        == 0)
    {
        (void) kochava_result_json(&res, &a, &len);
    }

    fuzz_free(&blocks);

    return 0;
}
