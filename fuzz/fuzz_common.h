
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * What the fuzz targets share: a configuration and an arena allocator
 * that frees everything after each input.
 */


#ifndef _KOCHAVA_FUZZ_COMMON_H_INCLUDED_
#define _KOCHAVA_FUZZ_COMMON_H_INCLUDED_


#include <stdlib.h>
#include <string.h>

#include "kochava_core.h"


typedef struct fuzz_block_s  fuzz_block_t;

struct fuzz_block_s {
    fuzz_block_t             *next;
    /* 16 bytes of alignment before the data */
    char                      pad[8];
};


static void *
fuzz_alloc(void *data, size_t size)
{
    fuzz_block_t  **blocks, *b;

    blocks = data;

    b = malloc(sizeof(fuzz_block_t) + size);
    if (b == NULL) {
        return NULL;
    }

    b->next = *blocks;
    *blocks = b;

    return (char *) b + sizeof(fuzz_block_t);
}


static void
fuzz_free(fuzz_block_t **blocks)
{
    fuzz_block_t  *b, *next;

    for (b = *blocks; b; b = next) {
        next = b->next;
        free(b);
    }

    *blocks = NULL;
}


static void
fuzz_conf(kochava_conf_t *conf, const unsigned char *data, size_t size)
{
    static const kochava_name_t  row = {
        "Level Up", sizeof("Level Up") - 1, "Level", sizeof("Level") - 1
    };

    memset(conf, 0, sizeof(kochava_conf_t));

    conf->max_message_size = 32768;
    conf->max_batch = 2500;
    conf->max_depth = 64;
    conf->identify_traits = (size && (data[0] & 1)) ? 0 : 1;
    conf->braze = (size && (data[0] & 2)) ? 0 : 1;
    conf->names = &row;
    conf->nnames = 1;

    /* half of the inputs map both DMA consent flags */
    if (size && (data[0] & 4)) {
        conf->consent_ad_user_data = "Advertising";
        conf->consent_ad_user_data_len = sizeof("Advertising") - 1;
        conf->consent_ad_personalization = "C0004";
        conf->consent_ad_personalization_len = sizeof("C0004") - 1;
    }
}


/*
 * A de-duplication hook that reads each byte of the id and answers by
 * their sum: a third of the messages are new, a third delivered before,
 * a third held (in flight elsewhere).
 */

static int
fuzz_seen(void *data, const char *id, size_t len)
{
    size_t    i;
    unsigned  sum;

    sum = 0;

    for (i = 0; i < len; i++) {
        sum += (unsigned char) id[i];
    }

    return (int) (sum % 3);
}


/* parse and process a body as the nginx glue does; no output is kept */

static void
fuzz_body(kochava_call_e call, const unsigned char *data, size_t size)
{
    char                  err[256];
    size_t                i, j, len;
    fuzz_block_t         *blocks;
    kochava_req_t         req;
    kochava_doc_t        *doc;
    kochava_conf_t        conf;
    kochava_result_t      res;
    kochava_allocator_t   a;

    fuzz_conf(&conf, data, size);

    if (kochava_doc_parse(&conf, call, (const char *) data, size, &doc, err,
                          sizeof(err))
        != 0)
    {
        return;
    }

    (void) kochava_doc_write_key(doc, &len);

    blocks = NULL;
    a.alloc = fuzz_alloc;
    a.data = &blocks;

    memset(&req, 0, sizeof(kochava_req_t));
    req.call = call;
    req.app_id = "fuzz-app-guid";
    req.app_id_len = sizeof("fuzz-app-guid") - 1;
    req.client_ip = "127.0.0.1";
    req.client_ip_len = sizeof("127.0.0.1") - 1;
    req.gdpr_applies = size ? (kochava_gdpr_e) (data[size - 1] % 3)
                            : KOCHAVA_GDPR_UNKNOWN;
    req.received_ms = 1710962816000LL;
    req.seen = (size & 1) ? fuzz_seen : NULL;

    if (kochava_doc_process(&conf, &req, doc, &a, &res) == 0) {
        (void) kochava_result_json(&res, &a, &len);

        /* every id an out carries is readable */

        for (i = 0; i < res.nouts; i++) {
            for (j = 0; res.outs[i].ids && j < res.outs[i].count; j++) {
                if (res.outs[i].ids[j].data) {
                    (void) fuzz_seen(NULL, res.outs[i].ids[j].data,
                                     res.outs[i].ids[j].len);
                }
            }
        }
    }

    kochava_doc_free(doc);
    fuzz_free(&blocks);
}


#endif /* _KOCHAVA_FUZZ_COMMON_H_INCLUDED_ */
