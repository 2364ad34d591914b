
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The settings Segment's mobile and browser libraries fetch before they
 * send (ingest.md, "Settings for the mobile and browser libraries"): the
 * path they ask for and the body they parse.
 */


#include <string.h>

#include "kochava_internal.h"


/*
 * The plan Segment's CDN answers for a source with no tracking plan:
 * everything enabled.  analytics.js reads it; the others ignore it.
 */

static const char  kochava_settings_plan[] =
    "{\"track\":{\"__default\":{\"enabled\":true,\"integrations\":{}}},"
    "\"identify\":{\"__default\":{\"enabled\":true}},"
    "\"group\":{\"__default\":{\"enabled\":true}}}";


int
kochava_settings_path(const char *path, size_t len, kochava_settings_path_t *sp)
{
    size_t  end, i, key_start;

    if (path == NULL || len == 0) {
        return 0;
    }

    end = len;

    if (path[end - 1] == '/') {
        end--;
    }

    if (end < sizeof("/projects/x/settings") - 1
        || memcmp(path + end - (sizeof("/settings") - 1), "/settings",
                  sizeof("/settings") - 1) != 0)
    {
        return 0;
    }

    end -= sizeof("/settings") - 1;

    for (i = end; i > 0 && path[i - 1] != '/'; i--) {
        /* void */
    }

    if (i == 0 || i == end) {
        return 0;                       /* no segment, or an empty key */
    }

    key_start = i;
    i--;                                /* the '/' before the key */

    if (i < sizeof("/projects") - 1
        || memcmp(path + i - (sizeof("/projects") - 1), "/projects",
                  sizeof("/projects") - 1) != 0)
    {
        return 0;
    }

    sp->key = path + key_start;
    sp->key_len = end - key_start;
    sp->prefix_len = i - (sizeof("/projects") - 1);

    return 1;
}


int
kochava_settings_json(const kochava_settings_t *s,
    const kochava_allocator_t *a, const char **body, size_t *len)
{
    int               rc;
    kochava_json_t   *root, *integrations, *segment, *metrics, *plan;
    kochava_arena_t  *arena;

    if (!kochava_json_utf8_valid(s->key, s->key_len)
        || !kochava_json_utf8_valid(s->api_host, s->api_host_len))
    {
        return 1;
    }

    arena = kochava_arena_create(2048);
    if (arena == NULL) {
        return -1;
    }

    rc = -1;

    root = kochava_json_object(arena);
    integrations = kochava_json_object(arena);
    segment = kochava_json_object(arena);
    metrics = kochava_json_object(arena);

    if (kochava_json_parse(arena, kochava_settings_plan,
                           sizeof(kochava_settings_plan) - 1, 0, 8, &plan)
        != 0)
    {
        goto done;
    }

    /*
     * Only the Segment.io integration, so no library turns on a device-
     * mode destination; metrics off, so analytics.js and the mobile
     * libraries send no telemetry to Segment's own API.
     */

    if (root == NULL || integrations == NULL || segment == NULL
        || metrics == NULL
        || kochava_json_set(arena, root, "integrations", integrations) != 0
        || kochava_json_set(arena, integrations, "Segment.io", segment) != 0
        || kochava_json_set(arena, segment, "apiKey",
               kochava_json_stringn(arena, s->key, s->key_len)) != 0
        || kochava_json_set(arena, segment, "apiHost",
               kochava_json_stringn(arena, s->api_host, s->api_host_len))
           != 0
        || kochava_json_set(arena, segment, "protocol",
               kochava_json_cstring(arena, s->https ? "https" : "http"))
           != 0
        || kochava_json_set(arena, root, "plan", plan) != 0
        || kochava_json_set(arena, root, "edgeFunction",
                            kochava_json_object(arena)) != 0
        || kochava_json_set(arena, root, "metrics", metrics) != 0
        || kochava_json_set(arena, metrics, "sampleRate",
                            kochava_json_new_integer(arena, 0)) != 0
        || kochava_json_set(arena, root, "remotePlugins",
                            kochava_json_array(arena)) != 0)
    {
        goto done;
    }

    *body = kochava_json_dump(root, a, len);

    if (*body != NULL) {
        rc = 0;
    }

done:

    kochava_arena_destroy(arena);

    return rc;
}
