
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nginx -t for the pass locations.  An outbound request is a subrequest
 * of the client's request: it runs in the client's server and finds its
 * location as any request does.  Which location that is can be known at
 * configuration time, from the same trees ngx_http_core_find_location()
 * walks; what the location does with it can be known in part: whether
 * it has a content handler (proxy_pass, grpc_pass, ...) at all, not
 * which one (nginx's handlers are static functions).
 *
 * Not seen here: a "rewrite" at the server level or in the location,
 * "try_files", "error_page", a handler that is not an upstream (echo,
 * empty_gif).  What such a location answers is not Kochava's answer:
 * the fan-out judges it at run time.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_pass_check.h"


static ngx_int_t ngx_http_kochava_pass_check_one(ngx_conf_t *cf,
    ngx_http_kochava_role_loc_t *loc, kochava_dest_e dest,
    ngx_array_t *warned);
static ngx_int_t ngx_http_kochava_find_location(
    ngx_http_core_loc_conf_t **clcfp, ngx_str_t *uri);
static ngx_int_t ngx_http_kochava_find_static_location(
    ngx_http_core_loc_conf_t **clcfp, ngx_http_location_tree_node_t *node,
    ngx_str_t *uri);
static const char *ngx_http_kochava_location_kind(
    ngx_http_core_loc_conf_t *clcf);


static const char  *ngx_http_kochava_pass_directives[] = {
    "kochava_pass", "kochava_identity_pass", "kochava_braze_pass"
};

static const char  *ngx_http_kochava_pass_peers[] = {
    "Kochava", "Kochava's identity API", "Braze"
};


ngx_int_t
ngx_http_kochava_pass_check(ngx_conf_t *cf)
{
    ngx_uint_t                     i, dest;
    ngx_array_t                    warned;
    ngx_http_kochava_role_loc_t   *loc;
    ngx_http_kochava_main_conf_t  *kmcf;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kochava_module);

    if (kmcf->roles.nelts == 0) {
        return NGX_OK;
    }

    /* the pass locations warned about, each once */

    if (ngx_array_init(&warned, cf->temp_pool, 4,
                       sizeof(ngx_http_core_loc_conf_t *))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    loc = kmcf->roles.elts;

    for (i = 0; i < kmcf->roles.nelts; i++) {

        for (dest = 0; dest < KOCHAVA_NDESTS; dest++) {

            /* a postback location sends to Braze only */

            if (loc[i].klcf->pass[dest].uri.len == 0
                || (loc[i].klcf->role == NGX_HTTP_KOCHAVA_ROLE_POSTBACK
                    && dest != KOCHAVA_DEST_BRAZE))
            {
                continue;
            }

            if (ngx_http_kochava_pass_check_one(cf, &loc[i], dest, &warned)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kochava_pass_check_one(ngx_conf_t *cf,
    ngx_http_kochava_role_loc_t *loc, kochava_dest_e dest,
    ngx_array_t *warned)
{
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    const char                   *directive, *peer;
    ngx_http_kochava_pass_t      *pass;
    ngx_http_core_loc_conf_t     *srv, *clcf, **w;
    ngx_http_kochava_loc_conf_t  *tklcf;

    static const char  *roles[] = NGX_HTTP_KOCHAVA_ROLE_DIRECTIVES;

    pass = &loc->klcf->pass[dest];
    directive = ngx_http_kochava_pass_directives[dest];
    peer = ngx_http_kochava_pass_peers[dest];

    srv = loc->cscf->ctx->loc_conf[ngx_http_core_module.ctx_index];
    clcf = srv;

    rc = ngx_http_kochava_find_location(&clcf, &pass->uri);

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s %V\" of location \"%V\" could not be matched "
                      "against the regular expressions of its server's "
                      "locations in %s:%ui",
                      directive, &pass->uri, &loc->clcf->name,
                      pass->file, pass->line);
        return NGX_ERROR;
    }

    if (clcf == srv) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s %V\" of location \"%V\" matches no location "
                      "of its server: correct the URI, or add an internal "
                      "location that proxies to %s "
                      "(\"location %V { internal; proxy_pass ...; }\") "
                      "in %s:%ui",
                      directive, &pass->uri, &loc->clcf->name, peer,
                      &pass->uri, pass->file, pass->line);
        return NGX_ERROR;
    }

    if (rc == NGX_DONE) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s %V\" of location \"%V\" is answered by nginx "
                      "with a redirect to location \"%V\": write the URI "
                      "as the location is named in %s:%ui",
                      directive, &pass->uri, &loc->clcf->name, &clcf->name,
                      pass->file, pass->line);
        return NGX_ERROR;
    }

    tklcf = clcf->loc_conf[ngx_http_kochava_module.ctx_index];

    if (tklcf->role != NGX_HTTP_KOCHAVA_ROLE_NONE) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s %V\" of location \"%V\" leads to the "
                      "\"%s\" location %s\"%V\"%s: a pass URI must lead "
                      "to an internal location that proxies to %s "
                      "in %s:%ui",
                      directive, &pass->uri, &loc->clcf->name,
                      roles[tklcf->role], ngx_http_kochava_location_kind(clcf),
                      &clcf->name, (clcf == loc->clcf) ? " itself" : "",
                      peer, pass->file, pass->line);
        return NGX_ERROR;
    }

    if (clcf->handler == NULL && !tklcf->nested_handler) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s %V\" of location \"%V\" leads to location "
                      "%s\"%V\", which has no content handler: nginx would "
                      "answer it itself (a file, a 404, a \"return\"), "
                      "not %s; give that location \"proxy_pass\" to %s, "
                      "or correct the URI in %s:%ui",
                      directive, &pass->uri, &loc->clcf->name,
                      ngx_http_kochava_location_kind(clcf), &clcf->name,
                      peer, peer, pass->file, pass->line);
        return NGX_ERROR;
    }

    if (clcf->internal) {
        return NGX_OK;
    }

    w = warned->elts;

    for (i = 0; i < warned->nelts; i++) {
        if (w[i] == clcf) {
            return NGX_OK;
        }
    }

    w = ngx_array_push(warned);
    if (w == NULL) {
        return NGX_ERROR;
    }

    *w = clcf;

    ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                  "\"%s %V\" leads to location %s\"%V\", which is not "
                  "\"internal\": any client can send through it to %s "
                  "as through an open proxy; add \"internal;\" to it "
                  "in %s:%ui",
                  directive, &pass->uri, ngx_http_kochava_location_kind(clcf),
                  &clcf->name, peer, pass->file, pass->line);

    return NGX_OK;
}


/*
 * ngx_http_core_find_location() without a request: *clcfp is the
 * server's location configuration on the call and the one the URI finds
 * on return (still the server's: no location matches).  Returns NGX_OK
 * or NGX_AGAIN/NGX_DECLINED (found or not, as nginx's), NGX_DONE (nginx
 * answers with a redirect to the location, "auto_redirect"), NGX_ERROR.
 */

static ngx_int_t
ngx_http_kochava_find_location(ngx_http_core_loc_conf_t **clcfp,
    ngx_str_t *uri)
{
    ngx_int_t                  rc;
    ngx_http_core_loc_conf_t  *pclcf;
#if (NGX_PCRE)
    ngx_int_t                  n;
    ngx_uint_t                 noregex;
    ngx_http_core_loc_conf_t **rclcfp;

    noregex = 0;
#endif

    pclcf = *clcfp;

    rc = ngx_http_kochava_find_static_location(clcfp, pclcf->static_locations,
                                               uri);

    if (rc == NGX_AGAIN) {

#if (NGX_PCRE)
        noregex = (*clcfp)->noregex;
#endif

        /* nested locations */

        rc = ngx_http_kochava_find_location(clcfp, uri);
    }

    if (rc == NGX_OK || rc == NGX_DONE) {
        return rc;
    }

#if (NGX_PCRE)

    if (noregex == 0 && pclcf->regex_locations) {

        for (rclcfp = pclcf->regex_locations; *rclcfp; rclcfp++) {

            n = ngx_regex_exec((*rclcfp)->regex->regex, uri, NULL, 0);

            if (n == NGX_REGEX_NO_MATCHED) {
                continue;
            }

            if (n < 0) {
                return NGX_ERROR;
            }

            *clcfp = *rclcfp;

            rc = ngx_http_kochava_find_location(clcfp, uri);

            return (rc == NGX_ERROR) ? rc : NGX_OK;
        }
    }

#endif

    return rc;
}


/* ngx_http_core_find_static_location() over a URI, not a request */

static ngx_int_t
ngx_http_kochava_find_static_location(ngx_http_core_loc_conf_t **clcfp,
    ngx_http_location_tree_node_t *node, ngx_str_t *uri)
{
    u_char     *p;
    size_t      len, n;
    ngx_int_t   rc, rv;

    len = uri->len;
    p = uri->data;

    rv = NGX_DECLINED;

    while (node) {

        n = (len <= (size_t) node->len) ? len : node->len;

        rc = ngx_filename_cmp(p, node->name, n);

        if (rc != 0) {
            node = (rc < 0) ? node->left : node->right;
            continue;
        }

        if (len > (size_t) node->len) {

            if (node->inclusive) {
                *clcfp = node->inclusive;
                rv = NGX_AGAIN;

                node = node->tree;
                p += n;
                len -= n;

                continue;
            }

            /* exact only */

            node = node->right;
            continue;
        }

        if (len == (size_t) node->len) {

            if (node->exact) {
                *clcfp = node->exact;
                return NGX_OK;
            }

            *clcfp = node->inclusive;
            return NGX_AGAIN;
        }

        /* len < node->len */

        if (len + 1 == (size_t) node->len && node->auto_redirect) {
            *clcfp = node->exact ? node->exact : node->inclusive;
            rv = NGX_DONE;
        }

        node = node->left;
    }

    return rv;
}


/* how the location names itself: "= ", "~ " or nothing before its name */

static const char *
ngx_http_kochava_location_kind(ngx_http_core_loc_conf_t *clcf)
{
    if (clcf->exact_match) {
        return "= ";
    }

#if (NGX_PCRE)
    if (clcf->regex) {
        return "~ ";
    }
#endif

    return "";
}
