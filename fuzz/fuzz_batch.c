
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A batch body (/v1/batch), and the same bytes through the authorization
 * header parser and the inflater.
 */


#include "fuzz_common.h"


int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char    key[513], *out;
    size_t  outlen;

    fuzz_body(KOCHAVA_CALL_BATCH, data, size);

    (void) kochava_auth_write_key((const char *) data, size, key,
                                  sizeof(key));

    out = NULL;

    if (kochava_inflate((const char *) data, size, 1 << 20, &out, &outlen)
        == 0)
    {
        fuzz_body(KOCHAVA_CALL_BATCH, (const unsigned char *) out, outlen);
    }

    free(out);

    return 0;
}
