
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The rewrite of kochava.md field by field, IdentityLink, integrations,
 * the batch envelope, and attributed installs to Braze.
 */


#include "test_helpers.h"
#include "kochava_internal.h"


#define I_CTX  TEST_IOS_CONTEXT
#define A_CTX  TEST_ANDROID_CONTEXT

#define IOS_IDS                                                               \
    "\"device_ids\":{\"idfa\":\"017D76B5-85F8-4E3C-8CCE-8B29CCEACB1D\","      \
    "\"idfv\":\"176779B9-8C07-4E53-B3EA-ABBFAA40C829\"}"

#define ANDROID_IDS                                                           \
    "\"device_ids\":{\"adid\":\"38400000-8cf0-11bd-b23e-10b96e40000d\","      \
    "\"android_id\":\"a1b2c3d4e5f60718\"}"

/* data of an Android event with A_CTX, received at TEST_RECEIVED_MS */
#define A_EVENT(name, data)                                                   \
    "{\"action\":\"event\",\"kochava_app_id\":\"koexample-app-guid\","        \
    "\"kochava_device_id\":\"a1b2c3d4e5f60718\",\"data\":{" ANDROID_IDS ","   \
    "\"origination_ip\":\"127.0.0.1\",\"device_ua\":\"\","                    \
    "\"device_ver\":\"Pixel 8-Android-14\",\"usertime\":1710962818,"          \
    "\"event_name\":\"" name "\",\"event_data\":" data "}}"


static test_run_t  run;


static void
test_event(kochava_call_e call, const char *body, kochava_dest_e dest,
    const char *expected, const char *name)
{
    if (test_run(call, body, &run) != 0 || run.res.rejected) {
        ok(0, "%s: accepted (%s)", name,
           test_error(&run) ? test_error(&run) : "");
        test_run_free(&run);
        return;
    }

    test_out_is(&run, dest, expected, name);
    test_run_free(&run);
}


static void
test_conf_event(const kochava_conf_t *conf, kochava_call_e call,
    const char *body, kochava_dest_e dest, const char *expected,
    const char *name)
{
    kochava_req_t  req;

    test_req(&req, call);

    if (test_process(conf, &req, body, strlen(body), &run) != 0
        || run.res.rejected)
    {
        ok(0, "%s: accepted (%s)", name,
           test_error(&run) ? test_error(&run) : "");
        test_run_free(&run);
        return;
    }

    test_out_is(&run, dest, expected, name);
    test_run_free(&run);
}


/* one field of the only output's "data" */

static void
test_data(const char *body, const char *field, const char *expected,
    const char *name)
{
    json_t  *outs, *data, *value, *want;
    char    *dump;

    test_run(KOCHAVA_CALL_TRACK, body, &run);

    outs = test_outs(&run, KOCHAVA_DEST_KOCHAVA);
    data = json_object_get(json_array_get(outs, 0), "data");
    value = json_object_get(data, field);
    want = expected ? json_loads(expected, JSON_DECODE_ANY, NULL) : NULL;

    if (!ok(json_array_size(outs) == 1
            && ((want == NULL && value == NULL)
                || (want && value && test_json_equal(value, want, 0))),
            "%s", name))
    {
        dump = value ? json_dumps(value, JSON_ENCODE_ANY) : NULL;
        diag("%s: got %s, expected %s", field, dump ? dump : "(none)",
             expected ? expected : "(none)");
        free(dump);

        if (test_error(&run)) {
            diag("error: %s", test_error(&run));
        }
    }

    json_decref(want);
    json_decref(outs);
    test_run_free(&run);
}


static void
test_braze_body(const char *body, const char *expected, const char *name)
{
    kochava_conf_t  conf;

    test_conf(&conf);
    conf.braze = 1;

    test_conf_event(&conf, KOCHAVA_CALL_TRACK, body, KOCHAVA_DEST_BRAZE,
                    expected, name);
}


static void
test_braze_skipped(const char *body, int braze, uint32_t organic,
    const char *name)
{
    kochava_req_t   req;
    kochava_conf_t  conf;

    test_conf(&conf);
    conf.braze = braze;
    test_req(&req, KOCHAVA_CALL_TRACK);

    test_process(&conf, &req, body, strlen(body), &run);

    ok(run.status == 0 && run.res.accepted == 1 && run.res.nouts == 0
       && run.res.skipped == 1 && run.res.braze_organic == organic
       && run.res.braze_attributed == 0, "%s", name);

    test_run_free(&run);
}


int
main(void)
{
    size_t          i, len;
    char           *body, *p;
    json_t         *outs, *b;
    kochava_req_t   req;
    kochava_conf_t  conf;
    kochava_name_t  row;

    /* kochava.md's example */

    test_event(KOCHAVA_CALL_TRACK,
        "{\"userId\":\"019mr8mf4r\",\"event\":\"Order Completed\","
        "\"messageId\":\"m-1\",\"properties\":{\"revenue\":9.99,"
        "\"currency\":\"usd\",\"source\":\"promo\"},"
        "\"timestamp\":\"2024-03-20T19:26:56Z\","
        "\"context\":{\"device\":{\"id\":"
        "\"176779B9-8C07-4E53-B3EA-ABBFAA40C829\",\"advertisingId\":"
        "\"017D76B5-85F8-4E3C-8CCE-8B29CCEACB1D\",\"adTrackingEnabled\":true,"
        "\"type\":\"ios\",\"model\":\"iPhone12,1\"},"
        "\"os\":{\"name\":\"iOS\",\"version\":\"17.4\"},"
        "\"app\":{\"version\":\"2.1.0\"},"
        "\"userAgent\":\"MyApp/2.1 (iPhone; iOS 17.4)\","
        "\"ip\":\"198.51.100.7\"}}",
        KOCHAVA_DEST_KOCHAVA,
        "{\"action\":\"event\",\"kochava_app_id\":\"koexample-app-guid\","
        "\"kochava_device_id\":\"176779B9-8C07-4E53-B3EA-ABBFAA40C829\","
        "\"data\":{" IOS_IDS ",\"origination_ip\":\"198.51.100.7\","
        "\"device_ua\":\"MyApp%2F2.1%20(iPhone%3B%20iOS%2017.4)\","
        "\"device_ver\":\"iPhone12,1-iOS-17.4\",\"app_version\":\"2.1.0\","
        "\"usertime\":1710962816,\"app_tracking_transparency\":{\"att\":true},"
        "\"event_name\":\"Purchase\",\"currency\":\"USD\","
        "\"event_data\":{\"revenue\":9.99,\"currency\":\"usd\","
        "\"segment_source\":\"promo\",\"sum\":9.99}}}",
        "kochava.md's example");

    test_event(KOCHAVA_CALL_TRACK,
        "{\"anonymousId\":\"a\",\"event\":\"Level Up\"," A_CTX "}",
        KOCHAVA_DEST_KOCHAVA, A_EVENT("Level Up", "{}"),
        "an Android event, defaults everywhere");

    test_event(KOCHAVA_CALL_TRACK,
        "{\"anonymousId\":\"a\",\"event\":\"Application Installed\","
        "\"properties\":{\"currency\":\"usd\",\"revenue\":1}," A_CTX "}",
        KOCHAVA_DEST_KOCHAVA,
        "{\"action\":\"install\",\"kochava_app_id\":\"koexample-app-guid\","
        "\"kochava_device_id\":\"a1b2c3d4e5f60718\",\"data\":{" ANDROID_IDS ","
        "\"origination_ip\":\"127.0.0.1\",\"device_ua\":\"\","
        "\"device_ver\":\"Pixel 8-Android-14\",\"usertime\":1710962818}}",
        "an install: no event_name, event_data or currency");

    /* the common fields */

#define DEV(extra)                                                            \
    "{\"userId\":\"u\",\"event\":\"E\",\"context\":{\"device\":{\"id\":\"d\","\
    "\"advertisingId\":\"x\",\"type\":\"android\"" extra "}"

    test_data(DEV(",\"model\":\"M\"") ",\"os\":{\"name\":\"Android\","
              "\"version\":\"14\"}}}", "device_ver", "\"M-Android-14\"",
              "device_ver");
    test_data(DEV("") ",\"os\":{\"name\":\"Android\",\"version\":\"14\"}}}",
              "device_ver", "\"\"", "device_ver without a model");
    test_data(DEV(",\"model\":\"M\"") ",\"os\":{\"name\":\"Android\"}}}",
              "device_ver", "\"\"", "device_ver without an os version");
    test_data(DEV(",\"model\":\"M\"") ",\"os\":{\"version\":14}}}",
              "device_ver", "\"M--14\"",
              "device_ver without an os name, numeric version");
    test_data(DEV("") "}}", "device_ua", "\"\"", "no userAgent");
    test_data(DEV("") ",\"userAgent\":\"a b/\xc3\xa9\"}}", "device_ua",
              "\"a%20b%2F%C3%A9\"", "userAgent encoded");
    test_data(DEV("") ",\"userAgent\":7}}", "device_ua", "\"\"",
              "a userAgent not a string");
    test_data(DEV("") ",\"ip\":\"\"}}", "origination_ip", "\"127.0.0.1\"",
              "an empty context.ip: the client's");
    test_data(DEV("") ",\"ip\":\"2001:db8::1\"}}", "origination_ip",
              "\"2001:db8::1\"", "context.ip");
    test_data(DEV("") ",\"app\":{\"version\":210}}}", "app_version",
              "\"210\"", "a numeric app version");
    test_data(DEV("") ",\"app\":{\"version\":2.5}}}", "app_version",
              "\"2.5\"", "a real app version");
    test_data(DEV("") ",\"app\":{\"build\":\"1\"}}}", "app_version", NULL,
              "no app version: omitted");
    test_data(DEV("") ",\"app\":{\"version\":null}}}", "app_version", NULL,
              "a null app version: omitted");
    test_data(DEV("") "}}", "app_tracking_transparency", NULL,
              "no att on android");

    /* usertime */

    test_data(DEV("") "},\"timestamp\":\"2024-03-20T19:26:56.999Z\"}",
              "usertime", "1710962816", "usertime: whole seconds, floored");
    test_data(DEV("") "},\"timestamp\":\"1969-12-31T23:59:59.500Z\"}",
              "usertime", "-1", "usertime floors before 1970");
    test_data(DEV("") "}}", "usertime", "1710962818",
              "no timestamp: receivedAt");
    test_data(DEV("") "},\"timestamp\":\"2024-03-20T19:00:00Z\","
              "\"sentAt\":\"2024-03-20T19:00:10Z\"}", "usertime",
              "1710962808", "sentAt: skew corrected from timestamp");
    test_data(DEV("") "},\"timestamp\":\"2024-03-20T19:00:05Z\","
              "\"originalTimestamp\":\"2024-03-20T19:00:00Z\","
              "\"sentAt\":\"2024-03-20T19:00:10Z\"}", "usertime",
              "1710962808", "sentAt: originalTimestamp first");
    test_data(DEV("") "},\"timestamp\":\"2024-03-20T19:00:05Z\","
              "\"originalTimestamp\":\"2024-03-20T19:00:00Z\"}", "usertime",
              "1710961205", "no sentAt: the timestamp as it is");
    test_data(DEV("") "},\"originalTimestamp\":\"2024-03-20T19:00:00Z\"}",
              "usertime", "1710961200", "no sentAt: originalTimestamp");
    test_data(DEV("") "},\"sentAt\":\"2024-03-20T19:00:00Z\"}",
              "usertime", "1710962818", "only sentAt: receivedAt");

    /* device ids, limited ad tracking */

#define IOS(ad, ate)                                                          \
    "{\"userId\":\"u\",\"event\":\"E\",\"context\":{\"device\":{\"id\":\"V\","\
    "\"type\":\"ios\"" ad ",\"adTrackingEnabled\":" ate "}}}"

    test_data(IOS(",\"advertisingId\":\"A\"", "true"), "device_ids",
              "{\"idfa\":\"A\",\"idfv\":\"V\"}", "ios ids");
    test_data(IOS(",\"advertisingId\":\"A\"", "true"),
              "app_tracking_transparency", "{\"att\":true}", "att true");
    test_data(IOS(",\"advertisingId\":\"A\"", "false"),
              "app_tracking_transparency", "{\"att\":false}",
              "att false when tracking is off");
    test_data(IOS(",\"advertisingId\":\"A\"", "\"yes\""),
              "app_tracking_transparency", "{\"att\":false}",
              "att false unless literally true");
    test_data(IOS(",\"advertisingId\":"
                  "\"00000000-0000-0000-0000-000000000000\"", "true"),
              "device_ids", "{\"idfv\":\"V\"}", "an all-zero IDFA is not sent");
    test_data(IOS(",\"advertisingId\":"
                  "\"00000000-0000-0000-0000-000000000000\"", "true"),
              "app_tracking_transparency", "{\"att\":false}",
              "and att is false");
    test_data(IOS(",\"advertising_id\":\"0000\"", "false"), "device_ids",
              "{\"idfv\":\"V\"}", "zeros without dashes");
    test_data(IOS(",\"advertisingId\":\"\",\"advertising_id\":\"B\"", "true"),
              "device_ids", "{\"idfa\":\"B\",\"idfv\":\"V\"}",
              "an empty advertisingId: advertising_id");
    test_data("{\"userId\":\"u\",\"event\":\"E\",\"context\":{\"device\":{"
              "\"id\":\"D\",\"type\":\"android\",\"advertisingId\":"
              "\"00000000-0000-0000-0000-000000000000\"}}}", "device_ids",
              "{\"android_id\":\"D\"}", "an all-zero adid is not sent");

    /* every Apple platform sends IDFA and IDFV (ingest.md rule 6) */

#define APPLE(type, os)                                                       \
    "{\"userId\":\"u\",\"event\":\"E\",\"context\":{\"device\":{\"id\":\"V\","\
    "\"advertisingId\":\"A\",\"adTrackingEnabled\":true" type "}"           \
    os "}}"

    test_data(APPLE(",\"type\":\"tvos\"", ""), "device_ids",
              "{\"idfa\":\"A\",\"idfv\":\"V\"}", "tvos: IDFA and IDFV");
    test_data(APPLE(",\"type\":\"watchOS\"", ""), "device_ids",
              "{\"idfa\":\"A\",\"idfv\":\"V\"}", "watchOS, any case");
    test_data(APPLE(",\"type\":\"ipados\"", ""), "device_ids",
              "{\"idfa\":\"A\",\"idfv\":\"V\"}", "ipados");
    test_data(APPLE(",\"type\":\"visionos\"", ""),
              "app_tracking_transparency", "{\"att\":true}",
              "visionos: an Apple device, with ATT");
    test_data(APPLE(",\"type\":\"mac\"", ",\"os\":{\"name\":\"visionOS\"}"),
              "device_ids", "{\"idfa\":\"A\",\"idfv\":\"V\"}",
              "an unknown type: os visionOS decides");
    test_data(APPLE(",\"type\":\"\"", ",\"os\":{\"name\":\"Android\"}"),
              "device_ids", "{\"adid\":\"A\",\"android_id\":\"V\"}",
              "an empty type: os Android decides");
    test_data(APPLE(",\"type\":\"web\"", ",\"os\":{\"name\":\"watchOS\"}"),
              "device_ids", "{\"idfa\":\"A\",\"idfv\":\"V\"}",
              "type web (Segment's default elsewhere): os watchOS decides");
    test_data(APPLE(",\"type\":\"android\"", ",\"os\":{\"name\":\"iOS\"}"),
              "device_ids", "{\"adid\":\"A\",\"android_id\":\"V\"}",
              "a known type wins over the os");

    /* event names and event data */

#define DEVN(event)                                                           \
    "{\"userId\":\"u\",\"event\":\"" event "\",\"context\":{\"device\":{"     \
    "\"id\":\"d\",\"advertisingId\":\"x\",\"type\":\"android\""

    test_data(DEVN("order COMPLETED") "}}}", "event_name",
              "\"Purchase\"", "the table is case-insensitive");
    test_data(DEVN("Deep Link Opened") "}}}", "event_name",
              "\"_Deeplink\"", "Deep Link Opened");
    test_data(DEVN("my Custom event") "}}}", "event_name",
              "\"my Custom event\"", "not in the table: as it came");

    test_conf(&conf);
    row.segment = "Order Completed";
    row.segment_len = 15;
    row.kochava = "Checkout Complete";
    row.kochava_len = 17;
    conf.names = &row;
    conf.nnames = 1;

    test_conf_event(&conf, KOCHAVA_CALL_TRACK,
                    "{\"anonymousId\":\"a\",\"event\":\"Order Completed\","
                    A_CTX "}", KOCHAVA_DEST_KOCHAVA,
                    A_EVENT("Checkout Complete", "{}"),
                    "configured rows come first");

    test_data(DEV("") "},\"properties\":{\"network\":1,\"source\":2,"
              "\"fb_campaign\":3,\"campaign\":4,\"site\":5,\"creative\":6,"
              "\"attribution_type\":7,\"integration_type\":8,"
              "\"integration_version\":9,\"cracked\":10,\"jailbroken\":11,"
              "\"Source\":12,\"level\":13}}", "event_data",
              "{\"segment_network\":1,\"segment_source\":2,"
              "\"segment_fb_campaign\":3,\"segment_campaign\":4,"
              "\"segment_site\":5,\"segment_creative\":6,"
              "\"segment_attribution_type\":7,\"segment_integration_type\":8,"
              "\"segment_integration_version\":9,\"segment_cracked\":10,"
              "\"segment_jailbroken\":11,\"Source\":12,\"level\":13}",
              "every reserved key renamed (case-sensitive)");
    test_data(DEV("") "},\"properties\":{\"source\":\"a\","
              "\"segment_source\":\"b\"}}", "event_data",
              "{\"segment_source\":\"b\"}", "a collision: the later wins");
    test_data(DEV("") "},\"properties\":{\"segment_source\":\"b\","
              "\"source\":\"a\"}}", "event_data",
              "{\"segment_source\":\"a\"}", "a collision, the other way");
    test_data(DEV("") "},\"properties\":{\"revenue\":20}}", "event_data",
              "{\"revenue\":20,\"sum\":20}", "sum from revenue");
    test_data(DEV("") "},\"properties\":{\"revenue\":20,\"sum\":5}}",
              "event_data", "{\"revenue\":20,\"sum\":5}", "sum kept");
    test_data(DEV("") "},\"properties\":{\"revenue\":\"20\"}}", "event_data",
              "{\"revenue\":\"20\"}", "a string revenue: no sum");
    test_data(DEV("") "},\"properties\":{\"currency\":\"eur\"}}",
              "currency", "\"EUR\"", "currency upper-cased");
    test_data(DEV("") "},\"properties\":{\"currency\":\"\xc3\xa9ur\"}}",
              "currency", "\"\xc3\xa9UR\"", "only ASCII is upper-cased");
    test_data(DEV("") "},\"properties\":{\"currency\":978}}", "currency",
              NULL, "a numeric currency: none");
    test_data(DEV("") "},\"properties\":[1,2]}", "event_data", "{}",
              "properties not an object: {}");
    test_data(DEV("") "},\"properties\":{\"nested\":{\"a\":[1,{\"b\":null}]}"
              "}}", "event_data", "{\"nested\":{\"a\":[1,{\"b\":null}]}}",
              "nested properties are kept");

    /* page, screen, group */

    test_event(KOCHAVA_CALL_PAGE,
        "{\"anonymousId\":\"a\",\"name\":\"Pricing\",\"category\":\"Docs\","
        "\"properties\":{\"url\":\"u\",\"name\":\"old\",\"site\":\"s\"},"
        A_CTX "}", KOCHAVA_DEST_KOCHAVA,
        A_EVENT("Viewed Pricing Page",
                "{\"url\":\"u\",\"name\":\"Pricing\",\"segment_site\":\"s\","
                "\"category\":\"Docs\"}"), "a named page");
    test_event(KOCHAVA_CALL_PAGE,
        "{\"anonymousId\":\"a\",\"category\":\"Docs\"," A_CTX "}",
        KOCHAVA_DEST_KOCHAVA,
        A_EVENT("Loaded a Page", "{\"category\":\"Docs\"}"),
        "an unnamed page");
    test_event(KOCHAVA_CALL_SCREEN,
        "{\"anonymousId\":\"a\",\"name\":\"Cart\"," A_CTX "}",
        KOCHAVA_DEST_KOCHAVA, A_EVENT("Viewed Cart Screen",
                                      "{\"name\":\"Cart\"}"),
        "a named screen");
    test_event(KOCHAVA_CALL_SCREEN,
        "{\"anonymousId\":\"a\",\"name\":\"\"," A_CTX "}",
        KOCHAVA_DEST_KOCHAVA, A_EVENT("Loaded a Screen", "{\"name\":\"\"}"),
        "an empty name is no name");
    test_event(KOCHAVA_CALL_GROUP,
        "{\"anonymousId\":\"a\",\"groupId\":42,\"traits\":{\"name\":\"Acme\","
        "\"network\":\"n\"}," A_CTX "}", KOCHAVA_DEST_KOCHAVA,
        A_EVENT("Group", "{\"name\":\"Acme\",\"segment_network\":\"n\","
                "\"group_id\":\"42\"}"), "a group");

    /* IdentityLink */

    test_event(KOCHAVA_CALL_IDENTIFY,
        "{\"userId\":\"u1\",\"traits\":{\"user_id\":\"other\",\"plan\":\"pro\","
        "\"ltv\":1.5,\"n\":3,\"vip\":false,\"gone\":null,\"obj\":{},"
        "\"list\":[1]}," I_CTX "}", KOCHAVA_DEST_IDENTITY,
        "{\"kochava_app_id\":\"koexample-app-guid\",\"device_id\":{"
        "\"idfa\":\"017D76B5-85F8-4E3C-8CCE-8B29CCEACB1D\","
        "\"idfv\":\"176779B9-8C07-4E53-B3EA-ABBFAA40C829\"},"
        "\"data\":{\"user_id\":\"u1\",\"plan\":\"pro\",\"ltv\":1.5,\"n\":3,"
        "\"vip\":false}}", "identify: scalar traits, userId wins");
    test_event(KOCHAVA_CALL_IDENTIFY,
        "{\"anonymousId\":\"a\",\"traits\":{\"plan\":\"pro\"}," A_CTX "}",
        KOCHAVA_DEST_IDENTITY,
        "{\"kochava_app_id\":\"koexample-app-guid\",\"device_id\":{"
        "\"adid\":\"38400000-8cf0-11bd-b23e-10b96e40000d\","
        "\"android_id\":\"a1b2c3d4e5f60718\"},\"data\":{\"plan\":\"pro\"}}",
        "an anonymous identify with a trait");

    test_conf(&conf);
    conf.identify_traits = 0;

    test_conf_event(&conf, KOCHAVA_CALL_IDENTIFY,
        "{\"userId\":\"u1\",\"traits\":{\"plan\":\"pro\"}," A_CTX "}",
        KOCHAVA_DEST_IDENTITY,
        "{\"kochava_app_id\":\"koexample-app-guid\",\"device_id\":{"
        "\"adid\":\"38400000-8cf0-11bd-b23e-10b96e40000d\","
        "\"android_id\":\"a1b2c3d4e5f60718\"},\"data\":{\"user_id\":\"u1\"}}",
        "traits off: only user_id");

    test_req(&req, KOCHAVA_CALL_IDENTIFY);
    body = "{\"anonymousId\":\"a\",\"traits\":{\"plan\":\"pro\"}," A_CTX "}";
    test_process(&conf, &req, body, strlen(body), &run);
    ok(run.res.accepted == 1 && run.res.skipped == 1 && run.res.nouts == 0,
       "traits off, anonymous: nothing to send");
    test_run_free(&run);

    test_event(KOCHAVA_CALL_ALIAS,
        "{\"userId\":\"u-new\",\"previousId\":\"anon-old\","
        "\"traits\":{\"a\":1},"
        A_CTX "}", KOCHAVA_DEST_IDENTITY,
        "{\"kochava_app_id\":\"koexample-app-guid\",\"device_id\":{"
        "\"adid\":\"38400000-8cf0-11bd-b23e-10b96e40000d\","
        "\"android_id\":\"a1b2c3d4e5f60718\"},\"data\":{\"user_id\":\"u-new\","
        "\"previous_id\":\"anon-old\"}}", "alias");

    /* integrations */

    test_event(KOCHAVA_CALL_TRACK,
        "{\"anonymousId\":\"a\",\"event\":\"E\","
        "\"integrations\":{\"All\":false,"
        "\"Kochava\":{\"x\":1}}," A_CTX "}", KOCHAVA_DEST_KOCHAVA,
        A_EVENT("E", "{}"), "options object counts as enabled");
    test_event(KOCHAVA_CALL_TRACK,
        "{\"anonymousId\":\"a\",\"event\":\"E\",\"integrations\":{"
        "\"kochava\":false}," A_CTX "}", KOCHAVA_DEST_KOCHAVA,
        A_EVENT("E", "{}"), "names are case-sensitive");
    test_event(KOCHAVA_CALL_TRACK,
        "{\"anonymousId\":\"a\",\"event\":\"E\",\"integrations\":{"
        "\"All\":true,\"Kochava\":\"no\"}," A_CTX "}", KOCHAVA_DEST_KOCHAVA,
        A_EVENT("E", "{}"), "a non-boolean value: All decides");
    test_event(KOCHAVA_CALL_BATCH,
        "{\"integrations\":{\"Kochava\":false},\"batch\":["
        "{\"type\":\"track\",\"anonymousId\":\"a\",\"event\":\"E\","
        "\"integrations\":{\"Kochava\":true}," A_CTX "},"
        "{\"type\":\"track\",\"anonymousId\":\"a\",\"event\":\"F\"," A_CTX "}"
        "]}", KOCHAVA_DEST_KOCHAVA, "[" A_EVENT("E", "{}") "]",
        "batch integrations merged, the item's own keys win");

    /* the batch envelope */

    test_event(KOCHAVA_CALL_BATCH,
        "{\"context\":{" TEST_IOS_DEVICE ",\"ip\":\"10.0.0.1\","
        "\"userAgent\":\"UA\",\"os\":{\"name\":\"iOS\",\"version\":\"17\"}},"
        "\"sentAt\":\"2024-03-20T19:00:10Z\",\"batch\":["
        "{\"type\":\"track\",\"anonymousId\":\"a\",\"event\":\"Own\","
        "\"timestamp\":\"2024-03-20T19:00:00Z\"," A_CTX "},"
        "{\"type\":\"track\",\"anonymousId\":\"a\",\"event\":\"Merged\","
        "\"context\":{\"ip\":\"10.0.0.2\"}}]}", KOCHAVA_DEST_KOCHAVA,
        "[{\"action\":\"event\",\"kochava_app_id\":\"koexample-app-guid\","
        "\"kochava_device_id\":\"a1b2c3d4e5f60718\",\"data\":{" ANDROID_IDS ","
        "\"origination_ip\":\"10.0.0.1\",\"device_ua\":\"UA\","
        "\"device_ver\":\"Pixel 8-Android-14\",\"usertime\":1710962808,"
        "\"event_name\":\"Own\",\"event_data\":{}}},"
        "{\"action\":\"event\",\"kochava_app_id\":\"koexample-app-guid\","
        "\"kochava_device_id\":\"176779B9-8C07-4E53-B3EA-ABBFAA40C829\","
        "\"data\":{" IOS_IDS ",\"origination_ip\":\"10.0.0.2\","
        "\"device_ua\":\"UA\",\"device_ver\":\"iPhone12,1-iOS-17\","
        "\"usertime\":1710962818,\"app_tracking_transparency\":{\"att\":true},"
        "\"event_name\":\"Merged\",\"event_data\":{}}}]",
        "context merged one level deep; envelope sentAt");

    /* the app id and odd strings are escaped */

    test_req(&req, KOCHAVA_CALL_TRACK);
    req.app_id = "ko\"app";
    req.app_id_len = 6;
    test_conf(&conf);
    body = "{\"anonymousId\":\"a\\\"\\u2028\",\"event\":\"E\\n\","
           "\"context\":{\"device\":{\"type\":\"ios\",\"id\":\"\\\\\","
           "\"adTrackingEnabled\":false}}}";
    test_process(&conf, &req, body, strlen(body), &run);
    b = run.res.nouts ? json_loadb(run.res.outs[0].body, run.res.outs[0].len,
                                   0, NULL) : NULL;
    ok(b && strcmp(json_string_value(json_object_get(b, "kochava_app_id")),
                   "ko\"app") == 0
       && strcmp(json_string_value(json_object_get(b, "kochava_device_id")),
                 "\\") == 0
       && strcmp(json_string_value(json_object_get(json_object_get(b, "data"),
                                                   "event_name")), "E\n")
          == 0, "strings are escaped in the output");
    ok(run.res.nouts && run.res.outs[0].body[run.res.outs[0].len] == '\0'
       && strlen(run.res.outs[0].body) == run.res.outs[0].len,
       "bodies are NUL-terminated");
    json_decref(b);
    test_run_free(&run);

    /* Braze: attributed installs */

#define INSTALL(ids, campaign, extra)                                         \
    "{\"event\":\"Install Attributed\"," ids ",\"properties\":{"              \
    "\"provider\":\"Kochava\",\"campaign\":" campaign extra "},"              \
    "\"timestamp\":\"2024-03-20T19:26:56.120Z\"}"

#define CAMPAIGN                                                              \
    "{\"source\":\"Facebook\",\"name\":\"Spring\",\"ad_group\":\"Red Ones\","\
    "\"ad_creative\":\"Red Hello World Ad\"}"

#define ATTRS                                                                 \
    "\"attributed_source\":\"Facebook\",\"attributed_campaign\":\"Spring\","  \
    "\"attributed_adgroup\":\"Red Ones\","                                    \
    "\"attributed_ad\":\"Red Hello World Ad\""

#define EVENT_FIELDS                                                          \
    "\"name\":\"Install Attributed\",\"time\":\"2024-03-20T19:26:56.120Z\","  \
    "\"properties\":{\"provider\":\"Kochava\",\"source\":\"Facebook\","       \
    "\"campaign\":\"Spring\",\"adgroup\":\"Red Ones\","                       \
    "\"ad\":\"Red Hello World Ad\"}"

    test_braze_body(INSTALL("\"userId\":\"u1\",\"anonymousId\":\"a1\"",
                            CAMPAIGN, ""),
        "{\"attributes\":[{\"external_id\":\"u1\"," ATTRS "}],"
        "\"events\":[{\"external_id\":\"u1\"," EVENT_FIELDS "}]}",
        "external_id from userId; time with milliseconds");
    test_braze_body(INSTALL("\"userId\":\"u1\"", CAMPAIGN,
                            ",\"braze_id\":\"b1\""),
        "{\"attributes\":[{\"braze_id\":\"b1\"," ATTRS "}],"
        "\"events\":[{\"braze_id\":\"b1\"," EVENT_FIELDS "}]}",
        "braze_id from properties first");
    test_braze_body("{\"event\":\"Install Attributed\",\"userId\":\"u1\","
        "\"context\":{\"traits\":{\"braze_id\":\"b2\"}},\"properties\":{"
        "\"campaign\":{\"source\":\"Facebook\"}},"
        "\"timestamp\":\"2024-03-20T19:26:56Z\"}",
        "{\"attributes\":[{\"braze_id\":\"b2\","
        "\"attributed_source\":\"Facebook\"}],"
        "\"events\":[{\"braze_id\":\"b2\",\"name\":\"Install Attributed\","
        "\"time\":\"2024-03-20T19:26:56Z\","
        "\"properties\":{\"source\":\"Facebook\"}}]}",
        "braze_id from context.traits; fields with no value left out");
    test_braze_body(INSTALL("\"anonymousId\":\"a1\"", CAMPAIGN, ""),
        "{\"attributes\":[{\"user_alias\":{\"alias_name\":\"a1\","
        "\"alias_label\":\"segment_anonymous_id\"},"
        "\"_update_existing_only\":false," ATTRS "}],"
        "\"events\":[{\"user_alias\":{\"alias_name\":\"a1\","
        "\"alias_label\":\"segment_anonymous_id\"},"
        "\"_update_existing_only\":false," EVENT_FIELDS "}]}",
        "user_alias from anonymousId");
    test_braze_body(INSTALL("\"userId\":\"u1\"",
                            "{\"source\":\"Facebook\",\"name\":\"\","
                            "\"ad_group\":null,\"ad_creative\":7}", ""),
        "{\"attributes\":[{\"external_id\":\"u1\","
        "\"attributed_source\":\"Facebook\",\"attributed_ad\":\"7\"}],"
        "\"events\":[{\"external_id\":\"u1\",\"name\":\"Install Attributed\","
        "\"time\":\"2024-03-20T19:26:56.120Z\",\"properties\":{"
        "\"provider\":\"Kochava\",\"source\":\"Facebook\",\"ad\":\"7\"}}]}",
        "empty and null fields left out, numbers as strings");

    test_braze_skipped(INSTALL("\"userId\":\"u1\"", "{\"name\":\"x\"}", ""),
                       1, 1, "no source: organic");
    test_braze_skipped(INSTALL("\"userId\":\"u1\"", "{\"source\":\"\"}", ""),
                       1, 1, "an empty source: organic");
    test_braze_skipped(INSTALL("\"userId\":\"u1\"",
                               "{\"source\":\"ORGANIC\"}", ""),
                       1, 1, "ORGANIC: organic");
    test_braze_skipped(INSTALL("\"userId\":\"u1\"",
                               "{\"source\":\"Unattributed\"}", ""),
                       1, 1, "Unattributed: organic");
    test_braze_skipped(INSTALL("\"userId\":\"u1\"", "\"Facebook\"", ""),
                       1, 1, "campaign not an object: organic");
    test_braze_skipped(INSTALL("\"userId\":\"u1\"", CAMPAIGN, ""), 0, 0,
                       "Braze off: skipped");
    test_braze_skipped("{\"event\":\"Install Attributed\",\"userId\":\"u1\","
                       "\"integrations\":{\"Braze\":false},\"properties\":{"
                       "\"campaign\":" CAMPAIGN "}}", 1, 0,
                       "integrations Braze false: skipped");
    test_braze_skipped("{\"event\":\"Install Attributed\",\"userId\":\"u1\","
                       "\"integrations\":{\"All\":false,\"Kochava\":true},"
                       "\"properties\":{\"campaign\":" CAMPAIGN "}}", 1, 0,
                       "All false: skipped");

    test_conf(&conf);
    conf.braze = 1;
    test_req(&req, KOCHAVA_CALL_TRACK);
    body = "{\"event\":\"Install Attributed\",\"userId\":\"u1\","
           "\"messageId\":\"m-ia\",\"integrations\":{\"All\":false,"
           "\"Braze\":true},\"properties\":{\"campaign\":" CAMPAIGN "}}";
    test_process(&conf, &req, body, strlen(body), &run);
    ok(run.res.nouts == 1 && run.res.outs[0].dest == KOCHAVA_DEST_BRAZE
       && run.res.outs[0].count == 1 && run.res.outs[0].index == 0
       && run.res.braze_attributed == 1 && run.res.skipped == 0
       && run.res.outs[0].message_id
       && strcmp(run.res.outs[0].message_id, "m-ia") == 0,
       "All false, Braze true: sent, with its messageId");
    test_run_free(&run);

    /* 160 attributed installs and some events: 75 + 75 + 10 */

    len = 160 * 300 + 4096;
    body = malloc(len);
    p = body + sprintf(body, "{\"batch\":[");

    for (i = 0; i < 160; i++) {
        p += sprintf(p, "{\"type\":\"track\",\"userId\":\"u%zu\","
                     "\"messageId\":\"m%zu\",\"event\":\"Install Attributed\","
                     "\"properties\":{\"campaign\":{\"source\":\"S\"}}},",
                     i, i);

        if (i % 50 == 0) {
            p += sprintf(p, "{\"type\":\"track\",\"anonymousId\":\"a\","
                         "\"event\":\"E\"," A_CTX "},");
        }
    }

    p += sprintf(p, "{\"type\":\"track\",\"userId\":\"u\",\"event\":"
                 "\"Install Attributed\",\"properties\":{\"campaign\":{"
                 "\"source\":\"organic\"}}}]}");

    test_process(&conf, &req, body, strlen(body), &run);
    req.call = KOCHAVA_CALL_BATCH;
    test_run_free(&run);
    test_process(&conf, &req, body, strlen(body), &run);

    is_int(run.res.messages, 165, "165 messages");
    is_int(run.res.braze_attributed, 160, "160 attributed");
    is_int(run.res.braze_organic, 1, "1 organic");
    is_int(run.res.nouts, 7, "4 events and 3 Braze bodies");

    ok(run.res.outs[0].dest == KOCHAVA_DEST_KOCHAVA
       && run.res.outs[3].dest == KOCHAVA_DEST_KOCHAVA
       && run.res.outs[3].index == 154
       && run.res.outs[4].dest == KOCHAVA_DEST_BRAZE,
       "Kochava bodies first, in order, then Braze's");
    ok(run.res.outs[4].count == 75 && run.res.outs[5].count == 75
       && run.res.outs[6].count == 10, "75, 75, 10 installs per body");
    ok(run.res.outs[4].index == 0 && run.res.outs[5].index == 77
       && run.res.outs[6].index == 153, "each from its first message");
    ok(run.res.outs[4].message_id == NULL,
       "no single messageId for a body of many");

    outs = test_outs(&run, KOCHAVA_DEST_BRAZE);
    b = json_array_get(outs, 2);
    ok(json_array_size(json_object_get(json_array_get(outs, 0), "attributes"))
       == 75
       && json_array_size(json_object_get(json_array_get(outs, 0), "events"))
          == 75
       && json_array_size(json_object_get(b, "events")) == 10
       && strcmp(json_string_value(json_object_get(json_array_get(
                     json_object_get(b, "events"), 9), "external_id")),
                 "u159") == 0, "the bodies carry them in order");
    json_decref(outs);
    test_run_free(&run);

    free(body);

    return done_testing();
}
