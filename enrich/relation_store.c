/*
 * relation_store: the relationship state in one SQLite file.
 *
 * The file is opened in WAL mode with locking_mode=EXCLUSIVE: the first
 * transaction takes the lock and the process keeps it until it closes, so
 * a second hark on the same state_dir fails at open ("locked by another
 * process") instead of interleaving its updates with ours. synchronous is
 * FULL: a commit is durable before the cursors it covers are committed,
 * also across a power loss.
 *
 * Tables (schema version 1):
 *
 *   authors(key PK, identity, CRM counts, live counts, baselines,
 *           segment, ...)    one row per author; the hot state. A
 *                            partial index on last_post_ms of the idle
 *                            strangers (no customer, no acts) finds the
 *                            ones retention forgets without a scan.
 *   baselines                a view over authors' baseline columns.
 *   applied(seq PK, n, ids)  the event ids applied, one row per commit,
 *                            ids packed as n little-endian 64-bit words;
 *                            only the newest `applied_window` are kept.
 *   signals(obs_id, seq, ...) the signals each observation raised, kept
 *                            as long as its applied batch, so a replay
 *                            raises them again with the same event ids.
 *   post_acts(post_key PK, acts, seen_ms)  acts counted per post, so an
 *                            edit does not count them twice; kept 30
 *                            days.
 *   conversations(platform, id PK, ...)  posts per conversation; a row
 *                            goes 90 days after its conversation's
 *                            last post (CONV_KEEP_MS).
 *
 * One row per commit for applied ids instead of one per post keeps the
 * write cost of a batch at one B-tree insert plus one upsert per author
 * that changed, whatever the number of posts.
 */
#include "relation_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hark/log.h"
#include "sqlite_int.h"

#define SCHEMA_VERSION 1
#define ACTS_KEEP_MS ((int64_t)30 * 86400000)
/* Conversation rows outlive their last post by this much (see below). */
#define CONV_KEEP_MS ((int64_t)90 * 86400000)

struct batch_info {
    int64_t seq;
    size_t n;
};

struct hark_rel_store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *upsert_author;
    sqlite3_stmt *delete_author;
    sqlite3_stmt *insert_applied;
    sqlite3_stmt *insert_signal;
    sqlite3_stmt *select_signals;
    sqlite3_stmt *upsert_acts;
    sqlite3_stmt *select_acts;
    sqlite3_stmt *upsert_conv;
    sqlite3_stmt *evict_idle;
    /* the applied batches kept, oldest first */
    struct batch_info *batches;
    size_t n_batches;
    size_t cap_batches;
    size_t n_ids; /* sum of batches[].n */
    int64_t next_seq;
};

/* An idle stranger; the same terms as the partial index, so that the
 * planner uses it. */
#define IDLE_STRANGER                                                          \
    "is_customer = 0 AND referrals = 0 AND recommendations = 0 AND"            \
    " introductions = 0 AND advocacy = 0"

static const char evict_idle_sql[] =
    "DELETE FROM authors WHERE key IN (SELECT key FROM authors WHERE "
    IDLE_STRANGER " AND last_post_ms < ?1 ORDER BY last_post_ms LIMIT ?2)"
    " RETURNING key";

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
    "CREATE TABLE IF NOT EXISTS authors("
    " key TEXT PRIMARY KEY, platform TEXT, author_id TEXT, handle TEXT,"
    " is_customer INTEGER NOT NULL DEFAULT 0, clv REAL NOT NULL DEFAULT 0,"
    " file_referrals INTEGER, file_recommendations INTEGER,"
    " file_introductions INTEGER, file_positive_mentions INTEGER,"
    " referrals INTEGER, recommendations INTEGER, introductions INTEGER,"
    " positive_mentions INTEGER, advocacy INTEGER, complaints INTEGER,"
    " cancels INTEGER,"
    " n_posts INTEGER, n_scored INTEGER, sent_mean REAL, sent_var REAL,"
    " n_gaps INTEGER, gap_mean_ms REAL, first_post_ms INTEGER,"
    " last_post_ms INTEGER,"
    " segment INTEGER, segment_since_ms INTEGER, last_churn_ms INTEGER,"
    " silence_for_ms INTEGER) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS authors_idle_strangers ON"
    " authors(last_post_ms) WHERE " IDLE_STRANGER ";"
    "CREATE VIEW IF NOT EXISTS baselines AS SELECT key, n_posts, n_scored,"
    " sent_mean, sent_var, n_gaps, gap_mean_ms, first_post_ms,"
    " last_post_ms FROM authors;"
    "CREATE TABLE IF NOT EXISTS applied(seq INTEGER PRIMARY KEY,"
    " n INTEGER NOT NULL, ids BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS signals(obs_id INTEGER NOT NULL,"
    " seq INTEGER NOT NULL, kind INTEGER NOT NULL, event_id TEXT NOT NULL,"
    " key TEXT, payload TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS signals_obs ON signals(obs_id);"
    "CREATE INDEX IF NOT EXISTS signals_seq ON signals(seq);"
    "CREATE TABLE IF NOT EXISTS post_acts(post_key INTEGER PRIMARY KEY,"
    " acts INTEGER NOT NULL, seen_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS post_acts_seen ON post_acts(seen_ms);"
    "CREATE TABLE IF NOT EXISTS conversations(platform TEXT NOT NULL,"
    " id TEXT NOT NULL, first_author TEXT, last_author TEXT,"
    " n_posts INTEGER NOT NULL, n_customer_posts INTEGER NOT NULL,"
    " first_post_ms INTEGER, last_post_ms INTEGER,"
    " PRIMARY KEY(platform, id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS conversations_last"
    " ON conversations(last_post_ms);"
    "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', 1);";

static const char upsert_author_sql[] =
    "INSERT OR REPLACE INTO authors(key, platform, author_id, handle,"
    " is_customer, clv, file_referrals, file_recommendations,"
    " file_introductions, file_positive_mentions, referrals,"
    " recommendations, introductions, positive_mentions, advocacy,"
    " complaints, cancels, n_posts, n_scored, sent_mean, sent_var, n_gaps,"
    " gap_mean_ms, first_post_ms, last_post_ms, segment, segment_since_ms,"
    " last_churn_ms, silence_for_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
    " ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22,"
    " ?23, ?24, ?25, ?26, ?27, ?28, ?29)";

static const char select_authors_sql[] =
    "SELECT key, platform, author_id, handle, is_customer, clv,"
    " file_referrals, file_recommendations, file_introductions,"
    " file_positive_mentions, referrals, recommendations, introductions,"
    " positive_mentions, advocacy, complaints, cancels, n_posts, n_scored,"
    " sent_mean, sent_var, n_gaps, gap_mean_ms, first_post_ms,"
    " last_post_ms, segment, segment_since_ms, last_churn_ms,"
    " silence_for_ms FROM authors";

static const char upsert_conv_sql[] =
    "INSERT INTO conversations(platform, id, first_author, last_author,"
    " n_posts, n_customer_posts, first_post_ms, last_post_ms)"
    " VALUES(?1, ?2, ?3, ?3, 1, ?4, ?5, ?5)"
    " ON CONFLICT(platform, id) DO UPDATE SET"
    " last_author = CASE WHEN excluded.last_post_ms >= last_post_ms"
    "   THEN excluded.last_author ELSE last_author END,"
    " n_posts = n_posts + 1,"
    " n_customer_posts = n_customer_posts + excluded.n_customer_posts,"
    " first_post_ms = min(first_post_ms, excluded.first_post_ms),"
    " last_post_ms = max(last_post_ms, excluded.last_post_ms)";

static void push_batch(struct hark_rel_store *st, int64_t seq, size_t n)
{
    if (st->n_batches == st->cap_batches) {
        st->cap_batches = st->cap_batches ? 2 * st->cap_batches : 64;
        st->batches = hark_xrealloc(st->batches,
                                    st->cap_batches * sizeof(*st->batches));
    }
    st->batches[st->n_batches].seq = seq;
    st->batches[st->n_batches].n = n;
    st->n_batches++;
    st->n_ids += n;
    if (seq >= st->next_seq) {
        st->next_seq = seq + 1;
    }
}

hark_err_t hark_rel_store_open(const char *path, struct hark_rel_store **out,
                               char *errbuf, size_t errbuf_len)
{
    *out = NULL;
    struct hark_rel_store *st = hark_xcalloc(1, sizeof(*st));
    st->path = hark_xstrdup(path);
    st->next_seq = 1;
    if (hark_sqlite_open(path, schema_sql, SCHEMA_VERSION, "relationship",
                         &st->db, errbuf, errbuf_len) != HARK_OK) {
        hark_rel_store_close(st);
        return HARK_EIO;
    }
    sqlite3 *db = st->db;
    if (!hark_sqlite_prepare(db, upsert_author_sql, &st->upsert_author) ||
        !hark_sqlite_prepare(db, "DELETE FROM authors WHERE key = ?1",
                             &st->delete_author) ||
        !hark_sqlite_prepare(db,
                             "INSERT INTO applied(seq, n, ids) VALUES(?1, ?2,"
                             " ?3)",
                             &st->insert_applied) ||
        !hark_sqlite_prepare(db,
                             "INSERT INTO signals(obs_id, seq, kind, "
                             "event_id, key, payload) VALUES(?1, ?2, ?3, ?4,"
                             " ?5, ?6)",
                             &st->insert_signal) ||
        !hark_sqlite_prepare(db,
                             "SELECT kind, event_id, key, payload FROM "
                             "signals WHERE obs_id = ?1 ORDER BY rowid",
                             &st->select_signals) ||
        !hark_sqlite_prepare(db,
                             "INSERT INTO post_acts(post_key, acts, seen_ms)"
                             " VALUES(?1, ?2, ?3) ON CONFLICT(post_key) DO "
                             "UPDATE SET acts = acts | excluded.acts, "
                             "seen_ms = excluded.seen_ms",
                             &st->upsert_acts) ||
        !hark_sqlite_prepare(db,
                             "SELECT acts FROM post_acts WHERE post_key = ?1",
                             &st->select_acts) ||
        !hark_sqlite_prepare(db, upsert_conv_sql, &st->upsert_conv) ||
        !hark_sqlite_prepare(db, evict_idle_sql, &st->evict_idle)) {
        hark_sqlite_errmsg(errbuf, errbuf_len, path, "prepare statements", db,
                           "relationship");
        hark_rel_store_close(st);
        return HARK_EIO;
    }
    *out = st;
    return HARK_OK;
}

void hark_rel_store_close(struct hark_rel_store *st)
{
    if (!st) {
        return;
    }
    sqlite3_finalize(st->upsert_author);
    sqlite3_finalize(st->delete_author);
    sqlite3_finalize(st->insert_applied);
    sqlite3_finalize(st->insert_signal);
    sqlite3_finalize(st->select_signals);
    sqlite3_finalize(st->upsert_acts);
    sqlite3_finalize(st->select_acts);
    sqlite3_finalize(st->upsert_conv);
    sqlite3_finalize(st->evict_idle);
    if (st->db && sqlite3_close(st->db) != SQLITE_OK) {
        HARK_LOG_ERROR("relation", "close(\"%s\"): %s", st->path,
                       sqlite3_errmsg(st->db));
    }
    free(st->batches);
    free(st->path);
    free(st);
}

static char *col_str(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? hark_xstrdup((const char *)t) : NULL;
}

static enum hark_segment to_segment(int64_t v)
{
    if (v < HARK_SEGMENT_NONE || v > HARK_SEGMENT_DORMANT) {
        return HARK_SEGMENT_NONE;
    }
    return (enum hark_segment)v;
}

static struct hark_rel_author *read_author(sqlite3_stmt *s)
{
    struct hark_rel_author *a = hark_xcalloc(1, sizeof(*a));
    int i = 0;
    a->key = col_str(s, i++);
    a->platform = col_str(s, i++);
    a->author_id = col_str(s, i++);
    a->handle = col_str(s, i++);
    a->is_customer = sqlite3_column_int64(s, i++) != 0;
    a->clv = sqlite3_column_double(s, i++);
    a->file_referrals = sqlite3_column_int64(s, i++);
    a->file_recommendations = sqlite3_column_int64(s, i++);
    a->file_introductions = sqlite3_column_int64(s, i++);
    a->file_positive_mentions = sqlite3_column_int64(s, i++);
    a->seen.referrals = sqlite3_column_int64(s, i++);
    a->seen.recommendations = sqlite3_column_int64(s, i++);
    a->seen.introductions = sqlite3_column_int64(s, i++);
    a->seen.positive_mentions = sqlite3_column_int64(s, i++);
    a->seen.advocacy = sqlite3_column_int64(s, i++);
    a->seen.complaints = sqlite3_column_int64(s, i++);
    a->seen.cancels = sqlite3_column_int64(s, i++);
    a->bl.n_posts = sqlite3_column_int64(s, i++);
    a->bl.n_scored = sqlite3_column_int64(s, i++);
    a->bl.sent_mean = sqlite3_column_double(s, i++);
    a->bl.sent_var = sqlite3_column_double(s, i++);
    a->bl.n_gaps = sqlite3_column_int64(s, i++);
    a->bl.gap_mean_ms = sqlite3_column_double(s, i++);
    a->bl.first_post_ms = sqlite3_column_int64(s, i++);
    a->bl.last_post_ms = sqlite3_column_int64(s, i++);
    a->segment = to_segment(sqlite3_column_int64(s, i++));
    a->segment_since_ms = sqlite3_column_int64(s, i++);
    a->last_churn_ms = sqlite3_column_int64(s, i++);
    a->silence_for_ms = sqlite3_column_int64(s, i++);
    return a;
}

hark_err_t hark_rel_store_load_authors(struct hark_rel_store *st,
                                       hark_rel_author_fn fn, void *opaque,
                                       char *errbuf, size_t errbuf_len)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, select_authors_sql, -1, &s, NULL) !=
        SQLITE_OK) {
        hark_sqlite_errmsg(errbuf, errbuf_len, st->path, "read authors", st->db,
                           "relationship");
        return HARK_EIO;
    }
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
            continue;
        }
        fn(opaque, read_author(s));
    }
    hark_err_t err = HARK_OK;
    if (rc != SQLITE_DONE) {
        hark_sqlite_errmsg(errbuf, errbuf_len, st->path, "read authors", st->db,
                           "relationship");
        err = HARK_EIO;
    }
    sqlite3_finalize(s);
    return err;
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

/*
 * Reads batches newest first until `window` ids are covered, then hands
 * the ids out oldest first (so the caller's eviction order is right).
 */
hark_err_t hark_rel_store_load_applied(struct hark_rel_store *st,
                                       size_t window, hark_rel_applied_fn fn,
                                       void *opaque, char *errbuf,
                                       size_t errbuf_len)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT seq, n, ids FROM applied ORDER BY seq DESC",
                           -1, &s, NULL) != SQLITE_OK) {
        hark_sqlite_errmsg(errbuf, errbuf_len, st->path,
                           "read applied event ids", st->db, "relationship");
        return HARK_EIO;
    }
    struct {
        int64_t seq;
        size_t n;
        unsigned char *ids;
    } *rows = NULL;
    size_t n_rows = 0;
    size_t cap = 0;
    size_t total = 0;
    int rc;
    while (total < window && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(s, 0);
        const unsigned char *blob = sqlite3_column_blob(s, 2);
        size_t len = (size_t)sqlite3_column_bytes(s, 2);
        size_t n = len / 8;
        if (n_rows == cap) {
            cap = cap ? 2 * cap : 64;
            rows = hark_xrealloc(rows, cap * sizeof(*rows));
        }
        rows[n_rows].seq = seq;
        rows[n_rows].n = n;
        rows[n_rows].ids = hark_xmalloc(len ? len : 1);
        if (len) {
            memcpy(rows[n_rows].ids, blob, len);
        }
        n_rows++;
        total += n;
    }
    if (total >= window) {
        rc = SQLITE_DONE;
    }
    /* The batches table may hold more than `window` (a smaller window
     * after a config change): the next commit prunes them. */
    hark_err_t err = HARK_OK;
    if (rc != SQLITE_DONE) {
        hark_sqlite_errmsg(errbuf, errbuf_len, st->path,
                           "read applied event ids", st->db, "relationship");
        err = HARK_EIO;
    }
    sqlite3_finalize(s);
    for (size_t r = n_rows; r-- > 0;) {
        if (err == HARK_OK) {
            push_batch(st, rows[r].seq, rows[r].n);
            for (size_t i = 0; i < rows[r].n; i++) {
                fn(opaque, get_le64(rows[r].ids + 8 * i));
            }
        }
        free(rows[r].ids);
    }
    free(rows);
    /* Keep seq increasing past batches not loaded. */
    sqlite3_stmt *m = NULL;
    if (err == HARK_OK &&
        sqlite3_prepare_v2(st->db, "SELECT max(seq) FROM applied", -1, &m,
                           NULL) == SQLITE_OK) {
        if (sqlite3_step(m) == SQLITE_ROW &&
            sqlite3_column_int64(m, 0) >= st->next_seq) {
            st->next_seq = sqlite3_column_int64(m, 0) + 1;
        }
    }
    sqlite3_finalize(m);
    return err;
}

hark_err_t hark_rel_store_signals(struct hark_rel_store *st, uint64_t obs_id,
                                  struct hark_signal_list *out)
{
    sqlite3_stmt *s = st->select_signals;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)obs_id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (out->n == out->cap) {
            out->cap = out->cap ? 2 * out->cap : 4;
            out->v = hark_xrealloc(out->v, out->cap * sizeof(*out->v));
        }
        struct hark_signal *sig = &out->v[out->n++];
        memset(sig, 0, sizeof(*sig));
        int64_t kind = sqlite3_column_int64(s, 0);
        sig->kind = kind >= 0 && kind < HARK_SIGNAL_COUNT_
                        ? (enum hark_signal_kind)kind
                        : HARK_SIGNAL_CHURN_RISK;
        const unsigned char *id = sqlite3_column_text(s, 1);
        (void)snprintf(sig->event_id, sizeof(sig->event_id), "%s",
                 id ? (const char *)id : "");
        sig->key = col_str(s, 2);
        sig->payload = col_str(s, 3);
        sig->payload_len = sig->payload ? strlen(sig->payload) : 0;
        if (!sig->payload) {
            sig->payload = hark_xstrdup("");
        }
        sig->is_replay = true;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        HARK_LOG_ERROR("relation", "read stored signals from %s: %s",
                       st->path, sqlite3_errmsg(st->db));
        return HARK_EIO;
    }
    return HARK_OK;
}

hark_err_t hark_rel_store_post_acts(struct hark_rel_store *st,
                                    uint64_t post_key, unsigned *acts)
{
    *acts = 0;
    sqlite3_stmt *s = st->select_acts;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)post_key);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *acts = (unsigned)sqlite3_column_int64(s, 0);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        HARK_LOG_ERROR("relation", "read post acts from %s: %s", st->path,
                       sqlite3_errmsg(st->db));
        return HARK_EIO;
    }
    return HARK_OK;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v) {
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(s, i);
    }
}

static int write_author(struct hark_rel_store *st,
                        const struct hark_rel_author *a)
{
    sqlite3_stmt *s = st->upsert_author;
    int i = 1;
    bind_text(s, i++, a->key);
    bind_text(s, i++, a->platform);
    bind_text(s, i++, a->author_id);
    bind_text(s, i++, a->handle);
    sqlite3_bind_int(s, i++, a->is_customer ? 1 : 0);
    sqlite3_bind_double(s, i++, a->clv);
    sqlite3_bind_int64(s, i++, a->file_referrals);
    sqlite3_bind_int64(s, i++, a->file_recommendations);
    sqlite3_bind_int64(s, i++, a->file_introductions);
    sqlite3_bind_int64(s, i++, a->file_positive_mentions);
    sqlite3_bind_int64(s, i++, a->seen.referrals);
    sqlite3_bind_int64(s, i++, a->seen.recommendations);
    sqlite3_bind_int64(s, i++, a->seen.introductions);
    sqlite3_bind_int64(s, i++, a->seen.positive_mentions);
    sqlite3_bind_int64(s, i++, a->seen.advocacy);
    sqlite3_bind_int64(s, i++, a->seen.complaints);
    sqlite3_bind_int64(s, i++, a->seen.cancels);
    sqlite3_bind_int64(s, i++, a->bl.n_posts);
    sqlite3_bind_int64(s, i++, a->bl.n_scored);
    sqlite3_bind_double(s, i++, a->bl.sent_mean);
    sqlite3_bind_double(s, i++, a->bl.sent_var);
    sqlite3_bind_int64(s, i++, a->bl.n_gaps);
    sqlite3_bind_double(s, i++, a->bl.gap_mean_ms);
    sqlite3_bind_int64(s, i++, a->bl.first_post_ms);
    sqlite3_bind_int64(s, i++, a->bl.last_post_ms);
    sqlite3_bind_int(s, i++, (int)a->segment);
    sqlite3_bind_int64(s, i++, a->segment_since_ms);
    sqlite3_bind_int64(s, i++, a->last_churn_ms);
    sqlite3_bind_int64(s, i++, a->silence_for_ms);
    return hark_sqlite_run(s);
}

static int write_applied(struct hark_rel_store *st, int64_t seq,
                         const uint64_t *ids, size_t n)
{
    unsigned char *blob = hark_xmalloc(n * 8);
    for (size_t i = 0; i < n; i++) {
        put_le64(blob + 8 * i, ids[i]);
    }
    sqlite3_stmt *s = st->insert_applied;
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)n);
    sqlite3_bind_blob(s, 3, blob, (int)(n * 8), SQLITE_STATIC);
    int rc = hark_sqlite_run(s);
    free(blob);
    return rc;
}

static int write_signal(struct hark_rel_store *st, int64_t seq,
                        const struct hark_rel_stored_signal *sig)
{
    sqlite3_stmt *s = st->insert_signal;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)sig->obs_id);
    sqlite3_bind_int64(s, 2, seq);
    sqlite3_bind_int(s, 3, (int)sig->kind);
    bind_text(s, 4, sig->event_id);
    bind_text(s, 5, sig->key);
    sqlite3_bind_text(s, 6, sig->payload, (int)sig->payload_len,
                      SQLITE_STATIC);
    return hark_sqlite_run(s);
}

static int write_acts(struct hark_rel_store *st,
                      const struct hark_rel_post_acts *pa)
{
    sqlite3_stmt *s = st->upsert_acts;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)pa->post_key);
    sqlite3_bind_int64(s, 2, pa->acts);
    sqlite3_bind_int64(s, 3, pa->seen_ms);
    return hark_sqlite_run(s);
}

static int write_conv(struct hark_rel_store *st,
                      const struct hark_rel_conv_delta *c)
{
    sqlite3_stmt *s = st->upsert_conv;
    bind_text(s, 1, c->platform);
    bind_text(s, 2, c->id);
    bind_text(s, 3, c->author_key);
    sqlite3_bind_int(s, 4, c->is_customer ? 1 : 0);
    sqlite3_bind_int64(s, 5, c->t_ms);
    return hark_sqlite_run(s);
}

/* How many of the oldest batches fall outside `window` once `n_new` more
 * ids are added. */
static size_t batches_to_drop(const struct hark_rel_store *st, size_t n_new,
                              size_t window)
{
    size_t total = st->n_ids + n_new;
    size_t k = 0;
    while (k < st->n_batches && total - st->batches[k].n >= window) {
        total -= st->batches[k].n;
        k++;
    }
    return k;
}

/* DELETE FROM table WHERE column < before; SQLITE_DONE on success. */
static int delete_before(struct hark_rel_store *st, const char *table,
                         const char *column, int64_t before)
{
    char sql[128];
    (void)snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE %s < %" PRId64,
                   table, column, before);
    return hark_sqlite_exec(st->db, sql) == SQLITE_OK ? SQLITE_DONE
                                                      : SQLITE_ERROR;
}

static int prune(struct hark_rel_store *st, size_t k)
{
    if (k == 0) {
        return SQLITE_DONE;
    }
    int64_t keep_from = k < st->n_batches ? st->batches[k].seq : st->next_seq;
    if (delete_before(st, "applied", "seq", keep_from) != SQLITE_DONE) {
        return SQLITE_ERROR;
    }
    return delete_before(st, "signals", "seq", keep_from);
}

/*
 * Edits come within hours or days of the post; acts older than
 * ACTS_KEEP_MS before the newest in the batch are forgotten.
 */
static int prune_acts(struct hark_rel_store *st, const struct hark_rel_batch *b)
{
    int64_t newest = 0;
    for (size_t i = 0; i < b->n_acts; i++) {
        if (b->acts[i].seen_ms > newest) {
            newest = b->acts[i].seen_ms;
        }
    }
    return delete_before(st, "post_acts", "seen_ms", newest - ACTS_KEEP_MS);
}

/*
 * Conversations whose last post is CONV_KEEP_MS older than the newest post
 * of the batch are forgotten (through conversations_last): without it the
 * table grows by one row per thread ever seen.
 */
static int prune_convs(struct hark_rel_store *st,
                       const struct hark_rel_batch *b)
{
    int64_t newest = 0;
    for (size_t i = 0; i < b->n_convs; i++) {
        if (b->convs[i].t_ms > newest) {
            newest = b->convs[i].t_ms;
        }
    }
    return delete_before(st, "conversations", "last_post_ms",
                         newest - CONV_KEEP_MS);
}

/*
 * Deletes up to `limit` idle strangers last seen before `before_ms`,
 * oldest first, appending their keys to `out`. *n counts them.
 */
static int evict_idle(struct hark_rel_store *st, int64_t before_ms,
                      size_t limit, struct hark_strv *out, size_t *n)
{
    sqlite3_stmt *s = st->evict_idle;
    sqlite3_bind_int64(s, 1, before_ms);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const unsigned char *key = sqlite3_column_text(s, 0);
        if (key) {
            hark_strv_add(out, (const char *)key,
                          (size_t)sqlite3_column_bytes(s, 0));
            (*n)++;
        }
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

/* Retention, after the authors of the batch are written. */
static int evict(struct hark_rel_store *st, const struct hark_rel_batch *b)
{
    size_t n = 0;
    if (!b->evicted || b->evict_limit == 0) {
        return SQLITE_DONE;
    }
    if (b->evict_before_ms > 0 &&
        evict_idle(st, b->evict_before_ms, b->evict_limit, b->evicted, &n) !=
            SQLITE_DONE) {
        return SQLITE_ERROR;
    }
    if (b->evict_excess > n && b->evict_limit > n) {
        size_t more = b->evict_excess - n;
        if (more > b->evict_limit - n) {
            more = b->evict_limit - n;
        }
        if (evict_idle(st, INT64_MAX, more, b->evicted, &n) != SQLITE_DONE) {
            return SQLITE_ERROR;
        }
    }
    return SQLITE_DONE;
}

/* Writes the batch inside the open transaction; NULL or what failed. */
static const char *write_batch(struct hark_rel_store *st,
                               const struct hark_rel_batch *b, int64_t seq,
                               size_t drop)
{
    for (size_t i = 0; i < b->n_deleted; i++) {
        bind_text(st->delete_author, 1, b->deleted_keys[i]);
        if (hark_sqlite_run(st->delete_author) != SQLITE_DONE) {
            return "delete moved authors";
        }
    }
    for (size_t i = 0; i < b->n_dirty; i++) {
        if (write_author(st, b->dirty[i]) != SQLITE_DONE) {
            return "write authors";
        }
    }
    if (evict(st, b) != SQLITE_DONE) {
        return "forget idle strangers";
    }
    if (b->n_applied > 0 &&
        write_applied(st, seq, b->applied, b->n_applied) != SQLITE_DONE) {
        return "write applied event ids";
    }
    for (size_t i = 0; i < b->n_signals; i++) {
        if (write_signal(st, seq, &b->signals[i]) != SQLITE_DONE) {
            return "write signals";
        }
    }
    for (size_t i = 0; i < b->n_acts; i++) {
        if (write_acts(st, &b->acts[i]) != SQLITE_DONE) {
            return "write post acts";
        }
    }
    if (b->n_acts > 0 && prune_acts(st, b) != SQLITE_DONE) {
        return "forget old post acts";
    }
    for (size_t i = 0; i < b->n_convs; i++) {
        if (write_conv(st, &b->convs[i]) != SQLITE_DONE) {
            return "write conversations";
        }
    }
    if (b->n_convs > 0 && prune_convs(st, b) != SQLITE_DONE) {
        return "forget old conversations";
    }
    if (prune(st, drop) != SQLITE_DONE) {
        return "forget old event ids";
    }
    return NULL;
}

struct commit_args {
    struct hark_rel_store *st;
    const struct hark_rel_batch *b;
    int64_t seq;
    size_t drop;
};

static const char *write_commit(void *opaque)
{
    const struct commit_args *c = opaque;
    return write_batch(c->st, c->b, c->seq, c->drop);
}

hark_err_t hark_rel_store_commit(struct hark_rel_store *st,
                                 const struct hark_rel_batch *b,
                                 size_t window, char *errbuf,
                                 size_t errbuf_len)
{
    int64_t seq = st->next_seq;
    size_t drop = batches_to_drop(st, b->n_applied, window);
    struct commit_args c = {st, b, seq, drop};
    if (hark_sqlite_commit(st->db, st->path, "relationship", write_commit, &c,
                           errbuf, errbuf_len) != HARK_OK) {
        return HARK_EIO;
    }
    /* Committed: account for the new batch and the dropped ones. */
    for (size_t i = 0; i < drop; i++) {
        st->n_ids -= st->batches[i].n;
    }
    if (drop > 0) {
        memmove(st->batches, st->batches + drop,
                (st->n_batches - drop) * sizeof(*st->batches));
        st->n_batches -= drop;
    }
    if (b->n_applied > 0) {
        push_batch(st, seq, b->n_applied);
    }
    return HARK_OK;
}
