/*
 * src_hackernews: the Hacker News adapter, through Algolia's HN search API.
 *
 * Requests. `search_by_date` returns hits newest first:
 *
 *   {base}/api/v1/search_by_date?query=Q&tags=T&hitsPerPage=N
 *       [&numericFilters=created_at_i>=C[,created_at_i<=U]][&page=K]
 *
 * `tags` is Algolia's filter: a comma means AND, parentheses OR, so the
 * config's "story,comment" (or ["story", "comment"]) is sent as
 * "(story,comment)", the default.
 *
 * Paging. The cursor is the newest hit delivered, "created_at_i:objectID".
 * A poll asks for hits with created_at_i >= the cursor's second (not ">":
 * a hit indexed late in that same second would be lost) and drops every
 * hit not newer than the cursor by (created_at_i, objectID as a number);
 * the engine deduplicates the rest. The walk goes back from page 0 until
 * a page comes back short or page+1 reaches nbPages (is_forward false: it
 * commits the first page's newest hit when it ends).
 *
 * Depth. Algolia serves at most 1,000 hits per query (nbPages is capped).
 * When nbHits says more matched, the walk does not stop with a gap: it
 * starts again at page 0 with an upper bound, created_at_i <= the oldest
 * second read so far, which Algolia's numeric filters allow; repeats from
 * that second are deduplicated by the engine. Only when a single second
 * holds a full window (no progress possible) does parse report a gap note.
 *
 * A first run (no cursor) reads the newest page, and up to backfill_pages
 * pages back.
 *
 * Tokens (within a walk): "K" (page K) or "K@U" (page K under the upper
 * bound U).
 *
 * Thread: ingest thread only (the state is not shared).
 */
#include "hark/source.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source_int.h"

#define HN_MAX_LIMIT      100
#define HN_MAX_WALK_PAGES 1000 /* a server that never ends the walk */
#define HN_ITEM_URL       "https://news.ycombinator.com/item?id="

struct hn_key {
    int64_t time_s; /* created_at_i */
    char id[24];    /* objectID, decimal */
};

struct hackernews {
    char *name;         /* the source's name, copied into every post */
    char *base_url;     /* without trailing '/' */
    char *query;        /* NULL = every item of the tags */
    char *tags;         /* Algolia form: "story" or "(story,comment)" */
    int limit;          /* hitsPerPage, 1..100 */
    int backfill_pages; /* pages a first run reads (>= 1) */
    /* the walk, as build_url left it for parse */
    bool has_cursor;
    struct hn_key cursor;
    char *cursor_text;
    int64_t upper_s; /* created_at_i <= upper_s; -1 = none */
    int walk_pages;  /* pages parsed in this walk */
    size_t n_walked; /* hits seen in this walk */
};

static const struct hark_cfgmap hn_cfgmap[] = {
    {"query", HARK_JSON_STRING, false, NULL},
    {"tags", HARK_JSON_STRING | HARK_JSON_ARRAY, false, NULL},
    {NULL, 0, false, NULL},
};

/* ---- small helpers ---- */

/* An id given as a number (story_id, parent_id) or a string. */
static char *id_dup(const struct hark_json *v, unsigned *n_repaired)
{
    if (v && v->type == HARK_JSON_INTEGER && v->i >= 0) {
        return hark_xasprintf("%lld", (long long)v->i);
    }
    return hark_json_dup_repaired(v, n_repaired);
}

static bool is_digits(const char *s, size_t n)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

static bool key_set(struct hn_key *key, const char *id, int64_t time_s)
{
    size_t n = strlen(id);
    if (!is_digits(id, n) || n >= sizeof(key->id)) {
        return false;
    }
    memcpy(key->id, id, n + 1);
    key->time_s = time_s;
    return true;
}

static int key_cmp(const struct hn_key *a, const struct hn_key *b)
{
    if (a->time_s != b->time_s) {
        return a->time_s < b->time_s ? -1 : 1;
    }
    return hark_id_cmp(a->id, b->id);
}

/* "1401938837:7850064" into *key. */
static bool cursor_read(const char *text, struct hn_key *key)
{
    const char *colon = strchr(text, ':');
    if (!colon || !is_digits(text, (size_t)(colon - text)) ||
        colon - text > 12) {
        return false;
    }
    return key_set(key, colon + 1, strtoll(text, NULL, 10));
}

static bool is_tag(const char *s, size_t n)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

/*
 * Adds the tags of "story,comment" (or "(story,comment)") to `out`, comma
 * separated. False on an empty or malformed tag.
 */
static bool tags_add(struct hark_buf *out, size_t *n_tags, const char *s)
{
    size_t len = strlen(s);
    if (len >= 2 && s[0] == '(' && s[len - 1] == ')') {
        s++;
        len -= 2;
    }
    size_t i = 0;
    while (i <= len) {
        size_t k = 0;
        while (i + k < len && s[i + k] != ',') {
            k++;
        }
        const char *tag = s + i;
        size_t tag_len = k;
        while (tag_len > 0 && *tag == ' ') {
            tag++;
            tag_len--;
        }
        while (tag_len > 0 && tag[tag_len - 1] == ' ') {
            tag_len--;
        }
        if (!is_tag(tag, tag_len)) {
            return false;
        }
        hark_err_t err = hark_buf_printf(out, "%s%.*s", *n_tags ? "," : "",
                                         (int)tag_len, tag);
        hark_assert(err == HARK_OK); /* unbounded */
        (*n_tags)++;
        i += k + 1;
    }
    return true;
}

/* The Algolia `tags` value, or NULL (error reported) when malformed. */
static char *tags_value(const struct hark_json_doc *doc,
                        const struct hark_json *v,
                        struct hark_diag *diag)
{
    struct hark_buf buf;
    size_t n_tags = 0;
    bool is_ok = true;
    hark_buf_init(&buf, 0);
    if (!v) {
        return hark_xstrdup("(story,comment)");
    }
    if (v->type == HARK_JSON_STRING) {
        is_ok = tags_add(&buf, &n_tags, v->s);
    } else {
        for (size_t i = 0; i < v->n && is_ok; i++) {
            const char *s = hark_json_str(v->items[i]);
            is_ok = s && tags_add(&buf, &n_tags, s);
        }
        is_ok = is_ok && n_tags > 0;
    }
    if (!is_ok) {
        hark_json_error(doc, diag, v->offset,
                        "\"tags\" must be Algolia tags like \"story\", "
                        "\"comment\", \"story,comment\" or [\"story\", "
                        "\"comment\"] (letters, digits, '_')");
        hark_buf_cleanup(&buf);
        return NULL;
    }
    char *list = hark_buf_take(&buf);
    if (n_tags == 1) {
        return list;
    }
    char *out = hark_xasprintf("(%s)", list);
    free(list);
    return out;
}

/* ---- config ---- */

static void hn_free(void *state)
{
    struct hackernews *h = state;
    if (!h) {
        return;
    }
    free(h->name);
    free(h->base_url);
    free(h->query);
    free(h->tags);
    free(h->cursor_text);
    free(h);
}

static hark_err_t hn_init(const struct hark_source_cfg *cfg,
                          const struct hark_json_doc *doc,
                          const struct hark_json *obj,
                          struct hark_diag *diag,
                          void **state)
{
    *state = NULL;
    const struct hark_json *query_v = hark_json_get(obj, "query");
    const struct hark_json *tags_v = hark_json_get(obj, "tags");
    /* Wrong types were reported by the cfgmap check; check the rest. */
    bool is_ok = !query_v || query_v->type == HARK_JSON_STRING;
    if (tags_v && tags_v->type != HARK_JSON_STRING &&
        tags_v->type != HARK_JSON_ARRAY) {
        return HARK_EINVAL;
    }
    char *tags = tags_value(doc, tags_v, diag);
    if (!tags || !is_ok) {
        free(tags);
        return HARK_EINVAL;
    }
    struct hackernews *h = hark_xcalloc(1, sizeof(*h));
    h->name = hark_xstrdup(cfg->name ? cfg->name : "");
    h->base_url = hark_xstrdup(cfg->base_url ? cfg->base_url : "");
    size_t n = strlen(h->base_url);
    while (n > 0 && h->base_url[n - 1] == '/') {
        h->base_url[--n] = '\0';
    }
    h->query = query_v && query_v->s_len ? hark_xstrdup(query_v->s) : NULL;
    h->tags = tags;
    h->limit = cfg->page_limit > 0 && cfg->page_limit < HN_MAX_LIMIT
                   ? cfg->page_limit
                   : HN_MAX_LIMIT;
    h->backfill_pages = cfg->backfill_pages > 1 ? cfg->backfill_pages : 1;
    h->upper_s = -1;
    *state = h;
    return HARK_OK;
}

/* ---- requests ---- */

static void remember_cursor(struct hackernews *h, const char *cursor)
{
    if (cursor && h->cursor_text && strcmp(cursor, h->cursor_text) == 0) {
        return;
    }
    free(h->cursor_text);
    h->cursor_text = NULL;
    h->has_cursor = false;
    if (cursor && *cursor && cursor_read(cursor, &h->cursor)) {
        h->has_cursor = true;
        h->cursor_text = hark_xstrdup(cursor);
    }
}

/* Reads a token "K" or "K@U". */
static void token_read(const char *token, long *page, int64_t *upper_s)
{
    *page = 0;
    *upper_s = -1;
    if (!token || !*token) {
        return;
    }
    char *end = NULL;
    long k = strtol(token, &end, 10);
    if (end == token || k < 0) {
        return;
    }
    *page = k;
    if (*end == '@') {
        long long u = strtoll(end + 1, NULL, 10);
        *upper_s = u >= 0 ? (int64_t)u : -1;
    }
}

static hark_err_t hn_build_url(void *state,
                               const char *cursor,
                               const char *token,
                               int page_index,
                               struct hark_buf *url)
{
    struct hackernews *h = state;
    (void)page_index; /* the token says which page */
    remember_cursor(h, cursor);
    long page = 0;
    token_read(token, &page, &h->upper_s);
    hark_buf_reset(url);
    hark_err_t err =
        hark_buf_printf(url, "%s/api/v1/search_by_date?", h->base_url);
    if (err == HARK_OK && h->query) {
        err = hark_buf_printf(url, "query=");
        if (err == HARK_OK) {
            err = hark_url_encode(url, h->query, strlen(h->query));
        }
        if (err == HARK_OK) {
            err = hark_buf_printf(url, "&");
        }
    }
    if (err == HARK_OK) {
        err = hark_buf_printf(url, "tags=");
    }
    if (err == HARK_OK) {
        err = hark_url_encode(url, h->tags, strlen(h->tags));
    }
    if (err == HARK_OK) {
        err = hark_buf_printf(url, "&hitsPerPage=%d", h->limit);
    }
    char filters[96] = "";
    if (h->has_cursor) {
        (void)snprintf(filters, sizeof(filters), "created_at_i>=%lld",
                       (long long)h->cursor.time_s);
    }
    if (h->upper_s >= 0) {
        size_t n = strlen(filters);
        (void)snprintf(filters + n, sizeof(filters) - n, "%screated_at_i<=%lld",
                       n ? "," : "", (long long)h->upper_s);
    }
    if (err == HARK_OK && filters[0]) {
        err = hark_buf_printf(url, "&numericFilters=");
        if (err == HARK_OK) {
            err = hark_url_encode(url, filters, strlen(filters));
        }
    }
    if (err == HARK_OK && page > 0) {
        err = hark_buf_printf(url, "&page=%ld", page);
    }
    return err;
}

/* ---- hits ---- */

static bool has_tag(const struct hark_json *tags, const char *tag)
{
    if (!tags || tags->type != HARK_JSON_ARRAY) {
        return false;
    }
    for (size_t i = 0; i < tags->n; i++) {
        const char *s = hark_json_str(tags->items[i]);
        if (s && strcmp(s, tag) == 0) {
            return true;
        }
    }
    return false;
}

static void link_add(struct hark_post *post, const char *href)
{
    size_t len = strlen(href);
    char *fixed = NULL;
    if (!hark_utf8_valid(href, len)) {
        fixed = hark_utf8_repair(href, len, &post->n_repaired);
        href = fixed;
        len = strlen(href);
    }
    bool is_dup = len == 0;
    for (size_t i = 0; i < post->links.n && !is_dup; i++) {
        is_dup = strcmp(post->links.v[i], href) == 0;
    }
    if (!is_dup) {
        hark_strv_add(&post->links, href, len);
    }
    free(fixed);
}

/* Every <a href> of a text is a link of the post. */
static void
on_link(void *ctx, const char *href, const char *cls, const char *rel)
{
    (void)cls;
    (void)rel;
    if (href) {
        link_add(ctx, href);
    }
}

/* The plain text of an HTML field (its links go to post->links). */
static char *html_dup(const struct hark_json *v, struct hark_post *post)
{
    if (!v || v->type != HARK_JSON_STRING || v->s_len == 0) {
        return NULL;
    }
    return hark_html_to_text_links(v->s, v->s_len, &post->n_repaired, on_link,
                                   post);
}

/* A post from a hit; the caller owns it. */
static struct hark_post *hit_post(const struct hackernews *h,
                                  const struct hark_json *hit,
                                  const struct hn_key *key,
                                  bool is_comment)
{
    struct hark_post *post = hark_post_new();
    unsigned *rep = &post->n_repaired;
    post->id = hark_xstrdup(key->id);
    post->platform = hark_xstrdup("hackernews");
    post->source = hark_xstrdup(h->name);
    post->url = hark_xasprintf("%s%s", HN_ITEM_URL, key->id);
    char at[32];
    hark_time_format(key->time_s * 1000, at);
    post->created_at = hark_xstrdup(at);

    if (!is_comment) {
        /* The story's own link first, then those in its text. */
        char *link = hark_json_dup_repaired(hark_json_get(hit, "url"), rep);
        if (link) {
            link_add(post, link);
            free(link);
        }
    }
    char *text = html_dup(
        hark_json_get(hit, is_comment ? "comment_text" : "story_text"), post);
    if (text) {
        free(post->text);
        post->text = text;
    }
    post->author.id = hark_json_dup_repaired(hark_json_get(hit, "author"), rep);
    post->author.handle = hark_xstrdup(post->author.id);
    post->author.display_name = hark_xstrdup(post->author.id);
    if (is_comment) {
        post->kind = HARK_KIND_COMMENT;
        post->title = hark_json_dup_repaired(hark_json_get(hit, "story_title"), rep);
        post->in_reply_to = id_dup(hark_json_get(hit, "parent_id"), rep);
        post->conversation_id = id_dup(hark_json_get(hit, "story_id"), rep);
    } else {
        post->kind = HARK_KIND_POST;
        post->title = hark_json_dup_repaired(hark_json_get(hit, "title"), rep);
        post->conversation_id = hark_xstrdup(key->id);
    }
    post->likes = hark_json_count(hit, "points");
    post->replies = hark_json_count(hit, "num_comments");
    return post;
}

/* ---- pages ---- */


struct walk {
    bool has_newest;
    struct hn_key newest;
    bool has_oldest;
    struct hn_key oldest;
    bool is_reached; /* a hit at or older than the cursor */
    size_t n_skipped;
    size_t first_skipped;
    const char *why; /* static */
};

/* Children are read last to first: the lowest index seen is the first. */
static void skip(struct walk *w, size_t i, const char *why)
{
    if (w->n_skipped++ == 0 || i < w->first_skipped) {
        w->first_skipped = i;
        w->why = why;
    }
}

static void take_hit(const struct hackernews *h,
                     const struct hark_json *hit,
                     size_t i,
                     struct hark_page *page,
                     struct walk *w)
{
    if (hit->type != HARK_JSON_OBJECT) {
        skip(w, i, "not an object");
        return;
    }
    const char *id = hark_json_str(hark_json_get(hit, "objectID"));
    const struct hark_json *at = hark_json_get(hit, "created_at_i");
    struct hn_key key;
    if (!at || at->type != HARK_JSON_INTEGER || at->i < 0) {
        skip(w, i, "no \"created_at_i\"");
        return;
    }
    if (!id || !key_set(&key, id, at->i)) {
        skip(w, i, "no numeric \"objectID\"");
        return;
    }
    if (!w->has_newest || key_cmp(&key, &w->newest) > 0) {
        w->has_newest = true;
        w->newest = key;
    }
    if (!w->has_oldest || key_cmp(&key, &w->oldest) < 0) {
        w->has_oldest = true;
        w->oldest = key;
    }
    if (h->has_cursor && key_cmp(&key, &h->cursor) <= 0) {
        w->is_reached = true;
        return;
    }
    const struct hark_json *tags = hark_json_get(hit, "_tags");
    bool is_comment = has_tag(tags, "comment");
    if (!is_comment && !has_tag(tags, "story") &&
        !hark_json_str(hark_json_get(hit, "title"))) {
        skip(w, i, "neither a story nor a comment");
        return;
    }
    page->posts[page->n_posts++] = hit_post(h, hit, &key, is_comment);
}

/* Where the walk goes after this page; may set a gap note. */
static void next_page(struct hackernews *h,
                      const struct hark_json *root,
                      const struct hark_json *hits,
                      const struct walk *w,
                      struct hark_page *page,
                      char *errbuf,
                      size_t errbuf_len)
{
    int64_t k = hark_json_int(hark_json_get(root, "page"), 0);
    int64_t n_pages = hark_json_int(hark_json_get(root, "nbPages"), 0);
    int64_t n_hits = hark_json_int(hark_json_get(root, "nbHits"), 0);
    int64_t per_page =
        hark_json_int(hark_json_get(root, "hitsPerPage"), h->limit);
    long long next_k = (long long)k + 1;
    long long n_read = next_k * (long long)per_page;
    bool is_full = per_page > 0 && (int64_t)hits->n >= per_page;
    const char *at = h->upper_s >= 0 ? "@" : "";
    char upper[24] = "";
    if (h->upper_s >= 0) {
        (void)snprintf(upper, sizeof(upper), "%lld", (long long)h->upper_s);
    }
    if (!h->has_cursor) {
        if (is_full && next_k < n_pages && h->walk_pages < h->backfill_pages) {
            page->next_token = hark_xasprintf("%lld", next_k);
        }
        return;
    }
    if (w->is_reached || !is_full || hits->n == 0 ||
        h->walk_pages >= HN_MAX_WALK_PAGES) {
        return;
    }
    if (next_k < n_pages) {
        page->next_token = hark_xasprintf("%lld%s%s", next_k, at, upper);
        return;
    }
    if (n_hits <= n_read) {
        return; /* every match read */
    }
    /* Algolia's window is spent: restart under the oldest second read. */
    if (h->upper_s < 0 || w->oldest.time_s < h->upper_s) {
        page->next_token =
            hark_xasprintf("0@%lld", (long long)w->oldest.time_s);
        return;
    }
    char oldest[32];
    hark_time_format(w->oldest.time_s * 1000, oldest);
    hark_errbuf_printf(errbuf, errbuf_len,
            "gap: Algolia serves %lld hits of a query and all of them "
            "fall in one second, %s (created_at_i %lld); hits of that "
            "second and older, back to the cursor %s, may be missing",
            n_read, oldest, (long long)w->oldest.time_s,
            h->cursor_text ? h->cursor_text : "?");
}

static hark_err_t hn_parse(void *state,
                           const struct hark_response *resp,
                           struct hark_page *page,
                           char *errbuf,
                           size_t errbuf_len)
{
    struct hackernews *h = state;
    struct hark_json_doc *doc = NULL;

    memset(page, 0, sizeof(*page));
    page->rate.limit = -1; /* Algolia sends no rate-limit headers */
    page->rate.remaining = -1;
    page->rate.reset_at_ms = -1;
    page->rate.retry_after_ms = -1;
    page->is_forward = false;
    hark_errbuf_printf(errbuf, errbuf_len, "%s", "");

    if (hark_response_json(resp, "search results", &doc, errbuf, errbuf_len) != HARK_OK) {
        return HARK_EINVAL;
    }
    const struct hark_json *root = doc->root;
    const struct hark_json *hits = hark_json_get(root, "hits");
    if (root->type != HARK_JSON_OBJECT || !hits ||
        hits->type != HARK_JSON_ARRAY) {
        const char *msg = hark_json_str(hark_json_get(root, "message"));
        hark_errbuf_printf(errbuf, errbuf_len,
                "expected search results ({\"hits\": [...]}), got %s%s%.200s%s",
                hark_json_type_name(root->type), msg ? " (message: \"" : "",
                msg ? msg : "", msg ? "\")" : "");
        hark_json_doc_free(doc);
        return HARK_EINVAL;
    }

    /* The walk's first page: page 0 without an upper bound. */
    char *page_param = resp->url ? hark_url_param(resp->url, "page") : NULL;
    char *filters =
        resp->url ? hark_url_param(resp->url, "numericFilters") : NULL;
    bool is_first = (!page_param || strtol(page_param, NULL, 10) == 0) &&
                    !(filters && strstr(filters, "<="));
    free(page_param);
    free(filters);
    if (is_first) {
        h->walk_pages = 0;
        h->n_walked = 0;
    }
    h->walk_pages++;
    h->n_walked += hits->n;

    struct walk w;
    memset(&w, 0, sizeof(w));
    page->posts =
        hark_xcalloc(hits->n ? hits->n : 1, sizeof(struct hark_post *));
    for (size_t i = hits->n; i-- > 0;) { /* oldest first */
        take_hit(h, hits->items[i], i, page, &w);
    }
    if (is_first && w.has_newest &&
        (!h->has_cursor || key_cmp(&w.newest, &h->cursor) > 0)) {
        page->cursor =
            hark_xasprintf("%lld:%s", (long long)w.newest.time_s, w.newest.id);
    }
    next_page(h, root, hits, &w, page, errbuf, errbuf_len);
    if (w.n_skipped > 0 && errbuf && errbuf_len > 0 && !errbuf[0]) {
        hark_errbuf_printf(errbuf, errbuf_len,
                "skipped %zu of %zu hits (first: hit %zu, %s)", w.n_skipped,
                hits->n, w.first_skipped, w.why);
    }
    hark_json_doc_free(doc);
    return HARK_OK;
}

const struct hark_source_ops hark_src_hackernews = {
    .type = "hackernews",
    .cfgmap = hn_cfgmap,
    .init = hn_init,
    .build_url = hn_build_url,
    .parse = hn_parse,
    .free_state = hn_free,
};
