
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The validation rules of ingest.md, in their order, and their error
 * texts (the JSON path of the field and what is wrong).
 */


#include "test_helpers.h"
#include "kochava_internal.h"


#define A_CTX  TEST_ANDROID_CONTEXT

#define KOCHAVA_E_PLATFORM                                                  \
    "context.device.type (or context.os.name) must be ios, ipados, tvos, "  \
    "watchos, visionos or android"


/* a single call rejected with exactly this error and reason */

static void
test_rejected(kochava_call_e call, const char *body, const char *error,
    kochava_reason_e reason, const char *name)
{
    test_run_t  run;

    if (test_run(call, body, &run) != 0) {
        ok(0, "%s: parsed (%s)", name, run.err);
        test_run_free(&run);
        return;
    }

    ok(run.res.rejected == 1 && run.res.accepted == 0
       && run.res.nouts == 0, "%s: rejected, nothing sent", name);

    if (run.res.rejected) {
        is_str(run.res.rejects[0].error, error, name);
        is_int(run.res.rejects[0].reason, reason, "reason");
    }

    test_run_free(&run);
}


/* a single call accepted: sent (nouts) or skipped */

static void
test_accepted(kochava_call_e call, const char *body, uint32_t nouts,
    const char *name)
{
    test_run_t  run;

    if (test_run(call, body, &run) != 0) {
        ok(0, "%s: parsed (%s)", name, run.err);
        test_run_free(&run);
        return;
    }

    if (!ok(run.res.rejected == 0 && run.res.accepted == 1
            && run.res.nouts == nouts && run.res.skipped == (nouts == 0),
            "%s", name))
    {
        diag("rejected %u (%s), outs %u, skipped %u", run.res.rejected,
             test_error(&run) ? test_error(&run) : "", run.res.nouts,
             run.res.skipped);
    }

    test_run_free(&run);
}


int
main(void)
{
    char        body[4096], mid[300];
    test_run_t  run;
    int         i;

    /* 1. not an object */

    test_run(KOCHAVA_CALL_BATCH, "{\"batch\":[\"nope\",5,null,[],{\"type\":"
             "\"track\",\"userId\":\"u\",\"event\":\"Ok\"," A_CTX "}]}", &run);
    is_int(run.res.rejected, 4, "four items are not objects");
    is_int(run.res.accepted, 1, "one is");

    for (i = 0; i < 4; i++) {
        ok(run.res.rejects[i].index == (uint32_t) i
           && run.res.rejects[i].reason == KOCHAVA_REASON_NOT_OBJECT
           && run.res.rejects[i].message_id == NULL
           && strcmp(run.res.rejects[i].error, "message is not a JSON object")
              == 0, "item %d: message is not a JSON object", i);
    }

    is_int(run.res.nouts, 1, "the object is sent");
    is_str(run.response, "{\"success\":true,\"accepted\":1,\"rejected\":["
           "{\"index\":0,\"error\":\"message is not a JSON object\"},"
           "{\"index\":1,\"error\":\"message is not a JSON object\"},"
           "{\"index\":2,\"error\":\"message is not a JSON object\"},"
           "{\"index\":3,\"error\":\"message is not a JSON object\"}]}",
           "the response lists them");
    test_run_free(&run);

    /* 2. the type */

    test_run(KOCHAVA_CALL_BATCH, "{\"batch\":[{\"type\":\"purchase\","
             "\"messageId\":\"m-x\",\"userId\":\"u\"},{\"messageId\":7},"
             "{\"type\":\"Track\"},{\"type\":5}]}", &run);
    is_int(run.res.rejected, 4, "four bad types");

    for (i = 0; i < 4; i++) {
        ok(run.res.rejects[i].reason == KOCHAVA_REASON_TYPE
           && strcmp(run.res.rejects[i].error, "type must be one of track, "
                     "identify, page, screen, group, alias") == 0,
           "item %d: type must be one of ...", i);
    }

    is_str(run.res.rejects[0].message_id, "m-x", "with the messageId");
    is_str(run.res.rejects[1].message_id, "7", "a numeric messageId");
    ok(run.res.rejects[2].message_id == NULL, "none when it had none");
    like(run.response, "{\"index\":0,\"messageId\":\"m-x\",\"error\":\"type",
         "in the response");
    test_run_free(&run);

    test_rejected(KOCHAVA_CALL_TRACK, "{\"type\":\"identify\",\"userId\":"
                  "\"u\"," A_CTX "}", "event is required",
                  KOCHAVA_REASON_FIELD, "the path's type wins over the body's");

    test_accepted(KOCHAVA_CALL_IDENTIFY, "{\"type\":\"track\",\"userId\":"
                  "\"u\"," A_CTX "}", 1, "an identify path with type track");

    /* 3. an identity */

    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"\",\"anonymousId\":null,"
                  "\"event\":\"X\"," A_CTX "}",
                  "userId or anonymousId is required",
                  KOCHAVA_REASON_IDENTITY, "null and \"\" are missing");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"event\":\"X\"," A_CTX "}",
                  "userId or anonymousId is required",
                  KOCHAVA_REASON_IDENTITY, "no ids at all");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":true,\"anonymousId\":{},"
                  "\"event\":\"X\"," A_CTX "}",
                  "userId or anonymousId is required",
                  KOCHAVA_REASON_IDENTITY, "ids of other types are missing");
    test_accepted(KOCHAVA_CALL_TRACK, "{\"userId\":12345,\"event\":\"X\","
                  A_CTX "}", 1, "a numeric userId");
    test_accepted(KOCHAVA_CALL_TRACK, "{\"anonymousId\":0,\"event\":\"X\","
                  A_CTX "}", 1, "a numeric anonymousId 0");

    /* 4. what each type needs */

    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\"," A_CTX "}",
                  "event is required", KOCHAVA_REASON_FIELD, "no event");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"\","
                  A_CTX "}", "event is required", KOCHAVA_REASON_FIELD,
                  "an empty event");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":null,"
                  A_CTX "}", "event is required", KOCHAVA_REASON_FIELD,
                  "a null event");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":5,"
                  A_CTX "}", "event must be a string", KOCHAVA_REASON_FIELD,
                  "a numeric event");
    test_rejected(KOCHAVA_CALL_GROUP, "{\"userId\":\"u\"," A_CTX "}",
                  "groupId is required", KOCHAVA_REASON_FIELD, "no groupId");
    test_rejected(KOCHAVA_CALL_GROUP, "{\"userId\":\"u\",\"groupId\":\"\","
                  A_CTX "}", "groupId is required", KOCHAVA_REASON_FIELD,
                  "an empty groupId");
    test_accepted(KOCHAVA_CALL_GROUP, "{\"userId\":\"u\",\"groupId\":42,"
                  A_CTX "}", 1, "a numeric groupId");
    test_rejected(KOCHAVA_CALL_ALIAS, "{\"userId\":\"u\"," A_CTX "}",
                  "previousId is required", KOCHAVA_REASON_FIELD,
                  "no previousId");
    test_rejected(KOCHAVA_CALL_ALIAS, "{\"anonymousId\":\"a\",\"previousId\":"
                  "\"p\"," A_CTX "}", "userId is required",
                  KOCHAVA_REASON_FIELD, "alias without userId");
    test_accepted(KOCHAVA_CALL_ALIAS, "{\"userId\":\"u\",\"previousId\":9,"
                  A_CTX "}", 1, "a numeric previousId");
    test_accepted(KOCHAVA_CALL_PAGE, "{\"userId\":\"u\"," A_CTX "}", 1,
                  "a page needs nothing more");
    test_accepted(KOCHAVA_CALL_SCREEN, "{\"userId\":\"u\"," A_CTX "}", 1,
                  "a screen needs nothing more");

    /* 5. timestamps */

    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"T\","
                  "\"timestamp\":\"yesterday\"," A_CTX "}",
                  "timestamp is not an ISO-8601 date-time",
                  KOCHAVA_REASON_TIMESTAMP, "timestamp");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"T\","
                  "\"timestamp\":1710962816," A_CTX "}",
                  "timestamp is not an ISO-8601 date-time",
                  KOCHAVA_REASON_TIMESTAMP, "a numeric timestamp");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"T\","
                  "\"originalTimestamp\":\"2015-2-02T00:30:08.276Z\"," A_CTX
                  "}", "originalTimestamp is not an ISO-8601 date-time",
                  KOCHAVA_REASON_TIMESTAMP, "originalTimestamp");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"T\","
                  "\"sentAt\":\"2024-13-01T00:00:00Z\"," A_CTX "}",
                  "sentAt is not an ISO-8601 date-time",
                  KOCHAVA_REASON_TIMESTAMP, "sentAt");
    test_accepted(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"T\","
                  "\"timestamp\":null,\"sentAt\":null," A_CTX "}", 1,
                  "null timestamps are absent");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"event\":\"T\","
                  "\"timestamp\":\"yesterday\"," A_CTX "}",
                  "userId or anonymousId is required",
                  KOCHAVA_REASON_IDENTITY, "the first failing rule wins");

    test_run(KOCHAVA_CALL_BATCH, "{\"sentAt\":\"soon\",\"batch\":["
             "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"T\"," A_CTX "},"
             "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"T\","
             "\"sentAt\":\"2024-03-20T19:26:56Z\"," A_CTX "}]}", &run);
    ok(run.res.rejected == 1 && run.res.rejects[0].index == 0
       && strcmp(run.res.rejects[0].error,
                 "sentAt is not an ISO-8601 date-time") == 0,
       "a bad envelope sentAt rejects the messages that use it");
    test_run_free(&run);

    /* the messageId */

    memset(mid, 'm', 101);
    mid[101] = '\0';
    snprintf(body, sizeof(body), "{\"userId\":\"u\",\"event\":\"L\","
             "\"messageId\":\"%s\"," A_CTX "}", mid);
    test_rejected(KOCHAVA_CALL_TRACK, body,
                  "messageId is longer than 100 characters",
                  KOCHAVA_REASON_MESSAGE_ID, "a messageId of 101 characters");

    mid[100] = '\0';
    snprintf(body, sizeof(body), "{\"userId\":\"u\",\"event\":\"L\","
             "\"messageId\":\"%s\"," A_CTX "}", mid);
    test_accepted(KOCHAVA_CALL_TRACK, body, 1, "100 characters pass");

    for (i = 0; i < 100; i++) {
        mid[2 * i] = '\xc3';
        mid[2 * i + 1] = '\xa9';
    }

    mid[200] = '\0';
    snprintf(body, sizeof(body), "{\"userId\":\"u\",\"event\":\"L\","
             "\"messageId\":\"%s\"," A_CTX "}", mid);
    test_accepted(KOCHAVA_CALL_TRACK, body, 1,
                  "100 characters of 2 bytes pass");

    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"L\","
                  "\"messageId\":{\"a\":1}," A_CTX "}",
                  "messageId must be a string", KOCHAVA_REASON_MESSAGE_ID,
                  "a messageId object");

    test_run(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"L\","
             "\"messageId\":123," A_CTX "}", &run);
    ok(run.res.nouts == 1 && run.res.outs[0].message_id
       && strcmp(run.res.outs[0].message_id, "123") == 0
       && run.res.outs[0].message_id_len == 3,
       "a numeric messageId becomes a string");
    test_run_free(&run);

    test_run(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"L\"," A_CTX
             "}", &run);
    ok(run.res.nouts == 1 && run.res.outs[0].message_id == NULL,
       "no messageId: none handed back (generated ones are not de-duped)");
    test_run_free(&run);

    /* 6. Kochava's device requirements */

    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"W\","
                  "\"context\":{\"device\":{\"id\":\"d\",\"type\":\"web\"},"
                  "\"os\":{\"name\":\"macOS\"}}}",
                  KOCHAVA_E_PLATFORM,
                  KOCHAVA_REASON_DEVICE, "device type web, os macOS");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"W\","
                  "\"context\":{\"device\":{\"id\":\"d\",\"type\":\"web\"}}}",
                  KOCHAVA_E_PLATFORM,
                  KOCHAVA_REASON_DEVICE, "device type web, no os");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"W\","
                  "\"context\":{\"os\":{\"name\":\"macOS\"}}}",
                  KOCHAVA_E_PLATFORM,
                  KOCHAVA_REASON_DEVICE, "no device, os macOS");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"W\"}",
                  KOCHAVA_E_PLATFORM,
                  KOCHAVA_REASON_DEVICE, "no context at all");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"W\","
                  "\"context\":{\"device\":{\"type\":\"ANDROID\","
                  "\"adTrackingEnabled\":false}}}",
                  "context.device.id is required", KOCHAVA_REASON_DEVICE,
                  "type in any case; no device id");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"W\","
                  "\"context\":{\"device\":{\"id\":\"\",\"type\":\"ios\","
                  "\"adTrackingEnabled\":false}}}",
                  "context.device.id is required", KOCHAVA_REASON_DEVICE,
                  "an empty device id");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"W\","
                  "\"context\":{\"device\":{\"id\":\"d\",\"type\":\"ios\","
                  "\"adTrackingEnabled\":true}}}",
                  "context.device.advertisingId is required when ad "
                  "tracking is enabled", KOCHAVA_REASON_DEVICE,
                  "no advertising id, tracking on");
    test_rejected(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"W\","
                  "\"context\":{\"device\":{\"id\":\"d\",\"type\":\"ios\"}}}",
                  "context.device.advertisingId is required when ad "
                  "tracking is enabled", KOCHAVA_REASON_DEVICE,
                  "no advertising id, tracking not said");
    test_accepted(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"W\","
                  "\"context\":{\"device\":{\"id\":\"d\",\"type\":\"ios\","
                  "\"adTrackingEnabled\":false}}}", 1,
                  "no advertising id, tracking off");
    test_accepted(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"W\","
                  "\"context\":{\"device\":{\"id\":\"d\","
                  "\"advertising_id\":\"x\"},\"os\":{\"name\":\"iPadOS\"}}}",
                  1, "os iPadOS and advertising_id");
    test_accepted(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"W\","
                  "\"context\":{\"device\":{\"id\":\"d\",\"type\":null,"
                  "\"advertisingId\":\"x\"},\"os\":{\"name\":\"tvOS\"}}}",
                  1, "a null type: the os decides");

    /* rule 6 only for what would go to Kochava */

    test_accepted(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"E\","
                  "\"integrations\":{\"Kochava\":false}}", 0,
                  "skipped by integrations: no device needed");
    test_accepted(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":\"E\","
                  "\"integrations\":{\"All\":false,\"Braze\":true}}", 0,
                  "All false: skipped");
    test_accepted(KOCHAVA_CALL_TRACK, "{\"userId\":\"u\",\"event\":"
                  "\"Install Attributed\"}", 0,
                  "Install Attributed: no device needed");
    test_accepted(KOCHAVA_CALL_IDENTIFY, "{\"anonymousId\":\"a\",\"traits\":"
                  "{\"address\":{}}}", 0,
                  "an identify with nothing to send: no device needed");
    test_rejected(KOCHAVA_CALL_IDENTIFY, "{\"userId\":\"u\"}",
                  KOCHAVA_E_PLATFORM,
                  KOCHAVA_REASON_DEVICE, "an identify to send needs one");
    test_rejected(KOCHAVA_CALL_ALIAS, "{\"userId\":\"u\",\"previousId\":\"p\","
                  "\"context\":{\"device\":{\"type\":\"android\"}}}",
                  "context.device.id is required", KOCHAVA_REASON_DEVICE,
                  "an alias too");

    /* counts */

    test_run(KOCHAVA_CALL_BATCH, "{\"batch\":["
             "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"A\"," A_CTX "},"
             "{\"type\":\"track\",\"userId\":\"u\"," A_CTX "},"
             "{\"type\":\"page\",\"userId\":\"u\",\"integrations\":"
             "{\"Kochava\":false}},"
             "{\"type\":\"identify\",\"userId\":\"u\"," A_CTX "},"
             "{\"type\":\"screen\",\"userId\":\"u\"," A_CTX "},"
             "{\"type\":\"bogus\"}]}", &run);
    is_int(run.res.messages, 6, "messages");
    is_int(run.res.accepted, 4, "accepted");
    is_int(run.res.rejected, 2, "rejected");
    is_int(run.res.skipped, 1, "skipped");
    is_int(run.res.nouts, 3, "outs");
    ok(run.res.received[KOCHAVA_CALL_TRACK] == 2
       && run.res.received[KOCHAVA_CALL_PAGE] == 1
       && run.res.received[KOCHAVA_CALL_IDENTIFY] == 1
       && run.res.received[KOCHAVA_CALL_SCREEN] == 1
       && run.res.received[KOCHAVA_CALL_GROUP] == 0,
       "received by type (valid types only)");
    ok(run.res.outs[0].index == 0 && run.res.outs[0].type == KOCHAVA_CALL_TRACK
       && run.res.outs[1].index == 3
       && run.res.outs[1].dest == KOCHAVA_DEST_IDENTITY
       && run.res.outs[1].type == KOCHAVA_CALL_IDENTIFY
       && run.res.outs[2].index == 4
       && run.res.outs[2].type == KOCHAVA_CALL_SCREEN
       && run.res.outs[2].count == 1,
       "outs in message order, with their index and type");
    ok(run.res.rejects[0].index == 1 && run.res.rejects[1].index == 5,
       "rejects in message order");
    test_run_free(&run);

    return done_testing();
}
