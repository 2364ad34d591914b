
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Attribution postbacks from Kochava and Tune (braze.md): query strings,
 * forms or JSON objects, turned into at most one Braze /users/track body.
 */


#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "kochava_internal.h"


/* the parameters read, in the same order for both partners */
typedef enum {
    KOCHAVA_PB_SOURCE = 0,
    KOCHAVA_PB_CAMPAIGN,
    KOCHAVA_PB_ADGROUP,
    KOCHAVA_PB_AD,
    KOCHAVA_PB_BRAZE_ID,
    KOCHAVA_PB_EXTERNAL_ID,
    KOCHAVA_PB_ALIAS,
    KOCHAVA_PB_N
} kochava_pb_field_e;


/* the arena of one postback: its parsed JSON, if any, and the Braze body */
#define KOCHAVA_PB_ARENA_SIZE  4096


/*
 * The work is bounded: the parameters are at most conf->max_message_size
 * bytes, and only the first KOCHAVA_PB_MAX_PARAMS of them are looked at
 * (pairs of a form or query string, empty ones included; members of a
 * JSON object).  A partner sends about ten.
 */
#define KOCHAVA_PB_MAX_PARAMS  64


typedef struct {
    kochava_str_t             value[KOCHAVA_PB_N];
    char                      number[KOCHAVA_PB_N][KOCHAVA_NUMBER_LEN];
} kochava_pb_params_t;


static const char  *kochava_pb_names[2][KOCHAVA_PB_N] = {
    { "network", "campaign", "adgroup", "creative",
      "braze_id", "external_id", "device_id" },
    { "advertiser_sub_publisher", "advertiser_sub_campaign",
      "advertiser_sub_adgroup", "advertiser_sub_ad",
      "braze_id", "external_id", "user_id" }
};

static const char  *kochava_pb_alias_labels[2] = {
    "kochava_device_id", "braze_install_tracking_id"
};

static const char  *kochava_pb_providers[2] = { "Kochava", "Tune" };


static int kochava_pb_install(kochava_arena_t *arena, kochava_pb_params_t *pb,
    kochava_postback_e source, int64_t received_ms,
    kochava_braze_install_t *in);
static int kochava_pb_field(kochava_postback_e source, const char *name,
    size_t len);
static void kochava_pb_keep(kochava_pb_params_t *pb, int field,
    const char *value, size_t len);
static size_t kochava_pb_decode(const char *s, size_t len, char *out);
static int kochava_pb_hex(int c);
static void kochava_pb_form(kochava_postback_e source, const char *params,
    size_t len, char *buf, kochava_pb_params_t *pb);
static int kochava_pb_json(kochava_arena_t *arena, kochava_postback_e source,
    const char *params, size_t len, kochava_pb_params_t *pb, char *err,
    size_t errlen);
static int kochava_pb_string(kochava_arena_t *arena, kochava_str_t *value,
    kochava_json_t **out);
static int kochava_pb_send(kochava_arena_t *arena,
    const kochava_allocator_t *a, kochava_braze_install_t *in,
    kochava_result_t *res);
static int kochava_pb_reject(const kochava_allocator_t *a,
    kochava_postback_e source, kochava_result_t *res);


int
kochava_postback(const kochava_conf_t *conf, kochava_postback_e source,
    int json, const char *params, size_t len, int64_t received_ms,
    const kochava_allocator_t *a, kochava_result_t *res, char *err,
    size_t errlen)
{
    int                       rc;
    char                     *buf;
    kochava_arena_t          *arena;
    kochava_pb_params_t       pb;
    kochava_braze_install_t   in;

    memset(res, 0, sizeof(kochava_result_t));
    memset(&pb, 0, sizeof(kochava_pb_params_t));
    kochava_braze_zero(&in);

    if (len > conf->max_message_size) {
        snprintf(err, errlen, "Postback too large (limit %zu bytes)",
                 conf->max_message_size);
        return 400;
    }

    arena = kochava_arena_create(KOCHAVA_PB_ARENA_SIZE);
    if (arena == NULL) {
        return -1;
    }

    buf = NULL;

    if (json) {
        rc = kochava_pb_json(arena, source, params, len, &pb, err, errlen);
        if (rc != 0) {
            goto done;
        }

    } else {
        buf = malloc(len + 1);
        if (buf == NULL) {
            rc = -1;
            goto done;
        }

        kochava_pb_form(source, params, len, buf, &pb);
    }

    res->messages = 1;
    res->received[KOCHAVA_CALL_TRACK] = 1;

    rc = kochava_pb_install(arena, &pb, source, received_ms, &in);
    if (rc != 0) {
        goto done;
    }

    /* organic: answered, even without a user key, so it is not retried */

    if (kochava_braze_organic(in.source)) {
        res->accepted = 1;
        res->skipped = 1;
        res->braze_organic = 1;
        goto done;
    }

    res->braze_attributed = 1;

    if (in.id == NULL) {
        rc = kochava_pb_reject(a, source, res);
        goto done;
    }

    res->accepted = 1;

    if (!conf->braze) {
        res->skipped = 1;
        goto done;
    }

    rc = kochava_pb_send(arena, a, &in, res);

done:

    kochava_arena_destroy(arena);
    free(buf);

    return rc;
}


/*
 * The neutral install of kochava_braze.c: every value kept, as a JSON
 * string; the user key, first present wins: braze_id, external_id, or an
 * alias of the partner's own id (in->id stays NULL when there is none).
 * 0, or -1 on allocation failure.
 */

static int
kochava_pb_install(kochava_arena_t *arena, kochava_pb_params_t *pb,
    kochava_postback_e source, int64_t received_ms,
    kochava_braze_install_t *in)
{
    int          key;
    const char  *provider;

    if (pb->value[KOCHAVA_PB_BRAZE_ID].data) {
        key = KOCHAVA_PB_BRAZE_ID;
        in->key = "braze_id";

    } else if (pb->value[KOCHAVA_PB_EXTERNAL_ID].data) {
        key = KOCHAVA_PB_EXTERNAL_ID;
        in->key = "external_id";

    } else {
        key = KOCHAVA_PB_ALIAS;
        in->alias_label = kochava_pb_alias_labels[source];
    }

    in->time_ms = received_ms;

    /* a literal: not copied */
    provider = kochava_pb_providers[source];
    in->provider = kochava_json_string_ref(arena, provider, strlen(provider));

    if (in->provider == NULL
        || kochava_pb_string(arena, &pb->value[key], &in->id) != 0
        || kochava_pb_string(arena, &pb->value[KOCHAVA_PB_SOURCE],
                             &in->source) != 0
        || kochava_pb_string(arena, &pb->value[KOCHAVA_PB_CAMPAIGN],
                             &in->campaign) != 0
        || kochava_pb_string(arena, &pb->value[KOCHAVA_PB_ADGROUP],
                             &in->adgroup) != 0
        || kochava_pb_string(arena, &pb->value[KOCHAVA_PB_AD], &in->ad) != 0)
    {
        return -1;
    }

    return 0;
}


/* which field a parameter name is, or -1 */

static int
kochava_pb_field(kochava_postback_e source, const char *name, size_t len)
{
    int  i;

    for (i = 0; i < KOCHAVA_PB_N; i++) {
        if (strlen(kochava_pb_names[source][i]) == len
            && memcmp(kochava_pb_names[source][i], name, len) == 0)
        {
            return i;
        }
    }

    return -1;
}


/*
 * Keeps a value unless it is empty, a macro the partner left unexpanded
 * (the whole value is "{...}" with no brace inside, e.g. "{user_id}") or
 * not UTF-8: the first value kept of a parameter wins.
 */

static void
kochava_pb_keep(kochava_pb_params_t *pb, int field, const char *value,
    size_t len)
{
    if (field < 0 || pb->value[field].data != NULL || len == 0) {
        return;
    }

    if (len >= 2 && value[0] == '{' && value[len - 1] == '}'
        && memchr(value + 1, '{', len - 2) == NULL
        && memchr(value + 1, '}', len - 2) == NULL)
    {
        return;
    }

    if (!kochava_json_utf8_valid(value, len)) {
        return;
    }

    pb->value[field].data = value;
    pb->value[field].len = len;
}


/* "a=1&b=%7Bx%7D": names and values decoded once, into buf */

static void
kochava_pb_form(kochava_postback_e source, const char *params, size_t len,
    char *buf, kochava_pb_params_t *pb)
{
    int          field;
    size_t       name_len, value_len, count;
    const char  *p, *end, *amp, *eq;

    p = params;
    end = params + len;
    count = 0;

    while (p < end && count++ < KOCHAVA_PB_MAX_PARAMS) {
        amp = memchr(p, '&', end - p);
        if (amp == NULL) {
            amp = end;
        }

        eq = memchr(p, '=', amp - p);

        if (eq != NULL) {
            name_len = kochava_pb_decode(p, eq - p, buf);
            field = kochava_pb_field(source, buf, name_len);

            if (field >= 0) {
                value_len = kochava_pb_decode(eq + 1, amp - (eq + 1), buf);
                kochava_pb_keep(pb, field, buf, value_len);
                buf += value_len;
            }
        }

        p = amp + 1;
    }
}


/* URL decoding, once: %XX and '+'; a broken escape is kept as it is */

static size_t
kochava_pb_decode(const char *s, size_t len, char *out)
{
    int     hi, lo;
    size_t  i, n;

    for (i = 0, n = 0; i < len; i++) {

        if (s[i] == '+') {
            out[n++] = ' ';
            continue;
        }

        if (s[i] == '%' && i + 2 < len) {
            hi = kochava_pb_hex(s[i + 1]);
            lo = kochava_pb_hex(s[i + 2]);

            if (hi >= 0 && lo >= 0) {
                out[n++] = (char) (hi << 4 | lo);
                i += 2;
                continue;
            }
        }

        out[n++] = s[i];
    }

    return n;
}


static int
kochava_pb_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/*
 * A JSON object: strings as they are, numbers as their strings.  The tree
 * lives in the arena, so the values kept point into it until the end.
 */

static int
kochava_pb_json(kochava_arena_t *arena, kochava_postback_e source,
    const char *params, size_t len, kochava_pb_params_t *pb, char *err,
    size_t errlen)
{
    int                     rc, field;
    size_t                  i, n, count;
    kochava_json_t         *root, *value;
    kochava_json_member_t  *m;

    rc = kochava_json_parse(arena, params, len, 0, KOCHAVA_PARSER_MAX_DEPTH,
                            &root);

    if (rc == KOCHAVA_JSON_INVALID || rc == KOCHAVA_JSON_TOO_DEEP) {
        kochava_json_error(params, len, err, errlen);
        return 400;
    }

    if (rc != 0) {
        return -1;
    }

    if (!kochava_json_is_object(root)) {
        snprintf(err, errlen, "Invalid JSON: body is not an object");
        return 400;
    }

    count = kochava_json_count(root);

    if (count > KOCHAVA_PB_MAX_PARAMS) {
        count = KOCHAVA_PB_MAX_PARAMS;
    }

    for (i = 0; i < count; i++) {
        m = &root->u.members[i];
        value = m->value;

        /* strlen(), as with jansson: the parser refuses NUL in a key */

        field = kochava_pb_field(source, m->key, strlen(m->key));

        if (field < 0) {
            continue;
        }

        if (kochava_json_is_string(value)) {
            kochava_pb_keep(pb, field, kochava_json_string(value),
                            kochava_json_string_len(value));
            continue;
        }

        n = kochava_number_string(value, pb->number[field],
                                  KOCHAVA_NUMBER_LEN);
        kochava_pb_keep(pb, field, pb->number[field], n);
    }

    return 0;
}


/*
 * A value kept (valid UTF-8, checked by kochava_pb_keep()) as a JSON
 * string, copied into the arena: 0, or -1 without memory.
 */

static int
kochava_pb_string(kochava_arena_t *arena, kochava_str_t *value,
    kochava_json_t **out)
{
    if (value->data == NULL) {
        return 0;
    }

    *out = kochava_json_stringn(arena, value->data, value->len);

    return *out ? 0 : -1;
}


static int
kochava_pb_send(kochava_arena_t *arena, const kochava_allocator_t *a,
    kochava_braze_install_t *in, kochava_result_t *res)
{
    kochava_json_t        *body;
    kochava_out_t         *out;
    kochava_braze_item_t   item;

    if (kochava_braze_item(arena, in, &item) != 0) {
        return -1;
    }

    body = kochava_braze_body(arena, &item, 1);

    if (body == NULL) {
        return -1;
    }

    out = a->alloc(a->data, sizeof(kochava_out_t));
    if (out == NULL) {
        return -1;
    }

    memset(out, 0, sizeof(kochava_out_t));

    out->dest = KOCHAVA_DEST_BRAZE;
    out->count = 1;
    out->type = KOCHAVA_CALL_TRACK;
    out->body = kochava_json_dump(body, a, &out->len);

    if (out->body == NULL) {
        return -1;
    }

    res->outs = out;
    res->nouts = 1;

    return 0;
}


static int
kochava_pb_reject(const kochava_allocator_t *a, kochava_postback_e source,
    kochava_result_t *res)
{
    char               text[160];
    kochava_reject_t  *reject;

    reject = a->alloc(a->data, sizeof(kochava_reject_t));
    if (reject == NULL) {
        return -1;
    }

    snprintf(text, sizeof(text),
             "no user key: braze_id, external_id or %s is required",
             kochava_pb_names[source][KOCHAVA_PB_ALIAS]);

    memset(reject, 0, sizeof(kochava_reject_t));

    reject->reason = KOCHAVA_REASON_BRAZE_USER;
    reject->error = kochava_strndup(a, text, strlen(text));

    if (reject->error == NULL) {
        return -1;
    }

    res->rejects = reject;
    res->rejected = 1;

    return 0;
}
