
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * The rewrite of kochava.md: a validated message -> the body of a Kochava
 * event or install, or of an IdentityLink.  Values of the message are
 * shared with the output (reference counts), never copied deeply.
 */


#include <stdlib.h>
#include <string.h>

#include "kochava_internal.h"


#define KOCHAVA_UA_STACK  512


static json_t *kochava_event_data(json_t *props);
static json_t *kochava_device_ver(kochava_msg_t *msg);
static json_t *kochava_user_agent(kochava_msg_t *msg);
static json_t *kochava_scalar_string(json_t *value);
static int kochava_reserved(const char *key, size_t len);
static int kochava_identify_scalar(json_t *value);


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

json_t *
kochava_device_ids(kochava_msg_t *msg)
{
    json_t  *ids;

    ids = json_object();
    if (ids == NULL) {
        return NULL;
    }

    if (msg->platform == KOCHAVA_PLATFORM_IOS) {
        if (msg->advertising_id.data
            && json_object_set_new_nocheck(ids, "idfa",
                   json_stringn_nocheck(msg->advertising_id.data,
                                        msg->advertising_id.len)) != 0)
        {
            goto failed;
        }

        if (msg->device_id.data
            && json_object_set_new_nocheck(ids, "idfv",
                   json_stringn_nocheck(msg->device_id.data,
                                        msg->device_id.len)) != 0)
        {
            goto failed;
        }

    } else if (msg->platform == KOCHAVA_PLATFORM_ANDROID) {
        if (msg->advertising_id.data
            && json_object_set_new_nocheck(ids, "adid",
                   json_stringn_nocheck(msg->advertising_id.data,
                                        msg->advertising_id.len)) != 0)
        {
            goto failed;
        }

        if (msg->device_id.data
            && json_object_set_new_nocheck(ids, "android_id",
                   json_stringn_nocheck(msg->device_id.data,
                                        msg->device_id.len)) != 0)
        {
            goto failed;
        }
    }

    return ids;

failed:

    json_decref(ids);

    return NULL;
}


/*
 * track (but "Install Attributed"), page, screen and group -> the body of
 * a Kochava event, or of an install for "Application Installed".
 */

json_t *
kochava_rewrite_event(const kochava_conf_t *conf, const kochava_req_t *req,
    kochava_msg_t *msg)
{
    int             install;
    char           *p, buf[KOCHAVA_NUMBER_LEN];
    size_t          n, i;
    json_t         *root, *data, *obj, *value, *props, *name, *event_data;
    json_t         *app, *att;
    const char     *s;
    kochava_str_t   str, device;

    obj = msg->obj;
    install = 0;
    name = NULL;
    event_data = NULL;

    root = json_object();
    data = json_object();

    if (root == NULL || data == NULL) {
        goto failed;
    }

    if (msg->type == KOCHAVA_CALL_TRACK) {
        value = json_object_get(obj, "event");

        install = (json_string_length(value)
                   == sizeof("Application Installed") - 1
                   && memcmp(json_string_value(value),
                             "Application Installed",
                             sizeof("Application Installed") - 1) == 0);
    }

    device = msg->device_id.data ? msg->device_id : msg->anonymous_id;

    if (json_object_set_new_nocheck(root, "action",
                                    json_string_nocheck(install ? "install"
                                                                : "event"))
        != 0
        || json_object_set_new_nocheck(root, "kochava_app_id",
               json_stringn(req->app_id ? req->app_id : "", req->app_id_len))
           != 0
        || json_object_set_new_nocheck(root, "kochava_device_id",
               json_stringn_nocheck(device.data, device.len)) != 0
        || json_object_set_nocheck(root, "data", data) != 0)
    {
        goto failed;
    }

    /* the common fields */

    if (json_object_set_new_nocheck(data, "device_ids",
                                    kochava_device_ids(msg)) != 0)
    {
        goto failed;
    }

    value = kochava_msg_context(msg, "ip");

    if (json_is_string(value) && json_string_length(value)) {
        if (json_object_set_nocheck(data, "origination_ip", value) != 0) {
            goto failed;
        }

    } else if (json_object_set_new_nocheck(data, "origination_ip",
                   json_stringn(req->client_ip ? req->client_ip : "",
                                req->client_ip_len)) != 0)
    {
        goto failed;
    }

    if (json_object_set_new_nocheck(data, "device_ua",
                                    kochava_user_agent(msg)) != 0
        || json_object_set_new_nocheck(data, "device_ver",
                                       kochava_device_ver(msg)) != 0)
    {
        goto failed;
    }

    app = kochava_msg_context(msg, "app");
    value = json_is_object(app) ? json_object_get(app, "version") : NULL;

    if (json_is_string(value)) {
        if (json_object_set_nocheck(data, "app_version", value) != 0) {
            goto failed;
        }

    } else if (json_is_number(value)) {
        n = kochava_number_string(value, buf, sizeof(buf));

        if (n && json_object_set_new_nocheck(data, "app_version",
                     json_stringn_nocheck(buf, n)) != 0)
        {
            goto failed;
        }
    }

    if (json_object_set_new_nocheck(data, "usertime",
            json_integer(kochava_floor_div(msg->timestamp_ms, 1000))) != 0)
    {
        goto failed;
    }

    if (msg->platform == KOCHAVA_PLATFORM_IOS) {
        att = json_object();

        if (att == NULL
            || json_object_set_new_nocheck(data, "app_tracking_transparency",
                                           att) != 0
            || json_object_set_new_nocheck(att, "att",
                   json_boolean(msg->ad_tracking
                                && msg->advertising_id.data)) != 0)
        {
            goto failed;
        }
    }

    if (install) {
        json_decref(data);
        return root;
    }

    /* per type: the name and the data of the event */

    switch (msg->type) {

    case KOCHAVA_CALL_TRACK:
        value = json_object_get(obj, "event");
        s = json_string_value(value);
        n = json_string_length(value);

        if (kochava_name_lookup(conf, s, n, &str)) {
            name = json_stringn_nocheck(str.data, str.len);

        } else {
            name = json_incref(value);
        }

        props = json_object_get(obj, "properties");
        event_data = kochava_event_data(props);

        if (event_data == NULL) {
            goto failed;
        }

        if (json_is_object(props)) {
            value = json_object_get(props, "revenue");

            if (json_is_number(value)
                && json_object_get(props, "sum") == NULL
                && json_object_set_nocheck(event_data, "sum", value) != 0)
            {
                goto failed;
            }

            value = json_object_get(props, "currency");

            if (json_is_string(value)) {
                value = json_stringn_nocheck(json_string_value(value),
                                             json_string_length(value));
                if (value == NULL) {
                    goto failed;
                }

                /* ours: upper-cased in place (ASCII keeps UTF-8 valid) */

                p = (char *) json_string_value(value);
                n = json_string_length(value);

                for (i = 0; i < n; i++) {
                    if (p[i] >= 'a' && p[i] <= 'z') {
                        p[i] = (char) (p[i] - 'a' + 'A');
                    }
                }

                if (json_object_set_new_nocheck(data, "currency", value)
                    != 0)
                {
                    goto failed;
                }
            }
        }

        break;

    case KOCHAVA_CALL_PAGE:
    case KOCHAVA_CALL_SCREEN:
        value = json_object_get(obj, "name");
        s = (msg->type == KOCHAVA_CALL_PAGE) ? "Page" : "Screen";

        if (kochava_msg_id_string(value, buf, &str)) {
            name = json_sprintf("Viewed %.*s %s", (int) str.len, str.data,
                                s);

        } else {
            name = json_sprintf("Loaded a %s", s);
        }

        event_data = kochava_event_data(json_object_get(obj, "properties"));
        if (event_data == NULL) {
            goto failed;
        }

        if (value != NULL && !json_is_null(value)
            && json_object_set_nocheck(event_data, "name", value) != 0)
        {
            goto failed;
        }

        value = json_object_get(obj, "category");

        if (value != NULL && !json_is_null(value)
            && json_object_set_nocheck(event_data, "category", value) != 0)
        {
            goto failed;
        }

        break;

    case KOCHAVA_CALL_GROUP:
        name = json_string_nocheck("Group");

        event_data = kochava_event_data(json_object_get(obj, "traits"));
        if (event_data == NULL) {
            goto failed;
        }

        if (!kochava_msg_id_string(json_object_get(obj, "groupId"), buf,
                                   &str)
            || json_object_set_new_nocheck(event_data, "group_id",
                   json_stringn_nocheck(str.data, str.len)) != 0)
        {
            goto failed;
        }

        break;

    default:
        goto failed;
    }

    if (json_object_set_new_nocheck(data, "event_name", name) != 0) {
        name = NULL;
        goto failed;
    }

    name = NULL;

    if (json_object_set_new_nocheck(data, "event_data", event_data) != 0) {
        event_data = NULL;
        goto failed;
    }

    json_decref(data);

    return root;

failed:

    json_decref(name);
    json_decref(event_data);
    json_decref(data);
    json_decref(root);

    return NULL;
}


/* properties (or traits) with Kochava's reserved keys renamed */

static json_t *
kochava_event_data(json_t *props)
{
    int          r;
    void        *it;
    json_t      *data;
    size_t       len;
    const char  *key;

    data = json_object();

    if (data == NULL || !json_is_object(props)) {
        return data;
    }

    for (it = json_object_iter(props); it;
         it = json_object_iter_next(props, it))
    {
        key = json_object_iter_key(it);
        len = json_object_iter_key_len(it);

        r = kochava_reserved(key, len);

        if (r >= 0) {
            key = kochava_reserved_keys[r].renamed;
            len = kochava_reserved_keys[r].len + 8;
        }

        if (json_object_setn_nocheck(data, key, len,
                                     json_object_iter_value(it)) != 0)
        {
            json_decref(data);
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

static json_t *
kochava_user_agent(kochava_msg_t *msg)
{
    char    *p, buf[KOCHAVA_UA_STACK * 3];
    size_t   len, n;
    json_t  *value, *ua;

    value = kochava_msg_context(msg, "userAgent");

    if (!json_is_string(value)) {
        return json_string_nocheck("");
    }

    len = json_string_length(value);

    if (len <= KOCHAVA_UA_STACK) {
        n = kochava_uri_encode(json_string_value(value), len, buf);
        return json_stringn_nocheck(buf, n);
    }

    p = malloc(len * 3);
    if (p == NULL) {
        return NULL;
    }

    n = kochava_uri_encode(json_string_value(value), len, p);
    ua = json_stringn_nocheck(p, n);

    free(p);

    return ua;
}


/* "<model>-<os name>-<os version>", "" without a model or an os version */

static json_t *
kochava_device_ver(kochava_msg_t *msg)
{
    json_t      *os, *model, *name, *version, *ver;
    const char  *s;

    os = kochava_msg_context(msg, "os");

    if (!json_is_object(msg->device) || !json_is_object(os)) {
        return json_string_nocheck("");
    }

    model = kochava_scalar_string(json_object_get(msg->device, "model"));
    version = kochava_scalar_string(json_object_get(os, "version"));
    name = kochava_scalar_string(json_object_get(os, "name"));

    if (model == NULL || version == NULL) {
        ver = json_string_nocheck("");
        goto done;
    }

    s = name ? json_string_value(name) : "";

    ver = json_sprintf("%s-%s-%s", json_string_value(model), s,
                       json_string_value(version));

done:

    json_decref(model);
    json_decref(version);
    json_decref(name);

    return ver;
}


/* a non-empty string (a new reference) or a number as a new string */

static json_t *
kochava_scalar_string(json_t *value)
{
    size_t  n;
    char    buf[KOCHAVA_NUMBER_LEN];

    if (json_is_string(value) && json_string_length(value)) {
        return json_incref(value);
    }

    n = kochava_number_string(value, buf, sizeof(buf));

    return n ? json_stringn_nocheck(buf, n) : NULL;
}


/* does an identify carry anything to send? */

static int
kochava_identify_scalar(json_t *value)
{
    return json_is_string(value) || json_is_number(value)
           || json_is_boolean(value);
}


/*
 * identify and alias -> the body of an IdentityLink.  *nothing is set
 * (and NULL returned) for an identify with nothing to send.
 */

json_t *
kochava_rewrite_identity(const kochava_conf_t *conf,
    const kochava_req_t *req, kochava_msg_t *msg, int *nothing)
{
    char            buf[KOCHAVA_NUMBER_LEN];
    void           *it;
    json_t         *root, *data, *traits, *value;
    kochava_str_t   str;

    *nothing = 0;

    data = json_object();
    root = json_object();

    if (root == NULL || data == NULL) {
        goto failed;
    }

    if (msg->type == KOCHAVA_CALL_ALIAS) {
        if (!kochava_msg_id_string(json_object_get(msg->obj, "previousId"),
                                   buf, &str)
            || json_object_set_new_nocheck(data, "user_id",
                   json_stringn_nocheck(msg->user_id.data, msg->user_id.len))
               != 0
            || json_object_set_new_nocheck(data, "previous_id",
                   json_stringn_nocheck(str.data, str.len)) != 0)
        {
            goto failed;
        }

    } else {
        traits = json_object_get(msg->obj, "traits");

        if (conf->identify_traits && json_is_object(traits)) {
            for (it = json_object_iter(traits); it;
                 it = json_object_iter_next(traits, it))
            {
                value = json_object_iter_value(it);

                if (!kochava_identify_scalar(value)) {
                    continue;
                }

                if (json_object_setn_nocheck(data, json_object_iter_key(it),
                                             json_object_iter_key_len(it),
                                             value) != 0)
                {
                    goto failed;
                }
            }
        }

        if (msg->user_id.data
            && json_object_set_new_nocheck(data, "user_id",
                   json_stringn_nocheck(msg->user_id.data, msg->user_id.len))
               != 0)
        {
            goto failed;
        }

        if (json_object_size(data) == 0) {
            *nothing = 1;
            goto failed;
        }
    }

    if (json_object_set_new_nocheck(root, "data", data) != 0) {
        data = NULL;
        goto failed;
    }

    data = NULL;

    if (json_object_set_new_nocheck(root, "kochava_app_id",
            json_stringn(req->app_id ? req->app_id : "", req->app_id_len))
        != 0
        || json_object_set_new_nocheck(root, "device_id",
                                       kochava_device_ids(msg)) != 0)
    {
        goto failed;
    }

    return root;

failed:

    json_decref(data);
    json_decref(root);

    return NULL;
}


/* whether an identify has anything to send, before the device rules */

int
kochava_identify_has_data(const kochava_conf_t *conf, kochava_msg_t *msg)
{
    void    *it;
    json_t  *traits;

    if (msg->user_id.data) {
        return 1;
    }

    traits = json_object_get(msg->obj, "traits");

    if (!conf->identify_traits || !json_is_object(traits)) {
        return 0;
    }

    for (it = json_object_iter(traits); it;
         it = json_object_iter_next(traits, it))
    {
        if (kochava_identify_scalar(json_object_iter_value(it))) {
            return 1;
        }
    }

    return 0;
}
