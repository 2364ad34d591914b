
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * De-duplication by messageId: "kochava_dedup_zone name:size [ttl=24h]
 * [reserve=60s]" (and store=<upstream>: ngx_http_kochava_store.c) makes
 * a slab-backed zone of messageIds (an rbtree keyed by a CRC32 of App
 * GUID and messageId, the full key stored and compared, and an LRU
 * queue), "kochava_dedup name | off" uses it.  An id is in one of two
 * states:
 *
 *   absent --seen: reserve--> RESERVED (reserve=) --confirm--> CONFIRMED
 *      ^                           |                           (ttl=)
 *      +---------- release --------+--------- release ---------+
 *
 * The core asks before it rewrites a message (ngx_http_kochava_dedup_seen):
 * the check and the reservation are one step under the zone's mutex, so
 * of simultaneous copies on any workers exactly one is let through.  A
 * copy meeting a reservation is held (sync: the client is answered 503
 * and sends it again) or, async, a duplicate (the holder ends delivered or
 * on disk, and the client gets 200 either way).  The fan-out confirms the
 * messages of an outbound request once it is over for good (delivered,
 * refused, on disk) and releases those that failed and are nowhere, so a
 * retry can go.  A release deletes only what this request reserved or
 * confirmed (an owner token per request).  Entries expire; a full zone
 * evicts its least recently used entries, never fails a request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_dedup.h"
#include "ngx_http_kochava_metrics.h"


/* App GUID, a NUL byte, messageId: longer keys are never recorded */
#define NGX_HTTP_KOCHAVA_DEDUP_KEY_MAX  1024

/* at most one "zone is full" warning per worker and zone this often */
#define NGX_HTTP_KOCHAVA_DEDUP_WARN     60


/* a request's store confirms, sent together (ngx_http_kochava_dedup_later) */
struct ngx_http_kochava_dedup_flush_s {
    ngx_http_kochava_ctx_t       *ctx;
    ngx_http_kochava_store_t     *store;
    u_char                       *pending;      /* per output */
};


/* reserve= of kochava_dedup_zone */
#define NGX_HTTP_KOCHAVA_DEDUP_RESERVE  60


/*
 * 32 bytes before the key, as before the states came: an entry of App
 * GUID and messageId up to 64 bytes takes a 128-byte slab chunk.
 */
typedef struct {
    u_char                        color;
    u_char                        confirmed;     /* 0: reserved */
    u_short                       len;
    uint32_t                      owner;         /* the token of the
                                                    request that reserved
                                                    or confirmed it */
    ngx_queue_t                   queue;
    time_t                        expire;
    u_char                        data[1];
} ngx_http_kochava_dedup_node_t;


typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_queue_t                   queue;         /* most recent first */
    ngx_uint_t                    entries;
} ngx_http_kochava_dedup_shctx_t;


typedef struct {
    ngx_http_kochava_dedup_shctx_t  *sh;
    ngx_slab_pool_t                 *shpool;
    time_t                           ttl;
    time_t                           reserve;
    time_t                           warned;     /* this worker's */
    ngx_http_kochava_store_t        *store;      /* NULL: none */
} ngx_http_kochava_dedup_ctx_t;


static ngx_int_t ngx_http_kochava_dedup_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_kochava_dedup_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static u_char *ngx_http_kochava_dedup_key(ngx_str_t *app_id,
    const kochava_id_t *id, u_char *buf, size_t *len);
static ngx_http_kochava_dedup_node_t *ngx_http_kochava_dedup_lookup(
    ngx_http_kochava_dedup_ctx_t *dctx, u_char *key, size_t len,
    uint32_t hash);
static void ngx_http_kochava_dedup_delete(ngx_http_kochava_dedup_ctx_t *dctx,
    ngx_http_kochava_dedup_node_t *dn);
static ngx_http_kochava_dedup_node_t *ngx_http_kochava_dedup_insert(
    ngx_http_kochava_dedup_ctx_t *dctx, u_char *key, size_t len,
    uint32_t hash, ngx_uint_t *evicted);
static ngx_http_kochava_dedup_ctx_t *ngx_http_kochava_dedup_zone_of(
    ngx_http_request_t *r, ngx_http_kochava_ctx_t **ctxp);
static uint32_t ngx_http_kochava_dedup_owner(ngx_http_kochava_ctx_t *ctx);
static void ngx_http_kochava_dedup_apply(ngx_http_request_t *r,
    ngx_http_kochava_dedup_ctx_t *dctx, ngx_http_kochava_ctx_t *ctx,
    ngx_str_t *app_id, const kochava_id_t *ids, ngx_uint_t n,
    ngx_uint_t confirm);
static ngx_int_t ngx_http_kochava_dedup_later(ngx_http_request_t *r,
    ngx_http_kochava_dedup_ctx_t *dctx, ngx_http_kochava_ctx_t *ctx,
    kochava_out_t *out);
static void ngx_http_kochava_dedup_flush_cleanup(void *data);
static void ngx_http_kochava_dedup_flush(ngx_http_kochava_dedup_flush_t *fl);
static ngx_http_kochava_store_id_t *ngx_http_kochava_dedup_store_ids(
    ngx_http_kochava_ctx_t *ctx, kochava_out_t *out, ngx_uint_t *n);
static void ngx_http_kochava_dedup_full(ngx_http_request_t *r,
    ngx_http_kochava_dedup_ctx_t *dctx, ngx_uint_t evicted,
    ngx_uint_t failed);


char *
ngx_http_kochava_dedup_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char                        *p;
    char                          *rv;
    time_t                         ttl, reserve;
    ssize_t                        size;
    ngx_int_t                      rc;
    ngx_str_t                     *value, name, s;
    ngx_uint_t                     i;
    ngx_shm_zone_t                *shm_zone, **zone;
    ngx_http_kochava_store_t      *store;
    ngx_http_kochava_dedup_ctx_t  *dctx;
    ngx_http_kochava_main_conf_t  *kmcf;

    value = cf->args->elts;

    ttl = 86400;
    reserve = NGX_CONF_UNSET;
    size = 0;
    store = NULL;
    ngx_str_null(&name);

    for (i = 1; i < cf->args->nelts; i++) {

        rc = ngx_http_kochava_store_param(cf, &store, &value[i]);

        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_OK) {
            continue;
        }

        if (ngx_strncmp(value[i].data, "ttl=", 4) == 0) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            ttl = ngx_parse_time(&s, 1);
            if (ttl == (time_t) NGX_ERROR || ttl == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid ttl \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "reserve=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            reserve = ngx_parse_time(&s, 1);
            if (reserve == (time_t) NGX_ERROR || reserve == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\", a time such as \"60s\" "
                                   "is expected", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (name.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        /* "name:size", or "zone=name:size" as delivery.md writes it */

        s = value[i];

        if (ngx_strncmp(s.data, "zone=", 5) == 0) {
            s.data += 5;
            s.len -= 5;
        }

        p = (u_char *) ngx_strchr(s.data, ':');

        if (p == NULL || p == s.data) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid zone \"%V\", \"name:size\" is "
                               "expected", &value[i]);
            return NGX_CONF_ERROR;
        }

        name.data = s.data;
        name.len = p - s.data;

        s.data = p + 1;
        s.len = value[i].data + value[i].len - s.data;

        size = ngx_parse_size(&s);

        if (size == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid zone size \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (size < (ssize_t) (8 * ngx_pagesize)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "zone \"%V\" is too small", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have a \"name:size\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    dctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_kochava_dedup_ctx_t));
    if (dctx == NULL) {
        return NGX_CONF_ERROR;
    }

    if (reserve == NGX_CONF_UNSET) {
        /* a short ttl (a test's) shortens the default, never the ttl */
        reserve = ngx_min(NGX_HTTP_KOCHAVA_DEDUP_RESERVE, ttl);

    } else if (reserve >= ttl) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" has \"reserve=\" not shorter than "
                           "\"ttl=\": a reservation lasts until an attempt "
                           "ends, make it shorter", &cmd->name);
        return NGX_CONF_ERROR;
    }

    dctx->ttl = ttl;
    dctx->reserve = reserve;

    if (store) {
        rv = ngx_http_kochava_store_zone(cf, store, &name, ttl, reserve);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        dctx->store = store;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_kochava_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_kochava_dedup_init_zone;
    shm_zone->data = dctx;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kochava_module);

    zone = ngx_array_push(&kmcf->dedup_zones);
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    *zone = shm_zone;

    return NGX_CONF_OK;
}


ngx_http_kochava_store_t *
ngx_http_kochava_dedup_store(ngx_shm_zone_t *zone)
{
    ngx_http_kochava_dedup_ctx_t  *dctx;

    dctx = zone->data;

    return dctx ? dctx->store : NULL;
}


/* "kochava_dedup name | off": the zone may be defined later */

char *
ngx_http_kochava_dedup(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kochava_loc_conf_t *klcf = conf;

    ngx_str_t  *value;

    if (klcf->dedup != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        klcf->dedup = NULL;
        return NGX_CONF_OK;
    }

    klcf->dedup = ngx_shared_memory_add(cf, &value[1], 0,
                                        &ngx_http_kochava_module);
    if (klcf->dedup == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* on a reload with the same name and size, the old entries are kept */

static ngx_int_t
ngx_http_kochava_dedup_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_kochava_dedup_ctx_t *octx = data;

    size_t                         len;
    ngx_http_kochava_dedup_ctx_t  *dctx;

    dctx = shm_zone->data;

    if (octx) {
        dctx->sh = octx->sh;
        dctx->shpool = octx->shpool;
        return NGX_OK;
    }

    dctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        dctx->sh = dctx->shpool->data;
        return NGX_OK;
    }

    dctx->sh = ngx_slab_alloc(dctx->shpool,
                              sizeof(ngx_http_kochava_dedup_shctx_t));
    if (dctx->sh == NULL) {
        return NGX_ERROR;
    }

    dctx->shpool->data = dctx->sh;

    ngx_rbtree_init(&dctx->sh->rbtree, &dctx->sh->sentinel,
                    ngx_http_kochava_dedup_insert_value);

    ngx_queue_init(&dctx->sh->queue);

    dctx->sh->entries = 0;

    len = sizeof(" in kochava_dedup_zone \"\"") + shm_zone->shm.name.len;

    dctx->shpool->log_ctx = ngx_slab_alloc(dctx->shpool, len);
    if (dctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(dctx->shpool->log_ctx, " in kochava_dedup_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone evicts, as it is meant to: no "no memory" alerts */
    dctx->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_http_kochava_dedup_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t             **p;
    ngx_http_kochava_dedup_node_t  *dn, *dnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else { /* node->key == temp->key */

            dn = (ngx_http_kochava_dedup_node_t *) &node->color;
            dnt = (ngx_http_kochava_dedup_node_t *) &temp->color;

            p = (ngx_memn2cmp(dn->data, dnt->data, dn->len, dnt->len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/*
 * The key: the App GUID, so two apps' messageIds never collide, a NUL
 * byte, the messageId.  NULL when there is none or it is too long.
 */

static u_char *
ngx_http_kochava_dedup_key(ngx_str_t *app_id, const kochava_id_t *id,
    u_char *buf, size_t *len)
{
    u_char  *p;

    if (id->data == NULL
        || app_id->len + 1 + id->len > NGX_HTTP_KOCHAVA_DEDUP_KEY_MAX)
    {
        return NULL;
    }

    p = ngx_cpymem(buf, app_id->data, app_id->len);
    *p++ = '\0';
    p = ngx_cpymem(p, id->data, id->len);

    *len = p - buf;

    return buf;
}


static ngx_http_kochava_dedup_node_t *
ngx_http_kochava_dedup_lookup(ngx_http_kochava_dedup_ctx_t *dctx, u_char *key,
    size_t len, uint32_t hash)
{
    ngx_int_t                       rc;
    ngx_rbtree_node_t              *node, *sentinel;
    ngx_http_kochava_dedup_node_t  *dn;

    node = dctx->sh->rbtree.root;
    sentinel = dctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        /* hash == node->key */

        dn = (ngx_http_kochava_dedup_node_t *) &node->color;

        rc = ngx_memn2cmp(key, dn->data, len, (size_t) dn->len);

        if (rc == 0) {
            return dn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_kochava_dedup_delete(ngx_http_kochava_dedup_ctx_t *dctx,
    ngx_http_kochava_dedup_node_t *dn)
{
    ngx_rbtree_node_t  *node;

    node = (ngx_rbtree_node_t *)
               ((u_char *) dn - offsetof(ngx_rbtree_node_t, color));

    ngx_queue_remove(&dn->queue);
    ngx_rbtree_delete(&dctx->sh->rbtree, node);
    ngx_slab_free_locked(dctx->shpool, node);

    dctx->sh->entries--;
}


/*
 * kochava_req_t.seen: the check and the reservation in one step.  A
 * confirmed id is a duplicate; a reserved one is held (sync) or a
 * duplicate (async); an absent or expired one is reserved for this
 * request, and sent.  An id that cannot be recorded (too long, a full
 * zone with nothing to evict) is sent: fail open.
 */

int
ngx_http_kochava_dedup_seen(void *data, const char *id, size_t len)
{
    ngx_http_kochava_ctx_t *ctx = data;

    int                             verdict;
    u_char                         *key;
    size_t                          klen;
    time_t                          now;
    uint32_t                        hash;
    uint32_t                        owner;
    ngx_uint_t                      evicted;
    kochava_id_t                    kid;
    ngx_http_kochava_dedup_ctx_t   *dctx;
    ngx_http_kochava_dedup_node_t  *dn;
    ngx_http_kochava_loc_conf_t    *klcf;
    u_char                          buf[NGX_HTTP_KOCHAVA_DEDUP_KEY_MAX];

    dctx = ngx_http_kochava_dedup_zone_of(ctx->request, NULL);

    if (dctx == NULL) {
        return KOCHAVA_SEEN_NEW;
    }

    kid.data = id;
    kid.len = len;

    key = ngx_http_kochava_dedup_key(&ctx->app_id, &kid, buf, &klen);
    if (key == NULL) {
        return KOCHAVA_SEEN_NEW;
    }

    owner = ngx_http_kochava_dedup_owner(ctx);
    hash = ngx_crc32_short(key, klen);
    now = ngx_time();
    evicted = 0;

    ngx_shmtx_lock(&dctx->shpool->mutex);

    dn = ngx_http_kochava_dedup_lookup(dctx, key, klen, hash);

    if (dn && dn->expire <= now) {
        ngx_http_kochava_dedup_delete(dctx, dn);
        dn = NULL;
    }

    if (dn) {
        /* used: the last to be evicted */
        ngx_queue_remove(&dn->queue);
        ngx_queue_insert_head(&dctx->sh->queue, &dn->queue);

        verdict = dn->confirmed ? KOCHAVA_SEEN_DELIVERED : KOCHAVA_SEEN_HELD;

    } else {
        dn = ngx_http_kochava_dedup_insert(dctx, key, klen, hash, &evicted);

        if (dn) {
            dn->confirmed = 0;
            dn->expire = now + dctx->reserve;
            dn->owner = owner;
        }

        verdict = KOCHAVA_SEEN_NEW;
    }

    ngx_shmtx_unlock(&dctx->shpool->mutex);

    if (evicted || (dn == NULL && verdict == KOCHAVA_SEEN_NEW)) {
        ngx_http_kochava_dedup_full(ctx->request, dctx, evicted, dn == NULL);
    }

    klcf = ngx_http_get_module_loc_conf(ctx->request, ngx_http_kochava_module);

    if (verdict == KOCHAVA_SEEN_HELD
        && klcf->delivery == NGX_HTTP_KOCHAVA_ASYNC)
    {
        /* the holder ends delivered or on disk: 200 either way */
        verdict = KOCHAVA_SEEN_DELIVERED;
    }

    return verdict;
}


/*
 * Delivered, refused for good, or on disk: the ids of out are confirmed
 * for the zone's ttl, whoever reserved them (if our reservation expired
 * and another request took the id since, that copy is now a duplicate:
 * ours went), and in the fleet store (in the background).  Nothing to do
 * once every output of the request was confirmed at once
 * (ngx_http_kochava_dedup_confirm_all).
 */

void
ngx_http_kochava_dedup_confirm(ngx_http_request_t *r, ngx_str_t *app_id,
    kochava_out_t *out)
{
    ngx_uint_t                     n;
    ngx_http_kochava_ctx_t        *ctx;
    ngx_http_kochava_store_id_t   *sids;
    ngx_http_kochava_dedup_ctx_t  *dctx;

    if (out == NULL || out->ids == NULL) {
        return;
    }

    dctx = ngx_http_kochava_dedup_zone_of(r, &ctx);

    if (dctx == NULL || (ctx && ctx->dedup_confirmed)) {
        return;
    }

    ngx_http_kochava_dedup_apply(r, dctx, ctx, app_id, out->ids, out->count,
                                 1);

    sids = ngx_http_kochava_dedup_store_ids(ctx, out, &n);

    if (sids && dctx->store
        && ngx_http_kochava_dedup_later(r, dctx, ctx, out) != NGX_OK)
    {
        ngx_http_kochava_store_confirm(dctx->store, sids, n);
    }
}


/*
 * Failed and nowhere (or, the fan-out says, not to be recorded): the ids
 * of out that this request reserved or confirmed are deleted, so the next
 * copy is forwarded; so are the reservations it won in the fleet store.
 * One another request took since (our reservation had expired) stays its
 * own.
 */

void
ngx_http_kochava_dedup_release(ngx_http_request_t *r, ngx_str_t *app_id,
    kochava_out_t *out)
{
    ngx_uint_t                     n;
    ngx_http_kochava_ctx_t        *ctx;
    ngx_http_kochava_store_id_t   *sids;
    ngx_http_kochava_dedup_ctx_t  *dctx;

    if (out == NULL || out->ids == NULL) {
        return;
    }

    dctx = ngx_http_kochava_dedup_zone_of(r, &ctx);

    if (dctx == NULL || ctx == NULL || ctx->dedup_owner == 0) {
        return;
    }

    ngx_http_kochava_dedup_apply(r, dctx, ctx, app_id, out->ids, out->count,
                                 0);

    sids = ngx_http_kochava_dedup_store_ids(ctx, out, &n);

    if (sids && dctx->store) {
        if (ctx->store_flush) {
            /* not to be confirmed, after all */
            ctx->store_flush->pending[out - ctx->result.outs] = 0;
        }

        /* only the ids with our cas: those the store gave this request */
        ngx_http_kochava_store_release(dctx->store, sids, n);
    }
}


/* one id in the local zone only: confirmed (1) or released (0) */

void
ngx_http_kochava_dedup_local(ngx_http_request_t *r, ngx_str_t *app_id,
    const kochava_id_t *id, ngx_uint_t confirm)
{
    ngx_http_kochava_ctx_t        *ctx;
    ngx_http_kochava_dedup_ctx_t  *dctx;

    dctx = ngx_http_kochava_dedup_zone_of(r, &ctx);

    if (dctx && ctx) {
        ngx_http_kochava_dedup_apply(r, dctx, ctx, app_id, id, 1, confirm);
    }
}


/*
 * Async: the outputs are in the spool's journal before the client's 200,
 * and the replay sends what the fan-out does not: on disk is as good as
 * delivered.  Every output is confirmed now, in the store with one call;
 * the fan-out's confirms of this request are then nothing to do (its
 * releases still act).
 */

void
ngx_http_kochava_dedup_confirm_all(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t *ctx)
{
    uint32_t                       i;
    ngx_http_kochava_dedup_ctx_t  *dctx;

    dctx = ngx_http_kochava_dedup_zone_of(r, NULL);

    if (dctx == NULL || ctx->dedup_confirmed) {
        return;
    }

    for (i = 0; i < ctx->result.nouts; i++) {
        if (ctx->result.outs[i].ids) {
            ngx_http_kochava_dedup_apply(r, dctx, ctx, &ctx->app_id,
                                         ctx->result.outs[i].ids,
                                         ctx->result.outs[i].count, 1);
        }
    }

    if (ctx->store_ids && dctx->store) {
        ngx_http_kochava_store_confirm(dctx->store, ctx->store_ids,
                                       ctx->store_first[ctx->result.nouts]);
    }

    ctx->dedup_confirmed = 1;
}


/*
 * The detached request of a fan-out (sync or async) confirms and
 * releases what the client's request took: its token, its flag and its
 * store ids, copied.
 */

ngx_int_t
ngx_http_kochava_dedup_copy(ngx_pool_t *pool, ngx_http_kochava_ctx_t *to,
    ngx_http_kochava_ctx_t *from)
{
    size_t  size;

    to->dedup_owner = from->dedup_owner;
    to->dedup_confirmed = from->dedup_confirmed;

    if (from->store_ids == NULL) {
        return NGX_OK;
    }

    size = (from->result.nouts + 1) * sizeof(uint32_t);

    to->store_first = ngx_pnalloc(pool, size);
    if (to->store_first == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(to->store_first, from->store_first, size);

    size = from->store_first[from->result.nouts]
           * sizeof(ngx_http_kochava_store_id_t);

    to->store_ids = ngx_palloc(pool, size ? size : 1);
    if (to->store_ids == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(to->store_ids, from->store_ids, size);

    return NGX_OK;
}


/*
 * The local zone's part of a confirm (1) or a release (0) of n ids, under
 * one hold of the lock.
 */

static void
ngx_http_kochava_dedup_apply(ngx_http_request_t *r,
    ngx_http_kochava_dedup_ctx_t *dctx, ngx_http_kochava_ctx_t *ctx,
    ngx_str_t *app_id, const kochava_id_t *ids, ngx_uint_t n,
    ngx_uint_t confirm)
{
    size_t                          klen;
    u_char                         *key;
    time_t                          now;
    uint32_t                        hash, owner;
    ngx_uint_t                      i, evicted, failed, done;
    ngx_http_kochava_dedup_node_t  *dn;
    u_char                          buf[NGX_HTTP_KOCHAVA_DEDUP_KEY_MAX];

    owner = ctx ? ngx_http_kochava_dedup_owner(ctx) : 0;
    now = ngx_time();
    evicted = 0;
    failed = 0;
    done = 0;

    ngx_shmtx_lock(&dctx->shpool->mutex);

    for (i = 0; i < n; i++) {
        key = ngx_http_kochava_dedup_key(app_id, &ids[i], buf, &klen);

        if (key == NULL) {
            continue;
        }

        hash = ngx_crc32_short(key, klen);

        dn = ngx_http_kochava_dedup_lookup(dctx, key, klen, hash);

        if (!confirm) {
            if (dn && dn->owner == owner) {
                ngx_http_kochava_dedup_delete(dctx, dn);
                done++;
            }

            continue;
        }

        if (dn) {
            ngx_queue_remove(&dn->queue);
            ngx_queue_insert_head(&dctx->sh->queue, &dn->queue);

        } else {
            dn = ngx_http_kochava_dedup_insert(dctx, key, klen, hash,
                                               &evicted);
            if (dn == NULL) {
                failed++;
                continue;
            }
        }

        dn->confirmed = 1;
        dn->expire = now + dctx->ttl;
        dn->owner = owner;
        done++;
    }

    ngx_shmtx_unlock(&dctx->shpool->mutex);

    if (evicted || failed) {
        ngx_http_kochava_dedup_full(r, dctx, evicted, failed);
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kochava: dedup %s %ui of %ui messages, %ui entries",
                   confirm ? "confirmed" : "released", done, n,
                   dctx->sh->entries);
}


/*
 * The store's confirms of a request's outputs are sent together, in one
 * call when its fan-out is over and before its client is answered
 * (ngx_http_kochava_dedup_commit), instead of a call per outbound
 * request; what is left when the request goes is sent then.  Their
 * reservations hold meanwhile; a release takes its output out.
 * NGX_ERROR: send it now.
 */

static ngx_int_t
ngx_http_kochava_dedup_later(ngx_http_request_t *r,
    ngx_http_kochava_dedup_ctx_t *dctx, ngx_http_kochava_ctx_t *ctx,
    kochava_out_t *out)
{
    ngx_pool_cleanup_t              *cln;
    ngx_http_kochava_dedup_flush_t  *fl;

    fl = ctx->store_flush;

    if (fl == NULL) {
        fl = ngx_pcalloc(r->pool, sizeof(ngx_http_kochava_dedup_flush_t));
        cln = ngx_pool_cleanup_add(r->pool, 0);

        if (fl == NULL || cln == NULL) {
            return NGX_ERROR;
        }

        fl->pending = ngx_pcalloc(r->pool, ctx->result.nouts);
        if (fl->pending == NULL) {
            return NGX_ERROR;
        }

        fl->ctx = ctx;
        fl->store = dctx->store;

        cln->handler = ngx_http_kochava_dedup_flush_cleanup;
        cln->data = fl;

        ctx->store_flush = fl;
    }

    fl->pending[out - ctx->result.outs] = 1;

    return NGX_OK;
}


/* r's fan-out is over, before its answer: its confirms, in one call */

void
ngx_http_kochava_dedup_commit(ngx_http_request_t *r)
{
    ngx_http_kochava_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kochava_module);

    if (ctx && ctx->store_flush) {
        ngx_http_kochava_dedup_flush(ctx->store_flush);
    }
}


/* the request goes: what is still to be confirmed, now */

static void
ngx_http_kochava_dedup_flush_cleanup(void *data)
{
    ngx_http_kochava_dedup_flush(data);
}


/*
 * The pending confirms: one call for all of them (a store call takes at
 * most NGX_HTTP_KOCHAVA_DEDUP_FLUSH ids: more make more calls).
 */

#define NGX_HTTP_KOCHAVA_DEDUP_FLUSH  64

static void
ngx_http_kochava_dedup_flush(ngx_http_kochava_dedup_flush_t *fl)
{
    uint32_t                      i, k;
    ngx_uint_t                    n;
    ngx_http_kochava_ctx_t       *ctx;
    ngx_http_kochava_store_id_t   ids[NGX_HTTP_KOCHAVA_DEDUP_FLUSH];

    ctx = fl->ctx;
    n = 0;

    for (i = 0; i < ctx->result.nouts; i++) {

        if (!fl->pending[i]) {
            continue;
        }

        fl->pending[i] = 0;

        for (k = ctx->store_first[i]; k < ctx->store_first[i + 1]; k++) {
            ids[n++] = ctx->store_ids[k];

            if (n == NGX_HTTP_KOCHAVA_DEDUP_FLUSH) {
                ngx_http_kochava_store_confirm(fl->store, ids, n);
                n = 0;
            }
        }
    }

    if (n) {
        ngx_http_kochava_store_confirm(fl->store, ids, n);
    }
}


/* the store ids of out, one of ctx's outputs; NULL when none were asked */

static ngx_http_kochava_store_id_t *
ngx_http_kochava_dedup_store_ids(ngx_http_kochava_ctx_t *ctx,
    kochava_out_t *out, ngx_uint_t *n)
{
    ngx_uint_t  i;

    if (ctx == NULL || ctx->store_ids == NULL
        || out < ctx->result.outs
        || out >= ctx->result.outs + ctx->result.nouts)
    {
        return NULL;
    }

    i = out - ctx->result.outs;

    *n = ctx->store_first[i + 1] - ctx->store_first[i];

    return *n ? &ctx->store_ids[ctx->store_first[i]] : NULL;
}


/* the zone of r's "kochava_dedup", ready; NULL when it has none */

static ngx_http_kochava_dedup_ctx_t *
ngx_http_kochava_dedup_zone_of(ngx_http_request_t *r,
    ngx_http_kochava_ctx_t **ctxp)
{
    ngx_http_kochava_dedup_ctx_t  *dctx;
    ngx_http_kochava_loc_conf_t   *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    if (klcf->dedup == NULL || klcf->dedup->data == NULL) {
        return NULL;
    }

    dctx = klcf->dedup->data;

    if (dctx->sh == NULL) {
        return NULL;
    }

    if (ctxp) {
        *ctxp = ngx_http_get_module_ctx(r, ngx_http_kochava_module);
    }

    return dctx;
}


/*
 * The request's token, made when it first reserves: a counter of the
 * worker's from its pid on, so workers sharing the zone start apart.  A
 * token only tells a request's own entry from one another request made
 * after its reservation expired: two live requests sharing one (after 2^16
 * requests of a worker) and one id is not a case worth 8 more bytes an
 * entry.
 */

static uint32_t
ngx_http_kochava_dedup_owner(ngx_http_kochava_ctx_t *ctx)
{
    static uint32_t  n;

    while (ctx->dedup_owner == 0) {
        ctx->dedup_owner = ((uint32_t) ngx_pid << 16) + ++n;
    }

    return ctx->dedup_owner;
}


/* at most once a minute per worker and zone */

static void
ngx_http_kochava_dedup_full(ngx_http_request_t *r,
    ngx_http_kochava_dedup_ctx_t *dctx, ngx_uint_t evicted,
    ngx_uint_t failed)
{
    ngx_http_kochava_loc_conf_t  *klcf;

    if (evicted) {
        ngx_http_kochava_metrics_dedup_evicted(evicted);
    }

    if (ngx_time() - dctx->warned < NGX_HTTP_KOCHAVA_DEDUP_WARN) {
        return;
    }

    dctx->warned = ngx_time();

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "kochava: dedup zone \"%V\" is full: %ui entries "
                  "evicted before their time, %ui not recorded "
                  "(logged once a minute)",
                  &klcf->dedup->shm.name, evicted, failed);
}


/*
 * Under the lock: a new node for key (not in the zone), its state to be
 * set by the caller; NULL when the zone has no room even after evicting
 * everything.  *evicted counts the live entries evicted to make room.
 */

static ngx_http_kochava_dedup_node_t *
ngx_http_kochava_dedup_insert(ngx_http_kochava_dedup_ctx_t *dctx, u_char *key,
    size_t len, uint32_t hash, ngx_uint_t *evicted)
{
    size_t                          size;
    time_t                          now;
    ngx_uint_t                      n;
    ngx_queue_t                    *q;
    ngx_rbtree_node_t              *node;
    ngx_http_kochava_dedup_node_t  *dn;

    now = ngx_time();

    /* at most two expired entries go on every insert, as in limit_req */

    for (n = 0; n < 2 && !ngx_queue_empty(&dctx->sh->queue); n++) {
        q = ngx_queue_last(&dctx->sh->queue);
        dn = ngx_queue_data(q, ngx_http_kochava_dedup_node_t, queue);

        if (dn->expire > now) {
            break;
        }

        ngx_http_kochava_dedup_delete(dctx, dn);
    }

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_kochava_dedup_node_t, data)
           + len;

    for ( ;; ) {
        node = ngx_slab_alloc_locked(dctx->shpool, size);

        if (node) {
            break;
        }

        if (ngx_queue_empty(&dctx->sh->queue)) {
            return NULL;
        }

        /* full: the least recently used entry goes */

        q = ngx_queue_last(&dctx->sh->queue);
        dn = ngx_queue_data(q, ngx_http_kochava_dedup_node_t, queue);

        if (dn->expire > now) {
            (*evicted)++;
        }

        ngx_http_kochava_dedup_delete(dctx, dn);
    }

    node->key = hash;

    dn = (ngx_http_kochava_dedup_node_t *) &node->color;

    dn->len = (u_short) len;
    ngx_memcpy(dn->data, key, len);

    ngx_rbtree_insert(&dctx->sh->rbtree, node);
    ngx_queue_insert_head(&dctx->sh->queue, &dn->queue);

    dctx->sh->entries++;

    return dn;
}


/*
 * kochava_dedup_entries{zone="..."}: the live and not yet removed entries
 * of each zone of this cycle, read without the lock (one word).
 */

u_char *
ngx_http_kochava_dedup_status(u_char *p, u_char *last)
{
    u_char                        *n, *end;
    ngx_uint_t                     i;
    ngx_shm_zone_t               **zones;
    ngx_http_kochava_dedup_ctx_t  *dctx;
    ngx_http_kochava_main_conf_t  *kmcf;

    p = ngx_slprintf(p, last,
                     "# HELP kochava_dedup_entries Entries in a "
                     "kochava_dedup_zone.\n"
                     "# TYPE kochava_dedup_entries gauge\n");

    kmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_kochava_module);
    if (kmcf == NULL) {
        return p;
    }

    zones = kmcf->dedup_zones.elts;

    for (i = 0; i < kmcf->dedup_zones.nelts; i++) {
        dctx = zones[i]->data;

        if (dctx == NULL || dctx->sh == NULL) {
            continue;
        }

        p = ngx_slprintf(p, last, "kochava_dedup_entries{zone=\"");

        /* a label value: '"' and '\\' would need escapes, they are '_' */

        n = zones[i]->shm.name.data;
        end = n + zones[i]->shm.name.len;

        while (n < end && p < last) {
            *p++ = (*n == '"' || *n == '\\' || *n == '\n') ? '_' : *n;
            n++;
        }

        p = ngx_slprintf(p, last, "\"} %ui\n", dctx->sh->entries);
    }

    return p;
}
