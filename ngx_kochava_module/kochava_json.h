
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The core's JSON: a parser, a tree and a compact writer over an arena
 * (kochava_arena.h).
 *
 * It accepts and rejects exactly what jansson's json_loadb(...,
 * JSON_REJECT_DUPLICATES) does and writes byte for byte what json_dumpb(...,
 * JSON_COMPACT | JSON_REAL_PRECISION(16)) writes (insertion order, UTF-8
 * as is, '/' not escaped), which the unit tests and the fuzzers check
 * against jansson itself.  It exists because jansson allocates every
 * value and every key with malloc() and hashes every object: on the
 * request path that was more than half of the worker's time
 * (docs/performance.md).  The tree lives in an arena, so nothing is
 * freed one by one and nothing is reference-counted: a value may be put
 * into any number of trees.
 */


#ifndef _KOCHAVA_JSON_H_INCLUDED_
#define _KOCHAVA_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kochava_core.h"
#include "kochava_arena.h"


/* the values */

typedef enum {
    KOCHAVA_JSON_NULL = 0,
    KOCHAVA_JSON_TRUE,
    KOCHAVA_JSON_FALSE,
    KOCHAVA_JSON_INTEGER,
    KOCHAVA_JSON_REAL,
    KOCHAVA_JSON_STRING,
    KOCHAVA_JSON_ARRAY,
    KOCHAVA_JSON_OBJECT
} kochava_json_type_e;


typedef struct kochava_json_s  kochava_json_t;

typedef struct {
    const char               *key;           /* UTF-8, NUL-terminated */
    uint32_t                  key_len;
    uint32_t                  hash;
    kochava_json_t           *value;
    uint8_t                   key_escape;    /* as a string's escape */
} kochava_json_member_t;

struct kochava_json_s {
    uint8_t                   type;          /* kochava_json_type_e */
    uint8_t                   escape;        /* string: 0 unknown, 1 plain,
                                                2 needs escapes */
    uint32_t                  n;             /* string length; members or
                                                items */
    uint32_t                  cap;           /* members or items room */
    uint32_t                 *index;         /* object: hash index once it
                                                is large, or NULL */
    union {
        int64_t               integer;
        double                real;
        const char           *string;        /* NUL-terminated */
        kochava_json_member_t *members;
        kochava_json_t      **items;
    } u;
};


/*
 * Parses len bytes.  flags: KOCHAVA_JSON_ANY lets the top level be any
 * value (jansson's JSON_DECODE_ANY); KOCHAVA_JSON_DUPLICATES keeps
 * duplicate keys (the last value wins, at the first key's place) instead
 * of rejecting the text.  max_depth bounds the nesting (jansson: 2048).
 * The text is copied into the arena first; strings are decoded in that
 * copy.  Returns 0 and *value, KOCHAVA_JSON_TOO_DEEP once the nesting
 * passes max_depth, KOCHAVA_JSON_INVALID for any other fault, or -1 when
 * the arena fails.  An invalid text says nothing about why: ask jansson
 * (cold path).
 */
#define KOCHAVA_JSON_ANY         1
#define KOCHAVA_JSON_DUPLICATES  2
#define KOCHAVA_JSON_INVALID     1
#define KOCHAVA_JSON_TOO_DEEP    2

int kochava_json_parse(kochava_arena_t *arena, const char *text, size_t len,
    unsigned flags, size_t max_depth, kochava_json_t **value);


/* reading: every function takes NULL (or a value of another type) */

#define kochava_json_is(v, t)     ((v) != NULL && (v)->type == (t))
#define kochava_json_is_null(v)     kochava_json_is(v, KOCHAVA_JSON_NULL)
#define kochava_json_is_true(v)     kochava_json_is(v, KOCHAVA_JSON_TRUE)
#define kochava_json_is_false(v)    kochava_json_is(v, KOCHAVA_JSON_FALSE)
#define kochava_json_is_integer(v)  kochava_json_is(v, KOCHAVA_JSON_INTEGER)
#define kochava_json_is_real(v)     kochava_json_is(v, KOCHAVA_JSON_REAL)
#define kochava_json_is_string(v)   kochava_json_is(v, KOCHAVA_JSON_STRING)
#define kochava_json_is_array(v)    kochava_json_is(v, KOCHAVA_JSON_ARRAY)
#define kochava_json_is_object(v)   kochava_json_is(v, KOCHAVA_JSON_OBJECT)
#define kochava_json_is_boolean(v)                                           \
    (kochava_json_is_true(v) || kochava_json_is_false(v))
#define kochava_json_is_number(v)                                            \
    (kochava_json_is_integer(v) || kochava_json_is_real(v))

/* NULL / 0 when v is not a string */
const char *kochava_json_string(const kochava_json_t *v);
size_t kochava_json_string_len(const kochava_json_t *v);

/* 0 when v is not an integer (real) */
int64_t kochava_json_integer(const kochava_json_t *v);
double kochava_json_real(const kochava_json_t *v);

/* members of an object, items of an array, 0 for anything else */
size_t kochava_json_count(const kochava_json_t *v);

/* NULL when obj is not an object or has no such key */
kochava_json_t *kochava_json_getn(const kochava_json_t *obj,
    const char *key, size_t len);

/* inline: a literal key's length is known when compiling */
static inline kochava_json_t *
kochava_json_get(const kochava_json_t *obj, const char *key)
{
    return kochava_json_getn(obj, key, strlen(key));
}

/* NULL when arr is not an array or i is past its end */
kochava_json_t *kochava_json_item(const kochava_json_t *arr, size_t i);

/*
 * The i-th member of an object, in insertion order (i < count):
 * for (i = 0; i < kochava_json_count(obj); i++) { m = &obj->u.members[i]; }
 */


/* building: NULL (or -1) when the arena fails */

kochava_json_t *kochava_json_object(kochava_arena_t *arena);
kochava_json_t *kochava_json_array(kochava_arena_t *arena);

/* copies s (len bytes, valid UTF-8) into the arena */
kochava_json_t *kochava_json_stringn(kochava_arena_t *arena, const char *s,
    size_t len);
#define kochava_json_cstring(arena, s)                                        \
    kochava_json_stringn(arena, s, strlen(s))

/*
 * The same for bytes from outside (a header, a configured value): NULL
 * when they are not valid UTF-8, like jansson's json_stringn().
 */
kochava_json_t *kochava_json_checked_stringn(kochava_arena_t *arena,
    const char *s, size_t len);

/*
 * 1 when s is valid UTF-8 (NUL bytes allowed): no overlong forms, no
 * surrogates, nothing past U+10FFFF
 */
int kochava_json_utf8_valid(const char *s, size_t len);

/* s is not copied: a literal, or memory that outlives the tree */
kochava_json_t *kochava_json_string_ref(kochava_arena_t *arena,
    const char *s, size_t len);

kochava_json_t *kochava_json_sprintf(kochava_arena_t *arena,
    const char *fmt, ...);
kochava_json_t *kochava_json_new_integer(kochava_arena_t *arena,
    int64_t i);

/* shared constants: never modify them */
kochava_json_t *kochava_json_boolean(int b);
kochava_json_t *kochava_json_null(void);

/*
 * Sets key (len bytes) to value: replaces the value in place when the key
 * is there, appends it otherwise (jansson's json_object_set).  The key is
 * not copied: a literal, a key or string of a parsed tree, or arena
 * memory.  Returns -1 when obj is not an object, value is NULL or the
 * arena fails, so constructors can be passed straight in.
 */
int kochava_json_setn(kochava_arena_t *arena, kochava_json_t *obj,
    const char *key, size_t len, kochava_json_t *value);
#define kochava_json_set(arena, obj, key, value)                              \
    kochava_json_setn(arena, obj, key, strlen(key), value)

/* -1 when arr is not an array, value is NULL or the arena fails */
int kochava_json_append(kochava_arena_t *arena, kochava_json_t *arr,
    kochava_json_t *value);


/* writing */

/* the compact bytes of v (what kochava_json_dump() writes) */
size_t kochava_json_dump_size(kochava_json_t *v);

/*
 * Writes v compactly into the allocator's memory, NUL-terminated, *len
 * without the NUL.  NULL when the allocator fails.
 */
const char *kochava_json_dump(kochava_json_t *v, const kochava_allocator_t *a,
    size_t *len);

/* the same into buf, which has kochava_json_dump_size(v) + 1 bytes */
size_t kochava_json_dump_into(kochava_json_t *v, char *buf);


/* nesting of a value: 0 for a scalar, 1 for [] or {}, ... */
size_t kochava_json_depth(const kochava_json_t *v);


#endif /* _KOCHAVA_JSON_H_INCLUDED_ */
