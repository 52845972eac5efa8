/*
 * src_reddit: the Reddit listing adapter (subreddit new/comments, search).
 *
 * Requests. Every URL gets the `.json` suffix: www.reddit.com needs it and
 * oauth.reddit.com accepts it, so one form serves both bases (no option):
 *
 *   subreddit, listing "new"       {base}/r/SUB/new.json?limit=N&raw_json=1
 *   subreddit, listing "comments"  {base}/r/SUB/comments.json?...
 *   subreddit + query              {base}/r/SUB/search.json?q=Q&sort=new
 *                                      &restrict_sr=1&limit=N&raw_json=1
 *   query alone                    {base}/search.json?q=Q&sort=new&...
 *
 * `raw_json=1` makes Reddit send text unescaped (no &amp; &lt; &gt;).
 *
 * Paging. Listings are newest first, and `after=<fullname>` returns the
 * page older than that item. There is no reliable "newer than" walk (the
 * `before` direction stops at Reddit's cache and skips nothing only when
 * the anchor still exists), so hark walks back (DESIGN.md "Catch-up"):
 *
 *   - first run (no cursor): the newest page, and up to backfill_pages
 *     pages back with `after`;
 *   - with a cursor: from the newest page back with `after` until a page
 *     holds an item older than the cursor's second (or the cursor item);
 *     those are not emitted. Items of the cursor's own second are emitted
 *     again, and the engine's dedup window drops the ones already
 *     delivered: one that appeared late in that second is not lost.
 *
 * "Newer" compares (created_utc, id): time first (ids of different kinds
 * and, within one second, even of one kind are not in listing order), then
 * the base-36 id after "t3_"/"t1_" as a number. The cursor is the newest
 * (fullname, created_utc) of the walk's first page, written
 * "t3_abc@1700000000"; it is committed only when the walk ends
 * (is_forward false).
 *
 * Depth. Reddit serves about 1,000 items of a listing, then `after` comes
 * back null. When that happens before the walk reached the cursor, the
 * items between the oldest one read and the cursor cannot be read: parse
 * returns HARK_OK with a "gap" note in errbuf (the engine logs it). The
 * engine has no gap-event API yet; it should turn this into a `gap` event
 * on hark.dlq.
 *
 * OAuth. With client_id_env and client_secret_env the adapter fetches its
 * own application-only token (Reddit's "client credentials" grant):
 *
 *   POST {token_url}                 default REDDIT_TOKEN_URL
 *   Authorization: Basic base64(client_id ":" client_secret)
 *   grant_type=client_credentials
 *   -> {"access_token": "...", "token_type": "bearer",
 *       "expires_in": 86400, "scope": "*"}
 *
 * and sends "Authorization: Bearer <token>" with every listing request
 * (Reddit serves OAuth clients on https://oauth.reddit.com). The engine
 * asks token_needed before each request: yes when there is no token or it
 * expires within REDDIT_TOKEN_MARGIN_MS. After a 401 it calls
 * token_invalidate, fetches once more and retries; a second 401 stops the
 * source. The variables are read at request time, so a rotated secret
 * needs no reload. Without client credentials the engine sends token_env's
 * bearer token (or none) and the token ops do nothing.
 *
 * Secrets (the client secret, the Basic value, the access token) appear in
 * no message: errors name the variable, never its value. Buffers that held
 * them are zeroed before they are freed, except the engine's response body
 * and the parsed JSON document's copy of it, which this file does not own.
 *
 * Thread: ingest thread only (the state is not shared).
 */
#include "hark/source.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "source_int.h"

#define REDDIT_MAX_LIMIT      100
#define REDDIT_MAX_WALK_PAGES 200 /* a server that never ends the walk */
#define REDDIT_WWW            "https://www.reddit.com"

#define REDDIT_TOKEN_URL       "https://www.reddit.com/api/v1/access_token"
#define REDDIT_TOKEN_BODY      "grant_type=client_credentials"
#define REDDIT_TOKEN_MARGIN_MS 60000 /* refresh this long before expiry */
#define REDDIT_TOKEN_MAX       4096  /* bytes of an access token we accept */

struct reddit_key {
    int64_t time_s; /* created_utc; -1 = unknown (compare ids only) */
    char id36[24];  /* lowercase base 36, after the "tN_" prefix */
};

struct reddit {
    char *name;         /* the source's name, copied into every post */
    char *base_url;     /* without trailing '/' */
    char *path;         /* "/r/AskReddit/new.json" */
    char *query;        /* search terms, or NULL */
    bool is_restricted; /* search within the subreddit */
    int limit;          /* items per request, 1..100 */
    int backfill_pages; /* pages a first run reads (>= 1) */
    /* the walk, as the last build_url / parse saw it */
    bool has_cursor;
    struct reddit_key cursor;
    char *cursor_text;
    int walk_pages;  /* pages parsed in this walk */
    size_t n_walked; /* items seen in this walk */
    /* OAuth client credentials (NULL when not configured) */
    char *client_id_env; /* variable names, never values */
    char *client_secret_env;
    char *token_url;
    char *access_token;       /* a secret: zeroed before free; or NULL */
    int64_t token_expires_ms; /* wall clock */
};

static const struct hark_cfgmap reddit_cfgmap[] = {
    {"subreddit", HARK_JSON_STRING, false, NULL},
    {"listing", HARK_JSON_STRING, false, NULL},
    {"query", HARK_JSON_STRING, false, NULL},
    {"token_url", HARK_JSON_STRING, false, NULL},
    {NULL, 0, false, NULL},
};

/* ---- small helpers ---- */

static bool is_sub_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

/* A subreddit name, or several joined with '+' ("pics+aww"). */
static bool is_subreddit(const char *s)
{
    size_t run = 0;
    for (; *s; s++) {
        if (*s == '+') {
            if (run == 0) {
                return false;
            }
            run = 0;
        } else if (is_sub_char(*s) && run < 64) {
            run++;
        } else {
            return false;
        }
    }
    return run > 0;
}

/*
 * Reads the key of fullname `name` ("t3_abc") created at `time_s`.
 * False when the part after '_' is not base 36.
 */
static bool key_set(struct reddit_key *key, const char *name, int64_t time_s)
{
    const char *us = strchr(name, '_');
    const char *id = us ? us + 1 : name;
    size_t n = strlen(id);
    if (n == 0 || n >= sizeof(key->id36)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) {
            return false;
        }
        key->id36[i] = c;
    }
    key->id36[n] = '\0';
    key->time_s = time_s;
    return true;
}

/*
 * Orders keys: created_utc, then the base-36 id as a number (digits sort
 * before letters in ASCII, so hark_id_cmp's length-then-bytes order is the
 * numeric one). An unknown time compares ids only.
 */
static int key_cmp(const struct reddit_key *a, const struct reddit_key *b)
{
    if (a->time_s >= 0 && b->time_s >= 0 && a->time_s != b->time_s) {
        return a->time_s < b->time_s ? -1 : 1;
    }
    return hark_id_cmp(a->id36, b->id36);
}

/*
 * Whether an item was delivered by an earlier walk: older than the
 * cursor's second, or the cursor item itself. Other items of the cursor's
 * second are delivered again: within one second Reddit's listing order is
 * not id order and an item can show up after a walk passed its second, so
 * they are left to the engine's dedup window rather than skipped.
 */
static bool is_delivered(const struct reddit_key *key,
                         const struct reddit_key *cursor)
{
    if (key->time_s >= 0 && cursor->time_s >= 0) {
        return key->time_s < cursor->time_s ||
               (key->time_s == cursor->time_s &&
                hark_id_cmp(key->id36, cursor->id36) == 0);
    }
    return key_cmp(key, cursor) <= 0;
}

/* "t3_abc@1700000000" (or a bare fullname) into *key. */
static bool cursor_read(const char *text, struct reddit_key *key)
{
    const char *at = strrchr(text, '@');
    char name[64];
    int64_t time_s = -1;
    size_t n = at ? (size_t)(at - text) : strlen(text);
    if (n == 0 || n >= sizeof(name)) {
        return false;
    }
    memcpy(name, text, n);
    name[n] = '\0';
    if (at) {
        char *end = NULL;
        long long t = strtoll(at + 1, &end, 10);
        if (end == at + 1 || *end != '\0' || t < 0) {
            return false;
        }
        time_s = (int64_t)t;
    }
    return key_set(key, name, time_s);
}

/* Zeroes and frees a NUL-terminated secret; NULL does nothing. */
static void secret_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

/* ---- base64 ---- */

char *hark_base64_encode(const void *data, size_t len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "abcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    hark_assert(len < SIZE_MAX / 2);
    char *out = hark_xmalloc((len + 2) / 3 * 4 + 1);
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
        out[o++] = abc[v & 63];
    }
    if (i < len) {
        /* One or two bytes left: two or three characters, then '=' pad. */
        bool has_two = i + 1 < len;
        uint32_t v =
            (uint32_t)p[i] << 16 | (has_two ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        if (has_two) {
            out[o++] = abc[v >> 6 & 63];
        } else {
            out[o++] = '=';
        }
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

/* ---- config ---- */

static void reddit_free(void *state)
{
    struct reddit *r = state;
    if (!r) {
        return;
    }
    free(r->client_id_env);
    free(r->client_secret_env);
    free(r->token_url);
    secret_free(r->access_token);
    free(r->name);
    free(r->base_url);
    free(r->path);
    free(r->query);
    free(r->cursor_text);
    free(r);
}

/* The string value of `key` (NULL when absent or of another type). */
static const char *key_str(const struct hark_json *obj,
                           const char *key,
                           const struct hark_json **v,
                           bool *is_ok)
{
    *v = hark_json_get(obj, key);
    const char *s = hark_json_str(*v);
    if (*v && !s) {
        *is_ok = false; /* a wrong type: reported by the cfgmap check */
    }
    return s;
}

/*
 * Checks what the cfgmap cannot: the subreddit's form, the listing, and
 * that the keys make one request. Each problem goes to `diag`.
 */
static bool reddit_check(const struct hark_json_doc *doc,
                         const struct hark_json *obj,
                         struct hark_diag *diag,
                         const char **sub,
                         const char **listing,
                         const char **query)
{
    bool is_ok = true;
    const struct hark_json *sub_v = NULL;
    const struct hark_json *listing_v = NULL;
    const struct hark_json *query_v = NULL;
    *sub = key_str(obj, "subreddit", &sub_v, &is_ok);
    *listing = key_str(obj, "listing", &listing_v, &is_ok);
    *query = key_str(obj, "query", &query_v, &is_ok);
    const char *name = *sub;
    if (name && strncmp(name, "/r/", 3) == 0) {
        name += 3;
    } else if (name && strncmp(name, "r/", 2) == 0) {
        name += 2;
    }
    if (sub_v && name && !is_subreddit(name)) {
        hark_json_error(doc, diag, sub_v->offset,
                        "\"subreddit\" must be a subreddit name like "
                        "\"AskReddit\" (letters, digits, '_'; several "
                        "joined with '+')");
        is_ok = false;
    }
    *sub = name;
    if (query_v && *query && !**query) {
        hark_json_error(doc, diag, query_v->offset,
                        "\"query\" must not be empty");
        is_ok = false;
    }
    if (!sub_v && !query_v) {
        hark_json_error(doc, diag, obj->offset,
                        "a reddit source needs \"subreddit\" (a listing) or "
                        "\"query\" (a search)");
        is_ok = false;
    }
    if (listing_v && *listing && strcmp(*listing, "new") != 0 &&
        strcmp(*listing, "comments") != 0) {
        hark_json_error(doc, diag, listing_v->offset,
                        "unknown listing \"%s\"; expected \"new\" or "
                        "\"comments\"",
                        *listing);
        is_ok = false;
    } else if (listing_v && *listing && *query) {
        hark_json_error(doc, diag, listing_v->offset,
                        "\"listing\" does not apply to a search (\"query\"); "
                        "search results are posts, newest first");
        is_ok = false;
    }
    return is_ok;
}

/*
 * "token_url": an http(s) URL, and only where a token is fetched (with
 * client_id_env and client_secret_env; config.c requires both together).
 */
static bool token_url_check(const struct hark_source_cfg *cfg,
                            const struct hark_json_doc *doc,
                            const struct hark_json *obj,
                            struct hark_diag *diag,
                            const char **token_url)
{
    bool is_ok = true;
    const struct hark_json *v = NULL;
    *token_url = key_str(obj, "token_url", &v, &is_ok);
    if (!v || !*token_url) {
        return is_ok;
    }
    if (strncmp(*token_url, "https://", 8) != 0 &&
        strncmp(*token_url, "http://", 7) != 0) {
        hark_json_error(doc, diag, v->offset,
                        "\"token_url\" must be an http:// or https:// URL");
        is_ok = false;
    } else if (!cfg->client_id_env || !cfg->client_secret_env) {
        hark_json_error(doc, diag, hark_json_key_offset(obj, "token_url"),
                        "\"token_url\" applies only with \"client_id_env\" "
                        "and \"client_secret_env\" (the token is fetched "
                        "with client credentials)");
        is_ok = false;
    }
    return is_ok;
}

static hark_err_t reddit_init(const struct hark_source_cfg *cfg,
                              const struct hark_json_doc *doc,
                              const struct hark_json *obj,
                              struct hark_diag *diag,
                              void **state)
{
    const char *sub = NULL;
    const char *listing = NULL;
    const char *query = NULL;
    const char *token_url = NULL;
    *state = NULL;
    /*
     * The engine has checked types and unknown keys with our cfgmap (and
     * calls init even when that failed): report only what the map cannot
     * say, and fail quietly on what it already reported.
     */
    bool is_ok = reddit_check(doc, obj, diag, &sub, &listing, &query);
    if (!token_url_check(cfg, doc, obj, diag, &token_url) || !is_ok) {
        return HARK_EINVAL;
    }

    struct reddit *r = hark_xcalloc(1, sizeof(*r));
    r->name = hark_xstrdup(cfg->name ? cfg->name : "");
    r->base_url = hark_xstrdup(cfg->base_url ? cfg->base_url : "");
    size_t n = strlen(r->base_url);
    while (n > 0 && r->base_url[n - 1] == '/') {
        r->base_url[--n] = '\0';
    }
    if (query) {
        r->query = hark_xstrdup(query);
        r->is_restricted = sub != NULL;
        r->path = sub ? hark_xasprintf("/r/%s/search.json", sub)
                      : hark_xstrdup("/search.json");
    } else {
        r->path =
            hark_xasprintf("/r/%s/%s.json", sub, listing ? listing : "new");
    }
    r->limit = cfg->page_limit > 0 && cfg->page_limit < REDDIT_MAX_LIMIT
                   ? cfg->page_limit
                   : REDDIT_MAX_LIMIT;
    r->backfill_pages = cfg->backfill_pages > 1 ? cfg->backfill_pages : 1;
    if (cfg->client_id_env && cfg->client_secret_env) {
        r->client_id_env = hark_xstrdup(cfg->client_id_env);
        r->client_secret_env = hark_xstrdup(cfg->client_secret_env);
        r->token_url = hark_xstrdup(token_url ? token_url : REDDIT_TOKEN_URL);
    }
    *state = r;
    return HARK_OK;
}

/* ---- requests ---- */

static void remember_cursor(struct reddit *r, const char *cursor)
{
    if (cursor && r->cursor_text && strcmp(cursor, r->cursor_text) == 0) {
        return;
    }
    free(r->cursor_text);
    r->cursor_text = NULL;
    r->has_cursor = false;
    if (cursor && *cursor && cursor_read(cursor, &r->cursor)) {
        r->has_cursor = true;
        r->cursor_text = hark_xstrdup(cursor);
    }
}

static hark_err_t reddit_build_url(void *state,
                                   const char *cursor,
                                   const char *token,
                                   int page_index,
                                   struct hark_buf *url)
{
    struct reddit *r = state;
    (void)page_index; /* parse counts pages itself, from the URLs */
    remember_cursor(r, cursor);
    hark_buf_reset(url);
    hark_err_t err = hark_buf_printf(url, "%s%s?", r->base_url, r->path);
    if (err == HARK_OK && r->query) {
        err = hark_buf_printf(url, "q=");
        if (err == HARK_OK) {
            err = hark_url_encode(url, r->query, strlen(r->query));
        }
        if (err == HARK_OK) {
            err = hark_buf_printf(url, "&sort=new%s&",
                                  r->is_restricted ? "&restrict_sr=1" : "");
        }
    }
    if (err == HARK_OK) {
        err = hark_buf_printf(url, "limit=%d&raw_json=1", r->limit);
    }
    if (err == HARK_OK && token && *token) {
        err = hark_buf_printf(url, "&after=");
        if (err == HARK_OK) {
            err = hark_url_encode(url, token, strlen(token));
        }
    }
    return err;
}

/* ---- items ---- */

/* A JSON number of seconds since the epoch as RFC 3339; NULL if none. */
static char *time_dup(const struct hark_json *v)
{
    if (!v || !(v->type & HARK_JSON_NUMBER) || v->d < 0 || v->d > 1e11) {
        return NULL;
    }
    char out[32];
    hark_time_format((int64_t)(v->d * 1000.0), out);
    return hark_xstrdup(out);
}

static bool is_gone_text(const char *s)
{
    return s && (strcmp(s, "[deleted]") == 0 || strcmp(s, "[removed]") == 0);
}

/* The part of fullname `name` after "tN_" (the whole name without one). */
static const char *id36_of(const char *name)
{
    const char *us = name ? strchr(name, '_') : NULL;
    return us ? us + 1 : name;
}

/* "https://www.reddit.com" + permalink, or the canonical form of ids. */
static char *item_url(const struct hark_json *d,
                      bool is_comment,
                      const char *name,
                      unsigned *rep)
{
    const char *permalink = hark_json_str(hark_json_get(d, "permalink"));
    if (permalink && permalink[0] == '/') {
        char *p = hark_json_dup_repaired(hark_json_get(d, "permalink"), rep);
        char *url = hark_xasprintf("%s%s", REDDIT_WWW, p);
        free(p);
        return url;
    }
    const char *link_id = hark_json_str(hark_json_get(d, "link_id"));
    if (is_comment && link_id) {
        return hark_xasprintf("%s/comments/%s/_/%s/", REDDIT_WWW,
                              id36_of(link_id), id36_of(name));
    }
    return is_comment
               ? NULL
               : hark_xasprintf("%s/comments/%s/", REDDIT_WWW, id36_of(name));
}

/*
 * A post from the data of a t3 (link) or t1 (comment) thing; `name` is
 * its fullname (borrowed). The caller owns the post.
 */
static struct hark_post *thing_post(const struct reddit *r,
                                    const struct hark_json *d,
                                    const char *name,
                                    bool is_comment)
{
    struct hark_post *post = hark_post_new();
    unsigned *rep = &post->n_repaired;
    post->id = hark_xstrdup(name);
    post->platform = hark_xstrdup("reddit");
    post->source = hark_xstrdup(r->name);
    post->kind = is_comment ? HARK_KIND_COMMENT : HARK_KIND_POST;
    post->created_at = time_dup(hark_json_get(d, "created_utc"));
    post->edited_at = time_dup(hark_json_get(d, "edited")); /* or false */
    post->url = item_url(d, is_comment, name, rep);

    const char *text_key = is_comment ? "body" : "selftext";
    const char *author = hark_json_str(hark_json_get(d, "author"));
    const char *text = hark_json_str(hark_json_get(d, text_key));
    if (author && strcmp(author, "[deleted]") == 0 && is_gone_text(text)) {
        /* A tombstone: the events carry only id and platform. */
        post->is_deleted = true;
    } else {
        char *t = hark_json_dup_repaired(hark_json_get(d, text_key), rep);
        if (t) {
            free(post->text);
            post->text = t;
        }
    }
    post->title =
        hark_json_dup_repaired(hark_json_get(d, is_comment ? "link_title" : "title"), rep);

    if (author && strcmp(author, "[deleted]") != 0) {
        post->author.handle = hark_json_dup_repaired(hark_json_get(d, "author"), rep);
        post->author.display_name = hark_xstrdup(post->author.handle);
        /* t2_ ids since 2018; before that the name (unique, permanent). */
        post->author.id = hark_json_dup_repaired(hark_json_get(d, "author_fullname"), rep);
        if (!post->author.id) {
            post->author.id = hark_xstrdup(post->author.handle);
        }
    }

    if (is_comment) {
        post->in_reply_to = hark_json_dup_repaired(hark_json_get(d, "parent_id"), rep);
        post->conversation_id = hark_json_dup_repaired(hark_json_get(d, "link_id"), rep);
    } else {
        post->conversation_id = hark_xstrdup(name);
        const char *link = hark_json_str(hark_json_get(d, "url"));
        if (!hark_json_bool(hark_json_get(d, "is_self"), false) && link &&
            *link) {
            char *l = hark_json_dup_repaired(hark_json_get(d, "url"), rep);
            hark_strv_add(&post->links, l, strlen(l));
            free(l);
        }
        post->replies = hark_json_count(d, "num_comments");
    }
    post->likes = hark_json_int(hark_json_get(d, "score"), 0);
    return post;
}

/* ---- pages ---- */

/* x-ratelimit-remaining "996.0", -used "4", -reset "498" (seconds). */
static void read_rate(const struct hark_response *resp, struct hark_rate *rate)
{
    int64_t used = hark_response_count(resp, "x-ratelimit-used");
    rate->remaining = hark_response_count(resp, "x-ratelimit-remaining");
    rate->limit =
        used >= 0 && rate->remaining >= 0 ? used + rate->remaining : -1;
    int64_t reset_s = hark_response_count(resp, "x-ratelimit-reset");
    rate->reset_at_ms = reset_s >= 0 ? hark_now_ms() + reset_s * 1000 : -1;
    rate->retry_after_ms = -1; /* the engine reads Retry-After */
}

/* The children of a Listing, or NULL with errbuf saying what came. */
static const struct hark_json *listing_children(const struct hark_json *root,
                                                const struct hark_json **data,
                                                char *errbuf,
                                                size_t errbuf_len)
{
    if (root->type != HARK_JSON_OBJECT) {
        hark_errbuf_printf(errbuf, errbuf_len, "expected a Listing object, got %s",
                hark_json_type_name(root->type));
        return NULL;
    }
    const struct hark_json *error = hark_json_get(root, "error");
    if (error) {
        /* {"message": "Forbidden", "error": 403}, even with status 200 */
        const char *msg = hark_json_str(hark_json_get(root, "message"));
        hark_errbuf_printf(errbuf, errbuf_len, "reddit reported error %lld \"%.200s\"",
                (long long)hark_json_int(error, -1), msg ? msg : "");
        return NULL;
    }
    const char *kind = hark_json_str(hark_json_get(root, "kind"));
    *data = hark_json_get(root, "data");
    const struct hark_json *children = hark_json_get(*data, "children");
    if (!kind || strcmp(kind, "Listing") != 0 || !children ||
        children->type != HARK_JSON_ARRAY) {
        hark_errbuf_printf(errbuf, errbuf_len,
                "expected a Listing ({\"kind\": \"Listing\", \"data\": "
                "{\"children\": [...]}}), got kind \"%.40s\"",
                kind ? kind : "(none)");
        return NULL;
    }
    return children;
}

struct walk {
    bool has_newest;
    struct reddit_key newest;
    char newest_name[64];
    bool has_oldest;
    struct reddit_key oldest;
    bool is_reached; /* an item at or older than the cursor */
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

/* One child of the listing: emitted, counted, or skipped. */
static void take_child(const struct reddit *r,
                       const struct hark_json *child,
                       size_t i,
                       struct hark_page *page,
                       struct walk *w)
{
    if (child->type != HARK_JSON_OBJECT) {
        skip(w, i, "not an object");
        return;
    }
    const char *kind = hark_json_str(hark_json_get(child, "kind"));
    const struct hark_json *d = hark_json_get(child, "data");
    if (!kind || (strcmp(kind, "t3") != 0 && strcmp(kind, "t1") != 0)) {
        skip(w, i, "not a post (t3) or comment (t1)");
        return;
    }
    if (!d || d->type != HARK_JSON_OBJECT) {
        skip(w, i, "no \"data\" object");
        return;
    }
    const char *name = hark_json_str(hark_json_get(d, "name"));
    const struct hark_json *created = hark_json_get(d, "created_utc");
    struct reddit_key key;
    if (!created || !(created->type & HARK_JSON_NUMBER) || created->d < 0) {
        skip(w, i, "no \"created_utc\"");
        return;
    }
    if (!name || strlen(name) >= sizeof(w->newest_name) ||
        !key_set(&key, name, (int64_t)created->d)) {
        skip(w, i, "no fullname (\"name\")");
        return;
    }
    if (!w->has_newest || key_cmp(&key, &w->newest) > 0) {
        w->has_newest = true;
        w->newest = key;
        (void)snprintf(w->newest_name, sizeof(w->newest_name), "%s", name);
    }
    if (!w->has_oldest || key_cmp(&key, &w->oldest) < 0) {
        w->has_oldest = true;
        w->oldest = key;
    }
    if (r->has_cursor && is_delivered(&key, &r->cursor)) {
        w->is_reached = true;
        return;
    }
    page->posts[page->n_posts++] =
        thing_post(r, d, name, strcmp(kind, "t1") == 0);
}

/* Where the walk goes after this page; may set a gap note in errbuf. */
static void next_page(struct reddit *r,
                      const struct hark_json *data,
                      const char *requested_after,
                      const struct walk *w,
                      struct hark_page *page,
                      char *errbuf,
                      size_t errbuf_len)
{
    const char *after = hark_json_str(hark_json_get(data, "after"));
    bool has_after = after && *after &&
                     !(requested_after && strcmp(after, requested_after) == 0);
    if (!r->has_cursor) {
        if (has_after && r->walk_pages < r->backfill_pages) {
            page->next_token = hark_xstrdup(after);
        }
        return;
    }
    if (w->is_reached || r->n_walked == 0) {
        return;
    }
    if (has_after && r->walk_pages < REDDIT_MAX_WALK_PAGES) {
        page->next_token = hark_xstrdup(after);
        return;
    }
    char oldest[32] = "?";
    char cursor_at[32] = "?";
    if (w->has_oldest) {
        hark_time_format(w->oldest.time_s * 1000, oldest);
    }
    if (r->cursor.time_s >= 0) {
        hark_time_format(r->cursor.time_s * 1000, cursor_at);
    }
    hark_errbuf_printf(errbuf, errbuf_len,
            "gap: the listing ended (%s) after %zu items without reaching "
            "the cursor %s; items from %s back to %s could not be read",
            has_after ? "page cap" : "Reddit's depth limit, after=null",
            r->n_walked, r->cursor_text ? r->cursor_text : "?", oldest,
            cursor_at);
}

static hark_err_t reddit_parse(void *state,
                               const struct hark_response *resp,
                               struct hark_page *page,
                               char *errbuf,
                               size_t errbuf_len)
{
    struct reddit *r = state;
    struct hark_json_doc *doc = NULL;
    char *requested_after = NULL;

    memset(page, 0, sizeof(*page));
    read_rate(resp, &page->rate);
    page->is_forward = false;
    hark_errbuf_printf(errbuf, errbuf_len, "%s", "");

    if (hark_response_json(resp, "a Listing", &doc, errbuf, errbuf_len) != HARK_OK) {
        return HARK_EINVAL;
    }
    const struct hark_json *data = NULL;
    const struct hark_json *children =
        listing_children(doc->root, &data, errbuf, errbuf_len);
    if (!children) {
        hark_json_doc_free(doc);
        return HARK_EINVAL;
    }

    /* The walk's first page is the one requested without `after`. */
    requested_after = resp->url ? hark_url_param(resp->url, "after") : NULL;
    bool is_first = !requested_after || !*requested_after;
    if (is_first) {
        r->walk_pages = 0;
        r->n_walked = 0;
    }
    r->walk_pages++;
    r->n_walked += children->n;

    struct walk w;
    memset(&w, 0, sizeof(w));
    page->posts =
        hark_xcalloc(children->n ? children->n : 1, sizeof(struct hark_post *));
    /* Newest first on the wire; posts go out oldest first. */
    for (size_t i = children->n; i-- > 0;) {
        take_child(r, children->items[i], i, page, &w);
    }
    if (is_first && w.has_newest &&
        (!r->has_cursor || key_cmp(&w.newest, &r->cursor) > 0)) {
        page->cursor = hark_xasprintf("%s@%lld", w.newest_name,
                                      (long long)w.newest.time_s);
    }
    next_page(r, data, requested_after, &w, page, errbuf, errbuf_len);
    if (w.n_skipped > 0 && errbuf && errbuf_len > 0 && !errbuf[0]) {
        hark_errbuf_printf(errbuf, errbuf_len,
                "skipped %zu of %zu listing children (first: child %zu, %s)",
                w.n_skipped, children->n, w.first_skipped, w.why);
    }
    free(requested_after);
    hark_json_doc_free(doc);
    return HARK_OK;
}

/* ---- OAuth (client credentials) ---- */

static bool has_credentials(const struct reddit *r)
{
    return r->client_id_env != NULL;
}

static void token_forget(struct reddit *r)
{
    secret_free(r->access_token);
    r->access_token = NULL;
    r->token_expires_ms = 0;
}

static bool reddit_token_needed(void *state, int64_t now_ms)
{
    const struct reddit *r = state;
    if (!has_credentials(r)) {
        return false; /* token_env (or nothing) */
    }
    return !r->access_token ||
           now_ms >= r->token_expires_ms - REDDIT_TOKEN_MARGIN_MS;
}

/*
 * The value of variable `env` (`role` names the config key in messages),
 * or NULL with errbuf naming the variable.
 */
static const char *
cred_get(const char *env, const char *role, char *errbuf, size_t errbuf_len)
{
    const char *v = getenv(env);
    if (!v || !*v) {
        hark_errbuf_printf(errbuf, errbuf_len, "environment variable %s (%s) is not set",
                env, role);
        return NULL;
    }
    return v;
}

static hark_err_t reddit_token_request(void *state,
                                       struct hark_buf *url,
                                       struct hark_buf *body,
                                       struct hark_strv *headers,
                                       char *errbuf,
                                       size_t errbuf_len)
{
    static const char basic[] = "Authorization: Basic ";
    struct reddit *r = state;
    if (!has_credentials(r)) {
        hark_errbuf_printf(errbuf, errbuf_len, "no client credentials configured");
        return HARK_EINVAL;
    }
    const char *id =
        cred_get(r->client_id_env, "client_id_env", errbuf, errbuf_len);
    const char *secret = id ? cred_get(r->client_secret_env,
                                       "client_secret_env", errbuf, errbuf_len)
                            : NULL;
    if (!id || !secret) {
        return HARK_EINVAL;
    }
    if (strchr(id, ':')) {
        /* RFC 7617: the user-id of Basic authentication has no ':'. */
        hark_errbuf_printf(errbuf, errbuf_len,
                "environment variable %s (client_id_env) holds a ':'; a "
                "client id cannot",
                r->client_id_env);
        return HARK_EINVAL;
    }
    hark_buf_reset(url);
    hark_buf_reset(body);
    hark_err_t err = hark_buf_printf(url, "%s", r->token_url);
    if (err == HARK_OK) {
        err = hark_buf_add(body, REDDIT_TOKEN_BODY,
                           sizeof(REDDIT_TOKEN_BODY) - 1);
    }
    if (err != HARK_OK) {
        hark_errbuf_printf(errbuf, errbuf_len, "token request too large");
        return err;
    }

    /* Exact-size buffers (no realloc leaves a copy behind), zeroed. */
    size_t id_len = strlen(id);
    size_t secret_len = strlen(secret);
    size_t pair_len = id_len + 1 + secret_len;
    char *pair = hark_xmalloc(pair_len + 1);
    (void)snprintf(pair, pair_len + 1, "%s:%s", id, secret);
    char *b64 = hark_base64_encode(pair, pair_len);
    memset(pair, 0, pair_len);
    free(pair);
    size_t b64_len = strlen(b64);
    size_t h_len = sizeof(basic) - 1 + b64_len;
    char *h = hark_xmalloc(h_len + 1);
    memcpy(h, basic, sizeof(basic) - 1);
    memcpy(h + sizeof(basic) - 1, b64, b64_len + 1);
    secret_free(b64);
    hark_strv_add(headers, h, h_len);
    secret_free(h);
    static const char form[] =
        "Content-Type: application/x-www-form-urlencoded";
    hark_strv_add(headers, form, sizeof(form) - 1);
    return HARK_OK;
}

/* Whether `s` may go into a header as a token (printable, no spaces). */
static bool is_token_text(const char *s, size_t len)
{
    if (len == 0 || len > REDDIT_TOKEN_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7F) {
            return false;
        }
    }
    return true;
}

/* A short printable copy of a non-secret string (error codes) in out. */
static void safe_text(const char *s, char out[64])
{
    size_t n = 0;
    for (; s && *s && n < 60; s++) {
        unsigned char c = (unsigned char)*s;
        out[n++] = (char)((c >= 0x20 && c < 0x7F && c != '"') ? c : '?');
    }
    out[n] = '\0';
}

/* Why the token response `root` is unusable, into errbuf; false if so. */
static bool
token_check(const struct hark_json *root, char *errbuf, size_t errbuf_len)
{
    char text[64];
    if (root->type != HARK_JSON_OBJECT) {
        hark_errbuf_printf(errbuf, errbuf_len,
                "token response: expected an object, got %s",
                hark_json_type_name(root->type));
        return false;
    }
    const struct hark_json *error = hark_json_get(root, "error");
    if (error) {
        /* {"error": "invalid_grant"}, or {"message": .., "error": 401} */
        const char *msg = hark_json_str(error);
        if (!msg) {
            msg = hark_json_str(hark_json_get(root, "message"));
        }
        safe_text(msg, text);
        hark_errbuf_printf(errbuf, errbuf_len, "token endpoint reported error \"%s\"",
                text);
        return false;
    }
    const struct hark_json *tok = hark_json_get(root, "access_token");
    if (!tok || tok->type != HARK_JSON_STRING ||
        !is_token_text(tok->s, tok->s_len)) {
        hark_errbuf_printf(errbuf, errbuf_len, "token response: %s \"access_token\"",
                tok ? "unusable" : "no");
        return false;
    }
    const char *type = hark_json_str(hark_json_get(root, "token_type"));
    if (!type || strcasecmp(type, "bearer") != 0) {
        safe_text(type, text);
        hark_errbuf_printf(errbuf, errbuf_len,
                "token response: \"token_type\" is \"%s\", expected "
                "\"bearer\"",
                type ? text : "(none)");
        return false;
    }
    const struct hark_json *exp = hark_json_get(root, "expires_in");
    if (!exp || !(exp->type & HARK_JSON_NUMBER) || exp->d < 1 || exp->d > 1e9) {
        hark_errbuf_printf(errbuf, errbuf_len,
                "token response: %s \"expires_in\" (seconds)",
                exp ? "unusable" : "no");
        return false;
    }
    return true;
}

static hark_err_t reddit_token_parse(void *state,
                                     const struct hark_response *resp,
                                     int64_t now_ms,
                                     char *errbuf,
                                     size_t errbuf_len)
{
    struct reddit *r = state;
    struct hark_json_doc *doc = NULL;
    token_forget(r);
    hark_errbuf_printf(errbuf, errbuf_len, "%s", "");
    if (hark_response_json(resp, "a Listing", &doc, errbuf, errbuf_len) != HARK_OK) {
        return HARK_EINVAL;
    }
    if (!token_check(doc->root, errbuf, errbuf_len)) {
        hark_json_doc_free(doc);
        return HARK_EINVAL;
    }
    const struct hark_json *tok = hark_json_get(doc->root, "access_token");
    r->access_token = hark_xstrndup(tok->s, tok->s_len);
    double expires_s = hark_json_get(doc->root, "expires_in")->d;
    r->token_expires_ms = now_ms + (int64_t)(expires_s * 1000.0);
    hark_json_doc_free(doc);
    return HARK_OK;
}

static void reddit_token_invalidate(void *state)
{
    token_forget(state);
}

static hark_err_t reddit_request_headers(void *state,
                                         struct hark_strv *headers,
                                         char *errbuf,
                                         size_t errbuf_len)
{
    const struct reddit *r = state;
    if (!has_credentials(r)) {
        return HARK_OK; /* the engine sends token_env's bearer token */
    }
    if (!r->access_token) {
        hark_errbuf_printf(errbuf, errbuf_len, "no access token yet");
        return HARK_EAGAIN;
    }
    char *h = hark_xasprintf("Authorization: Bearer %s", r->access_token);
    hark_strv_add(headers, h, strlen(h));
    secret_free(h);
    return HARK_OK;
}

const struct hark_source_ops hark_src_reddit = {
    .type = "reddit",
    .cfgmap = reddit_cfgmap,
    .init = reddit_init,
    .build_url = reddit_build_url,
    .parse = reddit_parse,
    .free_state = reddit_free,
    .request_headers = reddit_request_headers,
    .token_needed = reddit_token_needed,
    .token_request = reddit_token_request,
    .token_parse = reddit_token_parse,
    .token_invalidate = reddit_token_invalidate,
};
