#include "hark/idwin.h"

#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n) {
        p <<= 1;
    }
    return p;
}

void hark_idwin_init(struct hark_idwin *w, size_t window)
{
    hark_assert(window > 0);
    memset(w, 0, sizeof(*w));
    w->window = window;
    w->cap = pow2_at_least(window * 2);
    w->slots = hark_xcalloc(w->cap, sizeof(*w->slots));
    w->ring = hark_xcalloc(window, sizeof(*w->ring));
}

void hark_idwin_cleanup(struct hark_idwin *w)
{
    free(w->slots);
    free(w->ring);
    memset(w, 0, sizeof(*w));
}

static size_t home_of(const struct hark_idwin *w, uint64_t id)
{
    return (size_t)mix64(id) & (w->cap - 1);
}

bool hark_idwin_has(const struct hark_idwin *w, uint64_t id)
{
    size_t mask = w->cap - 1;
    for (size_t i = home_of(w, id); w->slots[i]; i = (i + 1) & mask) {
        if (w->slots[i] == id) {
            return true;
        }
    }
    return false;
}

/* Linear probing with backward-shift deletion: no tombstones. */
static void remove_id(struct hark_idwin *w, uint64_t id)
{
    size_t mask = w->cap - 1;
    size_t i = home_of(w, id);
    while (w->slots[i] && w->slots[i] != id) {
        i = (i + 1) & mask;
    }
    if (!w->slots[i]) {
        return;
    }
    w->slots[i] = 0;
    for (size_t j = (i + 1) & mask; w->slots[j]; j = (j + 1) & mask) {
        size_t home = home_of(w, w->slots[j]);
        /* Move j back to i unless its home lies in (i, j]. */
        bool is_between = i <= j ? (home > i && home <= j)
                                 : (home > i || home <= j);
        if (!is_between) {
            w->slots[i] = w->slots[j];
            w->slots[j] = 0;
            i = j;
        }
    }
}

void hark_idwin_add(struct hark_idwin *w, uint64_t id)
{
    hark_assert(id != 0);
    if (w->ring_n == w->window) {
        remove_id(w, w->ring[w->ring_head]);
        w->ring[w->ring_head] = id;
        w->ring_head = (w->ring_head + 1) % w->window;
    } else {
        w->ring[(w->ring_head + w->ring_n) % w->window] = id;
        w->ring_n++;
    }
    size_t mask = w->cap - 1;
    size_t i = home_of(w, id);
    while (w->slots[i]) {
        i = (i + 1) & mask;
    }
    w->slots[i] = id;
}

uint64_t hark_idwin_key(const char *event_id)
{
    uint64_t v = 0;
    size_t n = 0;
    for (; event_id[n] && n < 17; n++) {
        char c = event_id[n];
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = (unsigned)(c - 'a' + 10);
        } else {
            break;
        }
        v = (v << 4) | d;
    }
    if (n != 16 || event_id[16] != '\0') {
        v = hark_hash64(event_id, strlen(event_id), HARK_HASH_SEED);
    }
    return v ? v : 1;
}
