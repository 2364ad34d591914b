
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Every conformance case (../shared/conformance, one JSON file each)
 * through the core alone: the request's body parsed and processed as the
 * glue does, the status and response checked, and the bodies of each
 * destination compared as a multiset of parsed JSON.
 *
 *   test_conformance_core [dir]    (else $KOCHAVA_CONFORMANCE_DIR)
 */


#include <dirent.h>

#include "test_helpers.h"


static int  test_single_call(kochava_call_e call);
static int test_subset(json_t *got, json_t *exp);
static void test_case(const char *dir, const char *file);
static int test_names(const void *a, const void *b);


int
main(int argc, char **argv)
{
    DIR            *d;
    char          **files;
    size_t          n, i;
    const char     *dir;
    struct dirent  *de;

    dir = (argc > 1) ? argv[1] : getenv("KOCHAVA_CONFORMANCE_DIR");

    if (dir == NULL) {
        dir = "../shared/conformance";
    }

    d = opendir(dir);
    if (d == NULL) {
        printf("1..0 # SKIP no conformance cases in %s\n", dir);
        return 0;
    }

    files = NULL;
    n = 0;

    while ((de = readdir(d)) != NULL) {
        size_t  len = strlen(de->d_name);

        if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0) {
            files = realloc(files, (n + 1) * sizeof(char *));
            files[n++] = strdup(de->d_name);
        }
    }

    closedir(d);

    qsort(files, n, sizeof(char *), test_names);

    for (i = 0; i < n; i++) {
        test_case(dir, files[i]);
        free(files[i]);
    }

    free(files);

    ok(n > 0, "found %zu cases in %s", n, dir);

    return done_testing();
}


static int
test_names(const void *a, const void *b)
{
    return strcmp(*(char * const *) a, *(char * const *) b);
}


static int
test_single_call(kochava_call_e call)
{
    return call != KOCHAVA_CALL_BATCH;
}


static void
test_case(const char *dir, const char *file)
{
    int                  status, r;
    char                 path[1024], key[256], *body, *dump;
    json_t              *c, *config, *request, *expect, *headers, *value;
    json_t              *response, *got, *exp, *mentions;
    size_t               len, klen, i;
    int64_t              now;
    uint32_t             j;
    const char          *name, *text, *app, *wk, *upath;
    json_error_t         error;
    kochava_req_t        req;
    kochava_doc_t       *doc;
    kochava_conf_t       conf;
    kochava_result_t     res;
    test_arena_t         arena;
    kochava_allocator_t  a;
    char                 err[256];

    static const struct {
        const char      *name;
        kochava_dest_e   dest;
    } dests[] = {
        { "kochava", KOCHAVA_DEST_KOCHAVA },
        { "kochava_identity", KOCHAVA_DEST_IDENTITY },
        { "braze", KOCHAVA_DEST_BRAZE }
    };

    snprintf(path, sizeof(path), "%s/%s", dir, file);

    c = json_load_file(path, 0, &error);
    if (!ok(c != NULL, "%s: loads", file)) {
        diag("%s", error.text);
        return;
    }

    name = json_string_value(json_object_get(c, "name"));
    config = json_object_get(c, "config");
    request = json_object_get(c, "request");
    expect = json_object_get(c, "expect");
    headers = json_object_get(request, "headers");

    test_conf(&conf);
    conf.braze = json_is_true(json_object_get(config, "braze"));

    upath = json_string_value(json_object_get(request, "path"));

    memset(&req, 0, sizeof(kochava_req_t));
    req.call = kochava_call_from_path(upath, strlen(upath));
    req.client_ip = "127.0.0.1";
    req.client_ip_len = 9;

    now = test_now_ms();
    req.received_ms = now;

    value = json_object_get(request, "body");

    if (value) {
        body = json_dumps(value, JSON_COMPACT);

    } else {
        body = strdup(json_string_value(json_object_get(request,
                                                        "body_raw")));
    }

    len = strlen(body);

    test_arena_init(&arena, &a);
    memset(&res, 0, sizeof(kochava_result_t));

    text = NULL;
    doc = NULL;

    status = kochava_doc_parse(&conf, req.call, body, len, &doc, err,
                               sizeof(err));

    if (status != 0) {
        text = kochava_error_json(err, &a, &len);
        goto check;
    }

    /* the write key: the Authorization header, else the body's */

    klen = 0;
    value = json_object_get(headers, "Authorization");

    if (value) {
        klen = kochava_auth_write_key(json_string_value(value),
                                      json_string_length(value), key,
                                      sizeof(key) - 1);
    }

    if (klen == 0) {
        wk = kochava_doc_write_key(doc, &klen);

        if (wk && klen < sizeof(key)) {
            memcpy(key, wk, klen);

        } else {
            klen = 0;
        }
    }

    key[klen] = '\0';

    app = json_string_value(json_object_get(json_object_get(config,
                                                            "write_keys"),
                                            key));
    if (klen == 0 || app == NULL) {
        status = 401;
        text = kochava_error_json("Invalid write key", &a, &len);
        goto check;
    }

    req.app_id = app;
    req.app_id_len = strlen(app);

    if (!ok(kochava_doc_process(&conf, &req, doc, &a, &res) == 0,
            "%s: processed", name))
    {
        goto done;
    }

    if (res.rejected && test_single_call(req.call)) {
        status = 400;
        text = kochava_error_json(res.rejects[0].error, &a, &len);

    } else {
        status = 200;
        text = kochava_result_json(&res, &a, &len);
    }

check:

    is_int(status, json_integer_value(json_object_get(expect, "status")),
           "status");

    response = text ? json_loads(text, 0, NULL) : NULL;

    exp = json_object_get(expect, "body");

    if (exp && !ok(response && test_subset(response, exp),
                   "%s: response body", name))
    {
        diag("got: %s", text ? text : "(null)");
    }

    mentions = json_object_get(expect, "error_mentions");

    if (mentions) {
        r = (status == 400 || res.rejected > 0);

        for (i = 0; i < json_array_size(mentions); i++) {
            const char *m = json_string_value(json_array_get(mentions, i));

            if (status == 400) {
                r = r && text && strstr(text, m);
            }

            for (j = 0; j < res.rejected; j++) {
                r = r && strstr(res.rejects[j].error, m);
            }
        }

        if (!ok(r, "%s: errors mention what is wrong", name)) {
            diag("got: %s", text ? text : "(null)");
        }
    }

    for (i = 0; i < 3; i++) {
        exp = json_object_get(expect, dests[i].name);
        if (exp == NULL) {
            continue;
        }

        got = json_array();

        for (j = 0; j < res.nouts; j++) {
            if (res.outs[j].dest == dests[i].dest) {
                value = json_loadb(res.outs[j].body, res.outs[j].len, 0,
                                   NULL);
                json_array_append_new(got, value ? value : json_null());
            }
        }

        if (!ok(test_multiset_equal(got, exp, now / 1000), "%s: %s bodies",
                name, dests[i].name))
        {
            dump = json_dumps(got, JSON_COMPACT);
            diag("got: %s", dump);
            free(dump);
            dump = json_dumps(exp, JSON_COMPACT);
            diag("expected: %s", dump);
            free(dump);
        }

        json_decref(got);
    }

    json_decref(response);

done:

    kochava_doc_free(doc);
    test_arena_free(&arena);
    free(body);
    json_decref(c);
}


/* every key of exp is in got, equal; arrays of objects item by item */

static int
test_subset(json_t *got, json_t *exp)
{
    size_t       i;
    json_t      *value;
    const char  *key;

    if (json_is_object(exp)) {
        if (!json_is_object(got)) {
            return 0;
        }

        json_object_foreach(exp, key, value) {
            if (!test_subset(json_object_get(got, key), value)) {
                return 0;
            }
        }

        return 1;
    }

    if (json_is_array(exp)) {
        if (!json_is_array(got) || json_array_size(got)
                                   != json_array_size(exp))
        {
            return 0;
        }

        for (i = 0; i < json_array_size(exp); i++) {
            if (!test_subset(json_array_get(got, i), json_array_get(exp, i)))
            {
                return 0;
            }
        }

        return 1;
    }

    return got && test_json_equal(got, exp, 0);
}
