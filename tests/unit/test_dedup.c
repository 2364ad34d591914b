
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The de-duplication hook of kochava_req_t: which messages it is asked
 * about, what its verdicts do to the counts and the outs, the messageIds
 * every out carries (kochava_out_t.ids), and the later copies of a
 * messageId in one request (de-duplicated without asking).
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
    const char               *held[8];       /* in flight elsewhere */
    size_t                    nheld;
    char                      asked[512];
    size_t                    nasked;
} test_seen_t;


static int
test_seen_in(const char **set, size_t n, const char *id, size_t len)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (strlen(set[i]) == len && memcmp(set[i], id, len) == 0) {
            return 1;
        }
    }

    return 0;
}


static int
test_seen(void *data, const char *id, size_t len)
{
    test_seen_t  *t;

    t = data;

    t->nasked++;

    if (strlen(t->asked) + len + 2 < sizeof(t->asked)) {
        strncat(t->asked, id, len);
        strcat(t->asked, ",");
    }

    if (test_seen_in(t->seen, t->nseen, id, len)) {
        return KOCHAVA_SEEN_DELIVERED;
    }

    if (test_seen_in(t->held, t->nheld, id, len)) {
        return KOCHAVA_SEEN_HELD;
    }

    return KOCHAVA_SEEN_NEW;
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

    /*
     * Asked only about what is to be sent: not about a message the device
     * rule rejects or integrations skip (it reserves what it is asked)
     */

    memset(&t, 0, sizeof(test_seen_t));
    t.seen[t.nseen++] = "m1";
    t.seen[t.nseen++] = "m2";

    test_dedup_run("{\"batch\":["
                   "{\"type\":\"track\",\"messageId\":\"m1\","
                   "\"anonymousId\":\"a\",\"event\":\"E\"},"
                   "{\"type\":\"track\",\"messageId\":\"m2\","
                   "\"anonymousId\":\"a\",\"event\":\"E\","
                   "\"integrations\":{\"Kochava\":false}}]}", 0, &t, &run);

    ok(run.status == 0 && t.nasked == 0 && run.res.deduplicated == 0
       && run.res.rejected == 1 && run.res.skipped == 1 && run.res.nouts == 0,
       "a message that would not be sent is not asked about: rejected by "
       "the device rule, skipped by integrations");

    test_run_free(&run);

    /* in flight elsewhere: held, neither sent nor de-duplicated */

    memset(&t, 0, sizeof(test_seen_t));
    t.held[t.nheld++] = "h1";

    test_dedup_run("{\"batch\":["
                   TRACK("\"messageId\":\"h1\",", "A") ","
                   TRACK("\"messageId\":\"h2\",", "B") ","
                   TRACK("\"messageId\":\"h1\",", "A") "]}", 0, &t, &run);

    ok(run.status == 0 && run.res.held == 1 && run.res.deduplicated == 1
       && run.res.deduplicated_batch == 1 && run.res.accepted == 3
       && run.res.nouts == 1 && test_id_is(&run.res.outs[0].ids[0], "h2"),
       "held: not sent, counted in held; its later copy is a batch "
       "duplicate");
    is_str(t.asked, "h1,h2,", "asked once per messageId");

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
    is_str(t.asked, "i1,i2,i4,", "every attributed install's id asked "
           "about (the organic one is not sent)");
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

    /* in one batch: the first copy counts, later copies are duplicates */

    memset(&t, 0, sizeof(test_seen_t));

    test_dedup_run("{\"batch\":["
                   TRACK("\"messageId\":\"d1\",", "A") ","
                   TRACK("\"messageId\":\"d1\",", "A") ","
                   TRACK("\"messageId\":\"d2\",", "B") ","
                   TRACK("\"messageId\":\"d1\",", "A") "]}", 0, &t, &run);

    ok(run.status == 0 && run.res.nouts == 2 && run.res.deduplicated == 2
       && run.res.deduplicated_batch == 2 && run.res.accepted == 4
       && run.res.rejected == 0 && run.res.skipped == 0,
       "3 copies in one batch: 1 sent, 2 de-duplicated (in the batch)");
    is_str(t.asked, "d1,d2,", "the hook is asked about the first copy only");
    is_str(run.response, "{\"success\":true}",
           "the later copies are not rejected in the answer");

    if (run.res.nouts == 2) {
        ok(run.res.outs[0].index == 0 && run.res.outs[1].index == 2,
           "the first copy is the one sent");
    }

    test_run_free(&run);

    /* a number and its string are one messageId; no hook, no de-dup */

#define NUMBERS  "{\"batch\":["                                               \
                 TRACK("\"messageId\":42,", "A") ","                          \
                 TRACK("\"messageId\":\"42\",", "A") ","                      \
                 TRACK("\"messageId\":42,", "A") ","                          \
                 TRACK("\"messageId\":43,", "B") "]}"

    memset(&t, 0, sizeof(test_seen_t));
    test_dedup_run(NUMBERS, 0, &t, &run);

    ok(run.status == 0 && run.res.nouts == 2 && run.res.deduplicated == 2
       && run.res.deduplicated_batch == 2
       && test_id_is(&run.res.outs[0].ids[0], "42")
       && test_id_is(&run.res.outs[1].ids[0], "43"),
       "42 and \"42\" are one messageId");

    test_run_free(&run);

    test_dedup_run(NUMBERS, 0, NULL, &run);

    ok(run.status == 0 && run.res.nouts == 4 && run.res.deduplicated == 0,
       "no hook (kochava_dedup off): every copy is sent");

    test_run_free(&run);

    /* a copy that is not sent does not count as the first */

    memset(&t, 0, sizeof(test_seen_t));

    test_dedup_run("{\"batch\":["
                   "{\"type\":\"track\",\"messageId\":\"f1\","
                   "\"event\":\"A\"},"
                   "{\"type\":\"track\",\"messageId\":\"f1\","
                   "\"anonymousId\":\"a\",\"event\":\"A\","
                   "\"integrations\":{\"Kochava\":false}},"
                   TRACK("\"messageId\":\"f1\",", "A") ","
                   TRACK("\"messageId\":\"f1\",", "A") "]}", 0, &t, &run);

    ok(run.status == 0 && run.res.rejected == 1 && run.res.skipped == 1
       && run.res.nouts == 1 && run.res.outs[0].index == 2
       && run.res.deduplicated == 1 && run.res.deduplicated_batch == 1,
       "a rejected and a skipped copy come first: the first copy sent "
       "counts");
    is_str(t.asked, "f1,", "asked once, for the copy sent");

    test_run_free(&run);

    /* Braze: the same install twice goes once */

    memset(&t, 0, sizeof(test_seen_t));

    test_dedup_run("{\"batch\":["
                   INSTALL("\"messageId\":\"b1\",", "u1", "Facebook") ","
                   INSTALL("\"messageId\":\"b1\",", "u1", "Facebook") ","
                   INSTALL("\"messageId\":\"b2\",", "u2", "Facebook") "]}",
                   1, &t, &run);

    ok(run.status == 0 && run.res.nouts == 1 && run.res.outs[0].count == 2
       && test_id_is(&run.res.outs[0].ids[0], "b1")
       && test_id_is(&run.res.outs[0].ids[1], "b2")
       && run.res.deduplicated == 1 && run.res.braze_attributed == 2,
       "Braze: a repeated install is not in the body twice");

    test_run_free(&run);

    /* the largest batch: 2,500 messages, 1,250 ids twice each */

    {
        char      *body, *p;
        size_t     i;
        long long  ms;

        body = malloc(2500 * 400 + 32);
        p = body + sprintf(body, "{\"batch\":[");

        for (i = 0; i < 2500; i++) {
            p += sprintf(p, "%s{\"type\":\"track\",\"messageId\":"
                         "\"big-%zu\",\"anonymousId\":\"a1\","
                         "\"event\":\"E\"," A_CTX "}", i ? "," : "",
                         i % 1250);
        }

        strcpy(p, "]}");

        memset(&t, 0, sizeof(test_seen_t));
        ms = test_now_ms();
        test_dedup_run(body, 0, &t, &run);
        ms = test_now_ms() - ms;

        ok(run.status == 0 && run.res.nouts == 1250
           && run.res.deduplicated == 1250
           && run.res.deduplicated_batch == 1250 && t.nasked == 1250,
           "2,500 messages, 1,250 ids twice: 1,250 sent, 1,250 "
           "de-duplicated, 1,250 asked (%lld ms)", ms);

        test_run_free(&run);
        free(body);
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
