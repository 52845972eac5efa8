/*
 * cursor: one source's delivery bookkeeping (private to ingest/).
 *
 * Every fetched post and every page boundary takes a sequence number. A
 * page boundary ("marker") carries the cursor value that becomes true once
 * everything before it is acknowledged; it is born acknowledged. The
 * committed cursor is the last marker of the contiguous acknowledged
 * prefix, so it never passes a post still in flight, whatever order the
 * workers finish in.
 *
 * The dedup window holds hashes of (post id, revision): those in flight
 * and the last `window` committed ones. Only committed ones are persisted:
 * a post that was in flight at a crash is fetched again and not mistaken
 * for a duplicate.
 *
 * Thread: the ingest thread only.
 */
#ifndef HARK_CURSOR_INT_H
#define HARK_CURSOR_INT_H

#include "hark/common.h"

struct cursor_entry {
    uint64_t hash;    /* 0 for markers */
    char *marker;     /* cursor value, for markers; may be NULL */
    bool is_marker;
    bool is_acked;
};

struct hark_cursor {
    char *path;
    char *committed;
    bool is_dirty;
    uint64_t next_seq;
    uint64_t base_seq; /* sequence number of ring[head] */
    struct cursor_entry *ring;
    size_t ring_cap, ring_head, ring_len;
    size_t n_in_flight; /* unacked posts */
    /* committed hashes in commit order (a ring of window_cap) */
    uint64_t *window;
    size_t window_cap, window_len, window_pos;
    /* open-addressing set of every hash in flight or in the window */
    uint64_t *set;
    size_t set_cap, set_len;
};

void hark_cursor_init(struct hark_cursor *c, const char *path,
                      size_t window);
void hark_cursor_cleanup(struct hark_cursor *c);
/* Loads the persisted state; a missing file is a first run (HARK_OK). */
HARK_MUST_CHECK hark_err_t hark_cursor_load(struct hark_cursor *c,
                                            char *errbuf, size_t errbuf_len);
HARK_MUST_CHECK hark_err_t hark_cursor_save(struct hark_cursor *c,
                                            char *errbuf, size_t errbuf_len);

uint64_t hark_cursor_post_hash(const char *id, const char *revision);
bool hark_cursor_seen(const struct hark_cursor *c, uint64_t hash);
/* Registers a fetched post; returns its sequence number. */
uint64_t hark_cursor_add_post(struct hark_cursor *c, uint64_t hash);
/* Registers a page boundary with the cursor value it makes true. */
void hark_cursor_add_marker(struct hark_cursor *c, const char *value);
/* Marks `seq` acknowledged; unknown or repeated acks are ignored. */
void hark_cursor_ack(struct hark_cursor *c, uint64_t seq);
/* Pops the acknowledged prefix; true when the committed cursor moved. */
bool hark_cursor_advance(struct hark_cursor *c);

#endif /* HARK_CURSOR_INT_H */
