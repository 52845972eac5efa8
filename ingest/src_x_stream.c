/*
 * src_x_stream: the X API v2 filtered stream (`type: "x_stream"`).
 *
 * What it follows is set on the platform (the stream's rules, managed with
 * POST /2/tweets/search/stream/rules); hark only reads the stream:
 *
 *   GET {base_url}/2/tweets/search/stream?expansions=author_id&...
 *
 * a long-lived chunked response of one JSON object per line, "\r\n"
 * keep-alive lines between them (about every 20 s):
 *
 *   {"data": {tweet}, "includes": {"users": [...]},
 *    "matching_rules": [{"id": ..., "tag": ...}]}
 *
 * or an error object ({"errors": [...]}, e.g. an operational disconnect)
 * just before the server closes. There is no replay and no REST catch-up:
 * build_url returns HARK_ECLOSED, so the engine streams at once and records
 * a `gap` (DLQ) for the time it was disconnected.
 *
 * Tweets. id, text, created_at, lang and conversation_id come from `data`;
 * the author from includes.users by author_id (handle = username); the URL
 * is https://x.com/<username>/status/<id>. A retweet (referenced_tweets
 * type "retweeted", or text starting "RT @") is a repost: the author is the
 * retweeter, who is also reposted_by; repost_of is the original's id. A
 * reply (type "replied_to") is kind reply with in_reply_to. An edited tweet
 * (edit_history_tweet_ids lists earlier versions) is a new revision of the
 * first version: that id, created_at from the first version's snowflake,
 * edited_at = this version's created_at. The matching rules have no place in
 * a post and are not kept.
 *
 * The cursor is the highest tweet id seen (for the record: it is never used
 * to request anything).
 *
 * Thread: ingest thread only (the state is not shared).
 */
#include "hark/source.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source_int.h"
#include "sse_int.h"

#define STREAM_QUERY                                                        \
    "/2/tweets/search/stream?expansions=author_id&tweet.fields=created_at," \
    "lang,conversation_id,in_reply_to_user_id,referenced_tweets,"           \
    "public_metrics,edit_history_tweet_ids&user.fields=username,name,"      \
    "public_metrics"

/* Twitter snowflake ids: milliseconds since this epoch, shifted by 22. */
#define SNOWFLAKE_EPOCH_MS INT64_C(1288834974657)

struct xs {
    char *name;       /* the source's name */
    char *base_url;   /* without trailing '/' */
    char *stream_max; /* the highest tweet id seen */
    struct hark_sse sse;
};

static const struct hark_cfgmap xs_cfgmap[] = {
    {NULL, 0, false, NULL},
};

/* ---- config ---- */

static void xs_free(void *state)
{
    struct xs *x = state;
    if (!x) {
        return;
    }
    free(x->name);
    free(x->base_url);
    free(x->stream_max);
    hark_sse_cleanup(&x->sse);
    free(x);
}

static hark_err_t xs_init(const struct hark_source_cfg *cfg,
                          const struct hark_json_doc *doc,
                          const struct hark_json *obj, struct hark_diag *diag,
                          void **state)
{
    *state = NULL;
    /* From the object: init also runs on a partial cfg when the common
     * keys had errors, to report its own. */
    const struct hark_json *env = hark_json_get(obj, "token_env");
    if (env && env->type != HARK_JSON_STRING) {
        return HARK_EINVAL; /* reported by the cfgmap check */
    }
    if (!env || env->s_len == 0) {
        hark_json_error(doc, diag, obj->offset,
                        "the X filtered stream needs an app's bearer token: "
                        "set \"token_env\" to the name of the variable that "
                        "holds it");
        return HARK_EINVAL;
    }
    const char *base = cfg->base_url ? cfg->base_url : "";
    if (strncmp(base, "http://", 7) != 0 &&
        strncmp(base, "https://", 8) != 0) {
        return HARK_EINVAL; /* the engine reports it */
    }
    struct xs *x = hark_xcalloc(1, sizeof(*x));
    x->name = hark_xstrdup(cfg->name ? cfg->name : "");
    x->base_url = hark_xstrdup(base);
    size_t n = strlen(x->base_url);
    while (n > 0 && x->base_url[n - 1] == '/') {
        x->base_url[--n] = '\0';
    }
    hark_sse_init(&x->sse, HARK_SSE_NDJSON, 0);
    *state = x;
    return HARK_OK;
}

/* ---- requests ---- */

static hark_err_t xs_build_url(void *state, const char *cursor,
                               const char *token, int page_index,
                               struct hark_buf *url)
{
    (void)state;
    (void)cursor;
    (void)token;
    (void)page_index;
    (void)url;
    return HARK_ECLOSED; /* nothing to poll: the stream has no replay */
}

static hark_err_t xs_parse(void *state, const struct hark_response *resp,
                           struct hark_page *page, char *errbuf,
                           size_t errbuf_len)
{
    (void)state;
    (void)resp;
    memset(page, 0, sizeof(*page));
    if (errbuf && errbuf_len > 0) {
        (void)snprintf(errbuf, errbuf_len,
                       "x_stream makes no REST requests");
    }
    return HARK_EINVAL;
}

static hark_err_t xs_stream_url(void *state, const char *cursor,
                                struct hark_buf *url)
{
    struct xs *x = state;
    if (cursor && *cursor && hark_id_cmp(cursor, x->stream_max) > 0) {
        free(x->stream_max);
        x->stream_max = hark_xstrdup(cursor);
    }
    hark_buf_reset(url);
    return hark_buf_printf(url, "%s%s", x->base_url, STREAM_QUERY);
}

static void xs_stream_reset(void *state)
{
    struct xs *x = state;
    hark_sse_reset(&x->sse);
}

/* ---- tweets ---- */

/* An id given as a string of digits or as a non-negative number. */
static char *id_dup(const struct hark_json *v)
{
    if (v && v->type == HARK_JSON_INTEGER && v->i >= 0) {
        return hark_xasprintf("%" PRId64, v->i);
    }
    if (!v || v->type != HARK_JSON_STRING || v->s_len == 0 ||
        v->s_len > 32) {
        return NULL;
    }
    for (size_t i = 0; i < v->s_len; i++) {
        if (v->s[i] < '0' || v->s[i] > '9') {
            return NULL;
        }
    }
    return hark_xstrndup(v->s, v->s_len);
}

/* The user object of includes.users whose id is `id`, or NULL. */
static const struct hark_json *find_user(const struct hark_json *msg,
                                         const char *id)
{
    const struct hark_json *users =
        hark_json_get(hark_json_get(msg, "includes"), "users");
    if (!id || !users || users->type != HARK_JSON_ARRAY) {
        return NULL;
    }
    for (size_t i = 0; i < users->n; i++) {
        const char *uid = hark_json_str(hark_json_get(users->items[i], "id"));
        if (uid && strcmp(uid, id) == 0) {
            return users->items[i];
        }
    }
    return NULL;
}

/* The id of the first referenced tweet of `type`, or NULL. Caller frees. */
static char *referenced(const struct hark_json *tweet, const char *type)
{
    const struct hark_json *refs = hark_json_get(tweet, "referenced_tweets");
    if (!refs || refs->type != HARK_JSON_ARRAY) {
        return NULL;
    }
    for (size_t i = 0; i < refs->n; i++) {
        const char *t = hark_json_str(hark_json_get(refs->items[i], "type"));
        if (t && strcmp(t, type) == 0) {
            return id_dup(hark_json_get(refs->items[i], "id"));
        }
    }
    return NULL;
}

static void add_entities(struct hark_post *post, const struct hark_json *tweet)
{
    /* Present only when tweet.fields asks for entities. */
    const struct hark_json *ent = hark_json_get(tweet, "entities");
    const struct {
        const char *list;
        const char *key;
        struct hark_strv *sv;
    } kinds[] = {
        {"hashtags", "tag", &post->hashtags},
        {"mentions", "username", &post->mentions},
        {"urls", "expanded_url", &post->links},
    };
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        const struct hark_json *arr = hark_json_get(ent, kinds[k].list);
        if (!arr || arr->type != HARK_JSON_ARRAY) {
            continue;
        }
        struct hark_strv *sv = kinds[k].sv;
        for (size_t i = 0; i < arr->n; i++) {
            char *s = hark_json_dup_repaired(hark_json_get(arr->items[i], kinds[k].key),
                              &post->n_repaired);
            bool is_dup = false;
            for (size_t j = 0; s && j < sv->n && !is_dup; j++) {
                is_dup = strcmp(sv->v[j], s) == 0;
            }
            if (s && !is_dup) {
                hark_strv_add(sv, s, strlen(s));
            }
            free(s);
        }
    }
}

/*
 * An edited tweet: the first id of edit_history_tweet_ids when it is not
 * the tweet's own, else NULL. Caller frees.
 */
static char *first_version(const struct hark_json *tweet, const char *id)
{
    const struct hark_json *hist =
        hark_json_get(tweet, "edit_history_tweet_ids");
    if (!hist || hist->type != HARK_JSON_ARRAY || hist->n < 2) {
        return NULL;
    }
    char *first = id_dup(hist->items[0]);
    if (first && strcmp(first, id) == 0) {
        free(first);
        return NULL;
    }
    return first;
}

/* The creation time a snowflake id carries, or NULL. Caller frees. */
static char *snowflake_time(const char *id)
{
    char *end = NULL;
    unsigned long long v = strtoull(id, &end, 10);
    if (!end || *end || v >> 22 == 0 || v >> 63) {
        return NULL;
    }
    char out[32];
    hark_time_format((int64_t)(v >> 22) + SNOWFLAKE_EPOCH_MS, out);
    return hark_xstrdup(out);
}

/*
 * A post from one stream message with `data`, or NULL with *why saying
 * what is missing. The caller owns the post.
 */
static struct hark_post *tweet_post(const struct xs *x,
                                    const struct hark_json *msg,
                                    const char **why)
{
    const struct hark_json *tweet = hark_json_get(msg, "data");
    if (!tweet || tweet->type != HARK_JSON_OBJECT) {
        *why = "\"data\" is not an object";
        return NULL;
    }
    char *id = id_dup(hark_json_get(tweet, "id"));
    if (!id) {
        *why = "no \"id\"";
        return NULL;
    }
    struct hark_post *post = hark_post_new();
    unsigned *rep = &post->n_repaired;
    post->platform = hark_xstrdup("x");
    post->source = hark_xstrdup(x->name);
    post->created_at = hark_json_dup_repaired(hark_json_get(tweet, "created_at"), rep);
    post->lang = hark_json_dup_repaired(hark_json_get(tweet, "lang"), rep);
    post->conversation_id = id_dup(hark_json_get(tweet, "conversation_id"));
    char *text = hark_json_dup_repaired(hark_json_get(tweet, "text"), rep);
    if (text) {
        free(post->text);
        post->text = text;
    }

    char *first = first_version(tweet, id);
    if (first) {
        /* An edit: a new revision of the first version. */
        post->edited_at = post->created_at;
        post->created_at = snowflake_time(first);
        if (!post->created_at) {
            post->created_at = hark_xstrdup(post->edited_at);
        }
        post->id = first;
    } else {
        post->id = hark_xstrdup(id);
    }

    char *author_id = id_dup(hark_json_get(tweet, "author_id"));
    const struct hark_json *user = find_user(msg, author_id);
    post->author.id = author_id;
    post->author.handle = hark_json_dup_repaired(hark_json_get(user, "username"), rep);
    post->author.display_name = hark_json_dup_repaired(hark_json_get(user, "name"), rep);
    post->author.followers = hark_json_int(
        hark_json_get(hark_json_get(user, "public_metrics"),
                      "followers_count"),
        -1);
    post->url = post->author.handle
                    ? hark_xasprintf("https://x.com/%s/status/%s",
                                     post->author.handle, id)
                    : hark_xasprintf("https://x.com/i/web/status/%s", id);

    post->repost_of = referenced(tweet, "retweeted");
    post->in_reply_to = referenced(tweet, "replied_to");
    if (post->repost_of || strncmp(post->text, "RT @", 4) == 0) {
        post->kind = HARK_KIND_REPOST;
        post->is_repost = true;
        post->reposted_by = hark_xstrdup(post->author.handle);
    } else if (post->in_reply_to) {
        post->kind = HARK_KIND_REPLY;
    } else {
        post->kind = HARK_KIND_POST;
    }
    add_entities(post, tweet);

    const struct hark_json *pm = hark_json_get(tweet, "public_metrics");
    post->likes = hark_json_count(pm, "like_count");
    post->reposts = hark_json_count(pm, "retweet_count");
    post->replies = hark_json_count(pm, "reply_count");
    free(id);
    return post;
}

/* ---- the stream ---- */

/* {"errors": [{title, detail, ...}]}: what the platform said, once. */
static void stream_errors(struct hark_feed *feed, const struct hark_json *errs)
{
    const struct hark_json *e = errs->type == HARK_JSON_ARRAY && errs->n > 0
                                    ? errs->items[0]
                                    : errs;
    const char *title = hark_json_str(hark_json_get(e, "title"));
    const char *detail = hark_json_str(hark_json_get(e, "detail"));
    if (!detail) {
        detail = hark_json_str(hark_json_get(e, "message"));
    }
    hark_feed_bad(feed, "the stream reported an error: %.100s%s%.300s",
                  title ? title : "(no title)", detail ? ": " : "",
                  detail ? detail : "");
}

static void on_line(struct hark_feed *feed, const struct hark_sse_msg *msg)
{
    struct xs *x = feed->state;
    if (msg->is_too_big) {
        hark_feed_bad(feed,
                      "a stream line of %zu bytes is larger than the %u-byte "
                      "limit; dropped",
                      msg->size, HARK_SSE_MAX_MSG);
        return;
    }
    struct hark_json_doc *doc = NULL;
    char parse_err[256];
    size_t err_offset = 0;
    struct hark_json_opts opts = {
        .allow_comments = false, .validate_utf8 = false, .max_depth = 64};
    if (hark_json_parse(msg->data, msg->data_len, "stream", &opts, &doc,
                        parse_err, sizeof(parse_err), &err_offset) !=
        HARK_OK) {
        hark_feed_bad(feed, "invalid JSON at byte %zu of a %zu-byte line: %s",
                      err_offset, msg->data_len, parse_err);
        return;
    }
    const struct hark_json *root = doc->root;
    const struct hark_json *errs = hark_json_get(root, "errors");
    if (root->type != HARK_JSON_OBJECT) {
        hark_feed_bad(feed, "a stream line is a JSON %s, not an object",
                      hark_json_type_name(root->type));
    } else if (!hark_json_get(root, "data") && errs) {
        stream_errors(feed, errs);
    } else {
        /* With data, "errors" are partial (an expansion not found). */
        const char *why = NULL;
        struct hark_post *post = tweet_post(x, root, &why);
        if (!post) {
            hark_feed_bad(feed, "unreadable tweet (%s)", why);
        } else {
            const char *id = hark_json_str(
                hark_json_get(hark_json_get(root, "data"), "id"));
            if (id && hark_id_cmp(id, x->stream_max) > 0) {
                free(x->stream_max);
                x->stream_max = hark_xstrdup(id);
                free(feed->page->cursor);
                feed->page->cursor = hark_xstrdup(id);
            }
            hark_feed_add(feed, post);
        }
    }
    hark_json_doc_free(doc);
}

static hark_err_t xs_feed(void *state, const char *data, size_t len,
                          struct hark_page *page, char *errbuf,
                          size_t errbuf_len)
{
    struct xs *x = state;
    return hark_feed_run(&x->sse, x, data, len, page, errbuf, errbuf_len,
                         on_line);
}

const struct hark_source_ops hark_src_x_stream = {
    .type = "x_stream",
    .cfgmap = xs_cfgmap,
    .init = xs_init,
    .build_url = xs_build_url,
    .parse = xs_parse,
    .free_state = xs_free,
    .stream_url = xs_stream_url,
    .feed = xs_feed,
    .stream_reset = xs_stream_reset,
};
