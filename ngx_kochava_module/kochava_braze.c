
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Attributed installs -> Braze /users/track (braze.md): one attribute and
 * one event per install, at most KOCHAVA_BRAZE_MAX of each per body.
 */


#include <string.h>

#include "kochava_internal.h"


static kochava_json_t *kochava_braze_value(kochava_arena_t *arena,
    kochava_json_t *value);
static int kochava_braze_user(kochava_msg_t *msg, kochava_json_t *props,
    kochava_braze_install_t *in);
static int kochava_braze_key(kochava_arena_t *arena,
    kochava_braze_install_t *in, kochava_json_t *obj);
static int kochava_braze_set(kochava_arena_t *arena, kochava_json_t *obj,
    const char *key, kochava_json_t *value);


/*
 * An "Install Attributed" track.  Returns 0 with the attribute and the
 * event of an attributed install, 1 for an organic one (nothing to send),
 * -1 when there is no user key, -2 on allocation failure.
 */

int
kochava_braze_install(kochava_msg_t *msg, kochava_braze_item_t *item)
{
    int                       rc;
    kochava_json_t           *props, *campaign;
    kochava_arena_t          *arena;
    kochava_braze_install_t   in;

    item->attribute = NULL;
    item->event = NULL;

    kochava_braze_zero(&in);

    arena = msg->arena;

    props = kochava_json_get(msg->obj, "properties");
    if (!kochava_json_is_object(props)) {
        props = NULL;
    }

    campaign = props ? kochava_json_get(props, "campaign") : NULL;
    if (!kochava_json_is_object(campaign)) {
        campaign = NULL;
    }

    in.source = campaign
                ? kochava_braze_value(arena,
                                      kochava_json_get(campaign, "source"))
                : NULL;

    if (kochava_braze_organic(in.source)) {
        return 1;
    }

    in.campaign = kochava_braze_value(arena,
                                      kochava_json_get(campaign, "name"));
    in.adgroup = kochava_braze_value(arena,
                                     kochava_json_get(campaign, "ad_group"));
    in.ad = kochava_braze_value(arena,
                                kochava_json_get(campaign, "ad_creative"));
    in.provider = kochava_braze_value(arena,
                                      kochava_json_get(props, "provider"));
    in.time_ms = msg->timestamp_ms;

    rc = kochava_braze_user(msg, props, &in);

    if (rc == 0) {
        rc = kochava_braze_item(arena, &in, item);
    }

    return rc;
}


/* organic: no source, or "organic" / "unattributed" in any case */

int
kochava_braze_organic(kochava_json_t *source)
{
    size_t       n;
    const char  *s;

    if (source == NULL) {
        return 1;
    }

    s = kochava_json_string(source);
    n = kochava_json_string_len(source);

    return kochava_strcaseeq(s, n, "organic")
           || kochava_strcaseeq(s, n, "unattributed");
}


/*
 * The attribute and the event of an attributed install, whichever path it
 * came from: 0, or -2 on allocation failure.
 */

int
kochava_braze_item(kochava_arena_t *arena, kochava_braze_install_t *in,
    kochava_braze_item_t *item)
{
    char             time[KOCHAVA_TIME_LEN];
    kochava_json_t  *attr, *event, *eprops;

    attr = kochava_json_object(arena);
    event = kochava_json_object(arena);
    eprops = kochava_json_object(arena);

    if (attr == NULL || event == NULL || eprops == NULL) {
        return -2;
    }

    kochava_time_format(in->time_ms, time);

    /* time is on the stack: kochava_json_cstring() copies it */

    if (kochava_braze_key(arena, in, attr) != 0
        || kochava_braze_key(arena, in, event) != 0
        || kochava_braze_set(arena, attr, "attributed_source", in->source)
           != 0
        || kochava_braze_set(arena, attr, "attributed_campaign",
                             in->campaign) != 0
        || kochava_braze_set(arena, attr, "attributed_adgroup", in->adgroup)
           != 0
        || kochava_braze_set(arena, attr, "attributed_ad", in->ad) != 0
        || kochava_json_set(arena, event, "name",
               kochava_json_string_ref(arena, "Install Attributed",
                                       sizeof("Install Attributed") - 1))
           != 0
        || kochava_json_set(arena, event, "time",
                            kochava_json_cstring(arena, time)) != 0
        || kochava_json_set(arena, event, "properties", eprops) != 0
        || kochava_braze_set(arena, eprops, "provider", in->provider) != 0
        || kochava_braze_set(arena, eprops, "source", in->source) != 0
        || kochava_braze_set(arena, eprops, "campaign", in->campaign) != 0
        || kochava_braze_set(arena, eprops, "adgroup", in->adgroup) != 0
        || kochava_braze_set(arena, eprops, "ad", in->ad) != 0)
    {
        return -2;
    }

    item->attribute = attr;
    item->event = event;

    return 0;
}


/* a field with a value: a non-empty string, or a number as a string */

static kochava_json_t *
kochava_braze_value(kochava_arena_t *arena, kochava_json_t *value)
{
    size_t  n;
    char    buf[KOCHAVA_NUMBER_LEN];

    if (kochava_json_is_string(value)) {
        return kochava_json_string_len(value) ? value : NULL;
    }

    n = kochava_number_string(value, buf, sizeof(buf));

    /* buf is on the stack: kochava_json_stringn() copies it */

    return n ? kochava_json_stringn(arena, buf, n) : NULL;
}


/* fields with no value are left out */

static int
kochava_braze_set(kochava_arena_t *arena, kochava_json_t *obj,
    const char *key, kochava_json_t *value)
{
    if (value == NULL) {
        return 0;
    }

    return kochava_json_set(arena, obj, key, value);
}


/*
 * The user key of a Segment message, first present wins: braze_id,
 * external_id (userId), or an alias of the anonymousId.  -1: none.
 */

static int
kochava_braze_user(kochava_msg_t *msg, kochava_json_t *props,
    kochava_braze_install_t *in)
{
    kochava_json_t   *traits;
    kochava_arena_t  *arena;

    arena = msg->arena;

    in->id = props
             ? kochava_braze_value(arena, kochava_json_get(props, "braze_id"))
             : NULL;

    if (in->id == NULL) {
        traits = kochava_msg_context(msg, "traits");

        if (kochava_json_is_object(traits)) {
            in->id = kochava_braze_value(arena,
                                         kochava_json_get(traits,
                                                          "braze_id"));
        }
    }

    if (in->id) {
        in->key = "braze_id";
        return 0;
    }

    if (msg->user_id.data) {
        in->key = "external_id";
        in->id = kochava_json_stringn(arena, msg->user_id.data,
                                      msg->user_id.len);
        return in->id ? 0 : -2;
    }

    if (msg->anonymous_id.data == NULL) {
        return -1;
    }

    in->alias_label = "segment_anonymous_id";
    in->id = kochava_json_stringn(arena, msg->anonymous_id.data,
                                  msg->anonymous_id.len);

    return in->id ? 0 : -2;
}


/*
 * Sets the user key on an attribute or event object: "braze_id" or
 * "external_id", or a user_alias with "_update_existing_only": false.
 */

static int
kochava_braze_key(kochava_arena_t *arena, kochava_braze_install_t *in,
    kochava_json_t *obj)
{
    kochava_json_t  *alias;

    if (in->key) {
        return kochava_json_set(arena, obj, in->key, in->id) ? -2 : 0;
    }

    alias = kochava_json_object(arena);

    if (alias == NULL
        || kochava_json_set(arena, obj, "user_alias", alias) != 0
        || kochava_json_set(arena, alias, "alias_name", in->id) != 0
        || kochava_json_set(arena, alias, "alias_label",
               kochava_json_cstring(arena, in->alias_label)) != 0
        || kochava_json_set(arena, obj, "_update_existing_only",
                            kochava_json_boolean(0)) != 0)
    {
        return -2;
    }

    return 0;
}


/* {"attributes":[...],"events":[...]} of n installs */

kochava_json_t *
kochava_braze_body(kochava_arena_t *arena, kochava_braze_item_t *items,
    size_t n)
{
    size_t           i;
    kochava_json_t  *body, *attrs, *events;

    body = kochava_json_object(arena);
    attrs = kochava_json_array(arena);
    events = kochava_json_array(arena);

    if (body == NULL || attrs == NULL || events == NULL
        || kochava_json_set(arena, body, "attributes", attrs) != 0
        || kochava_json_set(arena, body, "events", events) != 0)
    {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        if (kochava_json_append(arena, attrs, items[i].attribute) != 0
            || kochava_json_append(arena, events, items[i].event) != 0)
        {
            return NULL;
        }
    }

    return body;
}
