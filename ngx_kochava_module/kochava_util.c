
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Small pieces: call types and metric labels, the write key of an
 * Authorization header, encodeURIComponent, numbers as strings, messageIds,
 * serialisation into the caller's memory, response bodies, and judging an
 * upstream's answer.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "kochava_internal.h"


static int kochava_base64_value(unsigned char c);
static uint64_t kochava_random(void);


static uint64_t  kochava_uuid_state = 0x9e3779b97f4a7c15ULL;


kochava_call_e
kochava_call_from_path(const char *path, size_t len)
{
    size_t       i, n;
    const char  *seg;

    static const struct {
        const char      *name;
        size_t           len;
        kochava_call_e   call;
    } calls[] = {
        { "track", 5, KOCHAVA_CALL_TRACK },
        { "t", 1, KOCHAVA_CALL_TRACK },
        { "identify", 8, KOCHAVA_CALL_IDENTIFY },
        { "i", 1, KOCHAVA_CALL_IDENTIFY },
        { "page", 4, KOCHAVA_CALL_PAGE },
        { "p", 1, KOCHAVA_CALL_PAGE },
        { "screen", 6, KOCHAVA_CALL_SCREEN },
        { "s", 1, KOCHAVA_CALL_SCREEN },
        { "group", 5, KOCHAVA_CALL_GROUP },
        { "g", 1, KOCHAVA_CALL_GROUP },
        { "alias", 5, KOCHAVA_CALL_ALIAS },
        { "a", 1, KOCHAVA_CALL_ALIAS },
        { "batch", 5, KOCHAVA_CALL_BATCH },
        { "import", 6, KOCHAVA_CALL_BATCH },
        { "b", 1, KOCHAVA_CALL_BATCH },
        { "m", 1, KOCHAVA_CALL_METRICS }
    };

    if (path == NULL) {
        return KOCHAVA_CALL_UNKNOWN;
    }

    if (len && path[len - 1] == '/') {
        len--;
    }

    for (i = len; i > 0 && path[i - 1] != '/'; i--) {
        /* void */
    }

    seg = path + i;
    n = len - i;

    for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        if (calls[i].len == n && memcmp(calls[i].name, seg, n) == 0) {
            return calls[i].call;
        }
    }

    return KOCHAVA_CALL_UNKNOWN;
}


const char *
kochava_call_name(kochava_call_e call)
{
    static const char  *names[] = {
        "track", "identify", "page", "screen", "group", "alias", "batch",
        "metrics", "unknown"
    };

    if ((unsigned) call > KOCHAVA_CALL_UNKNOWN) {
        return "unknown";
    }

    return names[call];
}


const char *
kochava_dest_name(kochava_dest_e dest)
{
    static const char  *names[] = { "kochava", "identity", "braze" };

    if ((unsigned) dest >= KOCHAVA_NDESTS) {
        return "unknown";
    }

    return names[dest];
}


const char *
kochava_reason_name(kochava_reason_e reason)
{
    static const char  *names[] = {
        "not_object", "type", "identity", "field", "timestamp",
        "message_id", "device", "too_large", "too_deep", "braze_user"
    };

    if ((unsigned) reason >= KOCHAVA_NREASONS) {
        return "unknown";
    }

    return names[reason];
}


const char *
kochava_outcome_name(kochava_outcome_e outcome)
{
    static const char  *names[] = {
        "ok", "permanent", "retryable", "timeout"
    };

    if ((unsigned) outcome >= KOCHAVA_NOUTCOMES) {
        return "unknown";
    }

    return names[outcome];
}


/* case-insensitive ASCII comparison of two strings of len bytes */

int
kochava_strncaseeq(const char *a, const char *b, size_t len)
{
    size_t         i;
    unsigned char  ca, cb;

    for (i = 0; i < len; i++) {
        ca = (unsigned char) a[i];
        cb = (unsigned char) b[i];

        if (ca >= 'A' && ca <= 'Z') {
            ca |= 0x20;
        }

        if (cb >= 'A' && cb <= 'Z') {
            cb |= 0x20;
        }

        if (ca != cb) {
            return 0;
        }
    }

    return 1;
}


/* the same of a counted string and a C string */

int
kochava_strcaseeq(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && kochava_strncaseeq(a, b, alen);
}


size_t
kochava_auth_write_key(const char *value, size_t len, char *out,
    size_t outlen)
{
    int          v, basic;
    size_t       i, end, start, n, pad;
    uint32_t     acc;
    unsigned     bits, colon;
    const char  *p;

    if (value == NULL) {
        return 0;
    }

    for (i = 0; i < len && (value[i] == ' ' || value[i] == '\t'); i++) {
        /* void */
    }

    for (end = len;
         end > i && (value[end - 1] == ' ' || value[end - 1] == '\t');
         end--)
    {
        /* void */
    }

    start = i;

    while (i < end && value[i] != ' ' && value[i] != '\t') {
        i++;
    }

    if (kochava_strcaseeq(value + start, i - start, "basic")) {
        basic = 1;

    } else if (kochava_strcaseeq(value + start, i - start, "bearer")) {
        basic = 0;

    } else {
        return 0;
    }

    while (i < end && (value[i] == ' ' || value[i] == '\t')) {
        i++;
    }

    p = value + i;
    len = end - i;

    if (len == 0) {
        return 0;
    }

    if (!basic) {
        for (i = 0; i < len; i++) {
            if (p[i] == ' ' || p[i] == '\t') {
                return 0;
            }
        }

        n = (len > outlen) ? outlen : len;

        memcpy(out, p, n);

        return n;
    }

    /* Basic: base64 of "key:" (or of "key"); padding optional */

    for (pad = 0; pad < 2 && pad < len && p[len - 1 - pad] == '='; pad++) {
        /* void */
    }

    if (pad && len % 4 != 0) {
        return 0;
    }

    len -= pad;

    if (len % 4 == 1) {
        return 0;
    }

    n = 0;
    acc = 0;
    bits = 0;
    colon = 0;

    for (i = 0; i < len; i++) {
        v = kochava_base64_value((unsigned char) p[i]);
        if (v < 0) {
            return 0;
        }

        acc = (acc << 6) | (uint32_t) v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;

            if (colon) {
                continue;
            }

            v = (acc >> bits) & 0xff;

            if (v == ':') {
                colon = 1;
                continue;
            }

            if (n < outlen) {
                out[n++] = (char) v;
            }
        }
    }

    return n;
}


static int
kochava_base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '+') {
        return 62;
    }

    if (c == '/') {
        return 63;
    }

    return -1;
}


/*
 * JavaScript's encodeURIComponent: A-Z a-z 0-9 - _ . ! ~ * ' ( ) are kept,
 * every other byte becomes %XX.  out has room for 3 * len bytes.
 */

size_t
kochava_uri_encode(const char *s, size_t len, char *out)
{
    char                   *p;
    size_t                  i;
    unsigned char           c;
    static const char       hex[] = "0123456789ABCDEF";
    static const uint32_t   keep[] = {
        0x00000000,     /* 0x00-0x1f: none */
        0x03ff6782,     /* 0x20-0x3f: ! ' ( ) * - . 0-9 */
        0x87fffffe,     /* 0x40-0x5f: A-Z _ */
        0x47fffffe      /* 0x60-0x7f: a-z ~ */
    };

    p = out;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c < 128 && (keep[c >> 5] & (1U << (c & 0x1f)))) {
            *p++ = (char) c;
            continue;
        }

        *p++ = '%';
        *p++ = hex[c >> 4];
        *p++ = hex[c & 0xf];
    }

    return (size_t) (p - out);
}


/*
 * A JSON number as a string: integers plainly, reals in the shortest form
 * that reads back to the same double.  Returns 0 for anything else.
 */

size_t
kochava_number_string(kochava_json_t *value, char *buf, size_t size)
{
    int     n;
    double  d;

    if (kochava_json_is_integer(value)) {
        n = snprintf(buf, size, "%lld",
                     (long long) kochava_json_integer(value));

    } else if (kochava_json_is_real(value)) {
        d = kochava_json_real(value);

        n = snprintf(buf, size, "%.15g", d);

        if (n > 0 && (size_t) n < size && strtod(buf, NULL) != d) {
            n = snprintf(buf, size, "%.17g", d);
        }

    } else {
        return 0;
    }

    if (n <= 0 || (size_t) n >= size) {
        return 0;
    }

    return (size_t) n;
}


/* the number of UTF-8 characters (parsed strings are valid UTF-8) */

size_t
kochava_utf8_length(const char *s, size_t len)
{
    size_t  i, n;

    n = 0;

    for (i = 0; i < len; i++) {
        if (((unsigned char) s[i] & 0xc0) != 0x80) {
            n++;
        }
    }

    return n;
}


void
kochava_seed(uint64_t seed)
{
    kochava_uuid_state = seed ^ 0x9e3779b97f4a7c15ULL;

    kochava_idset_seed(seed);
}


/* splitmix64 */

static uint64_t
kochava_random(void)
{
    uint64_t  z;

    kochava_uuid_state += 0x9e3779b97f4a7c15ULL;

    z = kochava_uuid_state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


/* a UUID v4, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", into 37 bytes */

void
kochava_uuid_v4(char *buf)
{
    int                i, j;
    uint64_t           hi, lo;
    unsigned char      b[16];
    static const char  hex[] = "0123456789abcdef";

    hi = kochava_random();
    lo = kochava_random();

    for (i = 0; i < 8; i++) {
        b[i] = (unsigned char) (hi >> (56 - 8 * i));
        b[i + 8] = (unsigned char) (lo >> (56 - 8 * i));
    }

    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;

    j = 0;

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            buf[j++] = '-';
        }

        buf[j++] = hex[b[i] >> 4];
        buf[j++] = hex[b[i] & 0xf];
    }

    buf[j] = '\0';
}


char *
kochava_strndup(const kochava_allocator_t *a, const char *s, size_t len)
{
    char  *p;

    p = a->alloc(a->data, len + 1);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


const char *
kochava_result_json(const kochava_result_t *res,
    const kochava_allocator_t *a, size_t *len)
{
    uint32_t                 i;
    const char              *p, *s;
    kochava_json_t          *root, *list, *item;
    kochava_arena_t         *arena;
    static const char        ok[] = "{\"success\":true}";
    const kochava_reject_t  *rej;

    if (res->rejected == 0) {
        *len = sizeof(ok) - 1;
        return kochava_strndup(a, ok, sizeof(ok) - 1);
    }

    arena = kochava_arena_create(64 * res->rejected);
    if (arena == NULL) {
        return NULL;
    }

    p = NULL;

    root = kochava_json_object(arena);
    list = kochava_json_array(arena);

    if (kochava_json_set(arena, root, "success", kochava_json_boolean(1))
        != 0
        || kochava_json_set(arena, root, "accepted",
               kochava_json_new_integer(arena, res->accepted)) != 0
        || kochava_json_set(arena, root, "rejected", list) != 0)
    {
        goto done;
    }

    for (i = 0; i < res->rejected; i++) {
        rej = &res->rejects[i];

        item = kochava_json_object(arena);
        if (kochava_json_append(arena, list, item) != 0) {
            goto done;
        }

        if (kochava_json_set(arena, item, "index",
                             kochava_json_new_integer(arena, rej->index))
            != 0)
        {
            goto done;
        }

        if (rej->message_id
            && kochava_json_set(arena, item, "messageId",
                   kochava_json_checked_stringn(arena, rej->message_id,
                                                strlen(rej->message_id)))
               != 0)
        {
            goto done;
        }

        s = rej->error ? rej->error : "";

        if (kochava_json_set(arena, item, "error",
                             kochava_json_checked_stringn(arena, s,
                                                          strlen(s)))
            != 0)
        {
            goto done;
        }
    }

    p = kochava_json_dump(root, a, len);

done:

    kochava_arena_destroy(arena);

    return p;
}


const char *
kochava_error_json(const char *message, const kochava_allocator_t *a,
    size_t *len)
{
    const char       *p;
    kochava_json_t   *root, *text;
    kochava_arena_t  *arena;

    arena = kochava_arena_create(1024);
    if (arena == NULL) {
        return NULL;
    }

    if (message == NULL) {
        message = "";
    }

    /* as a C string, like jansson's json_string(): up to a NUL byte */

    text = kochava_json_checked_stringn(arena, message, strlen(message));
    if (text == NULL) {
        /* not UTF-8: never echo it */
        text = kochava_json_string_ref(arena, "Invalid request",
                                       sizeof("Invalid request") - 1);
    }

    p = NULL;
    root = kochava_json_object(arena);

    if (kochava_json_set(arena, root, "success", kochava_json_boolean(0))
        == 0
        && kochava_json_set(arena, root, "message", text) == 0)
    {
        p = kochava_json_dump(root, a, len);
    }

    kochava_arena_destroy(arena);

    return p;
}


kochava_outcome_e
kochava_judge(kochava_dest_e dest, unsigned status, const char *body,
    size_t len)
{
    uint64_t            buf[256];
    const char         *s;
    kochava_json_t     *root, *success;
    kochava_arena_t    *arena;
    kochava_outcome_e   outcome;

    if (status == 0) {
        return KOCHAVA_OUTCOME_RETRYABLE;
    }

    if (status == 504) {
        return KOCHAVA_OUTCOME_TIMEOUT;
    }

    if (status == 429 || (status >= 500 && status <= 599)) {
        return KOCHAVA_OUTCOME_RETRYABLE;
    }

    if (status < 200 || status > 299) {
        return KOCHAVA_OUTCOME_PERMANENT;
    }

    if (dest == KOCHAVA_DEST_BRAZE) {
        return KOCHAVA_OUTCOME_OK;
    }

    if (body == NULL || len == 0) {
        return KOCHAVA_OUTCOME_RETRYABLE;
    }

    /* an answer is {"success":"1"}: on the stack, once per message */

    arena = kochava_arena_create_in(buf, sizeof(buf), len * 2);
    if (arena == NULL) {
        return KOCHAVA_OUTCOME_RETRYABLE;
    }

    root = NULL;

    (void) kochava_json_parse(arena, body, len,
                              KOCHAVA_JSON_ANY | KOCHAVA_JSON_DUPLICATES,
                              KOCHAVA_PARSER_MAX_DEPTH, &root);

    if (!kochava_json_is_object(root)) {
        /* not Kochava's answer: something between us and it answered */
        kochava_arena_destroy(arena);
        return KOCHAVA_OUTCOME_RETRYABLE;
    }

    outcome = KOCHAVA_OUTCOME_PERMANENT;
    success = kochava_json_get(root, "success");

    if (kochava_json_is_true(success)) {
        outcome = KOCHAVA_OUTCOME_OK;

    } else if (kochava_json_is_integer(success)) {
        if (kochava_json_integer(success) == 1) {
            outcome = KOCHAVA_OUTCOME_OK;
        }

    } else if (kochava_json_is_string(success)) {
        s = kochava_json_string(success);

        if (kochava_json_string_len(success) == 1 && s[0] == '1') {
            outcome = KOCHAVA_OUTCOME_OK;
        }
    }

    kochava_arena_destroy(arena);

    return outcome;
}


size_t
kochava_braze_errors(const char *body, size_t len)
{
    size_t            n;
    uint64_t          buf[256];
    kochava_json_t   *answer, *errors;
    kochava_arena_t  *arena;

    if (body == NULL || len == 0) {
        return 0;
    }

    arena = kochava_arena_create_in(buf, sizeof(buf), len * 2);
    if (arena == NULL) {
        return 0;
    }

    n = 0;

    if (kochava_json_parse(arena, body, len, KOCHAVA_JSON_DUPLICATES,
                           KOCHAVA_PARSER_MAX_DEPTH, &answer)
        == 0)
    {
        errors = kochava_json_get(answer, "errors");
        n = kochava_json_count(errors);
        n = kochava_json_is_array(errors) ? n : 0;
    }

    kochava_arena_destroy(arena);

    return n;
}


void
kochava_json_error(const char *text, size_t len, char *err, size_t errlen)
{
    json_t        *root;
    json_error_t   error;

    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);

    if (root != NULL) {
        /* a NUL byte after a number or a literal: jansson skips it */
        json_decref(root);
        snprintf(err, errlen, "Invalid JSON: unexpected NUL byte");
        return;
    }

    snprintf(err, errlen, "Invalid JSON: %s (line %d, column %d)",
             error.text, error.line, error.column);
}
