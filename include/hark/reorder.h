/*
 * reorder: gives items back in the order they were numbered, whatever
 * order they arrive in (core/reorder.c). The pipeline numbers posts as
 * ingest hands them over; workers analyse them in parallel and finish out
 * of order; the emit stage puts them back in order, so that state that
 * depends on order (a conversation's first post, a baseline's history)
 * sees posts as the platform gave them. A min-heap on the number.
 *
 * Thread: a reorder buffer belongs to one thread (the emit thread).
 */
#ifndef HARK_REORDER_H
#define HARK_REORDER_H

#include "hark/common.h"

struct hark_reorder_entry {
    uint64_t order;
    void *value;
};

struct hark_reorder {
    uint64_t next; /* the number handed out next */
    struct hark_reorder_entry *heap;
    size_t n;
    size_t cap;
};

/* Empty; the first number expected is `first`. */
void hark_reorder_init(struct hark_reorder *r, uint64_t first);

/* Parks `value` (borrowed until popped) under `order` (unique, >= next). */
void hark_reorder_push(struct hark_reorder *r, uint64_t order, void *value);

/* The value numbered `next` if it has arrived (and moves next on), else
 * NULL. */
void *hark_reorder_pop(struct hark_reorder *r);

/* Any parked value, lowest number first, or NULL: for draining at
 * shutdown, when a number that will never arrive holds the rest back. */
void *hark_reorder_take(struct hark_reorder *r);

size_t hark_reorder_count(const struct hark_reorder *r);

/* Frees the buffer (not the values: take them first). */
void hark_reorder_cleanup(struct hark_reorder *r);

#endif /* HARK_REORDER_H */
