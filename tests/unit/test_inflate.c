
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * gzip, zlib and raw deflate bodies, concatenated gzip members, bombs and
 * garbage.
 */


#include <zlib.h>

#include "test_helpers.h"
#include "kochava_internal.h"


/* wbits: 16 + 15 gzip, 15 zlib, -15 raw */

static size_t
test_deflate(const char *in, size_t len, int wbits, unsigned char *out,
    size_t size)
{
    z_stream  zs;

    memset(&zs, 0, sizeof(zs));
    deflateInit2(&zs, 9, Z_DEFLATED, wbits, 9, Z_DEFAULT_STRATEGY);

    zs.next_in = (Bytef *) in;
    zs.avail_in = (uInt) len;
    zs.next_out = out;
    zs.avail_out = (uInt) size;

    deflate(&zs, Z_FINISH);
    deflateEnd(&zs);

    return size - zs.avail_out;
}


static int
test_inflate_is(const unsigned char *in, size_t len, size_t limit,
    const char *expected, size_t explen, const char *name)
{
    int     rc;
    char   *out;
    size_t  outlen;

    rc = kochava_inflate((const char *) in, len, limit, &out, &outlen);

    ok(rc == 0 && outlen == explen && memcmp(out, expected, explen) == 0,
       "%s", name);

    free(out);

    return rc;
}


int
main(void)
{
    int             rc;
    char           *out, *big;
    size_t          n, m, outlen;
    unsigned char  *buf;
    const char     *body;

    body = "{\"type\":\"track\",\"event\":\"Gzipped\",\"userId\":\"u1\"}";

    buf = malloc(1 << 22);

    n = test_deflate(body, strlen(body), 16 + MAX_WBITS, buf, 1 << 22);
    test_inflate_is(buf, n, 1 << 20, body, strlen(body), "gzip");

    n = test_deflate(body, strlen(body), MAX_WBITS, buf, 1 << 22);
    test_inflate_is(buf, n, 1 << 20, body, strlen(body), "zlib deflate");

    n = test_deflate(body, strlen(body), -MAX_WBITS, buf, 1 << 22);
    test_inflate_is(buf, n, 1 << 20, body, strlen(body), "raw deflate");

    /* two gzip members, then trailing zeros */

    n = test_deflate("{\"a\":", 5, 16 + MAX_WBITS, buf, 1 << 22);
    m = test_deflate("1}", 2, 16 + MAX_WBITS, buf + n, (1 << 22) - n);
    test_inflate_is(buf, n + m, 1 << 20, "{\"a\":1}", 7,
                    "concatenated gzip members");

    memset(buf + n + m, 0, 8);
    test_inflate_is(buf, n + m + 8, 1 << 20, "{\"a\":1}", 7,
                    "trailing zeros after gzip");

    buf[n + m] = 'x';
    rc = kochava_inflate((const char *) buf, n + m + 8, 1 << 20, &out,
                         &outlen);
    is_int(rc, KOCHAVA_INFLATE_BAD, "trailing garbage after gzip is bad");

    /* exactly at the limit, and one byte over */

    big = malloc(100000);
    memset(big, 'a', 100000);

    n = test_deflate(big, 100000, 16 + MAX_WBITS, buf, 1 << 22);
    test_inflate_is(buf, n, 100000, big, 100000, "exactly the limit");

    rc = kochava_inflate((const char *) buf, n, 99999, &out, &outlen);
    is_int(rc, KOCHAVA_INFLATE_TOO_LARGE, "one byte over the limit");
    ok(out == NULL, "nothing handed back");

    rc = kochava_inflate((const char *) buf, n, 0, &out, &outlen);
    is_int(rc, KOCHAVA_INFLATE_TOO_LARGE, "limit 0");

    /* a bomb: 64 MB of zeros from a few tens of KB */

    free(big);
    big = calloc(64 << 20, 1);

    n = test_deflate(big, 64 << 20, 16 + MAX_WBITS, buf, 1 << 22);
    ok(n < (1 << 20), "bomb is %zu bytes", n);

    out = NULL;
    rc = kochava_inflate((const char *) buf, n, 1 << 20, &out, &outlen);
    is_int(rc, KOCHAVA_INFLATE_TOO_LARGE, "a bomb is too large");
    ok(out == NULL, "and nothing of it is handed back");

    free(big);

    /* empty output */

    n = test_deflate("", 0, 16 + MAX_WBITS, buf, 1 << 22);
    test_inflate_is(buf, n, 1 << 20, "", 0, "empty gzip");

    /* garbage, truncated, empty */

    rc = kochava_inflate("this is not compressed", 22, 1 << 20, &out,
                         &outlen);
    is_int(rc, KOCHAVA_INFLATE_BAD, "garbage is bad");

    n = test_deflate(body, strlen(body), 16 + MAX_WBITS, buf, 1 << 22);
    rc = kochava_inflate((const char *) buf, n - 6, 1 << 20, &out, &outlen);
    is_int(rc, KOCHAVA_INFLATE_BAD, "truncated gzip is bad");

    buf[n / 2] ^= 0xff;
    rc = kochava_inflate((const char *) buf, n, 1 << 20, &out, &outlen);
    is_int(rc, KOCHAVA_INFLATE_BAD, "corrupted gzip is bad");

    rc = kochava_inflate("", 0, 1 << 20, &out, &outlen);
    is_int(rc, KOCHAVA_INFLATE_BAD, "empty input is bad");

    rc = kochava_inflate("\x1f\x8b", 2, 1 << 20, &out, &outlen);
    is_int(rc, KOCHAVA_INFLATE_BAD, "a bare gzip magic is bad");

    free(buf);

    return done_testing();
}
