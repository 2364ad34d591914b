
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Allocation failures, in the caller's allocator and in jansson's, at
 * every point in turn: the core answers -1 (or NULL, or 500) and neither
 * crashes nor leaks (run under valgrind).
 */


#include "test_helpers.h"
#include "kochava_internal.h"


static const char  *body =
    "{\"context\":{" TEST_IOS_DEVICE ",\"os\":{\"name\":\"iOS\","
    "\"version\":\"17\"},\"userAgent\":\"UA x\"},\"batch\":["
    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"Order Completed\","
    "\"messageId\":\"m1\",\"properties\":{\"revenue\":1,\"currency\":\"eur\","
    "\"source\":\"s\"},\"context\":{\"app\":{\"version\":2}}},"
    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"Application Installed\"},"
    "{\"type\":\"page\",\"userId\":\"u\",\"name\":\"P\",\"category\":\"C\"},"
    "{\"type\":\"screen\",\"userId\":\"u\"},"
    "{\"type\":\"group\",\"userId\":\"u\",\"groupId\":\"g\",\"traits\":{"
    "\"site\":1}},"
    "{\"type\":\"identify\",\"userId\":\"u\",\"traits\":{\"a\":1}},"
    "{\"type\":\"alias\",\"userId\":\"u\",\"previousId\":\"p\"},"
    "{\"type\":\"track\",\"anonymousId\":\"a\","
    "\"event\":\"Install Attributed\","
    "\"messageId\":\"m2\",\"properties\":{\"provider\":\"K\",\"campaign\":{"
    "\"source\":\"S\",\"name\":\"N\"}}},"
    "{\"type\":\"track\",\"userId\":\"u\",\"messageId\":\"m3\"},"
    "\"nope\"]}";


static int
test_once(int *parsed)
{
    int                  rc;
    char                 err[256];
    size_t               len;
    kochava_req_t        req;
    kochava_doc_t       *doc;
    kochava_conf_t       conf;
    kochava_result_t     res;
    const char          *json;
    test_arena_t         arena;
    kochava_allocator_t  a;

    test_conf(&conf);
    conf.braze = 1;
    test_req(&req, KOCHAVA_CALL_BATCH);

    *parsed = 0;

    rc = kochava_doc_parse(&conf, KOCHAVA_CALL_BATCH, body, strlen(body),
                           &doc, err, sizeof(err));
    if (rc != 0) {
        return rc == 500 ? -1 : -2;
    }

    *parsed = 1;

    test_arena_init(&arena, &a);
    arena.fail_after = -1;

    rc = kochava_doc_process(&conf, &req, doc, &a, &res);

    if (rc == 0) {
        json = kochava_result_json(&res, &a, &len);
        rc = (json == NULL) ? -1 : (int) res.nouts;
    }

    kochava_doc_free(doc);
    test_arena_free(&arena);

    return rc;
}


int
main(void)
{
    int                  rc, parsed, failures, crashes, expected;
    long                 n;
    char                 err[256];
    size_t               len;
    kochava_req_t        req;
    kochava_doc_t       *doc;
    kochava_conf_t       conf;
    kochava_result_t     res;
    test_arena_t         arena;
    kochava_allocator_t  a;

    /* the caller's allocator failing at every call in turn */

    test_conf(&conf);
    conf.braze = 1;
    test_req(&req, KOCHAVA_CALL_BATCH);

    failures = 0;
    expected = -1;

    for (n = 0; n < 1000; n++) {
        kochava_doc_parse(&conf, KOCHAVA_CALL_BATCH, body, strlen(body),
                          &doc, err, sizeof(err));

        test_arena_init(&arena, &a);
        arena.fail_after = n;

        rc = kochava_doc_process(&conf, &req, doc, &a, &res);

        if (rc == 0 && kochava_result_json(&res, &a, &len) != NULL) {
            expected = (int) res.nouts;
            kochava_doc_free(doc);
            test_arena_free(&arena);
            break;
        }

        failures++;
        kochava_doc_free(doc);
        test_arena_free(&arena);
    }

    ok(failures > 10, "the allocator failed at %d points, each handled",
       failures);
    is_int(expected, 8, "then everything went out: 7 Kochava, 1 Braze");

    /* the document arena's allocations failing at every call in turn */

    crashes = 0;
    failures = 0;

    for (n = 0; n < 5000; n++) {
        kochava_arena_fail_after = (size_t) n + 1;

        rc = test_once(&parsed);

        if (rc == 8) {
            break;
        }

        if (rc != -1 && rc != -2) {
            if (crashes++ < 5) {
                diag("at %ld: %d", n, rc);
            }
        }

        failures++;
    }

    kochava_arena_fail_after = 0;

    ok(failures > 100, "the JSON arena failed at %d points, each handled",
       failures);
    is_int(crashes, 0, "never a wrong answer");
    is_int(test_once(&parsed), 8, "and with memory, the same answer");

    return done_testing();
}
