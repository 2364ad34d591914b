
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * The fleet store's core (kochava_store.h): SHA-256 against FIPS 180-4's
 * vectors, keys against an independent computation (Python's hashlib),
 * the ring's spread and how few keys move when a server is added or
 * removed, the exact bytes of a pipelined batch, and the answer parser
 * over memcached 1.6.18's own answers, cut at every byte, and garbage.
 */


#include <stdlib.h>

#include "tap.h"
#include "kochava_store.h"


#define TEST_KEYS  100000


static void
test_hex(const unsigned char *d, size_t n, char *out)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", d[i]);
    }
}


/* the data in pieces of step bytes, so block boundaries fall anywhere */

static void
test_sha256(const char *data, size_t len, size_t repeat, size_t step,
    const char *want, const char *name)
{
    char              hex[65];
    size_t            r, i, n;
    unsigned char     digest[32];
    kochava_sha256_t  ctx;

    kochava_sha256_init(&ctx);

    for (r = 0; r < repeat; r++) {
        for (i = 0; i < len; i += n) {
            n = (len - i < step) ? len - i : step;
            kochava_sha256_update(&ctx, data + i, n);
        }
    }

    kochava_sha256_final(&ctx, digest);
    test_hex(digest, 32, hex);

    is_str(hex, want, name);
}


static void
test_keys(void)
{
    char                 k[KOCHAVA_STORE_KEY_LEN + 1];
    size_t               i, j, bad;
    kochava_store_key_t  key, key2;

    kochava_store_key(&key, "app-guid", 8, "msg-1", 5);
    memcpy(k, key.data, KOCHAVA_STORE_KEY_LEN);
    k[KOCHAVA_STORE_KEY_LEN] = '\0';
    is_str(k, "kdyAVZYrdfd-t3uZuBN8m4vg", "key of app-guid + msg-1 "
           "(hashlib: sha256(app\\0id)[:16], urlsafe base64)");

    kochava_store_key(&key, "ab", 2, "c", 1);
    kochava_store_key(&key2, "a", 1, "bc", 2);
    memcpy(k, key.data, KOCHAVA_STORE_KEY_LEN);
    is_str(k, "kdbAMuYx05oU2Fr_fjGVRq9w", "key of ab + c");
    memcpy(k, key2.data, KOCHAVA_STORE_KEY_LEN);
    is_str(k, "kdQLtUfZNrvTExjuN6yHmefg", "a + bc is another key");

    /* every byte of every key is one memcached takes, whatever the id */

    bad = 0;

    for (i = 0; i < 1000; i++) {
        sprintf(k, "id \r\n\x01%zu", i);
        kochava_store_key(&key, "app", 3, k, strlen(k));

        for (j = 0; j < KOCHAVA_STORE_KEY_LEN; j++) {
            if (key.data[j] <= ' ' || key.data[j] >= 0x7f) {
                bad++;
            }
        }
    }

    is_int(bad, 0, "keys are printable, no spaces, whatever the id holds");
}


static int
test_digest_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}


static void
test_no_collision(void)
{
    char                  id[32];
    size_t                i, same;
    unsigned char        *d;
    kochava_store_key_t   key;

    d = malloc(TEST_KEYS * 16);

    for (i = 0; i < TEST_KEYS; i++) {
        sprintf(id, "%zu", i);
        kochava_store_key(&key, "app", 3, id, strlen(id));
        memcpy(d + 16 * i, key.digest, 16);
    }

    qsort(d, TEST_KEYS, 16, test_digest_cmp);

    same = 0;

    for (i = 1; i < TEST_KEYS; i++) {
        same += (memcmp(d + 16 * (i - 1), d + 16 * i, 16) == 0);
    }

    is_int(same, 0, "100,000 ids, 100,000 distinct 128-bit keys");

    free(d);
}


typedef struct {
    kochava_store_ring_t    ring;
    kochava_store_point_t  *points;
} test_ring_t;


static void
test_ring_make(test_ring_t *t, const char *const *names, size_t n,
    const unsigned *weights)
{
    size_t  i, lens[8];

    for (i = 0; i < n; i++) {
        lens[i] = strlen(names[i]);
    }

    t->points = malloc(kochava_store_ring_size(weights, n)
                       * sizeof(kochava_store_point_t));

    ok(kochava_store_ring_build(&t->ring, t->points, names, lens, weights, n)
       == 0, "a ring of %zu servers", n);
}


/* the server of the test's i-th id */

static int
test_pick(test_ring_t *t, size_t i, const unsigned char *usable)
{
    char                  id[32];
    kochava_store_key_t   key;

    sprintf(id, "m%zu", i);
    kochava_store_key(&key, "app", 3, id, strlen(id));

    return kochava_store_ring_pick(&t->ring, kochava_store_key_point(&key),
                                   usable);
}


static void
test_ring(void)
{
    int                  *before, s;
    size_t                i, count[4], moved, wrong;
    test_ring_t           r3, r4, r2;
    unsigned char         usable[3];
    static const char    *names[] = {
        "10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211",
        "10.0.0.4:11211"
    };
    static const char    *names2[] = { "10.0.0.1:11211", "10.0.0.3:11211" };
    static const unsigned weights[] = { 1, 2 };

    test_ring_make(&r3, names, 3, NULL);
    test_ring_make(&r4, names, 4, NULL);
    is_int(r3.ring.npoints, 3 * KOCHAVA_STORE_POINTS, "160 points a server");

    before = malloc(TEST_KEYS * sizeof(int));
    memset(count, 0, sizeof(count));

    for (i = 0; i < TEST_KEYS; i++) {
        before[i] = test_pick(&r3, i, NULL);
        count[before[i]]++;
    }

    ok(count[0] > TEST_KEYS / 4 && count[1] > TEST_KEYS / 4
       && count[2] > TEST_KEYS / 4,
       "3 servers share the keys (%zu, %zu, %zu)", count[0], count[1],
       count[2]);

    /* a fourth server: about a quarter move, all of them to it */

    moved = 0;
    wrong = 0;

    for (i = 0; i < TEST_KEYS; i++) {
        s = test_pick(&r4, i, NULL);
        if (s != before[i]) {
            moved++;
            wrong += (s != 3);
        }
    }

    ok(moved > TEST_KEYS * 18 / 100 && moved < TEST_KEYS * 32 / 100,
       "a server added: %.1f%% of the keys move (ideal 25%%)",
       100.0 * moved / TEST_KEYS);
    is_int(wrong, 0, "every key that moved went to the new server");

    /* one removed (10.0.0.2): only its keys move */

    test_ring_make(&r2, names2, 2, NULL);

    moved = 0;
    wrong = 0;

    for (i = 0; i < TEST_KEYS; i++) {
        s = test_pick(&r2, i, NULL);
        s = (s == 1) ? 2 : 0;      /* names2's index in names */

        if (s != before[i]) {
            moved++;
            wrong += (before[i] != 1);
        }
    }

    ok(moved > TEST_KEYS * 25 / 100 && moved < TEST_KEYS * 42 / 100,
       "a server removed: %.1f%% of the keys move (ideal 33%%)",
       100.0 * moved / TEST_KEYS);
    is_int(wrong, 0, "only the removed server's keys moved");

    /* a server skipped (circuit open) is the same as removed */

    usable[0] = 1;
    usable[1] = 0;
    usable[2] = 1;
    wrong = 0;

    for (i = 0; i < TEST_KEYS; i++) {
        s = test_pick(&r3, i, usable);
        wrong += (s == 1) || (before[i] != 1 && s != before[i]);
    }

    is_int(wrong, 0, "a skipped server's keys go to the next, the rest stay");

    memset(usable, 0, sizeof(usable));
    is_int(kochava_store_ring_pick(&r3.ring, 12345, usable), -1,
           "no usable server: -1");

    free(r2.points);
    test_ring_make(&r2, names2, 2, weights);
    is_int(r2.ring.npoints, 3 * KOCHAVA_STORE_POINTS, "weight 2: 320 points");

    memset(count, 0, sizeof(count));

    for (i = 0; i < TEST_KEYS; i++) {
        count[test_pick(&r2, i, NULL)]++;
    }

    ok(count[1] > count[0] * 3 / 2,
       "weight 2 takes about twice the keys (%zu vs %zu)", count[1],
       count[0]);

    is_int(kochava_store_ring_build(&r2.ring, r2.points, NULL, NULL, NULL, 0),
           -1, "no servers: no ring");

    free(before);
    free(r2.points);
    free(r3.points);
    free(r4.points);
}


static void
test_batch(void)
{
    char                  buf[4 * KOCHAVA_STORE_CMD_MAX + 8];
    size_t                n;
    uint32_t              idx[2];
    uint64_t              cas[3];
    kochava_store_key_t   keys[3];

    kochava_store_key(&keys[0], "app-guid", 8, "msg-1", 5);
    kochava_store_key(&keys[1], "ab", 2, "c", 1);
    kochava_store_key(&keys[2], "a", 1, "bc", 2);

    n = kochava_store_batch(buf, KOCHAVA_STORE_RESERVE, keys, NULL, NULL, 2,
                            60);
    buf[n] = '\0';
    is_str(buf, "mg kdyAVZYrdfd-t3uZuBN8m4vg v c N60 O0\r\n"
                "mg kdbAMuYx05oU2Fr_fjGVRq9w v c N60 O1\r\n"
                "mn\r\n", "reserve: mg with vivify, cas and opaque, then mn");

    idx[0] = 2;
    idx[1] = 0;
    n = kochava_store_batch(buf, KOCHAVA_STORE_CONFIRM, keys, NULL, idx, 2,
                            86400);
    buf[n] = '\0';
    is_str(buf, "ms kdQLtUfZNrvTExjuN6yHmefg 1 T86400 q O2\r\nD\r\n"
                "ms kdyAVZYrdfd-t3uZuBN8m4vg 1 T86400 q O0\r\nD\r\n"
                "mn\r\n", "confirm: quiet ms of D with the full ttl");

    cas[0] = 18446744073709551615ULL;
    cas[1] = 0;
    cas[2] = 7;
    n = kochava_store_batch(buf, KOCHAVA_STORE_RELEASE, keys, cas, NULL, 3,
                            0);
    buf[n] = '\0';
    is_str(buf, "md kdyAVZYrdfd-t3uZuBN8m4vg C18446744073709551615 q O0\r\n"
                "md kdQLtUfZNrvTExjuN6yHmefg C7 q O2\r\n"
                "mn\r\n", "release: compare-and-delete, none without a cas");

    n = kochava_store_batch(buf, KOCHAVA_STORE_CHECK, keys, NULL, NULL, 1,
                            60);
    buf[n] = '\0';
    is_str(buf, "mg kdyAVZYrdfd-t3uZuBN8m4vg v q O0\r\n"
                "mn\r\n", "check: a quiet mg, no vivify");

    ok(strlen("ms  1 T4294967295 q O4294967295\r\nD\r\n")
       + KOCHAVA_STORE_KEY_LEN <= KOCHAVA_STORE_CMD_MAX
       && strlen("md  C18446744073709551615 q O4294967295\r\n")
       + KOCHAVA_STORE_KEY_LEN <= KOCHAVA_STORE_CMD_MAX,
       "the longest command fits KOCHAVA_STORE_CMD_MAX");
}


/* s for a test's name: CR, LF and other controls as '.' */

static void
test_printable(const char *s, char *out, size_t max)
{
    size_t  i;

    for (i = 0; s[i] && i < max - 1; i++) {
        out[i] = (s[i] < ' ' || s[i] >= 0x7f) ? '.' : s[i];
    }

    out[i] = '\0';
}


/* feeds s in pieces of step bytes; returns the last code */

static int
test_parse(const char *s, size_t step, kochava_store_reply_t *replies,
    size_t n, size_t *taken, const char **error)
{
    int                     rc;
    size_t                  i, len, used, chunk;
    kochava_store_parser_t  p;

    kochava_store_parser_init(&p, replies, n);

    len = strlen(s);
    rc = KOCHAVA_STORE_AGAIN;
    *taken = 0;

    for (i = 0; i < len; i += chunk) {
        chunk = (len - i < step) ? len - i : step;

        rc = kochava_store_parse(&p, s + i, chunk, &used);
        *taken += used;

        if (rc != KOCHAVA_STORE_AGAIN) {
            break;
        }

        if (used != chunk) {
            *error = "AGAIN without taking all";
            return 99;
        }
    }

    *error = p.error;

    return rc;
}


/* what memcached 1.6.18 answered to a reserve of 4 keys (see above) */

#define TEST_ANSWER                                                           \
    "VA 0 c1 O0 W\r\n\r\n"                                                    \
    "VA 0 c1 O1 Z\r\n\r\n"                                                    \
    "VA 1 c2 O2\r\nD\r\n"                                                     \
    "EX O3\r\n"                                                               \
    "MN\r\n"


static void
test_parser(void)
{
    int                     rc;
    size_t                  step, taken, bad;
    const char             *error;
    kochava_store_reply_t   r[5];

    bad = 0;

    for (step = 1; step <= sizeof(TEST_ANSWER); step++) {
        rc = test_parse(TEST_ANSWER, step, r, 5, &taken, &error);

        if (rc != KOCHAVA_STORE_DONE || taken != sizeof(TEST_ANSWER) - 1
            || r[0].reply != KOCHAVA_STORE_WON || r[0].cas != 1
            || r[1].reply != KOCHAVA_STORE_HELD
            || r[2].reply != KOCHAVA_STORE_SEEN || r[2].cas != 2
            || r[3].reply != KOCHAVA_STORE_EXISTS
            || r[4].reply != KOCHAVA_STORE_NONE)
        {
            bad++;
            diag("step %zu: rc %d taken %zu error %s", step, rc, taken,
                 error ? error : "-");
        }
    }

    is_int(bad, 0, "memcached's answer, cut in pieces of every size");

    rc = test_parse(TEST_ANSWER "VA 0 O4 W\r\n\r\n", 1000, r, 5, &taken,
                    &error);
    ok(rc == KOCHAVA_STORE_DONE && taken == sizeof(TEST_ANSWER) - 1,
       "nothing after MN is taken");

    rc = test_parse("HD O1 k t-1 f0\r\nNF O0\r\nMN\r\n", 3, r, 2, &taken,
                    &error);
    ok(rc == KOCHAVA_STORE_DONE && r[0].reply == KOCHAVA_STORE_NOT_FOUND
       && r[1].reply == KOCHAVA_STORE_STORED, "other flags are ignored");

    rc = test_parse("VA 2 O0\r\nDD\r\nVA 0 O1\r\n\r\nMN\r\n", 1, r, 2, &taken,
                    &error);
    ok(rc == KOCHAVA_STORE_DONE && r[0].reply == KOCHAVA_STORE_SEEN
       && r[1].reply == KOCHAVA_STORE_HELD,
       "another value is seen; empty without W is held");

    rc = test_parse("VA 0 c3 O0 W", 4, r, 1, &taken, &error);
    ok(rc == KOCHAVA_STORE_AGAIN && taken == 12, "a partial line: AGAIN");
}


static void
test_garbage(void)
{
    int                     rc;
    char                    big[400];
    size_t                  i, taken;
    const char             *error;
    kochava_store_reply_t   r[3];
    static const struct {
        const char         *in;
        const char         *why;
    } cases[] = {
        { "HTTP/1.1 200 OK\r\n", "an unknown answer" },
        { "HD O0\nMN\r\n", "a line without CR" },
        { "HD\r\nMN\r\n", "an answer without an opaque" },
        { "HD O3\r\n", "an opaque not asked for" },
        { "HD O-1\r\n", "an opaque not asked for" },
        { "HD O0 O1\r\n", "an opaque not asked for" },
        { "HD O0\r\nNS O0\r\n", "a key answered twice" },
        { "VA 65 O0\r\n", "a value size too large" },
        { "VA x O0\r\n", "a value size too large" },
        { "VA\r\n", "a value without a size" },
        { "VA  O0\r\n", "a value size too large" },
        { "VA 1 O0\r\nDX\r\n", "a value without its CRLF" },
        { "HD  O0\r\n", "bad flags" },
        { "HD O0 \x01\r\n", "bad flags" },
        { "VA 0 c99999999999999999999 O0\r\n", "a bad cas" },
        { "SERVER_ERROR out of memory\r\n", "memcached answered an error" },
        { "CLIENT_ERROR bad command line format\r\n",
          "memcached answered an error" },
        { "ERROR\r\n", "memcached answered an error" },
        { "\r\n", "an unknown answer" },
        { "\n", "a line without CR" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rc = test_parse(cases[i].in, 2, r, 3, &taken, &error);
        test_printable(cases[i].in, big, 24);
        ok(rc == KOCHAVA_STORE_ERROR && error
           && strcmp(error, cases[i].why) == 0,
           "rejects '%s': %s", big, error ? error : "(none)");
    }

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    rc = test_parse(big, 7, r, 3, &taken, &error);
    ok(rc == KOCHAVA_STORE_ERROR && taken <= KOCHAVA_STORE_LINE_MAX,
       "a line too long is refused before %d bytes (took %zu)",
       KOCHAVA_STORE_LINE_MAX, taken);
}


int
main(void)
{
    static char  million[1000];

    test_sha256("", 0, 1, 1,
                "e3b0c44298fc1c149afbf4c8996fb924"
                "27ae41e4649b934ca495991b7852b855", "sha256 of nothing");
    test_sha256("abc", 3, 1, 1,
                "ba7816bf8f01cfea414140de5dae2223"
                "b00361a396177a9cb410ff61f20015ad", "sha256 of abc");
    test_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                56, 1, 5,
                "248d6a61d20638b8e5c026930c3e6039"
                "a33ce45964ff2167f6ecedd419db06c1",
                "sha256 of 448 bits (two blocks of padding)");
    memset(million, 'a', sizeof(million));
    test_sha256(million, sizeof(million), 1000, 333,
                "cdc76e5c9914fb9281a1c7e284d73e67"
                "f1809a48a497200e046d39ccc7112cd0",
                "sha256 of a million a, in odd pieces");

    test_keys();
    test_no_collision();
    test_ring();
    test_batch();
    test_parser();
    test_garbage();

    return done_testing();
}
