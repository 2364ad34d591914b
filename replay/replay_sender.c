
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * Sends records with libcurl's multi interface, at most --concurrency at
 * once, and judges each answer with the module's own kochava_judge():
 *
 *   ok         the record is delivered (Braze: a 2xx; its errors[] count
 *              is logged, the request is not retried)
 *   permanent  dead letter (other 4xx; Kochava's 2xx saying no)
 *   retryable  kept with attempts + 1 and a not_before; its destination
 *              is held: nothing is started to it for --probe-interval (at
 *              least the answer's Retry-After), then one record, the
 *              probe, while the others wait for its answer (replay.h)
 *
 * The body goes out as the raw bytes of the record's "body" value.  The
 * Braze key is only in the Authorization header of Braze requests; curl's
 * verbose output is never turned on.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "replay.h"


#define REPLAY_ANSWER_MAX  65536


typedef struct {
    replay_record_t          *rec;
    unsigned                  probe:1;
    CURL                     *easy;
    char                     *answer;
    size_t                    len;
    char                      curl_error[CURL_ERROR_SIZE];
} replay_transfer_t;


/*
 * Records that wait for the probe of their destination (parked), and
 * those its answer released (ready, sent before the next new one).
 */
typedef struct {
    replay_record_t         **parked;
    size_t                    nparked;
    replay_record_t         **ready;        /* a ring of n */
    size_t                    head;
    size_t                    nready;
    size_t                    size;
} replay_queue_t;


static replay_record_t *replay_next(replay_queue_t *q,
    replay_record_t **recs, size_t n, size_t *next);
static void replay_release(replay_queue_t *q, kochava_dest_e dest,
    int send, replay_stats_t *stats);
static int replay_start(const replay_conf_t *conf, CURLM *multi,
    replay_transfer_t *t, struct curl_slist *headers);
static void replay_finish(const replay_conf_t *conf, replay_transfer_t *t,
    CURLcode result, replay_hold_t *holds, replay_stats_t *stats);
static const char *replay_curl_error(CURLcode result);
static size_t replay_write(char *ptr, size_t size, size_t nmemb,
    void *data);


int
replay_sender_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        replay_error("curl_global_init() failed");
        return -1;
    }

    return 0;
}


void
replay_sender_done(void)
{
    curl_global_cleanup();
}


/*
 * Sends the records (state REPLAY_SEND); each ends REPLAY_OK,
 * REPLAY_RETRY, REPLAY_DEAD, or REPLAY_DEFERRED when its destination was
 * held (or its probe failed) or a signal came before it was started.
 * Returns -1 when libcurl could not be set up (the records stay
 * REPLAY_SEND: kept).
 */
int
replay_send(const replay_conf_t *conf, replay_record_t **recs, size_t n,
    replay_hold_t *holds, replay_stats_t *stats)
{
    int                  running, still, queued, rc;
    char                *priv;
    size_t               next, i;
    CURLM               *multi;
    CURLMsg             *msg;
    replay_queue_t       q;
    replay_record_t     *rec;
    replay_transfer_t   *slots, *t;
    struct curl_slist   *headers[KOCHAVA_NDESTS], *h;
    kochava_dest_e       d;

    rc = -1;
    multi = curl_multi_init();
    slots = calloc(conf->concurrency, sizeof(replay_transfer_t));
    memset(headers, 0, sizeof(headers));
    memset(&q, 0, sizeof(replay_queue_t));
    q.size = n;
    q.parked = malloc(n * sizeof(replay_record_t *));
    q.ready = malloc(n * sizeof(replay_record_t *));

    if (multi == NULL || slots == NULL || q.parked == NULL
        || q.ready == NULL)
    {
        goto done;
    }

    for (d = 0; d < KOCHAVA_NDESTS; d++) {
        /* no "Expect: 100-continue" round trip, no Accept header */
        h = curl_slist_append(NULL, "Content-Type: application/json");
        h = h ? curl_slist_append(h, "Expect:") : NULL;
        h = h ? curl_slist_append(h, "Accept: application/json") : NULL;

        if (h != NULL && d == KOCHAVA_DEST_BRAZE
            && conf->auth_header != NULL)
        {
            h = curl_slist_append(h, conf->auth_header);
        }

        if (h == NULL) {
            goto done;
        }

        headers[d] = h;
    }

    next = 0;
    running = 0;

    for ( ;; ) {

        while (running < conf->concurrency && !replay_stop) {
            rec = replay_next(&q, recs, n, &next);
            if (rec == NULL) {
                break;
            }

            switch (replay_hold_check(&holds[rec->dest], replay_now_ms())) {

            case REPLAY_HOLD_DEFER:
                rec->state = REPLAY_DEFERRED;
                stats->deferred++;
                continue;

            case REPLAY_HOLD_WAIT:
                q.parked[q.nparked++] = rec;
                continue;

            default:
                break;
            }

            for (i = 0; slots[i].rec != NULL; i++) {
                /* void: running < concurrency, a slot is free */
            }

            slots[i].rec = rec;
            slots[i].probe = holds[rec->dest].probing;

            if (replay_start(conf, multi, &slots[i], headers[rec->dest])
                != 0)
            {
                replay_error("could not start a transfer");
                memset(&slots[i], 0, sizeof(replay_transfer_t));
                rec->state = REPLAY_DEFERRED;
                stats->deferred++;

                if (holds[rec->dest].probing) {
                    /* another record may be the probe */
                    holds[rec->dest].probing = 0;
                    replay_release(&q, rec->dest, 1, stats);
                }

                continue;
            }

            running++;
            stats->sent++;
        }

        if (running == 0) {
            break;
        }

        curl_multi_perform(multi, &still);

        while ((msg = curl_multi_info_read(multi, &queued)) != NULL) {
            if (msg->msg != CURLMSG_DONE) {
                continue;
            }

            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            t = (replay_transfer_t *) priv;
            curl_multi_remove_handle(multi, t->easy);

            replay_finish(conf, t, msg->data.result, holds, stats);

            d = t->rec->dest;

            if (t->probe || !holds[d].probing) {
                /* answered: the waiting go; failed: held again */
                replay_release(&q, d, !holds[d].held, stats);
            }

            curl_easy_cleanup(t->easy);
            free(t->answer);
            memset(t, 0, sizeof(replay_transfer_t));
            running--;

            replay_progress(stats, 0);
        }

        if (running > 0) {
            curl_multi_poll(multi, NULL, 0, 100, NULL);
        }
    }

    /* a signal: what was not started stays as it was */
    while ((rec = replay_next(&q, recs, n, &next)) != NULL) {
        rec->state = REPLAY_DEFERRED;
        stats->deferred++;
    }

    for (d = 0; d < KOCHAVA_NDESTS; d++) {
        replay_release(&q, d, 0, stats);
    }

    rc = 0;

done:

    if (rc != 0) {
        replay_error("libcurl could not be set up");
    }

    for (d = 0; d < KOCHAVA_NDESTS; d++) {
        curl_slist_free_all(headers[d]);
    }

    free(q.parked);
    free(q.ready);
    free(slots);

    if (multi != NULL) {
        curl_multi_cleanup(multi);
    }

    return rc;
}


/* the next record to start: a released one first, then a new one */
static replay_record_t *
replay_next(replay_queue_t *q, replay_record_t **recs, size_t n,
    size_t *next)
{
    replay_record_t  *rec;

    if (q->nready > 0) {
        rec = q->ready[q->head];
        q->head = (q->head + 1) % q->size;
        q->nready--;
        return rec;
    }

    if (*next < n) {
        return recs[(*next)++];
    }

    return NULL;
}


/* the records waiting for a probe of dest: to be sent, or deferred */
static void
replay_release(replay_queue_t *q, kochava_dest_e dest, int send,
    replay_stats_t *stats)
{
    size_t            i, k;
    replay_record_t  *rec;

    k = 0;

    for (i = 0; i < q->nparked; i++) {
        rec = q->parked[i];

        if (rec->dest != dest) {
            q->parked[k++] = rec;
            continue;
        }

        if (send) {
            q->ready[(q->head + q->nready) % q->size] = rec;
            q->nready++;

        } else {
            rec->state = REPLAY_DEFERRED;
            stats->deferred++;
        }
    }

    q->nparked = k;
}


static int
replay_start(const replay_conf_t *conf, CURLM *multi, replay_transfer_t *t,
    struct curl_slist *headers)
{
    CURL             *easy;
    replay_record_t  *rec;

    rec = t->rec;

    easy = curl_easy_init();
    if (easy == NULL) {
        return -1;
    }

    t->easy = easy;
    t->curl_error[0] = '\0';

    if (curl_easy_setopt(easy, CURLOPT_URL, conf->url[rec->dest])
        != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_POST, 1L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                            (curl_off_t) rec->body_len) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_POSTFIELDS, rec->body)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_USERAGENT, "kochava-replay/1")
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                            (long) conf->timeout_ms) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                            (long) conf->connect_timeout_ms) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, replay_write)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEDATA, t) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->curl_error)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_PRIVATE, t) != CURLE_OK
        || curl_multi_add_handle(multi, easy) != CURLM_OK)
    {
        curl_easy_cleanup(easy);
        t->easy = NULL;
        return -1;
    }

    return 0;
}


static void
replay_finish(const replay_conf_t *conf, replay_transfer_t *t,
    CURLcode result, replay_hold_t *holds, replay_stats_t *stats)
{
    long               status;
    size_t             errors;
    int64_t            now, retry_after, delay;
    curl_off_t         ra;
    replay_record_t   *rec;
    kochava_outcome_e  outcome;

    rec = t->rec;
    status = 0;
    retry_after = 0;
    now = replay_now_ms();

    if (result == CURLE_OK) {
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    }

    /* an error after the header counts as the error (as in the module) */
    outcome = kochava_judge(rec->dest, result == CURLE_OK ? status : 0,
                            t->answer, t->len);

    switch (outcome) {

    case KOCHAVA_OUTCOME_OK:
        rec->state = REPLAY_OK;
        stats->ok++;
        replay_hold_answered(&holds[rec->dest], rec->dest);

        if (rec->dest == KOCHAVA_DEST_BRAZE) {
            errors = kochava_braze_errors(t->answer, t->len);
            if (errors > 0) {
                replay_log("%s: line %zu: braze took the request, %zu "
                           "item(s) refused in its errors[]",
                           rec->file->name, rec->lineno, errors);
            }
        }

        return;

    case KOCHAVA_OUTCOME_PERMANENT:
        rec->state = REPLAY_DEAD;
        stats->dead++;
        replay_hold_answered(&holds[rec->dest], rec->dest);

        if (status >= 200 && status <= 299) {
            snprintf(rec->error, REPLAY_ERROR_LEN, "%ld not success",
                     status);
        } else {
            snprintf(rec->error, REPLAY_ERROR_LEN, "%ld", status);
        }

        replay_log("%s: line %zu: %s answered %s: dead letter",
                   rec->file->name, rec->lineno,
                   replay_dest_label(rec->dest), rec->error);
        return;

    default:
        break;
    }

    rec->state = REPLAY_RETRY;
    stats->retry++;

    if (result != CURLE_OK) {
        snprintf(rec->error, REPLAY_ERROR_LEN, "%s",
                 replay_curl_error(result));

    } else if (status >= 200 && status <= 299) {
        snprintf(rec->error, REPLAY_ERROR_LEN, "%ld not JSON", status);

    } else {
        snprintf(rec->error, REPLAY_ERROR_LEN, "%ld", status);
    }

    if (result == CURLE_OK && (status == 429 || status == 503)
        && curl_easy_getinfo(t->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK
        && ra > 0)
    {
        retry_after = (ra > 86400 ? 86400 : (int64_t) ra) * 1000;
    }

    /* attempts + 1 is written back; the replay's own failures count */
    delay = replay_backoff(conf, rec->attempts > 1 ? rec->attempts : 1);

    /* whole seconds, as not_before is written */
    delay = now + (delay > retry_after ? delay : retry_after);
    rec->retry_at_ms = (delay + 999) / 1000 * 1000;

    replay_hold_failed(conf, &holds[rec->dest], rec->dest, rec->error, now,
                       retry_after);
}


static const char *
replay_curl_error(CURLcode result)
{
    switch (result) {

    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";

    case CURLE_COULDNT_CONNECT:
        return "connection refused";

    case CURLE_COULDNT_RESOLVE_HOST:
        return "could not resolve host";

    case CURLE_GOT_NOTHING:
        return "empty reply";

    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        return "connection reset";

    default:
        return curl_easy_strerror(result);
    }
}


static size_t
replay_write(char *ptr, size_t size, size_t nmemb, void *data)
{
    char               *p;
    size_t              n, keep;
    replay_transfer_t  *t;

    t = data;
    n = size * nmemb;

    /* enough of the answer to judge it; the rest is read and dropped */
    keep = n;
    if (t->len + keep > REPLAY_ANSWER_MAX) {
        keep = REPLAY_ANSWER_MAX - t->len;
    }

    if (keep > 0) {
        p = realloc(t->answer, t->len + keep + 1);
        if (p == NULL) {
            return 0;
        }

        memcpy(p + t->len, ptr, keep);
        t->answer = p;
        t->len += keep;
        t->answer[t->len] = '\0';
    }

    return n;
}
