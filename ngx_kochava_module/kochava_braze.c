
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
    kochava_braze_install_t *in);
static int kochava_braze_key(kochava_braze_install_t *in, json_t *obj);
static int kochava_braze_set(json_t *obj, const char *key, json_t *value);


/*
 * An "Install Attributed" track.  Returns 0 with the attribute and the
 * event of an attributed install, 1 for an organic one (nothing to send),
 * -1 when there is no user key, -2 on allocation failure.
 */

int
kochava_braze_install(kochava_msg_t *msg, kochava_braze_item_t *item)
{
    int                       rc;
    json_t                   *props, *campaign;
    kochava_braze_install_t   in;

    item->attribute = NULL;
    item->event = NULL;

    kochava_braze_zero(&in);

    props = json_object_get(msg->obj, "properties");
    if (!json_is_object(props)) {
        props = NULL;
    }

    campaign = props ? json_object_get(props, "campaign") : NULL;
    if (!json_is_object(campaign)) {
        campaign = NULL;
    }

    in.source = campaign ? kochava_braze_value(json_object_get(campaign,
                                                               "source"))
                         : NULL;

    if (kochava_braze_organic(in.source)) {
        kochava_braze_install_free(&in);
        return 1;
    }

    in.campaign = kochava_braze_value(json_object_get(campaign, "name"));
    in.adgroup = kochava_braze_value(json_object_get(campaign, "ad_group"));
    in.ad = kochava_braze_value(json_object_get(campaign, "ad_creative"));
    in.provider = kochava_braze_value(json_object_get(props, "provider"));
    in.time_ms = msg->timestamp_ms;

    rc = kochava_braze_user(msg, props, &in);

    if (rc == 0) {
        rc = kochava_braze_item(&in, item);
    }

    kochava_braze_install_free(&in);

    return rc;
}


/* organic: no source, or "organic" / "unattributed" in any case */

int
kochava_braze_organic(json_t *source)
{
    size_t       n;
    const char  *s;

    if (source == NULL) {
        return 1;
    }

    s = json_string_value(source);
    n = json_string_length(source);

    return kochava_strcaseeq(s, n, "organic")
           || kochava_strcaseeq(s, n, "unattributed");
}


/*
 * The attribute and the event of an attributed install, whichever path it
 * came from: 0, or -2 on allocation failure.
 */

int
kochava_braze_item(kochava_braze_install_t *in, kochava_braze_item_t *item)
{
    int      rc;
    char     time[KOCHAVA_TIME_LEN];
    json_t  *attr, *event, *eprops;

    rc = -2;

    attr = json_object();
    event = json_object();
    eprops = json_object();

    if (attr == NULL || event == NULL || eprops == NULL) {
        goto done;
    }

    kochava_time_format(in->time_ms, time);

    if (kochava_braze_key(in, attr) != 0
        || kochava_braze_key(in, event) != 0
        || kochava_braze_set(attr, "attributed_source", in->source) != 0
        || kochava_braze_set(attr, "attributed_campaign", in->campaign) != 0
        || kochava_braze_set(attr, "attributed_adgroup", in->adgroup) != 0
        || kochava_braze_set(attr, "attributed_ad", in->ad) != 0
        || json_object_set_new_nocheck(event, "name",
               json_string_nocheck("Install Attributed")) != 0
        || json_object_set_new_nocheck(event, "time",
               json_string_nocheck(time)) != 0
        || json_object_set_nocheck(event, "properties", eprops) != 0
        || kochava_braze_set(eprops, "provider", in->provider) != 0
        || kochava_braze_set(eprops, "source", in->source) != 0
        || kochava_braze_set(eprops, "campaign", in->campaign) != 0
        || kochava_braze_set(eprops, "adgroup", in->adgroup) != 0
        || kochava_braze_set(eprops, "ad", in->ad) != 0)
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

    return rc;
}


void
kochava_braze_install_free(kochava_braze_install_t *in)
{
    json_decref(in->id);
    json_decref(in->source);
    json_decref(in->campaign);
    json_decref(in->adgroup);
    json_decref(in->ad);
    json_decref(in->provider);

    kochava_braze_zero(in);
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
 * The user key of a Segment message, first present wins: braze_id,
 * external_id (userId), or an alias of the anonymousId.  -1: none.
 */

static int
kochava_braze_user(kochava_msg_t *msg, json_t *props,
    kochava_braze_install_t *in)
{
    json_t  *traits;

    in->id = props ? kochava_braze_value(json_object_get(props, "braze_id"))
                   : NULL;

    if (in->id == NULL) {
        traits = kochava_msg_context(msg, "traits");

        if (json_is_object(traits)) {
            in->id = kochava_braze_value(json_object_get(traits,
                                                         "braze_id"));
        }
    }

    if (in->id) {
        in->key = "braze_id";
        return 0;
    }

    if (msg->user_id.data) {
        in->key = "external_id";
        in->id = json_stringn_nocheck(msg->user_id.data, msg->user_id.len);
        return in->id ? 0 : -2;
    }

    if (msg->anonymous_id.data == NULL) {
        return -1;
    }

    in->alias_label = "segment_anonymous_id";
    in->id = json_stringn_nocheck(msg->anonymous_id.data,
                                  msg->anonymous_id.len);

    return in->id ? 0 : -2;
}


/*
 * Sets the user key on an attribute or event object: "braze_id" or
 * "external_id", or a user_alias with "_update_existing_only": false.
 */

static int
kochava_braze_key(kochava_braze_install_t *in, json_t *obj)
{
    json_t  *alias;

    if (in->key) {
        return json_object_set_nocheck(obj, in->key, in->id) ? -2 : 0;
    }

    alias = json_object();

    if (alias == NULL
        || json_object_set_new_nocheck(obj, "user_alias", alias) != 0
        || json_object_set_nocheck(alias, "alias_name", in->id) != 0
        || json_object_set_new_nocheck(alias, "alias_label",
               json_string_nocheck(in->alias_label)) != 0
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
