
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Directives, configuration and the module's definition.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_ingest.h"
#include "ngx_http_kochava_postback.h"
#include "ngx_http_kochava_status.h"
#include "ngx_http_kochava_fanout.h"
#include "ngx_http_kochava_slots.h"
#include "ngx_http_kochava_spool.h"
#include "ngx_http_kochava_dedup.h"
#include "ngx_http_kochava_metrics.h"
#include "ngx_http_kochava_variables.h"
#include "ngx_http_kochava_pass_check.h"
#include "ngx_http_kochava_spool_access.h"


static ngx_int_t ngx_http_kochava_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_kochava_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_kochava_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kochava_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_kochava_merge_names(ngx_conf_t *cf,
    ngx_http_kochava_loc_conf_t *conf, ngx_http_kochava_loc_conf_t *prev);
static char *ngx_http_kochava_ingest(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kochava_postback(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kochava_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kochava_role(ngx_conf_t *cf,
    ngx_http_kochava_loc_conf_t *klcf, ngx_uint_t role,
    ngx_http_handler_pt handler);
static char *ngx_http_kochava_app_id(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kochava_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kochava_check_backlog(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_kochava_event_name(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kochava_consent(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_http_kochava_create_main_conf(ngx_conf_t *cf);
static ngx_int_t ngx_http_kochava_init_process(ngx_cycle_t *cycle);
static void ngx_http_kochava_exit_process(ngx_cycle_t *cycle);


static ngx_conf_post_handler_pt  ngx_http_kochava_backlog_post =
    ngx_http_kochava_check_backlog;


static ngx_conf_enum_t  ngx_http_kochava_delivery_modes[] = {
    { ngx_string("sync"), NGX_HTTP_KOCHAVA_SYNC },
    { ngx_string("async"), NGX_HTTP_KOCHAVA_ASYNC },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_kochava_commands[] = {

    { ngx_string("kochava_ingest"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kochava_ingest,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kochava_postback"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kochava_postback,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kochava_app_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kochava_app_id,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kochava_loc_conf_t, app_id),
      NULL },

    { ngx_string("kochava_settings_api_host"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kochava_loc_conf_t, settings_api_host),
      NULL },

    /* the pass directives: "offset" is the destination */

    { ngx_string("kochava_pass"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kochava_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      KOCHAVA_DEST_KOCHAVA,
      NULL },

    { ngx_string("kochava_identity_pass"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kochava_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      KOCHAVA_DEST_IDENTITY,
      NULL },

    { ngx_string("kochava_braze_pass"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kochava_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      KOCHAVA_DEST_BRAZE,
      NULL },

    { ngx_string("kochava_delivery"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kochava_loc_conf_t, delivery),
      &ngx_http_kochava_delivery_modes },

    { ngx_string("kochava_spool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_kochava_spool_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kochava_async_backlog"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kochava_loc_conf_t, async_backlog),
      &ngx_http_kochava_backlog_post },

    { ngx_string("kochava_max_body_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kochava_loc_conf_t, max_body_size),
      NULL },

    { ngx_string("kochava_max_message_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kochava_loc_conf_t, max_message_size),
      NULL },

    { ngx_string("kochava_max_batch"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kochava_loc_conf_t, max_batch),
      NULL },

    { ngx_string("kochava_max_depth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kochava_loc_conf_t, max_depth),
      NULL },

    { ngx_string("kochava_concurrency"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kochava_loc_conf_t, concurrency),
      NULL },

    { ngx_string("kochava_worker_concurrency"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_kochava_worker_concurrency,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kochava_main_conf_t, worker_concurrency),
      NULL },

    { ngx_string("kochava_retry_after"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kochava_loc_conf_t, retry_after),
      NULL },

    { ngx_string("kochava_identify_traits"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kochava_loc_conf_t, identify_traits),
      NULL },

    { ngx_string("kochava_cors"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kochava_loc_conf_t, cors),
      NULL },

    { ngx_string("kochava_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kochava_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kochava_dedup_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_kochava_dedup_zone,
      0,
      0,
      NULL },

    { ngx_string("kochava_dedup_store_probe"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kochava_store_probe,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kochava_dedup"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kochava_dedup,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kochava_event_name"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_kochava_event_name,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kochava_consent"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_kochava_consent,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kochava_gdpr_applies"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kochava_loc_conf_t, gdpr_applies),
      NULL },

#if (NGX_DEBUG)

    /* fault injection for the tests (t/140-delivery.t): debug builds only */
    { ngx_string("kochava_debug_fail_subrequest"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kochava_loc_conf_t, debug_fail_subrequest),
      NULL },

#endif

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kochava_module_ctx = {
    ngx_http_kochava_preconfiguration,     /* preconfiguration */
    ngx_http_kochava_postconfiguration,    /* postconfiguration */

    ngx_http_kochava_create_main_conf,     /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kochava_create_loc_conf,      /* create location configuration */
    ngx_http_kochava_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_kochava_module = {
    NGX_MODULE_V1,
    &ngx_http_kochava_module_ctx,          /* module context */
    ngx_http_kochava_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kochava_init_process,         /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_kochava_exit_process,         /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_kochava_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_kochava_add_variables(cf);
}


static ngx_int_t
ngx_http_kochava_postconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_kochava_metrics_init(cf) != NGX_OK
        || ngx_http_kochava_store_init(cf) != NGX_OK
        || ngx_http_kochava_ingest_init(cf) != NGX_OK
        || ngx_http_kochava_pass_check(cf) != NGX_OK
        || ngx_http_kochava_spool_access_init(cf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_kochava_fanout_init(cf);
}


static void *
ngx_http_kochava_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kochava_main_conf_t  *kmcf;

    kmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kochava_main_conf_t));
    if (kmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&kmcf->spools, cf->pool, 1,
                       sizeof(ngx_http_kochava_spool_t *))
        != NGX_OK
        || ngx_array_init(&kmcf->dedup_zones, cf->pool, 1,
                          sizeof(ngx_shm_zone_t *))
           != NGX_OK
        || ngx_array_init(&kmcf->roles, cf->pool, 4,
                          sizeof(ngx_http_kochava_role_loc_t))
           != NGX_OK)
    {
        return NULL;
    }

    /* settled by ngx_http_kochava_slots_module, worker_connections read */
    kmcf->worker_concurrency = NGX_CONF_UNSET_UINT;

    return kmcf;
}


static void *
ngx_http_kochava_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kochava_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kochava_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->pass = { { null, null, NULL, 0 }, ... };
     *     conf->nested_handler = 0;
     *     conf->names = NULL;
     *     conf->consent_ad_user_data = { 0, NULL };
     *     conf->consent_ad_personalization = { 0, NULL };
     *     conf->core = { 0 };
     */

    conf->postback = NGX_CONF_UNSET_UINT;
    conf->app_id = NGX_CONF_UNSET_PTR;
    conf->settings_api_host = NGX_CONF_UNSET_PTR;
    conf->gdpr_applies = NGX_CONF_UNSET_PTR;
    conf->consent = NGX_CONF_UNSET;
    conf->delivery = NGX_CONF_UNSET_UINT;
    conf->max_body_size = NGX_CONF_UNSET_SIZE;
    conf->max_message_size = NGX_CONF_UNSET_SIZE;
    conf->max_batch = NGX_CONF_UNSET_UINT;
    conf->max_depth = NGX_CONF_UNSET_UINT;
    conf->concurrency = NGX_CONF_UNSET_UINT;
    conf->retry_after = NGX_CONF_UNSET;
    conf->identify_traits = NGX_CONF_UNSET;
    conf->cors = NGX_CONF_UNSET;
    conf->async_backlog = NGX_CONF_UNSET_SIZE;
    conf->spool = NGX_CONF_UNSET_PTR;
    conf->dedup = NGX_CONF_UNSET_PTR;
    conf->debug_fail_subrequest = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_kochava_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_kochava_loc_conf_t *prev = parent;
    ngx_http_kochava_loc_conf_t *conf = child;

    ngx_uint_t                 dest;
    ngx_http_core_loc_conf_t  *clcf;

    /*
     * child is an "if" or "limit_except" block of prev's location here
     * when it is nameless: its content handler is one of that location's
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->noname && clcf->handler) {
        prev->nested_handler = 1;
    }

    ngx_conf_merge_ptr_value(conf->app_id, prev->app_id, NULL);
    ngx_conf_merge_ptr_value(conf->settings_api_host, prev->settings_api_host,
                             NULL);
    ngx_conf_merge_ptr_value(conf->gdpr_applies, prev->gdpr_applies, NULL);

    if (conf->consent == NGX_CONF_UNSET) {
        conf->consent = prev->consent;
        conf->consent_ad_user_data = prev->consent_ad_user_data;
        conf->consent_ad_personalization = prev->consent_ad_personalization;
    }
    ngx_conf_merge_uint_value(conf->delivery, prev->delivery,
                              NGX_HTTP_KOCHAVA_SYNC);
    ngx_conf_merge_size_value(conf->max_body_size, prev->max_body_size,
                              1024 * 1024);
    ngx_conf_merge_size_value(conf->max_message_size, prev->max_message_size,
                              32 * 1024);
    ngx_conf_merge_uint_value(conf->max_batch, prev->max_batch, 2500);
    ngx_conf_merge_uint_value(conf->max_depth, prev->max_depth, 64);
    ngx_conf_merge_uint_value(conf->concurrency, prev->concurrency, 32);
    ngx_conf_merge_sec_value(conf->retry_after, prev->retry_after, 10);
    ngx_conf_merge_value(conf->identify_traits, prev->identify_traits, 1);
    ngx_conf_merge_value(conf->cors, prev->cors, 0);
    ngx_conf_merge_size_value(conf->async_backlog, prev->async_backlog,
                              64 * 1024 * 1024);
    ngx_conf_merge_ptr_value(conf->spool, prev->spool, NULL);
    ngx_conf_merge_ptr_value(conf->dedup, prev->dedup, NULL);
    ngx_conf_merge_uint_value(conf->debug_fail_subrequest,
                              prev->debug_fail_subrequest, 0);

    for (dest = 0; dest < KOCHAVA_NDESTS; dest++) {
        if (conf->pass[dest].file == NULL) {
            conf->pass[dest] = prev->pass[dest];
        }
    }

    if (ngx_http_kochava_merge_names(cf, conf, prev) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->max_batch == 0 || conf->max_depth == 0
        || conf->concurrency == 0 || conf->max_message_size == 0
        || conf->max_body_size == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "kochava limits and \"kochava_concurrency\" "
                           "must be greater than zero");
        return NGX_CONF_ERROR;
    }

    conf->core.max_message_size = conf->max_message_size;
    conf->core.max_batch = conf->max_batch;
    conf->core.max_depth = conf->max_depth;
    conf->core.identify_traits = conf->identify_traits ? 1 : 0;
    conf->core.braze = conf->pass[KOCHAVA_DEST_BRAZE].uri.len ? 1 : 0;

    if (conf->consent_ad_user_data.len) {
        conf->core.consent_ad_user_data =
                                (const char *) conf->consent_ad_user_data.data;
        conf->core.consent_ad_user_data_len = conf->consent_ad_user_data.len;
    }

    if (conf->consent_ad_personalization.len) {
        conf->core.consent_ad_personalization =
                          (const char *) conf->consent_ad_personalization.data;
        conf->core.consent_ad_personalization_len =
                                          conf->consent_ad_personalization.len;
    }

    if (conf->names) {
        conf->core.names = conf->names->elts;
        conf->core.nnames = conf->names->nelts;
    }

    if ((conf->role == NGX_HTTP_KOCHAVA_ROLE_POSTBACK
         || conf->role == NGX_HTTP_KOCHAVA_ROLE_INGEST)
        && conf->delivery == NGX_HTTP_KOCHAVA_ASYNC
        && conf->spool == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kochava_delivery async\" needs "
                           "\"kochava_spool\": what fails must go there");
        return NGX_CONF_ERROR;
    }

    if (conf->role == NGX_HTTP_KOCHAVA_ROLE_POSTBACK) {

        if (conf->pass[KOCHAVA_DEST_BRAZE].uri.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"kochava_postback\" needs "
                               "\"kochava_braze_pass\"");
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (conf->role != NGX_HTTP_KOCHAVA_ROLE_INGEST) {
        return NGX_CONF_OK;
    }

    if (conf->pass[KOCHAVA_DEST_KOCHAVA].uri.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kochava_ingest\" needs \"kochava_pass\"");
        return NGX_CONF_ERROR;
    }

    if (conf->app_id == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kochava_ingest\" needs \"kochava_app_id\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * A location's own rows come first, so they override the ones it
 * inherits, which override the default table of the core.
 */

static char *
ngx_http_kochava_merge_names(ngx_conf_t *cf, ngx_http_kochava_loc_conf_t *conf,
    ngx_http_kochava_loc_conf_t *prev)
{
    kochava_name_t  *name;

    if (conf->names == NULL) {
        conf->names = prev->names;
        return NGX_CONF_OK;
    }

    if (prev->names == NULL || prev->names->nelts == 0) {
        return NGX_CONF_OK;
    }

    name = ngx_array_push_n(conf->names, prev->names->nelts);
    if (name == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(name, prev->names->elts,
               prev->names->nelts * sizeof(kochava_name_t));

    return NGX_CONF_OK;
}


static char *
ngx_http_kochava_ingest(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_kochava_role(cf, conf, NGX_HTTP_KOCHAVA_ROLE_INGEST,
                                 ngx_http_kochava_ingest_handler);
}


static char *
ngx_http_kochava_postback(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kochava_loc_conf_t *klcf = conf;

    ngx_str_t  *value;

    if (klcf->postback != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "kochava") == 0) {
        klcf->postback = KOCHAVA_POSTBACK_KOCHAVA;

    } else if (ngx_strcmp(value[1].data, "tune") == 0) {
        klcf->postback = KOCHAVA_POSTBACK_TUNE;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", "
                           "it must be \"kochava\" or \"tune\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    return ngx_http_kochava_role(cf, klcf, NGX_HTTP_KOCHAVA_ROLE_POSTBACK,
                                 ngx_http_kochava_postback_handler);
}


static char *
ngx_http_kochava_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_kochava_role(cf, conf, NGX_HTTP_KOCHAVA_ROLE_STATUS,
                                 ngx_http_kochava_status_handler);
}


/*
 * Makes the location one of the module's, with its content handler: one
 * role per location ("kochava_ingest" with "kochava_status" in one
 * location is refused by nginx -t).  A location that sends is recorded
 * with its server: nginx -t finds where its passes lead.
 */

static char *
ngx_http_kochava_role(ngx_conf_t *cf, ngx_http_kochava_loc_conf_t *klcf,
    ngx_uint_t role, ngx_http_handler_pt handler)
{
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_kochava_role_loc_t   *loc;
    ngx_http_kochava_main_conf_t  *kmcf;

    static const char  *directives[] = NGX_HTTP_KOCHAVA_ROLE_DIRECTIVES;

    if (klcf->role == role) {
        return "is duplicate";
    }

    if (klcf->role != NGX_HTTP_KOCHAVA_ROLE_NONE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" and \"%s\" in one location: a location "
                           "has one role, give each its own location",
                           directives[klcf->role], directives[role]);
        return NGX_CONF_ERROR;
    }

    klcf->role = role;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = handler;

    if (ngx_http_kochava_metrics_add(cf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (role == NGX_HTTP_KOCHAVA_ROLE_STATUS) {
        return NGX_CONF_OK;
    }

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kochava_module);

    loc = ngx_array_push(&kmcf->roles);
    if (loc == NULL) {
        return NGX_CONF_ERROR;
    }

    loc->klcf = klcf;
    loc->clcf = clcf;
    loc->cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);

    return NGX_CONF_OK;
}


/*
 * An empty literal App GUID refuses every request (401): a typo, or a
 * variable's value written in place of the variable.  A variable that
 * maps unknown write keys to "" is what refuses them, at run time.
 */

static char *
ngx_http_kochava_app_id(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t  *value;

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kochava_app_id\" is empty: every request "
                           "would be refused with 401; give the App GUID, "
                           "or a variable that maps write keys to App "
                           "GUIDs");
        return NGX_CONF_ERROR;
    }

    return ngx_http_set_complex_value_slot(cf, cmd, conf);
}


/*
 * "kochava_pass /_kochava/track?x=1" becomes a URI and its arguments;
 * "off" cancels a pass inherited from an outer level.  The URI is sent
 * as it is written: a variable in it is refused.  Where it leads is
 * checked once every location is known (ngx_http_kochava_pass_check).
 */

static char *
ngx_http_kochava_pass(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kochava_loc_conf_t *klcf = conf;

    u_char                   *q;
    ngx_str_t                *value;
    ngx_http_kochava_pass_t  *pass;

    pass = &klcf->pass[cmd->offset];

    if (pass->file) {
        return "is duplicate";
    }

    value = cf->args->elts;

    pass->file = cf->conf_file->file.name.data;
    pass->line = cf->conf_file->line;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        return NGX_CONF_OK;
    }

    if (value[1].len == 0 || value[1].data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid kochava %s location \"%V\": "
                           "a URI starting with \"/\" is expected",
                           kochava_dest_name(cmd->offset), &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_strlchr(value[1].data, value[1].data + value[1].len, '$')) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" has a variable, which \"%V\" would "
                           "send as it is written: give it a fixed URI",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    pass->uri = value[1];

    q = ngx_strlchr(value[1].data, value[1].data + value[1].len, '?');

    if (q) {
        pass->uri.len = q - value[1].data;
        pass->args.data = q + 1;
        pass->args.len = value[1].data + value[1].len - (q + 1);
    }

    return NGX_CONF_OK;
}


/* with 0, every async message would go straight to the spool */

static char *
ngx_http_kochava_check_backlog(ngx_conf_t *cf, void *post, void *data)
{
    size_t  *sp = data;

    if (*sp == 0) {
        return "must be greater than zero: with 0, no async message is "
               "sent, each goes straight to the spool for kochava-replay";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_kochava_event_name(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kochava_loc_conf_t *klcf = conf;

    ngx_str_t       *value;
    kochava_name_t  *name;

    value = cf->args->elts;

    if (value[1].len == 0 || value[2].len == 0) {
        return "takes two non-empty event names";
    }

    if (klcf->names == NULL) {
        klcf->names = ngx_array_create(cf->pool, 4, sizeof(kochava_name_t));
        if (klcf->names == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    name = ngx_array_push(klcf->names);
    if (name == NULL) {
        return NGX_CONF_ERROR;
    }

    name->segment = (const char *) value[1].data;
    name->segment_len = value[1].len;
    name->kochava = (const char *) value[2].data;
    name->kochava_len = value[2].len;

    return NGX_CONF_OK;
}


/*
 * "kochava_consent ad_user_data=<category> ad_personalization=<category>"
 * names the Segment consent category of each of Google's DMA flags (one
 * may be left out); "off" cancels an inherited one.
 */

static char *
ngx_http_kochava_consent(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kochava_loc_conf_t *klcf = conf;

    size_t       len;
    ngx_str_t   *value, *category;
    ngx_uint_t   i;

    if (klcf->consent != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    klcf->consent = 1;

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        klcf->consent = 0;
        return NGX_CONF_OK;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "ad_user_data=",
                        sizeof("ad_user_data=") - 1) == 0)
        {
            category = &klcf->consent_ad_user_data;
            len = sizeof("ad_user_data=") - 1;

        } else if (ngx_strncmp(value[i].data, "ad_personalization=",
                               sizeof("ad_personalization=") - 1) == 0)
        {
            category = &klcf->consent_ad_personalization;
            len = sizeof("ad_personalization=") - 1;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": "
                               "\"ad_user_data=<category>\", "
                               "\"ad_personalization=<category>\" "
                               "or \"off\" expected", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (category->data) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (value[i].len == len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" needs the name of a Segment consent "
                               "category, e.g. \"%*sAdvertising\"",
                               &value[i], len, value[i].data);
            return NGX_CONF_ERROR;
        }

        category->data = value[i].data + len;
        category->len = value[i].len - len;
    }

    return NGX_CONF_OK;
}


/*
 * Generated messageIds must not repeat across workers and restarts: the
 * generator is seeded from the kernel once per worker, at start.
 */

static ngx_int_t
ngx_http_kochava_init_process(ngx_cycle_t *cycle)
{
    ssize_t    n;
    uint64_t   seed;
    ngx_fd_t   fd;

    seed = ((uint64_t) ngx_pid << 32) ^ (uint64_t) ngx_time()
           ^ ((uint64_t) ngx_random() << 16);

    fd = ngx_open_file("/dev/urandom", NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd != NGX_INVALID_FILE) {
        n = read(fd, &seed, sizeof(seed));

        if (n != (ssize_t) sizeof(seed)) {
            ngx_log_error(NGX_LOG_WARN, cycle->log, ngx_errno,
                          "kochava: reading /dev/urandom failed");
        }

        (void) ngx_close_file(fd);
    }

    kochava_seed(seed);

    if (ngx_http_kochava_metrics_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_kochava_spool_init_process(cycle);
}


static void
ngx_http_kochava_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_kochava_spool_exit_process(cycle);
}
