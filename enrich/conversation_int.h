/*
 * conversation_int: what enrich/conversation.c (the items in memory and
 * the decisions) and enrich/conversation_store.c (the SQLite file) share.
 * Not a public contract.
 *
 * Thread: the owner of the struct hark_conv.
 */
#ifndef HARK_CONVERSATION_INT_H
#define HARK_CONVERSATION_INT_H

#include <sqlite3.h>

#include "hark/conversation.h"
#include "hark/idwin.h"

#define HARK_CONV_MIN_WINDOW 64

/* Between the fields of a key in memory (platform SEP id). */
#define HARK_CONV_KEY_SEP 0x1f

/* A growable array; HARK_CONV_VEC_PUSH aborts on out of memory. */
#define HARK_CONV_VEC(type)                                                    \
    struct {                                                                   \
        type *v;                                                               \
        size_t n, cap;                                                         \
    }

#define HARK_CONV_VEC_PUSH(vec, val)                                           \
    do {                                                                       \
        if ((vec).n == (vec).cap) {                                            \
            (vec).cap = (vec).cap ? 2 * (vec).cap : 64;                        \
            (vec).v = hark_xrealloc((vec).v, (vec).cap * sizeof(*(vec).v));    \
        }                                                                      \
        (vec).v[(vec).n++] = (val);                                            \
    } while (0)

struct hark_conv_thread;

/* The current item of one (author key, conversation). */
struct hark_conv_entry {
    struct hark_conv_entry *next; /* in its thread */
    struct hark_conv_thread *thread;
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

/* One platform + conversation id and the items in it. */
struct hark_conv_thread {
    char *key; /* platform SEP conversation id */
    uint64_t hash;
    char *platform;
    char *conv_id;
    struct hark_conv_entry *entries;
};

struct hark_conv_thread_table {
    struct hark_conv_thread **slots;
    size_t cap;
    size_t n;
};

/* Entries of the thread index kept in memory (the file has them all). */
#define HARK_CONV_ROOTS_MAX 131072

/* One entry of the thread index: the thread root of a reply. */
struct hark_conv_root {
    struct hark_conv_root *older, *newer; /* use order */
    char *key;           /* platform SEP post id */
    size_t platform_len; /* key[platform_len] is SEP */
    uint64_t hash;
    char *root;          /* the thread root's post id */
    int64_t post_ms;     /* the post's time: retention */
    bool is_dirty;       /* not in the file yet */
};

/* The thread index in memory: open addressing over `slots`, and a list in
 * use order (oldest first) for the bound. Dirty entries are never evicted:
 * the list may exceed `max` until the next commit. */
struct hark_conv_root_table {
    struct hark_conv_root **slots;
    size_t cap;
    size_t n;
    size_t max;
    struct hark_conv_root *oldest, *newest;
};

enum hark_conv_decision_kind {
    HARK_CONV_DEC_ITEM = 0,  /* the post's own item */
    HARK_CONV_DEC_ANSWER = 1 /* an item a brand reply answered */
};

/* What one observation decided about one item; strings owned. */
struct hark_conv_decision {
    uint64_t obs_id;
    int64_t ord;
    enum hark_conv_decision_kind kind;
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

struct hark_conv_applied_row {
    uint64_t obs_id;
    int64_t ord;
};

/* The primary key of an items row; strings owned. */
struct hark_conv_row_key {
    char *author_key;
    char *platform;
    char *conv_id;
};

/* A list of decisions (HARK_CONV_VEC_PUSH grows it). */
struct hark_conv_decisions {
    struct hark_conv_decision *v;
    size_t n, cap;
};

struct hark_conv {
    struct hark_conv_cfg cfg;
    char *path;
    sqlite3 *db;
    sqlite3_stmt *upsert_item;
    sqlite3_stmt *insert_applied;
    sqlite3_stmt *insert_decision;
    sqlite3_stmt *select_decisions;
    sqlite3_stmt *prune_applied;
    sqlite3_stmt *prune_decisions;
    sqlite3_stmt *retire_items;
    sqlite3_stmt *insert_root;
    sqlite3_stmt *select_root;
    sqlite3_stmt *retire_roots;
    struct hark_conv_thread_table threads;
    struct hark_conv_root_table roots;
    struct hark_idwin applied;
    int64_t next_ord;
    int64_t clock_ms; /* retention clock: newest post time, <= now_ms */
    /* pending until the next commit */
    HARK_CONV_VEC(struct hark_conv_entry *) dirty;
    HARK_CONV_VEC(struct hark_conv_applied_row) new_ids;
    struct hark_conv_decisions decisions;
    HARK_CONV_VEC(struct hark_conv_root *) dirty_roots;
    /* rows the running commit's retention deleted */
    HARK_CONV_VEC(struct hark_conv_row_key) retired;
    HARK_CONV_VEC(char *) retired_roots; /* platform SEP post id */
    struct hark_conv_stats stats;
};

/* ---- conversation.c: items in memory ---- */

/* The entry of `author_key` in (platform, conv_id), created when missing
 * (*is_new then true). */
struct hark_conv_entry *hark_conv_entry_get(struct hark_conv *conv,
                                            const char *platform,
                                            const char *conv_id,
                                            const char *author_key,
                                            bool *is_new);

void hark_conv_decision_cleanup(struct hark_conv_decision *d);

/* ---- conversation_store.c: the SQLite file ---- */

/*
 * Retention cut-offs of one commit (0 = none): items whose last activity
 * (the later of last post and answer) is before `answered_before_ms`
 * (answered) or `waiting_before_ms` (open, reopened) are deleted, oldest
 * first, at most `limit` in all.
 */
struct hark_conv_retention {
    int64_t answered_before_ms;
    int64_t waiting_before_ms;
    size_t limit;
    /* thread index entries of posts before this (0 = none), at most
     * `limit`, oldest first */
    int64_t roots_before_ms;
};

/*
 * Opens or creates conv->path, locks it, creates the schema, prepares the
 * statements, and loads every item and the newest applied ids into
 * `conv`. Failure: HARK_EIO and errbuf says why.
 */
HARK_MUST_CHECK hark_err_t hark_conv_store_open(struct hark_conv *conv,
                                                char *errbuf,
                                                size_t errbuf_len);

/*
 * Writes the pending changes (items, thread index entries), then retention
 * (seeing the rows just written, keys appended to conv->retired and
 * conv->retired_roots), then forgets applied ids and decisions beyond the
 * window, in one transaction. Failure: HARK_EIO, rolled back
 * (conv->retired and retired_roots may hold keys not deleted: discard
 * them).
 */
HARK_MUST_CHECK hark_err_t hark_conv_store_commit(
    struct hark_conv *conv, const struct hark_conv_retention *ret,
    char *errbuf, size_t errbuf_len);

/* Appends the stored decisions of observation `obs` to `out`. */
HARK_MUST_CHECK hark_err_t hark_conv_store_decisions(
    struct hark_conv *conv, uint64_t obs, struct hark_conv_decisions *out);

/*
 * The thread index entry of (platform, post_id) in the file: *root (caller
 * frees) and *post_ms, or *root NULL when there is none. Failure: HARK_EIO
 * (logged), *root NULL.
 */
HARK_MUST_CHECK hark_err_t hark_conv_store_root_get(struct hark_conv *conv,
                                                    const char *platform,
                                                    const char *post_id,
                                                    char **root,
                                                    int64_t *post_ms);

/* Finalizes the statements and closes the file. */
void hark_conv_store_close(struct hark_conv *conv);

#endif /* HARK_CONVERSATION_INT_H */
