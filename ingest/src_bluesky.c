/*
 * src_bluesky: the Bluesky adapter (AppView XRPC, polled).
 *
 * Two endpoints, chosen by the config:
 *   query: GET /xrpc/app.bsky.feed.searchPosts?q=..&limit=..&sort=latest
 *          (optional lang, author, mentions, domain, tag: the lexicon's
 *          filters), answering {"cursor", "posts": [PostView]};
 *   actor: GET /xrpc/app.bsky.feed.getAuthorFeed?actor=..&limit=..
 *          (optional filter), answering {"cursor", "feed": [FeedViewPost]},
 *          where a FeedViewPost is {post, reason?} and a repost carries
 *          reason {"$type": "app.bsky.feed.defs#reasonRepost", by,
 *          indexedAt}.
 *
 * Paging. Both answer newest first, and their `cursor` is opaque (an
 * offset such as "25" for search, a timestamp for feeds): it only goes
 * back in time. So a poll walks back from the newest page with the
 * response cursor until it meets an item at or older than the committed
 * high-water mark, and the mark moves only when the walk ends (is_forward
 * false): an interrupted walk commits nothing and is repeated.
 *
 * The mark is "<time>|<id>": the newest item's sort time as RFC 3339 with
 * milliseconds, '|' and its id (no space, so log lines that carry the
 * cursor as key=value stay parseable). The sort time is what
 * the AppView orders by: for a post min(indexedAt, createdAt) ("sortAt";
 * a post dated in the future sorts at its indexing time), for a repost
 * the time it was reposted. An item is old when its time is earlier than
 * the mark's, or equal with the same id; an equal time with another id
 * is delivered (the dedup window drops a repeat).
 *
 *   - first run (no mark): the newest backfill_pages pages;
 *   - with a mark: back until an old item, at most max_pages pages (50 by
 *     default); a walk cut there says so in errbuf (the posts between the
 *     oldest one read and the mark are not read) and still succeeds.
 *
 * Posts. id = the post's at:// URI; text = record.text (embedded and
 * quoted posts are not folded in); facets index the UTF-8 bytes of the
 * text: links, mentions (the handle is the text the facet covers) and
 * tags. A repost gets its own id: reason.uri when the AppView gives it,
 * else "<original uri>#repost/<reposter did>/<reason.indexedAt>".
 *
 * Thread: ingest thread only (the state is not shared).
 */
#include "hark/source.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source_int.h"

#define BLUESKY_MAX_LIMIT 100
#define BLUESKY_MAX_PAGES 50

static const char repost_type[] = "app.bsky.feed.defs#reasonRepost";
static const char pin_type[] = "app.bsky.feed.defs#reasonPin";
static const char link_type[] = "app.bsky.richtext.facet#link";
static const char mention_type[] = "app.bsky.richtext.facet#mention";
static const char tag_type[] = "app.bsky.richtext.facet#tag";

static const char *const feed_filters[] = {
    "posts_with_replies", "posts_no_replies",        "posts_with_media",
    "posts_and_author_threads", "posts_with_video", NULL,
};

struct bluesky {
    char *name;
    char *base_url;     /* without trailing '/' */
    char *request;      /* "/xrpc/...?q=acme&limit=100&sort=latest" */
    bool is_feed;       /* getAuthorFeed: items are FeedViewPosts */
    int backfill_pages; /* pages a first run reads (>= 1) */
    int max_pages;      /* pages a walk with a mark reads at most */
    /* from the last build_url: one request in flight per source */
    char *mark;         /* the committed cursor, or NULL */
    int page_index;
};

static const struct hark_cfgmap bluesky_cfgmap[] = {
    {"query", HARK_JSON_STRING, false, NULL},
    {"actor", HARK_JSON_STRING, false, NULL},
    {"lang", HARK_JSON_STRING, false, NULL},
    {"author", HARK_JSON_STRING, false, NULL},
    {"mentions", HARK_JSON_STRING, false, NULL},
    {"domain", HARK_JSON_STRING, false, NULL},
    {"tag", HARK_JSON_STRING | HARK_JSON_ARRAY, false, NULL},
    {"filter", HARK_JSON_STRING, false, NULL},
    {"max_pages", HARK_JSON_INTEGER, false, NULL},
    {NULL, 0, false, NULL},
};

/* The searchPosts filters, in the order they go into the URL. */
static const char *const search_params[] = {
    "lang", "author", "mentions", "domain", NULL,
};

/* ---- config ---- */

static void bluesky_free(void *state)
{
    struct bluesky *b = state;
    if (!b) {
        return;
    }
    free(b->name);
    free(b->base_url);
    free(b->request);
    free(b->mark);
    free(b);
}

static void add_param(struct hark_buf *buf, const char *name, const char *v)
{
    hark_err_t err = hark_buf_printf(buf, "&%s=", name);
    if (err == HARK_OK) {
        err = hark_url_encode(buf, v, strlen(v));
    }
    hark_assert(err == HARK_OK); /* unbounded */
}

static bool is_blank(const char *s)
{
    for (; *s; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
            return false;
        }
    }
    return true;
}

/* A key of `obj` that must be a non-empty string; false when it is not. */
static bool check_text(const struct hark_json_doc *doc,
                       const struct hark_json *obj,
                       const char *key,
                       struct hark_diag *diag)
{
    const struct hark_json *v = hark_json_get(obj, key);
    if (!v) {
        return true;
    }
    if (v->type != HARK_JSON_STRING) {
        return false; /* reported by the cfgmap check */
    }
    if (is_blank(v->s)) {
        hark_json_error(doc, diag, v->offset, "\"%s\" must not be empty",
                        key);
        return false;
    }
    return true;
}

/* Keys that belong to the other endpoint: one error each. */
static bool refuse_keys(const struct hark_json_doc *doc,
                        const struct hark_json *obj,
                        const char *const *keys,
                        const char *why,
                        struct hark_diag *diag)
{
    bool is_ok = true;
    for (size_t i = 0; keys[i]; i++) {
        if (hark_json_get(obj, keys[i])) {
            hark_json_error(doc, diag, hark_json_key_offset(obj, keys[i]),
                            "\"%s\" %s", keys[i], why);
            is_ok = false;
        }
    }
    return is_ok;
}

static bool check_tags(const struct hark_json_doc *doc,
                       const struct hark_json *tag,
                       struct hark_diag *diag)
{
    if (!tag) {
        return true;
    }
    if (tag->type == HARK_JSON_STRING) {
        if (is_blank(tag->s)) {
            hark_json_error(doc, diag, tag->offset,
                            "\"tag\" must not be empty");
            return false;
        }
        return true;
    }
    if (tag->type != HARK_JSON_ARRAY) {
        return false; /* reported by the cfgmap check */
    }
    for (size_t i = 0; i < tag->n; i++) {
        const struct hark_json *t = tag->items[i];
        if (t->type != HARK_JSON_STRING || is_blank(t->s)) {
            hark_json_error(doc, diag, t->offset,
                            "\"tag\" lists hashtags (non-empty strings)");
            return false;
        }
    }
    return true;
}

static void add_tag(struct hark_buf *buf, const char *t)
{
    add_param(buf, "tag", t[0] == '#' ? t + 1 : t);
}

/* The request path and fixed query of a valid config (limit included). */
static char *request_of(const struct hark_json *obj, int limit)
{
    struct hark_buf buf;
    hark_buf_init(&buf, 0);
    const char *actor = hark_json_str(hark_json_get(obj, "actor"));
    hark_err_t err;
    if (actor) {
        err = hark_buf_printf(&buf, "/xrpc/app.bsky.feed.getAuthorFeed?"
                                    "actor=");
        if (err == HARK_OK) {
            err = hark_url_encode(&buf, actor, strlen(actor));
        }
        hark_assert(err == HARK_OK);
        err = hark_buf_printf(&buf, "&limit=%d", limit);
        hark_assert(err == HARK_OK);
        const char *filter = hark_json_str(hark_json_get(obj, "filter"));
        if (filter) {
            add_param(&buf, "filter", filter);
        }
        return hark_buf_take(&buf);
    }
    const char *q = hark_json_str(hark_json_get(obj, "query"));
    err = hark_buf_printf(&buf, "/xrpc/app.bsky.feed.searchPosts?q=");
    if (err == HARK_OK) {
        err = hark_url_encode(&buf, q, strlen(q));
    }
    if (err == HARK_OK) {
        err = hark_buf_printf(&buf, "&limit=%d&sort=latest", limit);
    }
    hark_assert(err == HARK_OK);
    for (size_t i = 0; search_params[i]; i++) {
        const char *v = hark_json_str(hark_json_get(obj, search_params[i]));
        if (v) {
            add_param(&buf, search_params[i], v);
        }
    }
    const struct hark_json *tag = hark_json_get(obj, "tag");
    if (tag && tag->type == HARK_JSON_STRING) {
        add_tag(&buf, tag->s);
    } else if (tag) {
        for (size_t i = 0; i < tag->n; i++) {
            add_tag(&buf, tag->items[i]->s);
        }
    }
    return hark_buf_take(&buf);
}

static bool check_filter(const struct hark_json_doc *doc,
                         const struct hark_json *filter,
                         struct hark_diag *diag)
{
    if (!filter) {
        return true;
    }
    if (filter->type != HARK_JSON_STRING) {
        return false;
    }
    for (size_t i = 0; feed_filters[i]; i++) {
        if (strcmp(filter->s, feed_filters[i]) == 0) {
            return true;
        }
    }
    hark_json_error(doc, diag, filter->offset,
                    "unknown filter \"%s\"; expected \"posts_with_replies\", "
                    "\"posts_no_replies\", \"posts_with_media\", "
                    "\"posts_and_author_threads\" or \"posts_with_video\"",
                    filter->s);
    return false;
}

static hark_err_t bluesky_init(const struct hark_source_cfg *cfg,
                               const struct hark_json_doc *doc,
                               const struct hark_json *obj,
                               struct hark_diag *diag,
                               void **state)
{
    static const char *const search_only[] = {
        "lang", "author", "mentions", "domain", "tag", NULL,
    };
    static const char *const feed_only[] = {"filter", NULL};
    bool is_ok = true;

    *state = NULL;
    /* Types and unknown keys are the cfgmap check's (the engine merges
     * it); init reports what the map cannot say. */
    const struct hark_json *query = hark_json_get(obj, "query");
    const struct hark_json *actor = hark_json_get(obj, "actor");
    if (query && actor) {
        hark_json_error(doc, diag, hark_json_key_offset(obj, "actor"),
                        "give either \"query\" (searchPosts) or \"actor\" "
                        "(getAuthorFeed), not both");
        is_ok = false;
    } else if (!query && !actor) {
        hark_json_error(doc, diag, obj->offset,
                        "a bluesky source needs \"query\" (search posts) or "
                        "\"actor\" (an account's feed: handle or DID)");
        is_ok = false;
    }
    for (size_t i = 0; search_params[i]; i++) {
        is_ok = check_text(doc, obj, search_params[i], diag) && is_ok;
    }
    is_ok = check_text(doc, obj, "query", diag) && is_ok;
    is_ok = check_text(doc, obj, "actor", diag) && is_ok;
    is_ok = check_tags(doc, hark_json_get(obj, "tag"), diag) && is_ok;
    is_ok = check_filter(doc, hark_json_get(obj, "filter"), diag) && is_ok;
    if (actor && !query) {
        is_ok = refuse_keys(doc, obj, search_only,
                            "filters searchPosts; it needs \"query\"",
                            diag) &&
                is_ok;
    } else if (query && !actor) {
        is_ok = refuse_keys(doc, obj, feed_only,
                            "filters getAuthorFeed; it needs \"actor\"",
                            diag) &&
                is_ok;
    }
    const struct hark_json *max_pages = hark_json_get(obj, "max_pages");
    if (max_pages && max_pages->type != HARK_JSON_INTEGER) {
        is_ok = false;
    } else if (max_pages && (max_pages->i < 1 || max_pages->i > 10000)) {
        hark_json_error(doc, diag, max_pages->offset,
                        "\"max_pages\" must be 1 to 10000");
        is_ok = false;
    }
    const char *base = cfg->base_url ? cfg->base_url : "";
    if (strncmp(base, "http://", 7) != 0 &&
        strncmp(base, "https://", 8) != 0) {
        is_ok = false; /* the engine reports it */
    } else if (strcspn(base + (base[4] == 's' ? 8 : 7), "/?#") == 0) {
        hark_json_error(doc, diag, hark_json_key_offset(obj, "base_url"),
                        "\"base_url\" must be the AppView's URL, like "
                        "\"https://public.api.bsky.app\"");
        is_ok = false;
    }
    if (!is_ok) {
        return HARK_EINVAL;
    }

    struct bluesky *b = hark_xcalloc(1, sizeof(*b));
    b->name = hark_xstrdup(cfg->name ? cfg->name : "");
    b->base_url = hark_xstrdup(base);
    size_t n = strlen(b->base_url);
    while (n > 0 && b->base_url[n - 1] == '/') {
        b->base_url[--n] = '\0';
    }
    int limit = cfg->page_limit > 0 && cfg->page_limit < BLUESKY_MAX_LIMIT
                    ? cfg->page_limit
                    : BLUESKY_MAX_LIMIT;
    b->request = request_of(obj, limit);
    b->is_feed = actor != NULL;
    b->backfill_pages = cfg->backfill_pages > 1 ? cfg->backfill_pages : 1;
    b->max_pages = max_pages ? (int)max_pages->i : BLUESKY_MAX_PAGES;
    *state = b;
    return HARK_OK;
}

/* ---- requests ---- */

static hark_err_t bluesky_build_url(void *state,
                                    const char *cursor,
                                    const char *token,
                                    int page_index,
                                    struct hark_buf *url)
{
    struct bluesky *b = state;
    free(b->mark);
    b->mark = cursor && *cursor ? hark_xstrdup(cursor) : NULL;
    b->page_index = page_index;
    hark_buf_reset(url);
    hark_err_t err = hark_buf_printf(url, "%s%s", b->base_url, b->request);
    if (err == HARK_OK && token && *token) {
        err = hark_buf_printf(url, "&cursor=");
        if (err == HARK_OK) {
            err = hark_url_encode(url, token, strlen(token));
        }
    }
    return err;
}

/* ---- marks ---- */

struct mark {
    bool is_set;
    int64_t ms;
    const char *id; /* borrowed from the cursor string */
};

/* false when `cursor` is not "<RFC 3339>|<id>" (then *m is unset). */
static bool mark_parse(const char *cursor, struct mark *m)
{
    memset(m, 0, sizeof(*m));
    if (!cursor) {
        return true;
    }
    const char *sp = strchr(cursor, '|');
    if (!sp || sp == cursor || !sp[1] || sp - cursor >= 40) {
        return false;
    }
    char t[40];
    memcpy(t, cursor, (size_t)(sp - cursor));
    t[sp - cursor] = '\0';
    if (hark_time_parse(t, &m->ms) != HARK_OK) {
        return false;
    }
    m->id = sp + 1;
    m->is_set = true;
    return true;
}

static bool is_old(const struct mark *m, int64_t ms, const char *id)
{
    return m->is_set &&
           (ms < m->ms || (ms == m->ms && strcmp(id, m->id) == 0));
}

/* ---- posts ---- */

static bool strv_has(const struct hark_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++) {
        if (strcmp(sv->v[i], s) == 0) {
            return true;
        }
    }
    return false;
}

/* Adds s[0..len) repaired, unless empty or already there. */
static void strv_add_unique(struct hark_strv *sv,
                            const char *s,
                            size_t len,
                            unsigned *n_repaired)
{
    char *v = hark_utf8_valid(s, len) && !memchr(s, '\0', len)
                  ? hark_xstrndup(s, len)
                  : hark_utf8_repair(s, len, n_repaired);
    if (*v && !strv_has(sv, v)) {
        hark_strv_add(sv, v, strlen(v));
    }
    free(v);
}

static const char *type_of(const struct hark_json *obj)
{
    return hark_json_str(hark_json_get(obj, "$type"));
}

static bool is_type(const struct hark_json *obj, const char *type)
{
    const char *t = type_of(obj);
    return t && strcmp(t, type) == 0;
}

/* One facet feature: a link, a mention or a tag. */
static void add_feature(struct hark_post *post,
                        const struct hark_json *feature,
                        const struct hark_json *text,
                        const struct hark_json *index)
{
    unsigned *rep = &post->n_repaired;
    const char *s;
    if (is_type(feature, link_type)) {
        s = hark_json_str(hark_json_get(feature, "uri"));
        if (s) {
            strv_add_unique(&post->links, s, strlen(s), rep);
        }
    } else if (is_type(feature, tag_type)) {
        s = hark_json_str(hark_json_get(feature, "tag"));
        if (s) {
            s += s[0] == '#';
            strv_add_unique(&post->hashtags, s, strlen(s), rep);
        }
    } else if (is_type(feature, mention_type)) {
        /* The facet covers "@handle" in the text; byte offsets into the
         * UTF-8 text as sent (before any repair). */
        int64_t start = hark_json_int(hark_json_get(index, "byteStart"), -1);
        int64_t end = hark_json_int(hark_json_get(index, "byteEnd"), -1);
        if (text && start >= 0 && end > start && (size_t)end <= text->s_len) {
            const char *p = text->s + start;
            size_t n = (size_t)(end - start);
            if (*p == '@') {
                p++;
                n--;
            }
            if (n > 0) {
                strv_add_unique(&post->mentions, p, n, rep);
                return;
            }
        }
        s = hark_json_str(hark_json_get(feature, "did"));
        if (s) { /* a facet that does not cover the text: keep the DID */
            strv_add_unique(&post->mentions, s, strlen(s), rep);
        }
    }
}

static void add_facets(struct hark_post *post, const struct hark_json *record)
{
    const struct hark_json *text = hark_json_get(record, "text");
    if (text && text->type != HARK_JSON_STRING) {
        text = NULL;
    }
    const struct hark_json *facets = hark_json_get(record, "facets");
    if (!facets || facets->type != HARK_JSON_ARRAY) {
        return;
    }
    for (size_t i = 0; i < facets->n; i++) {
        const struct hark_json *index = hark_json_get(facets->items[i],
                                                      "index");
        const struct hark_json *features =
            hark_json_get(facets->items[i], "features");
        if (!features || features->type != HARK_JSON_ARRAY) {
            continue;
        }
        for (size_t k = 0; k < features->n; k++) {
            add_feature(post, features->items[k], text, index);
        }
    }
}

/* A link card (app.bsky.embed.external), alone or next to media. */
static void add_embed_link(struct hark_post *post,
                           const struct hark_json *record)
{
    const struct hark_json *embed = hark_json_get(record, "embed");
    if (is_type(embed, "app.bsky.embed.recordWithMedia")) {
        embed = hark_json_get(embed, "media");
    }
    if (!is_type(embed, "app.bsky.embed.external")) {
        return;
    }
    const char *uri =
        hark_json_str(hark_json_get(hark_json_get(embed, "external"), "uri"));
    if (uri && *uri) {
        strv_add_unique(&post->links, uri, strlen(uri), &post->n_repaired);
    }
}

/* A time as RFC 3339 UTC with milliseconds; NULL when unparseable. */
static char *time_dup(const char *s, int64_t *ms)
{
    int64_t t;
    if (!s || hark_time_parse(s, &t) != HARK_OK) {
        return NULL;
    }
    char out[32];
    hark_time_format(t, out);
    if (ms) {
        *ms = t;
    }
    return hark_xstrdup(out);
}

/* "https://bsky.app/profile/<handle or did>/post/<rkey>" */
static char *web_url(const char *uri, const char *handle, const char *did)
{
    const char *slash = strrchr(uri, '/');
    if (!slash || !slash[1] || !strstr(uri, "/app.bsky.feed.post/")) {
        return NULL;
    }
    const char *who =
        handle && *handle && strcmp(handle, "handle.invalid") != 0 ? handle
                                                                   : did;
    struct hark_buf buf;
    hark_buf_init(&buf, 0);
    hark_err_t err = hark_buf_printf(&buf, "https://bsky.app/profile/");
    if (err == HARK_OK) {
        err = hark_url_encode(&buf, who, strlen(who));
    }
    if (err == HARK_OK) {
        err = hark_buf_printf(&buf, "/post/");
    }
    if (err == HARK_OK) {
        err = hark_url_encode(&buf, slash + 1, strlen(slash + 1));
    }
    hark_assert(err == HARK_OK);
    return hark_buf_take(&buf);
}

/*
 * A post from PostView `pv` (and FeedViewPost reason `reason`, may be
 * NULL), or NULL with *why saying what is missing. *sort_ms is the item's
 * sort time. The caller owns the post.
 */
static struct hark_post *view_post(const struct bluesky *b,
                                   const struct hark_json *pv,
                                   const struct hark_json *reason,
                                   int64_t *sort_ms,
                                   const char **why)
{
    const struct hark_json *author = hark_json_get(pv, "author");
    const struct hark_json *record = hark_json_get(pv, "record");
    const char *uri = hark_json_str(hark_json_get(pv, "uri"));
    const char *did = hark_json_str(hark_json_get(author, "did"));
    bool is_repost = is_type(reason, repost_type);

    if (!pv || pv->type != HARK_JSON_OBJECT) {
        *why = "not an object";
        return NULL;
    }
    if (!uri || strncmp(uri, "at://", 5) != 0) {
        *why = "no at:// \"uri\"";
        return NULL;
    }
    if (!did || !*did) {
        *why = "no \"author\" with a \"did\"";
        return NULL;
    }
    if (!record || record->type != HARK_JSON_OBJECT) {
        *why = "no \"record\"";
        return NULL;
    }
    int64_t created_ms = 0;
    int64_t indexed_ms = 0;
    struct hark_post *post = hark_post_new();
    unsigned *rep = &post->n_repaired;
    char *created = time_dup(
        hark_json_str(hark_json_get(record, "createdAt")), &created_ms);
    char *indexed =
        time_dup(hark_json_str(hark_json_get(pv, "indexedAt")), &indexed_ms);
    if (!created && !indexed) {
        free(created);
        free(indexed);
        hark_post_free(post);
        *why = "no \"createdAt\" or \"indexedAt\"";
        return NULL;
    }
    if (!created) {
        created = hark_xstrdup(indexed);
        created_ms = indexed_ms;
    }
    *sort_ms = indexed && indexed_ms < created_ms ? indexed_ms : created_ms;
    free(indexed);

    const struct hark_json *by = hark_json_get(reason, "by");
    const char *by_did = hark_json_str(hark_json_get(by, "did"));
    char *repost_at = is_repost ? time_dup(hark_json_str(hark_json_get(
                                               reason, "indexedAt")),
                                           sort_ms)
                                : NULL;
    if (is_repost && (!by_did || !*by_did || !repost_at)) {
        free(created);
        free(repost_at);
        hark_post_free(post);
        *why = "a repost without \"by.did\" or \"indexedAt\"";
        return NULL;
    }

    post->platform = hark_xstrdup("bluesky");
    post->source = hark_xstrdup(b->name);
    post->created_at = created;
    post->id = hark_xstrdup(uri);
    const struct hark_json *handle = hark_json_get(author, "handle");
    post->url = web_url(uri, hark_json_str(handle), did);
    const struct hark_json *langs = hark_json_get(record, "langs");
    if (langs && langs->type == HARK_JSON_ARRAY && langs->n > 0) {
        post->lang = hark_json_dup_repaired(langs->items[0], rep);
    }
    char *text = hark_json_dup_repaired(hark_json_get(record, "text"), rep);
    if (text) {
        free(post->text);
        post->text = text;
    }
    post->author.id = hark_xstrdup(did);
    post->author.handle = hark_json_dup_repaired(handle, rep);
    post->author.display_name =
        hark_json_dup_repaired(hark_json_get(author, "displayName"), rep);
    post->author.followers = -1; /* not in a PostView */
    add_facets(post, record);
    add_embed_link(post, record);

    const struct hark_json *reply = hark_json_get(record, "reply");
    post->in_reply_to =
        hark_json_dup_repaired(hark_json_get(hark_json_get(reply, "parent"), "uri"), rep);
    post->conversation_id =
        hark_json_dup_repaired(hark_json_get(hark_json_get(reply, "root"), "uri"), rep);
    if (!post->conversation_id) {
        post->conversation_id = hark_xstrdup(uri);
    }
    post->kind = post->in_reply_to ? HARK_KIND_REPLY : HARK_KIND_POST;
    post->likes = hark_json_count(pv, "likeCount");
    post->reposts = hark_json_count(pv, "repostCount");
    post->replies = hark_json_count(pv, "replyCount");

    if (is_repost) {
        /* Like a Mastodon boost: its own id and time (when reposted),
         * everything else from the original. */
        post->kind = HARK_KIND_REPOST;
        post->is_repost = true;
        post->repost_of = post->id;
        const char *ruri = hark_json_str(hark_json_get(reason, "uri"));
        post->id = ruri && strncmp(ruri, "at://", 5) == 0
                       ? hark_xstrdup(ruri)
                       : hark_xasprintf("%s#repost/%s/%s", uri, by_did,
                                        repost_at);
        free(post->created_at);
        post->created_at = repost_at;
        post->reposted_by = hark_json_dup_repaired(hark_json_get(by, "handle"), rep);
        if (!post->reposted_by) {
            post->reposted_by = hark_xstrdup(by_did);
        }
    }
    return post;
}

/* ---- pages ---- */

static void read_rate(const struct hark_response *resp, struct hark_rate *rate)
{
    rate->limit = hark_response_count(resp, "ratelimit-limit");
    rate->remaining = hark_response_count(resp, "ratelimit-remaining");
    int64_t reset_s = hark_response_count(resp, "ratelimit-reset"); /* epoch */
    rate->reset_at_ms = reset_s > 0 ? reset_s * 1000 : -1;
    rate->retry_after_ms = -1; /* the engine reads Retry-After */
}

struct walk {
    struct mark mark;
    bool has_old;
    bool has_newest;
    int64_t newest_ms;
    const char *newest_id; /* borrowed from a post */
    size_t n_skipped;
    size_t first_skipped;
    const char *why;
};

static void take_item(const struct bluesky *b,
                      const struct hark_json *item,
                      size_t index,
                      struct hark_page *page,
                      struct walk *w)
{
    const struct hark_json *pv = b->is_feed ? hark_json_get(item, "post")
                                            : item;
    const struct hark_json *reason =
        b->is_feed ? hark_json_get(item, "reason") : NULL;
    const char *why = NULL;
    int64_t ms = 0;
    struct hark_post *post = view_post(b, pv, reason, &ms, &why);
    if (!post) {
        if (w->n_skipped++ == 0) {
            w->first_skipped = index;
            w->why = why;
        }
        return;
    }
    /* A pinned post sits on top of a feed out of time order: it neither
     * ends the walk nor moves the mark. */
    if (!is_type(reason, pin_type)) {
        if (is_old(&w->mark, ms, post->id)) {
            w->has_old = true;
            hark_post_free(post);
            return;
        }
        if (!w->has_newest || ms > w->newest_ms) {
            w->has_newest = true;
            w->newest_ms = ms;
            w->newest_id = post->id;
        }
    }
    page->posts[page->n_posts++] = post;
}

static void reverse_posts(struct hark_page *page)
{
    for (size_t i = 0, j = page->n_posts; i + 1 < j; i++, j--) {
        struct hark_post *t = page->posts[i];
        page->posts[i] = page->posts[j - 1];
        page->posts[j - 1] = t;
    }
}

static hark_err_t bluesky_parse(void *state,
                                const struct hark_response *resp,
                                struct hark_page *page,
                                char *errbuf,
                                size_t errbuf_len)
{
    struct bluesky *b = state;
    struct hark_json_doc *doc = NULL;
    const char *list_key = b->is_feed ? "feed" : "posts";

    memset(page, 0, sizeof(*page));
    read_rate(resp, &page->rate);
    page->is_forward = false;
    hark_errbuf_printf(errbuf, errbuf_len, "%s", "");
    if (hark_response_json(resp, "a JSON object", &doc, errbuf, errbuf_len) != HARK_OK) {
        return HARK_EINVAL;
    }
    const struct hark_json *root = doc->root;
    const struct hark_json *items = hark_json_get(root, list_key);
    if (root->type != HARK_JSON_OBJECT || !items ||
        items->type != HARK_JSON_ARRAY) {
        /* XRPC errors: {"error": "InvalidRequest", "message": "..."} */
        const char *e = hark_json_str(hark_json_get(root, "error"));
        const char *msg = hark_json_str(hark_json_get(root, "message"));
        hark_errbuf_printf(errbuf, errbuf_len,
                "expected an object with a \"%s\" array, got %s%s%.100s%s"
                "%.200s%s",
                list_key, hark_json_type_name(root->type),
                e ? " (error: \"" : "", e ? e : "",
                e ? (msg ? "\": " : "\"") : "", e && msg ? msg : "",
                e ? ")" : "");
        hark_json_doc_free(doc);
        return HARK_EINVAL;
    }

    struct walk w;
    memset(&w, 0, sizeof(w));
    bool is_mark_ok = mark_parse(b->mark, &w.mark);
    page->posts =
        hark_xcalloc(items->n ? items->n : 1, sizeof(struct hark_post *));
    for (size_t i = 0; i < items->n; i++) {
        take_item(b, items->items[i], i, page, &w);
    }
    if (w.has_newest) {
        char t[32];
        hark_time_format(w.newest_ms, t);
        page->cursor = hark_xasprintf("%s|%s", t, w.newest_id);
    }
    reverse_posts(page); /* oldest first */

    const char *next = hark_json_str(hark_json_get(root, "cursor"));
    int max = w.mark.is_set ? b->max_pages : b->backfill_pages;
    bool has_more = next && *next && items->n > 0 && !w.has_old;
    if (has_more && b->page_index + 1 < max) {
        page->next_token = hark_xstrdup(next);
    } else if (has_more && w.mark.is_set) {
        hark_errbuf_printf(errbuf, errbuf_len,
                "stopped after %d pages (max_pages) without reaching the "
                "committed mark \"%s\": posts between it and the oldest "
                "post read were skipped",
                b->max_pages, b->mark);
    }
    if (!is_mark_ok) {
        hark_errbuf_printf(errbuf, errbuf_len,
                "cursor \"%.80s\" is not \"<time>|<uri>\"; read as a first "
                "run",
                b->mark);
    } else if (w.n_skipped > 0) {
        hark_errbuf_printf(errbuf, errbuf_len,
                "skipped %zu of %zu items (first: item %zu, %s)", w.n_skipped,
                items->n, w.first_skipped, w.why);
    }
    hark_json_doc_free(doc);
    return HARK_OK;
}

const struct hark_source_ops hark_src_bluesky = {
    .type = "bluesky",
    .cfgmap = bluesky_cfgmap,
    .init = bluesky_init,
    .build_url = bluesky_build_url,
    .parse = bluesky_parse,
    .free_state = bluesky_free,
};
