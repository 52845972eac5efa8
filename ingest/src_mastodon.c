/*
 * src_mastodon: the Mastodon REST adapter (timelines, polled).
 *
 * Paging. Mastodon ids are decimal strings, larger is newer, and
 * `min_id=X` returns the page of statuses immediately newer than X (up to
 * `limit`, at most 40). So the walk goes forward:
 *
 *   - first run (no cursor): one request for the newest page; its highest
 *     id becomes the cursor, and nothing older is read;
 *   - with a cursor: `min_id=<cursor>`; a full page means there may be
 *     more, so next_token is the page's highest id and the engine asks for
 *     `min_id=<token>` until a page comes back short.
 *
 * Each page's highest id may be committed as soon as its posts are
 * acknowledged (is_forward). Whether a page was a catch-up request is read
 * from the request URL in the response (its `min_id`), so parse does not
 * depend on which build_url call came last.
 *
 * Statuses. Posts come out oldest first. A boost keeps its own id and
 * created_at (when it was boosted), and takes everything else from the
 * boosted status (`reblog`): text, author, url, edited_at, tags, metrics.
 * A status that cannot be read (no id, no account, no created_at) is
 * skipped and counted; a body that is not a JSON array of statuses fails
 * the page (HARK_EINVAL, to the DLQ).
 *
 * Streaming ("stream": true). After every walk the engine opens the
 * timeline's streaming endpoint (server-sent events) and feeds the body
 * here: `update` is a status (the same mapping as a page), `status.update`
 * an edit (a new revision: edited_at), `delete` a tombstone; other events
 * are ignored. The cursor moves to the highest status id streamed, never
 * back (an edit of an old status does not move it), so the catch-up walk
 * before a reconnection starts where the stream stopped. Account
 * timelines have no stream.
 *
 * Thread: ingest thread only (the state is not shared).
 */
#include "hark/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source_int.h"
#include "sse_int.h"

#define MASTODON_MAX_LIMIT 40

static const char timeline_forms[] =
    "\"public\", \"local\", \"tag/NAME\", \"list/ID\" or \"account/ID\"";

struct mastodon {
    char *name;            /* the source's name, copied into every post */
    char *base_url;        /* without trailing '/' */
    char *host;            /* completes local accts: "alice" -> "alice@host" */
    char *path;            /* "/api/v1/timelines/public?local=true" */
    int limit;             /* statuses per request, 1..40 */
    bool is_last_catch_up; /* the last URL built had min_id */
    int backfill_pages;    /* pages a first run reads back (>= 1) */
    int last_page_index;   /* of the last URL built */
    /* streaming: stream_path NULL when the source polls only */
    char *stream_path;     /* "/api/v1/streaming/public" */
    char *stream_max;      /* the highest status id streamed (or cursor) */
    struct hark_sse sse;
};

static const struct hark_cfgmap mastodon_cfgmap[] = {
    {"timeline", HARK_JSON_STRING, true, NULL},
    {"stream", HARK_JSON_BOOL, false, NULL},
    {NULL, 0, false, NULL},
};

/* ---- config ---- */

static bool is_id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool is_tag_name(const char *s)
{
    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (*s == '/' || *s == '?' || *s == '#' || *s == ' ' || *s == '\t' ||
            *s == '\n' || *s == '\r') {
            return false;
        }
    }
    return true;
}

static bool is_id(const char *s)
{
    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (!is_id_char(*s)) {
            return false;
        }
    }
    return true;
}

/*
 * The endpoint path of `timeline`, or NULL when the form is unknown.
 * The caller frees the result.
 */
static char *timeline_path(const char *timeline)
{
    struct hark_buf buf;
    hark_buf_init(&buf, 0);
    const char *arg = NULL;
    const char *prefix = NULL;
    const char *suffix = "";

    if (strcmp(timeline, "public") == 0) {
        return hark_xstrdup("/api/v1/timelines/public");
    }
    if (strcmp(timeline, "local") == 0) {
        return hark_xstrdup("/api/v1/timelines/public?local=true");
    }
    if (strncmp(timeline, "tag/", 4) == 0) {
        arg = timeline + 4;
        if (*arg == '#') {
            arg++; /* "tag/#acme" means what it says */
        }
        if (!is_tag_name(arg)) {
            return NULL;
        }
        prefix = "/api/v1/timelines/tag/";
    } else if (strncmp(timeline, "list/", 5) == 0) {
        arg = timeline + 5;
        if (!is_id(arg)) {
            return NULL;
        }
        prefix = "/api/v1/timelines/list/";
    } else if (strncmp(timeline, "account/", 8) == 0) {
        arg = timeline + 8;
        if (!is_id(arg)) {
            return NULL;
        }
        prefix = "/api/v1/accounts/";
        suffix = "/statuses";
    } else {
        return NULL;
    }
    hark_err_t err = hark_buf_printf(&buf, "%s", prefix);
    if (err == HARK_OK) {
        err = hark_url_encode(&buf, arg, strlen(arg));
    }
    if (err == HARK_OK) {
        err = hark_buf_printf(&buf, "%s", suffix);
    }
    hark_assert(err == HARK_OK); /* unbounded */
    return hark_buf_take(&buf);
}

/*
 * The streaming endpoint (path and query) of a timeline timeline_path()
 * accepted, or NULL when it has none (account timelines). Caller frees.
 */
static char *stream_path_of(const char *timeline)
{
    const char *arg = NULL;
    const char *prefix = NULL;
    if (strcmp(timeline, "public") == 0) {
        return hark_xstrdup("/api/v1/streaming/public");
    }
    if (strcmp(timeline, "local") == 0) {
        return hark_xstrdup("/api/v1/streaming/public/local");
    }
    if (strncmp(timeline, "tag/", 4) == 0) {
        arg = timeline + 4;
        if (*arg == '#') {
            arg++;
        }
        prefix = "/api/v1/streaming/hashtag?tag=";
    } else if (strncmp(timeline, "list/", 5) == 0) {
        arg = timeline + 5;
        prefix = "/api/v1/streaming/list?list=";
    } else {
        return NULL;
    }
    struct hark_buf buf;
    hark_buf_init(&buf, 0);
    hark_err_t err = hark_buf_printf(&buf, "%s", prefix);
    if (err == HARK_OK) {
        err = hark_url_encode(&buf, arg, strlen(arg));
    }
    hark_assert(err == HARK_OK); /* unbounded */
    return hark_buf_take(&buf);
}

/* The lowercased authority of an http(s) URL, or NULL. */
static char *url_host(const char *url)
{
    if (!url) {
        return NULL;
    }
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) { /* userinfo is not part of the instance's name */
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    /* Nor is a port: accounts are user@domain, and identities in a
     * customer file must not depend on how hark reaches the instance. */
    const char *colon = p[0] == '[' ? NULL : memchr(p, ':', n);
    if (colon) {
        n = (size_t)(colon - p);
    }
    if (n == 0) {
        return NULL;
    }
    char *host = hark_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        host[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32U : c);
    }
    host[n] = '\0';
    return host;
}

static void mastodon_free(void *state)
{
    struct mastodon *m = state;
    if (!m) {
        return;
    }
    free(m->name);
    free(m->base_url);
    free(m->host);
    free(m->path);
    free(m->stream_path);
    free(m->stream_max);
    hark_sse_cleanup(&m->sse);
    free(m);
}

static hark_err_t mastodon_init(const struct hark_source_cfg *cfg,
                                const struct hark_json_doc *doc,
                                const struct hark_json *obj,
                                struct hark_diag *diag,
                                void **state)
{
    struct mastodon *m = NULL;
    char *path = NULL;
    char *host = NULL;
    char *stream_path = NULL;
    bool is_ok = true;

    *state = NULL;
    /*
     * The engine checks `obj` against the common keys plus our cfgmap
     * (presence, types) and calls init even when that failed, so init
     * reports only what the map cannot say, and fails quietly on what the
     * map already reported.
     */
    const struct hark_json *stream = hark_json_get(obj, "stream");
    bool is_stream = false;
    if (stream && stream->type != HARK_JSON_BOOL) {
        is_ok = false; /* reported by the cfgmap check */
    } else if (stream) {
        is_stream = stream->b;
    }

    const struct hark_json *timeline = hark_json_get(obj, "timeline");
    if (!timeline || timeline->type != HARK_JSON_STRING) {
        is_ok = false; /* reported by the cfgmap check */
    } else if (!(path = timeline_path(timeline->s))) {
        hark_json_error(doc, diag, timeline->offset,
                        "unknown timeline \"%s\"; expected %s", timeline->s,
                        timeline_forms);
        is_ok = false;
    } else if (is_stream && !(stream_path = stream_path_of(timeline->s))) {
        hark_json_error(doc, diag, hark_json_key_offset(obj, "stream"),
                        "timeline \"%s\" has no streaming endpoint (account "
                        "timelines cannot stream); remove \"stream\" to poll "
                        "it", timeline->s);
        is_ok = false;
    }

    const char *base = cfg->base_url ? cfg->base_url : "";
    bool is_http =
        strncmp(base, "http://", 7) == 0 || strncmp(base, "https://", 8) == 0;
    host = is_http ? url_host(base) : NULL;
    if (!host) {
        /* The engine reports a missing or non-http base_url itself. */
        if (is_http) {
            hark_json_error(doc, diag, hark_json_key_offset(obj, "base_url"),
                            "\"base_url\" must be the instance's URL, like "
                            "\"https://mastodon.social\"");
        }
        is_ok = false;
    }
    if (!is_ok) {
        goto fail;
    }

    m = hark_xcalloc(1, sizeof(*m));
    m->name = hark_xstrdup(cfg->name ? cfg->name : "");
    m->base_url = hark_xstrdup(cfg->base_url);
    size_t n = strlen(m->base_url);
    while (n > 0 && m->base_url[n - 1] == '/') {
        m->base_url[--n] = '\0';
    }
    m->host = host;
    m->path = path;
    /* The server caps at 40; asking for more would hide full pages. */
    m->limit = cfg->page_limit > 0 && cfg->page_limit < MASTODON_MAX_LIMIT
                   ? cfg->page_limit
                   : MASTODON_MAX_LIMIT;
    m->backfill_pages = cfg->backfill_pages > 1 ? cfg->backfill_pages : 1;
    m->stream_path = stream_path;
    hark_sse_init(&m->sse, HARK_SSE_EVENTS, 0);
    *state = m;
    return HARK_OK;

fail:
    free(path);
    free(host);
    free(stream_path);
    return HARK_EINVAL;
}

/* ---- requests ---- */

static hark_err_t mastodon_build_url(void *state,
                                     const char *cursor,
                                     const char *token,
                                     int page_index,
                                     struct hark_buf *url)
{
    struct mastodon *m = state;
    m->last_page_index = page_index;
    /* A first run's backfill walks back with "max:<id>" tokens. */
    const char *before = token && strncmp(token, "max:", 4) == 0 ? token + 4
                                                                 : NULL;
    const char *after = before ? NULL : token && *token ? token : cursor;
    if (after && !*after) {
        after = NULL;
    }
    hark_buf_reset(url);
    hark_err_t err =
        hark_buf_printf(url, "%s%s%climit=%d", m->base_url, m->path,
                        strchr(m->path, '?') ? '&' : '?', m->limit);
    if (err == HARK_OK && before) {
        err = hark_buf_printf(url, "&max_id=");
        if (err == HARK_OK) {
            err = hark_url_encode(url, before, strlen(before));
        }
    }
    if (err == HARK_OK && after) {
        err = hark_buf_printf(url, "&min_id=");
        if (err == HARK_OK) {
            err = hark_url_encode(url, after, strlen(after));
        }
    }
    if (err != HARK_OK) {
        return err;
    }
    m->is_last_catch_up = after != NULL;
    return HARK_OK;
}

/* ---- statuses ---- */

/* An id given as a string or (old servers) a number; NULL if neither. */
static char *id_dup(const struct hark_json *v, unsigned *n_repaired)
{
    if (v && v->type == HARK_JSON_INTEGER && v->i >= 0) {
        return hark_xasprintf("%lld", (long long)v->i);
    }
    return hark_json_dup_repaired(v, n_repaired);
}

static bool has_id(const struct hark_json *v)
{
    return v && ((v->type == HARK_JSON_INTEGER && v->i >= 0) ||
                 (v->type == HARK_JSON_STRING && v->s_len > 0));
}

/* `acct` completed to user@host ("alice" is local to the instance). */
static char *acct_dup(const struct mastodon *m,
                      const struct hark_json *v,
                      unsigned *n_repaired)
{
    char *acct = hark_json_dup_repaired(v, n_repaired);
    if (!acct) {
        return NULL;
    }
    const char *user = acct[0] == '@' ? acct + 1 : acct;
    char *out;
    if (!*user) {
        out = NULL;
    } else if (strchr(user, '@')) {
        out = hark_xstrdup(user);
    } else {
        out = hark_xasprintf("%s@%s", user, m->host);
    }
    free(acct);
    return out;
}

static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    const char *p = list;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == '\n') {
            p++;
        }
        size_t k = strcspn(p, " \t\n");
        if (k == n && strncmp(p, word, n) == 0) {
            return true;
        }
        p += k;
    }
    return false;
}

/* True when some object of array `arr` has `key` equal to `s`. */
static bool
array_has(const struct hark_json *arr, const char *key, const char *s)
{
    if (!arr || arr->type != HARK_JSON_ARRAY) {
        return false;
    }
    for (size_t i = 0; i < arr->n; i++) {
        const char *v = hark_json_str(hark_json_get(arr->items[i], key));
        if (v && strcmp(v, s) == 0) {
            return true;
        }
    }
    return false;
}

static bool strv_has(const struct hark_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++) {
        if (strcmp(sv->v[i], s) == 0) {
            return true;
        }
    }
    return false;
}

static void
strv_add_unique(struct hark_strv *sv, const char *s, unsigned *n_repaired)
{
    size_t len = strlen(s);
    char *fixed = NULL;
    if (!hark_utf8_valid(s, len)) {
        fixed = hark_utf8_repair(s, len, n_repaired);
        s = fixed;
        len = strlen(s);
    }
    if (len > 0 && !strv_has(sv, s)) {
        hark_strv_add(sv, s, len);
    }
    free(fixed);
}

struct links {
    const struct hark_json *mentions;
    const struct hark_json *tags;
    struct hark_post *post;
};

/* Keeps the links that are neither mentions nor hashtags. */
static void
on_link(void *ctx, const char *href, const char *cls, const char *rel)
{
    struct links *l = ctx;
    if (!href || !*href) {
        return;
    }
    if (has_word(cls, "mention") || has_word(cls, "hashtag") ||
        has_word(rel, "tag") || array_has(l->mentions, "url", href) ||
        array_has(l->tags, "url", href)) {
        return;
    }
    strv_add_unique(&l->post->links, href, &l->post->n_repaired);
}

static void add_names(struct hark_strv *sv,
                      const struct hark_json *arr,
                      unsigned *n_repaired)
{
    if (!arr || arr->type != HARK_JSON_ARRAY) {
        return;
    }
    for (size_t i = 0; i < arr->n; i++) {
        char *name = hark_json_dup_repaired(hark_json_get(arr->items[i], "name"), n_repaired);
        if (name) {
            const char *p = name[0] == '#' ? name + 1 : name;
            if (*p && !strv_has(sv, p)) {
                hark_strv_add(sv, p, strlen(p));
            }
        }
        free(name);
    }
}

static void add_mentions(const struct mastodon *m,
                         struct hark_strv *sv,
                         const struct hark_json *arr,
                         unsigned *n_repaired)
{
    if (!arr || arr->type != HARK_JSON_ARRAY) {
        return;
    }
    for (size_t i = 0; i < arr->n; i++) {
        char *acct =
            acct_dup(m, hark_json_get(arr->items[i], "acct"), n_repaired);
        if (acct && !strv_has(sv, acct)) {
            hark_strv_add(sv, acct, strlen(acct));
        }
        free(acct);
    }
}

/*
 * A post from Status `st`, or NULL with *why saying what is missing.
 * The caller owns the post.
 */
static struct hark_post *status_post(const struct mastodon *m,
                                     const struct hark_json *st,
                                     const char **why)
{
    if (st->type != HARK_JSON_OBJECT) {
        *why = "not an object";
        return NULL;
    }
    const struct hark_json *reblog = hark_json_get(st, "reblog");
    bool is_repost = reblog && reblog->type == HARK_JSON_OBJECT;
    const struct hark_json *src = is_repost ? reblog : st;
    const struct hark_json *account = hark_json_get(src, "account");

    if (!has_id(hark_json_get(st, "id"))) {
        *why = "no \"id\"";
        return NULL;
    }
    const char *sid = hark_json_str(hark_json_get(st, "id"));
    if (sid && strspn(sid, "0123456789") != strlen(sid)) {
        /* Mastodon ids are decimal strings; the cursor orders them. */
        *why = "an \"id\" that is not a decimal string";
        return NULL;
    }
    if (!hark_json_str(hark_json_get(st, "created_at"))) {
        *why = "no \"created_at\"";
        return NULL;
    }
    if (is_repost && !has_id(hark_json_get(reblog, "id"))) {
        *why = "a reblog without \"id\"";
        return NULL;
    }
    if (!account || account->type != HARK_JSON_OBJECT ||
        !has_id(hark_json_get(account, "id"))) {
        *why = "no \"account\" with an \"id\"";
        return NULL;
    }

    struct hark_post *post = hark_post_new();
    unsigned *rep = &post->n_repaired;
    post->id = id_dup(hark_json_get(st, "id"), rep);
    post->platform = hark_xstrdup("mastodon");
    post->source = hark_xstrdup(m->name);
    post->created_at = hark_json_dup_repaired(hark_json_get(st, "created_at"), rep);
    post->edited_at = hark_json_dup_repaired(hark_json_get(src, "edited_at"), rep);
    post->url = hark_json_dup_repaired(hark_json_get(src, "url"), rep);
    if (!post->url) {
        post->url = hark_json_dup_repaired(hark_json_get(src, "uri"), rep);
    }
    post->lang = hark_json_dup_repaired(hark_json_get(src, "language"), rep);
    post->spoiler_text = hark_json_dup_repaired(hark_json_get(src, "spoiler_text"), rep);

    struct links links = {hark_json_get(src, "mentions"),
                          hark_json_get(src, "tags"), post};
    const struct hark_json *content = hark_json_get(src, "content");
    if (content && content->type == HARK_JSON_STRING) {
        free(post->text);
        post->text = hark_html_to_text_links(content->s, content->s_len, rep,
                                             on_link, &links);
    }
    const char *card_url =
        hark_json_str(hark_json_get(hark_json_get(src, "card"), "url"));
    if (card_url && *card_url) {
        strv_add_unique(&post->links, card_url, rep);
    }

    post->author.id = id_dup(hark_json_get(account, "id"), rep);
    post->author.handle = acct_dup(m, hark_json_get(account, "acct"), rep);
    post->author.display_name =
        hark_json_dup_repaired(hark_json_get(account, "display_name"), rep);
    post->author.followers =
        hark_json_int(hark_json_get(account, "followers_count"), -1);

    add_names(&post->hashtags, hark_json_get(src, "tags"), rep);
    add_mentions(m, &post->mentions, hark_json_get(src, "mentions"), rep);

    post->in_reply_to = id_dup(hark_json_get(src, "in_reply_to_id"), rep);
    /* No thread root in a Status: a reply joins its parent's thread. */
    post->conversation_id = post->in_reply_to
                                ? hark_xstrdup(post->in_reply_to)
                                : id_dup(hark_json_get(src, "id"), rep);
    if (is_repost) {
        post->kind = HARK_KIND_REPOST;
        post->is_repost = true;
        post->repost_of = id_dup(hark_json_get(reblog, "id"), rep);
        post->reposted_by = acct_dup(
            m, hark_json_get(hark_json_get(st, "account"), "acct"), rep);
    } else {
        post->kind = post->in_reply_to ? HARK_KIND_REPLY : HARK_KIND_POST;
    }
    post->likes = hark_json_count(src, "favourites_count");
    post->reposts = hark_json_count(src, "reblogs_count");
    post->replies = hark_json_count(src, "replies_count");
    return post;
}

/* ---- pages ---- */

static int post_cmp(const void *a, const void *b)
{
    const struct hark_post *pa = *(struct hark_post *const *)a;
    const struct hark_post *pb = *(struct hark_post *const *)b;
    return hark_id_cmp(pa->id, pb->id);
}

static void read_rate(const struct hark_response *resp, struct hark_rate *rate)
{
    rate->limit = hark_response_count(resp, "x-ratelimit-limit");
    rate->remaining = hark_response_count(resp, "x-ratelimit-remaining");
    rate->reset_at_ms = -1;
    rate->retry_after_ms = -1; /* the engine reads Retry-After */
    int64_t ms;
    const char *reset = hark_response_header(resp, "x-ratelimit-reset");
    if (reset && hark_time_parse(reset, &ms) == HARK_OK) {
        rate->reset_at_ms = ms;
    }
}

/* Whether the request was a catch-up one (min_id given). */
static bool is_catch_up(const struct mastodon *m,
                        const struct hark_response *resp)
{
    if (!resp->url) {
        return m->is_last_catch_up;
    }
    char *min_id = hark_url_param(resp->url, "min_id");
    bool is_set = min_id && *min_id;
    free(min_id);
    return is_set;
}

static size_t request_limit(const struct mastodon *m,
                            const struct hark_response *resp)
{
    char *v = hark_url_param(resp->url, "limit");
    long n = v ? strtol(v, NULL, 10) : 0;
    free(v);
    if (n <= 0) {
        return (size_t)m->limit;
    }
    return (size_t)(n < MASTODON_MAX_LIMIT ? n : MASTODON_MAX_LIMIT);
}

struct skipped {
    size_t n;
    size_t first;    /* index of the first skipped item */
    const char *why; /* static */
};

/*
 * Turns every status of array `root` into page->posts (oldest first);
 * returns the highest id seen, skipped statuses included (borrowed from
 * the document or a post).
 */
static const char *page_posts(const struct mastodon *m,
                              const struct hark_json *root,
                              struct hark_page *page,
                              struct skipped *skip)
{
    const char *max_id = NULL;
    page->posts =
        hark_xcalloc(root->n ? root->n : 1, sizeof(struct hark_post *));
    for (size_t i = 0; i < root->n; i++) {
        const struct hark_json *st = root->items[i];
        /* Every id moves the cursor, even a skipped status's: but only a
         * well-formed one (Mastodon ids are decimal strings); garbage from
         * a broken server must not reach the cursor and its state file. */
        const char *id = hark_json_str(hark_json_get(st, "id"));
        if (id && *id && strspn(id, "0123456789") == strlen(id) &&
            hark_id_cmp(id, max_id) > 0) {
            max_id = id;
        }
        const char *why = NULL;
        struct hark_post *post = status_post(m, st, &why);
        if (!post) {
            if (skip->n++ == 0) {
                skip->first = i;
                skip->why = why;
            }
            continue;
        }
        if (post->id && strspn(post->id, "0123456789") == strlen(post->id) &&
            hark_id_cmp(post->id, max_id) > 0) {
            max_id = post->id; /* an id given as a number */
        }
        page->posts[page->n_posts++] = post;
    }
    qsort(page->posts, page->n_posts, sizeof(struct hark_post *), post_cmp);
    return max_id;
}

static hark_err_t mastodon_parse(void *state,
                                 const struct hark_response *resp,
                                 struct hark_page *page,
                                 char *errbuf,
                                 size_t errbuf_len)
{
    struct mastodon *m = state;
    struct hark_json_doc *doc = NULL;

    memset(page, 0, sizeof(*page));
    read_rate(resp, &page->rate);
    page->is_forward = true;
    hark_errbuf_printf(errbuf, errbuf_len, "%s", "");

    if (hark_response_json(resp, "a JSON array of statuses", &doc, errbuf,
                           errbuf_len) != HARK_OK) {
        return HARK_EINVAL;
    }
    const struct hark_json *root = doc->root;
    if (root->type != HARK_JSON_ARRAY) {
        const char *msg = hark_json_str(hark_json_get(root, "error"));
        hark_errbuf_printf(errbuf, errbuf_len,
                "expected a JSON array of statuses, got %s%s%.200s%s",
                hark_json_type_name(root->type), msg ? " (error: \"" : "",
                msg ? msg : "", msg ? "\")" : "");
        hark_json_doc_free(doc);
        return HARK_EINVAL;
    }

    struct skipped skip = {0, 0, NULL};
    const char *max_id = page_posts(m, root, page, &skip);
    if (max_id) {
        page->cursor = hark_xstrdup(max_id);
        bool is_full = root->n >= request_limit(m, resp);
        if (is_full && is_catch_up(m, resp)) {
            page->next_token = hark_xstrdup(max_id);
        } else if (!is_catch_up(m, resp)) {
            /* A first run reads backfill_pages pages back from the
             * newest; it commits the first page's high-water mark only
             * when the walk ends (a walk back, not forward). */
            page->is_forward = false;
            if (is_full && page->n_posts > 0 &&
                m->last_page_index + 1 < m->backfill_pages) {
                page->next_token =
                    hark_xasprintf("max:%s", page->posts[0]->id);
            }
        }
    }
    if (skip.n > 0) {
        hark_errbuf_printf(errbuf, errbuf_len,
                "skipped %zu of %zu statuses (first: item %zu, %s)", skip.n,
                root->n, skip.first, skip.why);
    }
    hark_json_doc_free(doc);
    return HARK_OK;
}

/* ---- streaming ---- */

static hark_err_t mastodon_stream_url(void *state,
                                      const char *cursor,
                                      struct hark_buf *url)
{
    struct mastodon *m = state;
    if (!m->stream_path) {
        return HARK_ECLOSED; /* this source polls */
    }
    /* The walk that just ended caught up to `cursor`; the stream goes on
     * from there. */
    if (cursor && *cursor && hark_id_cmp(cursor, m->stream_max) > 0) {
        free(m->stream_max);
        m->stream_max = hark_xstrdup(cursor);
    }
    hark_buf_reset(url);
    return hark_buf_printf(url, "%s%s", m->base_url, m->stream_path);
}

static void mastodon_stream_reset(void *state)
{
    struct mastodon *m = state;
    hark_sse_reset(&m->sse);
}

/* A tombstone for a `delete` event: id and platform only. */
static void stream_delete(struct hark_feed *feed, const char *data, size_t len)
{
    const struct mastodon *m = feed->state;
    /* The payload is the bare id; accept it quoted too. */
    while (len > 0 && (*data == ' ' || *data == '"')) {
        data++;
        len--;
    }
    while (len > 0 && (data[len - 1] == ' ' || data[len - 1] == '"')) {
        len--;
    }
    bool is_digits = len > 0 && len <= 32;
    for (size_t i = 0; i < len && is_digits; i++) {
        is_digits = data[i] >= '0' && data[i] <= '9';
    }
    if (!is_digits) {
        hark_feed_bad(feed, "delete event: \"%.*s\" is not a status id",
                      (int)(len < 64 ? len : 64), data);
        return;
    }
    struct hark_post *post = hark_post_new();
    post->id = hark_xstrndup(data, len);
    post->platform = hark_xstrdup("mastodon");
    post->source = hark_xstrdup(m->name);
    /* No created_at: the revision is "", which no status has, and the
     * event id of a tombstone includes "deleted" (sink/event.c). */
    post->is_deleted = true;
    hark_feed_add(feed, post);
}

/* `update` and `status.update`: one Status as JSON. */
static void stream_status(struct hark_feed *feed, const char *event,
                          const char *data, size_t len, bool is_edit)
{
    struct mastodon *m = feed->state;
    struct hark_json_doc *doc = NULL;
    char parse_err[256];
    size_t err_offset = 0;
    struct hark_json_opts opts = {
        .allow_comments = false, .validate_utf8 = false, .max_depth = 64};
    if (hark_json_parse(data, len, "stream", &opts, &doc, parse_err,
                        sizeof(parse_err), &err_offset) != HARK_OK) {
        hark_feed_bad(feed, "%s event: invalid JSON at byte %zu of %zu: %s",
                      event, err_offset, len, parse_err);
        return;
    }
    const char *why = NULL;
    struct hark_post *post = status_post(m, doc->root, &why);
    if (!post) {
        hark_feed_bad(feed, "%s event: unreadable status (%s)", event, why);
        hark_json_doc_free(doc);
        return;
    }
    if (is_edit && !post->edited_at) {
        /* An edit must be a new revision, or it would be deduplicated
         * against the status it changes. */
        char now[32];
        hark_time_format(hark_now_ms(), now);
        post->edited_at = hark_xstrdup(now);
    }
    if (hark_id_cmp(post->id, m->stream_max) > 0) {
        free(m->stream_max);
        m->stream_max = hark_xstrdup(post->id);
        free(feed->page->cursor);
        feed->page->cursor = hark_xstrdup(post->id);
    }
    hark_feed_add(feed, post);
    hark_json_doc_free(doc);
}

static void on_stream_msg(struct hark_feed *feed,
                          const struct hark_sse_msg *msg)
{
    if (msg->is_too_big) {
        hark_feed_bad(feed,
                      "%s event of %zu bytes is larger than the %u-byte "
                      "limit; dropped",
                      msg->event, msg->size, HARK_SSE_MAX_MSG);
        return;
    }
    if (strcmp(msg->event, "update") == 0) {
        stream_status(feed, msg->event, msg->data, msg->data_len, false);
    } else if (strcmp(msg->event, "status.update") == 0) {
        stream_status(feed, msg->event, msg->data, msg->data_len, true);
    } else if (strcmp(msg->event, "delete") == 0) {
        stream_delete(feed, msg->data, msg->data_len);
    }
    /* notification, filters_changed, announcement...: not posts */
}

static hark_err_t mastodon_feed(void *state, const char *data, size_t len,
                                struct hark_page *page, char *errbuf,
                                size_t errbuf_len)
{
    struct mastodon *m = state;
    return hark_feed_run(&m->sse, m, data, len, page, errbuf, errbuf_len,
                         on_stream_msg);
}

const struct hark_source_ops hark_src_mastodon = {
    .type = "mastodon",
    .cfgmap = mastodon_cfgmap,
    .init = mastodon_init,
    .build_url = mastodon_build_url,
    .parse = mastodon_parse,
    .free_state = mastodon_free,
    .stream_url = mastodon_stream_url,
    .feed = mastodon_feed,
    .stream_reset = mastodon_stream_reset,
};
