/*
 * relation: the stateful part of enrichment (enrich/relation.c,
 * enrich/baseline.c, enrich/relation_store.c). Per author (the customer id
 * for a known customer, "platform:author id" for a stranger) it keeps the
 * relational capital seen live (recommendations, referrals, advocacy,
 * introductions, positive mentions), behaviour baselines (exponentially
 * weighted sentiment mean and variance, the usual gap between posts), a
 * behaviour segment, and per conversation a post count; and it raises the
 * signals published on hark.signals (advocacy, referral, recommendation,
 * churn_risk, silence, segment_change). docs/internals/relationship.md
 * explains the model and the exactly-once bookkeeping.
 *
 * State lives in memory (one hash table) and in one SQLite file,
 * <state_dir>/relation.sqlite (WAL, exclusively locked by its process).
 * Every update is keyed by the event_id of the observation that caused it
 * and applied once, also across a kill -9 and a replay: an observation
 * already applied returns the signals it raised the first time, with the
 * same event ids, and changes nothing. hark_relation_commit() writes every
 * pending change in one transaction.
 *
 * Thread: a struct hark_relation has one owner, the emit thread (or one
 * enrich shard, partitioned by author key); nothing in it is locked. The
 * hark_relation_cfg_* functions may run on any thread (reload, check).
 */
#ifndef HARK_RELATION_H
#define HARK_RELATION_H

#include "hark/common.h"
#include "hark/diag.h"
#include "hark/item.h"
#include "hark/json.h"
#include "hark/post.h"

struct hark_relation;
struct hark_score_cfg;

#define HARK_SCHEMA_SIGNAL "hark.signal/1"
#define HARK_RELATION_DB_NAME "relation.sqlite"

enum hark_signal_kind {
    HARK_SIGNAL_ADVOCACY = 0,
    HARK_SIGNAL_REFERRAL,
    HARK_SIGNAL_RECOMMENDATION,
    HARK_SIGNAL_CHURN_RISK,
    HARK_SIGNAL_SILENCE,
    HARK_SIGNAL_SEGMENT_CHANGE,
    HARK_SIGNAL_COUNT_
};

/* Behaviour segments (DESIGN.md "Customers and identities"). */
enum hark_segment {
    HARK_SEGMENT_NONE = 0, /* no state yet */
    HARK_SEGMENT_NEW,
    HARK_SEGMENT_LOYAL,
    HARK_SEGMENT_ADVOCATE,
    HARK_SEGMENT_AT_RISK,
    HARK_SEGMENT_DORMANT
};

/*
 * The "relationship" config object; every key optional. The defaults
 * (hark_relation_cfg_init) and their meaning:
 *
 *   {"baseline": {"sentiment_alpha": 0.05, "gap_alpha": 0.2},
 *    "valuable": {"clv": 1000, "relationship": 500},
 *    "advocate": {"min_acts": 3, "min_mean": 0.2},
 *    "churn": {"k": 4, "min_posts": 10, "min_drop": 0.6,
 *              "max_value": -0.3, "sd_floor": 0.15,
 *              "intent_tags": ["intent:cancel"],
 *              "complaint_tags": ["intent:complaint"],
 *              "at_risk_days": 30},
 *    "silence": {"gaps": 5, "min_posts": 5, "min_hours": 72},
 *    "segments": {"min_posts": 5, "at_risk_mean": -0.2,
 *                 "dormant_gaps": 10, "dormant_min_days": 30,
 *                 "strangers": false},
 *    "applied_window": 65536,
 *    "strangers_ttl_days": 90, "max_strangers": 0}
 *
 * Retention: a stranger (not a customer) with no recommendation, referral,
 * introduction or advocacy counted is "idle"; an idle stranger whose last
 * post is more than strangers_ttl_days before now is forgotten at a
 * commit (0 = never), and so are the idle strangers beyond the newest
 * max_strangers (oldest last post first; 0 = no cap). Customers and
 * strangers with acts are never forgotten.
 */
struct hark_relation_cfg {
    double sentiment_alpha;    /* weight of a new post in the EW baseline */
    double gap_alpha;          /* weight of a new gap in the EW gap */
    double value_clv;          /* a customer with clv >= this is valuable */
    double value_relationship; /* so is anyone whose total >= this */
    int64_t advocate_min_acts; /* recommendations + advocacy (+ referrals,
                                * introductions) that make an advocate */
    double advocate_min_mean;  /* ...with a sentiment mean at least this */
    double churn_k;            /* standard deviations below the mean */
    int64_t churn_min_posts;   /* scored posts before the baseline counts */
    double churn_min_drop;     /* mean - value at least this */
    double churn_max_value;    /* and the value at most this */
    double churn_sd_floor;     /* sd used is max(sd, floor) */
    struct hark_strv churn_tags;     /* cancel/switch intent */
    struct hark_strv complaint_tags; /* a complaint (churn from advocates) */
    int64_t at_risk_ms;        /* at_risk lasts this long after churn_risk */
    double silence_gaps;       /* silent for more than m x the usual gap */
    int64_t silence_min_posts;
    int64_t silence_min_ms;    /* and at least this long */
    int64_t segment_min_posts; /* fewer posts: "new" */
    double at_risk_mean;       /* sentiment mean at most this: at_risk */
    double dormant_gaps;       /* silent for more than this x gap: dormant */
    int64_t dormant_min_ms;    /* and at least this long */
    bool is_segment_strangers; /* segment_change for strangers without
                                * relational capital too */
    size_t applied_window;     /* event ids remembered for exactly-once */
    int64_t strangers_ttl_ms;  /* idle strangers silent this long are
                                * forgotten; 0 = never */
    size_t max_strangers;      /* idle strangers kept at most; 0 = no cap */
};

void hark_relation_cfg_init(struct hark_relation_cfg *cfg);
void hark_relation_cfg_cleanup(struct hark_relation_cfg *cfg);

/*
 * Reads the "relationship" config object (NULL = keep what `cfg` holds)
 * into an initialized `cfg`. Unknown keys and bad values are errors with
 * file:line:column. Success: *cfg holds the new settings. Failure:
 * HARK_EINVAL, *cfg unchanged, `diag` says why. Thread: any.
 */
HARK_MUST_CHECK hark_err_t hark_relation_cfg_parse(
    const struct hark_json_doc *doc, const struct hark_json *obj,
    struct hark_diag *diag, struct hark_relation_cfg *cfg);

/* One signal to publish on hark.signals. */
struct hark_signal {
    enum hark_signal_kind kind;
    char event_id[17];   /* 16 hex digits, stable across replays */
    char *key;           /* Kafka key: customer id, else platform:author id */
    char *payload;       /* the hark.signal/1 event, JSON, no newline */
    size_t payload_len;
    bool is_replay;      /* raised by an earlier run for this observation */
};

/* A growable list the caller owns (init/cleanup); _clear empties it. */
struct hark_signal_list {
    struct hark_signal *v;
    size_t n;
    size_t cap;
};

void hark_signal_list_init(struct hark_signal_list *list);
void hark_signal_list_clear(struct hark_signal_list *list);
void hark_signal_list_cleanup(struct hark_signal_list *list);

const char *hark_signal_kind_name(enum hark_signal_kind kind);
const char *hark_segment_name(enum hark_segment seg); /* NONE: "new" */

/* Counters for stats lines; read by the owner thread. */
struct hark_relation_stats {
    uint64_t observed;   /* observations applied */
    uint64_t replayed;   /* observations already applied (skipped) */
    uint64_t signals;    /* signals raised (not counting replays) */
    uint64_t commits;
    uint64_t commit_errors;
    size_t authors;      /* authors in memory */
    uint64_t evicted;    /* idle strangers forgotten (retention) */
    size_t idle_strangers; /* strangers without acts, in memory */
};

/* ---- create ---- */

/*
 * Opens (creating when missing) <state_dir>/relation.sqlite, takes its
 * exclusive lock, and loads every author's state into memory. `cfg` and
 * the relational weights of `score` (rv_*) are copied.
 *
 * Success: *out owned by the caller (hark_relation_free). Failure: *out is
 * NULL, HARK_EIO (cannot create the folder, not a database, corrupt,
 * locked by another process) or HARK_EINVAL, and `diag` holds one message
 * naming the file. Thread: the future owner.
 */
HARK_MUST_CHECK hark_err_t hark_relation_open(
    const char *state_dir, const struct hark_relation_cfg *cfg,
    const struct hark_score_cfg *score, struct hark_diag *diag,
    struct hark_relation **out);

/* Reload: copies new settings and weights; state is kept. */
void hark_relation_configure(struct hark_relation *rel,
                             const struct hark_relation_cfg *cfg,
                             const struct hark_score_cfg *score);

/* ---- use ---- */

/*
 * Applies one observed post (after the customer join, before scoring):
 * counts its relational acts (tags "signal:recommendation",
 * "signal:referral", "signal:advocacy", "signal:introduction"; a positive
 * sentiment or advocacy counts one positive mention), checks the author's
 * baselines (churn_risk) and updates them, derives the behaviour segment,
 * and appends the signals to raise to `out` (borrowed; entries owned by
 * the list). `event_id` is the post event's id (hark_event_id with
 * HARK_SCHEMA_POST): applied once; a repeat appends the first run's
 * signals, marked is_replay, and changes nothing. An edit (edited_at set)
 * counts only acts its earlier revision did not have and leaves the
 * baselines alone. Tombstones and posts without an author do nothing.
 * `now_ms` is emitted_at of the signals; the post's own created_at (else
 * now_ms) is its time for the baselines.
 *
 * Returns HARK_OK, or HARK_EIO when reading the store failed (a replay's
 * stored signals or an edit's earlier acts; the observation is then
 * applied as if new, and the error logged once).
 */
HARK_MUST_CHECK hark_err_t hark_relation_observe(
    struct hark_relation *rel, const struct hark_item *item,
    const char *event_id, int64_t now_ms, struct hark_signal_list *out);

/*
 * Writes the live state into the item: item->customer's counts become
 * the CRM file's plus those observed, item->relationship is monetary
 * (CLV) + Σ weight x live count, and item->behaviour_segment is set
 * (replaced). Call once per item (counts are added, not set), after
 * hark_relation_observe and before hark_score_item, which recomputes a
 * customer's relationship from the adjusted counts (the same value) but
 * sets a stranger's to 0: keep the stranger's relational value there.
 */
void hark_relation_adjust(struct hark_relation *rel, struct hark_item *item);

/*
 * The periodic check (say once a minute): a valuable customer or advocate
 * silent for more than silence.gaps x their usual gap raises `silence`
 * (once per silence), and an author silent for more than
 * segments.dormant_gaps x gap becomes dormant (segment_change). O(authors).
 * `rules_version` is copied into the events (may be NULL).
 */
void hark_relation_tick(struct hark_relation *rel, const char *rules_version,
                        int64_t now_ms, struct hark_signal_list *out);

/*
 * Writes every change since the last commit in one SQLite transaction.
 * Call before acknowledging (hark_ingest_ack) the posts observed since the
 * last commit, so a committed cursor never runs ahead of the state.
 * The same transaction forgets idle strangers past the retention
 * (strangers_ttl_days before the newest now_ms given to observe or tick,
 * and beyond max_strangers), at most a few thousand per commit; they
 * leave memory once it committed. Failure: HARK_EIO, nothing written or
 * forgotten, the changes stay pending (retry later), `errbuf` says why.
 */
HARK_MUST_CHECK hark_err_t hark_relation_commit(struct hark_relation *rel,
                                                char *errbuf,
                                                size_t errbuf_len);

/* True when there are changes not yet committed. */
bool hark_relation_is_dirty(const struct hark_relation *rel);

const struct hark_relation_stats *
hark_relation_stats_get(const struct hark_relation *rel);

/* ---- destroy ---- */

/* Closes the store without committing (pending changes are replayed). */
void hark_relation_free(struct hark_relation *rel);

#endif /* HARK_RELATION_H */
