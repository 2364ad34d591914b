
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The spool directories, checked for the workers' user.  nginx creates
 * each (ngx_create_paths(), as it creates its temp paths) and gives it to
 * that user, but a directory above it that the user cannot enter, a
 * read-only file system or an ACL leave the workers without their spool:
 * every retryable failure would then be dropped.
 *
 * The check runs where nginx has just created its paths and has not yet
 * committed the new cycle: the init of a shared zone, nginx's one hook
 * there whose failure it takes back cleanly (nginx -t fails, a reload
 * keeps the running configuration; init_module's failure would end the
 * master).  The zone holds nothing.
 *
 * A master running as root checks as the workers will run: it takes the
 * user's groups, group and user as its effective ones for the check
 * (faccessat(AT_EACCESS), so ACLs, mount flags and supplementary groups
 * count) and takes its own back.  A master that is not root runs its
 * workers as itself: it checks as itself.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <grp.h>
#include <pwd.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_spool_access.h"


/* the process's own ids, while it takes the workers' */
typedef struct {
    ngx_uid_t                     euid;
    ngx_gid_t                     egid;
    int                           ngroups;
    ngx_gid_t                    *groups;
} ngx_http_kochava_ids_t;


static ngx_int_t ngx_http_kochava_spool_access_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_int_t ngx_http_kochava_spool_access_check(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_kochava_become(ngx_core_conf_t *ccf,
    ngx_http_kochava_ids_t *ids, ngx_log_t *log);
static ngx_int_t ngx_http_kochava_unbecome(ngx_http_kochava_ids_t *ids,
    ngx_uint_t step, ngx_log_t *log);
static void ngx_http_kochava_spool_where(ngx_cycle_t *cycle,
    ngx_str_t *name, u_char **file, ngx_uint_t *line);


static ngx_str_t  ngx_http_kochava_spool_access_name =
    ngx_string("kochava_spool_access");

static ngx_uint_t  ngx_http_kochava_spool_access_tag;


ngx_int_t
ngx_http_kochava_spool_access_init(ngx_conf_t *cf)
{
    ngx_shm_zone_t                *zone;
    ngx_http_kochava_main_conf_t  *kmcf;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kochava_module);

    if (kmcf->spools.nelts == 0) {
        return NGX_OK;
    }

    zone = ngx_shared_memory_add(cf, &ngx_http_kochava_spool_access_name,
                                 8 * ngx_pagesize,
                                 &ngx_http_kochava_spool_access_tag);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    /* the cycle being set up: data is not the zone's own until init */

    zone->init = ngx_http_kochava_spool_access_zone;
    zone->data = cf->cycle;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kochava_spool_access_zone(ngx_shm_zone_t *zone, void *data)
{
    return ngx_http_kochava_spool_access_check(zone->data);
}


static ngx_int_t
ngx_http_kochava_spool_access_check(ngx_cycle_t *cycle)
{
    u_char                        *file;
    ngx_err_t                      err;
    ngx_int_t                      rc;
    ngx_uint_t                     i, line, become;
    const char                    *user;
    struct passwd                 *pw;
    ngx_core_conf_t               *ccf;
    ngx_http_kochava_ids_t         ids;
    ngx_http_kochava_spool_t     **spools, *spool;
    ngx_http_kochava_main_conf_t  *kmcf;

    kmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kochava_module);
    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    /* root workers (and a master that is not root) need no other ids */

    become = (geteuid() == 0
              && ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT
              && ccf->user != 0);

    if (become) {
        rc = ngx_http_kochava_become(ccf, &ids, cycle->log);

        if (rc == NGX_DECLINED) {
            /* logged: the workers' ids cannot be taken, nothing checked */
            return NGX_OK;
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }

    spool = NULL;
    err = 0;
    spools = kmcf->spools.elts;

    for (i = 0; i < kmcf->spools.nelts; i++) {

        if (faccessat(AT_FDCWD, (char *) spools[i]->path.data,
                      R_OK|W_OK|X_OK, AT_EACCESS)
            == -1)
        {
            err = ngx_errno;
            spool = spools[i];
            break;
        }
    }

    if (become && ngx_http_kochava_unbecome(&ids, 3, cycle->log) != NGX_OK) {
        return NGX_ERROR;
    }

    if (spool == NULL) {
        return NGX_OK;
    }

    if (become) {
        user = ccf->username;

    } else {
        pw = getpwuid(geteuid());
        user = pw ? pw->pw_name : "(unknown)";
    }

    ngx_http_kochava_spool_where(cycle, &spool->path, &file, &line);

    ngx_log_error(NGX_LOG_EMERG, cycle->log, err,
                  "kochava_spool \"%V\" in %s:%ui cannot be used by the "
                  "workers' user \"%s\": it must be a directory \"%s\" "
                  "can list, write and enter, below directories it can "
                  "enter; change their permissions, move the spool, or "
                  "run the workers as another \"user\"",
                  &spool->path, file, line, user, user);

    return NGX_ERROR;
}


/*
 * Takes the groups, group and user the workers will have.  Returns
 * NGX_OK, NGX_DECLINED (they could not be taken, the process's own are
 * back) or NGX_ERROR (the process's own could not be taken back).
 */

static ngx_int_t
ngx_http_kochava_become(ngx_core_conf_t *ccf, ngx_http_kochava_ids_t *ids,
    ngx_log_t *log)
{
    int          n, size;
    ngx_gid_t   *groups;
    ngx_uint_t   step;
    const char  *what;

    ids->euid = geteuid();
    ids->egid = getegid();
    ids->groups = NULL;

    groups = NULL;
    step = 0;
    what = "getgroups()";

    ids->ngroups = getgroups(0, NULL);
    if (ids->ngroups == -1) {
        goto failed;
    }

    ids->groups = ngx_alloc((ids->ngroups + 1) * sizeof(ngx_gid_t), log);
    if (ids->groups == NULL) {
        return NGX_ERROR;
    }

    ids->ngroups = getgroups(ids->ngroups + 1, ids->groups);
    if (ids->ngroups == -1) {
        goto failed;
    }

    /* the groups of initgroups(), as the workers will have them */

    what = "getgrouplist()";

    for (size = 32; /* void */; size *= 2) {
        groups = ngx_alloc(size * sizeof(ngx_gid_t), log);
        if (groups == NULL) {
            ngx_free(ids->groups);
            return NGX_ERROR;
        }

        n = size;

        if (getgrouplist(ccf->username, ccf->group, groups, &n) != -1) {
            break;
        }

        ngx_free(groups);
        groups = NULL;

        if (size >= 65536) {
            goto failed;
        }
    }

    what = "setgroups()";

    if (setgroups(n, groups) == -1) {
        goto failed;
    }

    step = 1;
    what = "setegid()";

    if (setegid(ccf->group) == -1) {
        goto failed;
    }

    step = 2;
    what = "seteuid()";

    if (seteuid(ccf->user) == -1) {
        goto failed;
    }

    ngx_free(groups);

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                  "kochava: the spool directories cannot be checked for "
                  "the workers' user \"%s\": %s failed",
                  ccf->username, what);

    if (groups) {
        ngx_free(groups);
    }

    return (ngx_http_kochava_unbecome(ids, step, log) == NGX_OK)
           ? NGX_DECLINED : NGX_ERROR;
}


/* takes back what the first "step" steps of become() took */

static ngx_int_t
ngx_http_kochava_unbecome(ngx_http_kochava_ids_t *ids, ngx_uint_t step,
    ngx_log_t *log)
{
    ngx_int_t  rc;

    rc = NGX_OK;

    if (step >= 3 && seteuid(ids->euid) == -1) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      "kochava: seteuid(%d) back failed", ids->euid);
        rc = NGX_ERROR;
    }

    if (step >= 2 && setegid(ids->egid) == -1) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      "kochava: setegid(%d) back failed", ids->egid);
        rc = NGX_ERROR;
    }

    if (step >= 1 && setgroups(ids->ngroups, ids->groups) == -1) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      "kochava: setgroups() back failed");
        rc = NGX_ERROR;
    }

    if (ids->groups) {
        ngx_free(ids->groups);
    }

    return rc;
}


/* the directive's file and line: nginx's path of the spool has them */

static void
ngx_http_kochava_spool_where(ngx_cycle_t *cycle, ngx_str_t *name,
    u_char **file, ngx_uint_t *line)
{
    ngx_uint_t    i;
    ngx_path_t  **path;

    *file = (u_char *) "?";
    *line = 0;

    path = cycle->paths.elts;

    for (i = 0; i < cycle->paths.nelts; i++) {

        if (path[i]->name.len == name->len
            && ngx_strncmp(path[i]->name.data, name->data, name->len) == 0
            && path[i]->conf_file)
        {
            *file = path[i]->conf_file;
            *line = path[i]->line;
            return;
        }
    }
}
