
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Inflating gzip, zlib and raw deflate bodies, never past a limit: the
 * output buffer grows geometrically up to limit + 1 bytes, and a body that
 * fills it is refused as too large at that point (a bomb costs at most
 * limit bytes of memory and the time to inflate them).
 */


#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kochava_internal.h"


#define KOCHAVA_INFLATE_MIN  4096


static int kochava_inflate_zeros(const unsigned char *p, size_t n);


int
kochava_inflate(const char *in, size_t len, size_t limit, char **out,
    size_t *outlen)
{
    int                   rc, wbits, gzip;
    char                 *buf, *p;
    size_t                cap, max, total;
    z_stream              zs;
    const unsigned char  *u;

    *out = NULL;
    *outlen = 0;

    if (in == NULL || len == 0 || len > (uInt) -1) {
        return KOCHAVA_INFLATE_BAD;
    }

    u = (const unsigned char *) in;

    gzip = 0;

    if (len >= 2 && u[0] == 0x1f && u[1] == 0x8b) {
        gzip = 1;
        wbits = 16 + MAX_WBITS;

    } else if (len >= 2 && (u[0] & 0x0f) == Z_DEFLATED && (u[0] >> 4) <= 7
               && ((u[0] << 8) | u[1]) % 31 == 0)
    {
        wbits = MAX_WBITS;

    } else {
        wbits = -MAX_WBITS;
    }

    max = (limit < (size_t) -2) ? limit + 1 : limit;

    cap = len * 4;

    if (cap < KOCHAVA_INFLATE_MIN) {
        cap = KOCHAVA_INFLATE_MIN;
    }

    if (cap > max) {
        cap = max;
    }

    buf = malloc(cap ? cap : 1);
    if (buf == NULL) {
        return KOCHAVA_INFLATE_BAD;
    }

    memset(&zs, 0, sizeof(z_stream));

    if (inflateInit2(&zs, wbits) != Z_OK) {
        free(buf);
        return KOCHAVA_INFLATE_BAD;
    }

    zs.next_in = (Bytef *) u;
    zs.avail_in = (uInt) len;

    total = 0;

    for ( ;; ) {
        if (total == cap) {
            if (cap >= max) {
                rc = KOCHAVA_INFLATE_TOO_LARGE;
                goto failed;
            }

            cap = (cap > max / 2) ? max : cap * 2;

            p = realloc(buf, cap);
            if (p == NULL) {
                rc = KOCHAVA_INFLATE_BAD;
                goto failed;
            }

            buf = p;
        }

        zs.next_out = (Bytef *) buf + total;
        zs.avail_out = (uInt) ((cap - total > (uInt) -1) ? (uInt) -1
                                                         : cap - total);

        rc = inflate(&zs, Z_NO_FLUSH);

        total = (size_t) ((char *) zs.next_out - buf);

        if (rc == Z_STREAM_END) {
            if (zs.avail_in == 0) {
                break;
            }

            /* gzip members may follow each other (RFC 1952) */

            if (gzip && zs.avail_in >= 2 && zs.next_in[0] == 0x1f
                && zs.next_in[1] == 0x8b)
            {
                if (inflateReset(&zs) != Z_OK) {
                    rc = KOCHAVA_INFLATE_BAD;
                    goto failed;
                }

                continue;
            }

            if (gzip && kochava_inflate_zeros(zs.next_in, zs.avail_in)) {
                break;
            }

            rc = KOCHAVA_INFLATE_BAD;
            goto failed;
        }

        if (rc == Z_OK) {
            continue;
        }

        if (rc == Z_BUF_ERROR && zs.avail_out == 0) {
            continue;
        }

        /* Z_BUF_ERROR with input gone: truncated; or a data error */

        rc = KOCHAVA_INFLATE_BAD;
        goto failed;
    }

    inflateEnd(&zs);

    if (total > limit) {
        free(buf);
        return KOCHAVA_INFLATE_TOO_LARGE;
    }

    *out = buf;
    *outlen = total;

    return 0;

failed:

    inflateEnd(&zs);
    free(buf);

    return rc;
}


static int
kochava_inflate_zeros(const unsigned char *p, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (p[i] != 0) {
            return 0;
        }
    }

    return 1;
}
