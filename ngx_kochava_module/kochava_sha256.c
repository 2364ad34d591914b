
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * SHA-256 (FIPS 180-4), for the de-duplication store's keys and ring
 * points: every edge of a fleet must compute the same value for the same
 * bytes, on any platform, so the hash is a standard one and not keyed.
 */


#include <string.h>

#include "kochava_store.h"


#define KOCHAVA_ROR(x, n)  (((x) >> (n)) | ((x) << (32 - (n))))


static void kochava_sha256_block(kochava_sha256_t *ctx,
    const unsigned char *p);


static const uint32_t  kochava_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};


void
kochava_sha256_init(kochava_sha256_t *ctx)
{
    ctx->h[0] = 0x6a09e667;
    ctx->h[1] = 0xbb67ae85;
    ctx->h[2] = 0x3c6ef372;
    ctx->h[3] = 0xa54ff53a;
    ctx->h[4] = 0x510e527f;
    ctx->h[5] = 0x9b05688c;
    ctx->h[6] = 0x1f83d9ab;
    ctx->h[7] = 0x5be0cd19;
    ctx->bytes = 0;
}


void
kochava_sha256_update(kochava_sha256_t *ctx, const void *data, size_t len)
{
    size_t                used, n;
    const unsigned char  *p;

    p = data;
    used = (size_t) (ctx->bytes & 63);
    ctx->bytes += len;

    if (used) {
        n = 64 - used;

        if (len < n) {
            memcpy(ctx->buf + used, p, len);
            return;
        }

        memcpy(ctx->buf + used, p, n);
        kochava_sha256_block(ctx, ctx->buf);
        p += n;
        len -= n;
    }

    while (len >= 64) {
        kochava_sha256_block(ctx, p);
        p += 64;
        len -= 64;
    }

    memcpy(ctx->buf, p, len);
}


void
kochava_sha256_final(kochava_sha256_t *ctx, unsigned char digest[32])
{
    int       i;
    size_t    used;
    uint64_t  bits;

    bits = ctx->bytes << 3;
    used = (size_t) (ctx->bytes & 63);

    ctx->buf[used++] = 0x80;

    if (used > 56) {
        memset(ctx->buf + used, 0, 64 - used);
        kochava_sha256_block(ctx, ctx->buf);
        used = 0;
    }

    memset(ctx->buf + used, 0, 56 - used);

    for (i = 0; i < 8; i++) {
        ctx->buf[63 - i] = (unsigned char) (bits >> (8 * i));
    }

    kochava_sha256_block(ctx, ctx->buf);

    for (i = 0; i < 8; i++) {
        digest[4 * i] = (unsigned char) (ctx->h[i] >> 24);
        digest[4 * i + 1] = (unsigned char) (ctx->h[i] >> 16);
        digest[4 * i + 2] = (unsigned char) (ctx->h[i] >> 8);
        digest[4 * i + 3] = (unsigned char) ctx->h[i];
    }
}


static void
kochava_sha256_block(kochava_sha256_t *ctx, const unsigned char *p)
{
    int       i;
    uint32_t  w[64], a, b, c, d, e, f, g, h, s0, s1, t1, t2;

    for (i = 0; i < 16; i++) {
        w[i] = ((uint32_t) p[4 * i] << 24) | ((uint32_t) p[4 * i + 1] << 16)
               | ((uint32_t) p[4 * i + 2] << 8) | (uint32_t) p[4 * i + 3];
    }

    for (i = 16; i < 64; i++) {
        s0 = KOCHAVA_ROR(w[i - 15], 7) ^ KOCHAVA_ROR(w[i - 15], 18)
             ^ (w[i - 15] >> 3);
        s1 = KOCHAVA_ROR(w[i - 2], 17) ^ KOCHAVA_ROR(w[i - 2], 19)
             ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }

    a = ctx->h[0];
    b = ctx->h[1];
    c = ctx->h[2];
    d = ctx->h[3];
    e = ctx->h[4];
    f = ctx->h[5];
    g = ctx->h[6];
    h = ctx->h[7];

    for (i = 0; i < 64; i++) {
        s1 = KOCHAVA_ROR(e, 6) ^ KOCHAVA_ROR(e, 11) ^ KOCHAVA_ROR(e, 25);
        t1 = h + s1 + ((e & f) ^ (~e & g)) + kochava_sha256_k[i] + w[i];
        s0 = KOCHAVA_ROR(a, 2) ^ KOCHAVA_ROR(a, 13) ^ KOCHAVA_ROR(a, 22);
        t2 = s0 + ((a & b) ^ (a & c) ^ (b & c));

        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }

    ctx->h[0] += a;
    ctx->h[1] += b;
    ctx->h[2] += c;
    ctx->h[3] += d;
    ctx->h[4] += e;
    ctx->h[5] += f;
    ctx->h[6] += g;
    ctx->h[7] += h;
}
