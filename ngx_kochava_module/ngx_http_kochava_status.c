
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * "kochava_status;": the metrics zone in Prometheus text exposition
 * format 0.0.4 (docs/metrics.md), GET and HEAD only.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kochava_module.h"
#include "ngx_http_kochava_status.h"
#include "ngx_http_kochava_dedup.h"
#include "ngx_http_kochava_metrics.h"
#include "ngx_http_kochava_slots.h"


/* at most this much text: about 150 series of at most 120 bytes */
#define NGX_HTTP_KOCHAVA_STATUS_SIZE  32768


static u_char *ngx_http_kochava_status_write(u_char *p, u_char *last,
    ngx_http_kochava_metrics_t *m, ngx_array_t *spools);
static u_char *ngx_http_kochava_status_label(u_char *p, u_char *last,
    ngx_str_t *value);
static u_char *ngx_http_kochava_status_histogram(u_char *p, u_char *last,
    ngx_http_kochava_metrics_t *m);


static ngx_str_t  ngx_http_kochava_status_type =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");

/* the "le" of NGX_HTTP_KOCHAVA_BUCKETS, in seconds */
static const char  *ngx_http_kochava_status_le[] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
    "10"
};

/* destination labels, as the spool's "dest" names them */
static const char  *ngx_http_kochava_dest_labels[] = {
    "kochava", "kochava_identity", "braze"
};

/* where duplicates were caught (ngx_http_kochava_dedup_where_e) */
static const char  *ngx_http_kochava_dedup_where[] = {
    "batch", "local", "store"
};

static ngx_uint_t  ngx_http_kochava_status_codes[] = {
    NGX_HTTP_KOCHAVA_STATUSES
};

static const char  *ngx_http_kochava_install_names[] = {
    "attributed", "organic"
};




ngx_int_t
ngx_http_kochava_status_handler(ngx_http_request_t *r)
{
    u_char                        *p;
    ngx_int_t                      rc;
    ngx_buf_t                     *b;
    ngx_chain_t                    out;
    ngx_http_kochava_metrics_t    *m;
    ngx_http_kochava_main_conf_t  *kmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    m = ngx_http_kochava_metrics;

    if (m == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "kochava: no metrics zone in this worker");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, NGX_HTTP_KOCHAVA_STATUS_SIZE);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kochava_module);

    p = ngx_http_kochava_status_write(b->last, b->end, m, &kmcf->spools);

    if (p == b->end) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "kochava: metrics text larger than %d bytes",
                      NGX_HTTP_KOCHAVA_STATUS_SIZE);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = ngx_http_kochava_status_type;
    r->headers_out.content_type_len = ngx_http_kochava_status_type.len;
    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


#define ngx_http_kochava_head(p, last, name, type, help)                      \
    ngx_slprintf(p, last, "# HELP " name " " help "\n"                        \
                          "# TYPE " name " " type "\n")


/* a family of one series without labels */
#define ngx_http_kochava_single(p, last, name, type, help, value)            \
    ngx_slprintf(ngx_http_kochava_head(p, last, name, type, help), last,     \
                 name " %A\n", (ngx_atomic_int_t) (value))


/* returns last when the text did not fit */

static u_char *
ngx_http_kochava_status_write(u_char *p, u_char *last,
    ngx_http_kochava_metrics_t *m, ngx_array_t *spools)
{
    ngx_http_kochava_spool_t  **spool;

    ngx_uint_t  i, d, o;

    p = ngx_http_kochava_head(p, last, "kochava_messages_received_total",
                              "counter", "Messages received, by type.");

    for (i = 0; i < KOCHAVA_NTYPES; i++) {
        p = ngx_slprintf(p, last,
                         "kochava_messages_received_total{type=\"%s\"} %uA\n",
                         kochava_call_name((kochava_call_e) i),
                         m->received[i]);
    }

    p = ngx_http_kochava_head(p, last, "kochava_messages_accepted_total",
                              "counter",
                              "Messages accepted: forwarded, skipped or "
                              "de-duplicated.");
    p = ngx_slprintf(p, last, "kochava_messages_accepted_total %uA\n",
                     m->accepted);

    p = ngx_http_kochava_head(p, last, "kochava_messages_rejected_total",
                              "counter", "Messages rejected, by reason.");

    for (i = 0; i < KOCHAVA_NREASONS; i++) {
        p = ngx_slprintf(p, last,
                         "kochava_messages_rejected_total{reason=\"%s\"} "
                         "%uA\n",
                         kochava_reason_name((kochava_reason_e) i),
                         m->rejected[i]);
    }

    p = ngx_http_kochava_head(p, last, "kochava_messages_skipped_total",
                              "counter",
                              "Messages accepted and not sent: integrations, "
                              "organic installs, nothing to send.");
    p = ngx_slprintf(p, last, "kochava_messages_skipped_total %uA\n",
                     m->skipped);

    p = ngx_http_kochava_head(p, last, "kochava_messages_deduplicated_total",
                              "counter",
                              "Messages accepted and not sent again: their "
                              "messageId was sent before, by where that "
                              "was caught.");

    for (i = 0; i < NGX_HTTP_KOCHAVA_DEDUP_NWHERE; i++) {
        p = ngx_slprintf(p, last,
                         "kochava_messages_deduplicated_total{where=\"%s\"} "
                         "%uA\n", ngx_http_kochava_dedup_where[i],
                         m->deduplicated[i]);
    }

    p = ngx_http_kochava_head(p, last, "kochava_upstream_requests_total",
                              "counter",
                              "Outbound requests, by destination and "
                              "result.");

    for (d = 0; d < KOCHAVA_NDESTS; d++) {
        for (o = 0; o < KOCHAVA_NOUTCOMES; o++) {
            p = ngx_slprintf(p, last,
                             "kochava_upstream_requests_total{destination="
                             "\"%s\",result=\"%s\"} %uA\n",
                             ngx_http_kochava_dest_labels[d],
                             kochava_outcome_name((kochava_outcome_e) o),
                             m->upstream[d][o]);
        }
    }

    p = ngx_http_kochava_head(p, last, "kochava_config_errors_total",
                              "counter",
                              "Outbound requests that nginx answered itself "
                              "for the pass location, by destination: "
                              "the configuration is wrong.");

    for (d = 0; d < KOCHAVA_NDESTS; d++) {
        p = ngx_slprintf(p, last,
                         "kochava_config_errors_total{destination=\"%s\"} "
                         "%uA\n", ngx_http_kochava_dest_labels[d],
                         m->config_errors[d]);
    }

    p = ngx_http_kochava_status_histogram(p, last, m);

    p = ngx_http_kochava_head(p, last, "kochava_upstream_waits_total",
                              "counter",
                              "Outbound requests that waited for a slot of "
                              "kochava_worker_concurrency.");
    p = ngx_slprintf(p, last, "kochava_upstream_waits_total %uA\n",
                     m->slot_waits);

    p = ngx_http_kochava_head(p, last, "kochava_spool_records_total",
                              "counter", "Records written to the spool.");
    p = ngx_slprintf(p, last, "kochava_spool_records_total %uA\n",
                     m->spool_records);

    p = ngx_http_kochava_head(p, last, "kochava_spool_dropped_total",
                              "counter",
                              "Records not written: the spool was full or "
                              "could not be written.");
    p = ngx_slprintf(p, last, "kochava_spool_dropped_total %uA\n",
                     m->spool_dropped);

    p = ngx_http_kochava_single(p, last, "kochava_journal_records_total",
                                "counter",
                                "Write-ahead records of async requests.",
                                m->journal_records);

    p = ngx_http_kochava_single(p, last, "kochava_unjournaled_total",
                                "counter",
                                "Async outbound requests accepted without "
                                "a write-ahead record (spool full or "
                                "failing).", m->unjournaled);

    p = ngx_http_kochava_head(p, last, "kochava_spool_bytes", "gauge",
                              "Bytes in the spool directory.");

    if (spools->nelts == 0) {
        p = ngx_slprintf(p, last, "kochava_spool_bytes 0\n");
    }

    spool = spools->elts;

    for (i = 0; i < spools->nelts; i++) {
        p = ngx_slprintf(p, last, "kochava_spool_bytes{spool=\"");
        p = ngx_http_kochava_status_label(p, last, &spool[i]->path);
        p = ngx_slprintf(p, last, "\"} %O\n",
                         ngx_http_kochava_metrics_spool_bytes(
                                                         spool[i]->index));
    }

    p = ngx_http_kochava_single(p, last, "kochava_upstream_in_flight",
                                "gauge", "Outbound requests in flight.",
                                m->in_flight);

    p = ngx_http_kochava_single(p, last, "kochava_worker_slots_taken",
                                "gauge",
                                "Slots of kochava_worker_concurrency taken "
                                "(handed over ones included).",
                                m->slots_taken);

    p = ngx_http_kochava_single(p, last, "kochava_worker_slots", "gauge",
                                "Slots of kochava_worker_concurrency in each "
                                "worker (0: off); not summed over workers.",
                                ngx_http_kochava_slots_n());

    p = ngx_http_kochava_single(p, last, "kochava_async_fanouts", "gauge",
                                "Async fan-outs running.", m->async_fanouts);

    p = ngx_http_kochava_head(p, last, "kochava_braze_installs_total",
                              "counter",
                              "Install Attributed messages and postbacks, "
                              "by attribution.");
    p = ngx_slprintf(p, last,
                     "kochava_braze_installs_total{attribution=\"%s\"} %uA\n"
                     "kochava_braze_installs_total{attribution=\"%s\"} %uA\n",
                     ngx_http_kochava_install_names[0], m->braze_attributed,
                     ngx_http_kochava_install_names[1], m->braze_organic);

    p = ngx_http_kochava_head(p, last, "kochava_requests_total", "counter",
                              "Client requests to ingest and postback "
                              "locations, by the status answered.");

    for (i = 0; i < NGX_HTTP_KOCHAVA_NSTATUSES; i++) {
        p = ngx_slprintf(p, last,
                         "kochava_requests_total{status=\"%ui\"} %uA\n",
                         ngx_http_kochava_status_codes[i], m->requests[i]);
    }

    p = ngx_slprintf(p, last,
                     "kochava_requests_total{status=\"other\"} %uA\n",
                     m->requests[NGX_HTTP_KOCHAVA_NSTATUSES]);

    p = ngx_http_kochava_head(p, last, "kochava_dedup_evicted_total",
                              "counter",
                              "De-duplication entries evicted before their "
                              "time because a zone was full.");
    p = ngx_slprintf(p, last, "kochava_dedup_evicted_total %uA\n",
                     m->dedup_evicted);

    p = ngx_http_kochava_dedup_status(p, last);
    p = ngx_http_kochava_store_status(p, last);

    return p;
}


/*
 * Buckets are counted one by one and made cumulative here; the count is
 * their sum, so a reader never sees _count below the +Inf bucket.
 */

static u_char *
ngx_http_kochava_status_histogram(u_char *p, u_char *last,
    ngx_http_kochava_metrics_t *m)
{
    const char         *name;
    ngx_uint_t          d, i, ms;
    ngx_atomic_uint_t   n;

    p = ngx_http_kochava_head(p, last, "kochava_upstream_duration_seconds",
                              "histogram",
                              "Time from the start of an outbound request "
                              "to its end, by destination.");

    for (d = 0; d < KOCHAVA_NDESTS; d++) {
        name = ngx_http_kochava_dest_labels[d];
        n = 0;

        for (i = 0; i < NGX_HTTP_KOCHAVA_NBUCKETS; i++) {
            n += m->duration[d][i];

            p = ngx_slprintf(p, last,
                             "kochava_upstream_duration_seconds_bucket{"
                             "destination=\"%s\",le=\"%s\"} %uA\n",
                             name, ngx_http_kochava_status_le[i], n);
        }

        n += m->duration[d][NGX_HTTP_KOCHAVA_NBUCKETS];
        ms = m->duration_ms[d];

        p = ngx_slprintf(p, last,
                         "kochava_upstream_duration_seconds_bucket{"
                         "destination=\"%s\",le=\"+Inf\"} %uA\n"
                         "kochava_upstream_duration_seconds_sum{"
                         "destination=\"%s\"} %ui.%03ui\n"
                         "kochava_upstream_duration_seconds_count{"
                         "destination=\"%s\"} %uA\n",
                         name, n, name, ms / 1000, ms % 1000, name, n);
    }

    return p;
}


/* a label value: backslash, double quote and newline escaped */

static u_char *
ngx_http_kochava_status_label(u_char *p, u_char *last, ngx_str_t *value)
{
    u_char  *v, *end;

    end = value->data + value->len;

    for (v = value->data; v < end && p < last; v++) {

        if (*v == '\\' || *v == '"' || *v == '\n') {
            *p++ = '\\';

            if (p == last) {
                break;
            }
        }

        *p++ = (*v == '\n') ? 'n' : *v;
    }

    return p;
}
