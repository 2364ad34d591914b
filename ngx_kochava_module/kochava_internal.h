
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * What the files of the core share with each other (and with the unit
 * tests).  Not for the nginx glue: it uses kochava_core.h only.
 */


#ifndef _KOCHAVA_INTERNAL_H_INCLUDED_
#define _KOCHAVA_INTERNAL_H_INCLUDED_


#include <string.h>
#include "kochava_core.h"
#include "kochava_json.h"


/* the parser's limit (jansson's too): deeper is refused before parsing */
#define KOCHAVA_PARSER_MAX_DEPTH  2048

/* Braze takes at most 75 attributes and 75 events per /users/track */
#define KOCHAVA_BRAZE_MAX         75

#define KOCHAVA_MESSAGE_ID_MAX    100

/* a number as a string: "-9223372036854775808", "1.2345678901234567e+300" */
#define KOCHAVA_NUMBER_LEN        32

/* "2024-03-20T19:26:56.123Z" and room to spare */
#define KOCHAVA_TIME_LEN          32


typedef struct {
    const char               *data;
    size_t                    len;
} kochava_str_t;


/* kochava_scan.c: what the raw bytes say before the parser sees them */

typedef struct {
    size_t                    size;          /* compact bytes */
    size_t                    depth;         /* nesting; 0 for a scalar */
} kochava_scan_item_t;

typedef struct {
    size_t                    size;          /* compact bytes of the body */
    size_t                    depth;         /* nesting of the body */
    size_t                    outer_depth;   /* nesting outside "batch" */
    size_t                    nitems;        /* elements of "batch" */
    kochava_scan_item_t      *items;         /* malloc()ed, nitems */
    unsigned                  batch_found:1; /* "batch":[ was seen */
    unsigned                  too_many:1;    /* over max_items: stopped */
    unsigned                  too_deep:1;    /* over max_depth: stopped */
} kochava_scan_t;

int kochava_scan(const char *p, size_t len, int batch, size_t max_items,
    size_t max_depth, kochava_scan_t *scan);
void kochava_scan_free(kochava_scan_t *scan);

/*
 * The same measures on a parsed value (when the scan could not map):
 * kochava_json_dump_size() and kochava_json_depth() of kochava_json.h.
 */


/* kochava_time.c */

int kochava_time_parse(const char *s, size_t len, int64_t *ms);
size_t kochava_time_format(int64_t ms, char *buf);
int64_t kochava_floor_div(int64_t a, int64_t b);


/* kochava_names.c */

int kochava_name_lookup(const kochava_conf_t *conf, const char *name,
    size_t len, kochava_str_t *out);


/* kochava_util.c */

size_t kochava_uri_encode(const char *s, size_t len, char *out);
size_t kochava_number_string(kochava_json_t *value, char *buf, size_t size);
int kochava_strncaseeq(const char *a, const char *b, size_t len);
int kochava_strcaseeq(const char *a, size_t alen, const char *b);
size_t kochava_utf8_length(const char *s, size_t len);
void kochava_uuid_v4(char *buf);

char *kochava_strndup(const kochava_allocator_t *a, const char *s,
    size_t len);

/*
 * "Invalid JSON: <why> (line L, column C)" for a text kochava_json_parse()
 * refused, in jansson's words: it is parsed once more by jansson, only for
 * the text (the cold path; both refuse the same texts, fuzz/fuzz_json.c).
 */
void kochava_json_error(const char *text, size_t len, char *err,
    size_t errlen);


/* kochava_idset.c: the client messageIds of one request, once each */

typedef struct {
    const char               *data;
    size_t                    len;
    uint64_t                  hash;
} kochava_idset_entry_t;

typedef struct {
    kochava_arena_t          *arena;
    uint32_t                 *slots;         /* 0: empty, else entry + 1 */
    kochava_idset_entry_t    *entries;
    size_t                    n;
    size_t                    max;
    size_t                    mask;
    size_t                    probes;        /* slots looked at (tests) */
} kochava_idset_t;

/* room for max ids, in arena; 0, or -1 on allocation failure */
int kochava_idset_init(kochava_idset_t *set, kochava_arena_t *arena,
    size_t max);

/*
 * 0: added (its bytes must outlive the set, or copy them into the arena:
 * copy 1), 1: already in the set, -1: full or no memory for the copy
 */
int kochava_idset_add(kochava_idset_t *set, const char *id, size_t len,
    int copy);

/* the key of the set's hash, from kochava_seed() */
void kochava_idset_seed(uint64_t seed);

uint64_t kochava_siphash(uint64_t k0, uint64_t k1, const void *data,
    size_t len);


/* kochava_message.c: one message, validated and normalised */

typedef enum {
    KOCHAVA_PLATFORM_NONE = 0,
    KOCHAVA_PLATFORM_IOS,
    KOCHAVA_PLATFORM_ANDROID
} kochava_platform_e;


typedef struct {
    kochava_arena_t          *arena;         /* the document's */

    kochava_json_t           *obj;           /* the message */
    kochava_json_t           *context;       /* its own, or NULL */
    kochava_json_t           *batch_context; /* the envelope's, or NULL */
    kochava_json_t           *integrations;
    kochava_json_t           *batch_integrations;
    kochava_json_t           *batch_sent_at;

    kochava_call_e            type;

    kochava_str_t             user_id;
    kochava_str_t             anonymous_id;
    kochava_str_t             message_id;    /* data NULL when none */

    int64_t                   timestamp_ms;  /* corrected */

    /* the device, for messages to Kochava */
    kochava_platform_e        platform;
    kochava_json_t           *device;
    kochava_str_t             device_id;
    kochava_str_t             advertising_id;   /* NULL when all zeros */
    unsigned                  ad_tracking:1;    /* true, literally */

    char                      user_id_buf[KOCHAVA_NUMBER_LEN];
    char                      anonymous_id_buf[KOCHAVA_NUMBER_LEN];
    char                      message_id_buf[KOCHAVA_NUMBER_LEN];
    char                      error[160];
} kochava_msg_t;


kochava_json_t *kochava_msg_context(kochava_msg_t *msg, const char *key);
int kochava_msg_enabled(kochava_msg_t *msg, const char *dest);
int kochava_msg_id_string(kochava_json_t *value, char *buf,
    kochava_str_t *out);

int kochava_msg_prepare(kochava_msg_t *msg, const kochava_req_t *req,
    kochava_reason_e *reason);
int kochava_msg_device(kochava_msg_t *msg, kochava_reason_e *reason);


/* kochava_rewrite.c */

kochava_json_t *kochava_rewrite_event(const kochava_conf_t *conf,
    const kochava_req_t *req, kochava_msg_t *msg);
kochava_json_t *kochava_rewrite_identity(const kochava_conf_t *conf,
    const kochava_req_t *req, kochava_msg_t *msg, int *nothing);
kochava_json_t *kochava_device_ids(kochava_msg_t *msg);
int kochava_identify_has_data(const kochava_conf_t *conf,
    kochava_msg_t *msg);


/* kochava_braze.c */

typedef struct {
    kochava_json_t           *attribute;
    kochava_json_t           *event;
} kochava_braze_item_t;

/*
 * One attributed install, from whichever path: values are JSON strings
 * (of the document's tree) or NULL when absent.  key is "braze_id" or
 * "external_id"; NULL means a user_alias of id labelled alias_label.
 */
typedef struct {
    const char               *key;
    kochava_json_t           *id;
    const char               *alias_label;
    kochava_json_t           *source;
    kochava_json_t           *campaign;
    kochava_json_t           *adgroup;
    kochava_json_t           *ad;
    kochava_json_t           *provider;
    int64_t                   time_ms;
} kochava_braze_install_t;

#define kochava_braze_zero(in)  memset(in, 0, sizeof(kochava_braze_install_t))

/* 0: attributed (item filled), 1: organic, -1: no user key, -2: no memory */
int kochava_braze_install(kochava_msg_t *msg, kochava_braze_item_t *item);
int kochava_braze_organic(kochava_json_t *source);
int kochava_braze_item(kochava_arena_t *arena, kochava_braze_install_t *in,
    kochava_braze_item_t *item);
kochava_json_t *kochava_braze_body(kochava_arena_t *arena,
    kochava_braze_item_t *items, size_t n);


#endif /* _KOCHAVA_INTERNAL_H_INCLUDED_ */
