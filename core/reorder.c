/*
 * reorder: a binary min-heap on the items' numbers (include/hark/reorder.h).
 * Usually the next number is already at the top: workers finish roughly in
 * order, so the heap stays as small as the number of posts in flight.
 */
#include "hark/reorder.h"

#include <stdlib.h>

void hark_reorder_init(struct hark_reorder *r, uint64_t first)
{
    r->next = first;
    r->heap = NULL;
    r->n = 0;
    r->cap = 0;
}

static void swap(struct hark_reorder_entry *a, struct hark_reorder_entry *b)
{
    struct hark_reorder_entry t = *a;
    *a = *b;
    *b = t;
}

void hark_reorder_push(struct hark_reorder *r, uint64_t order, void *value)
{
    hark_assert(order >= r->next);
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->heap = hark_xrealloc(r->heap, r->cap * sizeof(*r->heap));
    }
    size_t i = r->n++;
    r->heap[i].order = order;
    r->heap[i].value = value;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (r->heap[up].order <= r->heap[i].order) {
            break;
        }
        swap(&r->heap[up], &r->heap[i]);
        i = up;
    }
}

/* Removes the top (the lowest number) and returns its value. */
static void *remove_top(struct hark_reorder *r)
{
    void *v = r->heap[0].value;
    r->heap[0] = r->heap[--r->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        size_t m = i;
        if (l < r->n && r->heap[l].order < r->heap[m].order) {
            m = l;
        }
        if (l + 1 < r->n && r->heap[l + 1].order < r->heap[m].order) {
            m = l + 1;
        }
        if (m == i) {
            break;
        }
        swap(&r->heap[m], &r->heap[i]);
        i = m;
    }
    return v;
}

void *hark_reorder_pop(struct hark_reorder *r)
{
    if (r->n == 0 || r->heap[0].order != r->next) {
        return NULL;
    }
    r->next++;
    return remove_top(r);
}

void *hark_reorder_take(struct hark_reorder *r)
{
    if (r->n == 0) {
        return NULL;
    }
    if (r->heap[0].order >= r->next) {
        r->next = r->heap[0].order + 1;
    }
    return remove_top(r);
}

size_t hark_reorder_count(const struct hark_reorder *r)
{
    return r->n;
}

void hark_reorder_cleanup(struct hark_reorder *r)
{
    free(r->heap);
    r->heap = NULL;
    r->n = 0;
    r->cap = 0;
}
