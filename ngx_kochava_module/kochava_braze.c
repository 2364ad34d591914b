
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * Attributed installs -> Braze /users/track (braze.md): one attribute and
 * one event per install, at most KOCHAVA_BRAZE_MAX of each per body.
 */


#include <string.h>

#include "kochava_internal.h"


static json_t *kochava_braze_value(json_t *value);
static int kochava_braze_user(kochava_msg_t *msg, json_t *props,
    json_t *obj);
static int kochava_braze_set(json_t *obj, const char *key, json_t *value);


/*
 * An "Install Attributed" track.  Returns 0 with the attribute and the
 * event of an attributed install, 1 for an organic one (nothing to send),
 * -1 when there is no user key, -2 on allocation failure.
 */

int
kochava_braze_install(kochava_msg_t *msg, kochava_braze_item_t *item)
{
    int          rc;
    char         time[KOCHAVA_TIME_LEN];
    size_t       n;
    json_t      *props, *campaign, *source, *name, *adgroup, *ad;
    json_t      *provider, *attr, *event, *eprops;
    const char  *s;

    item->attribute = NULL;
    item->event = NULL;

    props = json_object_get(msg->obj, "properties");
    if (!json_is_object(props)) {
        props = NULL;
    }

    campaign = props ? json_object_get(props, "campaign") : NULL;
    if (!json_is_object(campaign)) {
        campaign = NULL;
    }

    source = campaign ? kochava_braze_value(json_object_get(campaign,
                                                            "source"))
                      : NULL;

    if (source == NULL) {
        return 1;
    }

    s = json_string_value(source);
    n = json_string_length(source);

    if (kochava_strcaseeq(s, n, "organic")
        || kochava_strcaseeq(s, n, "unattributed"))
    {
        json_decref(source);
        return 1;
    }

    name = kochava_braze_value(json_object_get(campaign, "name"));
    adgroup = kochava_braze_value(json_object_get(campaign, "ad_group"));
    ad = kochava_braze_value(json_object_get(campaign, "ad_creative"));
    provider = kochava_braze_value(json_object_get(props, "provider"));

    rc = -2;

    attr = json_object();
    event = json_object();
    eprops = json_object();

    if (attr == NULL || event == NULL || eprops == NULL) {
        goto done;
    }

    rc = kochava_braze_user(msg, props, attr);
    if (rc != 0) {
        goto done;
    }

    rc = kochava_braze_user(msg, props, event);
    if (rc != 0) {
        goto done;
    }

    rc = -2;

    kochava_time_format(msg->timestamp_ms, time);

    if (kochava_braze_set(attr, "attributed_source", source) != 0
        || kochava_braze_set(attr, "attributed_campaign", name) != 0
        || kochava_braze_set(attr, "attributed_adgroup", adgroup) != 0
        || kochava_braze_set(attr, "attributed_ad", ad) != 0
        || json_object_set_new_nocheck(event, "name",
               json_string_nocheck("Install Attributed")) != 0
        || json_object_set_new_nocheck(event, "time",
               json_string_nocheck(time)) != 0
        || json_object_set_nocheck(event, "properties", eprops) != 0
        || kochava_braze_set(eprops, "provider", provider) != 0
        || kochava_braze_set(eprops, "source", source) != 0
        || kochava_braze_set(eprops, "campaign", name) != 0
        || kochava_braze_set(eprops, "adgroup", adgroup) != 0
        || kochava_braze_set(eprops, "ad", ad) != 0)
    {
        goto done;
    }

    item->attribute = attr;
    item->event = event;
    attr = NULL;
    event = NULL;

    rc = 0;

done:

    json_decref(attr);
    json_decref(event);
    json_decref(eprops);
    json_decref(source);
    json_decref(name);
    json_decref(adgroup);
    json_decref(ad);
    json_decref(provider);

    return rc;
}


/* a field with a value: a non-empty string, or a number as a string */

static json_t *
kochava_braze_value(json_t *value)
{
    size_t  n;
    char    buf[KOCHAVA_NUMBER_LEN];

    if (json_is_string(value)) {
        return json_string_length(value) ? json_incref(value) : NULL;
    }

    n = kochava_number_string(value, buf, sizeof(buf));

    return n ? json_stringn_nocheck(buf, n) : NULL;
}


/* fields with no value are left out */

static int
kochava_braze_set(json_t *obj, const char *key, json_t *value)
{
    if (value == NULL) {
        return 0;
    }

    return json_object_set_nocheck(obj, key, value);
}


/*
 * The user key, first present wins: braze_id, external_id (userId), or
 * user_alias (anonymousId) with "_update_existing_only": false.
 */

static int
kochava_braze_user(kochava_msg_t *msg, json_t *props, json_t *obj)
{
    int      rc;
    json_t  *id, *traits, *alias;

    id = props ? kochava_braze_value(json_object_get(props, "braze_id"))
               : NULL;

    if (id == NULL) {
        traits = kochava_msg_context(msg, "traits");

        if (json_is_object(traits)) {
            id = kochava_braze_value(json_object_get(traits, "braze_id"));
        }
    }

    if (id) {
        return json_object_set_new_nocheck(obj, "braze_id", id) ? -2 : 0;
    }

    if (msg->user_id.data) {
        rc = json_object_set_new_nocheck(obj, "external_id",
                 json_stringn_nocheck(msg->user_id.data, msg->user_id.len));
        return rc ? -2 : 0;
    }

    if (msg->anonymous_id.data == NULL) {
        return -1;
    }

    alias = json_object();

    if (alias == NULL
        || json_object_set_new_nocheck(obj, "user_alias", alias) != 0
        || json_object_set_new_nocheck(alias, "alias_name",
               json_stringn_nocheck(msg->anonymous_id.data,
                                    msg->anonymous_id.len)) != 0
        || json_object_set_new_nocheck(alias, "alias_label",
               json_string_nocheck("segment_anonymous_id")) != 0
        || json_object_set_new_nocheck(obj, "_update_existing_only",
                                       json_false()) != 0)
    {
        return -2;
    }

    return 0;
}


/* {"attributes":[...],"events":[...]} of n installs */

json_t *
kochava_braze_body(kochava_braze_item_t *items, size_t n)
{
    size_t   i;
    json_t  *body, *attrs, *events;

    body = json_object();
    attrs = json_array();
    events = json_array();

    if (body == NULL || attrs == NULL || events == NULL
        || json_object_set_nocheck(body, "attributes", attrs) != 0
        || json_object_set_nocheck(body, "events", events) != 0)
    {
        goto failed;
    }

    for (i = 0; i < n; i++) {
        if (json_array_append(attrs, items[i].attribute) != 0
            || json_array_append(events, items[i].event) != 0)
        {
            goto failed;
        }
    }

    json_decref(attrs);
    json_decref(events);

    return body;

failed:

    json_decref(attrs);
    json_decref(events);
    json_decref(body);

    return NULL;
}
