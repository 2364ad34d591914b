
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The core's JSON over an arena (kochava_json.h): the parser, the tree
 * and the compact writer.
 */


#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kochava_json.h"


/* objects with more members than this get a hash index */
#define KOCHAVA_JSON_LINEAR  16

/* "-1.234567890123456e-308" and room to spare */
#define KOCHAVA_JSON_REAL_LEN  32

/* the room for members and items before the parser takes malloc()'s */
#define KOCHAVA_JSON_STACK  64


typedef struct {
    kochava_arena_t          *arena;
    char                     *p;
    char                     *end;
    unsigned                  flags;
    size_t                    max_depth;
    int                       rc;            /* INVALID or -1 */

    /* the members and items of the open containers, innermost last */
    kochava_json_member_t    *members;
    size_t                    nmembers;
    size_t                    members_cap;
    kochava_json_t          **items;
    size_t                    nitems;
    size_t                    items_cap;
} kochava_json_parser_t;


static kochava_json_t *kochava_json_parse_value(kochava_json_parser_t *ps,
    size_t depth);
static kochava_json_t *kochava_json_parse_object(kochava_json_parser_t *ps,
    size_t depth);
static kochava_json_t *kochava_json_parse_array(kochava_json_parser_t *ps,
    size_t depth);
static int kochava_json_parse_string(kochava_json_parser_t *ps,
    const char **s, uint32_t *len, uint8_t *escape);
static kochava_json_t *kochava_json_parse_number(kochava_json_parser_t *ps);
static int kochava_json_grow(kochava_json_parser_t *ps, void **stack,
    size_t *cap, size_t size);
static int kochava_json_hex4(const char *p, uint32_t *value);
static size_t kochava_json_utf8(const unsigned char *p, size_t left);
static int kochava_json_close_object(kochava_json_parser_t *ps,
    kochava_json_t *obj, size_t first);
static kochava_json_t *kochava_json_new(kochava_arena_t *arena,
    kochava_json_type_e type);
static int kochava_json_find(const kochava_json_t *obj, const char *key,
    size_t len, uint32_t hash);
static uint32_t kochava_json_hash(const char *key, size_t len);
static int kochava_json_index(kochava_arena_t *arena, kochava_json_t *obj);
static size_t kochava_json_index_size(const kochava_json_t *obj);
static void kochava_json_index_add(kochava_json_t *obj, uint32_t i);
static size_t kochava_json_escaped_size(const char *s, size_t len);
static char *kochava_json_write(kochava_json_t *v, char *p);
static char *kochava_json_write_string(const char *s, size_t len, int plain,
    char *p);
static size_t kochava_json_format_real(double value, char *buf);


/* 1: written as is inside a string; '"', '\\', controls and UTF-8 not */
static const unsigned char  kochava_json_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
    /* 0x80 and up: 0 */
};


/*
 * Eight bytes at a time: nonzero when one of them may be '"', '\\', a
 * control character or not ASCII (a byte after such a one may be taken
 * for one as well: the caller then looks at the bytes one by one).
 */

#define KOCHAVA_JSON_ONES   0x0101010101010101ULL
#define KOCHAVA_JSON_HIGHS  0x8080808080808080ULL

static inline uint64_t
kochava_json_special8(const unsigned char *p)
{
    uint64_t  v, quote, backslash, control;

    memcpy(&v, p, 8);

    quote = v ^ (KOCHAVA_JSON_ONES * '"');
    quote = (quote - KOCHAVA_JSON_ONES) & ~quote;
    backslash = v ^ (KOCHAVA_JSON_ONES * '\\');
    backslash = (backslash - KOCHAVA_JSON_ONES) & ~backslash;
    control = (v - KOCHAVA_JSON_ONES * 0x20) & ~v;

    return (quote | backslash | control | v) & KOCHAVA_JSON_HIGHS;
}


static kochava_json_t  kochava_json_true_value = { KOCHAVA_JSON_TRUE, 0, 0,
                                                   0, NULL, { 0 } };
static kochava_json_t  kochava_json_false_value = { KOCHAVA_JSON_FALSE, 0, 0,
                                                    0, NULL, { 0 } };
static kochava_json_t  kochava_json_null_value = { KOCHAVA_JSON_NULL, 0, 0,
                                                   0, NULL, { 0 } };


/* the parser */

#define kochava_json_skip_space(p, end)                                       \
    while (p < end                                                           \
           && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))        \
    {                                                                         \
        p++;                                                                  \
    }


int
kochava_json_parse(kochava_arena_t *arena, const char *text, size_t len,
    unsigned flags, size_t max_depth, kochava_json_t **value)
{
    char                    *copy;
    kochava_json_t          *v;
    kochava_json_t          *items[KOCHAVA_JSON_STACK];
    kochava_json_member_t    members[KOCHAVA_JSON_STACK];
    kochava_json_parser_t    ps;

    *value = NULL;

    /* strings are decoded, and NUL-terminated, in a copy of their own */

    copy = kochava_arena_alloc(arena, len + 1);
    if (copy == NULL) {
        return -1;
    }

    memcpy(copy, text, len);
    copy[len] = '\0';

    memset(&ps, 0, sizeof(kochava_json_parser_t));

    ps.arena = arena;
    ps.p = copy;
    ps.end = copy + len;
    ps.flags = flags;
    ps.max_depth = max_depth;
    ps.rc = KOCHAVA_JSON_INVALID;

    /* on the stack until a text holds more */

    ps.members = members;
    ps.members_cap = KOCHAVA_JSON_STACK;
    ps.items = items;
    ps.items_cap = KOCHAVA_JSON_STACK;

    kochava_json_skip_space(ps.p, ps.end);

    v = NULL;

    if (ps.p < ps.end
        && ((flags & KOCHAVA_JSON_ANY) || *ps.p == '{' || *ps.p == '['))
    {
        v = kochava_json_parse_value(&ps, 0);
    }

    if (v) {
        kochava_json_skip_space(ps.p, ps.end);

        if (ps.p != ps.end) {
            v = NULL;
        }
    }

    if (ps.members != members) {
        free(ps.members);
    }

    if (ps.items != items) {
        free(ps.items);
    }

    if (v == NULL) {
        return ps.rc;
    }

    *value = v;

    return 0;
}


static kochava_json_t *
kochava_json_parse_value(kochava_json_parser_t *ps, size_t depth)
{
    char            *p;
    size_t           left;
    kochava_json_t  *v;

    p = ps->p;
    left = (size_t) (ps->end - p);

    if (left == 0) {
        return NULL;
    }

    switch (*p) {

    case '{':
        if (depth + 1 > ps->max_depth) {
            ps->rc = KOCHAVA_JSON_TOO_DEEP;
            return NULL;
        }

        ps->p++;
        return kochava_json_parse_object(ps, depth + 1);

    case '[':
        if (depth + 1 > ps->max_depth) {
            ps->rc = KOCHAVA_JSON_TOO_DEEP;
            return NULL;
        }

        ps->p++;
        return kochava_json_parse_array(ps, depth + 1);

    case '"':
        v = kochava_json_new(ps->arena, KOCHAVA_JSON_STRING);
        if (v == NULL) {
            ps->rc = -1;
            return NULL;
        }

        ps->p++;

        if (kochava_json_parse_string(ps, &v->u.string, &v->n, &v->escape)
            != 0)
        {
            return NULL;
        }

        return v;

    case 't':
        if (left >= 4 && memcmp(p, "true", 4) == 0) {
            ps->p += 4;
            return &kochava_json_true_value;
        }

        return NULL;

    case 'f':
        if (left >= 5 && memcmp(p, "false", 5) == 0) {
            ps->p += 5;
            return &kochava_json_false_value;
        }

        return NULL;

    case 'n':
        if (left >= 4 && memcmp(p, "null", 4) == 0) {
            ps->p += 4;
            return &kochava_json_null_value;
        }

        return NULL;

    default:
        if (*p == '-' || (*p >= '0' && *p <= '9')) {
            return kochava_json_parse_number(ps);
        }

        return NULL;
    }
}


static kochava_json_t *
kochava_json_parse_object(kochava_json_parser_t *ps, size_t depth)
{
    char                   *p, *end;
    size_t                  first;
    uint8_t                 escape;
    uint32_t                len;
    const char             *key;
    kochava_json_t         *obj, *value;
    kochava_json_member_t  *m;

    first = ps->nmembers;
    end = ps->end;

    p = ps->p;
    kochava_json_skip_space(p, end);

    if (p < end && *p == '}') {
        ps->p = p + 1;
        goto done;
    }

    for ( ;; ) {
        if (p == end || *p != '"') {
            return NULL;
        }

        ps->p = p + 1;

        if (kochava_json_parse_string(ps, &key, &len, &escape) != 0) {
            return NULL;
        }

        p = ps->p;
        kochava_json_skip_space(p, end);

        if (p == end || *p != ':') {
            return NULL;
        }

        p++;
        kochava_json_skip_space(p, end);
        ps->p = p;

        value = kochava_json_parse_value(ps, depth);
        if (value == NULL) {
            return NULL;
        }

        if (ps->nmembers == ps->members_cap
            && kochava_json_grow(ps, (void **) &ps->members,
                                 &ps->members_cap,
                                 sizeof(kochava_json_member_t))
               != 0)
        {
            return NULL;
        }

        m = &ps->members[ps->nmembers++];
        m->key = key;
        m->key_len = len;
        m->hash = 0;
        m->value = value;
        m->key_escape = escape;

        p = ps->p;
        kochava_json_skip_space(p, end);

        if (p < end && *p == ',') {
            p++;
            kochava_json_skip_space(p, end);
            continue;
        }

        if (p < end && *p == '}') {
            ps->p = p + 1;
            break;
        }

        return NULL;
    }

done:

    obj = kochava_json_new(ps->arena, KOCHAVA_JSON_OBJECT);
    if (obj == NULL) {
        ps->rc = -1;
        return NULL;
    }

    if (kochava_json_close_object(ps, obj, first) != 0) {
        return NULL;
    }

    ps->nmembers = first;

    return obj;
}


/* copies the members out of the stack; duplicate keys are refused */

static int
kochava_json_close_object(kochava_json_parser_t *ps, kochava_json_t *obj,
    size_t first)
{
    int                     i;
    size_t                  n, k, j;
    uint64_t                seen, bit;
    kochava_json_member_t  *m, *from;

    n = ps->nmembers - first;

    if (n == 0) {
        return 0;
    }

    m = kochava_arena_alloc(ps->arena, n * sizeof(kochava_json_member_t));
    if (m == NULL) {
        ps->rc = -1;
        return -1;
    }

    obj->u.members = m;
    obj->cap = (uint32_t) n;

    from = &ps->members[first];

    /* an empty index, for cap members */

    if (n > KOCHAVA_JSON_LINEAR && kochava_json_index(ps->arena, obj) != 0) {
        ps->rc = -1;
        return -1;
    }

    /*
     * Small objects: a key is looked for among the earlier ones only when
     * one of them has the same length and first byte (a bit of seen).
     */

    seen = 0;

    for (k = 0; k < n; k++) {
        if (obj->index) {
            from[k].hash = kochava_json_hash(from[k].key, from[k].key_len);
            i = kochava_json_find(obj, from[k].key, from[k].key_len,
                                  from[k].hash);

        } else {
            bit = (uint64_t) 1 << ((from[k].key_len * 31
                                    + (unsigned char) from[k].key[0]) & 63);

            i = (seen & bit) ? kochava_json_find(obj, from[k].key,
                                                 from[k].key_len, 0)
                             : -1;
            seen |= bit;
        }

        if (i >= 0) {
            if (!(ps->flags & KOCHAVA_JSON_DUPLICATES)) {
                return -1;
            }

            /* jansson's json_object_set: the last value, the first place */
            m[i].value = from[k].value;
            continue;
        }

        j = obj->n++;
        m[j] = from[k];

        if (obj->index) {
            kochava_json_index_add(obj, (uint32_t) j);
        }
    }

    return 0;
}


static kochava_json_t *
kochava_json_parse_array(kochava_json_parser_t *ps, size_t depth)
{
    char             *p, *end;
    size_t            first, n;
    kochava_json_t   *arr, *value, **items;

    first = ps->nitems;
    end = ps->end;

    p = ps->p;
    kochava_json_skip_space(p, end);
    ps->p = p;

    if (p < end && *p == ']') {
        ps->p = p + 1;
        goto done;
    }

    for ( ;; ) {
        value = kochava_json_parse_value(ps, depth);
        if (value == NULL) {
            return NULL;
        }

        if (ps->nitems == ps->items_cap
            && kochava_json_grow(ps, (void **) &ps->items, &ps->items_cap,
                                 sizeof(kochava_json_t *))
               != 0)
        {
            return NULL;
        }

        ps->items[ps->nitems++] = value;

        p = ps->p;
        kochava_json_skip_space(p, end);

        if (p < end && *p == ',') {
            p++;
            kochava_json_skip_space(p, end);
            ps->p = p;
            continue;
        }

        if (p < end && *p == ']') {
            ps->p = p + 1;
            break;
        }

        return NULL;
    }

done:

    arr = kochava_json_new(ps->arena, KOCHAVA_JSON_ARRAY);
    if (arr == NULL) {
        ps->rc = -1;
        return NULL;
    }

    n = ps->nitems - first;

    if (n) {
        items = kochava_arena_alloc(ps->arena, n * sizeof(kochava_json_t *));
        if (items == NULL) {
            ps->rc = -1;
            return NULL;
        }

        memcpy(items, &ps->items[first], n * sizeof(kochava_json_t *));

        arr->u.items = items;
        arr->n = (uint32_t) n;
        arr->cap = (uint32_t) n;
    }

    ps->nitems = first;

    return arr;
}


/*
 * After the opening quote: decodes the string in place (an escape is
 * never shorter than what it stands for) and NUL-terminates it where its
 * closing quote was at the latest.  Valid UTF-8 only, no control
 * characters, no \u0000, no lone surrogates: what jansson refuses.
 */

static int
kochava_json_parse_string(kochava_json_parser_t *ps, const char **s,
    uint32_t *len, uint8_t *escape)
{
    char           *start, *w;
    size_t          n;
    uint32_t        cp, lo;
    unsigned char  *p, *end;

    start = ps->p;
    p = (unsigned char *) start;
    end = (unsigned char *) ps->end;
    w = NULL;
    *escape = 1;

    for ( ;; ) {

        /* the plain run */

        if (w == NULL) {
            while (end - p >= 8 && kochava_json_special8(p) == 0) {
                p += 8;
            }

            while (p < end && kochava_json_plain[*p]) {
                p++;
            }

        } else {
            while (p < end && kochava_json_plain[*p]) {
                *w++ = (char) *p++;
            }
        }

        if (p == end) {
            return -1;
        }

        if (*p == '"') {
            break;
        }

        if (*p >= 0x80) {
            n = kochava_json_utf8(p, (size_t) (end - p));
            if (n == 0) {
                return -1;
            }

            if (w) {
                memmove(w, p, n);
                w += n;
            }

            p += n;
            continue;
        }

        if (*p != '\\') {
            /* a control character */
            return -1;
        }

        if (w == NULL) {
            w = (char *) p;
        }

        p++;

        if (p == end) {
            return -1;
        }

        switch (*p++) {
        case '"':  *w++ = '"';  *escape = 2; continue;
        case '\\': *w++ = '\\'; *escape = 2; continue;
        case '/':  *w++ = '/';  continue;
        case 'b':  *w++ = '\b'; *escape = 2; continue;
        case 'f':  *w++ = '\f'; *escape = 2; continue;
        case 'n':  *w++ = '\n'; *escape = 2; continue;
        case 'r':  *w++ = '\r'; *escape = 2; continue;
        case 't':  *w++ = '\t'; *escape = 2; continue;
        case 'u':  break;
        default:   return -1;
        }

        if (end - p < 4 || kochava_json_hex4((char *) p, &cp) != 0) {
            return -1;
        }

        p += 4;

        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u'
                || kochava_json_hex4((char *) p + 2, &lo) != 0
                || lo < 0xdc00 || lo > 0xdfff)
            {
                return -1;
            }

            p += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);

        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return -1;

        } else if (cp == 0) {
            return -1;
        }

        if (cp < 0x20 || cp == '"' || cp == '\\') {
            /* "\u0022", "\u005C": written back escaped */
            *escape = 2;
        }

        if (cp < 0x80) {
            *w++ = (char) cp;

        } else if (cp < 0x800) {
            *w++ = (char) (0xc0 | (cp >> 6));
            *w++ = (char) (0x80 | (cp & 0x3f));

        } else if (cp < 0x10000) {
            *w++ = (char) (0xe0 | (cp >> 12));
            *w++ = (char) (0x80 | ((cp >> 6) & 0x3f));
            *w++ = (char) (0x80 | (cp & 0x3f));

        } else {
            *w++ = (char) (0xf0 | (cp >> 18));
            *w++ = (char) (0x80 | ((cp >> 12) & 0x3f));
            *w++ = (char) (0x80 | ((cp >> 6) & 0x3f));
            *w++ = (char) (0x80 | (cp & 0x3f));
        }
    }

    /* p is at the closing quote */

    if (w == NULL) {
        w = (char *) p;
    }

    *w = '\0';

    *s = start;
    *len = (uint32_t) (w - start);

    ps->p = (char *) p + 1;

    return 0;
}


/* doubles a stack: the first one is the caller's (on its stack) */

static int
kochava_json_grow(kochava_json_parser_t *ps, void **stack, size_t *cap,
    size_t size)
{
    void  *p;

    p = malloc(*cap * 2 * size);
    if (p == NULL) {
        ps->rc = -1;
        return -1;
    }

    memcpy(p, *stack, *cap * size);

    if (*cap > KOCHAVA_JSON_STACK) {
        free(*stack);
    }

    *stack = p;
    *cap *= 2;

    return 0;
}


static int
kochava_json_hex4(const char *p, uint32_t *value)
{
    int       i;
    char      c;
    uint32_t  v;

    v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            v = (v << 4) | (uint32_t) (c - '0');

        } else if (c >= 'a' && c <= 'f') {
            v = (v << 4) | (uint32_t) (c - 'a' + 10);

        } else if (c >= 'A' && c <= 'F') {
            v = (v << 4) | (uint32_t) (c - 'A' + 10);

        } else {
            return -1;
        }
    }

    *value = v;

    return 0;
}


/* the length of the UTF-8 sequence at p (first byte >= 0x80), 0: invalid */

static size_t
kochava_json_utf8(const unsigned char *p, size_t left)
{
    size_t    n, i;
    uint32_t  cp;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        cp = p[0] & 0x1f;

    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        cp = p[0] & 0x0f;

    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        cp = p[0] & 0x07;

    } else {
        return 0;
    }

    if (left < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        cp = (cp << 6) | (p[i] & 0x3f);
    }

    if (cp > 0x10ffff
        || (cp >= 0xd800 && cp <= 0xdfff)
        || (n == 3 && cp < 0x800)
        || (n == 4 && cp < 0x10000))
    {
        return 0;
    }

    return n;
}


/* jansson's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */

static kochava_json_t *
kochava_json_parse_number(kochava_json_parser_t *ps)
{
    int              real;
    char            *p, *end, *start, saved;
    kochava_json_t  *v;

    start = ps->p;
    p = start;
    end = ps->end;
    real = 0;

    if (*p == '-') {
        p++;
    }

    if (p < end && *p == '0') {
        p++;

        if (p < end && *p >= '0' && *p <= '9') {
            return NULL;
        }

    } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }

    } else {
        return NULL;
    }

    if (p < end && *p == '.') {
        real = 1;
        p++;

        if (p == end || *p < '0' || *p > '9') {
            return NULL;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        real = 1;
        p++;

        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == end || *p < '0' || *p > '9') {
            return NULL;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    v = kochava_json_new(ps->arena, real ? KOCHAVA_JSON_REAL
                                         : KOCHAVA_JSON_INTEGER);
    if (v == NULL) {
        ps->rc = -1;
        return NULL;
    }

    /* the copy has a byte past the text: strtoll()/strtod() stop at p */

    saved = *p;
    *p = '\0';
    errno = 0;

    if (real) {
        v->u.real = strtod(start, NULL);

        if (errno == ERANGE
            && (v->u.real == HUGE_VAL || v->u.real == -HUGE_VAL))
        {
            *p = saved;
            return NULL;
        }

    } else {
        v->u.integer = strtoll(start, NULL, 10);

        if (errno == ERANGE) {
            *p = saved;
            return NULL;
        }
    }

    *p = saved;
    ps->p = p;

    return v;
}


/* reading */

const char *
kochava_json_string(const kochava_json_t *v)
{
    return kochava_json_is_string(v) ? v->u.string : NULL;
}


size_t
kochava_json_string_len(const kochava_json_t *v)
{
    return kochava_json_is_string(v) ? v->n : 0;
}


int64_t
kochava_json_integer(const kochava_json_t *v)
{
    return kochava_json_is_integer(v) ? v->u.integer : 0;
}


double
kochava_json_real(const kochava_json_t *v)
{
    return kochava_json_is_real(v) ? v->u.real : 0;
}


size_t
kochava_json_count(const kochava_json_t *v)
{
    if (v == NULL
        || (v->type != KOCHAVA_JSON_OBJECT && v->type != KOCHAVA_JSON_ARRAY))
    {
        return 0;
    }

    return v->n;
}


kochava_json_t *
kochava_json_getn(const kochava_json_t *obj, const char *key, size_t len)
{
    int  i;

    if (!kochava_json_is_object(obj)) {
        return NULL;
    }

    i = kochava_json_find(obj, key, len,
                          obj->index ? kochava_json_hash(key, len) : 0);

    return i >= 0 ? obj->u.members[i].value : NULL;
}


kochava_json_t *
kochava_json_item(const kochava_json_t *arr, size_t i)
{
    if (!kochava_json_is_array(arr) || i >= arr->n) {
        return NULL;
    }

    return arr->u.items[i];
}


/* the member's place, or -1; hash is used only with an index */

static int
kochava_json_find(const kochava_json_t *obj, const char *key, size_t len,
    uint32_t hash)
{
    size_t                  i, mask;
    uint32_t                slot;
    kochava_json_member_t  *m;

    if (obj->index == NULL) {
        for (i = 0; i < obj->n; i++) {
            m = &obj->u.members[i];

            if (m->key_len == len
                && (len == 0
                    || (m->key[0] == key[0]
                        && memcmp(m->key, key, len) == 0)))
            {
                return (int) i;
            }
        }

        return -1;
    }

    mask = kochava_json_index_size(obj) - 1;

    for (i = hash & mask; (slot = obj->index[i]) != 0; i = (i + 1) & mask) {
        m = &obj->u.members[slot - 1];

        if (m->hash == hash && m->key_len == len
            && memcmp(m->key, key, len) == 0)
        {
            return (int) (slot - 1);
        }
    }

    return -1;
}


/* FNV-1a */

static uint32_t
kochava_json_hash(const char *key, size_t len)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) key[i];
        h *= 16777619u;
    }

    return h;
}


/* a power of two, at least twice the room for members */

static size_t
kochava_json_index_size(const kochava_json_t *obj)
{
    size_t  size;

    size = 32;

    while (size < (size_t) obj->cap * 2) {
        size *= 2;
    }

    return size;
}


/* (re)builds the index of obj's n members, for cap of them */

static int
kochava_json_index(kochava_arena_t *arena, kochava_json_t *obj)
{
    size_t    size;
    uint32_t  i;

    size = kochava_json_index_size(obj);

    obj->index = kochava_arena_alloc(arena, size * sizeof(uint32_t));
    if (obj->index == NULL) {
        return -1;
    }

    memset(obj->index, 0, size * sizeof(uint32_t));

    for (i = 0; i < obj->n; i++) {
        obj->u.members[i].hash = kochava_json_hash(obj->u.members[i].key,
                                                   obj->u.members[i].key_len);
        kochava_json_index_add(obj, i);
    }

    return 0;
}


static void
kochava_json_index_add(kochava_json_t *obj, uint32_t i)
{
    size_t  j, mask;

    mask = kochava_json_index_size(obj) - 1;

    for (j = obj->u.members[i].hash & mask; obj->index[j];
         j = (j + 1) & mask)
    {
        /* void */
    }

    obj->index[j] = i + 1;
}


/* building */

static kochava_json_t *
kochava_json_new(kochava_arena_t *arena, kochava_json_type_e type)
{
    kochava_json_t  *v;

    v = kochava_arena_alloc(arena, sizeof(kochava_json_t));
    if (v == NULL) {
        return NULL;
    }

    v->type = (uint8_t) type;
    v->escape = 0;
    v->n = 0;
    v->cap = 0;
    v->index = NULL;
    v->u.integer = 0;

    return v;
}


kochava_json_t *
kochava_json_object(kochava_arena_t *arena)
{
    return kochava_json_new(arena, KOCHAVA_JSON_OBJECT);
}


kochava_json_t *
kochava_json_array(kochava_arena_t *arena)
{
    return kochava_json_new(arena, KOCHAVA_JSON_ARRAY);
}


kochava_json_t *
kochava_json_stringn(kochava_arena_t *arena, const char *s, size_t len)
{
    char            *p;
    kochava_json_t  *v;

    v = kochava_json_new(arena, KOCHAVA_JSON_STRING);
    p = kochava_arena_alloc(arena, len + 1);

    if (v == NULL || p == NULL) {
        return NULL;
    }

    memcpy(p, s, len);
    p[len] = '\0';

    v->u.string = p;
    v->n = (uint32_t) len;

    return v;
}


kochava_json_t *
kochava_json_checked_stringn(kochava_arena_t *arena, const char *s,
    size_t len)
{
    if (!kochava_json_utf8_valid(s, len)) {
        return NULL;
    }

    return kochava_json_stringn(arena, s, len);
}


int
kochava_json_utf8_valid(const char *s, size_t len)
{
    size_t                n;
    const unsigned char  *p, *end;

    p = (const unsigned char *) s;
    end = p + len;

    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }

        n = kochava_json_utf8(p, (size_t) (end - p));
        if (n == 0) {
            return 0;
        }

        p += n;
    }

    return 1;
}


kochava_json_t *
kochava_json_string_ref(kochava_arena_t *arena, const char *s, size_t len)
{
    kochava_json_t  *v;

    v = kochava_json_new(arena, KOCHAVA_JSON_STRING);
    if (v == NULL) {
        return NULL;
    }

    v->u.string = s;
    v->n = (uint32_t) len;

    return v;
}


kochava_json_t *
kochava_json_sprintf(kochava_arena_t *arena, const char *fmt, ...)
{
    int              n;
    char             buf[256], *p;
    va_list          args;

    va_start(args, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);

    if (n < 0) {
        return NULL;
    }

    if ((size_t) n < sizeof(buf)) {
        return kochava_json_stringn(arena, buf, (size_t) n);
    }

    p = kochava_arena_alloc(arena, (size_t) n + 1);
    if (p == NULL) {
        return NULL;
    }

    va_start(args, fmt);
    vsnprintf(p, (size_t) n + 1, fmt, args);
    va_end(args);

    return kochava_json_string_ref(arena, p, (size_t) n);
}


kochava_json_t *
kochava_json_new_integer(kochava_arena_t *arena, int64_t i)
{
    kochava_json_t  *v;

    v = kochava_json_new(arena, KOCHAVA_JSON_INTEGER);
    if (v == NULL) {
        return NULL;
    }

    v->u.integer = i;

    return v;
}


kochava_json_t *
kochava_json_boolean(int b)
{
    return b ? &kochava_json_true_value : &kochava_json_false_value;
}


kochava_json_t *
kochava_json_null(void)
{
    return &kochava_json_null_value;
}


int
kochava_json_setn(kochava_arena_t *arena, kochava_json_t *obj,
    const char *key, size_t len, kochava_json_t *value)
{
    int                     i;
    uint32_t                hash;
    kochava_json_member_t  *m;

    if (!kochava_json_is_object(obj) || value == NULL) {
        return -1;
    }

    hash = obj->index ? kochava_json_hash(key, len) : 0;

    i = kochava_json_find(obj, key, len, hash);

    if (i >= 0) {
        obj->u.members[i].value = value;
        return 0;
    }

    if (obj->n == obj->cap) {
        m = kochava_arena_alloc(arena, (obj->cap ? obj->cap * 2 : 8)
                                       * sizeof(kochava_json_member_t));
        if (m == NULL) {
            return -1;
        }

        if (obj->n) {
            memcpy(m, obj->u.members, obj->n * sizeof(kochava_json_member_t));
        }

        obj->u.members = m;
        obj->cap = obj->cap ? obj->cap * 2 : 8;

        if (obj->cap > KOCHAVA_JSON_LINEAR
            && kochava_json_index(arena, obj) != 0)
        {
            return -1;
        }

        if (obj->index) {
            hash = kochava_json_hash(key, len);
        }
    }

    m = &obj->u.members[obj->n];
    m->key = key;
    m->key_len = (uint32_t) len;
    m->hash = hash;
    m->value = value;
    m->key_escape = 0;

    if (obj->index) {
        kochava_json_index_add(obj, obj->n);
    }

    obj->n++;

    return 0;
}


int
kochava_json_append(kochava_arena_t *arena, kochava_json_t *arr,
    kochava_json_t *value)
{
    kochava_json_t  **items;

    if (!kochava_json_is_array(arr) || value == NULL) {
        return -1;
    }

    if (arr->n == arr->cap) {
        items = kochava_arena_alloc(arena, (arr->cap ? arr->cap * 2 : 8)
                                           * sizeof(kochava_json_t *));
        if (items == NULL) {
            return -1;
        }

        if (arr->n) {
            memcpy(items, arr->u.items, arr->n * sizeof(kochava_json_t *));
        }

        arr->u.items = items;
        arr->cap = arr->cap ? arr->cap * 2 : 8;
    }

    arr->u.items[arr->n++] = value;

    return 0;
}


/* writing: what json_dumpb(JSON_COMPACT | JSON_REAL_PRECISION(16)) does */

size_t
kochava_json_dump_size(kochava_json_t *v)
{
    char                    buf[KOCHAVA_JSON_REAL_LEN];
    size_t                  size, i, k;
    int64_t                 n;
    uint64_t                u;
    kochava_json_member_t  *m;

    switch (v->type) {

    case KOCHAVA_JSON_NULL:
    case KOCHAVA_JSON_TRUE:
        return 4;

    case KOCHAVA_JSON_FALSE:
        return 5;

    case KOCHAVA_JSON_INTEGER:
        n = v->u.integer;
        size = (n < 0) ? 2 : 1;
        u = (n < 0) ? (uint64_t) 0 - (uint64_t) n : (uint64_t) n;

        while (u >= 10) {
            u /= 10;
            size++;
        }

        return size;

    case KOCHAVA_JSON_REAL:
        return kochava_json_format_real(v->u.real, buf);

    case KOCHAVA_JSON_STRING:
        if (v->escape == 1) {
            return v->n + 2;
        }

        size = kochava_json_escaped_size(v->u.string, v->n);

        /* remembered: a string is never changed once it is in a tree */
        v->escape = (size == v->n + 2) ? 1 : 2;

        return size;

    case KOCHAVA_JSON_ARRAY:
        size = 2 + (v->n ? v->n - 1 : 0);

        for (i = 0; i < v->n; i++) {
            size += kochava_json_dump_size(v->u.items[i]);
        }

        return size;

    default: /* KOCHAVA_JSON_OBJECT */
        size = 2 + (v->n ? v->n * 2 - 1 : 0);

        for (i = 0; i < v->n; i++) {
            m = &v->u.members[i];

            if (m->key_escape == 1) {
                size += m->key_len + 2;

            } else {
                k = kochava_json_escaped_size(m->key, m->key_len);
                m->key_escape = (k == (size_t) m->key_len + 2) ? 1 : 2;
                size += k;
            }

            size += kochava_json_dump_size(m->value);
        }

        return size;
    }
}


/* a string with its quotes and escapes */

static size_t
kochava_json_escaped_size(const char *s, size_t len)
{
    size_t          size, i;
    unsigned char   c;

    size = len + 2;
    i = 0;

    while (len - i >= 8
           && kochava_json_special8((const unsigned char *) s + i) == 0)
    {
        i += 8;
    }

    for ( /* void */ ; i < len; i++) {
        c = (unsigned char) s[i];

        if (c >= 0x80 || kochava_json_plain[c]) {
            continue;
        }

        switch (c) {
        case '"': case '\\': case '\b': case '\f': case '\n': case '\r':
        case '\t':
            size += 1;
            break;
        default:
            size += 5;                       /* \u00XX */
        }
    }

    return size;
}


const char *
kochava_json_dump(kochava_json_t *v, const kochava_allocator_t *a,
    size_t *len)
{
    char    *buf;
    size_t   size;

    size = kochava_json_dump_size(v);

    buf = a->alloc(a->data, size + 1);
    if (buf == NULL) {
        return NULL;
    }

    *len = kochava_json_dump_into(v, buf);

    return buf;
}


size_t
kochava_json_dump_into(kochava_json_t *v, char *buf)
{
    char  *p;

    p = kochava_json_write(v, buf);
    *p = '\0';

    return (size_t) (p - buf);
}


static char *
kochava_json_write(kochava_json_t *v, char *p)
{
    char      digits[KOCHAVA_JSON_REAL_LEN];
    size_t    i, n;
    int64_t   value;
    uint64_t  u;

    switch (v->type) {

    case KOCHAVA_JSON_NULL:
        memcpy(p, "null", 4);
        return p + 4;

    case KOCHAVA_JSON_TRUE:
        memcpy(p, "true", 4);
        return p + 4;

    case KOCHAVA_JSON_FALSE:
        memcpy(p, "false", 5);
        return p + 5;

    case KOCHAVA_JSON_INTEGER:
        value = v->u.integer;

        if (value < 0) {
            *p++ = '-';
            u = (uint64_t) 0 - (uint64_t) value;

        } else {
            u = (uint64_t) value;
        }

        n = 0;

        do {
            digits[n++] = (char) ('0' + u % 10);
            u /= 10;
        } while (u);

        while (n) {
            *p++ = digits[--n];
        }

        return p;

    case KOCHAVA_JSON_REAL:
        n = kochava_json_format_real(v->u.real, digits);
        memcpy(p, digits, n);
        return p + n;

    case KOCHAVA_JSON_STRING:
        return kochava_json_write_string(v->u.string, v->n, v->escape == 1,
                                         p);

    case KOCHAVA_JSON_ARRAY:
        *p++ = '[';

        for (i = 0; i < v->n; i++) {
            if (i) {
                *p++ = ',';
            }

            p = kochava_json_write(v->u.items[i], p);
        }

        *p++ = ']';

        return p;

    default: /* KOCHAVA_JSON_OBJECT */
        *p++ = '{';

        for (i = 0; i < v->n; i++) {
            if (i) {
                *p++ = ',';
            }

            p = kochava_json_write_string(v->u.members[i].key,
                                          v->u.members[i].key_len,
                                          v->u.members[i].key_escape == 1,
                                          p);
            *p++ = ':';
            p = kochava_json_write(v->u.members[i].value, p);
        }

        *p++ = '}';

        return p;
    }
}


static char *
kochava_json_write_string(const char *s, size_t len, int plain, char *p)
{
    size_t          i;
    unsigned char   c;
    static const char  hex[] = "0123456789ABCDEF";

    *p++ = '"';

    if (plain) {
        memcpy(p, s, len);
        p += len;
        *p++ = '"';
        return p;
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c >= 0x20 && c != '"' && c != '\\') {
            *p++ = (char) c;
            continue;
        }

        *p++ = '\\';

        switch (c) {
        case '"':  *p++ = '"';  break;
        case '\\': *p++ = '\\'; break;
        case '\b': *p++ = 'b';  break;
        case '\f': *p++ = 'f';  break;
        case '\n': *p++ = 'n';  break;
        case '\r': *p++ = 'r';  break;
        case '\t': *p++ = 't';  break;
        default:
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 0xf];
        }
    }

    *p++ = '"';

    return p;
}


/*
 * jansson's jsonp_dtostr() at precision 16: "%.16g", ".0" when that
 * looks like an integer, no '+' and no leading zeros in the exponent.
 */

static size_t
kochava_json_format_real(double value, char *buf)
{
    int     n;
    char   *start, *end;
    size_t  len;

    n = snprintf(buf, KOCHAVA_JSON_REAL_LEN, "%.16g", value);

    if (n < 0 || n >= KOCHAVA_JSON_REAL_LEN - 3) {
        memcpy(buf, "0.0", 3);
        return 3;
    }

    len = (size_t) n;

    if (strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL) {
        buf[len++] = '.';
        buf[len++] = '0';
        buf[len] = '\0';
    }

    start = strchr(buf, 'e');

    if (start) {
        start++;
        end = start + 1;

        if (*start == '-') {
            start++;
        }

        while (*end == '0') {
            end++;
        }

        if (end != start) {
            memmove(start, end, len - (size_t) (end - buf) + 1);
            len -= (size_t) (end - start);
        }
    }

    return len;
}


/* nesting */

size_t
kochava_json_depth(const kochava_json_t *v)
{
    size_t  i, d, max;

    if (v == NULL
        || (v->type != KOCHAVA_JSON_OBJECT && v->type != KOCHAVA_JSON_ARRAY))
    {
        return 0;
    }

    max = 0;

    for (i = 0; i < v->n; i++) {
        d = kochava_json_depth(v->type == KOCHAVA_JSON_OBJECT
                               ? v->u.members[i].value : v->u.items[i]);
        if (d > max) {
            max = d;
        }
    }

    return max + 1;
}
