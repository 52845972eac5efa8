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
 * Retention. An answered item that can no longer be reopened is kept
 * retention_days after its last activity (the later of its last post and
 * its answer), an open one at least WAITING_MAX_MS (a brand reply may
 * still come); then hark_conv_commit() deletes it, in the commit's
 * transaction, after writing the batch, at most RETIRE_PER_COMMIT per
 * commit, oldest first (an index on status and last activity finds them),
 * and once the transaction committed it leaves memory too. The clock is
 * the newest post time observed, never ahead of now_ms: a catch-up of old
 * posts does not delete what it is building, and a post dated in the
 * future cannot wipe the state. Retention touches neither the applied ids
 * nor the decisions: a replay of a deleted item's post is still
 * recognised and returns its first decision, changing nothing.
 *
 * Thread roots. Items are keyed by the thread root. Where the adapter
 * gives one (conversation_id set and not the parent: Reddit, Bluesky, HN,
 * X) it is taken as it is. Mastodon statuses have no root, and the adapter
 * sets conversation_id to the parent; for such replies a thread index
 * (platform, post id) -> root, filled from every reply hark sees
 * (hark_conv_note_post for posts no rule kept), gives the parent's root.
 * It is persisted with the decisions (table thread_roots), bounded in
 * memory (least recently used clean entries leave; a miss reads the file,
 * so eviction never changes a decision), and pruned like open items.
 * docs/internals/conversations.md "Thread roots" has the rule.
 *
 * The SQLite file (schema, open, commit) is enrich/conversation_store.c;
 * what both files share is in conversation_int.h.
 */
#include "hark/conversation.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hark/idwin.h"
#include "hark/log.h"
#include "conversation_int.h"

#define SEP HARK_CONV_KEY_SEP
#define MIN_WINDOW HARK_CONV_MIN_WINDOW
#define MAX_WINDOW 100000000
#define DAY_MS 86400000LL
#define MAX_RETENTION_DAYS 36500
/* Open and reopened items are kept at least this long after their last
 * activity, whatever retention_days says (when it is not 0). */
#define WAITING_MAX_MS (90 * DAY_MS)
#define RETIRE_PER_COMMIT 5000

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
    cfg->retention_ms = 30 * DAY_MS;
}

void hark_conv_cfg_cleanup(struct hark_conv_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
}

static const struct hark_cfgmap conv_map[] = {
    {"group_window_s", HARK_JSON_NUMBER, false, NULL},
    {"reopen_days", HARK_JSON_NUMBER, false, NULL},
    {"applied_window", HARK_JSON_INTEGER, false, NULL},
    {"retention_days", HARK_JSON_NUMBER, false, NULL},
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

/* retention_days: a number in [0, MAX_RETENTION_DAYS]; 0 = keep forever. */
static hark_err_t parse_retention(const struct hark_json_doc *doc,
                                  const struct hark_json *obj,
                                  struct hark_diag *diag, int64_t *out)
{
    const struct hark_json *v = hark_json_get(obj, "retention_days");
    if (!v || !(v->type & HARK_JSON_NUMBER)) {
        return HARK_OK; /* missing, or a type error the map reported */
    }
    if (!isfinite(v->d) || v->d < 0 || v->d > MAX_RETENTION_DAYS) {
        hark_json_error(doc, diag, v->offset,
                        "conversations.retention_days must be at least 0 "
                        "(keep forever) and at most %d, not %g",
                        MAX_RETENTION_DAYS, v->d);
        return HARK_EINVAL;
    }
    *out = (int64_t)llround(v->d * (double)DAY_MS);
    if (*out < 1 && v->d > 0) {
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
    if (parse_retention(doc, obj, diag, &tmp.retention_ms) != HARK_OK) {
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

static struct hark_conv_thread **
table_slot(struct hark_conv_thread_table *t, const char *key, uint64_t hash)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)mix64(hash) & mask;
    for (;;) {
        struct hark_conv_thread *th = t->slots[i];
        if (!th || (th->hash == hash && strcmp(th->key, key) == 0)) {
            return &t->slots[i];
        }
        i = (i + 1) & mask;
    }
}

static void table_grow(struct hark_conv_thread_table *t)
{
    struct hark_conv_thread_table bigger = {
        .cap = t->cap ? 2 * t->cap : 1024,
        .n = t->n,
    };
    bigger.slots = hark_xcalloc(bigger.cap, sizeof(*bigger.slots));
    for (size_t i = 0; i < t->cap; i++) {
        struct hark_conv_thread *th = t->slots[i];
        if (th) {
            *table_slot(&bigger, th->key, th->hash) = th;
        }
    }
    free(t->slots);
    *t = bigger;
}

/* Removes `th` by backward-shift deletion (no tombstones). */
static void table_remove(struct hark_conv_thread_table *t,
                         struct hark_conv_thread *th)
{
    size_t mask = t->cap - 1;
    struct hark_conv_thread **slot = table_slot(t, th->key, th->hash);
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

/* Lookup keys fit here; longer ones are allocated. */
#define KEY_BUF 256

/*
 * "platform SEP id" into `buf` (KEY_BUF bytes), or into a new string when
 * it does not fit (free it with key_free). A stack buffer, not a new
 * string: lookups run per post and most of them find what they look for.
 */
static char *key_make(const char *platform, const char *id, char *buf)
{
    const char *pf = platform ? platform : "";
    size_t p_len = strlen(pf);
    size_t i_len = strlen(id);
    char *out = buf;
    if (p_len + 1 + i_len + 1 > KEY_BUF) {
        out = hark_xmalloc(p_len + 1 + i_len + 1);
    }
    memcpy(out, pf, p_len);
    out[p_len] = SEP;
    memcpy(out + p_len + 1, id, i_len + 1);
    return out;
}

static void key_free(char *key, const char *buf)
{
    if (key != buf) {
        free(key);
    }
}

/* A key from key_make the caller owns from now on. */
static char *key_keep(char *key, const char *buf)
{
    return key == buf ? hark_xstrdup(key) : key;
}

static struct hark_conv_thread *
thread_find(struct hark_conv *conv, const char *platform, const char *conv_id)
{
    char buf[KEY_BUF];
    char *key = key_make(platform, conv_id, buf);
    struct hark_conv_thread *th =
        *table_slot(&conv->threads, key, str_hash(key));
    key_free(key, buf);
    return th;
}

static struct hark_conv_thread *
thread_get(struct hark_conv *conv, const char *platform, const char *conv_id)
{
    struct hark_conv_thread_table *t = &conv->threads;
    char buf[KEY_BUF];
    char *key = key_make(platform, conv_id, buf);
    uint64_t hash = str_hash(key);
    struct hark_conv_thread **slot = table_slot(t, key, hash);
    if (*slot) {
        key_free(key, buf);
        return *slot;
    }
    key = key_keep(key, buf);
    if ((t->n + 1) * 10 > t->cap * 7) {
        table_grow(t);
        slot = table_slot(t, key, hash);
    }
    struct hark_conv_thread *th = hark_xcalloc(1, sizeof(*th));
    th->key = key;
    th->hash = hash;
    th->platform = hark_xstrdup(platform ? platform : "");
    th->conv_id = hark_xstrdup(conv_id);
    *slot = th;
    t->n++;
    return th;
}

static void entry_free(struct hark_conv_entry *e)
{
    free(e->author_key);
    free(e->last_post_id);
    free(e);
}

static void thread_free(struct hark_conv_thread *th)
{
    while (th->entries) {
        struct hark_conv_entry *e = th->entries;
        th->entries = e->next;
        entry_free(e);
    }
    free(th->key);
    free(th->platform);
    free(th->conv_id);
    free(th);
}

static struct hark_conv_entry *entry_find(const struct hark_conv_thread *th,
                                          const char *author_key)
{
    for (struct hark_conv_entry *e = th->entries; e; e = e->next) {
        if (strcmp(e->author_key, author_key) == 0) {
            return e;
        }
    }
    return NULL;
}

static struct hark_conv_entry *entry_add(struct hark_conv *conv,
                                         struct hark_conv_thread *th,
                                         const char *author_key)
{
    struct hark_conv_entry *e = hark_xcalloc(1, sizeof(*e));
    e->author_key = hark_xstrdup(author_key);
    e->thread = th;
    e->next = th->entries;
    th->entries = e;
    conv->stats.items++;
    return e;
}

static void mark_dirty(struct hark_conv *conv, struct hark_conv_entry *e)
{
    if (!e->is_dirty) {
        e->is_dirty = true;
        HARK_CONV_VEC_PUSH(conv->dirty, e);
    }
}

struct hark_conv_entry *hark_conv_entry_get(struct hark_conv *conv,
                                            const char *platform,
                                            const char *conv_id,
                                            const char *author_key,
                                            bool *is_new)
{
    struct hark_conv_thread *th = thread_get(conv, platform, conv_id);
    struct hark_conv_entry *e = entry_find(th, author_key);
    *is_new = e == NULL;
    if (!e) {
        e = entry_add(conv, th, author_key);
    }
    return e;
}

/* Drops the entry of `k` (and its thread once empty) from memory. */
static bool forget_entry(struct hark_conv *conv,
                         const struct hark_conv_row_key *k)
{
    struct hark_conv_thread *th = thread_find(conv, k->platform, k->conv_id);
    if (!th) {
        return false;
    }
    for (struct hark_conv_entry **pe = &th->entries; *pe; pe = &(*pe)->next) {
        struct hark_conv_entry *e = *pe;
        if (strcmp(e->author_key, k->author_key) != 0) {
            continue;
        }
        hark_assert(!e->is_dirty);
        *pe = e->next;
        entry_free(e);
        conv->stats.items--;
        if (!th->entries) {
            table_remove(&conv->threads, th);
            thread_free(th);
        }
        return true;
    }
    return false;
}

/* ---- the thread index: (platform, post id) -> thread root ---------------
 *
 * Open addressing with linear probing like the threads, plus a list in use
 * order: past `max` entries the least recently used clean ones leave
 * memory (the file keeps them; a miss in memory reads the file). Dirty
 * entries stay until the commit wrote them, so memory and file together
 * always hold the whole index and eviction never changes a decision.
 */

static struct hark_conv_root **roots_slot(struct hark_conv_root_table *t,
                                          const char *key, uint64_t hash)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)mix64(hash) & mask;
    for (;;) {
        struct hark_conv_root *r = t->slots[i];
        if (!r || (r->hash == hash && strcmp(r->key, key) == 0)) {
            return &t->slots[i];
        }
        i = (i + 1) & mask;
    }
}

static void roots_grow(struct hark_conv_root_table *t)
{
    size_t cap = t->cap ? 2 * t->cap : 1024;
    struct hark_conv_root **old = t->slots;
    size_t old_cap = t->cap;
    t->slots = hark_xcalloc(cap, sizeof(*t->slots));
    t->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i]) {
            *roots_slot(t, old[i]->key, old[i]->hash) = old[i];
        }
    }
    free(old);
}

static void roots_unlink(struct hark_conv_root_table *t,
                         struct hark_conv_root *r)
{
    if (r->older) {
        r->older->newer = r->newer;
    } else {
        t->oldest = r->newer;
    }
    if (r->newer) {
        r->newer->older = r->older;
    } else {
        t->newest = r->older;
    }
    r->older = r->newer = NULL;
}

static void roots_link_newest(struct hark_conv_root_table *t,
                              struct hark_conv_root *r)
{
    r->older = t->newest;
    r->newer = NULL;
    if (t->newest) {
        t->newest->newer = r;
    } else {
        t->oldest = r;
    }
    t->newest = r;
}

static void root_free(struct hark_conv_root *r)
{
    free(r->key);
    free(r->root);
    free(r);
}

/* Drops `r` from memory: backward-shift deletion, as table_remove. */
static void roots_remove(struct hark_conv *conv, struct hark_conv_root *r)
{
    struct hark_conv_root_table *t = &conv->roots;
    size_t mask = t->cap - 1;
    struct hark_conv_root **slot = roots_slot(t, r->key, r->hash);
    hark_assert(*slot == r && !r->is_dirty);
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
    roots_unlink(t, r);
    root_free(r);
    conv->stats.roots_cached = t->n;
}

/* Evicts the least recently used clean entries beyond the bound. */
static void roots_trim(struct hark_conv *conv)
{
    struct hark_conv_root_table *t = &conv->roots;
    while (t->n > t->max && t->oldest && !t->oldest->is_dirty) {
        roots_remove(conv, t->oldest);
    }
}

/* Adds an entry (takes `key` and `root`) as the most recently used. */
static struct hark_conv_root *roots_add(struct hark_conv *conv, char *key,
                                        size_t platform_len, uint64_t hash,
                                        char *root, int64_t post_ms,
                                        bool is_dirty)
{
    struct hark_conv_root_table *t = &conv->roots;
    if ((t->n + 1) * 10 > t->cap * 7) {
        roots_grow(t);
    }
    struct hark_conv_root **slot = roots_slot(t, key, hash);
    hark_assert(*slot == NULL);
    struct hark_conv_root *r = hark_xcalloc(1, sizeof(*r));
    r->key = key;
    r->platform_len = platform_len;
    r->hash = hash;
    r->root = root;
    r->post_ms = post_ms;
    r->is_dirty = is_dirty;
    *slot = r;
    t->n++;
    roots_link_newest(t, r);
    if (is_dirty) {
        HARK_CONV_VEC_PUSH(conv->dirty_roots, r);
    }
    roots_trim(conv);
    conv->stats.roots_cached = t->n;
    return r;
}

/* The index entry of post `id`: memory, else the file (then cached);
 * NULL when it has none. Borrowed until the next roots_add. */
static struct hark_conv_root *root_find(struct hark_conv *conv,
                                        const char *platform, const char *id)
{
    const char *pf = platform ? platform : "";
    char buf[KEY_BUF];
    char *key = key_make(pf, id, buf);
    uint64_t hash = str_hash(key);
    struct hark_conv_root *r = *roots_slot(&conv->roots, key, hash);
    if (r) {
        key_free(key, buf);
        roots_unlink(&conv->roots, r);
        roots_link_newest(&conv->roots, r);
        return r;
    }
    char *root = NULL;
    int64_t post_ms = 0;
    if (hark_conv_store_root_get(conv, pf, id, &root, &post_ms) != HARK_OK ||
        !root) {
        key_free(key, buf);
        return NULL; /* a read error counts as a miss (logged) */
    }
    return roots_add(conv, key_keep(key, buf), strlen(pf), hash, root,
                     post_ms, false);
}

/* Drops the entry of `key` (platform SEP post id) from memory, if there. */
static bool roots_forget(struct hark_conv *conv, const char *key)
{
    struct hark_conv_root *r =
        *roots_slot(&conv->roots, key, str_hash(key));
    if (!r) {
        return false;
    }
    roots_remove(conv, r);
    return true;
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

/* Index entries followed from one post, at most. */
#define ROOT_HOPS 8

/* Distinct ids met while following the index (owned). */
struct root_path {
    char *v[ROOT_HOPS + 3];
    size_t n;
};

static void path_add(struct root_path *path, const char *id)
{
    if (!path || !id || !*id || path->n == sizeof(path->v) / sizeof(*path->v)) {
        return;
    }
    for (size_t i = 0; i < path->n; i++) {
        if (strcmp(path->v[i], id) == 0) {
            return;
        }
    }
    path->v[path->n++] = hark_xstrdup(id);
}

static void path_cleanup(struct root_path *path)
{
    for (size_t i = 0; i < path->n; i++) {
        free(path->v[i]);
    }
    path->n = 0;
}

/*
 * The thread root of post `id` (caller frees): follows the index from `id`
 * (post -> its root -> that one's root, when a parent arrived after its
 * replies), at most ROOT_HOPS entries; `id` itself when it has no entry.
 * Adds every id met after `id` to `path` (NULL: not wanted).
 */
static char *follow(struct hark_conv *conv, const char *platform,
                    const char *id, struct root_path *path)
{
    char *cur = hark_xstrdup(id);
    for (int hop = 0; hop < ROOT_HOPS; hop++) {
        struct hark_conv_root *r = root_find(conv, platform, cur);
        if (!r || strcmp(r->root, cur) == 0) {
            break;
        }
        free(cur);
        cur = hark_xstrdup(r->root);
        path_add(path, cur);
    }
    return cur;
}

/*
 * The thread root of `post` (caller frees; NULL when it has no id and no
 * conversation), recorded in the index when it came through it:
 *
 * - not a reply: conversation_id, else its own id;
 * - a reply whose conversation_id is set and is not its parent: the
 *   adapter gave the root (Reddit link_id, Bluesky reply.root, HN
 *   story_id, X conversation_id): taken as it is, not indexed;
 * - a reply whose conversation_id is its parent or missing (Mastodon,
 *   the JSON source): its own index entry when it has one (the first
 *   observation decides), else the parent's root through the index (the
 *   parent itself when unknown), then recorded as the post's entry
 *   (reposts aside: nobody replies to a repost's id).
 */
static char *post_root(struct hark_conv *conv, const struct hark_post *post,
                       int64_t t)
{
    const char *parent = nonempty(post->in_reply_to);
    const char *conv_id = nonempty(post->conversation_id);
    const char *id = nonempty(post->id);
    if (!parent) {
        const char *root = conv_id ? conv_id : id;
        return root ? hark_xstrdup(root) : NULL;
    }
    if (conv_id && strcmp(conv_id, parent) != 0) {
        return hark_xstrdup(conv_id);
    }
    if (!id || post->is_repost) {
        return follow(conv, post->platform, parent, NULL);
    }
    struct hark_conv_root *own = root_find(conv, post->platform, id);
    if (own) {
        return hark_xstrdup(own->root);
    }
    char *root = follow(conv, post->platform, parent, NULL);
    if (strcmp(root, id) != 0) {
        const char *pf = post->platform ? post->platform : "";
        char buf[KEY_BUF];
        char *key = key_keep(key_make(pf, id, buf), buf);
        (void)roots_add(conv, key, strlen(pf), str_hash(key),
                        hark_xstrdup(root), t, true);
        conv->stats.roots_indexed++;
    }
    return root;
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
    roots_grow(&conv->roots);
    conv->roots.max = HARK_CONV_ROOTS_MAX;
    char errbuf[768];
    if (hark_conv_store_open(conv, errbuf, sizeof(errbuf)) != HARK_OK) {
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

void hark_conv_decision_cleanup(struct hark_conv_decision *d)
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
    conv->new_ids.n = 0;
    for (size_t i = 0; i < conv->decisions.n; i++) {
        hark_conv_decision_cleanup(&conv->decisions.v[i]);
    }
    conv->decisions.n = 0;
    for (size_t i = 0; i < conv->dirty_roots.n; i++) {
        conv->dirty_roots.v[i]->is_dirty = false;
    }
    conv->dirty_roots.n = 0;
}

static void clear_retired(struct hark_conv *conv)
{
    for (size_t i = 0; i < conv->retired.n; i++) {
        free(conv->retired.v[i].author_key);
        free(conv->retired.v[i].platform);
        free(conv->retired.v[i].conv_id);
    }
    conv->retired.n = 0;
    for (size_t i = 0; i < conv->retired_roots.n; i++) {
        free(conv->retired_roots.v[i]);
    }
    conv->retired_roots.n = 0;
}

void hark_conv_free(struct hark_conv *conv)
{
    if (!conv) {
        return;
    }
    clear_pending(conv);
    clear_retired(conv);
    free(conv->dirty.v);
    free(conv->retired.v);
    free(conv->new_ids.v);
    free(conv->decisions.v);
    for (size_t i = 0; i < conv->threads.cap; i++) {
        if (conv->threads.slots[i]) {
            thread_free(conv->threads.slots[i]);
        }
    }
    free(conv->threads.slots);
    while (conv->roots.oldest) {
        struct hark_conv_root *r = conv->roots.oldest;
        roots_unlink(&conv->roots, r);
        root_free(r);
    }
    free(conv->roots.slots);
    free(conv->dirty_roots.v);
    free(conv->retired_roots.v);
    hark_idwin_cleanup(&conv->applied);
    hark_conv_store_close(conv);
    free(conv->path);
    free(conv);
}

bool hark_conv_is_dirty(const struct hark_conv *conv)
{
    return conv->dirty.n || conv->new_ids.n || conv->decisions.n ||
           conv->dirty_roots.n;
}

const struct hark_conv_stats *hark_conv_stats_get(const struct hark_conv *conv)
{
    return &conv->stats;
}

/* ---- commit ------------------------------------------------------------- */

/* How long items of each kind are kept after their last activity; 0 =
 * forever. */
static int64_t keep_answered_ms(const struct hark_conv_cfg *cfg)
{
    if (cfg->retention_ms <= 0) {
        return 0;
    }
    return cfg->retention_ms > cfg->reopen_ms ? cfg->retention_ms
                                              : cfg->reopen_ms;
}

static int64_t keep_waiting_ms(const struct hark_conv_cfg *cfg)
{
    int64_t keep = keep_answered_ms(cfg);
    if (keep == 0) {
        return 0;
    }
    if (keep < WAITING_MAX_MS) {
        keep = WAITING_MAX_MS;
    }
    return keep > cfg->group_window_ms ? keep : cfg->group_window_ms;
}

/* Last activity before this is due (0 = nothing is). */
static int64_t cutoff(int64_t clock_ms, int64_t keep_ms)
{
    return keep_ms > 0 && clock_ms > keep_ms ? clock_ms - keep_ms : 0;
}

static int64_t last_activity(const struct hark_conv_entry *e)
{
    return e->last_post_ms > e->answered_ms ? e->last_post_ms : e->answered_ms;
}

hark_err_t hark_conv_commit(struct hark_conv *conv, char *errbuf,
                            size_t errbuf_len)
{
    if (!hark_conv_is_dirty(conv)) {
        return HARK_OK;
    }
    struct hark_conv_retention ret = {
        .answered_before_ms =
            cutoff(conv->clock_ms, keep_answered_ms(&conv->cfg)),
        .waiting_before_ms =
            cutoff(conv->clock_ms, keep_waiting_ms(&conv->cfg)),
        .limit = RETIRE_PER_COMMIT,
        /* The index lives as long as the longest kept items: a reply to
         * any post of a thread can still join, reopen or answer one. */
        .roots_before_ms =
            cutoff(conv->clock_ms, keep_waiting_ms(&conv->cfg)),
    };
    clear_retired(conv);
    if (hark_conv_store_commit(conv, &ret, errbuf, errbuf_len) != HARK_OK) {
        clear_retired(conv); /* rolled back: still there */
        conv->stats.commit_errors++;
        return HARK_EIO;
    }
    clear_pending(conv); /* first: retired items may have been dirty */
    for (size_t i = 0; i < conv->retired.n; i++) {
        if (forget_entry(conv, &conv->retired.v[i])) {
            conv->stats.expired++;
        }
    }
    for (size_t i = 0; i < conv->retired_roots.n; i++) {
        (void)roots_forget(conv, conv->retired_roots.v[i]);
        conv->stats.roots_expired++;
    }
    clear_retired(conv);
    roots_trim(conv);
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

static void item_id(const char *author_key,
                    const struct hark_conv_thread *th,
                    const char *event_id,
                    char out[17])
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

static void record(struct hark_conv *conv,
                   uint64_t obs,
                   int64_t ord,
                   enum hark_conv_decision_kind kind,
                   const struct hark_conv_entry *e)
{
    struct hark_conv_decision d = {
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
    HARK_CONV_VEC_PUSH(conv->decisions, d);
}

static void apply_decision(const struct hark_conv_decision *d,
                           struct hark_item *item,
                           struct hark_conv_changes *out)
{
    if (d->kind == HARK_CONV_DEC_ITEM) {
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
    struct hark_conv_decisions stored = {0};
    hark_err_t err = hark_conv_store_decisions(conv, obs, &stored);
    for (size_t i = 0; i < stored.n; i++) {
        if (err == HARK_OK) {
            apply_decision(&stored.v[i], item, out);
        }
        hark_conv_decision_cleanup(&stored.v[i]);
    }
    free(stored.v);
    return err;
}

/* Marks the open items of `conv_id` answered by a brand post at `t`. */
static void answer_thread(struct hark_conv *conv, const char *platform,
                          const char *conv_id, int64_t t, uint64_t obs,
                          int64_t ord, struct hark_conv_changes *out)
{
    struct hark_conv_thread *th = thread_find(conv, platform, conv_id);
    if (!th) {
        return;
    }
    for (struct hark_conv_entry *e = th->entries; e; e = e->next) {
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
        record(conv, obs, ord, HARK_CONV_DEC_ANSWER, e);
        push_change(out, e->id, e->author_key, th->platform, th->conv_id,
                    e->seq, e->status, e->opened_ms, e->answered_ms, false);
        conv->stats.answered++;
    }
}

static void start_item(struct hark_conv *conv,
                       struct hark_conv_entry *e,
                       const char *event_id,
                       int64_t t)
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
static void join_item(struct hark_conv *conv,
                      struct hark_conv_entry *e,
                      bool is_new,
                      const struct hark_post *post,
                      const char *event_id,
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

/* Moves the retention clock to a post at `t`, never past `now_ms`. */
static void clock_advance(struct hark_conv *conv, int64_t t, int64_t now_ms)
{
    int64_t clock = t < now_ms ? t : now_ms;
    if (clock > conv->clock_ms) {
        conv->clock_ms = clock;
    }
}

void hark_conv_note_post(struct hark_conv *conv, const struct hark_post *post,
                         int64_t now_ms)
{
    if (!conv || !post || post->is_deleted) {
        return;
    }
    int64_t t = post_time(post, now_ms);
    clock_advance(conv, t, now_ms);
    if (nonempty(post->in_reply_to)) {
        free(post_root(conv, post, t));
    }
}

/* A brand reply at `t` answers the open items of its thread: every
 * conversation it names (its root, conversation_id, in_reply_to) and the
 * ones the index leads to from its parent (a reply that started a thread
 * of its own before its parent was seen is still in it). */
static void answer_reply(struct hark_conv *conv, const struct hark_post *post,
                         const char *root, int64_t t, uint64_t obs,
                         int64_t ord, struct hark_conv_changes *out)
{
    struct root_path path = {0};
    path_add(&path, root);
    path_add(&path, post->conversation_id);
    path_add(&path, post->in_reply_to);
    if (nonempty(post->in_reply_to)) {
        free(follow(conv, post->platform, post->in_reply_to, &path));
    }
    for (size_t i = 0; i < path.n; i++) {
        answer_thread(conv, post->platform, path.v[i], t, obs, ord, out);
    }
    path_cleanup(&path);
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
    char *key = NULL;
    if (is_brand) {
        if (!nonempty(post->conversation_id) && !nonempty(post->in_reply_to)) {
            return HARK_OK; /* not a reply: answers nothing, ever */
        }
    } else {
        if (item->action != HARK_ACTION_ENGAGE) {
            hark_conv_note_post(conv, post, now_ms); /* no item: indexed */
            return HARK_OK;
        }
        key = post_conversation(post) ? author_key(item) : NULL;
        if (!key) {
            hark_conv_note_post(conv, post, now_ms);
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
    struct hark_conv_applied_row row = {.obs_id = obs, .ord = ord};
    HARK_CONV_VEC_PUSH(conv->new_ids, row);
    conv->stats.observed++;
    int64_t t = post_time(post, now_ms);
    clock_advance(conv, t, now_ms);
    char *root = post_root(conv, post, t);
    hark_assert(root); /* a reply, or a post with a conversation */

    if (is_brand) {
        answer_reply(conv, post, root, t, obs, ord, out);
        free(root);
        return HARK_OK;
    }
    struct hark_conv_thread *th = thread_get(conv, post->platform, root);
    free(root);
    struct hark_conv_entry *e = entry_find(th, key);
    bool is_new = e == NULL;
    if (is_new) {
        e = entry_add(conv, th, key);
    }
    free(key);
    join_item(conv, e, is_new, post, event_id, t);
    record(conv, obs, ord, HARK_CONV_DEC_ITEM, e);
    fill_item(item, e->id, e->seq, e->status, e->opened_ms,
              e->first_unanswered_ms);
    return HARK_OK;
}

/* ---- retention ---------------------------------------------------------- */

size_t hark_conv_expire(struct hark_conv *conv, int64_t now_ms)
{
    int64_t clock = conv->clock_ms < now_ms ? conv->clock_ms : now_ms;
    int64_t answered_before = cutoff(clock, keep_answered_ms(&conv->cfg));
    int64_t waiting_before = cutoff(clock, keep_waiting_ms(&conv->cfg));
    size_t n_due = 0;
    const struct hark_conv_thread_table *t = &conv->threads;
    for (size_t i = 0; i < t->cap; i++) {
        const struct hark_conv_thread *th = t->slots[i];
        for (const struct hark_conv_entry *e = th ? th->entries : NULL; e;
             e = e->next) {
            int64_t before = e->status == HARK_CONV_ANSWERED ? answered_before
                                                             : waiting_before;
            if (last_activity(e) < before) {
                n_due++;
            }
        }
    }
    return n_due;
}
