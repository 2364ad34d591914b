
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The rewrite of kochava.md: a validated message -> the body of a Kochava
 * event or install, or of an IdentityLink.  Values of the message are
 * shared with the output (put into both trees, in the document's arena),
 * never copied deeply.
 */


#include <stdlib.h>
#include <string.h>

#include "kochava_internal.h"


#define KOCHAVA_UA_STACK  512


static kochava_json_t *kochava_event_data(kochava_arena_t *arena,
    kochava_json_t *props);
static kochava_json_t *kochava_device_ver(kochava_msg_t *msg);
static int kochava_consent(const kochava_conf_t *conf,
    const kochava_req_t *req, kochava_msg_t *msg, kochava_json_t *data);
static int kochava_consent_flag(kochava_arena_t *arena,
    kochava_json_t *consent, const char *flag, kochava_json_t *prefs,
    const char *category, size_t len);
static kochava_json_t *kochava_user_agent(kochava_msg_t *msg);
static kochava_json_t *kochava_scalar_string(kochava_arena_t *arena,
    kochava_json_t *value);
static int kochava_reserved(const char *key, size_t len);
static int kochava_identify_scalar(kochava_json_t *value);


/* Kochava's own keys: a property of that name becomes segment_<name> */

static const struct {
    const char               *key;
    size_t                    len;
    const char               *renamed;
} kochava_reserved_keys[] = {
    { "network", 7, "segment_network" },
    { "source", 6, "segment_source" },
    { "fb_campaign", 11, "segment_fb_campaign" },
    { "campaign", 8, "segment_campaign" },
    { "site", 4, "segment_site" },
    { "creative", 8, "segment_creative" },
    { "attribution_type", 16, "segment_attribution_type" },
    { "integration_type", 16, "segment_integration_type" },
    { "integration_version", 19, "segment_integration_version" },
    { "cracked", 7, "segment_cracked" },
    { "jailbroken", 10, "segment_jailbroken" }
};


/* the ids of kochava.md, "device_ids" of an event, "device_id" of a link */

kochava_json_t *
kochava_device_ids(kochava_msg_t *msg)
{
    kochava_json_t   *ids;
    kochava_arena_t  *arena;

    arena = msg->arena;

    ids = kochava_json_object(arena);
    if (ids == NULL) {
        return NULL;
    }

    if (msg->platform == KOCHAVA_PLATFORM_IOS) {
        if (msg->advertising_id.data
            && kochava_json_set(arena, ids, "idfa",
                   kochava_json_stringn(arena, msg->advertising_id.data,
                                        msg->advertising_id.len)) != 0)
        {
            goto failed;
        }

        if (msg->device_id.data
            && kochava_json_set(arena, ids, "idfv",
                   kochava_json_stringn(arena, msg->device_id.data,
                                        msg->device_id.len)) != 0)
        {
            goto failed;
        }

    } else if (msg->platform == KOCHAVA_PLATFORM_ANDROID) {
        if (msg->advertising_id.data
            && kochava_json_set(arena, ids, "adid",
                   kochava_json_stringn(arena, msg->advertising_id.data,
                                        msg->advertising_id.len)) != 0)
        {
            goto failed;
        }

        if (msg->device_id.data
            && kochava_json_set(arena, ids, "android_id",
                   kochava_json_stringn(arena, msg->device_id.data,
                                        msg->device_id.len)) != 0)
        {
            goto failed;
        }
    }

    return ids;

failed:

    return NULL;
}


/*
 * track (but "Install Attributed"), page, screen and group -> the body of
 * a Kochava event, or of an install for "Application Installed".
 */

kochava_json_t *
kochava_rewrite_event(const kochava_conf_t *conf, const kochava_req_t *req,
    kochava_msg_t *msg)
{
    int               install;
    char             *p, buf[KOCHAVA_NUMBER_LEN];
    size_t            n, i;
    const char       *s;
    kochava_str_t     str, device;
    kochava_json_t   *root, *data, *obj, *value, *props, *name, *event_data;
    kochava_json_t   *app, *att;
    kochava_arena_t  *arena;

    arena = msg->arena;
    obj = msg->obj;
    install = 0;
    name = NULL;
    event_data = NULL;

    root = kochava_json_object(arena);
    data = kochava_json_object(arena);

    if (root == NULL || data == NULL) {
        goto failed;
    }

    if (msg->type == KOCHAVA_CALL_TRACK) {
        value = kochava_json_get(obj, "event");

        install = (kochava_json_string_len(value)
                   == sizeof("Application Installed") - 1
                   && memcmp(kochava_json_string(value),
                             "Application Installed",
                             sizeof("Application Installed") - 1) == 0);
    }

    device = msg->device_id.data ? msg->device_id : msg->anonymous_id;

    s = install ? "install" : "event";

    if (kochava_json_set(arena, root, "action",
                         kochava_json_string_ref(arena, s, strlen(s))) != 0
        || kochava_json_set(arena, root, "kochava_app_id",
               kochava_json_checked_stringn(arena,
                                            req->app_id ? req->app_id : "",
                                            req->app_id_len)) != 0
        || kochava_json_set(arena, root, "kochava_device_id",
               kochava_json_stringn(arena, device.data, device.len)) != 0
        || kochava_json_set(arena, root, "data", data) != 0)
    {
        goto failed;
    }

    /* the common fields */

    if (kochava_json_set(arena, data, "device_ids", kochava_device_ids(msg))
        != 0)
    {
        goto failed;
    }

    value = kochava_msg_context(msg, "ip");

    if (kochava_json_is_string(value) && kochava_json_string_len(value)) {
        if (kochava_json_set(arena, data, "origination_ip", value) != 0) {
            goto failed;
        }

    } else if (kochava_json_set(arena, data, "origination_ip",
                   kochava_json_checked_stringn(arena,
                                       req->client_ip ? req->client_ip : "",
                                       req->client_ip_len)) != 0)
    {
        goto failed;
    }

    if (kochava_json_set(arena, data, "device_ua", kochava_user_agent(msg))
        != 0
        || kochava_json_set(arena, data, "device_ver",
                            kochava_device_ver(msg)) != 0)
    {
        goto failed;
    }

    app = kochava_msg_context(msg, "app");
    value = kochava_json_is_object(app) ? kochava_json_get(app, "version")
                                        : NULL;

    if (kochava_json_is_string(value)) {
        if (kochava_json_set(arena, data, "app_version", value) != 0) {
            goto failed;
        }

    } else if (kochava_json_is_number(value)) {
        n = kochava_number_string(value, buf, sizeof(buf));

        /* buf is on the stack: kochava_json_stringn() copies it */

        if (n && kochava_json_set(arena, data, "app_version",
                     kochava_json_stringn(arena, buf, n)) != 0)
        {
            goto failed;
        }
    }

    if (kochava_json_set(arena, data, "usertime",
            kochava_json_new_integer(arena,
                kochava_floor_div(msg->timestamp_ms, 1000))) != 0)
    {
        goto failed;
    }

    if (msg->platform == KOCHAVA_PLATFORM_IOS) {
        att = kochava_json_object(arena);

        if (att == NULL
            || kochava_json_set(arena, data, "app_tracking_transparency",
                                att) != 0
            || kochava_json_set(arena, att, "att",
                   kochava_json_boolean(msg->ad_tracking
                                        && msg->advertising_id.data)) != 0)
        {
            goto failed;
        }
    }

    if (kochava_consent(conf, req, msg, data) != 0) {
        goto failed;
    }

    if (install) {
        return root;
    }

    /* per type: the name and the data of the event */

    switch (msg->type) {

    case KOCHAVA_CALL_TRACK:
        value = kochava_json_get(obj, "event");
        s = kochava_json_string(value);
        n = kochava_json_string_len(value);

        if (kochava_name_lookup(conf, s, n, &str)) {
            name = kochava_json_stringn(arena, str.data, str.len);

        } else {
            name = value;
        }

        props = kochava_json_get(obj, "properties");
        event_data = kochava_event_data(arena, props);

        if (event_data == NULL) {
            goto failed;
        }

        if (kochava_json_is_object(props)) {
            value = kochava_json_get(props, "revenue");

            if (kochava_json_is_number(value)
                && kochava_json_get(props, "sum") == NULL
                && kochava_json_set(arena, event_data, "sum", value) != 0)
            {
                goto failed;
            }

            value = kochava_json_get(props, "currency");

            if (kochava_json_is_string(value)) {
                value = kochava_json_stringn(arena,
                                             kochava_json_string(value),
                                             kochava_json_string_len(value));
                if (value == NULL) {
                    goto failed;
                }

                /*
                 * ours: a copy in the arena, upper-cased in place (ASCII
                 * keeps UTF-8 valid and the escapes as they were)
                 */

                p = (char *) kochava_json_string(value);
                n = kochava_json_string_len(value);

                for (i = 0; i < n; i++) {
                    if (p[i] >= 'a' && p[i] <= 'z') {
                        p[i] = (char) (p[i] - 'a' + 'A');
                    }
                }

                if (kochava_json_set(arena, data, "currency", value) != 0) {
                    goto failed;
                }
            }
        }

        break;

    case KOCHAVA_CALL_PAGE:
    case KOCHAVA_CALL_SCREEN:
        value = kochava_json_get(obj, "name");
        s = (msg->type == KOCHAVA_CALL_PAGE) ? "Page" : "Screen";

        if (kochava_msg_id_string(value, buf, &str)) {
            name = kochava_json_sprintf(arena, "Viewed %.*s %s",
                                        (int) str.len, str.data, s);

        } else {
            name = kochava_json_sprintf(arena, "Loaded a %s", s);
        }

        event_data = kochava_event_data(arena,
                                        kochava_json_get(obj, "properties"));
        if (event_data == NULL) {
            goto failed;
        }

        if (value != NULL && !kochava_json_is_null(value)
            && kochava_json_set(arena, event_data, "name", value) != 0)
        {
            goto failed;
        }

        value = kochava_json_get(obj, "category");

        if (value != NULL && !kochava_json_is_null(value)
            && kochava_json_set(arena, event_data, "category", value) != 0)
        {
            goto failed;
        }

        break;

    case KOCHAVA_CALL_GROUP:
        name = kochava_json_string_ref(arena, "Group", sizeof("Group") - 1);

        event_data = kochava_event_data(arena,
                                        kochava_json_get(obj, "traits"));
        if (event_data == NULL) {
            goto failed;
        }

        if (!kochava_msg_id_string(kochava_json_get(obj, "groupId"), buf,
                                   &str)
            || kochava_json_set(arena, event_data, "group_id",
                   kochava_json_stringn(arena, str.data, str.len)) != 0)
        {
            goto failed;
        }

        break;

    default:
        goto failed;
    }

    if (kochava_json_set(arena, data, "event_name", name) != 0
        || kochava_json_set(arena, data, "event_data", event_data) != 0)
    {
        goto failed;
    }

    return root;

failed:

    return NULL;
}


/*
 * data.gdpr_privacy_consent, Google's DMA consent: "gdpr_applies" from the
 * request (a complex value), "tc_string" from context.consent.tcString,
 * "ad_user_data" and "ad_personalization" from the Segment categories of
 * context.consent.categoryPreferences the configuration names, each
 * where it is known; no object at all when none is.
 */

static int
kochava_consent(const kochava_conf_t *conf, const kochava_req_t *req,
    kochava_msg_t *msg, kochava_json_t *data)
{
    kochava_json_t   *consent, *segment, *value, *prefs;
    kochava_arena_t  *arena;

    arena = msg->arena;

    consent = kochava_json_object(arena);
    if (consent == NULL) {
        return -1;
    }

    if (req->gdpr_applies != KOCHAVA_GDPR_UNKNOWN
        && kochava_json_set(arena, consent, "gdpr_applies",
               kochava_json_new_integer(arena,
                   req->gdpr_applies == KOCHAVA_GDPR_YES)) != 0)
    {
        return -1;
    }

    segment = kochava_msg_context(msg, "consent");
    value = kochava_json_get(segment, "tcString");

    if (kochava_json_is_string(value) && kochava_json_string_len(value)
        && kochava_json_set(arena, consent, "tc_string", value) != 0)
    {
        return -1;
    }

    prefs = kochava_json_get(segment, "categoryPreferences");

    if (kochava_consent_flag(arena, consent, "ad_user_data", prefs,
                             conf->consent_ad_user_data,
                             conf->consent_ad_user_data_len) != 0
        || kochava_consent_flag(arena, consent, "ad_personalization", prefs,
                                conf->consent_ad_personalization,
                                conf->consent_ad_personalization_len) != 0)
    {
        return -1;
    }

    if (kochava_json_count(consent) == 0) {
        return 0;
    }

    return kochava_json_set(arena, data, "gdpr_privacy_consent", consent);
}


/* flag: 1 or 0 when the category is a boolean of prefs, else left out */

static int
kochava_consent_flag(kochava_arena_t *arena, kochava_json_t *consent,
    const char *flag, kochava_json_t *prefs, const char *category,
    size_t len)
{
    kochava_json_t  *value;

    if (category == NULL) {
        return 0;
    }

    value = kochava_json_getn(prefs, category, len);

    if (!kochava_json_is_boolean(value)) {
        return 0;
    }

    return kochava_json_set(arena, consent, flag,
               kochava_json_new_integer(arena, kochava_json_is_true(value)));
}


/* properties (or traits) with Kochava's reserved keys renamed */

static kochava_json_t *
kochava_event_data(kochava_arena_t *arena, kochava_json_t *props)
{
    int                     r;
    size_t                  i, len;
    const char             *key;
    kochava_json_t         *data;
    kochava_json_member_t  *m;

    data = kochava_json_object(arena);

    if (data == NULL || !kochava_json_is_object(props)) {
        return data;
    }

    /* the keys are the message's or literals: they outlive the tree */

    for (i = 0; i < kochava_json_count(props); i++) {
        m = &props->u.members[i];

        key = m->key;
        len = m->key_len;

        r = kochava_reserved(key, len);

        if (r >= 0) {
            key = kochava_reserved_keys[r].renamed;
            len = kochava_reserved_keys[r].len + 8;
        }

        if (kochava_json_setn(arena, data, key, len, m->value) != 0) {
            return NULL;
        }
    }

    return data;
}


static int
kochava_reserved(const char *key, size_t len)
{
    size_t  i;

    for (i = 0; i < sizeof(kochava_reserved_keys)
                    / sizeof(kochava_reserved_keys[0]); i++)
    {
        if (kochava_reserved_keys[i].len == len
            && memcmp(kochava_reserved_keys[i].key, key, len) == 0)
        {
            return (int) i;
        }
    }

    return -1;
}


/* encodeURIComponent(context.userAgent), "" when there is none */

static kochava_json_t *
kochava_user_agent(kochava_msg_t *msg)
{
    char            *p, buf[KOCHAVA_UA_STACK * 3];
    size_t           len, n;
    kochava_json_t  *value, *ua;

    value = kochava_msg_context(msg, "userAgent");

    if (!kochava_json_is_string(value)) {
        return kochava_json_string_ref(msg->arena, "", 0);
    }

    len = kochava_json_string_len(value);

    /* buf and p are not the arena's: kochava_json_stringn() copies them */

    if (len <= KOCHAVA_UA_STACK) {
        n = kochava_uri_encode(kochava_json_string(value), len, buf);
        return kochava_json_stringn(msg->arena, buf, n);
    }

    p = malloc(len * 3);
    if (p == NULL) {
        return NULL;
    }

    n = kochava_uri_encode(kochava_json_string(value), len, p);
    ua = kochava_json_stringn(msg->arena, p, n);

    free(p);

    return ua;
}


/* "<model>-<os name>-<os version>", "" without a model or an os version */

static kochava_json_t *
kochava_device_ver(kochava_msg_t *msg)
{
    char            *p, *s;
    size_t           i, len, n[3];
    const char      *part[3];
    kochava_json_t  *os, *model, *name, *version;

    os = kochava_msg_context(msg, "os");

    if (!kochava_json_is_object(msg->device) || !kochava_json_is_object(os)) {
        return kochava_json_string_ref(msg->arena, "", 0);
    }

    model = kochava_scalar_string(msg->arena,
                                  kochava_json_get(msg->device, "model"));
    version = kochava_scalar_string(msg->arena,
                                    kochava_json_get(os, "version"));
    name = kochava_scalar_string(msg->arena, kochava_json_get(os, "name"));

    if (model == NULL || version == NULL) {
        return kochava_json_string_ref(msg->arena, "", 0);
    }

    /* "%s-%s-%s" without printf: each part up to a NUL byte, as %s */

    part[0] = kochava_json_string(model);
    part[1] = name ? kochava_json_string(name) : "";
    part[2] = kochava_json_string(version);

    for (i = 0, len = 2; i < 3; i++) {
        n[i] = strlen(part[i]);
        len += n[i];
    }

    p = kochava_arena_alloc(msg->arena, len + 1);
    if (p == NULL) {
        return NULL;
    }

    for (i = 0, s = p; i < 3; i++) {
        memcpy(p, part[i], n[i]);
        p += n[i];
        *p++ = '-';
    }

    p[-1] = '\0';

    return kochava_json_string_ref(msg->arena, s, len);
}


/* a non-empty string (the value itself) or a number as a new string */

static kochava_json_t *
kochava_scalar_string(kochava_arena_t *arena, kochava_json_t *value)
{
    size_t  n;
    char    buf[KOCHAVA_NUMBER_LEN];

    if (kochava_json_is_string(value) && kochava_json_string_len(value)) {
        return value;
    }

    n = kochava_number_string(value, buf, sizeof(buf));

    return n ? kochava_json_stringn(arena, buf, n) : NULL;
}


/* does an identify carry anything to send? */

static int
kochava_identify_scalar(kochava_json_t *value)
{
    return kochava_json_is_string(value) || kochava_json_is_number(value)
           || kochava_json_is_boolean(value);
}


/*
 * identify and alias -> the body of an IdentityLink.  *nothing is set
 * (and NULL returned) for an identify with nothing to send.
 */

kochava_json_t *
kochava_rewrite_identity(const kochava_conf_t *conf,
    const kochava_req_t *req, kochava_msg_t *msg, int *nothing)
{
    char                    buf[KOCHAVA_NUMBER_LEN];
    size_t                  i;
    kochava_str_t           str;
    kochava_json_t         *root, *data, *traits, *value;
    kochava_arena_t        *arena;
    kochava_json_member_t  *m;

    *nothing = 0;

    arena = msg->arena;

    data = kochava_json_object(arena);
    root = kochava_json_object(arena);

    if (root == NULL || data == NULL) {
        goto failed;
    }

    if (msg->type == KOCHAVA_CALL_ALIAS) {
        if (!kochava_msg_id_string(kochava_json_get(msg->obj, "previousId"),
                                   buf, &str)
            || kochava_json_set(arena, data, "user_id",
                   kochava_json_stringn(arena, msg->user_id.data,
                                        msg->user_id.len)) != 0
            || kochava_json_set(arena, data, "previous_id",
                   kochava_json_stringn(arena, str.data, str.len)) != 0)
        {
            goto failed;
        }

    } else {
        traits = kochava_json_get(msg->obj, "traits");

        /* the keys are the message's: they outlive the tree */

        if (conf->identify_traits && kochava_json_is_object(traits)) {
            for (i = 0; i < kochava_json_count(traits); i++) {
                m = &traits->u.members[i];
                value = m->value;

                if (!kochava_identify_scalar(value)) {
                    continue;
                }

                if (kochava_json_setn(arena, data, m->key, m->key_len, value)
                    != 0)
                {
                    goto failed;
                }
            }
        }

        if (msg->user_id.data
            && kochava_json_set(arena, data, "user_id",
                   kochava_json_stringn(arena, msg->user_id.data,
                                        msg->user_id.len)) != 0)
        {
            goto failed;
        }

        if (kochava_json_count(data) == 0) {
            *nothing = 1;
            goto failed;
        }
    }

    if (kochava_json_set(arena, root, "data", data) != 0
        || kochava_json_set(arena, root, "kochava_app_id",
               kochava_json_checked_stringn(arena,
                                            req->app_id ? req->app_id : "",
                                            req->app_id_len)) != 0
        || kochava_json_set(arena, root, "device_id",
                            kochava_device_ids(msg)) != 0)
    {
        goto failed;
    }

    return root;

failed:

    return NULL;
}


/* whether an identify has anything to send, before the device rules */

int
kochava_identify_has_data(const kochava_conf_t *conf, kochava_msg_t *msg)
{
    size_t           i;
    kochava_json_t  *traits;

    if (msg->user_id.data) {
        return 1;
    }

    traits = kochava_json_get(msg->obj, "traits");

    if (!conf->identify_traits || !kochava_json_is_object(traits)) {
        return 0;
    }

    for (i = 0; i < kochava_json_count(traits); i++) {
        if (kochava_identify_scalar(traits->u.members[i].value)) {
            return 1;
        }
    }

    return 0;
}
