
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * De-duplication by messageId: "kochava_dedup_zone name:size [ttl=24h]"
 * (and store=<upstream>: ngx_http_kochava_store.c)
 * makes a slab-backed zone of the messageIds delivered (an rbtree keyed
 * by a CRC32 of App GUID and messageId, the full key stored and compared,
 * and an LRU queue), "kochava_dedup name | off" uses it.  The core asks
 * before it rewrites a message (ngx_http_kochava_dedup_seen); the fan-out
 * records the messages of an outbound request once it is over for good
 * (ngx_http_kochava_dedup_confirm).  Entries expire after the ttl; a full
 * zone evicts its least recently used entries, never fails a request.
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


typedef struct {
    u_char                        color;
    u_char                        dummy;
    u_short                       len;
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
static ngx_uint_t ngx_http_kochava_dedup_record(
    ngx_http_kochava_dedup_ctx_t *dctx, u_char *key, size_t len,
    ngx_uint_t *failed);


char *
ngx_http_kochava_dedup_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char                        *p;
    char                          *rv;
    time_t                         ttl;
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

    dctx->ttl = ttl;

    if (store) {
        rv = ngx_http_kochava_store_zone(cf, store, &name, ttl);
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


int
ngx_http_kochava_dedup_seen(void *data, const char *id, size_t len)
{
    ngx_http_kochava_ctx_t *ctx = data;

    int                             seen;
    u_char                         *key;
    size_t                          klen;
    uint32_t                        hash;
    kochava_id_t                    kid;
    ngx_http_kochava_dedup_ctx_t   *dctx;
    ngx_http_kochava_dedup_node_t  *dn;
    ngx_http_kochava_loc_conf_t    *klcf;
    u_char                          buf[NGX_HTTP_KOCHAVA_DEDUP_KEY_MAX];

    klcf = ngx_http_get_module_loc_conf(ctx->request,
                                        ngx_http_kochava_module);

    if (klcf->dedup == NULL || klcf->dedup->data == NULL) {
        return 0;
    }

    kid.data = id;
    kid.len = len;

    key = ngx_http_kochava_dedup_key(&ctx->app_id, &kid, buf, &klen);
    if (key == NULL) {
        return 0;
    }

    dctx = klcf->dedup->data;
    hash = ngx_crc32_short(key, klen);
    seen = 0;

    ngx_shmtx_lock(&dctx->shpool->mutex);

    dn = ngx_http_kochava_dedup_lookup(dctx, key, klen, hash);

    if (dn) {
        if (dn->expire > ngx_time()) {
            /* used: the last to be evicted */
            ngx_queue_remove(&dn->queue);
            ngx_queue_insert_head(&dctx->sh->queue, &dn->queue);
            seen = 1;

        } else {
            ngx_http_kochava_dedup_delete(dctx, dn);
        }
    }

    ngx_shmtx_unlock(&dctx->shpool->mutex);

    return seen;
}


void
ngx_http_kochava_dedup_confirm(ngx_http_request_t *r, ngx_str_t *app_id,
    kochava_out_t *out)
{
    size_t                         klen;
    u_char                        *key;
    ngx_uint_t                     i, evicted, failed;
    ngx_http_kochava_dedup_ctx_t  *dctx;
    ngx_http_kochava_loc_conf_t   *klcf;
    u_char                         buf[NGX_HTTP_KOCHAVA_DEDUP_KEY_MAX];

    if (out == NULL || out->ids == NULL) {
        return;
    }

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kochava_module);

    if (klcf->dedup == NULL || klcf->dedup->data == NULL) {
        return;
    }

    dctx = klcf->dedup->data;
    evicted = 0;
    failed = 0;

    ngx_shmtx_lock(&dctx->shpool->mutex);

    for (i = 0; i < out->count; i++) {
        key = ngx_http_kochava_dedup_key(app_id, &out->ids[i], buf, &klen);

        if (key) {
            evicted += ngx_http_kochava_dedup_record(dctx, key, klen,
                                                     &failed);
        }
    }

    ngx_shmtx_unlock(&dctx->shpool->mutex);

    if (evicted) {
        ngx_http_kochava_metrics_dedup_evicted(evicted);
    }

    if ((evicted || failed)
        && ngx_time() - dctx->warned >= NGX_HTTP_KOCHAVA_DEDUP_WARN)
    {
        dctx->warned = ngx_time();

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "kochava: dedup zone \"%V\" is full: %ui entries "
                      "evicted before their time, %ui not recorded "
                      "(logged once a minute)",
                      &klcf->dedup->shm.name, evicted, failed);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kochava: dedup recorded %uD messages, %ui evicted, "
                   "%ui entries", out->count, evicted, dctx->sh->entries);
}


/*
 * Nothing is reserved before delivery yet: a message that failed and is
 * nowhere simply stays unrecorded, so that its retry goes.
 */

void
ngx_http_kochava_dedup_release(ngx_http_request_t *r, ngx_str_t *app_id,
    kochava_out_t *out)
{
}


/*
 * Under the lock.  Returns how many live entries were evicted to make
 * room; *failed counts keys that found none.
 */

static ngx_uint_t
ngx_http_kochava_dedup_record(ngx_http_kochava_dedup_ctx_t *dctx,
    u_char *key, size_t len, ngx_uint_t *failed)
{
    size_t                          size;
    time_t                          now;
    uint32_t                        hash;
    ngx_uint_t                      n, evicted;
    ngx_queue_t                    *q;
    ngx_rbtree_node_t              *node;
    ngx_http_kochava_dedup_node_t  *dn;

    now = ngx_time();
    hash = ngx_crc32_short(key, len);

    dn = ngx_http_kochava_dedup_lookup(dctx, key, len, hash);

    if (dn) {
        dn->expire = now + dctx->ttl;
        ngx_queue_remove(&dn->queue);
        ngx_queue_insert_head(&dctx->sh->queue, &dn->queue);
        return 0;
    }

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

    evicted = 0;

    for ( ;; ) {
        node = ngx_slab_alloc_locked(dctx->shpool, size);

        if (node) {
            break;
        }

        if (ngx_queue_empty(&dctx->sh->queue)) {
            (*failed)++;
            return evicted;
        }

        /* full: the least recently used entry goes */

        q = ngx_queue_last(&dctx->sh->queue);
        dn = ngx_queue_data(q, ngx_http_kochava_dedup_node_t, queue);

        if (dn->expire > now) {
            evicted++;
        }

        ngx_http_kochava_dedup_delete(dctx, dn);
    }

    node->key = hash;

    dn = (ngx_http_kochava_dedup_node_t *) &node->color;

    dn->len = (u_short) len;
    dn->expire = now + dctx->ttl;
    ngx_memcpy(dn->data, key, len);

    ngx_rbtree_insert(&dctx->sh->rbtree, node);
    ngx_queue_insert_head(&dctx->sh->queue, &dn->queue);

    dctx->sh->entries++;

    return evicted;
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
