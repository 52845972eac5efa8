/*
 * The pipeline wiring: the only code that knows every stage.
 *
 *   ingest thread ──work_q──▶ workers (N) ──emit_q──▶ emit thread ──▶ sinks
 *        ▲                                               │
 *        └──────────────── hark_ingest_ack() ◀───────────┘
 *
 * - The ingest thread runs hark_ingest_run(): fetching, cursors, dedup.
 * - Workers run the filters (rules, sentiment) on the current snapshot,
 *   taking a reference per item.
 * - The emit thread owns the enrich state and every sink: it joins
 *   customers, scores, serializes events, produces them, polls the sinks
 *   and turns their acks into ingest acks. One tracker per post counts the
 *   events still unacknowledged; the post is acked when the last one is.
 *
 * Queues are sized above the in-flight budget, so the ingest thread never
 * waits on them: ingest stops fetching instead (backpressure).
 */
#include "pipeline_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hark/conversation.h"
#include "hark/event.h"
#include "hark/ingest.h"
#include "hark/log.h"
#include "hark/queue.h"
#include "hark/reorder.h"
#include "hark/sink.h"

#define MAX_SINKS 4
#define DLQ_RAW_MAX 4096

struct sink_slot {
    const struct hark_sink_ops *ops;
    void *state;
};

struct tracker {
    struct tracker *prev, *next; /* the live list (emit thread) */
    struct hark_pipeline *pipe;
    uint32_t src_index;
    uint64_t seq;
    int pending;
    bool has_failed;
    bool is_engaged;
    bool is_unkept;   /* no event of its own (a brand reply's updates) */
    bool is_dropped;
    char event_id[17];
    char *key;
};

/* What travels on emit_q: an analysed item, or a DLQ record. */
struct emit_job {
    struct hark_item *item;
    char *dlq_payload;
    size_t dlq_len;
    uint32_t src_index;
};

struct hark_pipeline {
    pthread_mutex_t snap_lock;
    struct hark_snapshot *snap; /* the current one (slot) */
    struct hark_snapshot *boot; /* sources and sinks come from this one */
    struct hark_source_stats *stats;
    struct hark_ingest_source *isrcs;
    struct hark_ingest *ingest;
    struct hark_queue *work_q;
    struct hark_queue *emit_q;
    struct sink_slot sinks[MAX_SINKS];
    size_t n_sinks;
    pthread_t ingest_thread;
    pthread_t emit_thread;
    pthread_t *workers;
    int n_workers;
    atomic_bool is_ingest_done;
    atomic_bool is_closing;      /* join() began: give up on stuck sinks */
    hark_err_t ingest_result;
    struct tracker *live;    /* trackers not yet released (emit thread) */
    /* enrich state (emit thread): relationship capital, baselines */
    struct hark_relation *rel;
    struct hark_conv *conv;
    struct hark_conv_changes conv_changes;
    const struct hark_snapshot *rel_snap; /* whose settings rel has */
    struct hark_signal_list sigs;
    int64_t next_commit_ms;
    int64_t next_tick_ms;
    uint64_t next_arrival;    /* ingest thread: numbers the posts */
    struct hark_reorder order; /* emit thread: back in that order */
    /* acks wait until the state they changed is committed (emit thread) */
    struct ack_rec *acks;
    size_t n_acks, cap_acks;
    /* one post's key and events, reused from post to post (emit thread) */
    struct hark_buf key, ev_post, ev_eng, upd;
};

struct ack_rec {
    uint32_t src_index;
    uint64_t seq;
};

static void tracker_link(struct hark_pipeline *p, struct tracker *t)
{
    t->prev = NULL;
    t->next = p->live;
    if (p->live) {
        p->live->prev = t;
    }
    p->live = t;
}

static void tracker_unlink(struct hark_pipeline *p, struct tracker *t)
{
    if (t->prev) {
        t->prev->next = t->next;
    } else {
        p->live = t->next;
    }
    if (t->next) {
        t->next->prev = t->prev;
    }
}

/* ---- snapshot slot ---- */

static struct hark_snapshot *snap_get(struct hark_pipeline *p)
{
    pthread_mutex_lock(&p->snap_lock);
    struct hark_snapshot *snap = hark_snapshot_ref(p->snap);
    pthread_mutex_unlock(&p->snap_lock);
    return snap;
}

void hark_pipeline_swap(struct hark_pipeline *p, struct hark_snapshot *snap)
{
    pthread_mutex_lock(&p->snap_lock);
    struct hark_snapshot *old = p->snap;
    p->snap = snap;
    pthread_mutex_unlock(&p->snap_lock);
    hark_snapshot_unref(old);
}

const char *hark_pipeline_rules_version(struct hark_pipeline *p)
{
    return hark_rules_version(p->snap->rules);
}

/* ---- ingest side ---- */

/*
 * Posts are numbered here, in the order ingest gives them (each source's
 * pages in platform order); workers finish out of order, and the emit
 * thread puts them back in this order before any state sees them.
 */
static hark_err_t on_emit(void *opaque, struct hark_item *item)
{
    struct hark_pipeline *p = opaque;
    item->arrival = p->next_arrival++;
    return hark_queue_push(p->work_q, item, -1);
}

static void on_dlq(void *opaque, uint32_t src_index, const char *url,
                   const char *reason, const char *raw, size_t raw_len)
{
    struct hark_pipeline *p = opaque;
    struct hark_buf buf;
    hark_buf_init(&buf, 0);
    const char *name = p->boot->cfg->sources[src_index].cfg.name;
    if (hark_event_dlq(name, url, reason, raw, raw_len, DLQ_RAW_MAX,
                       hark_now_ms(), &buf) != HARK_OK) {
        hark_buf_cleanup(&buf);
        return;
    }
    struct emit_job *job = hark_xcalloc(1, sizeof(*job));
    job->src_index = src_index;
    job->dlq_len = buf.len;
    job->dlq_payload = hark_buf_take(&buf);
    if (hark_queue_push(p->emit_q, job, -1) != HARK_OK) {
        free(job->dlq_payload);
        free(job);
    }
}

static void *ingest_main(void *arg)
{
    struct hark_pipeline *p = arg;
    p->ingest_result = hark_ingest_run(p->ingest);
    atomic_store(&p->is_ingest_done, true);
    return NULL;
}

/* ---- workers ---- */

static void *worker_main(void *arg)
{
    struct hark_pipeline *p = arg;
    struct hark_rules_scratch *scratch = hark_rules_scratch_new();
    for (;;) {
        void *v = NULL;
        if (hark_queue_pop(p->work_q, &v, -1) != HARK_OK) {
            break;
        }
        struct hark_item *item = v;
        struct hark_snapshot *snap = snap_get(p);
        hark_app_analyze(snap, scratch, item, false);
        hark_snapshot_unref(snap);
        struct emit_job *job = hark_xcalloc(1, sizeof(*job));
        job->item = item;
        if (hark_queue_push(p->emit_q, job, -1) != HARK_OK) {
            hark_item_free(item); /* closing: refetched after restart */
            free(job);
        }
    }
    hark_rules_scratch_free(scratch);
    return NULL;
}

/* ---- emit side ---- */

/*
 * A post is done. Its ack reaches ingest (and so the cursor) only after
 * the relationship state it changed is committed: a crash in between
 * fetches the post again, and the state, keyed by event_id, applies it
 * once.
 */
static void ack_post(struct hark_pipeline *p, uint32_t src, uint64_t seq)
{
    if (p->n_acks == p->cap_acks) {
        p->cap_acks = p->cap_acks ? p->cap_acks * 2 : 1024;
        p->acks = hark_xrealloc(p->acks, p->cap_acks * sizeof(*p->acks));
    }
    p->acks[p->n_acks].src_index = src;
    p->acks[p->n_acks].seq = seq;
    p->n_acks++;
}

/* Commits the state (at most every 200 ms unless forced), then passes the
 * acks on. A failed commit keeps them for the next try. */
static void flush_acks(struct hark_pipeline *p, bool is_forced)
{
    if (p->n_acks == 0) {
        return;
    }
    bool is_dirty = (p->rel && hark_relation_is_dirty(p->rel)) ||
                    (p->conv && hark_conv_is_dirty(p->conv));
    if (is_dirty) {
        int64_t now = hark_mono_ms();
        if (!is_forced && now < p->next_commit_ms) {
            return;
        }
        p->next_commit_ms = now + 200;
        char errbuf[512];
        if (hark_relation_is_dirty(p->rel) &&
            hark_relation_commit(p->rel, errbuf, sizeof(errbuf)) != HARK_OK) {
            HARK_LOG_ERROR("enrich", "committing relationship state failed: "
                           "%s; holding %zu acks", errbuf, p->n_acks);
            return;
        }
        if (hark_conv_is_dirty(p->conv) &&
            hark_conv_commit(p->conv, errbuf, sizeof(errbuf)) != HARK_OK) {
            HARK_LOG_ERROR("enrich", "committing conversations failed: %s; "
                           "holding %zu acks", errbuf, p->n_acks);
            return;
        }
    }
    for (size_t i = 0; i < p->n_acks; i++) {
        hark_ingest_ack(p->ingest, p->acks[i].src_index, p->acks[i].seq);
    }
    p->n_acks = 0;
}

static void poll_sinks(struct hark_pipeline *p, int timeout_ms)
{
    /* A file sink's poll never blocks; Kafka's waits for reports. */
    for (size_t i = 0; i < p->n_sinks; i++) {
        p->sinks[i].ops->poll(p->sinks[i].state, timeout_ms);
    }
}

/* Produces to one sink, waiting (polling) while it pushes back. */
static void produce_one(struct hark_pipeline *p, struct sink_slot *s,
                        const char *topic, const char *key, size_t key_len,
                        const char *payload, size_t len, void *token)
{
    int64_t give_up_at = 0;
    for (;;) {
        hark_err_t err =
            s->ops->produce(s->state, topic, key, key_len, payload, len, token);
        if (err == HARK_EAGAIN && atomic_load(&p->is_closing)) {
            /* Shutting down with a sink that takes nothing: the event stays
             * unacknowledged, so its post is fetched again after restart. */
            int64_t now = hark_mono_ms();
            if (!give_up_at) {
                give_up_at = now + 10000;
            } else if (now >= give_up_at) {
                HARK_LOG_ERROR("sink", "%s takes no more events; leaving the "
                               "rest for the next run", s->ops->name);
                return;
            }
        }
        if (err != HARK_EAGAIN) {
            if (err != HARK_OK) {
                HARK_LOG_ERROR("sink", "%s refused an event on %s: %s",
                               s->ops->name, topic, hark_err_str(err));
            }
            return;
        }
        poll_sinks(p, 10);
    }
}

static void produce_dlq_record(struct hark_pipeline *p, const char *payload,
                               size_t len)
{
    for (size_t i = 0; i < p->n_sinks; i++) {
        produce_one(p, &p->sinks[i], p->boot->cfg->topic_dlq, NULL, 0, payload,
                    len, NULL);
    }
}

/* Drops one hold on the tracker; the last one acks the post. */
static void tracker_release(struct hark_pipeline *p, struct tracker *t)
{
    if (--t->pending > 0) {
        return;
    }
    struct hark_source_stats *st = &p->stats[t->src_index];
    if (t->is_unkept) {
        atomic_fetch_add(t->is_dropped ? &st->dropped : &st->filtered, 1);
    } else if (t->has_failed) {
        atomic_fetch_add(&st->dlq, 1);
    } else {
        atomic_fetch_add(&st->emitted, 1);
        if (t->is_engaged) {
            atomic_fetch_add(&st->engaged, 1);
        }
    }
    ack_post(p, t->src_index, t->seq);
    tracker_unlink(p, t);
    free(t->key);
    free(t);
}

static void on_sink_ack(void *opaque, void *token, hark_err_t status,
                        const char *reason)
{
    struct hark_pipeline *p = opaque;
    struct tracker *t = token;
    if (!t) {
        if (status != HARK_OK) {
            HARK_LOG_ERROR("sink", "a DLQ record was refused too: %s",
                           reason ? reason : hark_err_str(status));
        }
        return;
    }
    if (status != HARK_OK && !t->has_failed) {
        t->has_failed = true;
        HARK_LOG_ERROR("sink", "event %s refused permanently: %s; sent to "
                       "the DLQ", t->event_id,
                       reason ? reason : hark_err_str(status));
        struct hark_buf buf;
        hark_buf_init(&buf, 0);
        char why[512];
        snprintf(why, sizeof(why), "delivery failed for event %s (key %s): %s",
                 t->event_id, t->key ? t->key : "", reason ? reason : "");
        const char *name = p->boot->cfg->sources[t->src_index].cfg.name;
        if (hark_event_dlq(name, NULL, why, NULL, 0, 0, hark_now_ms(), &buf) ==
            HARK_OK) {
            produce_dlq_record(p, buf.ptr, buf.len);
        }
        hark_buf_cleanup(&buf);
    }
    tracker_release(p, t);
}

/* The stateful enrichment of one post, on the emit thread: conversation
 * items (every post, brand replies included) and relationship capital
 * (every author but the brand). Fills p->sigs and p->conv_changes. `eid`
 * is the post's event id (HARK_SCHEMA_POST). */
static void observe_state(struct hark_pipeline *p,
                          const struct hark_snapshot *snap,
                          struct hark_item *item, bool is_brand,
                          const char *eid, int64_t now)
{
    hark_signal_list_clear(&p->sigs);
    hark_conv_changes_clear(&p->conv_changes);
    if (item->post->is_deleted) {
        return;
    }
    if (p->rel_snap != snap) { /* a reload: new thresholds, weights */
        hark_relation_configure(p->rel, &snap->cfg->relation,
                                &snap->cfg->score);
        hark_conv_configure(p->conv, &snap->cfg->conversations);
        p->rel_snap = snap;
    }
    if (hark_conv_observe(p->conv, item, is_brand, eid, now,
                          &p->conv_changes) != HARK_OK) {
        HARK_LOG_ERROR("enrich", "cannot record the conversation of post %s",
                       item->post->id ? item->post->id : "?");
    }
    if (is_brand) {
        return;
    }
    if (hark_relation_observe(p->rel, item, eid, now, &p->sigs) != HARK_OK) {
        HARK_LOG_ERROR("enrich", "cannot record post %s",
                       item->post->id ? item->post->id : "?");
    }
    hark_relation_adjust(p->rel, item);
}

/* An engagement update for an item whose status changed (answered). */
static void conv_update_event(const struct hark_conv_change *c,
                              const char *rules_version, int64_t now,
                              struct hark_buf *out)
{
    struct hark_jw jw, *gen = &jw;
    hark_jw_init(gen, out);
    hark_jw_map_open(gen);
    HARK_JW_KEY(gen, "schema");
    hark_jw_str(gen, HARK_SCHEMA_ENGAGEMENT);
    HARK_JW_KEY(gen, "event_id");
    hark_jw_str(gen, c->update_id);
    HARK_JW_KEY(gen, "emitted_at");
    hark_jw_time(gen, now);
    HARK_JW_KEY(gen, "rules_version");
    hark_jw_str(gen, rules_version);
    HARK_JW_KEY(gen, "update");
    hark_jw_bool(gen, true);
    HARK_JW_KEY(gen, "item");
    hark_jw_map_open(gen);
    HARK_JW_KEY(gen, "id");
    hark_jw_str(gen, c->item_id);
    HARK_JW_KEY(gen, "sequence");
    hark_jw_int(gen, c->seq);
    HARK_JW_KEY(gen, "status");
    hark_jw_str(gen, hark_conv_status_name(c->status));
    HARK_JW_KEY(gen, "opened_at");
    hark_jw_time(gen, c->opened_ms);
    HARK_JW_KEY(gen, "answered_at");
    if (c->answered_ms) {
        hark_jw_time(gen, c->answered_ms);
    } else {
        hark_jw_null(gen);
    }
    HARK_JW_KEY(gen, "platform");
    hark_jw_str(gen, c->platform);
    HARK_JW_KEY(gen, "conversation_id");
    hark_jw_str(gen, c->conversation);
    HARK_JW_KEY(gen, "author_key");
    hark_jw_str(gen, c->author_key);
    hark_jw_map_close(gen);
    hark_jw_map_close(gen);
}

/* Counts a post that produced no event of its own and releases it. */
static void count_unkept(struct hark_pipeline *p, struct hark_item *item)
{
    struct hark_source_stats *st = &p->stats[item->src_index];
    atomic_fetch_add(item->action == HARK_ACTION_DROP ? &st->dropped
                                                       : &st->filtered,
                     1);
}

static void emit_item(struct hark_pipeline *p, struct hark_item *item)
{
    struct hark_source_stats *st = &p->stats[item->src_index];
    struct hark_snapshot *snap = snap_get(p);
    bool is_kept = item->action == HARK_ACTION_TAG ||
                   item->action == HARK_ACTION_ENGAGE ||
                   (item->action == HARK_ACTION_NONE &&
                    snap->cfg->keep_unmatched) ||
                   item->post->is_deleted;
    bool is_brand = hark_app_is_brand(snap->cfg, item->post);
    if (!is_kept && !is_brand) {
        /* Its replies still need its thread (conversation.h). */
        hark_conv_note_post(p->conv, item->post, hark_now_ms());
        count_unkept(p, item);
        ack_post(p, item->src_index, item->seq);
        hark_snapshot_unref(snap);
        hark_item_free(item);
        return;
    }
    /* A brand post is observed even when no rule kept it: its replies
     * mark conversations answered. */
    int64_t now = hark_now_ms();
    int64_t since = 0;
    if (!item->post->created_at ||
        hark_time_parse(item->post->created_at, &since) != HARK_OK) {
        since = now;
    }
    char eid[17];
    hark_event_id(item, HARK_SCHEMA_POST, eid);
    hark_app_join(snap, item);
    observe_state(p, snap, item, is_brand, eid, now);
    /* The SLA runs from the item's first unanswered post. */
    hark_app_score(snap, item,
                   item->item_first_unanswered_ms ? item->item_first_unanswered_ms
                                                  : since);
    bool is_engage = is_kept && item->action == HARK_ACTION_ENGAGE &&
                     !is_brand && !item->post->is_deleted;
    const char *rules_version = hark_rules_version(snap->rules);

    struct hark_buf *key = &p->key, *ev_post = &p->ev_post;
    struct hark_buf *ev_eng = &p->ev_eng, *upd = &p->upd;
    hark_buf_reset(key);
    hark_buf_reset(ev_post);
    hark_buf_reset(ev_eng);
    hark_event_key(item, key);
    hark_err_t err = HARK_OK;
    if (is_kept) {
        err = hark_event_build(item, HARK_SCHEMA_POST, now, ev_post);
    }
    if (err == HARK_OK && is_engage) {
        err = hark_event_build(item, HARK_SCHEMA_ENGAGEMENT, now, ev_eng);
    }
    size_t n_changes = p->conv_changes.n;
    if (err != HARK_OK) {
        /* Serialization cannot fail on valid items; count it, release it. */
        HARK_LOG_ERROR("emit", "cannot serialize post %s: %s",
                       item->post->id ? item->post->id : "?",
                       hark_err_str(err));
        atomic_fetch_add(&st->dlq, 1);
        ack_post(p, item->src_index, item->seq);
    } else if (!is_kept && n_changes == 0) {
        count_unkept(p, item); /* a brand post that answered nothing */
        ack_post(p, item->src_index, item->seq);
    } else {
        struct tracker *t = hark_xcalloc(1, sizeof(*t));
        tracker_link(p, t);
        t->pipe = p;
        t->src_index = item->src_index;
        t->seq = item->seq;
        t->is_engaged = is_engage;
        t->is_unkept = !is_kept;
        t->is_dropped = item->action == HARK_ACTION_DROP;
        t->key = hark_xstrdup(key->ptr ? key->ptr : "");
        memcpy(t->event_id, eid, sizeof(t->event_id));
        /* One hold per event and sink, plus ours until every produce
         * returned: a sink may ack synchronously inside produce. */
        size_t n_events = (is_kept ? 1 : 0) + (is_engage ? 1 : 0) +
                          p->sigs.n + n_changes;
        t->pending = (int)(p->n_sinks * n_events) + 1;
        const struct hark_app_config *cfg = p->boot->cfg;
        for (size_t i = 0; i < p->n_sinks; i++) {
            if (is_kept) {
                produce_one(p, &p->sinks[i], cfg->topic_posts, key->ptr,
                            key->len, ev_post->ptr, ev_post->len, t);
            }
            if (is_engage) {
                produce_one(p, &p->sinks[i], cfg->topic_engagement, key->ptr,
                            key->len, ev_eng->ptr, ev_eng->len, t);
            }
            for (size_t g = 0; g < p->sigs.n; g++) {
                const struct hark_signal *sig = &p->sigs.v[g];
                produce_one(p, &p->sinks[i], cfg->topic_signals, sig->key,
                            strlen(sig->key), sig->payload, sig->payload_len,
                            t);
            }
            for (size_t c = 0; c < n_changes; c++) {
                const struct hark_conv_change *ch = &p->conv_changes.v[c];
                hark_buf_reset(upd);
                conv_update_event(ch, rules_version, now, upd);
                produce_one(p, &p->sinks[i], cfg->topic_engagement,
                            ch->author_key, strlen(ch->author_key), upd->ptr,
                            upd->len, t);
            }
        }
        tracker_release(p, t);
    }
    hark_snapshot_unref(snap);
    hark_item_free(item);
}

/* Signals about no single post (silence, segment changes on a clock):
 * nothing to ack, so they travel with a NULL token. */
static void tick(struct hark_pipeline *p)
{
    int64_t now = hark_mono_ms();
    if (!p->rel || now < p->next_tick_ms) {
        return;
    }
    p->next_tick_ms = now + 60000;
    struct hark_snapshot *snap = snap_get(p);
    hark_signal_list_clear(&p->sigs);
    hark_relation_tick(p->rel, hark_rules_version(snap->rules), hark_now_ms(),
                       &p->sigs);
    hark_snapshot_unref(snap);
    for (size_t g = 0; g < p->sigs.n; g++) {
        const struct hark_signal *sig = &p->sigs.v[g];
        for (size_t i = 0; i < p->n_sinks; i++) {
            produce_one(p, &p->sinks[i], p->boot->cfg->topic_signals, sig->key,
                        strlen(sig->key), sig->payload, sig->payload_len,
                        NULL);
        }
    }
    hark_signal_list_clear(&p->sigs);
}

static void *emit_main(void *arg)
{
    struct hark_pipeline *p = arg;
    for (;;) {
        flush_acks(p, false);
        tick(p);
        void *v = NULL;
        hark_err_t err = hark_queue_pop(p->emit_q, &v, 20);
        if (err == HARK_ECLOSED) {
            break;
        }
        if (err == HARK_OK) {
            struct emit_job *job = v;
            if (job->item) {
                hark_reorder_push(&p->order, job->item->arrival, job);
                while ((job = hark_reorder_pop(&p->order)) != NULL) {
                    emit_item(p, job->item);
                    free(job);
                }
            } else {
                produce_dlq_record(p, job->dlq_payload, job->dlq_len);
                free(job->dlq_payload);
                free(job);
            }
            poll_sinks(p, 0);
        } else {
            poll_sinks(p, 5);
        }
    }
    /* Closing: a post dropped on its way (a full queue that closed) holds
     * back the ones after it; they are finished now, in order. */
    struct emit_job *job;
    while ((job = hark_reorder_take(&p->order)) != NULL) {
        emit_item(p, job->item);
        free(job);
    }
    for (size_t i = 0; i < p->n_sinks; i++) {
        if (p->sinks[i].ops->flush(p->sinks[i].state, 10000) != HARK_OK) {
            HARK_LOG_ERROR("sink", "%s: not every event was delivered before "
                           "shutdown", p->sinks[i].ops->name);
        }
    }
    flush_acks(p, true);
    char errbuf[512];
    if (hark_relation_is_dirty(p->rel) &&
        hark_relation_commit(p->rel, errbuf, sizeof(errbuf)) != HARK_OK) {
        HARK_LOG_ERROR("enrich", "final commit failed: %s", errbuf);
    }
    if (hark_conv_is_dirty(p->conv) &&
        hark_conv_commit(p->conv, errbuf, sizeof(errbuf)) != HARK_OK) {
        HARK_LOG_ERROR("enrich", "final commit failed: %s", errbuf);
    }
    return NULL;
}

/* ---- lifecycle ---- */

static hark_err_t open_sinks(struct hark_pipeline *p, struct hark_diag *diag)
{
    const struct hark_app_config *cfg = p->boot->cfg;
    char *dir = hark_path_resolve(cfg->path, ".");
    if (dir) {
        size_t n = strlen(dir);
        if (n >= 2 && strcmp(dir + n - 2, "/.") == 0) {
            dir[n - 2] = '\0';
        }
    }
    hark_err_t err = HARK_OK;
    if (!cfg->sinks || cfg->sinks->n == 0) {
        /* The default: NDJSON files under "out" next to the config. */
        static const char dflt[] = "{\"dir\": \"out\"}";
        struct hark_json_doc *doc = NULL;
        struct hark_json_opts opts = {.validate_utf8 = true};
        char eb[128];
        size_t off;
        if (hark_json_parse(dflt, sizeof(dflt) - 1, "(default sink)", &opts,
                            &doc, eb, sizeof(eb), &off) == HARK_OK) {
            const struct hark_sink_ops *ops = hark_sink_ops_find("file");
            err = ops->open(doc, doc->root, dir ? dir : ".", diag, on_sink_ack,
                            p, &p->sinks[0].state);
            if (err == HARK_OK) {
                p->sinks[0].ops = ops;
                p->n_sinks = 1;
            }
            hark_json_doc_free(doc);
        }
        free(dir);
        return err;
    }
    for (size_t i = 0; i < cfg->sinks->n && p->n_sinks < MAX_SINKS; i++) {
        const struct hark_sink_ops *ops = hark_sink_ops_find(cfg->sinks->keys[i]);
        void *state = NULL;
        if (ops->open(cfg->doc, cfg->sinks->items[i], dir ? dir : ".", diag,
                      on_sink_ack, p, &state) != HARK_OK) {
            err = HARK_EINVAL;
            continue;
        }
        p->sinks[p->n_sinks].ops = ops;
        p->sinks[p->n_sinks].state = state;
        p->n_sinks++;
    }
    free(dir);
    return err;
}

hark_err_t hark_pipeline_new(struct hark_snapshot *snap, bool is_once,
                             struct hark_diag *diag,
                             struct hark_pipeline **out)
{
    *out = NULL;
    struct hark_pipeline *p = hark_xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->snap_lock, NULL);
    p->snap = hark_snapshot_ref(snap);
    p->boot = hark_snapshot_ref(snap);
    atomic_init(&p->is_ingest_done, false);
    atomic_init(&p->is_closing, false);
    const struct hark_app_config *cfg = snap->cfg;
    size_t n = cfg->n_sources;
    p->stats = hark_xcalloc(n ? n : 1, sizeof(*p->stats));
    p->isrcs = hark_xcalloc(n ? n : 1, sizeof(*p->isrcs));
    for (size_t i = 0; i < n; i++) {
        p->isrcs[i].cfg = &cfg->sources[i].cfg;
        p->isrcs[i].ops = cfg->sources[i].ops;
        p->isrcs[i].state = cfg->sources[i].state;
        p->isrcs[i].stats = &p->stats[i];
    }
    hark_signal_list_init(&p->sigs);
    hark_conv_changes_init(&p->conv_changes);
    hark_buf_init(&p->key, 0);
    hark_buf_init(&p->ev_post, 0);
    hark_buf_init(&p->ev_eng, 0);
    hark_buf_init(&p->upd, 0);
    size_t cap = cfg->max_in_flight + 4096;
    p->work_q = hark_queue_new(cap);
    p->emit_q = hark_queue_new(cap);
    hark_reorder_init(&p->order, 0);
    if (hark_mkdirs(cfg->state_dir) != HARK_OK ||
        hark_relation_open(cfg->state_dir, &cfg->relation, &cfg->score, diag,
                           &p->rel) != HARK_OK ||
        hark_conv_open(cfg->state_dir, &cfg->conversations, diag, &p->conv) !=
            HARK_OK) {
        if (!hark_diag_has_errors(diag)) {
            hark_diag_line(diag, HARK_DIAG_ERROR, cfg->state_dir, 0,
                           "cannot create or open the state directory");
        }
        hark_pipeline_free(p);
        return HARK_EIO;
    }
    p->rel_snap = snap;
    if (open_sinks(p, diag) != HARK_OK) {
        hark_pipeline_free(p);
        return HARK_EINVAL;
    }
    struct hark_ingest_opts opts = {
        .state_dir = cfg->state_dir,
        .is_once = is_once,
        .max_in_flight = cfg->max_in_flight,
        .max_body_bytes = cfg->max_body_bytes,
        .dedup_window = cfg->dedup_window,
        .emit = on_emit,
        .dlq = on_dlq,
        .opaque = p,
    };
    char errbuf[512];
    if (hark_ingest_new(p->isrcs, n, &opts, &p->ingest, errbuf,
                        sizeof(errbuf)) != HARK_OK) {
        hark_diag_line(diag, HARK_DIAG_ERROR, NULL, 0, "%s", errbuf);
        hark_pipeline_free(p);
        return HARK_EIO;
    }
    *out = p;
    return HARK_OK;
}

void hark_pipeline_start(struct hark_pipeline *p)
{
    p->n_workers = p->boot->cfg->workers;
    p->workers = hark_xcalloc((size_t)p->n_workers, sizeof(*p->workers));
    pthread_create(&p->emit_thread, NULL, emit_main, p);
    for (int i = 0; i < p->n_workers; i++) {
        pthread_create(&p->workers[i], NULL, worker_main, p);
    }
    pthread_create(&p->ingest_thread, NULL, ingest_main, p);
}

bool hark_pipeline_is_done(struct hark_pipeline *p)
{
    return atomic_load(&p->is_ingest_done);
}

void hark_pipeline_stop(struct hark_pipeline *p)
{
    hark_ingest_stop(p->ingest);
}

hark_err_t hark_pipeline_join(struct hark_pipeline *p)
{
    pthread_join(p->ingest_thread, NULL);
    /* Ingest drained (every post acked) or gave up waiting; either way
     * nothing more is coming. Closing both queues unblocks a worker stuck
     * on a full emit queue; what is left was never acked and is fetched
     * again after a restart. The emit thread still drains emit_q. */
    atomic_store(&p->is_closing, true);
    hark_queue_close(p->work_q);
    hark_queue_close(p->emit_q);
    for (int i = 0; i < p->n_workers; i++) {
        pthread_join(p->workers[i], NULL);
    }
    pthread_join(p->emit_thread, NULL);
    return p->ingest_result;
}

void hark_pipeline_log_stats(struct hark_pipeline *p, FILE *fp)
{
    const struct hark_app_config *cfg = p->boot->cfg;
    for (size_t i = 0; i < cfg->n_sources; i++) {
        struct hark_source_stats *st = &p->stats[i];
        const char *cur = hark_ingest_cursor(p->ingest, i);
        char line[768];
        snprintf(line, sizeof(line),
                 "source=%s state=%s requests=%llu fetched=%llu emitted=%llu "
                 "engaged=%llu filtered=%llu dropped=%llu deduped=%llu "
                 "dlq=%llu bad_pages=%llu repaired=%llu cursor=%s",
                 cfg->sources[i].cfg.name,
                 hark_source_state_name(atomic_load(&st->state)),
                 (unsigned long long)atomic_load(&st->requests),
                 (unsigned long long)atomic_load(&st->fetched),
                 (unsigned long long)atomic_load(&st->emitted),
                 (unsigned long long)atomic_load(&st->engaged),
                 (unsigned long long)atomic_load(&st->filtered),
                 (unsigned long long)atomic_load(&st->dropped),
                 (unsigned long long)atomic_load(&st->deduped),
                 (unsigned long long)atomic_load(&st->dlq),
                 (unsigned long long)atomic_load(&st->bad_pages),
                 (unsigned long long)atomic_load(&st->repaired),
                 cur ? cur : "-");
        if (fp) {
            fprintf(fp, "%s\n", line);
        } else {
            HARK_LOG_INFO("stats", "%s", line);
        }
    }
}

void hark_pipeline_free(struct hark_pipeline *p)
{
    if (!p) {
        return;
    }
    for (size_t i = 0; i < p->n_sinks; i++) {
        p->sinks[i].ops->close(p->sinks[i].state);
    }
    /* Events a sink never confirmed: their posts stay unacked (fetched
     * again after a restart); the sinks are closed, so no ack can come. */
    while (p->live) {
        struct tracker *t = p->live;
        tracker_unlink(p, t);
        free(t->key);
        free(t);
    }
    /* Anything left in the queues was never acked: drop it. */
    void *v;
    while (hark_queue_pop(p->work_q, &v, 0) == HARK_OK) {
        hark_item_free(v);
    }
    while (hark_queue_pop(p->emit_q, &v, 0) == HARK_OK) {
        struct emit_job *job = v;
        hark_item_free(job->item);
        free(job->dlq_payload);
        free(job);
    }
    struct emit_job *parked;
    while ((parked = hark_reorder_take(&p->order)) != NULL) {
        hark_item_free(parked->item);
        free(parked);
    }
    hark_reorder_cleanup(&p->order);
    hark_queue_free(p->work_q);
    hark_queue_free(p->emit_q);
    hark_relation_free(p->rel);
    hark_conv_free(p->conv);
    hark_signal_list_cleanup(&p->sigs);
    hark_conv_changes_cleanup(&p->conv_changes);
    hark_buf_cleanup(&p->key);
    hark_buf_cleanup(&p->ev_post);
    hark_buf_cleanup(&p->ev_eng);
    hark_buf_cleanup(&p->upd);
    free(p->acks);
    hark_ingest_free(p->ingest);
    free(p->workers);
    free(p->isrcs);
    free(p->stats);
    hark_snapshot_unref(p->snap);
    hark_snapshot_unref(p->boot);
    pthread_mutex_destroy(&p->snap_lock);
    free(p);
}
