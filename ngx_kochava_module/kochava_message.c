
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * One message: the validation rules of ingest.md in their order (the
 * first that fails is the error), the batch envelope merged in (one level
 * deep, without copying), the clock-skew correction, the integrations
 * object, and Kochava's device requirements.
 */


#include <stdio.h>
#include <string.h>

#include "kochava_internal.h"


static kochava_json_t *kochava_msg_integration(kochava_msg_t *msg,
    const char *key);
static int kochava_msg_time(kochava_msg_t *msg, const char *name,
    kochava_json_t *value, int64_t *ms, int *present);
static int kochava_msg_string(kochava_json_t *value, kochava_str_t *out);
static kochava_platform_e kochava_platform(const char *name, size_t len);
static int kochava_all_zeros(const char *s, size_t len);


static const struct {
    const char               *name;
    size_t                    len;
    kochava_call_e            type;
} kochava_types[] = {
    { "track", 5, KOCHAVA_CALL_TRACK },
    { "identify", 8, KOCHAVA_CALL_IDENTIFY },
    { "page", 4, KOCHAVA_CALL_PAGE },
    { "screen", 6, KOCHAVA_CALL_SCREEN },
    { "group", 5, KOCHAVA_CALL_GROUP },
    { "alias", 5, KOCHAVA_CALL_ALIAS }
};


/* a key of the message's context, else of the batch's context */

kochava_json_t *
kochava_msg_context(kochava_msg_t *msg, const char *key)
{
    kochava_json_t  *value;

    if (msg->context) {
        value = kochava_json_get(msg->context, key);
        if (value) {
            return value;
        }
    }

    if (msg->batch_context) {
        return kochava_json_get(msg->batch_context, key);
    }

    return NULL;
}


static kochava_json_t *
kochava_msg_integration(kochava_msg_t *msg, const char *key)
{
    kochava_json_t  *value;

    if (msg->integrations) {
        value = kochava_json_get(msg->integrations, key);
        if (value) {
            return value;
        }
    }

    if (msg->batch_integrations) {
        return kochava_json_get(msg->batch_integrations, key);
    }

    return NULL;
}


/*
 * Whether the integrations object lets the message go to a destination:
 * its own key false -> no, true or an object -> yes, otherwise "All"
 * decides (false -> no), by default yes.  Names are case-sensitive.
 */

int
kochava_msg_enabled(kochava_msg_t *msg, const char *dest)
{
    kochava_json_t  *value;

    value = kochava_msg_integration(msg, dest);

    if (kochava_json_is_false(value)) {
        return 0;
    }

    if (kochava_json_is_true(value) || kochava_json_is_object(value)) {
        return 1;
    }

    value = kochava_msg_integration(msg, "All");

    return !kochava_json_is_false(value);
}


/*
 * An id: a non-empty string, or a number turned into its decimal string
 * (buf holds KOCHAVA_NUMBER_LEN bytes).  Returns 1, or 0 when missing.
 */

int
kochava_msg_id_string(kochava_json_t *value, char *buf, kochava_str_t *out)
{
    size_t  n;

    if (kochava_json_is_string(value)) {
        n = kochava_json_string_len(value);

        if (n == 0) {
            return 0;
        }

        out->data = kochava_json_string(value);
        out->len = n;

        return 1;
    }

    n = kochava_number_string(value, buf, KOCHAVA_NUMBER_LEN);

    if (n == 0) {
        return 0;
    }

    out->data = buf;
    out->len = n;

    return 1;
}


static int
kochava_msg_string(kochava_json_t *value, kochava_str_t *out)
{
    if (!kochava_json_is_string(value)
        || kochava_json_string_len(value) == 0)
    {
        return 0;
    }

    out->data = kochava_json_string(value);
    out->len = kochava_json_string_len(value);

    return 1;
}


/*
 * Rules 1 to 5 and the messageId, then the corrected timestamp.  msg->obj,
 * the envelope fields and msg->type (KOCHAVA_CALL_UNKNOWN for a batch
 * item: its "type" decides) are set by the caller.  Returns 0, or 1 with
 * the reason and msg->error.
 */

int
kochava_msg_prepare(kochava_msg_t *msg, const kochava_req_t *req,
    kochava_reason_e *reason)
{
    int              has_ts, has_orig, has_sent;
    char             buf[KOCHAVA_NUMBER_LEN];
    size_t           i, n;
    int64_t          ts, orig, sent;
    const char      *s;
    kochava_str_t    str;
    kochava_json_t  *obj, *value;

    obj = msg->obj;

    msg->message_id.data = NULL;
    msg->message_id.len = 0;
    msg->user_id.data = NULL;
    msg->user_id.len = 0;
    msg->anonymous_id.data = NULL;
    msg->anonymous_id.len = 0;
    msg->error[0] = '\0';

    /* 1. an object */

    if (!kochava_json_is_object(obj)) {
        *reason = KOCHAVA_REASON_NOT_OBJECT;
        strcpy(msg->error, "message is not a JSON object");
        return 1;
    }

    value = kochava_json_get(obj, "messageId");

    kochava_msg_id_string(value, msg->message_id_buf, &msg->message_id);

    value = kochava_json_get(obj, "context");
    msg->context = kochava_json_is_object(value) ? value : NULL;

    value = kochava_json_get(obj, "integrations");
    msg->integrations = kochava_json_is_object(value) ? value : NULL;

    /* 2. the type */

    if (msg->type == KOCHAVA_CALL_UNKNOWN) {
        value = kochava_json_get(obj, "type");

        if (kochava_json_is_string(value)) {
            s = kochava_json_string(value);
            n = kochava_json_string_len(value);

            for (i = 0; i < KOCHAVA_NTYPES; i++) {
                if (kochava_types[i].len == n
                    && memcmp(kochava_types[i].name, s, n) == 0)
                {
                    msg->type = kochava_types[i].type;
                    break;
                }
            }
        }

        if (msg->type == KOCHAVA_CALL_UNKNOWN) {
            *reason = KOCHAVA_REASON_TYPE;
            strcpy(msg->error, "type must be one of track, identify, page, "
                   "screen, group, alias");
            return 1;
        }
    }

    /* 3. an identity */

    kochava_msg_id_string(kochava_json_get(obj, "userId"), msg->user_id_buf,
                          &msg->user_id);
    kochava_msg_id_string(kochava_json_get(obj, "anonymousId"),
                          msg->anonymous_id_buf, &msg->anonymous_id);

    if (msg->user_id.data == NULL && msg->anonymous_id.data == NULL) {
        *reason = KOCHAVA_REASON_IDENTITY;
        strcpy(msg->error, "userId or anonymousId is required");
        return 1;
    }

    /* 4. what the type needs */

    *reason = KOCHAVA_REASON_FIELD;

    switch (msg->type) {

    case KOCHAVA_CALL_TRACK:
        value = kochava_json_get(obj, "event");

        if (value != NULL && !kochava_json_is_null(value)
            && !kochava_json_is_string(value))
        {
            strcpy(msg->error, "event must be a string");
            return 1;
        }

        if (!kochava_msg_string(value, &str)) {
            strcpy(msg->error, "event is required");
            return 1;
        }

        break;

    case KOCHAVA_CALL_GROUP:
        if (!kochava_msg_id_string(kochava_json_get(obj, "groupId"),
                                   buf, &str))
        {
            strcpy(msg->error, "groupId is required");
            return 1;
        }

        break;

    case KOCHAVA_CALL_ALIAS:
        if (!kochava_msg_id_string(kochava_json_get(obj, "previousId"),
                                   buf, &str))
        {
            strcpy(msg->error, "previousId is required");
            return 1;
        }

        if (msg->user_id.data == NULL) {
            strcpy(msg->error, "userId is required");
            return 1;
        }

        break;

    default:
        break;
    }

    /* 5. the timestamps */

    *reason = KOCHAVA_REASON_TIMESTAMP;

    if (kochava_msg_time(msg, "timestamp", kochava_json_get(obj, "timestamp"),
                         &ts, &has_ts) != 0
        || kochava_msg_time(msg, "originalTimestamp",
                            kochava_json_get(obj, "originalTimestamp"),
                            &orig, &has_orig) != 0
        || kochava_msg_time(msg, "sentAt", kochava_json_get(obj, "sentAt"),
                            &sent, &has_sent) != 0)
    {
        return 1;
    }

    if (!has_sent
        && kochava_msg_time(msg, "sentAt", msg->batch_sent_at, &sent,
                            &has_sent) != 0)
    {
        return 1;
    }

    /* the messageId */

    *reason = KOCHAVA_REASON_MESSAGE_ID;

    value = kochava_json_get(obj, "messageId");

    if (value != NULL && !kochava_json_is_null(value)
        && !kochava_json_is_string(value) && !kochava_json_is_number(value))
    {
        strcpy(msg->error, "messageId must be a string");
        return 1;
    }

    if (msg->message_id.data
        && kochava_utf8_length(msg->message_id.data, msg->message_id.len)
           > KOCHAVA_MESSAGE_ID_MAX)
    {
        snprintf(msg->error, sizeof(msg->error),
                 "messageId is longer than %d characters",
                 KOCHAVA_MESSAGE_ID_MAX);
        return 1;
    }

    /*
     * receivedAt - (sentAt - the client's time) when both are known; the
     * client's time is originalTimestamp, else timestamp; without sentAt
     * the timestamp is taken as it is (timestamp first: it is the one a
     * server library sets by hand); without either, receivedAt.
     */

    if (has_sent && (has_orig || has_ts)) {
        msg->timestamp_ms = req->received_ms - (sent - (has_orig ? orig : ts));

    } else if (has_ts) {
        msg->timestamp_ms = ts;

    } else if (has_orig) {
        msg->timestamp_ms = orig;

    } else {
        msg->timestamp_ms = req->received_ms;
    }

    return 0;
}


/* present: a string that parses; null counts as absent */

static int
kochava_msg_time(kochava_msg_t *msg, const char *name,
    kochava_json_t *value, int64_t *ms, int *present)
{
    *present = 0;

    if (value == NULL || kochava_json_is_null(value)) {
        return 0;
    }

    if (!kochava_json_is_string(value)
        || kochava_time_parse(kochava_json_string(value),
                              kochava_json_string_len(value), ms) != 0)
    {
        snprintf(msg->error, sizeof(msg->error),
                 "%s is not an ISO-8601 date-time", name);
        return 1;
    }

    *present = 1;

    return 0;
}


/*
 * Rule 6, Kochava's requirements: a platform, a device id, and an
 * advertising id unless ad tracking is off.  Fills the device fields of
 * msg.  Returns 0, or 1 with the reason and msg->error.
 */

int
kochava_msg_device(kochava_msg_t *msg, kochava_reason_e *reason)
{
    kochava_str_t    str;
    kochava_json_t  *device, *os, *type, *value;

    *reason = KOCHAVA_REASON_DEVICE;

    msg->platform = KOCHAVA_PLATFORM_NONE;
    msg->device_id.data = NULL;
    msg->device_id.len = 0;
    msg->advertising_id.data = NULL;
    msg->advertising_id.len = 0;
    msg->ad_tracking = 0;

    device = kochava_msg_context(msg, "device");
    if (!kochava_json_is_object(device)) {
        device = NULL;
    }

    msg->device = device;

    /* context.device.type decides; when it names no platform, the os */

    type = device ? kochava_json_get(device, "type") : NULL;

    if (kochava_json_is_string(type)) {
        msg->platform = kochava_platform(kochava_json_string(type),
                                         kochava_json_string_len(type));
    }

    if (msg->platform == KOCHAVA_PLATFORM_NONE) {
        os = kochava_msg_context(msg, "os");
        value = kochava_json_is_object(os) ? kochava_json_get(os, "name")
                                           : NULL;

        if (kochava_json_is_string(value)) {
            msg->platform = kochava_platform(kochava_json_string(value),
                                             kochava_json_string_len(value));
        }
    }

    if (msg->platform == KOCHAVA_PLATFORM_NONE) {
        strcpy(msg->error, "context.device.type (or context.os.name) must "
               "be ios, ipados, tvos, watchos, visionos or android");
        return 1;
    }

    if (device == NULL
        || !kochava_msg_string(kochava_json_get(device, "id"),
                               &msg->device_id))
    {
        strcpy(msg->error, "context.device.id is required");
        return 1;
    }

    if (!kochava_msg_string(kochava_json_get(device, "advertisingId"), &str)
        && !kochava_msg_string(kochava_json_get(device, "advertising_id"),
                               &str))
    {
        value = kochava_json_get(device, "adTrackingEnabled");

        if (!kochava_json_is_false(value)) {
            strcpy(msg->error, "context.device.advertisingId is required "
                   "when ad tracking is enabled");
            return 1;
        }

    } else if (!kochava_all_zeros(str.data, str.len)) {
        msg->advertising_id = str;
    }

    value = kochava_json_get(device, "adTrackingEnabled");

    msg->ad_tracking = kochava_json_is_true(value);

    return 0;
}


/*
 * The platform a device.type or an os.name names, in any case: Apple's
 * (IDFA and IDFV) or Android.
 */

static kochava_platform_e
kochava_platform(const char *name, size_t len)
{
    size_t  i;

    static const char  *apple[] = {
        "ios", "ipados", "tvos", "watchos", "visionos"
    };

    for (i = 0; i < sizeof(apple) / sizeof(apple[0]); i++) {
        if (kochava_strcaseeq(name, len, apple[i])) {
            return KOCHAVA_PLATFORM_IOS;
        }
    }

    if (kochava_strcaseeq(name, len, "android")) {
        return KOCHAVA_PLATFORM_ANDROID;
    }

    return KOCHAVA_PLATFORM_NONE;
}


/* an advertising id of limited ad tracking: only zeros once dashes go */

static int
kochava_all_zeros(const char *s, size_t len)
{
    size_t  i, zeros;

    zeros = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '0') {
            zeros++;

        } else if (s[i] != '-') {
            return 0;
        }
    }

    return zeros > 0;
}
