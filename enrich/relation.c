/*
 * relation: relational capital, baselines, behaviour segments and the
 * signals they raise, per author, with exactly-once updates.
 *
 * Hot state is in memory: one open-addressing hash table of authors
 * (struct hark_rel_author, keyed by customer id or "platform:author id"),
 * and a set of the newest `applied_window` observation ids with a ring
 * that says which to forget next. An observation costs two hash lookups,
 * a scan of the item's tags and a few multiplications; nothing touches
 * SQLite on that path except the rare ones below. Changes pile up in
 * pending lists (dirty authors, new ids, the signals raised, per-post
 * acts, conversation deltas) and hark_relation_commit() writes them in
 * one transaction.
 *
 * Exactly once. Every observation is keyed by its post event_id (which
 * hashes platform, post id and revision, never the rules version or the
 * clock). Before anything changes, the id is looked up in the applied
 * set; a hit is a replay (kill -9 and refetch, or a duplicate): nothing
 * changes, and the signals that observation raised the first time are
 * returned again, byte for byte, from the pending list or the signals
 * table. So a recommendation is counted once, and a signal whose
 * observation was committed before the signal was delivered is not lost.
 * The applied ids are committed in the same transaction as the counts they
 * guard, so the two can never disagree. The set only needs to cover what
 * can be replayed: the posts past the committed cursors (bounded by the
 * in-flight budget) and the dedup window; applied_window is far above
 * both.
 *
 * Edits. An edit is a new revision, hence a new event_id. Acts are counted
 * per post (platform, id): the acts a post carried are stored, and an edit
 * counts only acts its earlier revisions did not have; it does not feed
 * the baselines again (it is the same post, not a new one).
 *
 * Customers and strangers. A stranger's state is keyed by platform:author
 * id. When that author later joins as a customer (a new CRM file), the
 * state moves to the customer id (once; the old row is deleted at the
 * next commit).
 *
 * Retention. Most strangers post once and never again; kept forever they
 * would grow the table (and memory) without bound. An "idle" stranger has
 * no recommendation, referral, introduction or advocacy counted (a
 * positive mention alone is not enough to be remembered). A commit
 * deletes, in its own transaction and after writing the batch, the idle
 * strangers whose last post is more than strangers_ttl_days before the
 * clock (the newest now_ms given to observe or tick), then the oldest
 * idle strangers beyond max_strangers, at most EVICT_PER_COMMIT of them
 * (a partial index on last_post_ms finds them); once the transaction
 * committed they leave memory too. n_idle counts the idle strangers in
 * memory, updated wherever an author's customer status or acts change.
 * Retention touches neither the applied ids nor the stored signals: a
 * replay of an observation of a forgotten stranger is still recognised
 * (and changes nothing); a new post makes them a new author.
 *
 * Elsewhere: the config object in relation_config.c, the serialization
 * of signal events in relation_signal.c, the pure baseline functions in
 * baseline.c, the SQLite file in relation_store.c (shared declarations
 * in relation_int.h).
 */
#include "hark/relation.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hark/idwin.h"
#include "hark/log.h"
#include "hark/score.h"
#include "relation_int.h"

#define SEP 0x1f
#define MIN_WINDOW HARK_REL_MIN_WINDOW
#define EVICT_PER_COMMIT 5000
#define PERSIST_ACTS                                                           \
    (HARK_ACT_RECOMMENDATION | HARK_ACT_REFERRAL | HARK_ACT_ADVOCACY |         \
     HARK_ACT_INTRODUCTION | HARK_ACT_CANCEL | HARK_ACT_COMPLAINT)

/* ---- the relation ------------------------------------------------------ */

/* Authors: open addressing, linear probing, power-of-two capacity. */
struct author_table {
    struct hark_rel_author **slots;
    size_t cap;
    size_t n;
};

/* Applied observation ids: a set plus a ring in arrival order. */
#define VEC(type)                                                              \
    struct {                                                                   \
        type *v;                                                               \
        size_t n, cap;                                                         \
    }

#define VEC_PUSH(vec, val)                                                     \
    do {                                                                       \
        if ((vec).n == (vec).cap) {                                            \
            (vec).cap = (vec).cap ? 2 * (vec).cap : 64;                        \
            (vec).v = hark_xrealloc((vec).v, (vec).cap * sizeof(*(vec).v));    \
        }                                                                      \
        (vec).v[(vec).n++] = (val);                                            \
    } while (0)

struct hark_relation {
    struct hark_relation_cfg cfg;
    double w[4]; /* rv_positive, rv_referral, rv_recommendation,
                  * rv_introduction */
    char *path;
    struct hark_rel_store *store;
    struct author_table authors;
    struct hark_idwin applied;
    /* pending until the next commit */
    VEC(struct hark_rel_author *) dirty;
    VEC(char *) deleted;
    VEC(uint64_t) new_ids;
    VEC(struct hark_rel_stored_signal) signals;
    VEC(struct hark_rel_post_acts) acts;
    VEC(struct hark_rel_conv_delta) convs;
    struct hark_relation_stats stats;
    struct hark_rel_author *last; /* the last observed, for adjust */
    bool has_logged_read_error;
    int64_t clock_ms;             /* newest now_ms seen (retention) */
    size_t n_idle;                /* idle strangers in memory */
    struct hark_strv evicted;     /* keys the running commit deleted */
};

/* A stranger with no act that makes them worth remembering. */
static bool is_idle(const struct hark_rel_author *a)
{
    return !a->is_customer && a->seen.referrals == 0 &&
           a->seen.recommendations == 0 && a->seen.introductions == 0 &&
           a->seen.advocacy == 0;
}

/* Accounts for a change of is_idle(a) from `was_idle`. */
static void track_idle(struct hark_relation *rel,
                       const struct hark_rel_author *a, bool was_idle)
{
    bool now_idle = is_idle(a);
    if (now_idle && !was_idle) {
        rel->n_idle++;
    } else if (!now_idle && was_idle) {
        hark_assert(rel->n_idle > 0);
        rel->n_idle--;
    }
    rel->stats.idle_strangers = rel->n_idle;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t str_hash(const char *s)
{
    return hark_hash64(s, strlen(s), HARK_HASH_SEED);
}

static struct hark_rel_author **table_slot(struct author_table *t,
                                           const char *key, uint64_t hash)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)mix64(hash) & mask;
    for (;;) {
        struct hark_rel_author *a = t->slots[i];
        if (!a || (a->hash == hash && strcmp(a->key, key) == 0)) {
            return &t->slots[i];
        }
        i = (i + 1) & mask;
    }
}

static void table_grow(struct author_table *t)
{
    struct author_table bigger = {
        .cap = t->cap ? 2 * t->cap : 1024,
        .n = t->n,
    };
    bigger.slots = hark_xcalloc(bigger.cap, sizeof(*bigger.slots));
    for (size_t i = 0; i < t->cap; i++) {
        struct hark_rel_author *a = t->slots[i];
        if (a) {
            *table_slot(&bigger, a->key, a->hash) = a;
        }
    }
    free(t->slots);
    *t = bigger;
}

static struct hark_rel_author *table_find(struct author_table *t,
                                          const char *key, uint64_t hash)
{
    if (t->cap == 0) {
        return NULL;
    }
    return *table_slot(t, key, hash);
}

/* Inserts `a` (its key must be new). */
static void table_insert(struct author_table *t, struct hark_rel_author *a)
{
    if ((t->n + 1) * 10 > t->cap * 7) {
        table_grow(t);
    }
    struct hark_rel_author **slot = table_slot(t, a->key, a->hash);
    hark_assert(!*slot);
    *slot = a;
    t->n++;
}

/* Removes `a` by backward-shift deletion (no tombstones). */
static void table_remove(struct author_table *t, struct hark_rel_author *a)
{
    size_t mask = t->cap - 1;
    struct hark_rel_author **slot = table_slot(t, a->key, a->hash);
    hark_assert(*slot == a);
    size_t i = (size_t)(slot - t->slots);
    t->slots[i] = NULL;
    t->n--;
    for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        size_t home = (size_t)mix64(t->slots[j]->hash) & mask;
        /* Move j back to i unless its home lies in (i, j]. */
        bool is_between = i <= j ? (home > i && home <= j)
                                 : (home > i || home <= j);
        if (!is_between) {
            t->slots[i] = t->slots[j];
            t->slots[j] = NULL;
            i = j;
        }
    }
}

static void on_loaded_id(void *opaque, uint64_t id)
{
    struct hark_relation *rel = opaque;
    if (id != 0 && !hark_idwin_has(&rel->applied, id)) {
        hark_idwin_add(&rel->applied, id);
    }
}

static void on_loaded_author(void *opaque, struct hark_rel_author *a)
{
    struct hark_relation *rel = opaque;
    a->hash = str_hash(a->key);
    if (table_find(&rel->authors, a->key, a->hash)) {
        hark_rel_author_free(a); /* cannot happen: key is the PK */
        return;
    }
    table_insert(&rel->authors, a);
    track_idle(rel, a, false);
}

void hark_rel_author_free(struct hark_rel_author *a)
{
    if (!a) {
        return;
    }
    free(a->key);
    free(a->platform);
    free(a->author_id);
    free(a->handle);
    free(a);
}

static void set_weights(struct hark_relation *rel,
                        const struct hark_score_cfg *score)
{
    if (score) {
        rel->w[0] = score->rv_positive;
        rel->w[1] = score->rv_referral;
        rel->w[2] = score->rv_recommendation;
        rel->w[3] = score->rv_introduction;
    } else {
        struct hark_score_cfg dflt;
        hark_score_cfg_init(&dflt);
        set_weights(rel, &dflt);
        hark_score_cfg_cleanup(&dflt);
    }
}

hark_err_t hark_relation_open(const char *state_dir,
                              const struct hark_relation_cfg *cfg,
                              const struct hark_score_cfg *score,
                              struct hark_diag *diag,
                              struct hark_relation **out)
{
    *out = NULL;
    char errbuf[768];
    const char *dir = state_dir && *state_dir ? state_dir : ".";
    if (hark_mkdirs(dir) != HARK_OK) {
        hark_diag_line(diag, HARK_DIAG_ERROR, dir, 0,
                       "cannot create the state folder: %s", strerror(errno));
        return HARK_EIO;
    }
    struct hark_relation *rel = hark_xcalloc(1, sizeof(*rel));
    hark_rel_cfg_copy(&rel->cfg, cfg);
    set_weights(rel, score);
    rel->path = hark_xasprintf("%s/%s", dir, HARK_RELATION_DB_NAME);
    hark_idwin_init(&rel->applied, cfg->applied_window >= MIN_WINDOW
                                    ? cfg->applied_window
                                    : MIN_WINDOW);
    table_grow(&rel->authors);
    if (hark_rel_store_open(rel->path, &rel->store, errbuf, sizeof(errbuf)) !=
            HARK_OK ||
        hark_rel_store_load_authors(rel->store, on_loaded_author, rel, errbuf,
                                    sizeof(errbuf)) != HARK_OK ||
        hark_rel_store_load_applied(rel->store, rel->applied.window,
                                    on_loaded_id, rel, errbuf,
                                    sizeof(errbuf)) != HARK_OK) {
        hark_diag_line(diag, HARK_DIAG_ERROR, NULL, 0,
                       "cannot open the relationship state: %s", errbuf);
        hark_relation_free(rel);
        return HARK_EIO;
    }
    rel->stats.authors = rel->authors.n;
    *out = rel;
    return HARK_OK;
}

void hark_relation_configure(struct hark_relation *rel,
                             const struct hark_relation_cfg *cfg,
                             const struct hark_score_cfg *score)
{
    /* The window is sized at open; a new one takes effect on restart. */
    size_t window = rel->cfg.applied_window;
    hark_relation_cfg_cleanup(&rel->cfg);
    hark_rel_cfg_copy(&rel->cfg, cfg);
    rel->cfg.applied_window = window;
    set_weights(rel, score);
}

static void clear_pending(struct hark_relation *rel)
{
    for (size_t i = 0; i < rel->dirty.n; i++) {
        rel->dirty.v[i]->is_dirty = false;
    }
    rel->dirty.n = 0;
    for (size_t i = 0; i < rel->deleted.n; i++) {
        free(rel->deleted.v[i]);
    }
    rel->deleted.n = 0;
    rel->new_ids.n = 0;
    for (size_t i = 0; i < rel->signals.n; i++) {
        free(rel->signals.v[i].key);
        free(rel->signals.v[i].payload);
    }
    rel->signals.n = 0;
    rel->acts.n = 0;
    for (size_t i = 0; i < rel->convs.n; i++) {
        free(rel->convs.v[i].platform);
        free(rel->convs.v[i].id);
        free(rel->convs.v[i].author_key);
    }
    rel->convs.n = 0;
}

void hark_relation_free(struct hark_relation *rel)
{
    if (!rel) {
        return;
    }
    clear_pending(rel);
    free(rel->dirty.v);
    free(rel->deleted.v);
    free(rel->new_ids.v);
    free(rel->signals.v);
    free(rel->acts.v);
    free(rel->convs.v);
    for (size_t i = 0; i < rel->authors.cap; i++) {
        hark_rel_author_free(rel->authors.slots[i]);
    }
    free(rel->authors.slots);
    hark_strv_cleanup(&rel->evicted);
    hark_idwin_cleanup(&rel->applied);
    hark_rel_store_close(rel->store);
    hark_relation_cfg_cleanup(&rel->cfg);
    free(rel->path);
    free(rel);
}

bool hark_relation_is_dirty(const struct hark_relation *rel)
{
    return rel->dirty.n || rel->deleted.n || rel->new_ids.n ||
           rel->signals.n || rel->acts.n || rel->convs.n;
}

const struct hark_relation_stats *
hark_relation_stats_get(const struct hark_relation *rel)
{
    return &rel->stats;
}

/* Drops the authors the committed transaction deleted from memory. */
static void forget_evicted(struct hark_relation *rel)
{
    for (size_t i = 0; i < rel->evicted.n; i++) {
        const char *key = rel->evicted.v[i];
        struct hark_rel_author *a =
            table_find(&rel->authors, key, str_hash(key));
        if (!a) {
            continue;
        }
        if (is_idle(a)) {
            hark_assert(rel->n_idle > 0);
            rel->n_idle--;
        }
        if (rel->last == a) {
            rel->last = NULL;
        }
        table_remove(&rel->authors, a);
        hark_rel_author_free(a);
        rel->stats.evicted++;
    }
    rel->stats.authors = rel->authors.n;
    rel->stats.idle_strangers = rel->n_idle;
    hark_strv_cleanup(&rel->evicted);
}

hark_err_t hark_relation_commit(struct hark_relation *rel, char *errbuf,
                                size_t errbuf_len)
{
    if (!hark_relation_is_dirty(rel)) {
        return HARK_OK;
    }
    int64_t ttl = rel->cfg.strangers_ttl_ms;
    size_t cap = rel->cfg.max_strangers;
    hark_strv_cleanup(&rel->evicted);
    struct hark_rel_batch b = {
        .evict_before_ms =
            ttl > 0 && rel->clock_ms > ttl ? rel->clock_ms - ttl : 0,
        .evict_excess = cap > 0 && rel->n_idle > cap ? rel->n_idle - cap : 0,
        .evict_limit = EVICT_PER_COMMIT,
        .evicted = &rel->evicted,
        .dirty = rel->dirty.v,
        .n_dirty = rel->dirty.n,
        .deleted_keys = rel->deleted.v,
        .n_deleted = rel->deleted.n,
        .applied = rel->new_ids.v,
        .n_applied = rel->new_ids.n,
        .signals = rel->signals.v,
        .n_signals = rel->signals.n,
        .acts = rel->acts.v,
        .n_acts = rel->acts.n,
        .convs = rel->convs.v,
        .n_convs = rel->convs.n,
    };
    hark_err_t err = hark_rel_store_commit(rel->store, &b, rel->applied.window,
                                           errbuf, errbuf_len);
    if (err != HARK_OK) {
        hark_strv_cleanup(&rel->evicted); /* rolled back: still there */
        rel->stats.commit_errors++;
        return err;
    }
    clear_pending(rel); /* first: evicted authors may be in `dirty` */
    forget_evicted(rel);
    rel->stats.commits++;
    return HARK_OK;
}

/* ---- keys and ids ------------------------------------------------------ */

static uint64_t hash_field(uint64_t h, const char *s, bool has_sep)
{
    if (has_sep) {
        unsigned char sep = SEP;
        h = hark_hash64(&sep, 1, h);
    }
    if (s && *s) {
        h = hark_hash64(s, strlen(s), h);
    }
    return h;
}

static void format_id(uint64_t h, char out[17])
{
    (void)snprintf(out, 17, "%016" PRIx64, h);
}

/* hash(platform, post id, revision, schema, kind): like hark_event_id. */
static void post_signal_id(const struct hark_post *post,
                           enum hark_signal_kind kind, char out[17])
{
    uint64_t h = HARK_HASH_SEED;
    h = hash_field(h, post->platform, false);
    h = hash_field(h, post->id, true);
    h = hash_field(h, hark_post_revision(post), true);
    h = hash_field(h, HARK_SCHEMA_SIGNAL, true);
    h = hash_field(h, hark_signal_kind_name(kind), true);
    format_id(h, out);
}

/* hash(schema, author key, kind, window): events about no single post. */
static void author_signal_id(const char *key, enum hark_signal_kind kind,
                             const char *window, char out[17])
{
    uint64_t h = HARK_HASH_SEED;
    h = hash_field(h, HARK_SCHEMA_SIGNAL, false);
    h = hash_field(h, key, true);
    h = hash_field(h, hark_signal_kind_name(kind), true);
    h = hash_field(h, window, true);
    format_id(h, out);
}

static uint64_t post_key(const struct hark_post *post)
{
    uint64_t h = hash_field(HARK_HASH_SEED, post->platform, false);
    h = hash_field(h, post->id, true);
    return h;
}

static const char *post_who(const struct hark_post *post)
{
    if (post->author.id && *post->author.id) {
        return post->author.id;
    }
    if (post->author.handle && *post->author.handle) {
        return post->author.handle;
    }
    return NULL;
}

/*
 * "platform:who" into `buf`, or into a new string when it does not fit
 * (free it with free_key). memcpy, not snprintf: this runs per post.
 */
static char *stranger_key(const struct hark_post *post, char *buf,
                          size_t buf_len)
{
    const char *who = post_who(post);
    const char *platform = post->platform ? post->platform : "";
    size_t p_len = strlen(platform);
    size_t w_len = who ? strlen(who) : 0;
    char *out = buf;
    if (p_len + 1 + w_len + 1 > buf_len) {
        out = hark_xmalloc(p_len + 1 + w_len + 1);
    }
    memcpy(out, platform, p_len);
    out[p_len] = ':';
    if (w_len) {
        memcpy(out + p_len + 1, who, w_len);
    }
    out[p_len + 1 + w_len] = '\0';
    return out;
}

static void free_key(char *key, const char *buf)
{
    if (key != buf) {
        free(key);
    }
}

static void mark_dirty(struct hark_relation *rel, struct hark_rel_author *a)
{
    if (!a->is_dirty) {
        a->is_dirty = true;
        VEC_PUSH(rel->dirty, a);
    }
}

static void replace_str(char **dst, const char *src)
{
    if (*dst == src || (*dst && src && strcmp(*dst, src) == 0)) {
        return;
    }
    free(*dst);
    *dst = hark_xstrdup(src);
}

static const char *item_key(const struct hark_item *item, char *buf,
                            size_t buf_len, char **owned)
{
    *owned = NULL;
    if (item->has_customer && item->customer.id) {
        return item->customer.id;
    }
    char *key = stranger_key(item->post, buf, buf_len);
    if (key != buf) {
        *owned = key;
    }
    return key;
}

static struct hark_rel_author *lookup(struct hark_relation *rel,
                                      const struct hark_item *item)
{
    char buf[256];
    char *owned;
    const char *key = item_key(item, buf, sizeof(buf), &owned);
    struct hark_rel_author *a = rel->last;
    if (!a || strcmp(a->key, key) != 0) {
        a = table_find(&rel->authors, key, str_hash(key));
    }
    free(owned);
    return a;
}

static void set_file_counts(struct hark_rel_author *a,
                            const struct hark_item *item, bool is_customer)
{
    a->is_customer = is_customer;
    if (!is_customer) {
        a->clv = 0;
        a->file_referrals = 0;
        a->file_recommendations = 0;
        a->file_introductions = 0;
        a->file_positive_mentions = 0;
        return;
    }
    const struct hark_customer_view *c = &item->customer;
    a->clv = c->clv;
    a->file_referrals = c->referrals;
    a->file_recommendations = c->recommendations;
    a->file_introductions = c->introductions;
    a->file_positive_mentions = c->positive_mentions;
}

/*
 * The author's state, created when new. A customer whose identity hark
 * knew as a stranger takes the stranger's state over.
 */
static struct hark_rel_author *get_author(struct hark_relation *rel,
                                          const struct hark_item *item)
{
    const struct hark_post *post = item->post;
    char buf[256];
    char *owned;
    const char *key = item_key(item, buf, sizeof(buf), &owned);
    bool is_customer = item->has_customer && item->customer.id;
    uint64_t hash = str_hash(key);
    struct hark_rel_author *a = table_find(&rel->authors, key, hash);
    bool was_idle = a && is_idle(a);
    if (!a && is_customer && post_who(post)) {
        char sbuf[256];
        char *skey = stranger_key(post, sbuf, sizeof(sbuf));
        a = table_find(&rel->authors, skey, str_hash(skey));
        free_key(skey, sbuf);
        if (a) {
            was_idle = is_idle(a);
            table_remove(&rel->authors, a);
            VEC_PUSH(rel->deleted, a->key);
            a->key = hark_xstrdup(key);
            a->hash = hash;
            table_insert(&rel->authors, a);
        }
    }
    if (!a) {
        a = hark_xcalloc(1, sizeof(*a));
        a->key = hark_xstrdup(key);
        a->hash = hash;
        table_insert(&rel->authors, a);
        rel->stats.authors = rel->authors.n;
    }
    free(owned);
    replace_str(&a->platform, post->platform);
    replace_str(&a->author_id, post->author.id);
    replace_str(&a->handle, post->author.handle);
    set_file_counts(a, item, is_customer);
    track_idle(rel, a, was_idle);
    rel->last = a;
    return a;
}

static bool in_strv(const struct hark_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++) {
        if (strcmp(sv->v[i], s) == 0) {
            return true;
        }
    }
    return false;
}

/* The acts a post carries, from its tags and sentiment. */
static unsigned item_acts(const struct hark_relation *rel,
                          const struct hark_item *item,
                          const char **cancel_tag,
                          const char **complaint_tag)
{
    unsigned acts = 0;
    for (size_t i = 0; i < item->tags.n; i++) {
        const char *t = item->tags.v[i];
        if (strncmp(t, "signal:", 7) == 0) {
            const char *s = t + 7;
            if (strcmp(s, "recommendation") == 0) {
                acts |= HARK_ACT_RECOMMENDATION;
            } else if (strcmp(s, "referral") == 0) {
                acts |= HARK_ACT_REFERRAL;
            } else if (strcmp(s, "advocacy") == 0) {
                acts |= HARK_ACT_ADVOCACY | HARK_ACT_POSITIVE;
            } else if (strcmp(s, "introduction") == 0) {
                acts |= HARK_ACT_INTRODUCTION;
            }
        }
        if (!(acts & HARK_ACT_CANCEL) && in_strv(&rel->cfg.churn_tags, t)) {
            acts |= HARK_ACT_CANCEL;
            *cancel_tag = t;
        }
        if (!(acts & HARK_ACT_COMPLAINT) &&
            in_strv(&rel->cfg.complaint_tags, t)) {
            acts |= HARK_ACT_COMPLAINT;
            *complaint_tag = t;
        }
    }
    if (item->sentiment.label == HARK_SENTIMENT_POSITIVE) {
        acts |= HARK_ACT_POSITIVE;
    }
    return acts;
}

static void count_acts(struct hark_rel_author *a, unsigned acts)
{
    struct hark_rel_counts *c = &a->seen;
    c->recommendations += (acts & HARK_ACT_RECOMMENDATION) ? 1 : 0;
    c->referrals += (acts & HARK_ACT_REFERRAL) ? 1 : 0;
    c->advocacy += (acts & HARK_ACT_ADVOCACY) ? 1 : 0;
    c->introductions += (acts & HARK_ACT_INTRODUCTION) ? 1 : 0;
    c->positive_mentions += (acts & HARK_ACT_POSITIVE) ? 1 : 0;
    c->cancels += (acts & HARK_ACT_CANCEL) ? 1 : 0;
    c->complaints += (acts & HARK_ACT_COMPLAINT) ? 1 : 0;
}

/* ---- signal events ----------------------------------------------------- */

/*
 * Serializes one hark.signal/1 event (relation_signal.c) and appends it to
 * `out` (and, for an observation, to the pending signals kept for
 * replays).
 */
static void raise_signal(struct hark_relation *rel,
                         const struct hark_rel_author *a,
                         const struct hark_item *item,
                         const char *rules_version, uint64_t obs,
                         const char event_id[17], const struct hark_rel_sig *d,
                         int64_t now_ms, struct hark_signal_list *out)
{
    struct hark_signal *sig = hark_rel_signal_push(out);
    hark_rel_signal_write(sig, a, item, rules_version, event_id, d, rel->w,
                          now_ms);
    size_t len = sig->payload_len;
    rel->stats.signals++;
    if (item) {
        struct hark_rel_stored_signal st = {
            .obs_id = obs,
            .kind = sig->kind,
            .key = hark_xstrdup(sig->key),
            .payload = hark_xstrndup(sig->payload, len),
            .payload_len = len,
        };
        memcpy(st.event_id, event_id, 17);
        VEC_PUSH(rel->signals, st);
    }
}

static void raise_post_signal(struct hark_relation *rel,
                              const struct hark_rel_author *a,
                              const struct hark_item *item, uint64_t obs,
                              const struct hark_rel_sig *d, int64_t now_ms,
                              struct hark_signal_list *out)
{
    char id[17];
    post_signal_id(item->post, d->kind, id);
    raise_signal(rel, a, item, item->rules_version, obs, id, d, now_ms, out);
}

/* ---- observe ----------------------------------------------------------- */

/* The signals a repeated observation raised the first time. */
static hark_err_t replay(struct hark_relation *rel, uint64_t obs,
                         struct hark_signal_list *out)
{
    rel->stats.replayed++;
    for (size_t i = 0; i < rel->signals.n; i++) {
        const struct hark_rel_stored_signal *st = &rel->signals.v[i];
        if (st->obs_id != obs) {
            continue;
        }
        struct hark_signal *sig = hark_rel_signal_push(out);
        sig->kind = st->kind;
        memcpy(sig->event_id, st->event_id, 17);
        sig->key = hark_xstrdup(st->key);
        sig->payload = hark_xstrndup(st->payload, st->payload_len);
        sig->payload_len = st->payload_len;
        sig->is_replay = true;
    }
    return hark_rel_store_signals(rel->store, obs, out);
}

/* The acts earlier revisions of this post were counted for. */
static hark_err_t earlier_acts(struct hark_relation *rel, uint64_t pkey,
                               unsigned *acts)
{
    unsigned pending = 0;
    for (size_t i = 0; i < rel->acts.n; i++) {
        if (rel->acts.v[i].post_key == pkey) {
            pending |= rel->acts.v[i].acts;
        }
    }
    hark_err_t err = hark_rel_store_post_acts(rel->store, pkey, acts);
    *acts |= pending;
    return err;
}

static int64_t post_time(const struct hark_post *post, int64_t now_ms)
{
    int64_t t = 0;
    if (post->created_at && hark_time_parse(post->created_at, &t) == HARK_OK &&
        t > 0) {
        return t;
    }
    return now_ms;
}

static bool should_signal_segment(const struct hark_relation *rel,
                                  const struct hark_rel_author *a,
                                  double relational)
{
    return a->is_customer || relational > 0 || rel->cfg.is_segment_strangers;
}

static void check_churn(const struct hark_relation *rel,
                        const struct hark_rel_author *a,
                        const struct hark_item *item,
                        unsigned fresh,
                        bool is_edit,
                        int64_t acts_before,
                        struct hark_rel_churn *ch)
{
    double relational = hark_rel_relational(a, rel->w);
    if (!hark_rel_is_valuable(a, &rel->cfg, relational)) {
        return;
    }
    const struct hark_sentiment *s = &item->sentiment;
    if (!is_edit && s->label != HARK_SENTIMENT_UNSCORED) {
        ch->is_sentiment =
            hark_baseline_sentiment_drop(&a->bl, &rel->cfg, s->score, &ch->dev);
    }
    ch->is_intent = (fresh & HARK_ACT_CANCEL) != 0;
    if ((fresh & HARK_ACT_COMPLAINT) &&
        acts_before >= rel->cfg.advocate_min_acts) {
        ch->is_advocate = true;
        ch->advocate_acts = acts_before;
    }
}

static void add_conversation(struct hark_relation *rel,
                             const struct hark_rel_author *a,
                             const struct hark_post *post, int64_t t)
{
    if (!post->conversation_id || !*post->conversation_id) {
        return;
    }
    struct hark_rel_conv_delta c = {
        .platform = hark_xstrdup(post->platform ? post->platform : ""),
        .id = hark_xstrdup(post->conversation_id),
        .author_key = hark_xstrdup(a->key),
        .is_customer = a->is_customer,
        .t_ms = t,
    };
    VEC_PUSH(rel->convs, c);
}

/*
 * The acts of this post not counted before: all of them for a first
 * revision; for an edit, those its earlier revisions did not carry (and
 * no positive mention, which went with the post). Records the post's acts
 * for later edits.
 */
static hark_err_t fresh_acts(struct hark_relation *rel,
                             const struct hark_post *post, unsigned acts,
                             int64_t now_ms, unsigned *fresh)
{
    hark_err_t err = HARK_OK;
    uint64_t pkey = post_key(post);
    *fresh = acts;
    if (post->edited_at) {
        unsigned before = 0;
        if (acts & PERSIST_ACTS) {
            err = earlier_acts(rel, pkey, &before);
        }
        *fresh &= ~(before | (unsigned)HARK_ACT_POSITIVE);
    }
    if (acts & PERSIST_ACTS) {
        struct hark_rel_post_acts pa = {pkey, acts & PERSIST_ACTS, now_ms};
        VEC_PUSH(rel->acts, pa);
    }
    return err;
}

static void update_baselines(const struct hark_relation *rel,
                             struct hark_rel_author *a,
                             const struct hark_item *item, int64_t t)
{
    hark_baseline_add_post(&a->bl, rel->cfg.gap_alpha, t);
    if (item->sentiment.label != HARK_SENTIMENT_UNSCORED) {
        hark_baseline_add_sentiment(&a->bl, rel->cfg.sentiment_alpha,
                                    item->sentiment.score);
    }
}

/* The signals of one observation, in a fixed order. */
static void raise_observed(struct hark_relation *rel,
                           const struct hark_rel_author *a,
                           const struct hark_item *item, uint64_t obs,
                           unsigned fresh, const struct hark_rel_churn *ch,
                           enum hark_segment from, int64_t now_ms,
                           struct hark_signal_list *out)
{
    static const struct {
        unsigned act;
        enum hark_signal_kind kind;
    } act_signals[] = {
        {HARK_ACT_RECOMMENDATION, HARK_SIGNAL_RECOMMENDATION},
        {HARK_ACT_REFERRAL | HARK_ACT_INTRODUCTION, HARK_SIGNAL_REFERRAL},
        {HARK_ACT_ADVOCACY, HARK_SIGNAL_ADVOCACY},
    };
    struct hark_rel_sig d = {.acts = fresh, .churn = ch};
    for (size_t i = 0; i < sizeof(act_signals) / sizeof(act_signals[0]);
         i++) {
        if (fresh & act_signals[i].act) {
            d.kind = act_signals[i].kind;
            raise_post_signal(rel, a, item, obs, &d, now_ms, out);
        }
    }
    if (ch->is_sentiment || ch->is_intent || ch->is_advocate) {
        d.kind = HARK_SIGNAL_CHURN_RISK;
        raise_post_signal(rel, a, item, obs, &d, now_ms, out);
    }
    if (from != a->segment && from != HARK_SEGMENT_NONE &&
        should_signal_segment(rel, a, hark_rel_relational(a, rel->w))) {
        d.kind = HARK_SIGNAL_SEGMENT_CHANGE;
        d.from = from;
        d.to = a->segment;
        raise_post_signal(rel, a, item, obs, &d, now_ms, out);
    }
}

/* The first failed read is logged; the result is passed on. */
static hark_err_t log_read_error(struct hark_relation *rel, hark_err_t err)
{
    if (err != HARK_OK && !rel->has_logged_read_error) {
        rel->has_logged_read_error = true;
        HARK_LOG_ERROR("relation", "reading %s failed; an edit's acts may "
                       "count again", rel->path);
    }
    return err;
}

hark_err_t hark_relation_observe(struct hark_relation *rel,
                                 const struct hark_item *item,
                                 const char *event_id, int64_t now_ms,
                                 struct hark_signal_list *out)
{
    hark_assert(rel && item && event_id && out);
    const struct hark_post *post = item->post;
    if (!post || post->is_deleted ||
        (!post_who(post) && !(item->has_customer && item->customer.id))) {
        return HARK_OK;
    }
    uint64_t obs = hark_idwin_key(event_id);
    if (hark_idwin_has(&rel->applied, obs)) {
        return replay(rel, obs, out);
    }
    hark_idwin_add(&rel->applied, obs);
    VEC_PUSH(rel->new_ids, obs);
    rel->stats.observed++;
    if (now_ms > rel->clock_ms) {
        rel->clock_ms = now_ms;
    }

    struct hark_rel_author *a = get_author(rel, item);
    struct hark_rel_churn ch = {0};
    unsigned acts = item_acts(rel, item, &ch.intent_tag, &ch.complaint_tag);
    unsigned fresh = 0;
    hark_err_t err = fresh_acts(rel, post, acts, now_ms, &fresh);
    bool is_edit = post->edited_at != NULL;
    int64_t t = post_time(post, now_ms);

    /* Churn is judged against the baseline before this post. */
    int64_t acts_before = hark_rel_advocacy_acts(a);
    bool was_idle = is_idle(a);
    count_acts(a, fresh);
    track_idle(rel, a, was_idle);
    check_churn(rel, a, item, fresh, is_edit, acts_before, &ch);
    if (!is_edit) {
        update_baselines(rel, a, item, t);
    }
    if ((ch.is_sentiment || ch.is_intent || ch.is_advocate) &&
        t > a->last_churn_ms) {
        a->last_churn_ms = t;
    }
    enum hark_segment from = a->segment;
    a->segment = hark_rel_segment(a, &rel->cfg, t);
    if (from != a->segment) {
        a->segment_since_ms = t;
    }
    raise_observed(rel, a, item, obs, fresh, &ch, from, now_ms, out);
    add_conversation(rel, a, post, t);
    mark_dirty(rel, a);
    return log_read_error(rel, err);
}

/* ---- adjust ------------------------------------------------------------ */

void hark_relation_adjust(struct hark_relation *rel, struct hark_item *item)
{
    hark_assert(rel && item);
    free(item->behaviour_segment);
    item->behaviour_segment = NULL;
    if (!item->post) {
        return;
    }
    struct hark_rel_author *a = lookup(rel, item);
    item->behaviour_segment =
        hark_xstrdup(hark_segment_name(a ? a->segment : HARK_SEGMENT_NONE));
    struct hark_relationship *r = &item->relationship;
    if (item->has_customer) {
        struct hark_customer_view *c = &item->customer;
        if (a) {
            c->referrals += a->seen.referrals;
            c->recommendations += a->seen.recommendations;
            c->introductions += a->seen.introductions;
            c->positive_mentions += a->seen.positive_mentions;
        }
        r->monetary = c->clv;
        r->relational = rel->w[0] * (double)c->positive_mentions +
                        rel->w[1] * (double)c->referrals +
                        rel->w[2] * (double)c->recommendations +
                        rel->w[3] * (double)c->introductions;
    } else {
        r->monetary = 0;
        r->relational = a ? hark_rel_relational(a, rel->w) : 0;
    }
    r->total = r->monetary + r->relational;
}

/* ---- tick -------------------------------------------------------------- */

static void tick_author(struct hark_relation *rel, struct hark_rel_author *a,
                        const char *rules_version, int64_t now_ms,
                        struct hark_signal_list *out)
{
    const struct hark_baseline *bl = &a->bl;
    if (bl->last_post_ms == 0) {
        return;
    }
    double relational = hark_rel_relational(a, rel->w);
    char window[32];
    (void)snprintf(window, sizeof(window), "%" PRId64, bl->last_post_ms);
    int64_t after = hark_rel_silence_after_ms(a, &rel->cfg);
    if (after > 0 && a->silence_for_ms != bl->last_post_ms &&
        now_ms - bl->last_post_ms > after &&
        hark_rel_is_valuable(a, &rel->cfg, relational)) {
        struct hark_rel_sig d = {
            .kind = HARK_SIGNAL_SILENCE,
            .silent_ms = now_ms - bl->last_post_ms,
            .gap_ms = bl->gap_mean_ms,
            .threshold_gaps = rel->cfg.silence_gaps,
            .last_post_ms = bl->last_post_ms,
        };
        char id[17];
        author_signal_id(a->key, d.kind, window, id);
        a->silence_for_ms = bl->last_post_ms;
        mark_dirty(rel, a);
        raise_signal(rel, a, NULL, rules_version, 0, id, &d, now_ms, out);
    }
    enum hark_segment to = hark_rel_segment(a, &rel->cfg, now_ms);
    if (to == a->segment || a->segment == HARK_SEGMENT_NONE) {
        return;
    }
    struct hark_rel_sig d = {
        .kind = HARK_SIGNAL_SEGMENT_CHANGE,
        .from = a->segment,
        .to = to,
    };
    a->segment = to;
    a->segment_since_ms = now_ms;
    mark_dirty(rel, a);
    if (should_signal_segment(rel, a, relational)) {
        char win[64];
        (void)snprintf(win, sizeof(win), "%s>%s@%s",
                       hark_segment_name(d.from), hark_segment_name(d.to),
                       window);
        char id[17];
        author_signal_id(a->key, d.kind, win, id);
        raise_signal(rel, a, NULL, rules_version, 0, id, &d, now_ms, out);
    }
}

void hark_relation_tick(struct hark_relation *rel, const char *rules_version,
                        int64_t now_ms, struct hark_signal_list *out)
{
    hark_assert(rel && out);
    if (now_ms > rel->clock_ms) {
        rel->clock_ms = now_ms;
    }
    for (size_t i = 0; i < rel->authors.cap; i++) {
        struct hark_rel_author *a = rel->authors.slots[i];
        if (a) {
            tick_author(rel, a, rules_version, now_ms, out);
        }
    }
}
