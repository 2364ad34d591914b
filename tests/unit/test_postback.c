
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kochava_postback(): Kochava and Tune attribution postbacks -> Braze.
 */


#include "test_helpers.h"
#include "kochava_json.h"


#define PB_TIME_MS   1710962816000LL
#define PB_TIME      "\"time\":\"2024-03-20T19:26:56Z\""
#define T            "2024-03-20T19:26:56Z"


typedef struct {
    int                       rc;
    char                      err[256];
    test_arena_t              arena;
    kochava_result_t          res;
} pb_run_t;


static void
pb_conf(pb_run_t *run, const kochava_conf_t *conf,
    kochava_postback_e source, int json, const char *params, size_t len,
    int64_t ms)
{
    kochava_allocator_t  a;

    test_arena_init(&run->arena, &a);
    run->err[0] = '\0';

    run->rc = kochava_postback(conf, source, json, params, len, ms, &a,
                               &run->res, run->err, sizeof(run->err));
}


static void
pb(pb_run_t *run, int braze, kochava_postback_e source, int json,
    const char *params)
{
    kochava_conf_t  conf;

    test_conf(&conf);
    conf.braze = braze;

    pb_conf(run, &conf, source, json, params, strlen(params), PB_TIME_MS);
}


/*
 * The Braze body braze.md describes: key is "braze_id", "external_id" or
 * an alias label; NULL values are left out.
 */

static char *
pb_expect(const char *key, const char *id, const char *source,
    const char *campaign, const char *adgroup, const char *ad,
    const char *provider, const char *time)
{
    int          i;
    char        *s, attr[32];
    json_t      *body, *obj[2], *props;
    const char  *names[4], *values[4];

    names[0] = "source";
    names[1] = "campaign";
    names[2] = "adgroup";
    names[3] = "ad";
    values[0] = source;
    values[1] = campaign;
    values[2] = adgroup;
    values[3] = ad;

    props = json_object();
    json_object_set_new(props, "provider", json_string(provider));

    for (i = 0; i < 2; i++) {
        obj[i] = json_object();

        if (strcmp(key, "braze_id") == 0 || strcmp(key, "external_id") == 0) {
            json_object_set_new(obj[i], key, json_string(id));

        } else {
            json_object_set_new(obj[i], "user_alias",
                                json_pack("{s:s,s:s}", "alias_name", id,
                                          "alias_label", key));
            json_object_set_new(obj[i], "_update_existing_only",
                                json_false());
        }
    }

    for (i = 0; i < 4; i++) {
        if (values[i] == NULL) {
            continue;
        }

        snprintf(attr, sizeof(attr), "attributed_%s", names[i]);
        json_object_set_new(obj[0], attr, json_string(values[i]));
        json_object_set_new(props, names[i], json_string(values[i]));
    }

    json_object_set_new(obj[1], "name", json_string("Install Attributed"));
    json_object_set_new(obj[1], "time", json_string(time));
    json_object_set_new(obj[1], "properties", props);

    body = json_pack("{s:[o],s:[o]}", "attributes", obj[0], "events",
                     obj[1]);
    s = json_dumps(body, JSON_COMPACT);
    json_decref(body);

    return s;
}


/* the one Braze body of a postback, compared as JSON, and its out */

static void
pb_check(pb_run_t *run, char *expected, const char *name)
{
    int            equal;
    json_t        *got, *exp;
    json_error_t   error;

    if (run->rc != 0 || run->res.nouts != 1) {
        ok(0, "%s (rc %d, %u bodies, %s)", name, run->rc, run->res.nouts,
           run->res.rejected ? run->res.rejects[0].error : run->err);
        free(expected);
        return;
    }

    got = json_loadb(run->res.outs[0].body, run->res.outs[0].len, 0, &error);
    exp = json_loads(expected, 0, &error);
    equal = got && exp && json_equal(got, exp);

    ok(equal, "%s", name);

    if (!equal) {
        diag("got:      %.*s", (int) run->res.outs[0].len,
             run->res.outs[0].body);
        diag("expected: %s", expected);
    }

    json_decref(got);
    json_decref(exp);
    free(expected);
}


static void
pb_sends(kochava_postback_e source, int json, const char *params,
    char *expected, const char *name)
{
    pb_run_t  run;

    pb(&run, 1, source, json, params);
    pb_check(&run, expected, name);
    test_arena_free(&run.arena);
}


/* the one Braze body of an accepted attributed postback, as expected */

static void
pb_body_is(kochava_postback_e source, int json, const char *params,
    const char *expected, const char *name)
{
    json_t        *got, *exp;
    pb_run_t       run;
    json_error_t   error;

    pb(&run, 1, source, json, params);

    if (run.rc != 0 || run.res.nouts != 1) {
        ok(0, "%s (rc %d, %u bodies, %s)", name, run.rc, run.res.nouts,
           run.res.rejected ? run.res.rejects[0].error : "-");
        test_arena_free(&run.arena);
        return;
    }

    got = json_loadb(run.res.outs[0].body, run.res.outs[0].len, 0, &error);
    exp = json_loads(expected, 0, &error);

    ok(got && exp && json_equal(got, exp), "%s", name);

    if (!(got && exp && json_equal(got, exp))) {
        diag("got:      %.*s", (int) run.res.outs[0].len,
             run.res.outs[0].body);
        diag("expected: %s", expected);
    }

    is_int(run.res.outs[0].dest, KOCHAVA_DEST_BRAZE, "  to Braze");

    json_decref(got);
    json_decref(exp);
    test_arena_free(&run.arena);
}


/* a postback with nothing to send: organic, or rejected */

static void
pb_none(kochava_postback_e source, const char *params, int organic,
    const char *name)
{
    pb_run_t  run;

    pb(&run, 1, source, 0, params);

    is_int(run.rc, 0, name);
    is_int(run.res.nouts, 0, "  nothing sent");

    if (organic) {
        is_int(run.res.braze_organic, 1, "  counted organic");
        is_int(run.res.accepted, 1, "  accepted");

    } else {
        is_int(run.res.rejected, 1, "  rejected");
        is_int(run.res.rejected ? (int) run.res.rejects[0].reason : -1,
               KOCHAVA_REASON_BRAZE_USER, "  for want of a user key");
    }

    test_arena_free(&run.arena);
}


int
main(void)
{
    pb_run_t  run;

    /* Tune: every mapping row, the install tracking id as an alias */

    pb_body_is(KOCHAVA_POSTBACK_TUNE, 0,
        "advertiser_sub_publisher=Facebook&advertiser_sub_campaign=Spring"
        "&advertiser_sub_adgroup=Red%20Ones&advertiser_sub_ad=Hello"
        "&user_id=t-1",
        "{\"attributes\":[{\"user_alias\":{\"alias_name\":\"t-1\","
        "\"alias_label\":\"braze_install_tracking_id\"},"
        "\"_update_existing_only\":false,\"attributed_source\":\"Facebook\","
        "\"attributed_campaign\":\"Spring\","
        "\"attributed_adgroup\":\"Red Ones\",\"attributed_ad\":\"Hello\"}],"
        "\"events\":[{\"user_alias\":{\"alias_name\":\"t-1\","
        "\"alias_label\":\"braze_install_tracking_id\"},"
        "\"_update_existing_only\":false,\"name\":\"Install Attributed\","
        PB_TIME ",\"properties\":{\"provider\":\"Tune\","
        "\"source\":\"Facebook\",\"campaign\":\"Spring\","
        "\"adgroup\":\"Red Ones\",\"ad\":\"Hello\"}}]}",
        "tune: all four macros and user_id");

    /* Kochava: every mapping row, braze_id wins */

    pb_body_is(KOCHAVA_POSTBACK_KOCHAVA, 0,
        "network=AdWords&campaign=C&adgroup=site-7&creative=ad-3"
        "&device_id=d&external_id=e&braze_id=b",
        "{\"attributes\":[{\"braze_id\":\"b\",\"attributed_source\":"
        "\"AdWords\",\"attributed_campaign\":\"C\","
        "\"attributed_adgroup\":\"site-7\",\"attributed_ad\":\"ad-3\"}],"
        "\"events\":[{\"braze_id\":\"b\",\"name\":\"Install Attributed\","
        PB_TIME ",\"properties\":{\"provider\":\"Kochava\","
        "\"source\":\"AdWords\",\"campaign\":\"C\",\"adgroup\":\"site-7\","
        "\"ad\":\"ad-3\"}}]}",
        "kochava: all four fields, braze_id before the others");

    pb_body_is(KOCHAVA_POSTBACK_KOCHAVA, 0,
        "network=N&device_id=d&external_id=e",
        "{\"attributes\":[{\"external_id\":\"e\",\"attributed_source\":"
        "\"N\"}],\"events\":[{\"external_id\":\"e\",\"name\":"
        "\"Install Attributed\"," PB_TIME ",\"properties\":{\"provider\":"
        "\"Kochava\",\"source\":\"N\"}}]}",
        "kochava: external_id before device_id");

    pb_body_is(KOCHAVA_POSTBACK_KOCHAVA, 0,
        "network=N&device_id=d",
        "{\"attributes\":[{\"user_alias\":{\"alias_name\":\"d\","
        "\"alias_label\":\"kochava_device_id\"},"
        "\"_update_existing_only\":false,\"attributed_source\":\"N\"}],"
        "\"events\":[{\"user_alias\":{\"alias_name\":\"d\","
        "\"alias_label\":\"kochava_device_id\"},"
        "\"_update_existing_only\":false,\"name\":\"Install Attributed\","
        PB_TIME ",\"properties\":{\"provider\":\"Kochava\","
        "\"source\":\"N\"}}]}",
        "kochava: device_id as an alias");

    /* decoding once, '+', macros, repeats, unknown names */

    pb_body_is(KOCHAVA_POSTBACK_KOCHAVA, 0,
        "network=Net%2520Work&campaign=a+b&external_id=u%2B1&x=%7B",
        "{\"attributes\":[{\"external_id\":\"u+1\",\"attributed_source\":"
        "\"Net%20Work\",\"attributed_campaign\":\"a b\"}],\"events\":[{"
        "\"external_id\":\"u+1\",\"name\":\"Install Attributed\","
        PB_TIME ",\"properties\":{\"provider\":\"Kochava\","
        "\"source\":\"Net%20Work\",\"campaign\":\"a b\"}}]}",
        "values decoded once; '+' is a space");

    pb_body_is(KOCHAVA_POSTBACK_TUNE, 0,
        "advertiser_sub_publisher=S&advertiser_sub_ad={advertiser_sub_ad}"
        "&advertiser_sub_campaign=%7Badvertiser_sub_campaign%7D"
        "&braze_id={braze_id}&external_id=x1",
        "{\"attributes\":[{\"external_id\":\"x1\",\"attributed_source\":"
        "\"S\"}],\"events\":[{\"external_id\":\"x1\",\"name\":"
        "\"Install Attributed\"," PB_TIME ",\"properties\":{\"provider\":"
        "\"Tune\",\"source\":\"S\"}}]}",
        "unexpanded macros, raw or encoded, are absent");

    pb_body_is(KOCHAVA_POSTBACK_KOCHAVA, 0,
        "network=&network=First&network=Second&external_id=e",
        "{\"attributes\":[{\"external_id\":\"e\",\"attributed_source\":"
        "\"First\"}],\"events\":[{\"external_id\":\"e\",\"name\":"
        "\"Install Attributed\"," PB_TIME ",\"properties\":{\"provider\":"
        "\"Kochava\",\"source\":\"First\"}}]}",
        "the first non-empty value of a repeated parameter wins");

    pb_body_is(KOCHAVA_POSTBACK_TUNE, 1,
        "{\"advertiser_sub_publisher\":\"TikTok\",\"braze_id\":42,"
        "\"advertiser_sub_adgroup\":[\"ignored\"]}",
        "{\"attributes\":[{\"braze_id\":\"42\",\"attributed_source\":"
        "\"TikTok\"}],\"events\":[{\"braze_id\":\"42\",\"name\":"
        "\"Install Attributed\"," PB_TIME ",\"properties\":{\"provider\":"
        "\"Tune\",\"source\":\"TikTok\"}}]}",
        "JSON: strings and numbers, other types ignored");

    /* organic, rejected */

    pb_none(KOCHAVA_POSTBACK_TUNE, "user_id=u", 1, "no source: organic");
    pb_none(KOCHAVA_POSTBACK_TUNE, "advertiser_sub_publisher=&user_id=u", 1,
            "empty source: organic");
    pb_none(KOCHAVA_POSTBACK_KOCHAVA, "network=Organic", 1,
            "Organic, no key: organic, answered");
    pb_none(KOCHAVA_POSTBACK_KOCHAVA, "network=UNATTRIBUTED&device_id=d", 1,
            "UNATTRIBUTED: organic");
    pb_none(KOCHAVA_POSTBACK_KOCHAVA, "network={network}&device_id=d", 1,
            "an unexpanded source: organic");
    pb_none(KOCHAVA_POSTBACK_TUNE,
            "advertiser_sub_publisher=S&user_id={user_id}", 0,
            "attributed, the only key a macro: rejected");

    pb(&run, 1, KOCHAVA_POSTBACK_TUNE, 0, "advertiser_sub_publisher=S");
    like(run.res.rejected ? run.res.rejects[0].error : "", "user_id",
         "the error names the partner's key parameter");
    test_arena_free(&run.arena);

    /* Braze off: attributed, counted, not sent */

    pb(&run, 0, KOCHAVA_POSTBACK_KOCHAVA, 0, "network=N&device_id=d");
    is_int(run.rc, 0, "braze off: accepted");
    is_int(run.res.nouts, 0, "  nothing sent");
    is_int(run.res.skipped, 1, "  skipped");
    is_int(run.res.braze_attributed, 1, "  counted attributed");
    test_arena_free(&run.arena);

    /* bad input */

    pb(&run, 1, KOCHAVA_POSTBACK_TUNE, 1, "[\"a\"]");
    is_int(run.rc, 400, "JSON that is not an object: 400");
    like(run.err, "not an object", "  says so");
    test_arena_free(&run.arena);

    pb(&run, 1, KOCHAVA_POSTBACK_TUNE, 1, "{\"a\":");
    is_int(run.rc, 400, "broken JSON: 400");
    like(run.err, "Invalid JSON", "  says so");
    test_arena_free(&run.arena);

    {
        char  deep[8000];

        /* deeper than the parser goes: refused like any invalid JSON */

        strcpy(deep, "{\"a\":");
        memset(deep + 5, '[', 3000);
        memset(deep + 3005, ']', 3000);
        strcpy(deep + 6005, "}");

        pb(&run, 1, KOCHAVA_POSTBACK_TUNE, 1, deep);
        is_int(run.rc, 400, "JSON 3,000 levels deep: 400");
        like(run.err, "Invalid JSON: maximum parsing depth", "  says so");
        test_arena_free(&run.arena);
    }

    {
        char  big[40000];

        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';

        pb(&run, 1, KOCHAVA_POSTBACK_KOCHAVA, 0, big);
        is_int(run.rc, 400, "over max_message_size: 400");
        test_arena_free(&run.arena);
    }

    pb(&run, 1, KOCHAVA_POSTBACK_KOCHAVA, 0, "&&=&%&%zz=%4&network=%FF");
    is_int(run.rc, 0, "broken escapes and empty pairs do not break it");
    is_int(run.res.braze_organic, 1, "  invalid UTF-8 source: absent");
    test_arena_free(&run.arena);

    /* allocation failure: an error, no crash */

    {
        kochava_conf_t       conf;
        kochava_allocator_t  a;
        char                 err[64];

        test_conf(&conf);
        conf.braze = 1;
        test_arena_init(&run.arena, &a);
        run.arena.fail_after = 0;

        is_int(kochava_postback(&conf, KOCHAVA_POSTBACK_KOCHAVA, 0,
                                "network=N&device_id=d", 21, PB_TIME_MS, &a,
                                &run.res, err, sizeof(err)),
               -1, "allocation failure: -1");
        test_arena_free(&run.arena);
    }


    /* Tune: the user key, first present wins */

    pb_sends(KOCHAVA_POSTBACK_TUNE, 0,
        "user_id=u&external_id=e&braze_id=b&advertiser_sub_publisher=S",
        pb_expect("braze_id", "b", "S", NULL, NULL, NULL, "Tune", T),
        "tune: braze_id before external_id and user_id");

    pb_sends(KOCHAVA_POSTBACK_TUNE, 0,
        "user_id=u&external_id=e&advertiser_sub_publisher=S",
        pb_expect("external_id", "e", "S", NULL, NULL, NULL, "Tune", T),
        "tune: external_id before user_id");

    pb_sends(KOCHAVA_POSTBACK_TUNE, 0,
        "advertiser_sub_campaign=C&advertiser_sub_adgroup=G"
        "&advertiser_sub_publisher=S&advertiser_sub_ad=A&braze_id=b",
        pb_expect("braze_id", "b", "S", "C", "G", "A", "Tune", T),
        "tune: the four rows, in any order");

    /* each partner reads its own names only */

    pb_sends(KOCHAVA_POSTBACK_TUNE, 0,
        "advertiser_sub_publisher=S&network=N&campaign=C&adgroup=G"
        "&creative=A&device_id=d&user_id=u",
        pb_expect("braze_install_tracking_id", "u", "S", NULL, NULL, NULL,
                  "Tune", T),
        "tune: Kochava's names are ignored");

    pb_sends(KOCHAVA_POSTBACK_KOCHAVA, 0,
        "network=N&advertiser_sub_publisher=S&advertiser_sub_campaign=C"
        "&advertiser_sub_adgroup=G&advertiser_sub_ad=A&user_id=u"
        "&device_id=d",
        pb_expect("kochava_device_id", "d", "N", NULL, NULL, NULL,
                  "Kochava", T),
        "kochava: Tune's names are ignored");

    pb(&run, 1, KOCHAVA_POSTBACK_TUNE, 0, "advertiser_sub_publisher=S"
       "&device_id=d");
    is_int(run.rc, 0, "tune: device_id is no key");
    is_int(run.res.rejected, 1, "  rejected");
    is_str(run.res.rejected ? run.res.rejects[0].error : "",
           "no user key: braze_id, external_id or user_id is required",
           "  the error text names Tune's parameters");
    is_int(run.res.braze_attributed, 1, "  counted attributed");
    is_int(run.res.accepted, 0, "  not accepted");
    is_int(run.res.messages, 1, "  one message");
    is_int(run.res.nouts, 0, "  nothing sent");
    test_arena_free(&run.arena);

    pb(&run, 1, KOCHAVA_POSTBACK_KOCHAVA, 0, "network=N&user_id=u");
    is_int(run.res.rejected, 1, "kochava: user_id is no key");
    is_str(run.res.rejected ? run.res.rejects[0].error : "",
           "no user key: braze_id, external_id or device_id is required",
           "  the error text names Kochava's parameters");
    is_int(run.res.rejected ? (int) run.res.rejects[0].index : -1, 0,
           "  index 0");
    ok(run.res.rejected && run.res.rejects[0].message_id == NULL,
       "  no message id");
    test_arena_free(&run.arena);

    /* the out and the counters of a sent postback */

    pb(&run, 1, KOCHAVA_POSTBACK_KOCHAVA, 0, "network=N&external_id=e");
    is_int(run.rc, 0, "attributed, sent: 0");
    is_int(run.res.messages, 1, "  one message");
    is_int(run.res.received[KOCHAVA_CALL_TRACK], 1, "  received as a track");
    is_int(run.res.accepted, 1, "  accepted");
    is_int(run.res.rejected, 0, "  not rejected");
    is_int(run.res.skipped, 0, "  not skipped");
    is_int(run.res.braze_attributed, 1, "  counted attributed");
    is_int(run.res.braze_organic, 0, "  not organic");
    is_int(run.res.nouts, 1, "  one body");
    if (run.res.nouts == 1) {
        is_int(run.res.outs[0].dest, KOCHAVA_DEST_BRAZE, "  to Braze");
        is_int(run.res.outs[0].index, 0, "  index 0");
        is_int(run.res.outs[0].count, 1, "  count 1");
        is_int(run.res.outs[0].type, KOCHAVA_CALL_TRACK, "  a track");
        ok(run.res.outs[0].message_id == NULL, "  no message id");
        is_int((long long) strlen(run.res.outs[0].body),
               (long long) run.res.outs[0].len, "  len is the body's");
    }
    test_arena_free(&run.arena);

    /* the time it arrived; milliseconds only when there are some */

    {
        kochava_conf_t  conf;

        test_conf(&conf);
        conf.braze = 1;

        pb_conf(&run, &conf, KOCHAVA_POSTBACK_KOCHAVA, 0,
                "network=N&device_id=d", 21, PB_TIME_MS + 7);
        pb_check(&run, pb_expect("kochava_device_id", "d", "N", NULL, NULL,
                                 NULL, "Kochava",
                                 "2024-03-20T19:26:56.007Z"),
                 "time with milliseconds");
        test_arena_free(&run.arena);

        pb_conf(&run, &conf, KOCHAVA_POSTBACK_KOCHAVA, 0,
                "network=N&device_id=d", 21, 0);
        pb_check(&run, pb_expect("kochava_device_id", "d", "N", NULL, NULL,
                                 NULL, "Kochava", "1970-01-01T00:00:00Z"),
                 "time at the epoch");
        test_arena_free(&run.arena);
    }

    /* URL decoding, once */

    pb_sends(KOCHAVA_POSTBACK_KOCHAVA, 0,
        "network=%257B&campaign=%257Bcampaign%257D&creative=%2525"
        "&device_id=%257Bdevice_id%257D",
        pb_expect("kochava_device_id", "%7Bdevice_id%7D", "%7B",
                  "%7Bcampaign%7D", NULL, "%25", "Kochava", T),
        "%257B stays %7B: decoded once, not a macro then");

    pb_sends(KOCHAVA_POSTBACK_KOCHAVA, 0,
        "network=a+b&campaign=%2B+%2b&adgroup=%c3%a9t%C3%A9&creative=x%3Dy%26z"
        "&braze_id=+",
        pb_expect("braze_id", " ", "a b", "+ +", "\xc3\xa9t\xc3\xa9", "x=y&z",
                  "Kochava", T),
        "'+' is a space, %2B a plus, hex in any case, UTF-8, = and &");

    pb_sends(KOCHAVA_POSTBACK_KOCHAVA, 0,
        "network=100%&campaign=%zz&adgroup=%4&creative=%%41&device_id=d%",
        pb_expect("kochava_device_id", "d%", "100%", "%zz", "%4", "%A",
                  "Kochava", T),
        "broken %-escapes are kept literally");

    pb_sends(KOCHAVA_POSTBACK_TUNE, 0,
        "advertiser%5Fsub%5Fpublisher=S&user%5fid=u",
        pb_expect("braze_install_tracking_id", "u", "S", NULL, NULL, NULL,
                  "Tune", T),
        "parameter names are decoded too");

    pb_sends(KOCHAVA_POSTBACK_KOCHAVA, 0,
        "network=N&braze_id=%FF%FE&external_id=e",
        pb_expect("external_id", "e", "N", NULL, NULL, NULL, "Kochava", T),
        "a value that is not UTF-8 is absent: the next key wins");

    pb_sends(KOCHAVA_POSTBACK_KOCHAVA, 0,
        "network=N&braze_id=%C0%AF&external_id=%ED%A0%80&device_id=%F4%90"
        "%80%80&device_id=d",
        pb_expect("kochava_device_id", "d", "N", NULL, NULL, NULL,
                  "Kochava", T),
        "overlong forms, surrogates, over U+10FFFF: absent");

    /* unexpanded macros */

    pb(&run, 1, KOCHAVA_POSTBACK_TUNE, 0,
       "advertiser_sub_publisher=S&user_id=%7Buser_id%7D");
    is_int(run.res.rejected, 1, "%7Buser_id%7D is a macro: no key");
    test_arena_free(&run.arena);

    pb(&run, 1, KOCHAVA_POSTBACK_KOCHAVA, 0,
       "network=N&braze_id={braze_id}&external_id=%7bexternal_id%7d"
       "&device_id={}");
    is_int(run.res.rejected, 1, "every key a macro, even {}: no key");
    test_arena_free(&run.arena);

    pb_sends(KOCHAVA_POSTBACK_KOCHAVA, 0,
        "network=N&campaign={campaign}&adgroup={site_id}&creative={creative}"
        "&device_id=d",
        pb_expect("kochava_device_id", "d", "N", NULL, NULL, NULL,
                  "Kochava", T),
        "macros in attribution values are left out");

    pb_sends(KOCHAVA_POSTBACK_KOCHAVA, 0,
        "network={{x}}&campaign={a}b&adgroup=+{a}&creative={a}{b}"
        "&device_id={d",
        pb_expect("kochava_device_id", "{d", "{{x}}", "{a}b", " {a}",
                  "{a}{b}", "Kochava", T),
        "only a whole {...} with no brace inside is a macro");

    /* repeated parameters: the first value present wins */

    pb_sends(KOCHAVA_POSTBACK_TUNE, 0,
        "user_id=first&advertiser_sub_publisher=S1&user_id=second"
        "&advertiser_sub_publisher=S2",
        pb_expect("braze_install_tracking_id", "first", "S1", NULL, NULL,
                  NULL, "Tune", T),
        "repeated: the first wins");

    pb_sends(KOCHAVA_POSTBACK_TUNE, 0,
        "user_id={user_id}&advertiser_sub_publisher=S&user_id=u",
        pb_expect("braze_install_tracking_id", "u", "S", NULL, NULL, NULL,
                  "Tune", T),
        "repeated: a macro is absent, the next one wins");

    pb_sends(KOCHAVA_POSTBACK_KOCHAVA, 0,
        "network=N&device_id&device_id=d&=x&&unknown=1",
        pb_expect("kochava_device_id", "d", "N", NULL, NULL, NULL,
                  "Kochava", T),
        "a name without '=' is no value; unknown names ignored");

    /* JSON */

    pb(&run, 1, KOCHAVA_POSTBACK_KOCHAVA, 1,
       "{\"network\":\"a+b%20\",\"campaign\":\"{campaign}\",\"adgroup\":\"\","
       "\"creative\":1.5,\"braze_id\":true,\"external_id\":null,"
       "\"device_id\":{\"id\":\"x\"},\"user_id\":\"u\"}");
    is_int(run.res.rejected, 1,
           "JSON: not decoded; macros, \"\", true, null, objects absent");
    test_arena_free(&run.arena);

    pb_sends(KOCHAVA_POSTBACK_KOCHAVA, 1,
        "{\"network\":\"a+b%20\",\"campaign\":\"{campaign}\",\"adgroup\":\"\","
        "\"creative\":1.5,\"braze_id\":true,\"external_id\":-7,"
        "\"device_id\":\"d\"}",
        pb_expect("external_id", "-7", "a+b%20", NULL, NULL, "1.5",
                  "Kochava", T),
        "JSON: strings as they are, numbers as strings");

    pb_none(KOCHAVA_POSTBACK_KOCHAVA, "", 1, "an empty query: organic");

    pb(&run, 1, KOCHAVA_POSTBACK_KOCHAVA, 1, "{\"network\":\"ORGANIC\"}");
    is_int(run.rc, 0, "JSON organic, no key: 0");
    is_int(run.res.braze_organic, 1, "  counted organic");
    is_int(run.res.skipped, 1, "  skipped");
    test_arena_free(&run.arena);

    pb(&run, 1, KOCHAVA_POSTBACK_KOCHAVA, 1, "42");
    is_int(run.rc, 400, "JSON number: 400");
    like(run.err, "Invalid JSON: ", "  says so");
    is_int(run.res.messages, 0, "  no message");
    test_arena_free(&run.arena);

    pb(&run, 1, KOCHAVA_POSTBACK_KOCHAVA, 1, "");
    is_int(run.rc, 400, "JSON, empty body: 400");
    like(run.err, "Invalid JSON: ", "  says so");
    test_arena_free(&run.arena);

    pb(&run, 1, KOCHAVA_POSTBACK_KOCHAVA, 1,
       "{\"network\":\"N\",\"network\":\"M\",\"device_id\":\"d\"}");
    is_int(run.rc, 400, "JSON, a repeated key: 400, like Segment bodies");
    like(run.err, "duplicate", "  says so");
    test_arena_free(&run.arena);

    /* Braze off: organic still organic */

    pb(&run, 0, KOCHAVA_POSTBACK_TUNE, 0, "advertiser_sub_publisher=organic");
    is_int(run.res.braze_organic, 1, "braze off, organic: counted organic");
    is_int(run.res.braze_attributed, 0, "  not attributed");
    test_arena_free(&run.arena);

    pb(&run, 0, KOCHAVA_POSTBACK_TUNE, 0, "advertiser_sub_publisher=S");
    is_int(run.res.rejected, 1, "braze off, no key: still rejected");
    test_arena_free(&run.arena);

    /* limits: the size, then the first 64 parameters */

    {
        int             i;
        char            q[1024], *p;
        kochava_conf_t  conf;

        test_conf(&conf);
        conf.braze = 1;
        conf.max_message_size = 21;

        pb_conf(&run, &conf, KOCHAVA_POSTBACK_KOCHAVA, 0,
                "network=N&device_id=d", 21, PB_TIME_MS);
        is_int(run.rc, 0, "max_message_size bytes: taken");
        is_int(run.res.nouts, 1, "  sent");
        test_arena_free(&run.arena);

        pb_conf(&run, &conf, KOCHAVA_POSTBACK_KOCHAVA, 0,
                "network=N&device_id=dd", 22, PB_TIME_MS);
        is_int(run.rc, 400, "one byte more: 400");
        is_str(run.err, "Postback too large (limit 21 bytes)", "  says so");
        is_int(run.res.messages, 0, "  no message");
        test_arena_free(&run.arena);

        pb_conf(&run, &conf, KOCHAVA_POSTBACK_KOCHAVA, 1,
                "{\"network\":\"N\",\"d\":1}", 22, PB_TIME_MS);
        is_int(run.rc, 400, "JSON too: 400 before parsing");
        test_arena_free(&run.arena);

        test_conf(&conf);
        conf.braze = 1;

        for (p = q, i = 0; i < 62; i++) {
            p += sprintf(p, "x=%d&", i);
        }

        strcpy(p, "device_id=d&network=N");
        pb_conf(&run, &conf, KOCHAVA_POSTBACK_KOCHAVA, 0, q, strlen(q),
                PB_TIME_MS);
        is_int(run.res.nouts, 1, "the 64th parameter is looked at");
        test_arena_free(&run.arena);

        strcpy(p, "device_id=d&&network=N");
        pb_conf(&run, &conf, KOCHAVA_POSTBACK_KOCHAVA, 0, q, strlen(q),
                PB_TIME_MS);
        is_int(run.res.braze_organic, 1,
               "the 65th is not (an empty pair counts)");
        test_arena_free(&run.arena);

        for (p = q, i = 0; i < 62; i++) {
            p += sprintf(p, "%s\"x%d\":%d", i ? "," : "{", i, i);
        }

        strcpy(p, ",\"device_id\":\"d\",\"network\":\"N\"}");
        pb_conf(&run, &conf, KOCHAVA_POSTBACK_KOCHAVA, 1, q, strlen(q),
                PB_TIME_MS);
        is_int(run.res.nouts, 1, "JSON: the 64th member is looked at");
        test_arena_free(&run.arena);

        strcpy(p, ",\"device_id\":\"d\",\"y\":0,\"network\":\"N\"}");
        pb_conf(&run, &conf, KOCHAVA_POSTBACK_KOCHAVA, 1, q, strlen(q),
                PB_TIME_MS);
        is_int(run.res.braze_organic, 1, "JSON: the 65th is not");
        test_arena_free(&run.arena);
    }

    /*
     * Allocation failures at every point in turn, in the caller's
     * allocator and in the JSON arena: -1, or the right answer; no crash, no
     * leak (valgrind).
     */

    {
        int             i, n, json, fails, rights;
        long            k;
        char            want[3][512], *e;
        kochava_conf_t  conf;
        const char     *cases[3] = {
            "network=N&campaign=C&adgroup=G&creative=A&device_id=d",
            "{\"network\":\"N\",\"braze_id\":7,\"creative\":\"A\"}",
            "network=N&user_id=u"
        };

        test_conf(&conf);
        conf.braze = 1;

        for (i = 0; i < 3; i++) {
            json = (i == 1);
            pb_conf(&run, &conf, KOCHAVA_POSTBACK_KOCHAVA, json, cases[i],
                    strlen(cases[i]), PB_TIME_MS);
            e = run.res.nouts ? (char *) run.res.outs[0].body
                              : run.res.rejected
                                ? (char *) run.res.rejects[0].error : "";
            snprintf(want[i], sizeof(want[i]), "%s", e);
            test_arena_free(&run.arena);
        }

        for (n = 0; n < 2; n++) {
            for (i = 0; i < 3; i++) {
                json = (i == 1);
                fails = 0;
                rights = 0;

                for (k = 0; k < 200; k++) {
                    kochava_allocator_t  a;

                    test_arena_init(&run.arena, &a);

                    if (n == 0) {
                        run.arena.fail_after = k;

                    } else {
                        kochava_arena_fail_after = (size_t) k + 1;
                    }

                    run.rc = kochava_postback(&conf, KOCHAVA_POSTBACK_KOCHAVA,
                                              json, cases[i],
                                              strlen(cases[i]), PB_TIME_MS,
                                              &a, &run.res, run.err,
                                              sizeof(run.err));
                    kochava_arena_fail_after = 0;

                    e = run.rc != 0 ? NULL
                        : run.res.nouts ? (char *) run.res.outs[0].body
                        : run.res.rejected
                          ? (char *) run.res.rejects[0].error : "";

                    if (run.rc == -1) {
                        fails++;

                    } else if (e && strcmp(e, want[i]) == 0) {
                        rights++;
                    }

                    test_arena_free(&run.arena);

                    if (run.rc == 0) {
                        break;
                    }
                }

                ok(fails > 0 && rights == 1 && k < 200,
                   "%s allocation failures, case %d: -1 %d times, then "
                   "the same answer", n ? "JSON arena" : "caller's", i,
                   fails);
            }
        }
    }

    return done_testing();
}
