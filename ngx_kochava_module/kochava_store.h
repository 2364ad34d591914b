
/*
 * Copyright (C) ngx_kochava_module authors
 *
 * The fleet-wide de-duplication store on memcached, without nginx: keys,
 * the consistent-hash ring that spreads them over the servers, the
 * pipelined meta-protocol requests of one batch and an incremental parser
 * of their answers.  The protocol (docs/decisions.md, "The fleet store"):
 *
 *   reserve  mg <key> v c N<reserve ttl> O<i>   one answer per key:
 *            "VA 0 .. W" won (new: forward it), "VA 0 .. Z" reserved by
 *            another request (in flight), "VA 1 ..\r\nD" delivered
 *            (a duplicate); "c<cas>" is kept for the release
 *   confirm  ms <key> 1 T<ttl> q O<i> + "D"     quiet: errors only
 *   release  md <key> C<cas> q O<i>             quiet; deletes only the
 *            reservation this node won (compare-and-delete)
 *   check    mg <key> v q O<i>                  read only, quiet: a miss
 *            says nothing (unknown), "VA 0 .. Z" reserved, "VA 1 ..\r\nD"
 *            delivered
 *
 * and every batch ends with "mn", whose "MN" closes the answer.
 */


#ifndef _KOCHAVA_STORE_H_INCLUDED_
#define _KOCHAVA_STORE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* "kd" and 22 base64url characters of a 128-bit digest */
#define KOCHAVA_STORE_KEY_LEN      24

/* the longest answer line and value the parser takes */
#define KOCHAVA_STORE_LINE_MAX     256
#define KOCHAVA_STORE_VALUE_MAX    64

/* ring points per server of weight 1 (as ketama) */
#define KOCHAVA_STORE_POINTS       160

/* bytes one command of a batch takes at most, and the closing "mn" */
#define KOCHAVA_STORE_CMD_MAX      (KOCHAVA_STORE_KEY_LEN + 64)
#define KOCHAVA_STORE_END          "mn\r\n"

#define KOCHAVA_STORE_AGAIN        0
#define KOCHAVA_STORE_DONE         1
#define KOCHAVA_STORE_ERROR        (-1)


typedef struct {
    uint32_t                  h[8];
    uint64_t                  bytes;
    unsigned char             buf[64];
} kochava_sha256_t;


typedef struct {
    unsigned char             digest[16];
    char                      data[KOCHAVA_STORE_KEY_LEN];
} kochava_store_key_t;


typedef struct {
    uint32_t                  point;
    uint32_t                  server;
} kochava_store_point_t;


typedef struct {
    kochava_store_point_t    *points;       /* sorted by point */
    size_t                    npoints;
    size_t                    nservers;
} kochava_store_ring_t;


typedef enum {
    KOCHAVA_STORE_RESERVE = 0,
    KOCHAVA_STORE_CONFIRM,
    KOCHAVA_STORE_RELEASE,
    KOCHAVA_STORE_CHECK
} kochava_store_op_e;

#define KOCHAVA_STORE_NOPS         4


/* what the store answered for one key */
typedef enum {
    KOCHAVA_STORE_NONE = 0,      /* nothing (quiet success, or lost) */
    KOCHAVA_STORE_WON,           /* reserved now, by this request */
    KOCHAVA_STORE_HELD,          /* reserved by another, in flight */
    KOCHAVA_STORE_SEEN,          /* delivered (confirmed) before */
    KOCHAVA_STORE_STORED,        /* HD */
    KOCHAVA_STORE_NOT_STORED,    /* NS */
    KOCHAVA_STORE_EXISTS,        /* EX: compare-and-delete lost */
    KOCHAVA_STORE_NOT_FOUND      /* NF, EN */
} kochava_store_reply_e;


typedef struct {
    uint64_t                  cas;
    uint8_t                   reply;        /* kochava_store_reply_e */
} kochava_store_reply_t;


typedef struct {
    kochava_store_reply_t    *replies;      /* indexed by opaque */
    size_t                    nreplies;
    size_t                    answers;      /* lines with an opaque */
    const char               *error;        /* why KOCHAVA_STORE_ERROR */

    int                       state;
    size_t                    len;          /* of line[] */
    size_t                    value_left;   /* of a value and its CRLF */
    uint32_t                  opaque;       /* of the value being read */
    unsigned                  value_d:1;    /* the value is "D" so far */
    unsigned                  won:1;
    unsigned                  held:1;
    char                      line[KOCHAVA_STORE_LINE_MAX];
} kochava_store_parser_t;


/* kochava_sha256.c */

void kochava_sha256_init(kochava_sha256_t *ctx);
void kochava_sha256_update(kochava_sha256_t *ctx, const void *data,
    size_t len);
void kochava_sha256_final(kochava_sha256_t *ctx, unsigned char digest[32]);


/* kochava_store.c */

/* the key of App GUID + messageId (a NUL byte between them) */
void kochava_store_key(kochava_store_key_t *key, const char *app,
    size_t app_len, const char *id, size_t id_len);

/* where a key falls on the ring */
uint32_t kochava_store_key_point(const kochava_store_key_t *key);

/* the points a ring of these weights needs */
size_t kochava_store_ring_size(const unsigned *weights, size_t n);

/*
 * Fills points[] (kochava_store_ring_size() of them) for servers named
 * names[i] (what every edge's configuration says: "host:port") of weight
 * weights[i] (0 counts as 1).  Returns 0, or -1 without servers.
 */
int kochava_store_ring_build(kochava_store_ring_t *ring,
    kochava_store_point_t *points, const char *const *names,
    const size_t *lens, const unsigned *weights, size_t n);

/*
 * The server of a point: the first at or after it clockwise whose
 * usable[] is not 0 (usable NULL: all are).  -1 when none is usable.
 */
int kochava_store_ring_pick(const kochava_store_ring_t *ring, uint32_t point,
    const unsigned char *usable);

/*
 * One command of a batch at p (KOCHAVA_STORE_CMD_MAX bytes at most), the
 * opaque "O<opaque>" its answer carries; ttl in seconds.  A release
 * without a cas (0) writes nothing: only a reservation known to be ours
 * is deleted.  Returns the end.
 */
char *kochava_store_command(char *p, kochava_store_op_e op,
    const kochava_store_key_t *key, uint64_t cas, unsigned ttl,
    uint32_t opaque);

/*
 * A whole batch: the commands for keys[idx[i]] (idx NULL: keys[i]) with
 * opaque idx[i] (or i), then "mn".  buf has room for n *
 * KOCHAVA_STORE_CMD_MAX + sizeof(KOCHAVA_STORE_END).  cas[] is for
 * releases (NULL otherwise).  Returns the length.
 */
size_t kochava_store_batch(char *buf, kochava_store_op_e op,
    const kochava_store_key_t *keys, const uint64_t *cas,
    const uint32_t *idx, size_t n, unsigned ttl);

/* replies[] of n entries, all KOCHAVA_STORE_NONE until answered */
void kochava_store_parser_init(kochava_store_parser_t *p,
    kochava_store_reply_t *replies, size_t n);

/*
 * Feeds len bytes of the answer.  Returns KOCHAVA_STORE_AGAIN (all taken,
 * more is needed), KOCHAVA_STORE_DONE ("MN" came: *used bytes were taken,
 * the rest is not this batch's) or KOCHAVA_STORE_ERROR (p->error says
 * why; the connection cannot be trusted).  Never reads past buf + len nor
 * past the "MN" line.
 */
int kochava_store_parse(kochava_store_parser_t *p, const char *buf,
    size_t len, size_t *used);


#endif /* _KOCHAVA_STORE_H_INCLUDED_ */
