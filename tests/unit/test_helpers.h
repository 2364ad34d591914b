
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * What the unit tests share: an arena allocator (and one that fails on
 * purpose), a configuration and a request, running a body through the
 * core, and comparing JSON the way the conformance cases do.
 */


#ifndef _KOCHAVA_TEST_HELPERS_H_INCLUDED_
#define _KOCHAVA_TEST_HELPERS_H_INCLUDED_


#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>

#include <jansson.h>

#include "kochava_core.h"
#include "tap.h"


#define TEST_ANDROID_DEVICE                                                   \
    "\"device\":{\"id\":\"a1b2c3d4e5f60718\","                                \
    "\"advertisingId\":\"38400000-8cf0-11bd-b23e-10b96e40000d\","            \
    "\"adTrackingEnabled\":true,\"type\":\"android\",\"model\":\"Pixel 8\"}"

#define TEST_ANDROID_CONTEXT                                                  \
    "\"context\":{" TEST_ANDROID_DEVICE ","                                   \
    "\"os\":{\"name\":\"Android\",\"version\":\"14\"}}"

#define TEST_IOS_DEVICE                                                       \
    "\"device\":{\"id\":\"176779B9-8C07-4E53-B3EA-ABBFAA40C829\","            \
    "\"advertisingId\":\"017D76B5-85F8-4E3C-8CCE-8B29CCEACB1D\","            \
    "\"adTrackingEnabled\":true,\"type\":\"ios\",\"model\":\"iPhone12,1\"}"

#define TEST_IOS_CONTEXT                                                      \
    "\"context\":{" TEST_IOS_DEVICE ","                                       \
    "\"os\":{\"name\":\"iOS\",\"version\":\"17.4\"},"                     \
    "\"ip\":\"198.51.100.7\"}"


typedef struct test_block_s  test_block_t;

struct test_block_s {
    test_block_t             *next;
};

typedef struct {
    test_block_t             *blocks;
    long                      fail_after;    /* -1: never */
    long                      count;
} test_arena_t;


static inline void *
test_alloc(void *data, size_t size)
{
    test_arena_t  *arena;
    test_block_t  *b;

    arena = data;

    if (arena->fail_after >= 0 && arena->count++ >= arena->fail_after) {
        return NULL;
    }

    b = malloc(sizeof(test_block_t) + size + 16);
    if (b == NULL) {
        return NULL;
    }

    b->next = arena->blocks;
    arena->blocks = b;

    return (char *) b + 16;
}


static inline void
test_arena_init(test_arena_t *arena, kochava_allocator_t *a)
{
    arena->blocks = NULL;
    arena->fail_after = -1;
    arena->count = 0;

    a->alloc = test_alloc;
    a->data = arena;
}


static inline void
test_arena_free(test_arena_t *arena)
{
    test_block_t  *b, *next;

    for (b = arena->blocks; b; b = next) {
        next = b->next;
        free(b);
    }

    arena->blocks = NULL;
}


static inline void
test_conf(kochava_conf_t *conf)
{
    memset(conf, 0, sizeof(kochava_conf_t));

    conf->max_message_size = 32768;
    conf->max_batch = 2500;
    conf->max_depth = 64;
    conf->identify_traits = 1;
    conf->braze = 0;
}


static inline int64_t
test_now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


/* 2024-03-20T19:26:58Z, the receivedAt of kochava.md's example */
#define TEST_RECEIVED_MS  1710962818000LL


static inline void
test_req(kochava_req_t *req, kochava_call_e call)
{
    req->call = call;
    req->app_id = "koexample-app-guid";
    req->app_id_len = strlen(req->app_id);
    req->client_ip = "127.0.0.1";
    req->client_ip_len = 9;
    req->received_ms = TEST_RECEIVED_MS;
    req->gdpr_applies = KOCHAVA_GDPR_UNKNOWN;
    req->seen = NULL;
    req->seen_data = NULL;
}


/* one run of a body through parse and process */

typedef struct {
    int                       status;        /* of parse; 0 when parsed */
    char                      err[256];
    kochava_result_t          res;
    const char               *response;      /* kochava_result_json */
    test_arena_t              arena;
    kochava_allocator_t       a;
} test_run_t;


static inline int
test_process(const kochava_conf_t *conf, const kochava_req_t *req,
    const char *body, size_t len, test_run_t *run)
{
    size_t          n;
    kochava_doc_t  *doc;

    memset(run, 0, sizeof(test_run_t));
    test_arena_init(&run->arena, &run->a);

    run->status = kochava_doc_parse(conf, req->call, body, len, &doc,
                                    run->err, sizeof(run->err));
    if (run->status != 0) {
        return run->status;
    }

    if (kochava_doc_process(conf, req, doc, &run->a, &run->res) != 0) {
        kochava_doc_free(doc);
        run->status = -1;
        return -1;
    }

    kochava_doc_free(doc);

    run->response = kochava_result_json(&run->res, &run->a, &n);

    return 0;
}


static inline int
test_run(kochava_call_e call, const char *body, test_run_t *run)
{
    kochava_req_t   req;
    kochava_conf_t  conf;

    test_conf(&conf);
    test_req(&req, call);

    return test_process(&conf, &req, body, strlen(body), run);
}


static inline void
test_run_free(test_run_t *run)
{
    test_arena_free(&run->arena);
}


/* the first error of a run: parse's, else the first rejection's */

static inline const char *
test_error(test_run_t *run)
{
    if (run->status != 0) {
        return run->err;
    }

    if (run->res.rejected) {
        return run->res.rejects[0].error;
    }

    return NULL;
}


/*
 * JSON equality as the conformance cases mean it: numbers by value, key
 * order free, {"$near_now": D} for now + D seconds within 5 seconds.
 */

static inline int
test_json_equal(json_t *got, json_t *exp, int64_t now_sec)
{
    size_t       i;
    json_t      *near, *g;
    const char  *key;
    json_t      *value;

    if (json_is_object(exp) && json_object_size(exp) == 1
        && (near = json_object_get(exp, "$near_now")) != NULL)
    {
        return json_is_number(got)
               && fabs(json_number_value(got)
                       - (double) (now_sec + json_number_value(near)))
                  <= 5.0;
    }

    if (json_is_number(got) && json_is_number(exp)) {
        return json_number_value(got) == json_number_value(exp);
    }

    if (json_is_object(got) && json_is_object(exp)) {
        if (json_object_size(got) != json_object_size(exp)) {
            return 0;
        }

        json_object_foreach(exp, key, value) {
            g = json_object_get(got, key);

            if (g == NULL || !test_json_equal(g, value, now_sec)) {
                return 0;
            }
        }

        return 1;
    }

    if (json_is_array(got) && json_is_array(exp)) {
        if (json_array_size(got) != json_array_size(exp)) {
            return 0;
        }

        for (i = 0; i < json_array_size(exp); i++) {
            if (!test_json_equal(json_array_get(got, i),
                                 json_array_get(exp, i), now_sec))
            {
                return 0;
            }
        }

        return 1;
    }

    return json_equal(got, exp);
}


/* the bodies for one destination, as a JSON array */

static inline json_t *
test_outs(test_run_t *run, kochava_dest_e dest)
{
    uint32_t  i;
    json_t   *list, *body;

    list = json_array();

    for (i = 0; i < run->res.nouts; i++) {
        if (run->res.outs[i].dest != dest) {
            continue;
        }

        body = json_loadb(run->res.outs[i].body, run->res.outs[i].len, 0,
                          NULL);
        json_array_append_new(list, body ? body : json_null());
    }

    return list;
}


/* got and exp as multisets of bodies */

static inline int
test_multiset_equal(json_t *got, json_t *exp, int64_t now_sec)
{
    int     result;
    char   *used;
    size_t  i, j, n;

    n = json_array_size(exp);

    if (json_array_size(got) != n) {
        return 0;
    }

    used = calloc(n + 1, 1);
    result = 1;

    for (i = 0; i < n && result; i++) {
        for (j = 0; j < n; j++) {
            if (!used[j]
                && test_json_equal(json_array_get(got, j),
                                   json_array_get(exp, i), now_sec))
            {
                used[j] = 1;
                break;
            }
        }

        if (j == n) {
            result = 0;
        }
    }

    free(used);

    return result;
}


/* is the only body for dest equal to the JSON text exp? */

static inline int
test_out_is(test_run_t *run, kochava_dest_e dest, const char *exp,
    const char *name)
{
    int      r;
    json_t  *got, *want;
    char    *dump;

    got = test_outs(run, dest);
    want = json_loads(exp, 0, NULL);

    if (want == NULL) {
        diag("bad expectation: %s", exp);
    }

    if (want && !json_is_array(want)) {
        want = json_pack("[o]", want);
    }

    r = want && test_multiset_equal(got, want, TEST_RECEIVED_MS / 1000);

    if (!ok(r, "%s", name)) {
        dump = json_dumps(got, JSON_COMPACT);
        diag("     got: %s", dump ? dump : "?");
        diag("expected: %s", exp);
        free(dump);
    }

    json_decref(got);
    json_decref(want);

    return r;
}


#endif /* _KOCHAVA_TEST_HELPERS_H_INCLUDED_ */
