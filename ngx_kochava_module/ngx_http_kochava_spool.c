
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The disk spool: outbound requests that failed and may succeed later are
 * appended, one JSON line each, to a file of the worker's own,
 * "<dir>/kochava-<pid>-<time>-<seq>.jsonl.part", by a single write(2) on
 * an O_APPEND descriptor.  The file is closed by renaming it to ".jsonl"
 * when it reaches file_size, when it is older than interval, on
 * "nginx -s reopen" and when the worker exits; kochava-replay reads only
 * those.  A ".part" file left by a worker that died is renamed by the next
 * worker that starts.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <dirent.h>

#include "ngx_http_kochava_module.h"


static ngx_int_t ngx_http_kochava_spool_open(ngx_http_kochava_spool_t *spool,
    ngx_log_t *log);
static void ngx_http_kochava_spool_close(ngx_http_kochava_spool_t *spool,
    ngx_log_t *log);
static void ngx_http_kochava_spool_tick(ngx_event_t *ev);
static void ngx_http_kochava_spool_reopen(ngx_open_file_t *file,
    ngx_log_t *log);
static off_t ngx_http_kochava_spool_scan(ngx_http_kochava_spool_t *spool,
    ngx_uint_t adopt, ngx_log_t *log);
static ngx_int_t ngx_http_kochava_spool_orphan(u_char *name, size_t len);


static ngx_str_t  ngx_http_kochava_dest_names[] = {
    ngx_string("kochava"),
    ngx_string("kochava_identity"),
    ngx_string("braze")
};


/* kochava_spool <dir> [max_size=] [file_size=] [interval=] | off */

char *
ngx_http_kochava_spool_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kochava_loc_conf_t *klcf = conf;

    ssize_t                        size;
    ngx_str_t                     *value, s, path, marker;
    ngx_int_t                      interval;
    ngx_uint_t                     i;
    ngx_path_t                    *dir;
    ngx_open_file_t               *file;
    ngx_http_kochava_spool_t      *spool, **spools;
    ngx_http_kochava_main_conf_t  *kmcf;

    if (klcf->spool != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        klcf->spool = NULL;
        return NGX_CONF_OK;
    }

    path = value[1];

    while (path.len > 1 && path.data[path.len - 1] == '/') {
        path.len--;
    }

    if (ngx_conf_full_name(cf->cycle, &path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    spool = ngx_pcalloc(cf->pool, sizeof(ngx_http_kochava_spool_t));
    if (spool == NULL) {
        return NGX_CONF_ERROR;
    }

    spool->path = path;
    spool->max_size = 1024 * 1024 * 1024;
    spool->file_size = 16 * 1024 * 1024;
    spool->interval = 10000;
    spool->fd = NGX_INVALID_FILE;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max_size=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            spool->max_size = ngx_parse_offset(&s);
            if (spool->max_size <= 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "file_size=", 10) == 0) {
            s.data = value[i].data + 10;
            s.len = value[i].len - 10;

            size = ngx_parse_size(&s);
            if (size <= 0) {
                goto invalid;
            }

            spool->file_size = size;
            continue;
        }

        if (ngx_strncmp(value[i].data, "interval=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            interval = ngx_parse_time(&s, 0);
            if (interval == NGX_ERROR || interval == 0) {
                goto invalid;
            }

            spool->interval = (ngx_msec_t) interval;
            continue;
        }

        goto invalid;
    }

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kochava_module);

    /* one spool per directory, however many locations name it */

    spools = kmcf->spools.elts;

    for (i = 0; i < kmcf->spools.nelts; i++) {
        if (spools[i]->path.len != path.len
            || ngx_strncmp(spools[i]->path.data, path.data, path.len) != 0)
        {
            continue;
        }

        if (spools[i]->max_size != spool->max_size
            || spools[i]->file_size != spool->file_size
            || spools[i]->interval != spool->interval)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "spool \"%V\" is already configured with "
                               "other parameters", &path);
            return NGX_CONF_ERROR;
        }

        klcf->spool = spools[i];
        return NGX_CONF_OK;
    }

    spools = ngx_array_push(&kmcf->spools);
    if (spools == NULL) {
        return NGX_CONF_ERROR;
    }

    *spools = spool;
    klcf->spool = spool;

    /* nginx creates the directory at start, owned by the workers' user */

    dir = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (dir == NULL) {
        return NGX_CONF_ERROR;
    }

    dir->name = path;
    dir->conf_file = cf->conf_file->file.name.data;
    dir->line = cf->conf_file->line;

    if (ngx_add_path(cf, &dir) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * "nginx -s reopen" reopens the files of the cycle and calls their
     * flush handler first: an empty marker file in the directory gives
     * the spool that call.
     */

    marker.len = path.len + sizeof("/.kochava-reopen") - 1;
    marker.data = ngx_pnalloc(cf->pool, marker.len + 1);
    if (marker.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(marker.data, "%V/.kochava-reopen%Z", &path);

    file = ngx_conf_open_file(cf->cycle, &marker);
    if (file == NULL) {
        return NGX_CONF_ERROR;
    }

    file->flush = ngx_http_kochava_spool_reopen;
    file->data = spool;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}


ngx_int_t
ngx_http_kochava_spool_init_process(ngx_cycle_t *cycle)
{
    off_t                          bytes;
    ngx_uint_t                     i;
    ngx_http_kochava_spool_t      *spool, **spools;
    ngx_http_kochava_main_conf_t  *kmcf;

    kmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kochava_module);
    if (kmcf == NULL) {
        return NGX_OK;
    }

    spools = kmcf->spools.elts;

    for (i = 0; i < kmcf->spools.nelts; i++) {
        spool = spools[i];

        spool->log = cycle->log;
        spool->fd = NGX_INVALID_FILE;

        /* "<path>/kochava-<pid>-<time>-<seq>.jsonl.part" */
        spool->part_buf = ngx_pnalloc(cycle->pool, spool->path.len
                                      + sizeof("/kochava----.jsonl.part")
                                      + 3 * NGX_INT64_LEN);
        if (spool->part_buf == NULL) {
            return NGX_ERROR;
        }

        bytes = ngx_http_kochava_spool_scan(spool, 1, cycle->log);
        ngx_http_kochava_metrics_spool_bytes_set(bytes);

        spool->timer.handler = ngx_http_kochava_spool_tick;
        spool->timer.data = spool;
        spool->timer.log = cycle->log;
        spool->timer.cancelable = 1;

        ngx_add_timer(&spool->timer, spool->interval);
    }

    return NGX_OK;
}


void
ngx_http_kochava_spool_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                     i;
    ngx_http_kochava_spool_t     **spools;
    ngx_http_kochava_main_conf_t  *kmcf;

    kmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kochava_module);
    if (kmcf == NULL) {
        return;
    }

    spools = kmcf->spools.elts;

    for (i = 0; i < kmcf->spools.nelts; i++) {
        ngx_http_kochava_spool_close(spools[i], cycle->log);
    }
}


ngx_int_t
ngx_http_kochava_spool_write(ngx_http_kochava_spool_t *spool,
    kochava_dest_e dest, ngx_str_t *uri, const char *body, size_t len,
    const char *error, ngx_log_t *log)
{
    size_t      size, elen;
    u_char     *line, *p;
    ssize_t     n;
    ngx_err_t   err;

    elen = ngx_strlen(error);

    size = sizeof("{\"dest\":\"\",\"uri\":\"\",\"body\":,\"attempts\":1,"
                  "\"first_failed\":,\"last_error\":\"\"}\n") - 1
           + ngx_http_kochava_dest_names[dest].len
           + uri->len + ngx_escape_json(NULL, uri->data, uri->len)
           + len + NGX_TIME_T_LEN
           + elen + ngx_escape_json(NULL, (u_char *) error, elen);

    if (ngx_http_kochava_metrics_spool_bytes() + (off_t) size
        > spool->max_size)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "kochava: spool \"%V\" is full (max_size %O), "
                      "a %s request was dropped", &spool->path,
                      spool->max_size, ngx_http_kochava_dest_names[dest].data);
        ngx_http_kochava_metrics_spool_dropped();
        return NGX_HTTP_KOCHAVA_DROPPED;
    }

    if (spool->fd == NGX_INVALID_FILE
        && ngx_http_kochava_spool_open(spool, log) != NGX_OK)
    {
        ngx_http_kochava_metrics_spool_dropped();
        return NGX_HTTP_KOCHAVA_DROPPED;
    }

    line = ngx_alloc(size, log);
    if (line == NULL) {
        ngx_http_kochava_metrics_spool_dropped();
        return NGX_HTTP_KOCHAVA_DROPPED;
    }

    p = ngx_sprintf(line, "{\"dest\":\"%V\",\"uri\":\"",
                    &ngx_http_kochava_dest_names[dest]);
    p = (u_char *) ngx_escape_json(p, uri->data, uri->len);
    p = ngx_cpymem(p, "\",\"body\":", sizeof("\",\"body\":") - 1);
    p = ngx_cpymem(p, body, len);
    p = ngx_sprintf(p, ",\"attempts\":1,\"first_failed\":%T,"
                    "\"last_error\":\"", ngx_time());
    p = (u_char *) ngx_escape_json(p, (u_char *) error, elen);
    p = ngx_cpymem(p, "\"}\n", 3);

    size = p - line;

    n = write(spool->fd, line, size);
    err = ngx_errno;

    ngx_free(line);

    if (n != (ssize_t) size) {

        if (n == -1) {
            ngx_log_error(NGX_LOG_ERR, log, err,
                          "kochava: write() to spool \"%V\" failed, "
                          "a %s request was dropped", &spool->part,
                          ngx_http_kochava_dest_names[dest].data);

        } else {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "kochava: write() to spool \"%V\" was "
                          "incomplete (%z of %uz), a %s request was "
                          "dropped", &spool->part, n, size,
                          ngx_http_kochava_dest_names[dest].data);

            /* a line is whole or absent: cut what was written of it */

            if (ftruncate(spool->fd, spool->written) == -1) {
                ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                              "kochava: ftruncate() of spool \"%V\" failed",
                              &spool->part);
            }
        }

        ngx_http_kochava_metrics_spool_dropped();

        /* the next record starts a new file */
        ngx_http_kochava_spool_close(spool, log);

        return NGX_HTTP_KOCHAVA_DROPPED;
    }

    spool->written += size;

    ngx_http_kochava_metrics_spooled(size);

    if (spool->written >= spool->file_size) {
        ngx_http_kochava_spool_close(spool, log);
    }

    return NGX_HTTP_KOCHAVA_SPOOLED;
}


static ngx_int_t
ngx_http_kochava_spool_open(ngx_http_kochava_spool_t *spool, ngx_log_t *log)
{
    u_char  *p;

    p = ngx_sprintf(spool->part_buf, "%V/kochava-%P-%T-%ui.jsonl.part",
                    &spool->path, ngx_pid, ngx_time(), spool->seq++);
    *p = '\0';

    spool->part.data = spool->part_buf;
    spool->part.len = p - spool->part_buf;

    spool->fd = ngx_open_file(spool->part.data, NGX_FILE_APPEND,
                              NGX_FILE_CREATE_OR_OPEN | O_EXCL, 0640);

    if (spool->fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "kochava: " ngx_open_file_n " \"%V\" failed, "
                      "nothing can be spooled", &spool->part);
        return NGX_ERROR;
    }

    spool->written = 0;
    spool->opened = ngx_time();

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "kochava: spool file \"%V\" opened", &spool->part);

    return NGX_OK;
}


/* closes the current file and hands it to readers: ".part" goes away */

static void
ngx_http_kochava_spool_close(ngx_http_kochava_spool_t *spool, ngx_log_t *log)
{
    u_char  *done;
    size_t   len;

    if (spool->fd == NGX_INVALID_FILE) {
        return;
    }

    if (ngx_close_file(spool->fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &spool->part);
    }

    spool->fd = NGX_INVALID_FILE;

    if (spool->written == 0) {
        /* nothing in it: no empty file for readers */
        if (ngx_delete_file(spool->part.data) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          ngx_delete_file_n " \"%V\" failed", &spool->part);
        }

        return;
    }

    len = spool->part.len - (sizeof(".part") - 1);

    done = ngx_alloc(len + 1, log);
    if (done == NULL) {
        return;
    }

    ngx_memcpy(done, spool->part.data, len);
    done[len] = '\0';

    if (ngx_rename_file(spool->part.data, done) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_rename_file_n " \"%V\" to \"%s\" failed",
                      &spool->part, done);

    } else {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "kochava: spool file \"%s\" closed, %O bytes",
                      done, spool->written);
    }

    ngx_free(done);
}


/*
 * Every interval: close a file that is old enough; one worker refreshes
 * the gauge from the directory (the others add what they write).
 */

static void
ngx_http_kochava_spool_tick(ngx_event_t *ev)
{
    ngx_http_kochava_spool_t  *spool;

    spool = ev->data;

    if (spool->fd != NGX_INVALID_FILE
        && (ngx_msec_t) (ngx_time() - spool->opened) * 1000
           >= spool->interval)
    {
        ngx_http_kochava_spool_close(spool, ev->log);
    }

    if (ngx_worker == 0) {
        ngx_http_kochava_metrics_spool_bytes_set(
            ngx_http_kochava_spool_scan(spool, 0, ev->log));
    }

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        /* what is still written goes out at exit */
        return;
    }

    ngx_add_timer(ev, spool->interval);
}


/* "nginx -s reopen", and the worker's exit */

static void
ngx_http_kochava_spool_reopen(ngx_open_file_t *file, ngx_log_t *log)
{
    ngx_http_kochava_spool_close(file->data, log);
}


/*
 * The bytes the spool holds on disk, for the gauge and max_size; with
 * adopt set, the ".part" files of workers that no longer run are closed
 * (renamed) on the way.
 */

static off_t
ngx_http_kochava_spool_scan(ngx_http_kochava_spool_t *spool,
    ngx_uint_t adopt, ngx_log_t *log)
{
    DIR            *dir;
    off_t           total;
    size_t          len;
    u_char          path[NGX_MAX_PATH + 1], done[NGX_MAX_PATH + 1];
    struct stat     st;
    struct dirent  *de;

    dir = opendir((char *) spool->path.data);
    if (dir == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "kochava: opendir(\"%V\") failed", &spool->path);
        return 0;
    }

    total = 0;

    while ((de = readdir(dir)) != NULL) {
        len = ngx_strlen(de->d_name);

        if (de->d_name[0] == '.'
            || spool->path.len + 1 + len > NGX_MAX_PATH)
        {
            continue;
        }

        ngx_sprintf(path, "%V/%s%Z", &spool->path, de->d_name);

        if (stat((char *) path, &st) == -1 || !S_ISREG(st.st_mode)) {
            continue;
        }

        total += st.st_size;

        if (!adopt
            || ngx_http_kochava_spool_orphan((u_char *) de->d_name, len)
               != NGX_OK)
        {
            continue;
        }

        ngx_memcpy(done, path, spool->path.len + 1 + len - 5);
        done[spool->path.len + 1 + len - 5] = '\0';

        if (ngx_rename_file(path, done) == NGX_FILE_ERROR) {
            /* another worker took it first */
            continue;
        }

        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "kochava: spool file \"%s\" of a worker that exited "
                      "closed", done);
    }

    (void) closedir(dir);

    return total;
}


/* "kochava-<pid>-...jsonl.part" of a process that is gone */

static ngx_int_t
ngx_http_kochava_spool_orphan(u_char *name, size_t len)
{
    u_char     *p, *last;
    ngx_pid_t   pid;

    if (len < sizeof("kochava-1.jsonl.part") - 1
        || ngx_strncmp(name, "kochava-", 8) != 0
        || ngx_strncmp(name + len - 11, ".jsonl.part", 11) != 0)
    {
        return NGX_DECLINED;
    }

    p = name + 8;
    last = ngx_strlchr(p, name + len, '-');
    if (last == NULL) {
        return NGX_DECLINED;
    }

    pid = (ngx_pid_t) ngx_atoi(p, last - p);

    if (pid == NGX_ERROR || pid == ngx_pid) {
        return NGX_DECLINED;
    }

    if (kill(pid, 0) == 0 || ngx_errno != NGX_ESRCH) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}
