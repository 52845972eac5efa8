#include "hark/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct hark_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    void **ring;
    size_t cap;
    size_t head;
    size_t len;
    bool is_closed;
};

struct hark_queue *hark_queue_new(size_t capacity)
{
    hark_assert(capacity > 0);
    struct hark_queue *q = hark_xcalloc(1, sizeof(*q));
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &attr);
    pthread_cond_init(&q->not_full, &attr);
    pthread_condattr_destroy(&attr);
    q->ring = hark_xcalloc(capacity, sizeof(*q->ring));
    q->cap = capacity;
    return q;
}

void hark_queue_free(struct hark_queue *q)
{
    if (!q) {
        return;
    }
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->ring);
    free(q);
}

static void deadline(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Waits on `cond`; false on timeout. */
static bool wait_on(pthread_cond_t *cond, pthread_mutex_t *lock,
                    const struct timespec *ts, int timeout_ms)
{
    if (timeout_ms < 0) {
        pthread_cond_wait(cond, lock);
        return true;
    }
    return pthread_cond_timedwait(cond, lock, ts) != ETIMEDOUT;
}

hark_err_t hark_queue_push(struct hark_queue *q, void *item, int timeout_ms)
{
    struct timespec ts;
    if (timeout_ms > 0) {
        deadline(&ts, timeout_ms);
    }
    pthread_mutex_lock(&q->lock);
    while (!q->is_closed && q->len == q->cap) {
        if (timeout_ms == 0 || !wait_on(&q->not_full, &q->lock, &ts,
                                        timeout_ms)) {
            if (q->len == q->cap) {
                pthread_mutex_unlock(&q->lock);
                return HARK_EAGAIN;
            }
        }
    }
    if (q->is_closed) {
        pthread_mutex_unlock(&q->lock);
        return HARK_ECLOSED;
    }
    q->ring[(q->head + q->len) % q->cap] = item;
    q->len++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    return HARK_OK;
}

hark_err_t hark_queue_pop(struct hark_queue *q, void **item, int timeout_ms)
{
    *item = NULL;
    struct timespec ts;
    if (timeout_ms > 0) {
        deadline(&ts, timeout_ms);
    }
    pthread_mutex_lock(&q->lock);
    while (q->len == 0) {
        if (q->is_closed) {
            pthread_mutex_unlock(&q->lock);
            return HARK_ECLOSED;
        }
        if (timeout_ms == 0 || !wait_on(&q->not_empty, &q->lock, &ts,
                                        timeout_ms)) {
            if (q->len == 0) {
                hark_err_t err = q->is_closed ? HARK_ECLOSED : HARK_EAGAIN;
                pthread_mutex_unlock(&q->lock);
                return err;
            }
        }
    }
    *item = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    return HARK_OK;
}

void hark_queue_close(struct hark_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->is_closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

size_t hark_queue_len(struct hark_queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}
