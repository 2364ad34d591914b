
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * A request body: the limits checked on its raw bytes, parsed into the
 * document's arena (kochava_json.h), then every message validated,
 * normalised and rewritten into outbound bodies (kochava_core.h).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kochava_internal.h"


#define KOCHAVA_ITEM_OK         0
#define KOCHAVA_ITEM_TOO_LARGE  1
#define KOCHAVA_ITEM_TOO_DEEP   2

/* the first chunk of a document's arena: a single call fits in it */
#define KOCHAVA_DOC_ARENA       16384


struct kochava_doc_s {
    kochava_arena_t          *arena;
    kochava_json_t           *root;
    kochava_call_e            call;

    kochava_json_t           *batch;         /* the array, or NULL */
    kochava_json_t           *context;       /* the envelope's */
    kochava_json_t           *integrations;
    kochava_json_t           *sent_at;

    size_t                    nitems;
    unsigned char            *limits;        /* per item, KOCHAVA_ITEM_* */

    size_t                    max_message_size;
    size_t                    max_depth;
};


/* what kochava_doc_process() collects before copying it out */

typedef struct {
    const kochava_conf_t       *conf;
    const kochava_req_t        *req;
    const kochava_allocator_t  *a;
    kochava_result_t           *res;
    kochava_doc_t              *doc;

    kochava_reject_t         *rejects;
    size_t                    nrejects;
    kochava_out_t            *outs;
    size_t                    nouts;
    size_t                    outs_cap;

    kochava_braze_item_t     *braze;
    uint32_t                 *braze_index;
    kochava_str_t            *braze_id;
    size_t                    nbraze;

    kochava_idset_t           ids;           /* slots NULL until used */

    kochava_msg_t             msg;
} kochava_process_t;


static int kochava_doc_items(kochava_doc_t *doc, kochava_scan_t *scan,
    const kochava_conf_t *conf, int small, char *err, size_t errlen);
static size_t kochava_doc_outer_depth(kochava_json_t *root,
    kochava_json_t *batch);
static int kochava_process_message(kochava_process_t *pr, uint32_t index,
    kochava_json_t *obj);
static int kochava_process_seen(kochava_process_t *pr);
static int kochava_process_grow(void **p, size_t size);
static int kochava_process_reject(kochava_process_t *pr, uint32_t index,
    kochava_reason_e reason, const char *error);
static int kochava_process_out(kochava_process_t *pr, kochava_dest_e dest,
    kochava_json_t *body, uint32_t index, uint32_t count, kochava_str_t *id);
static int kochava_process_braze(kochava_process_t *pr);
static int kochava_process_finish(kochava_process_t *pr);
static void kochava_process_free(kochava_process_t *pr);


int
kochava_doc_parse(const kochava_conf_t *conf, kochava_call_e call,
    const char *body, size_t len, kochava_doc_t **docp, char *err,
    size_t errlen)
{
    int              batch, small, rc;
    size_t           max_depth;
    kochava_doc_t   *doc;
    kochava_scan_t   scan;
    kochava_json_t  *root, *value;

    *docp = NULL;

    if (errlen) {
        err[0] = '\0';
    }

    doc = calloc(1, sizeof(kochava_doc_t));
    if (doc == NULL) {
        snprintf(err, errlen, "Out of memory");
        return 500;
    }

    doc->call = call;
    doc->max_message_size = conf->max_message_size;
    doc->max_depth = conf->max_depth;

    if (call == KOCHAVA_CALL_METRICS || call == KOCHAVA_CALL_UNKNOWN) {
        /* nothing to read: answered and ignored */
        *docp = doc;
        return 0;
    }

    batch = (call == KOCHAVA_CALL_BATCH);

    max_depth = batch ? KOCHAVA_PARSER_MAX_DEPTH : conf->max_depth;

    if (max_depth > KOCHAVA_PARSER_MAX_DEPTH) {
        max_depth = KOCHAVA_PARSER_MAX_DEPTH;
    }

    /*
     * The limits, on the raw bytes.  A body no longer than the message
     * limit cannot hold a message over it, nor more work than one message
     * may cost: its nesting is left to the parser (KOCHAVA_JSON_TOO_DEEP)
     * and, in a batch, measured on the tree; the bytes are read once.
     */

    memset(&scan, 0, sizeof(kochava_scan_t));

    small = (len <= conf->max_message_size);

    if (!small
        && kochava_scan(body, len, batch, conf->max_batch, max_depth, &scan)
           != 0)
    {
        kochava_scan_free(&scan);
        free(doc);
        snprintf(err, errlen, "Out of memory");
        return 500;
    }

    rc = 400;

    if (scan.too_many) {
        snprintf(err, errlen, "Too many messages in batch (limit %zu)",
                 conf->max_batch);
        goto failed;
    }

    if (scan.too_deep) {
        snprintf(err, errlen, batch ? "Request body nested too deeply "
                                      "(limit %zu)"
                                    : "Message nested too deeply (limit %zu)",
                 max_depth);
        goto failed;
    }

    if (!batch && scan.size > conf->max_message_size) {
        snprintf(err, errlen, "Message too large (limit %zu bytes)",
                 conf->max_message_size);
        goto failed;
    }

    if (batch && scan.outer_depth > conf->max_depth) {
        /* the envelope's context is merged into every message */
        snprintf(err, errlen, "Message nested too deeply (limit %zu)",
                 conf->max_depth);
        goto failed;
    }

    /* the JSON */

    doc->arena = kochava_arena_create(len < KOCHAVA_DOC_ARENA / 2
                                      ? KOCHAVA_DOC_ARENA : len * 2);
    if (doc->arena == NULL) {
        rc = 500;
        snprintf(err, errlen, "Out of memory");
        goto failed;
    }

    rc = kochava_json_parse(doc->arena, body, len, 0, max_depth, &root);

    if (rc != 0) {
        if (rc == KOCHAVA_JSON_INVALID) {
            rc = 400;
            kochava_json_error(body, len, err, errlen);

        } else if (rc == KOCHAVA_JSON_TOO_DEEP) {
            rc = 400;
            snprintf(err, errlen, batch ? "Request body nested too deeply "
                                          "(limit %zu)"
                                        : "Message nested too deeply "
                                          "(limit %zu)",
                     max_depth);

        } else {
            rc = 500;
            snprintf(err, errlen, "Out of memory");
        }

        goto failed;
    }

    rc = 400;
    doc->root = root;

    if (!kochava_json_is_object(root)) {
        snprintf(err, errlen, "Invalid JSON: body is not an object");
        goto failed;
    }

    if (batch) {
        value = kochava_json_get(root, "batch");

        if (!kochava_json_is_array(value)) {
            snprintf(err, errlen, "Invalid JSON: batch is not an array");
            goto failed;
        }

        doc->batch = value;

        if (small && kochava_doc_outer_depth(root, value) > conf->max_depth) {
            /* the envelope's context is merged into every message */
            snprintf(err, errlen, "Message nested too deeply (limit %zu)",
                     conf->max_depth);
            goto failed;
        }

        value = kochava_json_get(root, "context");
        doc->context = kochava_json_is_object(value) ? value : NULL;

        value = kochava_json_get(root, "integrations");
        doc->integrations = kochava_json_is_object(value) ? value : NULL;

        value = kochava_json_get(root, "sentAt");
        doc->sent_at = kochava_json_is_null(value) ? NULL : value;

        rc = kochava_doc_items(doc, &scan, conf, small, err, errlen);
        if (rc != 0) {
            goto failed;
        }
    }

    kochava_scan_free(&scan);

    *docp = doc;

    return 0;

failed:

    kochava_scan_free(&scan);
    kochava_doc_free(doc);

    return rc;
}


/*
 * The nesting of the body outside "batch", as the pre-scan measures it:
 * the object's own level and its other members'.
 */

static size_t
kochava_doc_outer_depth(kochava_json_t *root, kochava_json_t *batch)
{
    size_t  i, d, max;

    max = 0;

    for (i = 0; i < kochava_json_count(root); i++) {
        if (root->u.members[i].value == batch) {
            continue;
        }

        d = kochava_json_depth(root->u.members[i].value);

        if (d > max) {
            max = d;
        }
    }

    return max + 1;
}


/*
 * The limits of each item of a batch: from the scan, else measured (no
 * item of a small body can be over the size limit).
 */

static int
kochava_doc_items(kochava_doc_t *doc, kochava_scan_t *scan,
    const kochava_conf_t *conf, int small, char *err, size_t errlen)
{
    int              mapped;
    size_t           i, n, size, depth;
    kochava_json_t  *item;

    n = kochava_json_count(doc->batch);

    if (n > conf->max_batch) {
        snprintf(err, errlen, "Too many messages in batch (limit %zu)",
                 conf->max_batch);
        return 400;
    }

    doc->nitems = n;

    if (n == 0) {
        return 0;
    }

    doc->limits = calloc(n, 1);
    if (doc->limits == NULL) {
        snprintf(err, errlen, "Out of memory");
        return 500;
    }

    /* the scan could not map the items, e.g. a key written with escapes */

    mapped = (scan->batch_found && scan->nitems == n);

    for (i = 0; i < n; i++) {
        if (mapped) {
            size = scan->items[i].size;
            depth = scan->items[i].depth;

        } else {
            item = kochava_json_item(doc->batch, i);
            size = small ? 0 : kochava_json_dump_size(item);
            depth = kochava_json_depth(item);
        }

        if (size > conf->max_message_size) {
            doc->limits[i] = KOCHAVA_ITEM_TOO_LARGE;

        } else if (depth > conf->max_depth) {
            doc->limits[i] = KOCHAVA_ITEM_TOO_DEEP;
        }
    }

    return 0;
}


const char *
kochava_doc_write_key(kochava_doc_t *doc, size_t *len)
{
    kochava_json_t  *value;

    if (doc == NULL || !kochava_json_is_object(doc->root)) {
        return NULL;
    }

    value = kochava_json_get(doc->root, "writeKey");

    if (!kochava_json_is_string(value)) {
        return NULL;
    }

    *len = kochava_json_string_len(value);

    return kochava_json_string(value);
}


void
kochava_doc_free(kochava_doc_t *doc)
{
    if (doc == NULL) {
        return;
    }

    kochava_arena_destroy(doc->arena);
    free(doc->limits);
    free(doc);
}


int
kochava_doc_process(const kochava_conf_t *conf, const kochava_req_t *req,
    kochava_doc_t *doc, const kochava_allocator_t *a, kochava_result_t *res)
{
    int                rc;
    size_t             i, n;
    kochava_process_t  pr;

    memset(res, 0, sizeof(kochava_result_t));

    if (doc == NULL || doc->root == NULL) {
        return 0;
    }

    memset(&pr, 0, sizeof(kochava_process_t));

    pr.conf = conf;
    pr.req = req;
    pr.a = a;
    pr.res = res;
    pr.doc = doc;

    n = doc->batch ? doc->nitems : 1;

    res->messages = (uint32_t) n;

    pr.rejects = malloc(n * sizeof(kochava_reject_t));
    if (pr.rejects == NULL) {
        return -1;
    }

    rc = 0;

    for (i = 0; i < n; i++) {
        rc = kochava_process_message(&pr, (uint32_t) i,
                                     doc->batch
                                     ? kochava_json_item(doc->batch, i)
                                     : doc->root);
        if (rc != 0) {
            goto done;
        }
    }

    rc = kochava_process_braze(&pr);
    if (rc != 0) {
        goto done;
    }

    rc = kochava_process_finish(&pr);

done:

    kochava_process_free(&pr);

    return rc;
}


/* one message: rejected, skipped, or rewritten into an outbound body */

static int
kochava_process_message(kochava_process_t *pr, uint32_t index,
    kochava_json_t *obj)
{
    int                    rc, nothing;
    char                   error[80];
    size_t                 n;
    kochava_json_t        *body, *event;
    kochava_arena_mark_t   mark;
    kochava_doc_t         *doc;
    kochava_msg_t         *msg;
    kochava_dest_e         dest;
    kochava_result_t      *res;
    kochava_reason_e       reason;
    kochava_braze_item_t   item;

    doc = pr->doc;
    res = pr->res;
    msg = &pr->msg;

    msg->arena = doc->arena;
    msg->obj = obj;
    msg->context = NULL;
    msg->integrations = NULL;
    msg->batch_context = doc->context;
    msg->batch_integrations = doc->integrations;
    msg->batch_sent_at = doc->sent_at;
    msg->type = doc->batch ? KOCHAVA_CALL_UNKNOWN : doc->call;

    /* the limits of a batch item come first: they protect the work */

    if (doc->limits && doc->limits[index] != KOCHAVA_ITEM_OK) {
        msg->message_id.data = NULL;

        if (kochava_json_is_object(obj)) {
            kochava_msg_id_string(kochava_json_get(obj, "messageId"),
                                  msg->message_id_buf, &msg->message_id);
        }

        if (doc->limits[index] == KOCHAVA_ITEM_TOO_LARGE) {
            snprintf(error, sizeof(error),
                     "Message too large (limit %zu bytes)",
                     doc->max_message_size);
            return kochava_process_reject(pr, index,
                                          KOCHAVA_REASON_TOO_LARGE, error);
        }

        snprintf(error, sizeof(error), "Message nested too deeply (limit %zu)",
                 doc->max_depth);
        return kochava_process_reject(pr, index, KOCHAVA_REASON_TOO_DEEP,
                                      error);
    }

    /* rules 1 to 5 */

    rc = kochava_msg_prepare(msg, pr->req, &reason);

    /* received by type: every message whose type is known */

    if ((unsigned) msg->type < KOCHAVA_NTYPES) {
        res->received[msg->type]++;
    }

    if (rc != 0) {
        return kochava_process_reject(pr, index, reason, msg->error);
    }

    if (msg->type == KOCHAVA_CALL_TRACK) {
        event = kochava_json_get(obj, "event");
        n = kochava_json_string_len(event);

        if (n == sizeof("Install Attributed") - 1
            && memcmp(kochava_json_string(event), "Install Attributed", n)
               == 0)
        {
            /* never to Kochava: to Braze, when it is on */

            if (!pr->conf->braze || !kochava_msg_enabled(msg, "Braze")) {
                res->skipped++;
                return 0;
            }

            rc = kochava_braze_install(msg, &item);

            if (rc == 1) {
                res->braze_organic++;
                res->skipped++;
                return 0;
            }

            if (rc == -1) {
                return kochava_process_reject(pr, index,
                           KOCHAVA_REASON_BRAZE_USER,
                           "userId or anonymousId is required");
            }

            if (rc != 0) {
                return -1;
            }

            rc = kochava_process_seen(pr);

            if (rc != KOCHAVA_SEEN_NEW) {
                return (rc < 0) ? -1 : 0;
            }

            if (pr->nbraze % KOCHAVA_BRAZE_MAX == 0) {
                /* room for the next KOCHAVA_BRAZE_MAX installs */

                n = pr->nbraze + KOCHAVA_BRAZE_MAX;

                if (kochava_process_grow((void **) &pr->braze,
                        n * sizeof(kochava_braze_item_t)) != 0
                    || kochava_process_grow((void **) &pr->braze_index,
                           n * sizeof(uint32_t)) != 0
                    || kochava_process_grow((void **) &pr->braze_id,
                           n * sizeof(kochava_str_t)) != 0)
                {
                    return -1;
                }
            }

            pr->braze[pr->nbraze] = item;
            pr->braze_index[pr->nbraze] = index;
            pr->braze_id[pr->nbraze].data = NULL;
            pr->nbraze++;

            if (msg->message_id.data) {
                pr->braze_id[pr->nbraze - 1].data =
                    kochava_strndup(pr->a, msg->message_id.data,
                                    msg->message_id.len);

                if (pr->braze_id[pr->nbraze - 1].data == NULL) {
                    return -1;
                }

                pr->braze_id[pr->nbraze - 1].len = msg->message_id.len;
            }

            res->braze_attributed++;

            return 0;
        }
    }

    /* to Kochava */

    if (!kochava_msg_enabled(msg, "Kochava")) {
        res->skipped++;
        return 0;
    }

    if (msg->type == KOCHAVA_CALL_IDENTIFY
        && !kochava_identify_has_data(pr->conf, msg))
    {
        res->skipped++;
        return 0;
    }

    /* rule 6 */

    if (kochava_msg_device(msg, &reason) != 0) {
        return kochava_process_reject(pr, index, reason, msg->error);
    }

    /* to be sent: unless it was, or is on its way */

    rc = kochava_process_seen(pr);

    if (rc != KOCHAVA_SEEN_NEW) {
        return (rc < 0) ? -1 : 0;
    }

    /* the body's tree is not needed once it is written: the arena is */

    kochava_arena_mark(doc->arena, &mark);

    if (msg->type == KOCHAVA_CALL_IDENTIFY
        || msg->type == KOCHAVA_CALL_ALIAS)
    {
        dest = KOCHAVA_DEST_IDENTITY;
        body = kochava_rewrite_identity(pr->conf, pr->req, msg, &nothing);

        if (body == NULL && nothing) {
            res->skipped++;
            return 0;
        }

    } else {
        dest = KOCHAVA_DEST_KOCHAVA;
        body = kochava_rewrite_event(pr->conf, pr->req, msg);
    }

    if (body == NULL) {
        return -1;
    }

    rc = kochava_process_out(pr, dest, body, index, 1, &msg->message_id);

    kochava_arena_release(doc->arena, &mark);

    return rc;
}


/*
 * De-duplication of a message that is to be sent, when the request has
 * a hook (kochava_req_t.seen): a later copy of its messageId in this
 * request is de-duplicated without asking; the first copy is the hook's
 * to judge.  Returns the
 * KOCHAVA_SEEN_* verdict, counted, or -1 on allocation failure.
 */

static int
kochava_process_seen(kochava_process_t *pr)
{
    int                rc;
    kochava_msg_t     *msg;
    kochava_result_t  *res;

    msg = &pr->msg;
    res = pr->res;

    if (msg->message_id.data == NULL || pr->req->seen == NULL) {
        return KOCHAVA_SEEN_NEW;
    }

    if (pr->doc->batch && pr->doc->nitems > 1) {

        if (pr->ids.slots == NULL
            && kochava_idset_init(&pr->ids, pr->doc->arena, pr->doc->nitems)
               != 0)
        {
            return -1;
        }

        /* a numeric messageId is written in the message's buffer */

        rc = kochava_idset_add(&pr->ids, msg->message_id.data,
                               msg->message_id.len,
                               msg->message_id.data == msg->message_id_buf);
        if (rc < 0) {
            return -1;
        }

        if (rc == 1) {
            res->deduplicated++;
            res->deduplicated_batch++;
            return KOCHAVA_SEEN_DELIVERED;
        }
    }

    rc = pr->req->seen(pr->req->seen_data, msg->message_id.data,
                       msg->message_id.len);

    if (rc == KOCHAVA_SEEN_NEW) {
        return KOCHAVA_SEEN_NEW;
    }

    if (rc == KOCHAVA_SEEN_HELD) {
        res->held++;
        return KOCHAVA_SEEN_HELD;
    }

    res->deduplicated++;

    return KOCHAVA_SEEN_DELIVERED;
}


static int
kochava_process_grow(void **p, size_t size)
{
    void  *np;

    np = realloc(*p, size);
    if (np == NULL) {
        return -1;
    }

    *p = np;

    return 0;
}


static int
kochava_process_reject(kochava_process_t *pr, uint32_t index,
    kochava_reason_e reason, const char *error)
{
    kochava_msg_t     *msg;
    kochava_reject_t  *rej;

    msg = &pr->msg;
    rej = &pr->rejects[pr->nrejects];

    rej->index = index;
    rej->reason = reason;
    rej->message_id = NULL;

    if (msg->message_id.data) {
        rej->message_id = kochava_strndup(pr->a, msg->message_id.data,
                                          msg->message_id.len);
        if (rej->message_id == NULL) {
            return -1;
        }
    }

    rej->error = kochava_strndup(pr->a, error, strlen(error));
    if (rej->error == NULL) {
        return -1;
    }

    pr->nrejects++;

    return 0;
}


static int
kochava_process_out(kochava_process_t *pr, kochava_dest_e dest,
    kochava_json_t *body, uint32_t index, uint32_t count, kochava_str_t *id)
{
    size_t          n, i;
    kochava_id_t   *ids;
    kochava_out_t  *out;

    if (pr->nouts == pr->outs_cap) {
        n = pr->outs_cap ? pr->outs_cap * 2 : 16;

        if (kochava_process_grow((void **) &pr->outs,
                                 n * sizeof(kochava_out_t)) != 0)
        {
            return -1;
        }

        pr->outs_cap = n;
    }

    out = &pr->outs[pr->nouts];

    out->dest = dest;
    out->index = index;
    out->count = count;
    out->type = KOCHAVA_CALL_TRACK;
    out->message_id = NULL;
    out->message_id_len = 0;
    out->ids = NULL;

    /* the messageIds it carries, for de-duplication */

    for (i = 0; i < count; i++) {
        if (id && id[i].data) {
            break;
        }
    }

    if (i < count) {
        ids = pr->a->alloc(pr->a->data, count * sizeof(kochava_id_t));
        if (ids == NULL) {
            return -1;
        }

        for (i = 0; i < count; i++) {
            ids[i].data = NULL;
            ids[i].len = 0;

            if (id[i].data) {
                ids[i].data = kochava_strndup(pr->a, id[i].data, id[i].len);
                if (ids[i].data == NULL) {
                    return -1;
                }

                ids[i].len = id[i].len;
            }
        }

        out->ids = ids;
    }

    if (count == 1) {
        out->type = (dest == KOCHAVA_DEST_BRAZE) ? KOCHAVA_CALL_TRACK
                                                 : pr->msg.type;

        if (out->ids) {
            out->message_id = out->ids[0].data;
            out->message_id_len = out->ids[0].len;
        }
    }

    out->body = kochava_json_dump(body, pr->a, &out->len);
    if (out->body == NULL) {
        return -1;
    }

    pr->nouts++;

    return 0;
}


/* the attributed installs of the request, KOCHAVA_BRAZE_MAX per body */

static int
kochava_process_braze(kochava_process_t *pr)
{
    int              rc;
    size_t           i, m;
    kochava_json_t  *body;

    for (i = 0; i < pr->nbraze; i += m) {
        m = pr->nbraze - i;

        if (m > KOCHAVA_BRAZE_MAX) {
            m = KOCHAVA_BRAZE_MAX;
        }

        body = kochava_braze_body(pr->doc->arena, &pr->braze[i], m);
        if (body == NULL) {
            return -1;
        }

        rc = kochava_process_out(pr, KOCHAVA_DEST_BRAZE, body,
                                 pr->braze_index[i], (uint32_t) m,
                                 &pr->braze_id[i]);
        if (rc != 0) {
            return -1;
        }
    }

    return 0;
}


/* the rejects and outs, copied into the allocator's memory */

static int
kochava_process_finish(kochava_process_t *pr)
{
    kochava_result_t  *res;

    res = pr->res;

    res->rejected = (uint32_t) pr->nrejects;
    res->accepted = res->messages - res->rejected;

    if (pr->nrejects) {
        res->rejects = pr->a->alloc(pr->a->data,
                                    pr->nrejects * sizeof(kochava_reject_t));
        if (res->rejects == NULL) {
            return -1;
        }

        memcpy(res->rejects, pr->rejects,
               pr->nrejects * sizeof(kochava_reject_t));
    }

    if (pr->nouts) {
        res->outs = pr->a->alloc(pr->a->data,
                                 pr->nouts * sizeof(kochava_out_t));
        if (res->outs == NULL) {
            return -1;
        }

        memcpy(res->outs, pr->outs, pr->nouts * sizeof(kochava_out_t));
    }

    res->nouts = (uint32_t) pr->nouts;

    return 0;
}


static void
kochava_process_free(kochava_process_t *pr)
{
    free(pr->braze);
    free(pr->braze_index);
    free(pr->braze_id);
    free(pr->rejects);
    free(pr->outs);
}
