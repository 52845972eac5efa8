/*
 * stats: per-source counters shared between the ingest thread and the
 * pipeline (atomics; readers may be on any thread, e.g. the stats logger or
 * a future admin endpoint).
 *
 * Accounting, exact in every run:
 *     fetched = emitted + filtered + dropped + deduped + dlq
 */
#ifndef HARK_STATS_H
#define HARK_STATS_H

#include <stdatomic.h>

#include "hark/common.h"

struct hark_source_stats {
    atomic_uint_fast64_t fetched;  /* posts parsed from responses (ingest) */
    atomic_uint_fast64_t deduped;  /* seen before (ingest) */
    atomic_uint_fast64_t emitted;  /* acknowledged by every sink */
    atomic_uint_fast64_t filtered; /* matched no rule */
    atomic_uint_fast64_t dropped;  /* matched a drop rule */
    atomic_uint_fast64_t dlq;      /* permanently refused, sent to the DLQ */
    atomic_uint_fast64_t engaged;  /* of emitted: engagement items */
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t bad_pages; /* responses that could not be parsed */
    atomic_uint_fast64_t http_errors;
    atomic_uint_fast64_t repaired;  /* invalid UTF-8 sequences replaced */
    atomic_int_fast64_t last_success_ms;
    atomic_int_fast64_t last_post_ms;
    atomic_int state; /* enum hark_source_state */
};

enum hark_source_state {
    HARK_SOURCE_OK = 0,
    HARK_SOURCE_BACKING_OFF,
    HARK_SOURCE_RATE_LIMITED,
    HARK_SOURCE_FAILING,
    HARK_SOURCE_STOPPED
};

const char *hark_source_state_name(int state);

#endif /* HARK_STATS_H */
