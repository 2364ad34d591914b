
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * The fleet store's keys, ring, requests and answer parser
 * (kochava_store.h).  No I/O: the nginx glue
 * (ngx_http_kochava_store.c) sends what is built here and feeds what it
 * reads to the parser.
 */


#include <stdlib.h>
#include <string.h>

#include "kochava_store.h"


enum {
    KOCHAVA_STORE_ST_LINE = 0,
    KOCHAVA_STORE_ST_VALUE,
    KOCHAVA_STORE_ST_DONE
};


static int kochava_store_point_cmp(const void *a, const void *b);
static char *kochava_store_u64(char *p, uint64_t n);
static int kochava_store_line(kochava_store_parser_t *p);
static int kochava_store_flags(kochava_store_parser_t *p, const char *s,
    const char *end, uint64_t *cas);
static int kochava_store_number(const char *s, const char *end, size_t max,
    uint64_t *n);
static int kochava_store_error(kochava_store_parser_t *p, const char *why);


static const char  kochava_store_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


/*
 * SHA-256 of App GUID, a NUL byte and the messageId, cut to 128 bits:
 * the GUID keeps two apps apart, the NUL byte keeps ("ab", "c") apart
 * from ("a", "bc").  The key is "kd" and the digest in base64url: only
 * characters memcached takes in a key, 24 bytes however long the id.
 */

void
kochava_store_key(kochava_store_key_t *key, const char *app, size_t app_len,
    const char *id, size_t id_len)
{
    size_t            i;
    uint32_t          v;
    char             *p;
    unsigned char     digest[32];
    kochava_sha256_t  ctx;

    kochava_sha256_init(&ctx);
    kochava_sha256_update(&ctx, app, app_len);
    kochava_sha256_update(&ctx, "", 1);
    kochava_sha256_update(&ctx, id, id_len);
    kochava_sha256_final(&ctx, digest);

    memcpy(key->digest, digest, 16);

    p = key->data;
    *p++ = 'k';
    *p++ = 'd';

    /* 5 groups of 3 bytes, then the last byte: 20 + 2 characters */

    for (i = 0; i < 15; i += 3) {
        v = ((uint32_t) digest[i] << 16) | ((uint32_t) digest[i + 1] << 8)
            | digest[i + 2];
        *p++ = kochava_store_b64[(v >> 18) & 63];
        *p++ = kochava_store_b64[(v >> 12) & 63];
        *p++ = kochava_store_b64[(v >> 6) & 63];
        *p++ = kochava_store_b64[v & 63];
    }

    *p++ = kochava_store_b64[digest[15] >> 2];
    *p = kochava_store_b64[(digest[15] & 3) << 4];
}


uint32_t
kochava_store_key_point(const kochava_store_key_t *key)
{
    return ((uint32_t) key->digest[0] << 24)
           | ((uint32_t) key->digest[1] << 16)
           | ((uint32_t) key->digest[2] << 8)
           | key->digest[3];
}


size_t
kochava_store_ring_size(const unsigned *weights, size_t n)
{
    size_t  i, size;

    size = 0;

    for (i = 0; i < n; i++) {
        size += KOCHAVA_STORE_POINTS * (weights && weights[i] ? weights[i] : 1);
    }

    return size;
}


/*
 * As ketama: each 32-byte digest of "<name>-<n>" gives 4 points, so a
 * server's points depend only on its name and weight, and adding or
 * removing one server moves only the keys that fall to or from it.
 */

int
kochava_store_ring_build(kochava_store_ring_t *ring,
    kochava_store_point_t *points, const char *const *names,
    const size_t *lens, const unsigned *weights, size_t n)
{
    char              num[24], *end;
    size_t            i, j, k, count, npoints;
    unsigned char     digest[32];
    kochava_sha256_t  ctx;

    if (n == 0) {
        return -1;
    }

    npoints = 0;

    for (i = 0; i < n; i++) {
        count = KOCHAVA_STORE_POINTS
                * (weights && weights[i] ? weights[i] : 1);

        for (j = 0; j < count / 4; j++) {
            num[0] = '-';
            end = kochava_store_u64(num + 1, j);

            kochava_sha256_init(&ctx);
            kochava_sha256_update(&ctx, names[i], lens[i]);
            kochava_sha256_update(&ctx, num, end - num);
            kochava_sha256_final(&ctx, digest);

            for (k = 0; k < 4; k++) {
                points[npoints].point = ((uint32_t) digest[4 * k] << 24)
                                        | ((uint32_t) digest[4 * k + 1] << 16)
                                        | ((uint32_t) digest[4 * k + 2] << 8)
                                        | digest[4 * k + 3];
                points[npoints].server = (uint32_t) i;
                npoints++;
            }
        }
    }

    qsort(points, npoints, sizeof(kochava_store_point_t),
          kochava_store_point_cmp);

    ring->points = points;
    ring->npoints = npoints;
    ring->nservers = n;

    return 0;
}


static int
kochava_store_point_cmp(const void *a, const void *b)
{
    const kochava_store_point_t  *pa, *pb;

    pa = a;
    pb = b;

    if (pa->point != pb->point) {
        return pa->point < pb->point ? -1 : 1;
    }

    /* the same point twice: the order must not depend on qsort */

    return (pa->server > pb->server) - (pa->server < pb->server);
}


int
kochava_store_ring_pick(const kochava_store_ring_t *ring, uint32_t point,
    const unsigned char *usable)
{
    size_t  lo, hi, mid, i, n;

    if (ring->npoints == 0) {
        return -1;
    }

    /* the first point >= point, or the first of all */

    lo = 0;
    hi = ring->npoints;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if (ring->points[mid].point < point) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    for (n = 0; n < ring->npoints; n++) {
        i = (lo + n) % ring->npoints;

        if (usable == NULL || usable[ring->points[i].server]) {
            return (int) ring->points[i].server;
        }
    }

    return -1;
}


char *
kochava_store_command(char *p, kochava_store_op_e op,
    const kochava_store_key_t *key, uint64_t cas, unsigned ttl,
    uint32_t opaque)
{
    size_t       len;
    uint64_t     n;
    const char  *verb, *flags;

    n = 0;

    switch (op) {

    case KOCHAVA_STORE_RESERVE:
        verb = "mg ";
        flags = " v c N";
        n = ttl;
        break;

    case KOCHAVA_STORE_CONFIRM:
        verb = "ms ";
        flags = " 1 T";
        n = ttl;
        break;

    case KOCHAVA_STORE_CHECK:
        verb = "mg ";
        flags = " v";
        break;

    default: /* KOCHAVA_STORE_RELEASE */

        if (cas == 0) {
            return p;
        }

        verb = "md ";
        flags = " C";
        n = cas;
        break;
    }

    memcpy(p, verb, 3);
    memcpy(p + 3, key->data, KOCHAVA_STORE_KEY_LEN);
    p += 3 + KOCHAVA_STORE_KEY_LEN;

    len = strlen(flags);
    memcpy(p, flags, len);
    p += len;

    if (op != KOCHAVA_STORE_CHECK) {
        p = kochava_store_u64(p, n);
    }

    if (op != KOCHAVA_STORE_RESERVE) {
        *p++ = ' ';
        *p++ = 'q';
    }

    memcpy(p, " O", 2);
    p = kochava_store_u64(p + 2, opaque);
    *p++ = '\r';
    *p++ = '\n';

    if (op == KOCHAVA_STORE_CONFIRM) {
        memcpy(p, "D\r\n", 3);
        p += 3;
    }

    return p;
}


size_t
kochava_store_batch(char *buf, kochava_store_op_e op,
    const kochava_store_key_t *keys, const uint64_t *cas,
    const uint32_t *idx, size_t n, unsigned ttl)
{
    char      *p;
    size_t     i;
    uint32_t   k;

    p = buf;

    for (i = 0; i < n; i++) {
        k = idx ? idx[i] : (uint32_t) i;
        p = kochava_store_command(p, op, &keys[k], cas ? cas[k] : 0, ttl, k);
    }

    memcpy(p, KOCHAVA_STORE_END, sizeof(KOCHAVA_STORE_END) - 1);
    p += sizeof(KOCHAVA_STORE_END) - 1;

    return p - buf;
}


static char *
kochava_store_u64(char *p, uint64_t n)
{
    char   tmp[20];
    int    i;

    i = 0;

    do {
        tmp[i++] = (char) ('0' + n % 10);
        n /= 10;
    } while (n);

    while (i) {
        *p++ = tmp[--i];
    }

    return p;
}


void
kochava_store_parser_init(kochava_store_parser_t *p,
    kochava_store_reply_t *replies, size_t n)
{
    memset(p, 0, sizeof(kochava_store_parser_t));
    memset(replies, 0, n * sizeof(kochava_store_reply_t));

    p->replies = replies;
    p->nreplies = n;
    p->state = KOCHAVA_STORE_ST_LINE;
}


int
kochava_store_parse(kochava_store_parser_t *p, const char *buf, size_t len,
    size_t *used)
{
    int           rc;
    char          c;
    size_t        i, pos, size;
    const char   *nl;

    *used = 0;

    if (p->state == KOCHAVA_STORE_ST_DONE) {
        return len ? kochava_store_error(p, "data after the end")
                   : KOCHAVA_STORE_DONE;
    }

    if (p->error) {
        return KOCHAVA_STORE_ERROR;
    }

    i = 0;

    while (i < len) {

        if (p->state == KOCHAVA_STORE_ST_VALUE) {

            /* the value's bytes, then CRLF; only "D" means anything */

            size = p->len;
            pos = size + 2 - p->value_left;
            c = buf[i++];
            p->value_left--;

            if (pos < size) {
                if (pos != 0 || c != 'D') {
                    p->value_d = 0;
                }

            } else if ((pos == size && c != '\r')
                       || (pos == size + 1 && c != '\n'))
            {
                *used = i;
                return kochava_store_error(p, "a value without its CRLF");
            }

            if (p->value_left == 0) {
                p->replies[p->opaque].reply =
                    p->won ? KOCHAVA_STORE_WON
                    : p->held ? KOCHAVA_STORE_HELD
                    : size == 0 ? KOCHAVA_STORE_HELD
                    : KOCHAVA_STORE_SEEN;

                p->answers++;
                p->len = 0;
                p->state = KOCHAVA_STORE_ST_LINE;
            }

            continue;
        }

        /* a line: up to its LF, never more than the buffer holds */

        nl = memchr(buf + i, '\n', len - i);
        size = nl ? (size_t) (nl - (buf + i)) + 1 : len - i;

        if (p->len + size > sizeof(p->line)) {
            *used = i;
            return kochava_store_error(p, "a line too long");
        }

        memcpy(p->line + p->len, buf + i, size);
        p->len += size;
        i += size;

        if (nl == NULL) {
            break;
        }

        rc = kochava_store_line(p);

        if (rc != KOCHAVA_STORE_AGAIN) {
            *used = i;
            return rc;
        }
    }

    *used = i;

    return KOCHAVA_STORE_AGAIN;
}


/* a whole line in p->line, LF included */

static int
kochava_store_line(kochava_store_parser_t *p)
{
    char                   *s, *end;
    uint64_t                cas, size;
    kochava_store_reply_e   reply;

    s = p->line;
    end = p->line + p->len - 1;

    if (end == s || end[-1] != '\r') {
        return kochava_store_error(p, "a line without CR");
    }

    end--;

    if (end - s == 2 && memcmp(s, "MN", 2) == 0) {
        p->state = KOCHAVA_STORE_ST_DONE;
        return KOCHAVA_STORE_DONE;
    }

    if (end - s < 2 || (end - s > 2 && s[2] != ' ')) {
        if ((end - s >= 5 && memcmp(s, "ERROR", 5) == 0)
            || (end - s >= 12 && memcmp(s, "CLIENT_ERROR", 12) == 0)
            || (end - s >= 12 && memcmp(s, "SERVER_ERROR", 12) == 0))
        {
            return kochava_store_error(p, "memcached answered an error");
        }

        return kochava_store_error(p, "an unknown answer");
    }

    p->won = 0;
    p->held = 0;
    cas = 0;

    if (s[0] == 'V' && s[1] == 'A') {
        s += 3;

        if (s >= end) {
            return kochava_store_error(p, "a value without a size");
        }

        end = memchr(s, ' ', end - s) ? memchr(s, ' ', end - s) : end;

        if (kochava_store_number(s, end, 2, &size) != 0
            || size > KOCHAVA_STORE_VALUE_MAX)
        {
            return kochava_store_error(p, "a value size too large");
        }

        s = end;
        end = p->line + p->len - 2;

        if (kochava_store_flags(p, s, end, &cas) != 0) {
            return KOCHAVA_STORE_ERROR;
        }

        p->replies[p->opaque].cas = cas;
        p->len = (size_t) size;
        p->value_left = (size_t) size + 2;
        p->value_d = (size == 1);
        p->state = KOCHAVA_STORE_ST_VALUE;

        return KOCHAVA_STORE_AGAIN;
    }

    if (s[0] == 'H' && s[1] == 'D') {
        reply = KOCHAVA_STORE_STORED;

    } else if (s[0] == 'N' && s[1] == 'S') {
        reply = KOCHAVA_STORE_NOT_STORED;

    } else if (s[0] == 'E' && s[1] == 'X') {
        reply = KOCHAVA_STORE_EXISTS;

    } else if ((s[0] == 'N' && s[1] == 'F') || (s[0] == 'E' && s[1] == 'N')) {
        reply = KOCHAVA_STORE_NOT_FOUND;

    } else {
        return kochava_store_error(p, "an unknown answer");
    }

    if (kochava_store_flags(p, s + 2, end, &cas) != 0) {
        return KOCHAVA_STORE_ERROR;
    }

    p->replies[p->opaque].reply = (uint8_t) reply;
    p->replies[p->opaque].cas = cas;
    p->answers++;
    p->len = 0;

    return KOCHAVA_STORE_AGAIN;
}


/*
 * " <flag>..." up to end: O (this batch's opaque, required, answered
 * once), c (the cas), W and Z; others are printable and ignored.
 */

static int
kochava_store_flags(kochava_store_parser_t *p, const char *s,
    const char *end, uint64_t *cas)
{
    int          opaque;
    uint64_t     n;
    const char  *t, *tend;

    opaque = 0;

    while (s < end) {

        if (*s != ' ' || s + 1 == end || s[1] == ' ') {
            return kochava_store_error(p, "bad flags");
        }

        t = s + 1;
        tend = memchr(t, ' ', end - t);
        tend = tend ? tend : end;

        for (s = t; s < tend; s++) {
            if (*s <= ' ' || *s >= 0x7f) {
                return kochava_store_error(p, "bad flags");
            }
        }

        switch (*t) {

        case 'O':
            if (opaque || kochava_store_number(t + 1, tend, 10, &n) != 0
                || n >= p->nreplies)
            {
                return kochava_store_error(p, "an opaque not asked for");
            }

            p->opaque = (uint32_t) n;
            opaque = 1;
            break;

        case 'c':
            if (kochava_store_number(t + 1, tend, 20, cas) != 0) {
                return kochava_store_error(p, "a bad cas");
            }
            break;

        case 'W':
            p->won = (tend - t == 1);
            break;

        case 'Z':
            p->held = (tend - t == 1);
            break;

        default:
            break;
        }

        s = tend;
    }

    if (!opaque) {
        return kochava_store_error(p, "an answer without an opaque");
    }

    if (p->replies[p->opaque].reply != KOCHAVA_STORE_NONE) {
        return kochava_store_error(p, "a key answered twice");
    }

    return 0;
}


/* 1 to max decimal digits, no overflow of 64 bits */

static int
kochava_store_number(const char *s, const char *end, size_t max,
    uint64_t *n)
{
    uint64_t  v, d;

    if (s >= end || (size_t) (end - s) > max) {
        return -1;
    }

    v = 0;

    for ( /* void */ ; s < end; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }

        d = (uint64_t) (*s - '0');

        if (v > (UINT64_MAX - d) / 10) {
            return -1;
        }

        v = v * 10 + d;
    }

    *n = v;

    return 0;
}


static int
kochava_store_error(kochava_store_parser_t *p, const char *why)
{
    if (p->error == NULL) {
        p->error = why;
    }

    return KOCHAVA_STORE_ERROR;
}
