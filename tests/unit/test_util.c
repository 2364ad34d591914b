
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Call types, labels, the write key of an Authorization header,
 * encodeURIComponent, numbers as strings, UUIDs, response bodies, the
 * event-name table and judging an upstream's answer.
 */


#include "test_helpers.h"
#include "kochava_internal.h"


static void
test_call(const char *path, kochava_call_e expected)
{
    is_int(kochava_call_from_path(path, strlen(path)), expected, path);
}


static void
test_key(const char *header, const char *expected)
{
    char    out[64];
    size_t  n;

    n = kochava_auth_write_key(header, strlen(header), out, sizeof(out));
    out[n < sizeof(out) ? n : sizeof(out) - 1] = '\0';

    if (expected == NULL) {
        is_int(n, 0, header);

    } else {
        ok(n == strlen(expected) && memcmp(out, expected, n) == 0,
           "'%s' -> '%s'", header, expected);
    }
}


static void
test_uri(const char *s, const char *expected)
{
    char    out[256];
    size_t  n;

    n = kochava_uri_encode(s, strlen(s), out);
    out[n] = '\0';
    is_str(out, expected, s);
}


static void
test_number(const char *json, const char *expected)
{
    char              buf[KOCHAVA_NUMBER_LEN];
    size_t            n;
    kochava_json_t   *v;
    kochava_arena_t  *arena;

    arena = kochava_arena_create(1024);
    v = NULL;

    (void) kochava_json_parse(arena, json, strlen(json), KOCHAVA_JSON_ANY,
                              64, &v);
    n = kochava_number_string(v, buf, sizeof(buf));
    buf[n] = '\0';

    if (expected == NULL) {
        is_int(n, 0, json);

    } else {
        is_str(buf, expected, json);
    }

    kochava_arena_destroy(arena);
}


static void
test_judge(kochava_dest_e dest, unsigned status, const char *body,
    kochava_outcome_e expected)
{
    is_int(kochava_judge(dest, status, body, body ? strlen(body) : 0),
           expected, "judge");
}


static void
test_lookup(const kochava_conf_t *conf, const char *name,
    const char *expected)
{
    kochava_str_t  out;
    char           buf[64];

    if (!kochava_name_lookup(conf, name, strlen(name), &out)) {
        ok(expected == NULL, "'%s' is not in the table", name);
        return;
    }

    snprintf(buf, sizeof(buf), "%.*s", (int) out.len, out.data);
    is_str(buf, expected, name);
}


int
main(void)
{
    int                  i, j, valid;
    char                 uuid[37], uuid2[37], big[200];
    size_t               len;
    const char          *s;
    kochava_conf_t       conf;
    kochava_result_t     res;
    kochava_reject_t     rejects[2];
    test_arena_t         arena;
    kochava_allocator_t  a;
    kochava_name_t       rows[2];

    /* call types */

    test_call("/v1/track", KOCHAVA_CALL_TRACK);
    test_call("/v1/t", KOCHAVA_CALL_TRACK);
    test_call("/v1/identify", KOCHAVA_CALL_IDENTIFY);
    test_call("/v1/i", KOCHAVA_CALL_IDENTIFY);
    test_call("/v1/page", KOCHAVA_CALL_PAGE);
    test_call("/v1/p", KOCHAVA_CALL_PAGE);
    test_call("/v1/screen", KOCHAVA_CALL_SCREEN);
    test_call("/v1/s", KOCHAVA_CALL_SCREEN);
    test_call("/v1/group", KOCHAVA_CALL_GROUP);
    test_call("/v1/g", KOCHAVA_CALL_GROUP);
    test_call("/v1/alias", KOCHAVA_CALL_ALIAS);
    test_call("/v1/a", KOCHAVA_CALL_ALIAS);
    test_call("/v1/batch", KOCHAVA_CALL_BATCH);
    test_call("/v1/import", KOCHAVA_CALL_BATCH);
    test_call("/v1/import/", KOCHAVA_CALL_BATCH);
    test_call("/v1/b", KOCHAVA_CALL_BATCH);
    test_call("/v1/m", KOCHAVA_CALL_METRICS);
    test_call("/v1/purchase", KOCHAVA_CALL_UNKNOWN);
    test_call("/v1/Track", KOCHAVA_CALL_UNKNOWN);
    test_call("/v1/", KOCHAVA_CALL_UNKNOWN);
    test_call("", KOCHAVA_CALL_UNKNOWN);
    test_call("track", KOCHAVA_CALL_TRACK);
    test_call("/edge/segment/v1/track", KOCHAVA_CALL_TRACK);

    /* labels */

    is_str(kochava_call_name(KOCHAVA_CALL_SCREEN), "screen", "call name");
    is_str(kochava_call_name(KOCHAVA_CALL_BATCH), "batch", "batch name");
    is_str(kochava_dest_name(KOCHAVA_DEST_IDENTITY), "identity",
           "dest name");
    is_str(kochava_dest_name(KOCHAVA_DEST_BRAZE), "braze", "braze name");
    is_str(kochava_reason_name(KOCHAVA_REASON_DEVICE), "device",
           "reason name");
    is_str(kochava_reason_name(KOCHAVA_REASON_BRAZE_USER), "braze_user",
           "last reason name");
    is_str(kochava_reason_name(KOCHAVA_NREASONS), "unknown",
           "reason out of range");
    is_str(kochava_outcome_name(KOCHAVA_OUTCOME_TIMEOUT), "timeout",
           "outcome name");

    /* write keys */

    test_key("Basic d2tfdGVzdF8xOg==", "wk_test_1");
    test_key("basic d2tfdGVzdF8xOg==", "wk_test_1");
    test_key("BASIC   d2tfdGVzdF8xOg==  ", "wk_test_1");
    test_key("  Basic\td2tfdGVzdF8xOg==", "wk_test_1");
    test_key("Basic d2tfdGVzdF8xOg", "wk_test_1");
    test_key("Basic d2tfdGVzdF8x", "wk_test_1");
    test_key("Basic d2tfdGVzdF8xOnNlY3JldA==", "wk_test_1");
    test_key("Basic d2tfdGVzdF8xOg=", NULL);
    test_key("Basic d2tfdGVzdF8xOg==x", NULL);
    test_key("Basic d2tf*GVzdF8xOg==", NULL);
    test_key("Basic d2tfd GVzdF8xOg==", NULL);
    test_key("Basic Og==", NULL);
    test_key("Basic ", NULL);
    test_key("Basic", NULL);
    test_key("Bearer wk_live_ios", "wk_live_ios");
    test_key("bearer   wk_live_ios ", "wk_live_ios");
    test_key("Bearer wk live", NULL);
    test_key("Bearer", NULL);
    test_key("Digest d2tfdGVzdF8xOg==", NULL);
    test_key("d2tfdGVzdF8xOg==", NULL);
    test_key("", NULL);

    /* a key longer than the room: truncated to outlen, never 0 */

    memset(big, 'k', 100);
    memcpy(big, "Bearer ", 7);
    big[100] = '\0';
    ok(kochava_auth_write_key(big, 100, uuid, 10) == 10,
       "a Bearer key over outlen returns outlen");

    ok(kochava_auth_write_key("Basic a2tra2tra2tra2tra2s6", 26, uuid, 4)
       == 4, "a Basic key over outlen returns outlen");

    /* encodeURIComponent */

    test_uri("Example/2.1 (iPhone; iOS 17.4)",
             "Example%2F2.1%20(iPhone%3B%20iOS%2017.4)");
    test_uri("AZaz09-_.!~*'()", "AZaz09-_.!~*'()");
    test_uri("a+b=c&d?e#f,g:h@i$j", "a%2Bb%3Dc%26d%3Fe%23f%2Cg%3Ah%40i%24j");
    test_uri("\"%<>[]\\^`{|}", "%22%25%3C%3E%5B%5D%5C%5E%60%7B%7C%7D");
    test_uri("caf\xc3\xa9 \xe2\x82\xac", "caf%C3%A9%20%E2%82%AC");
    test_uri("\x01\x7f", "%01%7F");
    test_uri("", "");

    /* numbers as strings */

    test_number("12345", "12345");
    test_number("-9223372036854775808", "-9223372036854775808");
    test_number("9.99", "9.99");
    test_number("0.1", "0.1");
    test_number("2.5e-7", "2.5e-07");
    test_number("1e20", "1e+20");
    test_number("12345.0", "12345");
    test_number("0.30000000000000004", "0.30000000000000004");
    test_number("\"12\"", NULL);
    test_number("true", NULL);

    /* UUID v4 */

    kochava_seed(42);
    kochava_uuid_v4(uuid);
    kochava_uuid_v4(uuid2);

    valid = strlen(uuid) == 36 && uuid[14] == '4'
            && strchr("89ab", uuid[19]) != NULL;

    for (i = 0; i < 36; i++) {
        j = (i == 8 || i == 13 || i == 18 || i == 23);

        if (j ? uuid[i] != '-' : strchr("0123456789abcdef", uuid[i]) == NULL)
        {
            valid = 0;
        }
    }

    ok(valid, "UUID v4 form: %s", uuid);
    ok(strcmp(uuid, uuid2) != 0, "two UUIDs differ");

    kochava_seed(42);
    kochava_uuid_v4(uuid2);
    is_str(uuid2, uuid, "the same seed, the same UUID");

    /* response bodies */

    test_arena_init(&arena, &a);

    memset(&res, 0, sizeof(res));
    res.messages = 1;
    res.accepted = 1;

    is_str(kochava_result_json(&res, &a, &len), "{\"success\":true}",
           "all accepted");

    res.messages = 3;
    res.accepted = 1;
    res.rejected = 2;
    res.rejects = rejects;
    rejects[0].index = 0;
    rejects[0].message_id = "m-\"1\"";
    rejects[0].error = "event is required";
    rejects[1].index = 2;
    rejects[1].message_id = NULL;
    rejects[1].error = "context.device.id is required";

    s = kochava_result_json(&res, &a, &len);
    is_str(s, "{\"success\":true,\"accepted\":1,\"rejected\":["
           "{\"index\":0,\"messageId\":\"m-\\\"1\\\"\","
           "\"error\":\"event is required\"},"
           "{\"index\":2,\"error\":\"context.device.id is required\"}]}",
           "rejections, messageId only when there was one");
    is_int(len, strlen(s), "its length");

    s = kochava_error_json("Invalid JSON: \"x\"\n\\", &a, &len);
    is_str(s, "{\"success\":false,\"message\":"
           "\"Invalid JSON: \\\"x\\\"\\n\\\\\"}", "error escaped");
    is_int(len, strlen(s), "its length");

    s = kochava_error_json("\xff\xfe", &a, &len);
    is_str(s, "{\"success\":false,\"message\":\"Invalid request\"}",
           "invalid UTF-8 is never echoed");

    arena.fail_after = arena.count;
    ok(kochava_result_json(&res, &a, &len) == NULL,
       "result: allocation failure is NULL");
    ok(kochava_error_json("x", &a, &len) == NULL,
       "error: allocation failure is NULL");

    test_arena_free(&arena);

    /* the name table */

    test_conf(&conf);

    test_lookup(&conf, "Order Completed", "Purchase");
    test_lookup(&conf, "order completed", "Purchase");
    test_lookup(&conf, "ORDER COMPLETED", "Purchase");
    test_lookup(&conf, "Product Added", "Add to Cart");
    test_lookup(&conf, "Product Added to Wishlist", "Add to Wish List");
    test_lookup(&conf, "Checkout Started", "Checkout Start");
    test_lookup(&conf, "Product Reviewed", "Rating");
    test_lookup(&conf, "Products Searched", "Search");
    test_lookup(&conf, "Product Viewed", "View");
    test_lookup(&conf, "Signed Up", "Registration Complete");
    test_lookup(&conf, "Trial Started", "Start Trial");
    test_lookup(&conf, "Subscription Started", "Subscribe");
    test_lookup(&conf, "Deep Link Opened", "_Deeplink");
    test_lookup(&conf, "Push Notification Received", "Push Received");
    test_lookup(&conf, "Push Notification Tapped", "Push Opened");
    test_lookup(&conf, "Order Completed ", NULL);
    test_lookup(&conf, "Level Up", NULL);

    rows[0].segment = "Order Completed";
    rows[0].segment_len = 15;
    rows[0].kochava = "Checkout Complete";
    rows[0].kochava_len = 17;
    rows[1].segment = "level up";
    rows[1].segment_len = 8;
    rows[1].kochava = "Level Complete";
    rows[1].kochava_len = 14;
    conf.names = rows;
    conf.nnames = 2;

    test_lookup(&conf, "Order Completed", "Checkout Complete");
    test_lookup(&conf, "Level Up", "Level Complete");
    test_lookup(&conf, "Product Added", "Add to Cart");

    /* judging answers */

    test_judge(KOCHAVA_DEST_KOCHAVA, 200, "{\"success\":\"1\"}",
               KOCHAVA_OUTCOME_OK);
    test_judge(KOCHAVA_DEST_KOCHAVA, 200, "{\"success\":1}",
               KOCHAVA_OUTCOME_OK);
    test_judge(KOCHAVA_DEST_IDENTITY, 200, "{\"success\":true,\"x\":[]}",
               KOCHAVA_OUTCOME_OK);
    test_judge(KOCHAVA_DEST_KOCHAVA, 202, " {\"success\" : \"1\"} \n",
               KOCHAVA_OUTCOME_OK);
    test_judge(KOCHAVA_DEST_KOCHAVA, 200, "{\"success\":\"0\"}",
               KOCHAVA_OUTCOME_PERMANENT);
    test_judge(KOCHAVA_DEST_KOCHAVA, 200, "{\"success\":false}",
               KOCHAVA_OUTCOME_PERMANENT);
    test_judge(KOCHAVA_DEST_KOCHAVA, 200, "{\"success\":0}",
               KOCHAVA_OUTCOME_PERMANENT);
    test_judge(KOCHAVA_DEST_KOCHAVA, 200, "{\"error\":\"bad app id\"}",
               KOCHAVA_OUTCOME_PERMANENT);
    test_judge(KOCHAVA_DEST_KOCHAVA, 200, "<html>ok</html>",
               KOCHAVA_OUTCOME_RETRYABLE);
    test_judge(KOCHAVA_DEST_KOCHAVA, 200, "", KOCHAVA_OUTCOME_RETRYABLE);
    test_judge(KOCHAVA_DEST_KOCHAVA, 200, NULL, KOCHAVA_OUTCOME_RETRYABLE);
    test_judge(KOCHAVA_DEST_KOCHAVA, 200, "\"ok\"",
               KOCHAVA_OUTCOME_RETRYABLE);
    test_judge(KOCHAVA_DEST_KOCHAVA, 0, NULL, KOCHAVA_OUTCOME_RETRYABLE);
    test_judge(KOCHAVA_DEST_KOCHAVA, 429, NULL, KOCHAVA_OUTCOME_RETRYABLE);
    test_judge(KOCHAVA_DEST_KOCHAVA, 500, "{\"success\":\"1\"}",
               KOCHAVA_OUTCOME_RETRYABLE);
    test_judge(KOCHAVA_DEST_KOCHAVA, 503, NULL, KOCHAVA_OUTCOME_RETRYABLE);
    test_judge(KOCHAVA_DEST_KOCHAVA, 504, NULL, KOCHAVA_OUTCOME_TIMEOUT);
    test_judge(KOCHAVA_DEST_BRAZE, 504, NULL, KOCHAVA_OUTCOME_TIMEOUT);
    test_judge(KOCHAVA_DEST_KOCHAVA, 400, "{\"success\":\"1\"}",
               KOCHAVA_OUTCOME_PERMANENT);
    test_judge(KOCHAVA_DEST_KOCHAVA, 404, NULL, KOCHAVA_OUTCOME_PERMANENT);
    test_judge(KOCHAVA_DEST_KOCHAVA, 302, NULL, KOCHAVA_OUTCOME_PERMANENT);
    test_judge(KOCHAVA_DEST_BRAZE, 201, "", KOCHAVA_OUTCOME_OK);
    test_judge(KOCHAVA_DEST_BRAZE, 200, "not json", KOCHAVA_OUTCOME_OK);
    test_judge(KOCHAVA_DEST_BRAZE, 429, NULL, KOCHAVA_OUTCOME_RETRYABLE);
    test_judge(KOCHAVA_DEST_BRAZE, 502, NULL, KOCHAVA_OUTCOME_RETRYABLE);
    test_judge(KOCHAVA_DEST_BRAZE, 401, NULL, KOCHAVA_OUTCOME_PERMANENT);

    /* characters, not bytes */

    is_int(kochava_utf8_length("caf\xc3\xa9", 5), 4, "UTF-8 length");

    return done_testing();
}
