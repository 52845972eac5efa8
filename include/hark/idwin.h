/*
 * idwin: a bounded set of 64-bit ids that remembers the newest `window` of
 * them (a hash set plus a ring in arrival order). Used where state changes
 * once per event id: relationship capital, conversation items.
 *
 * An idwin lives in caller storage and has one owner.
 * Thread: the owner's only.
 */
#ifndef HARK_IDWIN_H
#define HARK_IDWIN_H

#include "hark/common.h"

struct hark_idwin {
    uint64_t *slots;  /* open addressing, 0 = empty */
    size_t cap;       /* a power of two, >= 2 x window */
    uint64_t *ring;   /* ids in arrival order */
    size_t window;
    size_t ring_n;
    size_t ring_head; /* the oldest when full */
};

/* `window` must be at least 1. */
void hark_idwin_init(struct hark_idwin *w, size_t window);
void hark_idwin_cleanup(struct hark_idwin *w);
bool hark_idwin_has(const struct hark_idwin *w, uint64_t id);
/* Adds `id` (non-zero, not present), forgetting the oldest when full. */
void hark_idwin_add(struct hark_idwin *w, uint64_t id);

/* The id of an event id: its 16 hex digits as a number, anything else
 * hashed. Never 0. */
uint64_t hark_idwin_key(const char *event_id);

#endif /* HARK_IDWIN_H */
