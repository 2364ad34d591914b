
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The core's JSON (kochava_json.h) against jansson on chosen texts: the
 * same texts accepted and refused, the same bytes written.  fuzz_json
 * does the same on random ones.
 */


#include "test_helpers.h"
#include "kochava_internal.h"


/* parses with both; accepted texts must be written identically */

static void
test_same(const char *text, size_t len, unsigned flags, const char *name)
{
    int               rc;
    char             *theirs, *ours;
    size_t            n;
    json_t           *ref;
    kochava_json_t   *v;
    kochava_arena_t  *arena;

    arena = kochava_arena_create(256);

    rc = kochava_json_parse(arena, text, len, flags, 2048, &v);
    ref = json_loadb(text, len,
                     ((flags & KOCHAVA_JSON_ANY) ? JSON_DECODE_ANY : 0)
                     | ((flags & KOCHAVA_JSON_DUPLICATES)
                        ? 0 : JSON_REJECT_DUPLICATES), NULL);

    if (ref == NULL || rc != 0) {
        ok(ref == NULL && rc > 0, "%s: %s by both",
           name, ref ? "accepted" : "refused");
        json_decref(ref);
        kochava_arena_destroy(arena);
        return;
    }

    theirs = json_dumps(ref, JSON_COMPACT | JSON_REAL_PRECISION(16)
                             | JSON_ENCODE_ANY);
    n = kochava_json_dump_size(v);
    ours = malloc(n + 1);
    kochava_json_dump_into(v, ours);

    is_str(ours, theirs, name);

    free(ours);
    free(theirs);
    json_decref(ref);
    kochava_arena_destroy(arena);
}


#define same(text)      test_same(text, sizeof(text) - 1, 0, text)
#define same_any(text)  test_same(text, sizeof(text) - 1, KOCHAVA_JSON_ANY, \
                                  text)
#define same_dup(text)  test_same(text, sizeof(text) - 1,                    \
                                  KOCHAVA_JSON_DUPLICATES, text)


int
main(void)
{
    int               i;
    char              big[8192], *p;
    int               d;
    size_t            len;
    kochava_json_t   *v, *obj;
    kochava_arena_t  *arena;

    /* structure */

    same("{}");
    same("[]");
    same(" { \"a\" : [ 1 , 2 , { } , [ ] ] , \"b\" : null }\r\n\t");
    same("{\"a\":true,\"b\":false,\"c\":null}");
    same("{\"a\":1,}");
    same("[1,]");
    same("[1 2]");
    same("{\"a\" 1}");
    same("{\"a\":1");
    same("[");
    same("");
    same("   ");
    same("{} {}");
    same("{}x");
    same("{'a':1}");
    same("{a:1}");
    same("[tru]");
    same("[truex]");
    same("[nul]");
    same("[True]");

    /* the top level */

    same("1");
    same("\"s\"");
    same_any("1");
    same_any(" \"s\" ");
    same_any("null");
    same_any("-0");

    /* duplicates */

    same("{\"a\":1,\"a\":2}");
    same("{\"a\":{\"b\":1},\"c\":{\"b\":2}}");
    same_dup("{\"a\":1,\"b\":2,\"a\":3}");
    same("{\"a\\u0062\":1,\"ab\":2}");

    /* numbers */

    same("[0,-0,1,-1,10,9223372036854775807,-9223372036854775808]");
    same("[9223372036854775808]");
    same("[-9223372036854775809]");
    same("[01]");
    same("[-01]");
    same("[1.]");
    same("[.5]");
    same("[-]");
    same("[+1]");
    same("[1e]");
    same("[1e+]");
    same("[0x10]");
    same("[1.5,-2.25,9.99,0.1,1e300,1E-300,1e-5,2.5e+10,123456789.125]");
    same("[1e400]");
    same("[-1e400]");
    same("[1e-400]");
    same("[1.0,100.0,1e2,0.0,-0.0]");
    same("[3.141592653589793238462643383279]");
    same("[1.7976931348623157e308,4.9e-324]");

    /* strings */

    same("[\"plain\",\"\"]");
    same("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]");
    same("[\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"]");
    same("[\"\\u0001\\u001f\\u007f\"]");
    same("[\"\\u0000\"]");
    same("[\"\\ud83d\"]");
    same("[\"\\ud83d\\u0041\"]");
    same("[\"\\ude00\"]");
    same("[\"\\u12\"]");
    same("[\"\\uzzzz\"]");
    same("[\"\\x\"]");
    same("[\"a\tb\"]");
    same("[\"a\nb\"]");
    same("[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]");
    same("[\"\xc3\"]");
    same("[\"\xc0\xaf\"]");
    same("[\"\xe0\x80\xaf\"]");
    same("[\"\xed\xa0\x80\"]");
    same("[\"\xf4\x90\x80\x80\"]");
    same("[\"\xff\"]");
    same("[\"\x80\"]");
    same("{\"k\\\"ey\":\"v\\n\"}");
    same("{\"\\u0022k\\u005c\":\"a\\u0022b\\u005Cc\\u002f\"}");
    same("[\"unterminated]");

    /* NUL bytes: refused everywhere (jansson skips one after a number) */

    test_same("[\"a\0b\"]", 7, 0, "NUL in a string");
    test_same("{\"a\":[1]}\0", 10, 0, "NUL after the text");

    arena = kochava_arena_create(256);
    ok(kochava_json_parse(arena, "[1\0]", 4, 0, 64, &v)
       == KOCHAVA_JSON_INVALID, "NUL after a number: refused");

    /* nesting */

    ok(kochava_json_parse(arena, "[[[1]]]", 7, 0, 3, &v) == 0
       && kochava_json_depth(v) == 3, "depth 3 within max_depth 3");
    ok(kochava_json_parse(arena, "[[[[1]]]]", 9, 0, 3, &v)
       == KOCHAVA_JSON_TOO_DEEP, "depth 4 over max_depth 3");
    ok(kochava_json_parse(arena, "[[[[1]]]}", 9, 0, 4, &v)
       == KOCHAVA_JSON_INVALID, "depth 4 within 4, then a wrong bracket");

    for (d = 2048; d <= 2049; d++) {
        memset(big, '[', (size_t) d);
        memset(big + d, ']', (size_t) d);
        test_same(big, 2 * (size_t) d, 0,
                  d == 2048 ? "2048 arrays deep" : "2049 arrays deep");
    }

    /* large objects: the hash index, duplicates in it, replacing */

    p = big + sprintf(big, "{");

    for (i = 0; i < 100; i++) {
        p += sprintf(p, "%s\"key%d\":%d", i ? "," : "", i, i);
    }

    strcpy(p, "}");
    test_same(big, strlen(big), 0, "100 members");

    strcpy(p, ",\"key57\":0}");
    test_same(big, strlen(big), 0, "100 members, one twice");
    test_same(big, strlen(big), KOCHAVA_JSON_DUPLICATES,
              "100 members, one twice, kept");

    strcpy(p, "}");
    ok(kochava_json_parse(arena, big, strlen(big), 0, 64, &v) == 0
       && kochava_json_integer(kochava_json_get(v, "key99")) == 99
       && kochava_json_get(v, "key100") == NULL
       && kochava_json_count(v) == 100, "lookups in 100 members");

    obj = kochava_json_object(arena);

    for (i = 0; i < 40; i++) {
        len = (size_t) sprintf(big, "k%d", i);
        p = kochava_arena_alloc(arena, len + 1);
        memcpy(p, big, len + 1);
        kochava_json_setn(arena, obj, p, len,
                          kochava_json_new_integer(arena, i));
    }

    kochava_json_set(arena, obj, "k3", kochava_json_cstring(arena, "x\"y"));
    kochava_json_set(arena, obj, "k39", kochava_json_boolean(0));
    kochava_json_set(arena, obj, "new", kochava_json_null());

    len = kochava_json_dump_size(obj);
    p = malloc(len + 1);
    kochava_json_dump_into(obj, p);
    ok(kochava_json_count(obj) == 41 && strstr(p, ",\"k3\":\"x\\\"y\",")
       && strstr(p, ",\"k39\":false,\"new\":null}") && strlen(p) == len,
       "set replaces in place and appends, past the index");
    free(p);

    ok(kochava_json_set(arena, obj, "k", NULL) == -1
       && kochava_json_append(arena, obj, kochava_json_null()) == -1,
       "NULL values and wrong containers are refused");

    /* strings from outside */

    ok(kochava_json_checked_stringn(arena, "\xc3\xa9", 2) != NULL
       && kochava_json_checked_stringn(arena, "\xc3", 1) == NULL
       && kochava_json_checked_stringn(arena, "a\0b", 3) != NULL,
       "checked strings: UTF-8 only, NUL allowed");

    v = kochava_json_sprintf(arena, "Viewed %s %s", "Home", "Page");
    is_str(kochava_json_string(v), "Viewed Home Page", "sprintf");

    kochava_arena_destroy(arena);

    /* an arena on the stack: malloc() only past its end */

    {
        uint64_t  buf[64];
        size_t    before;

        before = kochava_arena_malloced;
        arena = kochava_arena_create_in(buf, sizeof(buf), 1024);
        p = kochava_arena_alloc(arena, 64);

        ok(p > (char *) buf && p + 64 <= (char *) buf + sizeof(buf)
           && kochava_arena_malloced == before,
           "the first bytes come from the caller's buffer");

        p = kochava_arena_alloc(arena, 2000);
        ok(p != NULL && (p < (char *) buf || p >= (char *) buf + sizeof(buf))
           && kochava_arena_malloced > before, "then from malloc()");

        kochava_arena_destroy(arena);
    }

    return done_testing();
}
