
/*
 * Copyright (C) ngx_kochava_module authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The core of the edge: parse, validate, normalise and rewrite Segment
 * calls into Kochava (and Braze) request bodies.  Plain C over its own
 * JSON parser and writer (kochava_json.h, over an arena) and zlib; jansson
 * only words the error of a body that the parser refused.  No nginx
 * headers, so it can be unit-tested, fuzzed and benchmarked on its own.
 * The nginx glue calls only what this header declares.
 */


#ifndef _KOCHAVA_CORE_H_INCLUDED_
#define _KOCHAVA_CORE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * Every string the core hands back (bodies, error texts, message ids) is
 * allocated through this allocator and never freed one by one: the nginx
 * glue passes the request pool, the unit tests an arena.  A NULL return is
 * an allocation failure.
 */
typedef struct {
    void                    *(*alloc)(void *data, size_t size);
    void                     *data;
} kochava_allocator_t;


/* what the request path says the call is */
typedef enum {
    KOCHAVA_CALL_TRACK = 0,
    KOCHAVA_CALL_IDENTIFY,
    KOCHAVA_CALL_PAGE,
    KOCHAVA_CALL_SCREEN,
    KOCHAVA_CALL_GROUP,
    KOCHAVA_CALL_ALIAS,
    KOCHAVA_CALL_BATCH,          /* /v1/batch, /v1/import, /v1/b */
    KOCHAVA_CALL_METRICS,        /* /v1/m: answered 200, ignored */
    KOCHAVA_CALL_UNKNOWN
} kochava_call_e;

#define KOCHAVA_NTYPES  6        /* track .. alias: the message types */


typedef enum {
    KOCHAVA_DEST_KOCHAVA = 0,    /* events and installs */
    KOCHAVA_DEST_IDENTITY,       /* IdentityLink */
    KOCHAVA_DEST_BRAZE           /* Braze /users/track */
} kochava_dest_e;

#define KOCHAVA_NDESTS  3


/* why a message was rejected (a metrics label, see kochava_reason_name) */
typedef enum {
    KOCHAVA_REASON_NOT_OBJECT = 0,
    KOCHAVA_REASON_TYPE,
    KOCHAVA_REASON_IDENTITY,     /* neither userId nor anonymousId */
    KOCHAVA_REASON_FIELD,        /* event, groupId, previousId, ... */
    KOCHAVA_REASON_TIMESTAMP,
    KOCHAVA_REASON_MESSAGE_ID,
    KOCHAVA_REASON_DEVICE,       /* Kochava's device requirements */
    KOCHAVA_REASON_TOO_LARGE,
    KOCHAVA_REASON_TOO_DEEP,
    KOCHAVA_REASON_BRAZE_USER,   /* attributed install with no user key */
    KOCHAVA_NREASONS
} kochava_reason_e;


/* a row of the event name table: Segment name -> Kochava name */
typedef struct {
    const char               *segment;
    size_t                    segment_len;
    const char               *kochava;
    size_t                    kochava_len;
} kochava_name_t;


/* per-location configuration, built once by the glue */
typedef struct {
    size_t                    max_message_size;  /* compact JSON, 32768 */
    size_t                    max_batch;         /* messages, 2500 */
    size_t                    max_depth;         /* nesting, 64 */

    /* rows added or overriding the default table; looked up first */
    const kochava_name_t     *names;
    size_t                    nnames;

    /*
     * Google's DMA consent (kochava.md, "Consent"): the Segment consent
     * category (context.consent.categoryPreferences) that says each flag;
     * NULL: that flag is never sent.
     */
    const char               *consent_ad_user_data;
    size_t                    consent_ad_user_data_len;
    const char               *consent_ad_personalization;
    size_t                    consent_ad_personalization_len;

    unsigned                  identify_traits:1; /* send scalar traits */
    unsigned                  braze:1;           /* Braze fan-out is on */
} kochava_conf_t;


/* whether the EU's GDPR applies to a request (a complex value's say) */
typedef enum {
    KOCHAVA_GDPR_UNKNOWN = 0,    /* not sent */
    KOCHAVA_GDPR_NO,             /* "gdpr_applies": 0 */
    KOCHAVA_GDPR_YES             /* "gdpr_applies": 1 */
} kochava_gdpr_e;


/* what the glue knows about the request, besides its body */
typedef struct {
    kochava_call_e            call;
    const char               *app_id;        /* Kochava App GUID */
    size_t                    app_id_len;
    const char               *client_ip;     /* $remote_addr */
    size_t                    client_ip_len;
    int64_t                   received_ms;   /* receivedAt, epoch ms */
    kochava_gdpr_e            gdpr_applies;  /* 0 (zeroed): unknown */

    /*
     * De-duplication (NULL: none at all): called for each message that carries
     * a client messageId and is about to be rewritten into an outbound
     * body (valid, not skipped), the first copy of its messageId in the
     * request; later copies are de-duplicated without asking (counted in
     * deduplicated and deduplicated_batch).  The answer is a
     * KOCHAVA_SEEN_* verdict.  Generated messageIds are never asked.
     */
    int                     (*seen)(void *data, const char *id, size_t len);
    void                     *seen_data;
} kochava_req_t;


/* what req->seen answers */
#define KOCHAVA_SEEN_NEW        0    /* send it (the hook reserved it) */
#define KOCHAVA_SEEN_DELIVERED  1    /* accepted, counted in deduplicated,
                                        not sent */
#define KOCHAVA_SEEN_HELD       2    /* in flight under another request:
                                        not sent, counted in held; the
                                        caller answers so that the client
                                        sends it again (sync: 503) */


/* a client's messageId */
typedef struct {
    const char               *data;          /* NULL when generated */
    size_t                    len;
} kochava_id_t;


/* one outbound request body */
typedef struct {
    kochava_dest_e            dest;
    const char               *body;          /* compact JSON, UTF-8 */
    size_t                    len;
    uint32_t                  index;         /* first message it carries */
    uint32_t                  count;         /* messages it carries */
    kochava_call_e            type;          /* type of that message */

    /* client's messageId (for de-duplication); NULL when generated */
    const char               *message_id;
    size_t                    message_id_len;

    /*
     * The messageIds of the count messages it carries, in order (data
     * NULL where generated); ids is NULL when none had one.  Each message
     * goes into one outbound request only, so it is delivered when that
     * request is.
     */
    const kochava_id_t       *ids;
} kochava_out_t;


/* one rejected message */
typedef struct {
    uint32_t                  index;
    kochava_reason_e          reason;
    const char               *message_id;    /* NULL when it had none */
    const char               *error;         /* "context.device.id is ..." */
} kochava_reject_t;


typedef struct {
    uint32_t                  messages;      /* in the request */
    uint32_t                  accepted;      /* forwarded or skipped */
    uint32_t                  rejected;
    uint32_t                  skipped;       /* by integrations, or nothing
                                                to send */
    uint32_t                  deduplicated;  /* accepted, already
                                                delivered (req->seen) or
                                                a later copy in the
                                                request */
    uint32_t                  deduplicated_batch;  /* of deduplicated:
                                                later copies in the
                                                request */
    uint32_t                  held;          /* accepted, not sent: a copy
                                                is in flight elsewhere */
    uint32_t                  received[KOCHAVA_NTYPES];  /* by type */
    uint32_t                  braze_attributed;
    uint32_t                  braze_organic;

    kochava_reject_t         *rejects;       /* in index order */
    kochava_out_t            *outs;          /* Kochava ones in index
                                                order, then Braze ones */
    uint32_t                  nouts;
} kochava_result_t;


typedef struct kochava_doc_s  kochava_doc_t;


/*
 * The last path segment decides the call: "track" or "t", "identify" or
 * "i", "page" or "p", "screen" or "s", "group" or "g", "alias" or "a",
 * "batch", "import" or "b", "m".  A trailing slash is ignored.
 */
kochava_call_e kochava_call_from_path(const char *path, size_t len);

const char *kochava_call_name(kochava_call_e call);
const char *kochava_dest_name(kochava_dest_e dest);
const char *kochava_reason_name(kochava_reason_e reason);


/*
 * The write key of an Authorization header value: "Basic base64(key:)"
 * (the colon is optional) or "Bearer key".  Returns the key's length
 * written to out (at most outlen bytes), 0 when the header carries none.
 */
size_t kochava_auth_write_key(const char *value, size_t len, char *out,
    size_t outlen);


/*
 * Inflates a gzip ("gzip", "x-gzip") or zlib/raw ("deflate") body into a
 * malloc()ed buffer of at most limit bytes; the caller free()s *out.
 * Returns 0, KOCHAVA_INFLATE_TOO_LARGE once more than limit bytes would
 * come out (nothing more is inflated), or KOCHAVA_INFLATE_BAD.
 */
#define KOCHAVA_INFLATE_TOO_LARGE  1
#define KOCHAVA_INFLATE_BAD        2

int kochava_inflate(const char *in, size_t len, size_t limit, char **out,
    size_t *outlen);


/*
 * Parses a request body.  The limits of conf are checked on the raw bytes
 * before the parser sees them (message count, nesting; for a single call, the
 * message size).  Returns 0 and a document, or the HTTP status to answer
 * (400) with its message in err, e.g. "Invalid JSON: ... (line 1, column
 * 17)" or "Too many messages in batch".  The document must be freed with
 * kochava_doc_free().
 */
int kochava_doc_parse(const kochava_conf_t *conf, kochava_call_e call,
    const char *body, size_t len, kochava_doc_t **doc, char *err,
    size_t errlen);

/* the body's top-level "writeKey" string, or NULL */
const char *kochava_doc_write_key(kochava_doc_t *doc, size_t *len);

/*
 * Validates, normalises and rewrites every message of the document.
 * Returns 0, or -1 on allocation failure.  For a single call whose message
 * was rejected, res->rejected is 1 and res->rejects[0].error is the text
 * to answer with 400.
 */
int kochava_doc_process(const kochava_conf_t *conf, const kochava_req_t *req,
    kochava_doc_t *doc, const kochava_allocator_t *a, kochava_result_t *res);

void kochava_doc_free(kochava_doc_t *doc);


/*
 * Settings for the mobile and browser libraries (ingest.md): they fetch
 * GET <cdnHost>/projects/<writeKey>/settings before sending.
 */
typedef struct {
    const char               *key;           /* in the path */
    size_t                    key_len;
    size_t                    prefix_len;    /* the path before /projects/ */
} kochava_settings_path_t;

typedef struct {
    const char               *key;           /* the write key */
    size_t                    key_len;
    const char               *api_host;      /* "edge.example.com/v1" */
    size_t                    api_host_len;
    unsigned                  https:1;       /* analytics.js's protocol */
} kochava_settings_t;

/*
 * 1 when path is "<prefix>/projects/<key>/settings" (a trailing slash is
 * ignored; the key is not empty), with sp filled; 0 otherwise.
 */
int kochava_settings_path(const char *path, size_t len,
    kochava_settings_path_t *sp);

/*
 * The settings body in *body: integrations["Segment.io"] = {"apiKey",
 * "apiHost", "protocol"} and no other integration, an all-enabled plan,
 * telemetry off.  Returns 0, 1 when the key or the host is not valid
 * UTF-8, -1 on allocation failure.
 */
int kochava_settings_json(const kochava_settings_t *s,
    const kochava_allocator_t *a, const char **body, size_t *len);


/* attribution postbacks (braze.md): who sent them */
typedef enum {
    KOCHAVA_POSTBACK_KOCHAVA = 0,
    KOCHAVA_POSTBACK_TUNE
} kochava_postback_e;

/*
 * Turns one attribution postback into at most one Braze /users/track
 * body.  The parameters come either as a query string or an
 * application/x-www-form-urlencoded body (json = 0: "a=1&b=%7Bx%7D",
 * decoded once, '+' is a space) or as a JSON object (json = 1).  A value
 * still written as an unexpanded macro ("{user_id}") counts as absent.
 * received_ms is the Braze event's time.
 *
 * Returns 0 with res filled: res->messages is 1; an organic install is
 * accepted, skipped and counted in braze_organic; an attributed one is
 * counted in braze_attributed and gives res->nouts == 1 (dest BRAZE) when
 * conf->braze is set (skipped otherwise); an install without a usable
 * user key is rejected (reason BRAZE_USER, res->rejects[0].error says
 * so).  Returns 400 with err filled for a body that is not a JSON object
 * (json = 1) or over conf->max_message_size bytes, -1 on allocation
 * failure.
 */
int kochava_postback(const kochava_conf_t *conf, kochava_postback_e source,
    int json, const char *params, size_t len, int64_t received_ms,
    const kochava_allocator_t *a, kochava_result_t *res, char *err,
    size_t errlen);


/*
 * The response body of a call that was accepted: {"success":true} or,
 * when messages of a batch were rejected, {"success":true,"accepted":N,
 * "rejected":[{"index":I,"messageId":"...","error":"..."}]}.
 * Returns NULL on allocation failure.
 */
const char *kochava_result_json(const kochava_result_t *res,
    const kochava_allocator_t *a, size_t *len);

/* {"success":false,"message":"<message>"}, the message JSON-escaped */
const char *kochava_error_json(const char *message,
    const kochava_allocator_t *a, size_t *len);


/* how an upstream answered (a metrics label, see kochava_outcome_name) */
typedef enum {
    KOCHAVA_OUTCOME_OK = 0,
    KOCHAVA_OUTCOME_PERMANENT,   /* other 4xx, or Kochava said no */
    KOCHAVA_OUTCOME_RETRYABLE,   /* 429, 5xx, connection error */
    KOCHAVA_OUTCOME_TIMEOUT,     /* 504 from the proxy */
    KOCHAVA_NOUTCOMES
} kochava_outcome_e;

/*
 * Judges an answer: status 0 means no answer at all (connection error).
 * Kochava (both destinations) succeeds with 2xx and a JSON body whose
 * "success" is "1", 1 or true; a 2xx JSON body saying otherwise is
 * permanent, a 2xx body that is not JSON is retryable (something between
 * us and Kochava answered).  Braze succeeds with any 2xx.
 */
kochava_outcome_e kochava_judge(kochava_dest_e dest, unsigned status,
    const char *body, size_t len);

const char *kochava_outcome_name(kochava_outcome_e outcome);

/*
 * The number of items of a Braze 2xx answer's "errors" array (Braze takes
 * the rest of the request and reports the items it refused there); 0 when
 * there is none or the answer is not JSON.
 */
size_t kochava_braze_errors(const char *body, size_t len);


/*
 * Seeds the generator of messageIds (UUID v4) and the key that hashes a
 * request's messageIds (a client cannot choose their slots); once per
 * process.
 */
void kochava_seed(uint64_t seed);


#endif /* _KOCHAVA_CORE_H_INCLUDED_ */
