
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_KOCHAVA_SPOOL_H_INCLUDED_
#define _NGX_HTTP_KOCHAVA_SPOOL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "kochava_core.h"


/*
 * A spool directory.  The configuration part is shared by every location
 * naming the same directory; the file part is each worker's own (set up
 * after the fork).
 */
typedef struct {
    ngx_str_t                     path;          /* no trailing slash */
    off_t                         max_size;
    off_t                         file_size;
    ngx_msec_t                    interval;

    ngx_fd_t                      fd;            /* NGX_INVALID_FILE */
    ngx_str_t                     part;          /* "<path>/<name>.part" */
    u_char                       *part_buf;
    off_t                         written;       /* in the current file */
    time_t                        opened;
    ngx_uint_t                    seq;
    ngx_event_t                   timer;
    ngx_log_t                    *log;
} ngx_http_kochava_spool_t;


/* the answer of a spool write */
#define NGX_HTTP_KOCHAVA_SPOOLED   0
#define NGX_HTTP_KOCHAVA_DROPPED   1


char *ngx_http_kochava_spool_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_kochava_spool_init_process(ngx_cycle_t *cycle);
void ngx_http_kochava_spool_exit_process(ngx_cycle_t *cycle);

/*
 * Appends one record, whole or not at all.  error is the short reason
 * ("503", "timeout", ...).  Returns NGX_HTTP_KOCHAVA_SPOOLED or
 * NGX_HTTP_KOCHAVA_DROPPED (over max_size, or the disk refused it: logged
 * at "error" and counted).
 */
ngx_int_t ngx_http_kochava_spool_write(ngx_http_kochava_spool_t *spool,
    kochava_dest_e dest, ngx_str_t *uri, const char *body, size_t len,
    const char *error, ngx_log_t *log);


#endif /* _NGX_HTTP_KOCHAVA_SPOOL_H_INCLUDED_ */
