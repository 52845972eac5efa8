/*
 * conversation: engagement items. Posts that need a human (action engage)
 * are grouped per (author key, conversation) into items with a stable id
 * and a sequence number; a reply from a brand account marks the items of
 * its conversation answered (the SLA stops), and the author writing again
 * reopens the item (the SLA restarts from that post). DESIGN.md "Rules
 * and priority" (Answered); docs/internals/conversations.md explains the
 * rules and the exactly-once bookkeeping.
 *
 * Author key: the customer id for a joined customer, else "platform:author
 * id" (the handle when there is no id), the Kafka key. Conversation: the
 * thread root (per platform): the post's conversation_id when the adapter
 * gives a root that is not the parent (Reddit, Bluesky, HN, X); for a reply
 * whose conversation_id is its parent or missing (Mastodon), the root found
 * through the thread index (every post hark saw: post -> root), else the
 * parent; for a post that is no reply, conversation_id, else its own id.
 *
 * State lives in memory (one hash table of conversations) and in one
 * SQLite file, <state_dir>/conversations.sqlite (WAL, exclusively locked by
 * its process). Every decision is keyed by the event_id of the post that
 * caused it and applied once, also across a kill -9 and a replay.
 * hark_conv_commit() writes every pending change in one transaction.
 *
 * Thread: a struct hark_conv has one owner, the emit thread (or one enrich
 * shard, partitioned by author key: a brand reply must then reach every
 * shard holding the conversation); nothing in it is locked. The
 * hark_conv_cfg_* functions may run on any thread (reload, check).
 */
#ifndef HARK_CONVERSATION_H
#define HARK_CONVERSATION_H

#include "hark/common.h"
#include "hark/diag.h"
#include "hark/item.h"
#include "hark/json.h"

struct hark_conv;

#define HARK_CONV_DB_NAME "conversations.sqlite"

/* item->item_status and hark_conv_change.status. */
enum hark_conv_status {
    HARK_CONV_NONE = 0, /* not an item */
    HARK_CONV_OPEN,     /* waiting for the brand */
    HARK_CONV_ANSWERED, /* the brand replied; resolved until the author
                         * writes again */
    HARK_CONV_REOPENED  /* the author wrote again after the answer */
};

/* "open", "answered", "reopened"; "none" for HARK_CONV_NONE. */
const char *hark_conv_status_name(enum hark_conv_status status);

/*
 * The "conversations" config object; every key optional. Defaults:
 *
 *   {"group_window_s": 86400, "reopen_days": 7, "applied_window": 65536,
 *    "retention_days": 30}
 *
 * group_window_s: an open item takes the author's next post in the same
 * conversation when it comes within this many seconds of the item's last
 * post. reopen_days: an answered item is reopened by a post within this
 * many days of the answer; later posts start a new item. applied_window:
 * event ids remembered for exactly-once. retention_days (0 = keep
 * forever): an answered item is deleted once its last activity (its last
 * post or its answer, the later) is more than retention_days and
 * reopen_days old; an open or reopened item once it is more than 90 days
 * (and retention_days, reopen_days and group_window_s) old. See
 * hark_conv_commit().
 */
struct hark_conv_cfg {
    int64_t group_window_ms;
    int64_t reopen_ms;
    size_t applied_window;
    int64_t retention_ms; /* 0 = keep every item forever */
};

void hark_conv_cfg_init(struct hark_conv_cfg *cfg);
void hark_conv_cfg_cleanup(struct hark_conv_cfg *cfg);

/*
 * Reads the "conversations" config object (NULL = keep what `cfg` holds)
 * into an initialized `cfg`. Unknown keys and bad values are errors with
 * file:line:column. Success: *cfg holds the new settings. Failure:
 * HARK_EINVAL, *cfg unchanged, `diag` says why. Thread: any.
 */
HARK_MUST_CHECK hark_err_t hark_conv_cfg_parse(const struct hark_json_doc *doc,
                                               const struct hark_json *obj,
                                               struct hark_diag *diag,
                                               struct hark_conv_cfg *cfg);

/*
 * One item whose status a brand reply changed (to answered): what an
 * engagement update event needs. Strings are owned by the list.
 */
struct hark_conv_change {
    char item_id[17];     /* 16 hex digits */
    char update_id[17];   /* hash(item id, seq, status): an event id for
                           * the update, stable across replays */
    char *author_key;     /* the item's author key (the Kafka key) */
    char *platform;
    char *conversation;   /* the conversation id, as in the posts */
    uint32_t seq;         /* the item's sequence (not bumped by answers) */
    enum hark_conv_status status;
    int64_t opened_ms;
    int64_t answered_ms;  /* the brand post's time */
    bool is_replay;       /* decided by an earlier observation */
};

/* A growable list the caller owns (init/cleanup); _clear empties it. */
struct hark_conv_changes {
    struct hark_conv_change *v;
    size_t n;
    size_t cap;
};

void hark_conv_changes_init(struct hark_conv_changes *list);
void hark_conv_changes_clear(struct hark_conv_changes *list);
void hark_conv_changes_cleanup(struct hark_conv_changes *list);

/* Counters for stats lines; read by the owner thread. */
struct hark_conv_stats {
    uint64_t observed;  /* observations applied */
    uint64_t replayed;  /* observations already applied (returned again) */
    uint64_t opened;    /* new items */
    uint64_t reopened;
    uint64_t answered;  /* items marked answered */
    uint64_t expired;   /* items deleted by retention */
    uint64_t commits;
    uint64_t commit_errors;
    size_t items;       /* items in memory */
    /* The thread index (post -> thread root; see hark_conv_note_post). */
    uint64_t roots_indexed; /* replies added to it */
    uint64_t roots_expired; /* entries deleted by retention */
    size_t roots_cached;    /* entries in memory (bounded; the rest is in
                             * the file) */
};

/* ---- create ---- */

/*
 * Opens (creating when missing) <state_dir>/conversations.sqlite, takes
 * its exclusive lock, and loads every item and the newest applied_window
 * event ids into memory. `cfg` is copied.
 *
 * Success: *out owned by the caller (hark_conv_free). Failure: *out is
 * NULL, HARK_EIO (cannot create the folder, not a database, corrupt,
 * locked by another process, another schema version), and `diag` holds
 * one message naming the file. Thread: the future owner.
 */
HARK_MUST_CHECK hark_err_t hark_conv_open(const char *state_dir,
                                          const struct hark_conv_cfg *cfg,
                                          struct hark_diag *diag,
                                          struct hark_conv **out);

/* Reload: copies the windows; applied_window takes effect on restart. */
void hark_conv_configure(struct hark_conv *conv,
                         const struct hark_conv_cfg *cfg);

/* ---- use ---- */

/*
 * Applies one kept post (after rules and the customer join, before
 * scoring). `is_brand`: the author is one of brand_accounts.
 *
 * - A brand post replying into a thread (its root, its conversation_id or
 *   in_reply_to, or a post the thread index leads to from its parent, is
 *   the conversation of open or reopened items, of any author) marks
 *   those items answered, unless it predates their first unanswered
 *   post; each is appended to `out` (borrowed; entries owned by the
 *   list). A brand post is never an item itself.
 * - An engage post (item->action == HARK_ACTION_ENGAGE) by anyone else
 *   joins its (author key, conversation) item or starts one, and sets
 *   item->item_id (replaced), item_seq, item_status (open or reopened),
 *   item_opened_ms and item_first_unanswered_ms (the SLA start: pass it
 *   to hark_score_item as `now_ms`). An edit of the item's last post
 *   keeps the item's sequence.
 * - Other posts, tombstones and posts without an author decide nothing.
 *
 * Every reply seen here (any action, brand or not) also enters the thread
 * index, as with hark_conv_note_post(); a replay does not touch it.
 *
 * The post's time is its created_at, else `now_ms`. `event_id` is the
 * post event's id (hark_event_id with HARK_SCHEMA_POST): an observation
 * already applied gives the same item fields and changes (marked
 * is_replay) as the first time and changes nothing.
 *
 * Returns HARK_OK, or HARK_EIO when a replay's stored decision could not
 * be read: nothing changed, the item fields are unset, the error logged.
 */
HARK_MUST_CHECK hark_err_t hark_conv_observe(struct hark_conv *conv,
                                             struct hark_item *item,
                                             bool is_brand,
                                             const char *event_id,
                                             int64_t now_ms,
                                             struct hark_conv_changes *out);

/*
 * Remembers the thread of a post that hark_conv_observe() does not see
 * (one no rule kept), so that replies to it find their thread: posts of
 * platforms without a thread root (Mastodon: conversation_id is the
 * parent) chain through it. Call it for every post not given to
 * hark_conv_observe (that one indexes its post itself). Cheap: nothing for
 * a post that is not a reply, else a lookup or two (memory, then the file)
 * and one row at the next commit. Not an observation: no event id, no
 * decision, no change; a post already indexed keeps its entry.
 * hark_conv_is_dirty() is then true until the next commit.
 *
 * `post` is borrowed; its time is its created_at, else `now_ms`. NULL
 * `conv` or `post` does nothing. Thread: the owner of `conv`.
 */
void hark_conv_note_post(struct hark_conv *conv, const struct hark_post *post,
                         int64_t now_ms);

/*
 * Counts the items retention will delete at the next commits (see
 * hark_conv_commit), on the retention clock or `now_ms`, the earlier;
 * changes nothing (retention runs in hark_conv_commit, not here). For a
 * periodic tick or stats; O(items).
 */
size_t hark_conv_expire(struct hark_conv *conv, int64_t now_ms);

/*
 * Writes every change since the last commit in one SQLite transaction.
 * Call before acknowledging (hark_ingest_ack) the posts observed since the
 * last commit.
 *
 * Retention runs in the same transaction, after the batch is written: it
 * deletes up to 5,000 items (oldest first; a backlog goes over the next
 * commits) whose last activity is older than what
 * hark_conv_cfg.retention_ms keeps, on the retention clock: the newest
 * post time observed (created_at, else now_ms), never ahead of the
 * now_ms given to hark_conv_observe. They leave memory once the
 * transaction committed (stats.expired). Thread index entries are written
 * in the same transaction and deleted, 5,000 at most per commit, once the
 * post is older than open items are kept (stats.roots_expired). Applied ids and decisions are
 * not touched: a replay of a deleted item's post returns its first
 * decision and changes nothing; a new post starts a new item (a brand
 * reply finds nothing to answer).
 *
 * Failure: HARK_EIO, nothing written or deleted, the changes stay pending
 * (retry later), `errbuf` says why.
 */
HARK_MUST_CHECK hark_err_t hark_conv_commit(struct hark_conv *conv,
                                            char *errbuf, size_t errbuf_len);

/* True when there are changes not yet committed. */
bool hark_conv_is_dirty(const struct hark_conv *conv);

const struct hark_conv_stats *hark_conv_stats_get(const struct hark_conv *conv);

/* ---- destroy ---- */

/* Closes the store without committing (pending changes are redone by the
 * replay). NULL does nothing. */
void hark_conv_free(struct hark_conv *conv);

#endif /* HARK_CONVERSATION_H */
