
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * kochava_postback(): Kochava and Tune attribution postbacks -> Braze.
 */


#include "test_helpers.h"


#define PB_TIME_MS   1710962816000LL
#define PB_TIME      "\"time\":\"2024-03-20T19:26:56Z\""


typedef struct {
    int                       rc;
    char                      err[256];
    test_arena_t              arena;
    kochava_result_t          res;
} pb_run_t;


static void
pb(pb_run_t *run, int braze, kochava_postback_e source, int json,
    const char *params)
{
    kochava_conf_t       conf;
    kochava_allocator_t  a;

    test_conf(&conf);
    conf.braze = braze;

    test_arena_init(&run->arena, &a);
    run->err[0] = '\0';

    run->rc = kochava_postback(&conf, source, json, params, strlen(params),
                               PB_TIME_MS, &a, &run->res, run->err,
                               sizeof(run->err));
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

    return done_testing();
}
