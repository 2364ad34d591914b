
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The limits, checked on the raw bytes before jansson parses, and the
 * answers for bodies that are not what they should be.
 */


#include "test_helpers.h"
#include "kochava_internal.h"


#define ANDROID_CONTEXT                                                       \
    "\"context\":{\"device\":{\"id\":\"a1b2c3d4e5f60718\","                   \
    "\"advertisingId\":\"38400000-8cf0-11bd-b23e-10b96e40000d\","            \
    "\"adTrackingEnabled\":true,\"type\":\"android\"},"                       \
    "\"os\":{\"name\":\"Android\",\"version\":\"14\"}}"

#define TRACK(event, extra)                                                   \
    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"" event "\","          \
    "\"messageId\":\"m-" event "\"," extra ANDROID_CONTEXT "}"

/* a track left open for its properties */
#define TRACK_OPEN(event)                                                     \
    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"" event "\","          \
    "\"messageId\":\"m-" event "\"," ANDROID_CONTEXT ","


static char *
test_nested(const char *prefix, size_t depth, const char *suffix)
{
    char    *s, *p;
    size_t   i;

    s = malloc(strlen(prefix) + depth * 6 + strlen(suffix) + 8);
    p = s + sprintf(s, "%s", prefix);

    for (i = 0; i < depth; i++) {
        p += sprintf(p, "{\"d\":");
    }

    p += sprintf(p, "1");

    for (i = 0; i < depth; i++) {
        *p++ = '}';
    }

    sprintf(p, "%s", suffix);

    return s;
}


static void
test_parse_error(kochava_call_e call, const char *body, size_t len,
    const char *expected, const char *name)
{
    int             rc;
    char            err[256];
    kochava_doc_t  *doc;
    kochava_conf_t  conf;

    test_conf(&conf);

    rc = kochava_doc_parse(&conf, call, body, len, &doc, err, sizeof(err));

    if (!is_int(rc, 400, name)) {
        kochava_doc_free(doc);
        return;
    }

    ok(doc == NULL, "%s: no document", name);
    like(err, expected, name);
}


int
main(void)
{
    int              rc;
    int              pass;
    char            *body, *p, err[256];
    size_t           before;
    const char      *path;
    size_t           i, n, len;
    test_run_t       run;
    kochava_req_t    req;
    kochava_doc_t   *doc;
    kochava_conf_t   conf;
    kochava_scan_t   scan;
    const char      *key;

    /* the scan */

    body = "{\"writeKey\":\"k\", \"batch\" : [ {\"a\" : [1, {\"b\":2}]} ,"
           " \"x[{\\\"\" , 12 , [ ] , {\"batch\":[1,2,3]} ], \"s\":\"]\"}";

    rc = kochava_scan(body, strlen(body), 1, 100, 2048, &scan);

    ok(rc == 0 && scan.batch_found, "scan finds the batch");
    is_int(scan.nitems, 5, "five items");
    is_int(scan.items[0].size, 17, "item 0 compact size");
    is_int(scan.items[0].depth, 3, "item 0 depth");
    is_int(scan.items[1].size, 7, "item 1: a string with brackets");
    is_int(scan.items[1].depth, 0, "item 1 depth");
    is_int(scan.items[2].size, 2, "item 2: a number");
    is_int(scan.items[3].size, 2, "item 3: []");
    is_int(scan.items[3].depth, 1, "item 3 depth");
    is_int(scan.items[4].size, 17, "item 4: a nested batch key");
    is_int(scan.items[4].depth, 2, "item 4 depth");
    is_int(scan.depth, 5, "body depth");
    is_int(scan.outer_depth, 1, "depth outside the batch");

    kochava_scan_free(&scan);

    body = "{\"b\\u0061tch\":[1,2]}";
    kochava_scan(body, strlen(body), 1, 100, 2048, &scan);
    ok(!scan.batch_found, "an escaped key is not mapped");
    kochava_scan_free(&scan);

    body = "{\"x\":{\"batch\":[1,2]},\"batch\":5}";
    kochava_scan(body, strlen(body), 1, 100, 2048, &scan);
    ok(!scan.batch_found, "only the top level's batch array counts");
    kochava_scan_free(&scan);

    body = "{\"batch\":[1,2,3,4]}";
    kochava_scan(body, strlen(body), 1, 3, 2048, &scan);
    ok(scan.too_many, "more items than allowed");
    kochava_scan_free(&scan);

    /*
     * found by fuzz_batch: a key that ends in an escape at the very end
     * of the body once read a byte past it (ASan, valgrind see it here);
     * the bytes are copied to a buffer of exactly their size
     */

    {
        char  *exact;

        exact = malloc(6);
        memcpy(exact, "{\"\x90\\\x9c\\", 6);
        kochava_scan(exact, 6, 1, 100, 2048, &scan);
        ok(!scan.batch_found, "a key cut by the end after an escape");
        kochava_scan_free(&scan);

        test_conf(&conf);
        rc = kochava_doc_parse(&conf, KOCHAVA_CALL_BATCH, exact, 6, &doc,
                               err, sizeof(err));
        is_int(rc, 400, "  and the body is 400");
        free(exact);
    }

    body = "[[[[]]]]";
    kochava_scan(body, strlen(body), 0, 0, 3, &scan);
    ok(scan.too_deep, "deeper than allowed");
    kochava_scan_free(&scan);

    /* a single message: size */

    test_conf(&conf);
    conf.max_message_size = 1024;
    test_req(&req, KOCHAVA_CALL_TRACK);

    body = malloc(4096);
    p = body + sprintf(body, TRACK_OPEN("Big") "\"properties\":{\"pad\":\"");
    memset(p, 'x', 1100);
    strcpy(p + 1100, "\"}}");

    rc = test_process(&conf, &req, body, strlen(body), &run);
    is_int(rc, 400, "a single message over the size is 400");
    is_str(run.err, "Message too large (limit 1024 bytes)", "names the limit");
    test_run_free(&run);

    /* white space does not count */

    p = body + sprintf(body, TRACK_OPEN("Spaced") "\"properties\":{\"pad\":\"");
    memset(p, 'x', 500);
    p += 500;
    p += sprintf(p, "\"}");
    memset(p, ' ', 1000);
    p += 1000;
    memset(p, '\n', 500);
    strcpy(p + 500, "}");

    rc = test_process(&conf, &req, body, strlen(body), &run);
    is_int(rc, 0, "white space is not counted in the size");
    is_int(run.res.nouts, 1, "and it is sent");
    test_run_free(&run);

    /* in a batch only the large message is rejected */

    req.call = KOCHAVA_CALL_BATCH;

    p = body + sprintf(body, "{\"batch\":[" TRACK("Small", "") ","
                       TRACK_OPEN("Big") "\"properties\":{\"pad\":\"");
    memset(p, 'x', 1100);
    strcpy(p + 1100, "\"}}]}");

    rc = test_process(&conf, &req, body, strlen(body), &run);
    is_int(rc, 0, "a batch with a large message is parsed");
    is_int(run.res.accepted, 1, "one accepted");
    is_int(run.res.rejected, 1, "one rejected");
    is_int(run.res.rejects[0].index, 1, "the large one");
    is_int(run.res.rejects[0].reason, KOCHAVA_REASON_TOO_LARGE,
           "as too large");
    is_str(run.res.rejects[0].message_id, "m-Big", "with its messageId");
    is_str(run.res.rejects[0].error, "Message too large (limit 1024 bytes)",
           "error text");
    is_int(run.res.nouts, 1, "the small one is sent");
    test_run_free(&run);

    /* the same with "batch" written with an escape: measured after */

    p = body + sprintf(body, "{\"b\\u0061tch\":[" TRACK("Small", "") ","
                       TRACK_OPEN("Big") "\"properties\":{\"pad\":\"");
    memset(p, 'x', 1100);
    strcpy(p + 1100, "\"}}]}");

    rc = test_process(&conf, &req, body, strlen(body), &run);
    is_int(rc, 0, "escaped batch key: parsed");
    ok(run.res.rejected == 1 && run.res.rejects[0].index == 1
       && run.res.rejects[0].reason == KOCHAVA_REASON_TOO_LARGE,
       "escaped batch key: the large one is still rejected");
    test_run_free(&run);

    free(body);

    /* the number of messages */

    test_conf(&conf);
    conf.max_batch = 3;

    body = "{\"batch\":[" TRACK("A", "") "," TRACK("B", "") ","
           TRACK("C", "") "," TRACK("D", "") "]}";

    rc = test_process(&conf, &req, body, strlen(body), &run);
    is_int(rc, 400, "more messages than max_batch is 400");
    is_str(run.err, "Too many messages in batch (limit 3)", "its text");
    test_run_free(&run);

    body = "{\"batch\":[" TRACK("A", "") "," TRACK("B", "") ","
           TRACK("C", "") "]}";

    rc = test_process(&conf, &req, body, strlen(body), &run);
    ok(rc == 0 && run.res.nouts == 3, "exactly max_batch messages pass");
    test_run_free(&run);

    body = "{\"b\\u0061tch\":[1,2,3,4]}";

    rc = test_process(&conf, &req, body, strlen(body), &run);
    ok(rc == 400 && strstr(run.err, "Too many messages"),
       "escaped batch key: counted after parsing");
    test_run_free(&run);

    /* 100,000 tiny messages: refused on the raw bytes, quickly */

    test_conf(&conf);

    n = 100000;
    body = malloc(n * 3 + 32);
    p = body + sprintf(body, "{\"batch\":[");

    for (i = 0; i < n; i++) {
        p += sprintf(p, "{}%s", i + 1 < n ? "," : "");
    }

    strcpy(p, "]}");

    before = kochava_arena_malloced;
    rc = kochava_doc_parse(&conf, KOCHAVA_CALL_BATCH, body, strlen(body),
                           &doc, err, sizeof(err));
    is_int(rc, 400, "100,000 messages are refused");
    is_int((int) (kochava_arena_malloced - before), 0,
           "before the parser allocated anything");
    free(body);

    /* nesting */

    test_conf(&conf);
    conf.max_depth = 8;
    req.call = KOCHAVA_CALL_TRACK;

    body = test_nested("{\"type\":\"track\",\"userId\":\"u\",\"event\":\"D\","
                       ANDROID_CONTEXT ",\"properties\":", 7, "}");
    rc = test_process(&conf, &req, body, strlen(body), &run);
    ok(rc == 0 && run.res.nouts == 1, "depth 8 passes max_depth 8");
    test_run_free(&run);
    free(body);

    body = test_nested("{\"type\":\"track\",\"userId\":\"u\",\"event\":\"D\","
                       ANDROID_CONTEXT ",\"properties\":", 8, "}");
    rc = test_process(&conf, &req, body, strlen(body), &run);
    is_int(rc, 400, "depth 9 is 400");
    is_str(run.err, "Message nested too deeply (limit 8)", "its text");
    test_run_free(&run);
    free(body);

    req.call = KOCHAVA_CALL_BATCH;

    /*
     * Twice: a body within the message limit is measured on the tree, a
     * longer one by the pre-scan; the answers are the same.
     */

    for (pass = 0; pass < 2; pass++) {
        path = pass ? "pre-scan" : "tree";

        body = test_nested("{\"batch\":[{\"type\":\"track\",\"userId\":\"u\","
                           "\"event\":\"D\",\"messageId\":\"deep\","
                           ANDROID_CONTEXT ",\"properties\":", 8,
                           "}," TRACK("Flat", "") "]}");
        conf.max_message_size = pass ? strlen(body) - 1 : 32768;

        rc = test_process(&conf, &req, body, strlen(body), &run);
        ok(rc == 0, "%s: a batch with a deep message is parsed", path);
        ok(run.res.rejected == 1 && run.res.rejects[0].index == 0
           && run.res.rejects[0].reason == KOCHAVA_REASON_TOO_DEEP,
           "%s: only the deep one is rejected", path);
        is_str(run.res.rejects[0].error,
               "Message nested too deeply (limit 8)", "its text");
        ok(run.res.nouts == 1, "%s: the flat one is sent", path);
        test_run_free(&run);
        free(body);

        body = test_nested("{\"context\":", 8, ",\"batch\":[]}");
        conf.max_message_size = pass ? strlen(body) - 1 : 32768;

        rc = test_process(&conf, &req, body, strlen(body), &run);
        ok(rc == 400, "%s: an envelope context deeper than max_depth is 400",
           path);
        is_str(run.err, "Message nested too deeply (limit 8)", "its text");
        test_run_free(&run);
        free(body);

        body = test_nested("{\"context\":", 7, ",\"batch\":[]}");
        conf.max_message_size = pass ? strlen(body) - 1 : 32768;

        rc = test_process(&conf, &req, body, strlen(body), &run);
        ok(rc == 0, "%s: one level less is accepted", path);
        test_run_free(&run);
        free(body);
    }

    test_conf(&conf);

    n = 100000;
    body = malloc(2 * n);
    memset(body, '[', n);
    memset(body + n, ']', n);

    test_parse_error(KOCHAVA_CALL_TRACK, body, 2 * n, "nested too deeply",
                     "100,000 levels, single call");
    test_parse_error(KOCHAVA_CALL_BATCH, body, 2 * n,
                     "nested too deeply (limit 2048)",
                     "100,000 levels, batch call");
    free(body);

    /* bodies that are not what they should be */

    test_parse_error(KOCHAVA_CALL_TRACK, "{\"type\":\"track\",", 16,
                     "Invalid JSON: ", "truncated JSON");
    test_parse_error(KOCHAVA_CALL_TRACK, "{\"type\":\"track\",", 16,
                     "(line 1, column 16)", "says where");
    test_parse_error(KOCHAVA_CALL_TRACK, "", 0, "Invalid JSON: ",
                     "empty body");
    test_parse_error(KOCHAVA_CALL_TRACK, "[1,2]", 5,
                     "Invalid JSON: body is not an object", "an array");
    test_parse_error(KOCHAVA_CALL_BATCH, "{\"batch\":{\"type\":\"track\"}}",
                     26, "Invalid JSON: batch is not an array",
                     "batch is an object");
    test_parse_error(KOCHAVA_CALL_BATCH, "{\"type\":\"track\"}", 16,
                     "Invalid JSON: batch is not an array", "no batch");
    test_parse_error(KOCHAVA_CALL_TRACK, "{\"event\":\"a\",\"event\":\"b\"}",
                     25, "duplicate", "duplicate keys");
    test_parse_error(KOCHAVA_CALL_TRACK, "{\"event\":\"a\\u0000b\"}", 20,
                     "Invalid JSON: ", "\\u0000");
    test_parse_error(KOCHAVA_CALL_TRACK, "{\"event\":\"\xff\xfe\"}", 14,
                     "Invalid JSON: ", "invalid UTF-8");
    test_parse_error(KOCHAVA_CALL_TRACK, "{} {}", 5, "Invalid JSON: ",
                     "two values");

    /* the write key of the body */

    body = "{\"writeKey\":\"wk_test_1\",\"batch\":[]}";
    rc = kochava_doc_parse(&conf, KOCHAVA_CALL_BATCH, body, strlen(body),
                           &doc, err, sizeof(err));
    key = kochava_doc_write_key(doc, &len);
    ok(rc == 0 && key && len == 9 && memcmp(key, "wk_test_1", 9) == 0,
       "the body's writeKey");
    kochava_doc_free(doc);

    body = "{\"writeKey\":7,\"batch\":[]}";
    kochava_doc_parse(&conf, KOCHAVA_CALL_BATCH, body, strlen(body), &doc,
                      err, sizeof(err));
    ok(kochava_doc_write_key(doc, &len) == NULL, "a writeKey not a string");
    kochava_doc_free(doc);

    kochava_doc_free(NULL);

    /* an empty batch, and /v1/m */

    rc = test_run(KOCHAVA_CALL_BATCH, "{\"batch\":[]}", &run);
    ok(rc == 0 && run.res.messages == 0 && run.res.nouts == 0,
       "an empty batch");
    is_str(run.response, "{\"success\":true}", "is a success");
    test_run_free(&run);

    rc = test_run(KOCHAVA_CALL_METRICS, "{\"series\":[]}", &run);
    ok(rc == 0 && run.res.messages == 0 && run.res.nouts == 0,
       "metrics are ignored");
    test_run_free(&run);

    return done_testing();
}
