
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * One spool record, one line:
 *
 *   {"dest":"kochava","uri":"/_kochava/track","body":{...},"attempts":1,
 *    "first_failed":1796000000,"last_error":"503"}
 *
 * jansson checks that the line is one valid JSON object (no duplicate
 * keys) and reads the scalar fields; a small scanner then finds the raw
 * bytes of each member, so the body is sent exactly as the module wrote it
 * and a rewritten record keeps every other member byte for byte.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "replay.h"


typedef struct {
    const char               *key;       /* without the quotes */
    size_t                    key_len;
    const char               *start;     /* "key": value */
    const char               *value;
    const char               *end;       /* after the value */
} replay_member_t;


static const char *replay_skip_ws(const char *p, const char *end);
static const char *replay_skip_string(const char *p, const char *end);
static const char *replay_skip_value(const char *p, const char *end);
static int replay_next_member(const char **pp, const char *end,
    replay_member_t *m);
static int replay_key_is(const replay_member_t *m, const char *key);
static size_t replay_escape(char *out, const char *s);
static void replay_copy_error(char *dst, const char *src);
static long long replay_clamp(long long n, long long min, long long max);


#define REPLAY_MAX_ATTEMPTS  1000000000LL
#define REPLAY_MAX_TIME      (1LL << 40)    /* epoch s, year 36812 */


static const char  *replay_dest_labels[KOCHAVA_NDESTS] = {
    "kochava", "kochava_identity", "braze"
};


const char *
replay_dest_label(kochava_dest_e dest)
{
    return replay_dest_labels[dest];
}


/*
 * Returns 0 with the record's fields set, 1 for valid JSON that is not a
 * usable record (err says why: it goes to the dead letter file as it is),
 * -1 for a line that is not one JSON value (torn: skipped).
 */
int
replay_record_parse(replay_record_t *rec, char *err, size_t errlen)
{
    int               found;
    json_t           *root, *v;
    const char       *p, *end, *s;
    json_error_t      error;
    replay_member_t   m;
    kochava_dest_e    d;

    root = json_loadb(rec->line, rec->len, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) {
        snprintf(err, errlen, "not JSON: %s", error.text);
        return -1;
    }

    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(err, errlen, "not an object");
        return 1;
    }

    v = json_object_get(root, "dest");
    s = json_is_string(v) ? json_string_value(v) : "";
    found = 0;

    for (d = 0; d < KOCHAVA_NDESTS; d++) {
        if (strcmp(s, replay_dest_labels[d]) == 0) {
            rec->dest = d;
            found = 1;
        }
    }

    if (!found) {
        json_decref(root);
        snprintf(err, errlen, "no known \"dest\"");
        return 1;
    }

    /* clamped: no arithmetic on them can overflow */

    v = json_object_get(root, "attempts");
    rec->attempts = json_is_integer(v) ? json_integer_value(v) : 0;
    rec->attempts = replay_clamp(rec->attempts, 0, REPLAY_MAX_ATTEMPTS);

    v = json_object_get(root, "first_failed");
    if (!json_is_integer(v)) {
        json_decref(root);
        snprintf(err, errlen, "no integer \"first_failed\"");
        return 1;
    }
    rec->first_failed = replay_clamp(json_integer_value(v), 0,
                                     REPLAY_MAX_TIME);

    v = json_object_get(root, "last_error");
    if (json_is_string(v)) {
        replay_copy_error(rec->error, json_string_value(v));
    }

    v = json_object_get(root, "not_before");
    rec->not_before = json_is_integer(v) ? json_integer_value(v) : 0;
    rec->not_before = replay_clamp(rec->not_before, 0, REPLAY_MAX_TIME);

    /* a journal record (the module marks it done by this id) */

    v = json_object_get(root, "id");
    rec->id = json_is_integer(v) ? json_integer_value(v) : -1;

    v = json_object_get(root, "body");
    found = (v != NULL);

    json_decref(root);

    if (!found) {
        snprintf(err, errlen, "no \"body\"");
        return 1;
    }

    /* the raw bytes of "body" (a key written with escapes is not found) */

    p = rec->line;
    end = rec->line + rec->len;
    rec->body = NULL;

    while (replay_next_member(&p, end, &m) == 0) {
        if (replay_key_is(&m, "body")) {
            rec->body = m.value;
            rec->body_len = m.end - m.value;
            break;
        }
    }

    if (rec->body == NULL) {
        snprintf(err, errlen, "\"body\" not found by the scanner");
        return 1;
    }

    return 0;
}


/*
 * The record as it goes back to the spool (REPLAY_RETRY: attempts + 1,
 * last_error, not_before) or to the dead letter file (also "dead" and
 * "dead_at").  Members are kept in their order and bytes; the changed
 * ones are replaced where they are, the missing ones appended.  Returns a
 * malloc()ed line with its '\n', or NULL on allocation failure.
 */
char *
replay_record_format(const replay_record_t *rec, int64_t now_ms,
    size_t *len)
{
    int               i, n, done[5];
    char             *out, *q, value[5][6 * REPLAY_ERROR_LEN + 32];
    const char       *p, *end;
    replay_member_t   m;

    static const char  *keys[5] = {
        "attempts", "last_error", "not_before", "dead", "dead_at"
    };

    n = 0;

    if (rec->state != REPLAY_DEAD_AGE) {
        snprintf(value[0], sizeof(value[0]), "%lld", rec->attempts + 1);

    } else {
        snprintf(value[0], sizeof(value[0]), "%lld", rec->attempts);
    }

    value[1][0] = '"';
    q = value[1] + 1 + replay_escape(value[1] + 1, rec->error);
    q[0] = '"';
    q[1] = '\0';

    value[2][0] = '\0';
    value[3][0] = '\0';
    value[4][0] = '\0';

    switch (rec->state) {

    case REPLAY_RETRY:
        snprintf(value[2], sizeof(value[2]), "%lld",
                 (long long) (rec->retry_at_ms / 1000));
        n = 3;
        break;

    case REPLAY_DEAD:
        snprintf(value[3], sizeof(value[3]), "\"permanent\"");
        n = 5;
        break;

    case REPLAY_DEAD_AGE:
        snprintf(value[3], sizeof(value[3]), "\"max_age\"");
        n = 5;
        break;

    default:
        return NULL;
    }

    if (n == 5) {
        snprintf(value[4], sizeof(value[4]), "%lld",
                 (long long) (now_ms / 1000));
    }

    out = malloc(rec->len + 5 * sizeof(value[0]) + 64);
    if (out == NULL) {
        return NULL;
    }

    memset(done, 0, sizeof(done));

    q = out;
    *q++ = '{';

    p = rec->line;
    end = rec->line + rec->len;

    while (replay_next_member(&p, end, &m) == 0) {

        if (q > out + 1) {
            *q++ = ',';
        }

        for (i = 0; i < 5; i++) {
            if (replay_key_is(&m, keys[i])) {
                break;
            }
        }

        if (i == 5) {
            memcpy(q, m.start, m.end - m.start);
            q += m.end - m.start;
            continue;
        }

        done[i] = 1;

        if (value[i][0] == '\0') {
            /* not_before of a dead record: left out */
            if (q > out + 1) {
                q--;
            }
            continue;
        }

        q += sprintf(q, "\"%s\":%s", keys[i], value[i]);
    }

    for (i = 0; i < n; i++) {
        if (!done[i] && value[i][0] != '\0') {
            q += sprintf(q, "%s\"%s\":%s", q > out + 1 ? "," : "", keys[i],
                         value[i]);
        }
    }

    *q++ = '}';
    *q++ = '\n';
    *len = q - out;

    return out;
}


/* the next "key": value of the object the line is; -1 at its end */
static int
replay_next_member(const char **pp, const char *end, replay_member_t *m)
{
    const char  *p;

    p = replay_skip_ws(*pp, end);

    if (p < end && (*p == '{' || *p == ',')) {
        p = replay_skip_ws(p + 1, end);
    }

    if (p >= end || *p != '"') {
        return -1;
    }

    m->start = p;
    m->key = p + 1;
    p = replay_skip_string(p, end);
    m->key_len = p - 1 - m->key;

    p = replay_skip_ws(p, end);
    if (p >= end || *p != ':') {
        return -1;
    }

    m->value = replay_skip_ws(p + 1, end);
    m->end = replay_skip_value(m->value, end);

    *pp = m->end;

    return 0;
}


static int
replay_key_is(const replay_member_t *m, const char *key)
{
    return m->key_len == strlen(key) && memcmp(m->key, key, m->key_len) == 0;
}


static const char *
replay_skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
    {
        p++;
    }

    return p;
}


/* p is at the opening quote; returns the byte after the closing one */
static const char *
replay_skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;

        } else if (*p == '"') {
            return p + 1;
        }
    }

    return end;
}


/* the value is valid JSON (jansson said so): only its extent is needed */
static const char *
replay_skip_value(const char *p, const char *end)
{
    size_t  depth;

    if (p >= end) {
        return end;
    }

    if (*p == '"') {
        return replay_skip_string(p, end);
    }

    if (*p != '{' && *p != '[') {
        while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' '
               && *p != '\t' && *p != '\r' && *p != '\n')
        {
            p++;
        }

        return p;
    }

    depth = 0;

    while (p < end) {

        if (*p == '"') {
            p = replay_skip_string(p, end);
            continue;
        }

        if (*p == '{' || *p == '[') {
            depth++;

        } else if (*p == '}' || *p == ']') {
            if (--depth == 0) {
                return p + 1;
            }
        }

        p++;
    }

    return end;
}


/* s as the inside of a JSON string; out has room for 6 bytes per byte */
static size_t
replay_escape(char *out, const char *s)
{
    char  *q;

    for (q = out; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\') {
            *q++ = '\\';
            *q++ = *s;

        } else if ((unsigned char) *s < 0x20) {
            q += sprintf(q, "\\u%04x", (unsigned char) *s);

        } else {
            *q++ = *s;
        }
    }

    *q = '\0';

    return q - out;
}


/* at most REPLAY_ERROR_LEN - 1 bytes, never cutting a UTF-8 sequence */
static void
replay_copy_error(char *dst, const char *src)
{
    size_t  len;

    len = strlen(src);

    if (len >= REPLAY_ERROR_LEN) {
        len = REPLAY_ERROR_LEN - 1;

        while (len > 0 && ((unsigned char) src[len] & 0xc0) == 0x80) {
            len--;
        }
    }

    memcpy(dst, src, len);
    dst[len] = '\0';
}


static long long
replay_clamp(long long n, long long min, long long max)
{
    return n < min ? min : (n > max ? max : n);
}
