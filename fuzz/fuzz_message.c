
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A single call (/v1/track, /v1/identify, ...): the first byte picks the
 * path, the rest is the body.
 */


#include "fuzz_common.h"


int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    kochava_call_e  call;

    if (size == 0) {
        return 0;
    }

    call = (kochava_call_e) (data[0] % KOCHAVA_NTYPES);

    fuzz_body(call, data + 1, size - 1);

    return 0;
}
