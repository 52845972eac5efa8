/*
 * conversation: engagement items per (author key, conversation), brand
 * answers, reopening, and the SLA start, with exactly-once decisions.
 *
 * Hot state is in memory: one open-addressing hash table of threads (one
 * per platform + conversation id), each with a short list of entries, one
 * per author key that has an item there (the pair's current item). A brand
 * reply touches every entry of its thread; an author's post scans the
 * thread's entries for its key (conversations have few authors).
 *
 * Exactly once. Every observation is keyed by its post event_id. Before
 * anything changes, the id is looked up in the applied set (the newest
 * applied_window ids, a hash set plus a ring in arrival order); a hit is
 * a replay (kill -9 and refetch, or a duplicate): nothing changes, and the
 * decisions recorded the first time (the post's item, the items a brand
 * reply answered) come back from the pending list or the decisions table.
 * The applied ids and decisions are committed in the same transaction as
 * the items they changed, so they can never disagree. An observation not
 * yet committed when the process dies is not in the file, so its replay
 * decides again from the same committed state, the same way.
 *
 * Every applied id gets an ordinal (`ord`, increasing across runs); the
 * file keeps the rows of the newest applied_window ordinals, so the set in
 * memory and the rows on disk cover the same ids.
 *
 * Storage (<state_dir>/conversations.sqlite, schema version 1):
 *
 *   items(author_key, platform, conv PK, id, seq, status, times,
 *         last_post_id)       the current item of each pair; the hot state
 *   applied(ord PK, obs_id)   the applied event ids
 *   decisions(obs_id, ord, kind, item fields)  what each observation
 *                             decided, returned again on a replay
 *
 * WAL with locking_mode=EXCLUSIVE (a second hark on the same state_dir
 * fails at open) and synchronous=FULL, as enrich/relation_store.c.
 */
#include "hark/conversation.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "hark/idwin.h"
#include "hark/log.h"
#include "sqlite_int.h"

#define SEP 0x1f
#define SCHEMA_VERSION 1
#define MIN_WINDOW 64
#define MAX_WINDOW 100000000

/* ---- names and config --------------------------------------------------- */

const char *hark_conv_status_name(enum hark_conv_status status)
{
    switch (status) {
    case HARK_CONV_NONE:
        return "none";
    case HARK_CONV_OPEN:
        return "open";
    case HARK_CONV_ANSWERED:
        return "answered";
    case HARK_CONV_REOPENED:
        return "reopened";
    }
    return "none";
}

void hark_conv_cfg_init(struct hark_conv_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->group_window_ms = 86400000;
    cfg->reopen_ms = 7LL * 86400000;
    cfg->applied_window = 65536;
}

void hark_conv_cfg_cleanup(struct hark_conv_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
}

static const struct hark_cfgmap conv_map[] = {
    {"group_window_s", HARK_JSON_NUMBER, false, NULL},
    {"reopen_days", HARK_JSON_NUMBER, false, NULL},
    {"applied_window", HARK_JSON_INTEGER, false, NULL},
    {NULL, 0, false, NULL},
};

/* A number in (0, hi]; `unit_ms` converts it. */
static hark_err_t parse_duration(const struct hark_json_doc *doc,
                                 const struct hark_json *obj, const char *key,
                                 double hi, double unit_ms,
                                 struct hark_diag *diag, int64_t *out)
{
    const struct hark_json *v = hark_json_get(obj, key);
    if (!v || !(v->type & HARK_JSON_NUMBER)) {
        return HARK_OK; /* missing, or a type error the map reported */
    }
    if (!isfinite(v->d) || v->d <= 0 || v->d > hi) {
        hark_json_error(doc, diag, v->offset,
                        "conversations.%s must be greater than 0 and at "
                        "most %g, not %g",
                        key, hi, v->d);
        return HARK_EINVAL;
    }
    *out = (int64_t)llround(v->d * unit_ms);
    if (*out < 1) {
        *out = 1;
    }
    return HARK_OK;
}

hark_err_t hark_conv_cfg_parse(const struct hark_json_doc *doc,
                               const struct hark_json *obj,
                               struct hark_diag *diag,
                               struct hark_conv_cfg *cfg)
{
    if (!obj) {
        return HARK_OK;
    }
    hark_err_t err = hark_cfgmap_check(doc, obj, conv_map, "conversations",
                                       diag);
    if (obj->type != HARK_JSON_OBJECT) {
        return HARK_EINVAL;
    }
    struct hark_conv_cfg tmp = *cfg;
    if (parse_duration(doc, obj, "group_window_s", 365.0 * 86400, 1000.0,
                       diag, &tmp.group_window_ms) != HARK_OK) {
        err = HARK_EINVAL;
    }
    if (parse_duration(doc, obj, "reopen_days", 3650, 86400000.0, diag,
                       &tmp.reopen_ms) != HARK_OK) {
        err = HARK_EINVAL;
    }
    const struct hark_json *v = hark_json_get(obj, "applied_window");
    if (v && v->type == HARK_JSON_INTEGER) {
        if (v->i < MIN_WINDOW || v->i > MAX_WINDOW) {
            hark_json_error(doc, diag, v->offset,
                            "conversations.applied_window must be at least "
                            "%d and at most %d, not %" PRId64,
                            MIN_WINDOW, MAX_WINDOW, v->i);
            err = HARK_EINVAL;
        } else {
            tmp.applied_window = (size_t)v->i;
        }
    }
    if (err == HARK_OK) {
        *cfg = tmp;
    }
    return err;
}

/* ---- change lists ------------------------------------------------------- */

void hark_conv_changes_init(struct hark_conv_changes *list)
{
    memset(list, 0, sizeof(*list));
}

void hark_conv_changes_clear(struct hark_conv_changes *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free(list->v[i].author_key);
        free(list->v[i].platform);
        free(list->v[i].conversation);
    }
    list->n = 0;
}

void hark_conv_changes_cleanup(struct hark_conv_changes *list)
{
    hark_conv_changes_clear(list);
    free(list->v);
    memset(list, 0, sizeof(*list));
}

/* ---- state -------------------------------------------------------------- */

struct thread;

/* The current item of one (author key, conversation). */
struct entry {
    struct entry *next; /* in its thread */
    struct thread *thread;
    char *author_key;
    char id[17];
    uint32_t seq;
    enum hark_conv_status status;
    int64_t opened_ms;
    int64_t first_unanswered_ms; /* 0 while answered */
    int64_t last_post_ms;
    int64_t answered_ms;         /* 0 = never answered */
    char *last_post_id;
    bool is_dirty;
};

struct thread {
    char *key; /* platform SEP conversation id */
    uint64_t hash;
    char *platform;
    char *conv_id;
    struct entry *entries;
};

struct thread_table {
    struct thread **slots;
    size_t cap;
    size_t n;
};

/* Applied observation ids: a set plus a ring in arrival order. */
enum decision_kind { DEC_ITEM = 0, DEC_ANSWER = 1 };

/* What one observation decided about one item. */
struct decision {
    uint64_t obs_id;
    int64_t ord;
    enum decision_kind kind;
    char item_id[17];
    char *author_key;
    char *platform;
    char *conv_id;
    uint32_t seq;
    enum hark_conv_status status;
    int64_t opened_ms;
    int64_t first_unanswered_ms;
    int64_t answered_ms;
};

struct applied_row {
    uint64_t obs_id;
    int64_t ord;
};

struct deleted_row {
    char *author_key;
    char *platform;
    char *conv_id;
};

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

struct hark_conv {
    struct hark_conv_cfg cfg;
    char *path;
    sqlite3 *db;
    sqlite3_stmt *upsert_item;
    sqlite3_stmt *delete_item;
    sqlite3_stmt *insert_applied;
    sqlite3_stmt *insert_decision;
    sqlite3_stmt *select_decisions;
    sqlite3_stmt *prune_applied;
    sqlite3_stmt *prune_decisions;
    struct thread_table threads;
    struct hark_idwin applied;
    int64_t next_ord;
    /* pending until the next commit */
    VEC(struct entry *) dirty;
    VEC(struct deleted_row) deleted;
    VEC(struct applied_row) new_ids;
    VEC(struct decision) decisions;
    struct hark_conv_stats stats;
};

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

/* ---- threads: open addressing, linear probing, power-of-two capacity ---- */

static struct thread **table_slot(struct thread_table *t, const char *key,
                                  uint64_t hash)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)mix64(hash) & mask;
    for (;;) {
        struct thread *th = t->slots[i];
        if (!th || (th->hash == hash && strcmp(th->key, key) == 0)) {
            return &t->slots[i];
        }
        i = (i + 1) & mask;
    }
}

static void table_grow(struct thread_table *t)
{
    struct thread_table bigger = {
        .cap = t->cap ? 2 * t->cap : 1024,
        .n = t->n,
    };
    bigger.slots = hark_xcalloc(bigger.cap, sizeof(*bigger.slots));
    for (size_t i = 0; i < t->cap; i++) {
        struct thread *th = t->slots[i];
        if (th) {
            *table_slot(&bigger, th->key, th->hash) = th;
        }
    }
    free(t->slots);
    *t = bigger;
}

/* Removes `th` by backward-shift deletion (no tombstones). */
static void table_remove(struct thread_table *t, struct thread *th)
{
    size_t mask = t->cap - 1;
    struct thread **slot = table_slot(t, th->key, th->hash);
    hark_assert(*slot == th);
    size_t i = (size_t)(slot - t->slots);
    t->slots[i] = NULL;
    t->n--;
    for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        size_t home = (size_t)mix64(t->slots[j]->hash) & mask;
        bool is_between = i <= j ? (home > i && home <= j)
                                 : (home > i || home <= j);
        if (!is_between) {
            t->slots[i] = t->slots[j];
            t->slots[j] = NULL;
            i = j;
        }
    }
}

static char *thread_key(const char *platform, const char *conv_id)
{
    return hark_xasprintf("%s%c%s", platform ? platform : "", SEP, conv_id);
}

static struct thread *thread_find(struct hark_conv *conv,
                                  const char *platform, const char *conv_id)
{
    char *key = thread_key(platform, conv_id);
    struct thread *th = *table_slot(&conv->threads, key, str_hash(key));
    free(key);
    return th;
}

static struct thread *thread_get(struct hark_conv *conv, const char *platform,
                                 const char *conv_id)
{
    struct thread_table *t = &conv->threads;
    char *key = thread_key(platform, conv_id);
    uint64_t hash = str_hash(key);
    struct thread **slot = table_slot(t, key, hash);
    if (*slot) {
        free(key);
        return *slot;
    }
    if ((t->n + 1) * 10 > t->cap * 7) {
        table_grow(t);
        slot = table_slot(t, key, hash);
    }
    struct thread *th = hark_xcalloc(1, sizeof(*th));
    th->key = key;
    th->hash = hash;
    th->platform = hark_xstrdup(platform ? platform : "");
    th->conv_id = hark_xstrdup(conv_id);
    *slot = th;
    t->n++;
    return th;
}

static void entry_free(struct entry *e)
{
    free(e->author_key);
    free(e->last_post_id);
    free(e);
}

static void thread_free(struct thread *th)
{
    while (th->entries) {
        struct entry *e = th->entries;
        th->entries = e->next;
        entry_free(e);
    }
    free(th->key);
    free(th->platform);
    free(th->conv_id);
    free(th);
}

static struct entry *entry_find(const struct thread *th,
                                const char *author_key)
{
    for (struct entry *e = th->entries; e; e = e->next) {
        if (strcmp(e->author_key, author_key) == 0) {
            return e;
        }
    }
    return NULL;
}

static struct entry *entry_add(struct hark_conv *conv, struct thread *th,
                               const char *author_key)
{
    struct entry *e = hark_xcalloc(1, sizeof(*e));
    e->author_key = hark_xstrdup(author_key);
    e->thread = th;
    e->next = th->entries;
    th->entries = e;
    conv->stats.items++;
    return e;
}

static void mark_dirty(struct hark_conv *conv, struct entry *e)
{
    if (!e->is_dirty) {
        e->is_dirty = true;
        VEC_PUSH(conv->dirty, e);
    }
}

/* ---- applied set -------------------------------------------------------- */

/* ---- the store ---------------------------------------------------------- */

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
    "CREATE TABLE IF NOT EXISTS items(author_key TEXT NOT NULL,"
    " platform TEXT NOT NULL, conv TEXT NOT NULL, id TEXT NOT NULL,"
    " seq INTEGER NOT NULL, status INTEGER NOT NULL,"
    " opened_ms INTEGER NOT NULL, first_unanswered_ms INTEGER NOT NULL,"
    " last_post_ms INTEGER NOT NULL, answered_ms INTEGER NOT NULL,"
    " last_post_id TEXT, PRIMARY KEY(author_key, platform, conv))"
    " WITHOUT ROWID;"
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
    "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', 1);";

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static bool prepare(struct hark_conv *conv, const char *sql,
                    sqlite3_stmt **out)
{
    return sqlite3_prepare_v3(conv->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                              out, NULL) == SQLITE_OK;
}

/* Steps a bound statement once, resets it; SQLITE_DONE on success. */
static int run(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

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

static hark_err_t check_version(struct hark_conv *conv, char *errbuf,
                                size_t errbuf_len)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(conv->db,
                           "SELECT value FROM meta WHERE key = "
                           "'schema_version'",
                           -1, &s, NULL) != SQLITE_OK) {
        hark_sqlite_errmsg(errbuf, errbuf_len, conv->path,
                           "read the schema version", conv->db, "conversation");
        return HARK_EIO;
    }
    hark_err_t err = HARK_OK;
    if (sqlite3_step(s) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(s, 0);
        if (v != SCHEMA_VERSION) {
            (void)snprintf(errbuf, errbuf_len,
                           "%s: schema version %" PRId64 " is not %d "
                           "(written by another version of hark)",
                           conv->path, v, SCHEMA_VERSION);
            err = HARK_EIO;
        }
    }
    sqlite3_finalize(s);
    return err;
}

static hark_err_t store_open(struct hark_conv *conv, char *errbuf,
                             size_t errbuf_len)
{
    const char *what = "open";
    if (sqlite3_open_v2(conv->path, &conv->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        goto fail;
    }
    sqlite3_extended_result_codes(conv->db, 1);
    sqlite3_busy_timeout(conv->db, 200);
    /* Exclusive locking first: WAL then needs no shared memory, and the
     * BEGIN IMMEDIATE below takes the lock we keep until close. */
    what = "lock";
    if (exec(conv->db, "PRAGMA locking_mode=EXCLUSIVE") != SQLITE_OK) {
        goto fail;
    }
    what = "read the database";
    if (exec(conv->db, "PRAGMA journal_mode=WAL") != SQLITE_OK ||
        exec(conv->db, "PRAGMA synchronous=FULL") != SQLITE_OK) {
        goto fail;
    }
    what = "lock";
    if (exec(conv->db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        goto fail;
    }
    what = "create the schema";
    if (exec(conv->db, schema_sql) != SQLITE_OK) {
        goto fail_rollback;
    }
    what = "commit the schema";
    if (exec(conv->db, "COMMIT") != SQLITE_OK) {
        goto fail_rollback;
    }
    if (check_version(conv, errbuf, errbuf_len) != HARK_OK) {
        return HARK_EIO;
    }
    what = "prepare statements";
    if (!prepare(conv,
                 "INSERT OR REPLACE INTO items(author_key, platform, conv,"
                 " id, seq, status, opened_ms, first_unanswered_ms,"
                 " last_post_ms, answered_ms, last_post_id) VALUES(?1, ?2,"
                 " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                 &conv->upsert_item) ||
        !prepare(conv,
                 "DELETE FROM items WHERE author_key = ?1 AND platform = ?2"
                 " AND conv = ?3",
                 &conv->delete_item) ||
        !prepare(conv, "INSERT INTO applied(ord, obs_id) VALUES(?1, ?2)",
                 &conv->insert_applied) ||
        !prepare(conv,
                 "INSERT INTO decisions(obs_id, ord, kind, item_id,"
                 " author_key, platform, conv, seq, status, opened_ms,"
                 " first_unanswered_ms, answered_ms) VALUES(?1, ?2, ?3, ?4,"
                 " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                 &conv->insert_decision) ||
        !prepare(conv,
                 "SELECT kind, item_id, author_key, platform, conv, seq,"
                 " status, opened_ms, first_unanswered_ms, answered_ms FROM"
                 " decisions WHERE obs_id = ?1 ORDER BY rowid",
                 &conv->select_decisions) ||
        !prepare(conv, "DELETE FROM applied WHERE ord <= ?1",
                 &conv->prune_applied) ||
        !prepare(conv, "DELETE FROM decisions WHERE ord <= ?1",
                 &conv->prune_decisions)) {
        goto fail;
    }
    return HARK_OK;

fail_rollback:
    hark_sqlite_errmsg(errbuf, errbuf_len, conv->path, what, conv->db,
                       "conversation");
    (void)exec(conv->db, "ROLLBACK");
    return HARK_EIO;
fail:
    hark_sqlite_errmsg(errbuf, errbuf_len, conv->path, what, conv->db,
                       "conversation");
    return HARK_EIO;
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
        struct thread *th = thread_get(conv, col_text(s, 1), col_text(s, 2));
        const char *key = col_text(s, 0);
        if (entry_find(th, key)) {
            continue; /* cannot happen: the key is the primary key */
        }
        struct entry *e = entry_add(conv, th, key);
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

/* ---- create and destroy ------------------------------------------------- */

hark_err_t hark_conv_open(const char *state_dir,
                          const struct hark_conv_cfg *cfg,
                          struct hark_diag *diag, struct hark_conv **out)
{
    *out = NULL;
    const char *dir = state_dir && *state_dir ? state_dir : ".";
    if (hark_mkdirs(dir) != HARK_OK) {
        hark_diag_line(diag, HARK_DIAG_ERROR, dir, 0,
                       "cannot create the state folder: %s", strerror(errno));
        return HARK_EIO;
    }
    struct hark_conv *conv = hark_xcalloc(1, sizeof(*conv));
    conv->cfg = *cfg;
    if (conv->cfg.applied_window < MIN_WINDOW) {
        conv->cfg.applied_window = MIN_WINDOW;
    }
    conv->path = hark_xasprintf("%s/%s", dir, HARK_CONV_DB_NAME);
    conv->next_ord = 1;
    hark_idwin_init(&conv->applied, conv->cfg.applied_window);
    table_grow(&conv->threads);
    char errbuf[768];
    if (store_open(conv, errbuf, sizeof(errbuf)) != HARK_OK ||
        load_items(conv, errbuf, sizeof(errbuf)) != HARK_OK ||
        load_applied(conv, errbuf, sizeof(errbuf)) != HARK_OK) {
        hark_diag_line(diag, HARK_DIAG_ERROR, NULL, 0,
                       "cannot open the conversation state: %s", errbuf);
        hark_conv_free(conv);
        return HARK_EIO;
    }
    *out = conv;
    return HARK_OK;
}

void hark_conv_configure(struct hark_conv *conv,
                         const struct hark_conv_cfg *cfg)
{
    /* The window is sized at open; a new one takes effect on restart. */
    size_t window = conv->cfg.applied_window;
    conv->cfg = *cfg;
    conv->cfg.applied_window = window;
}

static void decision_cleanup(struct decision *d)
{
    free(d->author_key);
    free(d->platform);
    free(d->conv_id);
}

static void clear_pending(struct hark_conv *conv)
{
    for (size_t i = 0; i < conv->dirty.n; i++) {
        conv->dirty.v[i]->is_dirty = false;
    }
    conv->dirty.n = 0;
    for (size_t i = 0; i < conv->deleted.n; i++) {
        free(conv->deleted.v[i].author_key);
        free(conv->deleted.v[i].platform);
        free(conv->deleted.v[i].conv_id);
    }
    conv->deleted.n = 0;
    conv->new_ids.n = 0;
    for (size_t i = 0; i < conv->decisions.n; i++) {
        decision_cleanup(&conv->decisions.v[i]);
    }
    conv->decisions.n = 0;
}

void hark_conv_free(struct hark_conv *conv)
{
    if (!conv) {
        return;
    }
    clear_pending(conv);
    free(conv->dirty.v);
    free(conv->deleted.v);
    free(conv->new_ids.v);
    free(conv->decisions.v);
    for (size_t i = 0; i < conv->threads.cap; i++) {
        if (conv->threads.slots[i]) {
            thread_free(conv->threads.slots[i]);
        }
    }
    free(conv->threads.slots);
    hark_idwin_cleanup(&conv->applied);
    sqlite3_finalize(conv->upsert_item);
    sqlite3_finalize(conv->delete_item);
    sqlite3_finalize(conv->insert_applied);
    sqlite3_finalize(conv->insert_decision);
    sqlite3_finalize(conv->select_decisions);
    sqlite3_finalize(conv->prune_applied);
    sqlite3_finalize(conv->prune_decisions);
    if (conv->db && sqlite3_close(conv->db) != SQLITE_OK) {
        HARK_LOG_ERROR("conversation", "close(\"%s\"): %s", conv->path,
                       sqlite3_errmsg(conv->db));
    }
    free(conv->path);
    free(conv);
}

bool hark_conv_is_dirty(const struct hark_conv *conv)
{
    return conv->dirty.n || conv->deleted.n || conv->new_ids.n ||
           conv->decisions.n;
}

const struct hark_conv_stats *hark_conv_stats_get(const struct hark_conv *conv)
{
    return &conv->stats;
}

/* ---- commit ------------------------------------------------------------- */

static int write_item(struct hark_conv *conv, const struct entry *e)
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
    return run(s);
}

static int write_decision(struct hark_conv *conv, const struct decision *d)
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
    return run(s);
}

/* Writes the pending changes inside the open transaction; NULL or what
 * failed. */
static const char *write_pending(struct hark_conv *conv)
{
    for (size_t i = 0; i < conv->deleted.n; i++) {
        const struct deleted_row *r = &conv->deleted.v[i];
        bind_text(conv->delete_item, 1, r->author_key);
        bind_text(conv->delete_item, 2, r->platform);
        bind_text(conv->delete_item, 3, r->conv_id);
        if (run(conv->delete_item) != SQLITE_DONE) {
            return "delete expired items";
        }
    }
    for (size_t i = 0; i < conv->dirty.n; i++) {
        if (write_item(conv, conv->dirty.v[i]) != SQLITE_DONE) {
            return "write items";
        }
    }
    for (size_t i = 0; i < conv->new_ids.n; i++) {
        sqlite3_stmt *s = conv->insert_applied;
        sqlite3_bind_int64(s, 1, conv->new_ids.v[i].ord);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)conv->new_ids.v[i].obs_id);
        if (run(s) != SQLITE_DONE) {
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
        if (run(conv->prune_applied) != SQLITE_DONE ||
            run(conv->prune_decisions) != SQLITE_DONE) {
            return "forget old event ids";
        }
    }
    return NULL;
}

hark_err_t hark_conv_commit(struct hark_conv *conv, char *errbuf,
                            size_t errbuf_len)
{
    if (!hark_conv_is_dirty(conv)) {
        return HARK_OK;
    }
    if (exec(conv->db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        hark_sqlite_errmsg(errbuf, errbuf_len, conv->path,
                           "begin a transaction", conv->db, "conversation");
        conv->stats.commit_errors++;
        return HARK_EIO;
    }
    const char *what = write_pending(conv);
    if (!what && exec(conv->db, "COMMIT") != SQLITE_OK) {
        what = "commit";
    }
    if (what) {
        hark_sqlite_errmsg(errbuf, errbuf_len, conv->path, what, conv->db,
                           "conversation");
        if (!sqlite3_get_autocommit(conv->db)) {
            (void)exec(conv->db, "ROLLBACK");
        }
        conv->stats.commit_errors++;
        return HARK_EIO;
    }
    clear_pending(conv);
    conv->stats.commits++;
    return HARK_OK;
}

/* ---- keys, ids, times --------------------------------------------------- */

static uint64_t hash_field(uint64_t h, const char *s)
{
    unsigned char sep = SEP;
    h = hark_hash64(&sep, 1, h);
    if (s && *s) {
        h = hark_hash64(s, strlen(s), h);
    }
    return h;
}

static void item_id(const char *author_key, const struct thread *th,
                    const char *event_id, char out[17])
{
    uint64_t h = hark_hash64("hark.item", 9, HARK_HASH_SEED);
    h = hash_field(h, author_key);
    h = hash_field(h, th->platform);
    h = hash_field(h, th->conv_id);
    h = hash_field(h, event_id);
    (void)snprintf(out, 17, "%016" PRIx64, h);
}

static void update_id(const char *id, uint32_t seq,
                      enum hark_conv_status status, char out[17])
{
    char seq_s[16];
    (void)snprintf(seq_s, sizeof(seq_s), "%" PRIu32, seq);
    uint64_t h = hark_hash64("hark.item.update", 16, HARK_HASH_SEED);
    h = hash_field(h, id);
    h = hash_field(h, seq_s);
    h = hash_field(h, hark_conv_status_name(status));
    (void)snprintf(out, 17, "%016" PRIx64, h);
}

/* The customer id, else "platform:author id" (handle without id); NULL
 * when the post has no author. Caller frees. */
static char *author_key(const struct hark_item *item)
{
    if (item->has_customer && item->customer.id && *item->customer.id) {
        return hark_xstrdup(item->customer.id);
    }
    const struct hark_post *post = item->post;
    const char *who = post->author.id && *post->author.id
                          ? post->author.id
                          : post->author.handle;
    if (!who || !*who) {
        return NULL;
    }
    return hark_xasprintf("%s:%s", post->platform ? post->platform : "", who);
}

/* The conversation of an author's post: conversation_id, else in_reply_to,
 * else its own id. */
static const char *post_conversation(const struct hark_post *post)
{
    if (post->conversation_id && *post->conversation_id) {
        return post->conversation_id;
    }
    if (post->in_reply_to && *post->in_reply_to) {
        return post->in_reply_to;
    }
    return post->id && *post->id ? post->id : NULL;
}

static int64_t post_time(const struct hark_post *post, int64_t now_ms)
{
    int64_t t = 0;
    if (post->created_at && hark_time_parse(post->created_at, &t) == HARK_OK) {
        return t;
    }
    return now_ms;
}

/* ---- observe ------------------------------------------------------------ */

static void fill_item(struct hark_item *item, const char *id, uint32_t seq,
                      enum hark_conv_status status, int64_t opened_ms,
                      int64_t first_unanswered_ms)
{
    free(item->item_id);
    item->item_id = hark_xstrdup(id);
    item->item_seq = seq;
    item->item_status = (int)status;
    item->item_opened_ms = opened_ms;
    item->item_first_unanswered_ms = first_unanswered_ms;
}

static void push_change(struct hark_conv_changes *out, const char *id,
                        const char *key, const char *platform,
                        const char *conv_id, uint32_t seq,
                        enum hark_conv_status status, int64_t opened_ms,
                        int64_t answered_ms, bool is_replay)
{
    if (out->n == out->cap) {
        out->cap = out->cap ? 2 * out->cap : 4;
        out->v = hark_xrealloc(out->v, out->cap * sizeof(*out->v));
    }
    struct hark_conv_change *c = &out->v[out->n++];
    memset(c, 0, sizeof(*c));
    (void)snprintf(c->item_id, sizeof(c->item_id), "%s", id);
    update_id(id, seq, status, c->update_id);
    c->author_key = hark_xstrdup(key);
    c->platform = hark_xstrdup(platform);
    c->conversation = hark_xstrdup(conv_id);
    c->seq = seq;
    c->status = status;
    c->opened_ms = opened_ms;
    c->answered_ms = answered_ms;
    c->is_replay = is_replay;
}

static void record(struct hark_conv *conv, uint64_t obs, int64_t ord,
                   enum decision_kind kind, const struct entry *e)
{
    struct decision d = {
        .obs_id = obs,
        .ord = ord,
        .kind = kind,
        .author_key = hark_xstrdup(e->author_key),
        .platform = hark_xstrdup(e->thread->platform),
        .conv_id = hark_xstrdup(e->thread->conv_id),
        .seq = e->seq,
        .status = e->status,
        .opened_ms = e->opened_ms,
        .first_unanswered_ms = e->first_unanswered_ms,
        .answered_ms = e->answered_ms,
    };
    memcpy(d.item_id, e->id, sizeof(d.item_id));
    VEC_PUSH(conv->decisions, d);
}

static void apply_decision(const struct decision *d, struct hark_item *item,
                           struct hark_conv_changes *out)
{
    if (d->kind == DEC_ITEM) {
        fill_item(item, d->item_id, d->seq, d->status, d->opened_ms,
                  d->first_unanswered_ms);
    } else {
        push_change(out, d->item_id, d->author_key, d->platform, d->conv_id,
                    d->seq, d->status, d->opened_ms, d->answered_ms, true);
    }
}

/* A replay: the decisions of the first observation, changing nothing. */
static hark_err_t replay(struct hark_conv *conv, uint64_t obs,
                         struct hark_item *item,
                         struct hark_conv_changes *out)
{
    conv->stats.replayed++;
    for (size_t i = 0; i < conv->new_ids.n; i++) {
        if (conv->new_ids.v[i].obs_id != obs) {
            continue;
        }
        for (size_t j = 0; j < conv->decisions.n; j++) {
            if (conv->decisions.v[j].obs_id == obs) {
                apply_decision(&conv->decisions.v[j], item, out);
            }
        }
        return HARK_OK;
    }
    sqlite3_stmt *s = conv->select_decisions;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)obs);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = col_text(s, 1);
        uint32_t seq = (uint32_t)sqlite3_column_int64(s, 5);
        enum hark_conv_status status = to_status(sqlite3_column_int64(s, 6));
        int64_t opened_ms = sqlite3_column_int64(s, 7);
        if (sqlite3_column_int(s, 0) == DEC_ITEM) {
            fill_item(item, id, seq, status, opened_ms,
                      sqlite3_column_int64(s, 8));
        } else {
            push_change(out, id, col_text(s, 2), col_text(s, 3),
                        col_text(s, 4), seq, status, opened_ms,
                        sqlite3_column_int64(s, 9), true);
        }
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

/* Marks the open items of `conv_id` answered by a brand post at `t`. */
static void answer_thread(struct hark_conv *conv, const char *platform,
                          const char *conv_id, int64_t t, uint64_t obs,
                          int64_t ord, struct hark_conv_changes *out)
{
    struct thread *th = thread_find(conv, platform, conv_id);
    if (!th) {
        return;
    }
    for (struct entry *e = th->entries; e; e = e->next) {
        bool is_waiting =
            e->status == HARK_CONV_OPEN || e->status == HARK_CONV_REOPENED;
        /* A reply older than the first unanswered post does not answer
         * it (posts from several sources arrive out of order). */
        if (!is_waiting || t < e->first_unanswered_ms) {
            continue;
        }
        e->status = HARK_CONV_ANSWERED;
        e->answered_ms = t;
        e->first_unanswered_ms = 0;
        mark_dirty(conv, e);
        record(conv, obs, ord, DEC_ANSWER, e);
        push_change(out, e->id, e->author_key, th->platform, th->conv_id,
                    e->seq, e->status, e->opened_ms, e->answered_ms, false);
        conv->stats.answered++;
    }
}

static void start_item(struct hark_conv *conv, struct entry *e,
                       const char *event_id, int64_t t)
{
    item_id(e->author_key, e->thread, event_id, e->id);
    e->seq = 1;
    e->status = HARK_CONV_OPEN;
    e->opened_ms = t;
    e->first_unanswered_ms = t;
    e->last_post_ms = t;
    e->answered_ms = 0;
    conv->stats.opened++;
}

/* The author's post at `t` joins, reopens or starts their item. */
static void join_item(struct hark_conv *conv, struct entry *e, bool is_new,
                      const struct hark_post *post, const char *event_id,
                      int64_t t)
{
    bool is_waiting =
        e->status == HARK_CONV_OPEN || e->status == HARK_CONV_REOPENED;
    if (is_new) {
        start_item(conv, e, event_id, t);
    } else if (post->edited_at && e->last_post_id && post->id &&
               strcmp(e->last_post_id, post->id) == 0) {
        return; /* an edit of the last post: the same item, unchanged */
    } else if (is_waiting && t - e->last_post_ms <= conv->cfg.group_window_ms) {
        e->seq++;
        e->status = HARK_CONV_OPEN;
    } else if (e->status == HARK_CONV_ANSWERED &&
               t - e->answered_ms <= conv->cfg.reopen_ms) {
        e->seq++;
        e->status = HARK_CONV_REOPENED;
        e->first_unanswered_ms = t;
        conv->stats.reopened++;
    } else {
        start_item(conv, e, event_id, t);
    }
    if (t > e->last_post_ms) {
        e->last_post_ms = t;
    }
    free(e->last_post_id);
    e->last_post_id = hark_xstrdup(post->id);
    mark_dirty(conv, e);
}

hark_err_t hark_conv_observe(struct hark_conv *conv, struct hark_item *item,
                             bool is_brand, const char *event_id,
                             int64_t now_ms, struct hark_conv_changes *out)
{
    hark_assert(conv && item && event_id && out);
    const struct hark_post *post = item->post;
    if (!post || post->is_deleted) {
        return HARK_OK;
    }
    const char *reply_to[2] = {post->conversation_id, post->in_reply_to};
    char *key = NULL;
    const char *conv_id = NULL;
    if (is_brand) {
        if (!(reply_to[0] && *reply_to[0]) && !(reply_to[1] && *reply_to[1])) {
            return HARK_OK; /* not a reply: answers nothing, ever */
        }
    } else {
        if (item->action != HARK_ACTION_ENGAGE) {
            return HARK_OK;
        }
        conv_id = post_conversation(post);
        key = conv_id ? author_key(item) : NULL;
        if (!key) {
            return HARK_OK;
        }
    }
    uint64_t obs = hark_idwin_key(event_id);
    if (hark_idwin_has(&conv->applied, obs)) {
        free(key);
        return replay(conv, obs, item, out);
    }
    int64_t ord = conv->next_ord++;
    hark_idwin_add(&conv->applied, obs);
    struct applied_row row = {.obs_id = obs, .ord = ord};
    VEC_PUSH(conv->new_ids, row);
    conv->stats.observed++;
    int64_t t = post_time(post, now_ms);

    if (is_brand) {
        for (size_t i = 0; i < 2; i++) {
            const char *c = reply_to[i];
            if (!c || !*c || (i == 1 && reply_to[0] &&
                              strcmp(reply_to[0], c) == 0)) {
                continue;
            }
            answer_thread(conv, post->platform, c, t, obs, ord, out);
        }
        return HARK_OK;
    }
    struct thread *th = thread_get(conv, post->platform, conv_id);
    struct entry *e = entry_find(th, key);
    bool is_new = e == NULL;
    if (is_new) {
        e = entry_add(conv, th, key);
    }
    free(key);
    join_item(conv, e, is_new, post, event_id, t);
    record(conv, obs, ord, DEC_ITEM, e);
    fill_item(item, e->id, e->seq, e->status, e->opened_ms,
              e->first_unanswered_ms);
    return HARK_OK;
}

/* ---- expiry ------------------------------------------------------------- */

static bool is_expired(const struct hark_conv *conv, const struct entry *e,
                       int64_t now_ms)
{
    if (e->is_dirty) {
        return false; /* pending in this commit; the next sweep takes it */
    }
    if (e->status == HARK_CONV_ANSWERED) {
        return now_ms - e->answered_ms > conv->cfg.reopen_ms;
    }
    int64_t keep = conv->cfg.group_window_ms > conv->cfg.reopen_ms
                       ? conv->cfg.group_window_ms
                       : conv->cfg.reopen_ms;
    return now_ms - e->last_post_ms > keep;
}

size_t hark_conv_expire(struct hark_conv *conv, int64_t now_ms)
{
    size_t n_expired = 0;
    struct thread_table *t = &conv->threads;
    for (size_t i = 0; i < t->cap;) {
        struct thread *th = t->slots[i];
        if (!th) {
            i++;
            continue;
        }
        for (struct entry **pe = &th->entries; *pe;) {
            struct entry *e = *pe;
            if (!is_expired(conv, e, now_ms)) {
                pe = &e->next;
                continue;
            }
            *pe = e->next;
            struct deleted_row r = {
                .author_key = e->author_key,
                .platform = hark_xstrdup(th->platform),
                .conv_id = hark_xstrdup(th->conv_id),
            };
            e->author_key = NULL;
            VEC_PUSH(conv->deleted, r);
            entry_free(e);
            conv->stats.items--;
            n_expired++;
        }
        if (!th->entries) {
            /* Backward shift may move a later thread into slot i: look
             * at slot i again. */
            table_remove(t, th);
            thread_free(th);
            continue;
        }
        i++;
    }
    conv->stats.expired += n_expired;
    return n_expired;
}
