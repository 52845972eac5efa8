/*
 * queue: a bounded FIFO of pointers (mutex + condition variables), the only
 * way items move between threads.
 *
 * Thread: any number of producers and consumers.
 */
#ifndef HARK_QUEUE_H
#define HARK_QUEUE_H

#include "hark/common.h"

struct hark_queue;

struct hark_queue *hark_queue_new(size_t capacity);
/* The queue must be empty or its items otherwise owned. */
void hark_queue_free(struct hark_queue *q);

/*
 * Adds `item` (ownership passes to the queue), waiting up to `timeout_ms`
 * (-1 = forever) for room. HARK_EAGAIN on timeout, HARK_ECLOSED once closed;
 * on failure the caller still owns `item`.
 */
HARK_MUST_CHECK hark_err_t hark_queue_push(struct hark_queue *q, void *item,
                                           int timeout_ms);

/*
 * Takes the oldest item, waiting up to `timeout_ms` (-1 = forever).
 * HARK_EAGAIN on timeout; HARK_ECLOSED when closed and empty.
 */
HARK_MUST_CHECK hark_err_t hark_queue_pop(struct hark_queue *q, void **item,
                                          int timeout_ms);

/* After close, pushes fail and pops drain what is left. */
void hark_queue_close(struct hark_queue *q);
size_t hark_queue_len(struct hark_queue *q);

#endif /* HARK_QUEUE_H */
