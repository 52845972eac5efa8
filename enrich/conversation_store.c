/*
 * conversation_store: the SQLite file of the conversation state,
 * <state_dir>/conversations.sqlite (schema version 1): opening and
 * locking it, loading the items and applied ids at open, and the commit
 * (pending items, applied ids, decisions, retention, window pruning) in
 * one transaction. The decisions themselves are in enrich/conversation.c.
 *
 *   items(author_key, platform, conv PK, id, seq, status, times,
 *         last_post_id)       the current item of each pair; the hot state.
 *                             Index items_activity on (status, last
 *                             activity) finds what retention deletes.
 *   applied(ord PK, obs_id)   the applied event ids
 *   decisions(obs_id, ord, kind, item fields)  what each observation
 *                             decided, returned again on a replay
 *   thread_roots(platform, post_id PK, root, post_ms)  the thread index:
 *                             the thread root of each reply whose
 *                             conversation_id was its parent (Mastodon).
 *                             Index thread_roots_time for retention.
 *                             Created at open in older files too (the
 *                             schema version stays 1: an older hark
 *                             ignores the table).
 *
 * WAL with locking_mode=EXCLUSIVE (a second hark on the same state_dir
 * fails at open) and synchronous=FULL, as enrich/relation_store.c: both
 * open and commit through enrich/sqlite_util.c.
 *
 * Thread: the owner of the struct hark_conv.
 */
#include "conversation_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "hark/log.h"
#include "sqlite_int.h"

#define SCHEMA_VERSION 1

/* An item's last activity; the same expression as the index, so that the
 * planner uses it (a unit test checks the plan). */
#define ACTIVITY "max(last_post_ms, answered_ms)"

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
    "CREATE TABLE IF NOT EXISTS items(author_key TEXT NOT NULL,"
    " platform TEXT NOT NULL, conv TEXT NOT NULL, id TEXT NOT NULL,"
    " seq INTEGER NOT NULL, status INTEGER NOT NULL,"
    " opened_ms INTEGER NOT NULL, first_unanswered_ms INTEGER NOT NULL,"
    " last_post_ms INTEGER NOT NULL, answered_ms INTEGER NOT NULL,"
    " last_post_id TEXT, PRIMARY KEY(author_key, platform, conv))"
    " WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS items_activity ON items(status, " ACTIVITY
    ");"
    "CREATE TABLE IF NOT EXISTS applied(ord INTEGER PRIMARY KEY,"
    " obs_id INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS decisions(obs_id INTEGER NOT NULL,"
    " ord INTEGER NOT NULL, kind INTEGER NOT NULL, item_id TEXT NOT NULL,"
    " author_key TEXT NOT NULL, platform TEXT NOT NULL, conv TEXT NOT NULL,"
    " seq INTEGER NOT NULL, status INTEGER NOT NULL,"
    " opened_ms INTEGER NOT NULL, first_unanswered_ms INTEGER NOT NULL,"
    " answered_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS decisions_obs ON decisions(obs_id);"
    "CREATE INDEX IF NOT EXISTS decisions_ord ON decisions(ord);"
    "CREATE TABLE IF NOT EXISTS thread_roots(platform TEXT NOT NULL,"
    " post_id TEXT NOT NULL, root TEXT NOT NULL, post_ms INTEGER NOT NULL,"
    " PRIMARY KEY(platform, post_id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS thread_roots_time ON thread_roots(post_ms);"
    "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', 1);";

/* Retention: the oldest items of one status last active before ?2. */
static const char retire_sql[] =
    "DELETE FROM items WHERE (author_key, platform, conv) IN (SELECT"
    " author_key, platform, conv FROM items WHERE status = ?1 AND " ACTIVITY
    " < ?2 ORDER BY " ACTIVITY " LIMIT ?3)"
    " RETURNING author_key, platform, conv";

/* Retention of the thread index: the oldest entries of posts before ?1. */
static const char retire_roots_sql[] =
    "DELETE FROM thread_roots WHERE (platform, post_id) IN (SELECT"
    " platform, post_id FROM thread_roots WHERE post_ms < ?1 ORDER BY"
    " post_ms LIMIT ?2) RETURNING platform, post_id";

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_STATIC);
}

static const char *col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

static enum hark_conv_status to_status(int64_t v)
{
    if (v < HARK_CONV_OPEN || v > HARK_CONV_REOPENED) {
        return HARK_CONV_OPEN;
    }
    return (enum hark_conv_status)v;
}

/* ---- open --------------------------------------------------------------- */

static bool prepare_all(struct hark_conv *conv)
{
    sqlite3 *db = conv->db;
    return hark_sqlite_prepare(
               db,
               "INSERT OR REPLACE INTO items(author_key, platform, conv,"
               " id, seq, status, opened_ms, first_unanswered_ms,"
               " last_post_ms, answered_ms, last_post_id) VALUES(?1, ?2,"
               " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
               &conv->upsert_item) &&
           hark_sqlite_prepare(
               db, "INSERT INTO applied(ord, obs_id) VALUES(?1, ?2)",
               &conv->insert_applied) &&
           hark_sqlite_prepare(
               db,
               "INSERT INTO decisions(obs_id, ord, kind, item_id,"
               " author_key, platform, conv, seq, status, opened_ms,"
               " first_unanswered_ms, answered_ms) VALUES(?1, ?2, ?3,"
               " ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
               &conv->insert_decision) &&
           hark_sqlite_prepare(
               db,
               "SELECT kind, item_id, author_key, platform, conv, seq,"
               " status, opened_ms, first_unanswered_ms, answered_ms"
               " FROM decisions WHERE obs_id = ?1 ORDER BY rowid",
               &conv->select_decisions) &&
           hark_sqlite_prepare(db, "DELETE FROM applied WHERE ord <= ?1",
                               &conv->prune_applied) &&
           hark_sqlite_prepare(db, "DELETE FROM decisions WHERE ord <= ?1",
                               &conv->prune_decisions) &&
           hark_sqlite_prepare(db, retire_sql, &conv->retire_items) &&
           hark_sqlite_prepare(
               db,
               "INSERT OR IGNORE INTO thread_roots(platform, post_id,"
               " root, post_ms) VALUES(?1, ?2, ?3, ?4)",
               &conv->insert_root) &&
           hark_sqlite_prepare(db,
                               "SELECT root, post_ms FROM thread_roots WHERE"
                               " platform = ?1 AND post_id = ?2",
                               &conv->select_root) &&
           hark_sqlite_prepare(db, retire_roots_sql, &conv->retire_roots);
}

static hark_err_t open_db(struct hark_conv *conv, char *errbuf,
                          size_t errbuf_len)
{
    if (hark_sqlite_open(conv->path, schema_sql, SCHEMA_VERSION,
                         "conversation", &conv->db, errbuf,
                         errbuf_len) != HARK_OK) {
        return HARK_EIO;
    }
    if (!prepare_all(conv)) {
        hark_sqlite_errmsg(errbuf, errbuf_len, conv->path,
                           "prepare statements", conv->db, "conversation");
        return HARK_EIO;
    }
    return HARK_OK;
}

static hark_err_t load_items(struct hark_conv *conv, char *errbuf,
                             size_t errbuf_len)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(conv->db,
                           "SELECT author_key, platform, conv, id, seq,"
                           " status, opened_ms, first_unanswered_ms,"
                           " last_post_ms, answered_ms, last_post_id FROM"
                           " items",
                           -1, &s, NULL) != SQLITE_OK) {
        hark_sqlite_errmsg(errbuf, errbuf_len, conv->path, "read items",
                           conv->db, "conversation");
        return HARK_EIO;
    }
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        bool is_new = false;
        struct hark_conv_entry *e = hark_conv_entry_get(
            conv, col_text(s, 1), col_text(s, 2), col_text(s, 0), &is_new);
        if (!is_new) {
            continue; /* cannot happen: the key is the primary key */
        }
        (void)snprintf(e->id, sizeof(e->id), "%s", col_text(s, 3));
        e->seq = (uint32_t)sqlite3_column_int64(s, 4);
        e->status = to_status(sqlite3_column_int64(s, 5));
        e->opened_ms = sqlite3_column_int64(s, 6);
        e->first_unanswered_ms = sqlite3_column_int64(s, 7);
        e->last_post_ms = sqlite3_column_int64(s, 8);
        e->answered_ms = sqlite3_column_int64(s, 9);
        if (sqlite3_column_type(s, 10) != SQLITE_NULL) {
            e->last_post_id = hark_xstrdup(col_text(s, 10));
        }
    }
    hark_err_t err = HARK_OK;
    if (rc != SQLITE_DONE) {
        hark_sqlite_errmsg(errbuf, errbuf_len, conv->path, "read items",
                           conv->db, "conversation");
        err = HARK_EIO;
    }
    sqlite3_finalize(s);
    return err;
}

/* The newest `window` applied ids, added oldest first. */
static hark_err_t load_applied(struct hark_conv *conv, char *errbuf,
                               size_t errbuf_len)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(conv->db,
                           "SELECT ord, obs_id FROM applied ORDER BY ord"
                           " DESC LIMIT ?1",
                           -1, &s, NULL) != SQLITE_OK) {
        hark_sqlite_errmsg(errbuf, errbuf_len, conv->path,
                           "read applied event ids", conv->db, "conversation");
        return HARK_EIO;
    }
    sqlite3_bind_int64(s, 1, (sqlite3_int64)conv->applied.window);
    uint64_t *ids = NULL;
    size_t n = 0;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t ord = sqlite3_column_int64(s, 0);
        if (ord >= conv->next_ord) {
            conv->next_ord = ord + 1;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            ids = hark_xrealloc(ids, cap * sizeof(*ids));
        }
        ids[n++] = (uint64_t)sqlite3_column_int64(s, 1);
    }
    hark_err_t err = HARK_OK;
    if (rc != SQLITE_DONE) {
        hark_sqlite_errmsg(errbuf, errbuf_len, conv->path,
                           "read applied event ids", conv->db, "conversation");
        err = HARK_EIO;
    }
    sqlite3_finalize(s);
    for (size_t i = n; err == HARK_OK && i-- > 0;) {
        if (ids[i] != 0 && !hark_idwin_has(&conv->applied, ids[i])) {
            hark_idwin_add(&conv->applied, ids[i]);
        }
    }
    free(ids);
    return err;
}

hark_err_t hark_conv_store_open(struct hark_conv *conv, char *errbuf,
                                size_t errbuf_len)
{
    if (open_db(conv, errbuf, errbuf_len) != HARK_OK ||
        load_items(conv, errbuf, errbuf_len) != HARK_OK ||
        load_applied(conv, errbuf, errbuf_len) != HARK_OK) {
        return HARK_EIO;
    }
    return HARK_OK;
}

void hark_conv_store_close(struct hark_conv *conv)
{
    sqlite3_finalize(conv->upsert_item);
    sqlite3_finalize(conv->insert_applied);
    sqlite3_finalize(conv->insert_decision);
    sqlite3_finalize(conv->select_decisions);
    sqlite3_finalize(conv->prune_applied);
    sqlite3_finalize(conv->prune_decisions);
    sqlite3_finalize(conv->retire_items);
    sqlite3_finalize(conv->insert_root);
    sqlite3_finalize(conv->select_root);
    sqlite3_finalize(conv->retire_roots);
    if (conv->db && sqlite3_close(conv->db) != SQLITE_OK) {
        HARK_LOG_ERROR("conversation", "close(\"%s\"): %s", conv->path,
                       sqlite3_errmsg(conv->db));
    }
    conv->db = NULL;
}

/* ---- replays ------------------------------------------------------------ */

hark_err_t hark_conv_store_decisions(struct hark_conv *conv, uint64_t obs,
                                     struct hark_conv_decisions *out)
{
    sqlite3_stmt *s = conv->select_decisions;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)obs);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct hark_conv_decision d = {
            .obs_id = obs,
            .kind = sqlite3_column_int(s, 0) == HARK_CONV_DEC_ITEM
                        ? HARK_CONV_DEC_ITEM
                        : HARK_CONV_DEC_ANSWER,
            .author_key = hark_xstrdup(col_text(s, 2)),
            .platform = hark_xstrdup(col_text(s, 3)),
            .conv_id = hark_xstrdup(col_text(s, 4)),
            .seq = (uint32_t)sqlite3_column_int64(s, 5),
            .status = to_status(sqlite3_column_int64(s, 6)),
            .opened_ms = sqlite3_column_int64(s, 7),
            .first_unanswered_ms = sqlite3_column_int64(s, 8),
            .answered_ms = sqlite3_column_int64(s, 9),
        };
        (void)snprintf(d.item_id, sizeof(d.item_id), "%s", col_text(s, 1));
        HARK_CONV_VEC_PUSH(*out, d);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        HARK_LOG_ERROR("conversation", "read stored decisions from %s: %s",
                       conv->path, sqlite3_errmsg(conv->db));
        return HARK_EIO;
    }
    return HARK_OK;
}

/* ---- thread index ------------------------------------------------------- */

hark_err_t hark_conv_store_root_get(struct hark_conv *conv,
                                    const char *platform, const char *post_id,
                                    char **root, int64_t *post_ms)
{
    *root = NULL;
    *post_ms = 0;
    sqlite3_stmt *s = conv->select_root;
    bind_text(s, 1, platform);
    bind_text(s, 2, post_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *root = hark_xstrdup(col_text(s, 0));
        *post_ms = sqlite3_column_int64(s, 1);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        HARK_LOG_ERROR("conversation", "read the thread index of %s: %s",
                       conv->path, sqlite3_errmsg(conv->db));
        free(*root);
        *root = NULL;
        return HARK_EIO;
    }
    return HARK_OK;
}

/* ---- commit ------------------------------------------------------------- */

static int write_item(struct hark_conv *conv, const struct hark_conv_entry *e)
{
    sqlite3_stmt *s = conv->upsert_item;
    bind_text(s, 1, e->author_key);
    bind_text(s, 2, e->thread->platform);
    bind_text(s, 3, e->thread->conv_id);
    bind_text(s, 4, e->id);
    sqlite3_bind_int64(s, 5, e->seq);
    sqlite3_bind_int(s, 6, (int)e->status);
    sqlite3_bind_int64(s, 7, e->opened_ms);
    sqlite3_bind_int64(s, 8, e->first_unanswered_ms);
    sqlite3_bind_int64(s, 9, e->last_post_ms);
    sqlite3_bind_int64(s, 10, e->answered_ms);
    if (e->last_post_id) {
        bind_text(s, 11, e->last_post_id);
    } else {
        sqlite3_bind_null(s, 11);
    }
    return hark_sqlite_run(s);
}

static int write_decision(struct hark_conv *conv,
                          const struct hark_conv_decision *d)
{
    sqlite3_stmt *s = conv->insert_decision;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)d->obs_id);
    sqlite3_bind_int64(s, 2, d->ord);
    sqlite3_bind_int(s, 3, (int)d->kind);
    bind_text(s, 4, d->item_id);
    bind_text(s, 5, d->author_key);
    bind_text(s, 6, d->platform);
    bind_text(s, 7, d->conv_id);
    sqlite3_bind_int64(s, 8, d->seq);
    sqlite3_bind_int(s, 9, (int)d->status);
    sqlite3_bind_int64(s, 10, d->opened_ms);
    sqlite3_bind_int64(s, 11, d->first_unanswered_ms);
    sqlite3_bind_int64(s, 12, d->answered_ms);
    return hark_sqlite_run(s);
}

/*
 * Deletes up to *budget items of `status` last active before `before_ms`,
 * oldest first, appending their keys to conv->retired.
 */
static int retire(struct hark_conv *conv, enum hark_conv_status status,
                  int64_t before_ms, size_t *budget)
{
    if (before_ms <= 0 || *budget == 0) {
        return SQLITE_DONE;
    }
    sqlite3_stmt *s = conv->retire_items;
    sqlite3_bind_int(s, 1, (int)status);
    sqlite3_bind_int64(s, 2, before_ms);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)*budget);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct hark_conv_row_key k = {
            .author_key = hark_xstrdup(col_text(s, 0)),
            .platform = hark_xstrdup(col_text(s, 1)),
            .conv_id = hark_xstrdup(col_text(s, 2)),
        };
        HARK_CONV_VEC_PUSH(conv->retired, k);
        if (*budget > 0) {
            (*budget)--;
        }
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

static int write_root(struct hark_conv *conv, const struct hark_conv_root *r)
{
    sqlite3_stmt *s = conv->insert_root;
    sqlite3_bind_text(s, 1, r->key, (int)r->platform_len, SQLITE_STATIC);
    bind_text(s, 2, r->key + r->platform_len + 1);
    bind_text(s, 3, r->root);
    sqlite3_bind_int64(s, 4, r->post_ms);
    return hark_sqlite_run(s);
}

/* Deletes up to `limit` thread index entries of posts before `before_ms`,
 * oldest first, appending their keys to conv->retired_roots. */
static int retire_roots(struct hark_conv *conv, int64_t before_ms,
                        size_t limit)
{
    if (before_ms <= 0 || limit == 0) {
        return SQLITE_DONE;
    }
    sqlite3_stmt *s = conv->retire_roots;
    sqlite3_bind_int64(s, 1, before_ms);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char *key = hark_xasprintf("%s%c%s", col_text(s, 0),
                                   HARK_CONV_KEY_SEP, col_text(s, 1));
        HARK_CONV_VEC_PUSH(conv->retired_roots, key);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

/* Writes the pending changes inside the open transaction; NULL or what
 * failed. */
static const char *write_pending(struct hark_conv *conv,
                                 const struct hark_conv_retention *ret)
{
    for (size_t i = 0; i < conv->dirty.n; i++) {
        if (write_item(conv, conv->dirty.v[i]) != SQLITE_DONE) {
            return "write items";
        }
    }
    /* After the items: a row just written is seen as it is now. */
    size_t budget = ret->limit;
    if (retire(conv, HARK_CONV_ANSWERED, ret->answered_before_ms, &budget) !=
            SQLITE_DONE ||
        retire(conv, HARK_CONV_OPEN, ret->waiting_before_ms, &budget) !=
            SQLITE_DONE ||
        retire(conv, HARK_CONV_REOPENED, ret->waiting_before_ms, &budget) !=
            SQLITE_DONE) {
        return "delete old items";
    }
    for (size_t i = 0; i < conv->dirty_roots.n; i++) {
        if (write_root(conv, conv->dirty_roots.v[i]) != SQLITE_DONE) {
            return "write the thread index";
        }
    }
    if (retire_roots(conv, ret->roots_before_ms, ret->limit) != SQLITE_DONE) {
        return "delete old thread index entries";
    }
    for (size_t i = 0; i < conv->new_ids.n; i++) {
        sqlite3_stmt *s = conv->insert_applied;
        sqlite3_bind_int64(s, 1, conv->new_ids.v[i].ord);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)conv->new_ids.v[i].obs_id);
        if (hark_sqlite_run(s) != SQLITE_DONE) {
            return "write applied event ids";
        }
    }
    for (size_t i = 0; i < conv->decisions.n; i++) {
        if (write_decision(conv, &conv->decisions.v[i]) != SQLITE_DONE) {
            return "write decisions";
        }
    }
    /* Keep the rows of the newest `window` ordinals, as the set does. */
    int64_t last = conv->next_ord - 1;
    int64_t drop_to = last - (int64_t)conv->applied.window;
    if (conv->new_ids.n > 0 && drop_to > 0) {
        sqlite3_bind_int64(conv->prune_applied, 1, drop_to);
        sqlite3_bind_int64(conv->prune_decisions, 1, drop_to);
        if (hark_sqlite_run(conv->prune_applied) != SQLITE_DONE ||
            hark_sqlite_run(conv->prune_decisions) != SQLITE_DONE) {
            return "forget old event ids";
        }
    }
    return NULL;
}

struct commit_args {
    struct hark_conv *conv;
    const struct hark_conv_retention *ret;
};

static const char *write_commit(void *opaque)
{
    const struct commit_args *c = opaque;
    return write_pending(c->conv, c->ret);
}

hark_err_t hark_conv_store_commit(struct hark_conv *conv,
                                  const struct hark_conv_retention *ret,
                                  char *errbuf, size_t errbuf_len)
{
    struct commit_args c = {conv, ret};
    return hark_sqlite_commit(conv->db, conv->path, "conversation",
                              write_commit, &c, errbuf, errbuf_len);
}
