
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The settings of the mobile and browser libraries (ingest.md): which
 * paths are settings paths, and the body they parse.
 */


#include "test_helpers.h"


static void
test_path(const char *path, int yes, const char *key, size_t prefix_len,
    const char *name)
{
    int                      rc;
    kochava_settings_path_t  sp;

    memset(&sp, 0, sizeof(sp));

    rc = kochava_settings_path(path, strlen(path), &sp);

    if (!yes) {
        ok(rc == 0, "%s: not a settings path", name);
        return;
    }

    if (!ok(rc == 1 && sp.key_len == strlen(key)
            && memcmp(sp.key, key, sp.key_len) == 0
            && sp.prefix_len == prefix_len, "%s", name))
    {
        diag("rc %d, key \"%.*s\", prefix %zu", rc, (int) sp.key_len,
             sp.key ? sp.key : "", sp.prefix_len);
    }
}


/* the body, and the Segment.io integration the libraries read from it */

static void
test_body(const char *key, const char *host, int https, const char *segment,
    const char *name)
{
    int                   rc;
    char                 *dump;
    size_t                len;
    json_t               *root, *want, *got;
    const char           *body;
    test_arena_t          arena;
    kochava_settings_t    s;
    kochava_allocator_t   a;

    test_arena_init(&arena, &a);

    s.key = key;
    s.key_len = strlen(key);
    s.api_host = host;
    s.api_host_len = strlen(host);
    s.https = https;

    body = NULL;
    rc = kochava_settings_json(&s, &a, &body, &len);

    root = (rc == 0) ? json_loadb(body, len, 0, NULL) : NULL;
    got = json_object_get(json_object_get(root, "integrations"),
                          "Segment.io");
    want = json_loads(segment, 0, NULL);

    if (!ok(root && json_object_size(json_object_get(root, "integrations"))
            == 1 && got && json_equal(got, want), "%s", name))
    {
        dump = got ? json_dumps(got, 0) : NULL;
        diag("rc %d, Segment.io %s", rc, dump ? dump : "(none)");
        free(dump);
    }

    json_decref(root);
    json_decref(want);
    test_arena_free(&arena);
}


int
main(void)
{
    int                   rc;
    size_t                len;
    json_t               *root;
    const char           *body;
    test_arena_t          arena;
    kochava_settings_t    s;
    kochava_allocator_t   a;

    /* what the libraries ask for: <cdnHost>/projects/<key>/settings */

    test_path("/v1/projects/wk_1/settings", 1, "wk_1", 3, "/v1/ location");
    test_path("/v1/projects/wk_1/settings/", 1, "wk_1", 3,
              "a trailing slash is ignored");
    test_path("/projects/wk_1/settings", 1, "wk_1", 0, "at the root");
    test_path("/a/b/projects/k/settings", 1, "k", 4, "deeper");
    test_path("/v1/projects/projects/settings", 1, "projects", 3,
              "a key named projects");
    test_path("/v1/projects//settings", 0, NULL, 0, "an empty key");
    test_path("/v1/projects/settings", 0, NULL, 0, "no key");
    test_path("/v1/project/wk/settings", 0, NULL, 0, "project");
    test_path("/v1/projects/wk/settingsx", 0, NULL, 0, "settingsx");
    test_path("/v1/xprojects/wk/settings", 0, NULL, 0, "xprojects");
    test_path("/v1/track", 0, NULL, 0, "a call");
    test_path("settings", 0, NULL, 0, "short");
    test_path("", 0, NULL, 0, "empty");

    /* the body */

    test_body("wk_1", "edge.example.com/v1", 1,
              "{\"apiKey\":\"wk_1\",\"apiHost\":\"edge.example.com/v1\","
              "\"protocol\":\"https\"}", "Segment.io: apiKey, apiHost, https");
    test_body("w\"k\\1", "127.0.0.1:8080/v1", 0,
              "{\"apiKey\":\"w\\\"k\\\\1\",\"apiHost\":\"127.0.0.1:8080/v1\","
              "\"protocol\":\"http\"}", "escaped, http");

    test_arena_init(&arena, &a);

    s.key = "wk";
    s.key_len = 2;
    s.api_host = "h";
    s.api_host_len = 1;
    s.https = 1;

    body = NULL;
    rc = kochava_settings_json(&s, &a, &body, &len);
    root = rc == 0 ? json_loadb(body, len, 0, NULL) : NULL;

    ok(json_is_object(json_object_get(root, "plan"))
       && json_is_object(json_object_get(json_object_get(
              json_object_get(root, "plan"), "track"), "__default")),
       "an all-enabled plan (analytics.js)");
    ok(json_integer_value(json_object_get(json_object_get(root, "metrics"),
                                          "sampleRate")) == 0
       && json_object_get(json_object_get(root, "metrics"), "sampleRate"),
       "telemetry off (no metrics to Segment's API)");
    ok(json_is_object(json_object_get(root, "edgeFunction"))
       && json_is_array(json_object_get(root, "remotePlugins"))
       && json_array_size(json_object_get(root, "remotePlugins")) == 0,
       "no edge function, no remote plugins");
    json_decref(root);

    s.key = "w\xff";
    ok(kochava_settings_json(&s, &a, &body, &len) == 1,
       "a key that is not UTF-8 is refused");
    s.key = "wk";
    s.api_host = "\xc3(";
    s.api_host_len = 2;
    ok(kochava_settings_json(&s, &a, &body, &len) == 1,
       "so is a host");

    s.api_host = "h";
    s.api_host_len = 1;
    arena.fail_after = 0;
    arena.count = 0;
    ok(kochava_settings_json(&s, &a, &body, &len) == -1,
       "allocation failure: -1");

    test_arena_free(&arena);

    done_testing();

    return 0;
}
