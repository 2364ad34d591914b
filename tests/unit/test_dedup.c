
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The de-duplication hook of kochava_req_t: which messages it is asked
 * about, what a "seen" answer does to the counts and the outs, and the
 * messageIds every out carries (kochava_out_t.ids).
 */


#include "test_helpers.h"


#define A_CTX  TEST_ANDROID_CONTEXT

#define TRACK(id, event)                                                      \
    "{\"type\":\"track\"," id "\"anonymousId\":\"a1\",\"event\":\"" event    \
    "\",\"timestamp\":\"2024-03-20T19:26:56Z\"," A_CTX "}"

#define INSTALL(id, user, source)                                             \
    "{\"type\":\"track\"," id "\"userId\":\"" user "\","                     \
    "\"event\":\"Install Attributed\",\"properties\":{\"campaign\":"          \
    "{\"source\":\"" source "\"}},\"timestamp\":\"2024-03-20T19:26:56Z\"}"


/* a set of ids the hook answers from, and what it was asked */

typedef struct {
    const char               *seen[8];
    size_t                    nseen;
    char                      asked[512];
    size_t                    nasked;
} test_seen_t;


static int
test_seen(void *data, const char *id, size_t len)
{
    size_t        i;
    test_seen_t  *t;

    t = data;

    t->nasked++;
    strncat(t->asked, id, len);
    strcat(t->asked, ",");

    for (i = 0; i < t->nseen; i++) {
        if (strlen(t->seen[i]) == len && memcmp(t->seen[i], id, len) == 0) {
            return 1;
        }
    }

    return 0;
}


static int
test_dedup_run(const char *body, int braze, test_seen_t *t, test_run_t *run)
{
    kochava_req_t   req;
    kochava_conf_t  conf;

    test_conf(&conf);
    conf.braze = braze;
    test_req(&req, KOCHAVA_CALL_BATCH);

    if (t) {
        req.seen = test_seen;
        req.seen_data = t;
    }

    return test_process(&conf, &req, body, strlen(body), run);
}


static int
test_id_is(const kochava_id_t *id, const char *want)
{
    if (want == NULL) {
        return id->data == NULL;
    }

    return id->data && id->len == strlen(want)
           && memcmp(id->data, want, id->len) == 0;
}


int
main(void)
{
    test_run_t   run;
    test_seen_t  t;

    /* no hook: everything is sent, ids are carried */

    test_dedup_run("{\"batch\":["
                   TRACK("\"messageId\":\"m1\",", "A") ","
                   TRACK("", "B") ","
                   TRACK("\"messageId\":42,", "C") "]}", 0, NULL, &run);

    ok(run.status == 0 && run.res.nouts == 3 && run.res.deduplicated == 0,
       "no hook: three outs, nothing deduplicated");

    if (run.res.nouts == 3) {
        ok(run.res.outs[0].ids && test_id_is(&run.res.outs[0].ids[0], "m1")
           && run.res.outs[0].message_id == run.res.outs[0].ids[0].data,
           "ids[0] of a single out is its messageId");
        ok(run.res.outs[1].ids == NULL && run.res.outs[1].message_id == NULL,
           "a generated messageId gives no ids");
        ok(run.res.outs[2].ids && test_id_is(&run.res.outs[2].ids[0], "42"),
           "a numeric messageId is its decimal string");
    }

    test_run_free(&run);

    /* the hook is asked about client ids only, and drops what it saw */

    memset(&t, 0, sizeof(test_seen_t));
    t.seen[t.nseen++] = "m2";

    test_dedup_run("{\"batch\":["
                   TRACK("\"messageId\":\"m1\",", "A") ","
                   TRACK("\"messageId\":\"m2\",", "B") ","
                   TRACK("", "C") ","
                   "{\"type\":\"track\",\"messageId\":\"m3\"},"
                   TRACK("\"messageId\":\"m4\",", "D") "]}", 0, &t, &run);

    is_int(run.status, 0, "parsed");
    is_str(t.asked, "m1,m2,m4,", "asked about valid client ids only");
    is_int(run.res.deduplicated, 1, "one deduplicated");
    is_int(run.res.accepted, 4, "deduplicated counts as accepted");
    is_int(run.res.rejected, 1, "the invalid one is rejected, not asked");
    is_int(run.res.skipped, 0, "deduplicated is not skipped");
    is_int(run.res.nouts, 3, "the duplicate is not sent");
    is_int(run.res.received[KOCHAVA_CALL_TRACK], 5,
           "received counts every track");

    if (run.res.nouts == 3) {
        ok(test_id_is(&run.res.outs[0].ids[0], "m1")
           && run.res.outs[1].ids == NULL
           && test_id_is(&run.res.outs[2].ids[0], "m4"),
           "the outs are m1, the generated one, m4");
    }

    is_str(run.response, "{\"success\":true,\"accepted\":4,\"rejected\":"
           "[{\"index\":3,\"messageId\":\"m3\",\"error\":"
           "\"userId or anonymousId is required\"}]}",
           "the answer does not mention the duplicate");

    test_run_free(&run);

    /* a duplicate skipped by integrations or with a bad device: asked */

    memset(&t, 0, sizeof(test_seen_t));
    t.seen[t.nseen++] = "m1";
    t.seen[t.nseen++] = "m2";

    test_dedup_run("{\"batch\":["
                   "{\"type\":\"track\",\"messageId\":\"m1\","
                   "\"anonymousId\":\"a\",\"event\":\"E\"},"
                   "{\"type\":\"track\",\"messageId\":\"m2\","
                   "\"anonymousId\":\"a\",\"event\":\"E\","
                   "\"integrations\":{\"Kochava\":false}}]}", 0, &t, &run);

    ok(run.status == 0 && run.res.deduplicated == 2 && run.res.rejected == 0
       && run.res.skipped == 0 && run.res.nouts == 0,
       "seen before the device rule and integrations: both deduplicated");

    test_run_free(&run);

    /* Braze: one out carries several messages and all their ids */

    memset(&t, 0, sizeof(test_seen_t));
    t.seen[t.nseen++] = "i2";

    test_dedup_run("{\"batch\":["
                   INSTALL("\"messageId\":\"i1\",", "u1", "Facebook") ","
                   INSTALL("\"messageId\":\"i2\",", "u2", "Facebook") ","
                   INSTALL("", "u3", "AdWords") ","
                   INSTALL("\"messageId\":\"i4\",", "u4", "AdWords") ","
                   INSTALL("\"messageId\":\"i5\",", "u5", "Organic") "]}",
                   1, &t, &run);

    is_int(run.status, 0, "Braze batch parsed");
    is_str(t.asked, "i1,i2,i4,i5,", "every client id asked about");
    is_int(run.res.deduplicated, 1, "i2 deduplicated");
    is_int(run.res.braze_attributed, 3, "three attributed left");
    is_int(run.res.braze_organic, 1, "one organic");

    if (ok(run.res.nouts == 1 && run.res.outs[0].count == 3
           && run.res.outs[0].ids != NULL, "one Braze out of three"))
    {
        ok(test_id_is(&run.res.outs[0].ids[0], "i1")
           && test_id_is(&run.res.outs[0].ids[1], NULL)
           && test_id_is(&run.res.outs[0].ids[2], "i4"),
           "its ids: i1, generated, i4");
        ok(run.res.outs[0].message_id == NULL,
           "message_id is for single outs only");
    }

    test_run_free(&run);

    /* Braze: 80 installs without ids, two outs, no ids at all */

    {
        char    *body, *p;
        size_t   i;

        body = malloc(80 * 200 + 32);
        p = body + sprintf(body, "{\"batch\":[");

        for (i = 0; i < 80; i++) {
            p += sprintf(p, "%s" INSTALL("", "u", "S"), i ? "," : "");
        }

        strcpy(p, "]}");

        memset(&t, 0, sizeof(test_seen_t));
        test_dedup_run(body, 1, &t, &run);

        ok(run.status == 0 && run.res.nouts == 2 && t.nasked == 0
           && run.res.outs[0].count == 75 && run.res.outs[0].ids == NULL
           && run.res.outs[1].count == 5 && run.res.outs[1].ids == NULL,
           "80 installs without ids: 75 + 5, no ids, never asked");

        test_run_free(&run);
        free(body);
    }

    /* a single call: a duplicate answers 200 with nothing sent */

    {
        kochava_req_t   req;
        kochava_conf_t  conf;
        const char     *body;

        memset(&t, 0, sizeof(test_seen_t));
        t.seen[t.nseen++] = "s1";

        test_conf(&conf);
        test_req(&req, KOCHAVA_CALL_TRACK);
        req.seen = test_seen;
        req.seen_data = &t;

        body = TRACK("\"messageId\":\"s1\",", "A");
        test_process(&conf, &req, body, strlen(body), &run);

        ok(run.status == 0 && run.res.accepted == 1
           && run.res.deduplicated == 1 && run.res.nouts == 0,
           "single call: deduplicated, nothing sent");
        is_str(run.response, "{\"success\":true}", "answered success");

        test_run_free(&run);
    }

    /* allocation failure while copying ids is reported */

    {
        long            n;
        int             failed;
        kochava_req_t   req;
        kochava_conf_t  conf;
        kochava_doc_t  *doc;
        char            err[256];
        const char     *body;
        test_arena_t    arena;
        kochava_allocator_t  a;
        kochava_result_t     res;

        body = "{\"batch\":["
               INSTALL("\"messageId\":\"i1\",", "u1", "Facebook") ","
               TRACK("\"messageId\":\"m1\",", "A") "]}";

        test_conf(&conf);
        conf.braze = 1;
        test_req(&req, KOCHAVA_CALL_BATCH);

        failed = 0;

        for (n = 0; n < 64; n++) {
            if (kochava_doc_parse(&conf, req.call, body, strlen(body), &doc,
                                  err, sizeof(err))
                != 0)
            {
                failed = 1;
                break;
            }

            test_arena_init(&arena, &a);
            arena.fail_after = n;

            if (kochava_doc_process(&conf, &req, doc, &a, &res) == 0) {
                kochava_doc_free(doc);
                test_arena_free(&arena);
                break;
            }

            kochava_doc_free(doc);
            test_arena_free(&arena);
        }

        ok(!failed && n > 0 && n < 64,
           "allocation failures return -1 until there is room (%ld)", n);
    }

    return done_testing();
}
