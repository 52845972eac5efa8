/*
 * engine_int: the ingest engine's shared state, private to ingest/source.c
 * (scheduling, walks, acks, cursors, politeness) and ingest/transfer.c
 * (curl transfers: requests, headers, bodies, streams, token requests).
 *
 * Thread: the ingest thread only, but for the ack vector (ack_lock).
 */
#ifndef HARK_ENGINE_INT_H
#define HARK_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <curl/curl.h>

#include "cursor_int.h"
#include "hark/ingest.h"

#define MAX_ONCE_FAILURES 4
#define STREAM_CYCLE_MS (15 * 60 * 1000)

struct ack {
    uint32_t src_index;
    uint64_t seq;
};

/*
 * One rate limiter per (host, credential), shared by every source that
 * uses it: a 429 or a spent budget seen by one source holds them all.
 */
struct limiter {
    char *key;             /* "host\x1ftoken_env" */
    int64_t not_before_ms; /* monotonic: no request before this */
    int64_t spacing_ms;    /* spreads what is left of the budget */
    int64_t last_ms;       /* monotonic time of the last request */
};

struct src {
    const struct hark_ingest_source *def;
    struct limiter *lim;
    char component[96]; /* "ingest/<name>" */
    struct hark_cursor cursor;
    CURL *easy;
    bool is_busy;
    struct hark_buf body;
    struct hark_header *headers;
    size_t n_headers;
    struct curl_slist *req_headers;
    char *url;
    bool is_too_big;
    /* walk */
    bool in_walk;
    char *token;
    int page_index;
    char *walk_cursor;
    int64_t next_at_ms;  /* monotonic */
    int failures;
    bool is_done_once;   /* once mode: finished its walk */
    bool is_stopped;
    bool has_failed;
    int64_t logged_at_ms;
    /* streams */
    struct hark_ingest *ing;
    uint32_t idx;
    bool is_streaming;       /* the transfer in progress is a stream */
    bool is_token_req;       /* the transfer in progress fetches a token */
    bool has_retried_401;    /* one refresh-and-retry per 401 */
    bool wants_stream;       /* next: open the stream (after a walk) */
    bool is_paused;          /* stream paused by backpressure */
    uint64_t stream_bytes;   /* received on the current stream */
    int64_t disconnected_ms; /* wall clock when a stream ended; 0 = never */
    bool can_stream;         /* stream_url gives a URL for this source */
    bool has_no_rest;        /* a stream without REST catch-up (X) */
    int64_t stream_started_ms; /* monotonic */
    /* repeated warnings are collapsed: one line per kind per minute */
    int warn_kind;
    int64_t warn_at_ms;
    unsigned n_warn_repeats;
};

enum warn_kind { WARN_NONE = 0, WARN_NET, WARN_HTTP, WARN_429, WARN_PARSE,
                 WARN_NOTE };

struct hark_ingest {
    struct hark_ingest_opts opts;
    struct src *srcs;
    size_t n_srcs;
    CURLM *multi;
    pthread_mutex_t ack_lock;
    struct ack *acks;
    size_t n_acks, cap_acks;
    atomic_bool is_stopping;
    size_t n_in_flight; /* ingest thread only */
    unsigned rng;
    struct limiter *limiters;
    size_t n_limiters;
};

/* source.c */
void hark_eng_take_page(struct hark_ingest *ing, struct src *s, uint32_t idx,
                        struct hark_page *page);
/* Whether to log a warning of `kind` now (one per kind per minute). */
bool hark_eng_should_warn(struct src *s, int kind);
void hark_eng_set_state(struct src *s, enum hark_source_state st);
/* Exponential backoff with jitter; gives up in --once mode. */
void hark_eng_back_off(struct hark_ingest *ing, struct src *s);

/* transfer.c */
void hark_eng_clear_response(struct src *s);
/* Starts a GET of `url` (taken) for source idx; a stream when is_stream. */
void hark_eng_start_transfer(struct hark_ingest *ing, uint32_t idx,
                             char *url, bool is_stream);
/* Starts the adapter's token request (POST) for source idx. */
void hark_eng_start_token(struct hark_ingest *ing, uint32_t idx);

#endif /* HARK_ENGINE_INT_H */
