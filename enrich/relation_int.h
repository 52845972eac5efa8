/*
 * relation_int: what enrich/relation.c, relation_config.c,
 * relation_signal.c, baseline.c and relation_store.c share, and what their
 * unit tests reach. Not a public contract.
 *
 * Thread: the owner of the struct hark_relation.
 */
#ifndef HARK_RELATION_INT_H
#define HARK_RELATION_INT_H

#include <sqlite3.h>

#include "hark/relation.h"

/* Acts a post can carry; also the bits stored per post for edits. */
enum {
    HARK_ACT_RECOMMENDATION = 1u << 0,
    HARK_ACT_REFERRAL = 1u << 1,
    HARK_ACT_ADVOCACY = 1u << 2,
    HARK_ACT_INTRODUCTION = 1u << 3,
    HARK_ACT_POSITIVE = 1u << 4,
    HARK_ACT_CANCEL = 1u << 5,
    HARK_ACT_COMPLAINT = 1u << 6
};

/* Behaviour baselines of one author. */
struct hark_baseline {
    int64_t n_posts;      /* posts that fed the baseline (edits excluded) */
    int64_t n_scored;     /* of which with a scored sentiment */
    double sent_mean;     /* EW mean of the compound */
    double sent_var;      /* EW variance of the compound */
    int64_t n_gaps;       /* gaps that fed gap_mean_ms */
    double gap_mean_ms;   /* EW mean gap between posts */
    int64_t first_post_ms;
    int64_t last_post_ms; /* 0 = none yet */
};

/* Live counts (observed by hark, on top of the CRM file's). */
struct hark_rel_counts {
    int64_t referrals, recommendations, introductions, positive_mentions;
    int64_t advocacy, complaints, cancels;
};

struct hark_rel_author {
    char *key;         /* customer id, or platform:author id */
    uint64_t hash;
    char *platform;    /* identity for signals raised by tick() */
    char *author_id;
    char *handle;
    bool is_customer;
    double clv;
    /* the CRM file's counts, as of the last post joined */
    int64_t file_referrals, file_recommendations, file_introductions,
        file_positive_mentions;
    struct hark_rel_counts seen;
    struct hark_baseline bl;
    enum hark_segment segment;
    int64_t segment_since_ms;
    int64_t last_churn_ms;  /* post time of the last churn_risk, 0 = none */
    int64_t silence_for_ms; /* last_post_ms of the silence signalled */
    bool is_dirty;
};

/* A churn_risk check on the sentiment baseline. */
struct hark_deviation {
    double value, mean, sd, z, drop;
    int64_t n_prior;
};

/* ---- baseline.c: pure functions over one author ---- */

/* EW update; the first 1/alpha samples use 1/n (a plain running mean). */
void hark_baseline_add_sentiment(struct hark_baseline *bl, double alpha,
                                 double x);
/* Counts a post at `t_ms`; a post older than the last leaves the gap. */
void hark_baseline_add_post(struct hark_baseline *bl, double gap_alpha,
                            int64_t t_ms);
/*
 * True when `x` is below the prior baseline by more than churn_k sd (sd
 * floored), by at least churn_min_drop, is at most churn_max_value, and
 * the baseline has churn_min_posts scored posts. *dev is always filled.
 */
bool hark_baseline_sentiment_drop(const struct hark_baseline *bl,
                                  const struct hark_relation_cfg *cfg,
                                  double x, struct hark_deviation *dev);
/* Recommendations + advocacy + referrals + introductions, file + seen. */
int64_t hark_rel_advocacy_acts(const struct hark_rel_author *a);
/* Σ weight x live count. `w` = rv_positive, rv_referral,
 * rv_recommendation, rv_introduction. */
double hark_rel_relational(const struct hark_rel_author *a, const double w[4]);
bool hark_rel_is_valuable(const struct hark_rel_author *a,
                          const struct hark_relation_cfg *cfg,
                          double relational);
/* The segment from the baselines at `now_ms` (dormant only when silent). */
enum hark_segment hark_rel_segment(const struct hark_rel_author *a,
                                   const struct hark_relation_cfg *cfg,
                                   int64_t now_ms);
/* Silence threshold in ms (0 = not eligible: too few posts or gaps). */
int64_t hark_rel_silence_after_ms(const struct hark_rel_author *a,
                                  const struct hark_relation_cfg *cfg);

/* ---- relation_config.c ---- */

#define HARK_REL_MIN_WINDOW 1024 /* applied_window at least */

/* Deep copy into `to` (not initialized: its old contents are not freed). */
void hark_rel_cfg_copy(struct hark_relation_cfg *to,
                       const struct hark_relation_cfg *from);

/* ---- relation_signal.c: signal events ---- */

/* Why a churn_risk was raised. */
struct hark_rel_churn {
    bool is_sentiment, is_intent, is_advocate;
    struct hark_deviation dev;
    const char *intent_tag;
    const char *complaint_tag;
    int64_t advocate_acts;
};

/* What a signal says beyond its kind. */
struct hark_rel_sig {
    enum hark_signal_kind kind;
    unsigned acts;       /* advocacy / referral / recommendation */
    const struct hark_rel_churn *churn;
    int64_t silent_ms;   /* silence */
    double gap_ms;
    double threshold_gaps;
    int64_t last_post_ms;
    enum hark_segment from, to; /* segment_change */
};

/* Appends a zeroed signal to `list` (owned by the list). */
struct hark_signal *hark_rel_signal_push(struct hark_signal_list *list);

/*
 * Fills `sig` (kind, event_id, key, payload: new strings it owns) with the
 * hark.signal/1 event `d` about `a`; `item` is the post that raised it
 * (NULL for tick signals), `w` the relational weights (rv_positive,
 * rv_referral, rv_recommendation, rv_introduction), `now_ms` the
 * emitted_at (0 = none).
 */
void hark_rel_signal_write(struct hark_signal *sig,
                           const struct hark_rel_author *a,
                           const struct hark_item *item,
                           const char *rules_version, const char event_id[17],
                           const struct hark_rel_sig *d, const double w[4],
                           int64_t now_ms);

/* ---- relation_store.c: the SQLite file ---- */

struct hark_rel_store;

/* A signal kept so that a replay of its observation raises it again. */
struct hark_rel_stored_signal {
    uint64_t obs_id;
    enum hark_signal_kind kind;
    char event_id[17];
    char *key;
    char *payload;
    size_t payload_len;
};

struct hark_rel_post_acts {
    uint64_t post_key;
    unsigned acts;
    int64_t seen_ms;
};

struct hark_rel_conv_delta {
    char *platform;
    char *id;
    char *author_key;
    bool is_customer;
    int64_t t_ms;
};

/* Everything one commit writes; the store does not take ownership. */
struct hark_rel_batch {
    /* retention: idle strangers (no customer, no recommendation, referral,
     * introduction or advocacy) last seen before evict_before_ms are
     * deleted (0 = none), then the `evict_excess` oldest of the rest, at
     * most `evict_limit` in all; their keys are appended to `evicted` */
    int64_t evict_before_ms;
    size_t evict_excess;
    size_t evict_limit;
    struct hark_strv *evicted; /* out; NULL when nothing is evicted */
    struct hark_rel_author **dirty;
    size_t n_dirty;
    char **deleted_keys;
    size_t n_deleted;
    const uint64_t *applied;
    size_t n_applied;
    const struct hark_rel_stored_signal *signals;
    size_t n_signals;
    const struct hark_rel_post_acts *acts;
    size_t n_acts;
    const struct hark_rel_conv_delta *convs;
    size_t n_convs;
};

typedef void (*hark_rel_author_fn)(void *opaque, struct hark_rel_author *a);
typedef void (*hark_rel_applied_fn)(void *opaque, uint64_t id);

/*
 * Opens or creates `path`, locks it (exclusive), creates the schema.
 * Failure: NULL *out and errbuf says why ("path: file is not a database").
 */
HARK_MUST_CHECK hark_err_t hark_rel_store_open(const char *path,
                                               struct hark_rel_store **out,
                                               char *errbuf,
                                               size_t errbuf_len);
/* Calls `fn` with every stored author (each a new object `fn` takes). */
HARK_MUST_CHECK hark_err_t hark_rel_store_load_authors(
    struct hark_rel_store *st, hark_rel_author_fn fn, void *opaque,
    char *errbuf, size_t errbuf_len);
/* Calls `fn` with the newest `window` applied ids, oldest first. */
HARK_MUST_CHECK hark_err_t hark_rel_store_load_applied(
    struct hark_rel_store *st, size_t window, hark_rel_applied_fn fn,
    void *opaque, char *errbuf, size_t errbuf_len);
/* Appends the stored signals of observation `obs_id` to `out`. */
HARK_MUST_CHECK hark_err_t hark_rel_store_signals(
    struct hark_rel_store *st, uint64_t obs_id, struct hark_signal_list *out);
/* The acts stored for a post (0 when none). */
HARK_MUST_CHECK hark_err_t hark_rel_store_post_acts(struct hark_rel_store *st,
                                                    uint64_t post_key,
                                                    unsigned *acts);
/*
 * Writes `batch` in one transaction, then deletes the idle strangers it
 * asks for (seeing the authors just written), and forgets applied ids
 * (and their signals) beyond the newest `window`. Failure: rolled back;
 * batch->evicted may hold keys that were not deleted (discard them).
 */
HARK_MUST_CHECK hark_err_t hark_rel_store_commit(
    struct hark_rel_store *st, const struct hark_rel_batch *batch,
    size_t window, char *errbuf, size_t errbuf_len);
void hark_rel_store_close(struct hark_rel_store *st);

void hark_rel_author_free(struct hark_rel_author *a);

#endif /* HARK_RELATION_INT_H */
