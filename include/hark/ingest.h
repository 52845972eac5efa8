/*
 * ingest: the engine that drives every source (ingest/source.c): one curl
 * multi loop, per-source schedules, rate limits and backoff, cursors and
 * dedup windows (ingest/cursor.c).
 *
 * Delivery: each fetched post gets a per-source sequence number. The
 * committed cursor is the end of the contiguous acknowledged prefix; it is
 * persisted under state_dir together with the dedup window of the posts in
 * that prefix. See docs/internals/delivery.md.
 *
 * Thread: hark_ingest_run() runs on the ingest thread, which owns the curl
 * handles and every source's cursor. hark_ingest_ack() and
 * hark_ingest_stop() may be called from any thread.
 */
#ifndef HARK_INGEST_H
#define HARK_INGEST_H

#include "hark/common.h"
#include "hark/item.h"
#include "hark/source.h"
#include "hark/stats.h"

struct hark_ingest;

struct hark_ingest_source {
    const struct hark_source_cfg *cfg;  /* borrowed for the engine's life */
    const struct hark_source_ops *ops;
    void *state;                        /* the adapter's, borrowed */
    struct hark_source_stats *stats;    /* borrowed */
};

/*
 * Hands a fetched post (as a new item with src_index and seq set) to the
 * pipeline. Takes ownership of `item` on HARK_OK; called on the ingest
 * thread; must not block for long (the in-flight budget guarantees room).
 */
typedef hark_err_t (*hark_ingest_emit_fn)(void *opaque,
                                          struct hark_item *item);
/* Reports a response that could not be parsed (for the DLQ). */
typedef void (*hark_ingest_dlq_fn)(void *opaque, uint32_t src_index,
                                   const char *url, const char *reason,
                                   const char *raw, size_t raw_len);

struct hark_ingest_opts {
    const char *state_dir;
    bool is_once;            /* one complete walk per source, then return */
    size_t max_in_flight;    /* posts fetched but not yet acked, per engine */
    size_t max_body_bytes;   /* larger responses are refused */
    size_t dedup_window;     /* (id, revision) pairs remembered per source */
    int drain_timeout_ms;    /* how long a stop waits for acks */
    hark_ingest_emit_fn emit;
    hark_ingest_dlq_fn dlq;
    void *opaque;
};

/*
 * Creates the engine and loads every source's committed state from
 * state_dir. Failure: HARK_EIO/EINVAL with `errbuf` naming the file.
 * Thread: main, before threads start.
 */
HARK_MUST_CHECK hark_err_t hark_ingest_new(const struct hark_ingest_source *srcs,
                                           size_t n_srcs,
                                           const struct hark_ingest_opts *opts,
                                           struct hark_ingest **out,
                                           char *errbuf, size_t errbuf_len);

/*
 * Runs until hark_ingest_stop() (then drains: waits for acks up to
 * drain_timeout_ms, commits) or, with is_once, until every source finished
 * one walk and every post is acked. Returns HARK_OK, or HARK_EPEER when a
 * source failed (stopped, or gave up in once mode).
 * Thread: the ingest thread.
 */
hark_err_t hark_ingest_run(struct hark_ingest *ing);

/* The post (src_index, seq) is done: delivered, filtered, dropped or DLQ'd. */
void hark_ingest_ack(struct hark_ingest *ing, uint32_t src_index,
                     uint64_t seq);

/* Asks run() to stop fetching, drain and return. Any thread. */
void hark_ingest_stop(struct hark_ingest *ing);

/* The committed cursor of source `i` (borrowed until the next run step). */
const char *hark_ingest_cursor(const struct hark_ingest *ing, size_t i);

void hark_ingest_free(struct hark_ingest *ing);

#endif /* HARK_INGEST_H */
