#include "hark/post.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hark_post *hark_post_new(void)
{
    struct hark_post *post = hark_xcalloc(1, sizeof(*post));
    post->author.followers = -1;
    post->text = hark_xstrdup("");
    return post;
}

void hark_strv_add(struct hark_strv *sv, const char *s, size_t len)
{
    sv->v = hark_xrealloc(sv->v, (sv->n + 1) * sizeof(*sv->v));
    sv->v[sv->n++] = hark_xstrndup(s, len);
}

void hark_strv_cleanup(struct hark_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++) {
        free(sv->v[i]);
    }
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

static void strv_copy(struct hark_strv *to, const struct hark_strv *from)
{
    to->v = NULL;
    to->n = 0;
    for (size_t i = 0; i < from->n; i++) {
        hark_strv_add(to, from->v[i], strlen(from->v[i]));
    }
}

void hark_post_free(struct hark_post *post)
{
    if (!post) {
        return;
    }
    free(post->id);
    free(post->platform);
    free(post->source);
    free(post->url);
    free(post->created_at);
    free(post->edited_at);
    free(post->lang);
    free(post->title);
    free(post->spoiler_text);
    free(post->text);
    free(post->author.id);
    free(post->author.handle);
    free(post->author.display_name);
    hark_strv_cleanup(&post->hashtags);
    hark_strv_cleanup(&post->mentions);
    hark_strv_cleanup(&post->links);
    free(post->in_reply_to);
    free(post->conversation_id);
    free(post->repost_of);
    free(post->reposted_by);
    free(post);
}

struct hark_post *hark_post_dup(const struct hark_post *src)
{
    struct hark_post *post = hark_xcalloc(1, sizeof(*post));
    *post = *src;
    post->id = hark_xstrdup(src->id);
    post->platform = hark_xstrdup(src->platform);
    post->source = hark_xstrdup(src->source);
    post->url = hark_xstrdup(src->url);
    post->created_at = hark_xstrdup(src->created_at);
    post->edited_at = hark_xstrdup(src->edited_at);
    post->lang = hark_xstrdup(src->lang);
    post->title = hark_xstrdup(src->title);
    post->spoiler_text = hark_xstrdup(src->spoiler_text);
    post->text = hark_xstrdup(src->text);
    post->author.id = hark_xstrdup(src->author.id);
    post->author.handle = hark_xstrdup(src->author.handle);
    post->author.display_name = hark_xstrdup(src->author.display_name);
    strv_copy(&post->hashtags, &src->hashtags);
    strv_copy(&post->mentions, &src->mentions);
    strv_copy(&post->links, &src->links);
    post->in_reply_to = hark_xstrdup(src->in_reply_to);
    post->conversation_id = hark_xstrdup(src->conversation_id);
    post->repost_of = hark_xstrdup(src->repost_of);
    post->reposted_by = hark_xstrdup(src->reposted_by);
    return post;
}

const char *hark_post_field(const struct hark_post *post, enum hark_field f)
{
    switch (f) {
    case HARK_FIELD_TEXT:
        return post->text;
    case HARK_FIELD_TITLE:
        return post->title;
    case HARK_FIELD_SPOILER:
        return post->spoiler_text;
    case HARK_FIELD_COUNT_:
        break;
    }
    return NULL;
}

const char *hark_field_name(enum hark_field f)
{
    switch (f) {
    case HARK_FIELD_TEXT:
        return "text";
    case HARK_FIELD_TITLE:
        return "title";
    case HARK_FIELD_SPOILER:
        return "spoiler_text";
    case HARK_FIELD_COUNT_:
        break;
    }
    return "?";
}

const char *hark_post_kind_name(enum hark_post_kind kind)
{
    switch (kind) {
    case HARK_KIND_POST:
        return "post";
    case HARK_KIND_COMMENT:
        return "comment";
    case HARK_KIND_REPLY:
        return "reply";
    case HARK_KIND_REPOST:
        return "repost";
    }
    return "post";
}

const char *hark_post_revision(const struct hark_post *post)
{
    if (post->edited_at && *post->edited_at) {
        return post->edited_at;
    }
    return post->created_at ? post->created_at : "";
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at s (at most `left` bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        return 1;
    }
    size_t n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (left < n) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return n;
}

/* Length of the ASCII prefix of p[0..len), 8 bytes at a time. */
static size_t ascii_prefix(const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i + 8 <= len) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        if (x & 0x8080808080808080ULL) {
            break;
        }
        i += 8;
    }
    while (i < len && p[i] < 0x80) {
        i++;
    }
    return i;
}

bool hark_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            i += ascii_prefix(p + i, len - i);
            continue;
        }
        size_t n = utf8_seq(p + i, len - i);
        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

char *hark_utf8_repair(const char *s, size_t len, unsigned *n_repaired)
{
    if (hark_utf8_valid(s, len) && !memchr(s, '\0', len)) {
        return hark_xstrndup(s, len); /* the common case: one copy */
    }
    const unsigned char *p = (const unsigned char *)s;
    struct hark_buf buf;
    hark_buf_init(&buf, 0);
    (void)hark_buf_reserve(&buf, len + 3);
    unsigned bad = 0;
    size_t i = 0;
    size_t run = 0; /* start of the pending valid run */
    while (i < len) {
        size_t n = p[i] < 0x80 ? 1 : utf8_seq(p + i, len - i);
        if (n == 0 || p[i] == 0) {
            (void)hark_buf_add(&buf, s + run, i - run);
            (void)hark_buf_add(&buf, "\xEF\xBF\xBD", 3);
            bad++;
            i++;
            /* one U+FFFD per maximal invalid subpart: skip continuations */
            while (i < len && (p[i] & 0xC0) == 0x80 && n == 0) {
                i++;
            }
            run = i;
            continue;
        }
        i += n;
    }
    (void)hark_buf_add(&buf, s + run, len - run);
    if (n_repaired) {
        *n_repaired += bad;
    }
    return hark_buf_take(&buf);
}

/* ---- from JSON ---- */

static char *opt_str(const struct hark_json *obj, const char *key,
                     unsigned *n_repaired)
{
    const struct hark_json *v = hark_json_get(obj, key);
    if (!v || v->type != HARK_JSON_STRING) {
        if (v && (v->type & HARK_JSON_NUMBER)) {
            return hark_xasprintf("%lld", (long long)v->i);
        }
        return NULL;
    }
    return hark_utf8_repair(v->s, v->s_len, n_repaired);
}

static void strv_from(struct hark_strv *sv, const struct hark_json *arr)
{
    if (!arr || arr->type != HARK_JSON_ARRAY) {
        return;
    }
    for (size_t i = 0; i < arr->n; i++) {
        const char *s = hark_json_str(arr->items[i]);
        if (s) {
            hark_strv_add(sv, s, strlen(s));
        }
    }
}

static enum hark_post_kind kind_from(const char *s)
{
    if (!s) {
        return HARK_KIND_POST;
    }
    if (strcmp(s, "comment") == 0) {
        return HARK_KIND_COMMENT;
    }
    if (strcmp(s, "reply") == 0) {
        return HARK_KIND_REPLY;
    }
    if (strcmp(s, "repost") == 0) {
        return HARK_KIND_REPOST;
    }
    return HARK_KIND_POST;
}

hark_err_t hark_post_from_json(const struct hark_json *obj,
                               struct hark_post **out, char *errbuf,
                               size_t errbuf_len)
{
    *out = NULL;
    if (!obj || obj->type != HARK_JSON_OBJECT) {
        snprintf(errbuf, errbuf_len, "a post must be a JSON object");
        return HARK_EINVAL;
    }
    const struct hark_json *text = hark_json_get(obj, "text");
    if (text && text->type != HARK_JSON_STRING && text->type != HARK_JSON_NULL) {
        snprintf(errbuf, errbuf_len, "\"text\" must be a string");
        return HARK_EINVAL;
    }
    struct hark_post *post = hark_post_new();
    unsigned *rep = &post->n_repaired;
    post->id = opt_str(obj, "id", rep);
    post->platform = opt_str(obj, "platform", rep);
    post->source = opt_str(obj, "source", rep);
    char *kind = opt_str(obj, "kind", rep);
    post->kind = kind_from(kind);
    free(kind);
    post->url = opt_str(obj, "url", rep);
    post->created_at = opt_str(obj, "created_at", rep);
    post->edited_at = opt_str(obj, "edited_at", rep);
    post->lang = opt_str(obj, "lang", rep);
    post->title = opt_str(obj, "title", rep);
    post->spoiler_text = opt_str(obj, "spoiler_text", rep);
    char *t = opt_str(obj, "text", rep);
    if (t) {
        free(post->text);
        post->text = t;
    }
    const struct hark_json *a = hark_json_get(obj, "author");
    if (a && a->type == HARK_JSON_OBJECT) {
        post->author.id = opt_str(a, "id", rep);
        post->author.handle = opt_str(a, "handle", rep);
        post->author.display_name = opt_str(a, "display_name", rep);
        post->author.followers = hark_json_int(hark_json_get(a, "followers"), -1);
    }
    strv_from(&post->hashtags, hark_json_get(obj, "hashtags"));
    strv_from(&post->mentions, hark_json_get(obj, "mentions"));
    strv_from(&post->links, hark_json_get(obj, "links"));
    post->in_reply_to = opt_str(obj, "in_reply_to", rep);
    post->conversation_id = opt_str(obj, "conversation_id", rep);
    post->is_repost = hark_json_bool(hark_json_get(obj, "is_repost"), false);
    if (post->is_repost && post->kind == HARK_KIND_POST) {
        post->kind = HARK_KIND_REPOST;
    }
    post->repost_of = opt_str(obj, "repost_of", rep);
    post->reposted_by = opt_str(obj, "reposted_by", rep);
    const struct hark_json *m = hark_json_get(obj, "metrics");
    post->likes = hark_json_int(hark_json_get(m, "likes"), 0);
    post->reposts = hark_json_int(hark_json_get(m, "reposts"), 0);
    post->replies = hark_json_int(hark_json_get(m, "replies"), 0);
    post->is_deleted = hark_json_bool(hark_json_get(obj, "deleted"), false);
    *out = post;
    return HARK_OK;
}

/* ---- to JSON ---- */

#define gen_kv(gen, key, value)                                                \
    do {                                                                       \
        HARK_JW_KEY(gen, key);                                                 \
        hark_jw_str(gen, value);                                               \
    } while (0)

#define gen_strv(gen, key, sv)                                                 \
    do {                                                                       \
        HARK_JW_KEY(gen, key);                                                 \
        gen_strv_items(gen, sv);                                               \
    } while (0)

static void gen_strv_items(struct hark_jw *gen, const struct hark_strv *sv)
{
    hark_jw_array_open(gen);
    for (size_t i = 0; i < sv->n; i++) {
        hark_jw_str(gen, sv->v[i]);
    }
    hark_jw_array_close(gen);
}

void hark_post_gen(struct hark_jw *gen, const struct hark_post *post)
{
    hark_jw_map_open(gen);
    gen_kv(gen, "id", post->id);
    gen_kv(gen, "platform", post->platform);
    gen_kv(gen, "source", post->source);
    gen_kv(gen, "kind", hark_post_kind_name(post->kind));
    gen_kv(gen, "url", post->url);
    gen_kv(gen, "created_at", post->created_at);
    gen_kv(gen, "edited_at", post->edited_at);
    gen_kv(gen, "lang", post->lang);
    gen_kv(gen, "title", post->title);
    gen_kv(gen, "spoiler_text", post->spoiler_text);
    gen_kv(gen, "text", post->text);
    HARK_JW_KEY(gen, "author");
    hark_jw_map_open(gen);
    gen_kv(gen, "id", post->author.id);
    gen_kv(gen, "handle", post->author.handle);
    gen_kv(gen, "display_name", post->author.display_name);
    HARK_JW_KEY(gen, "followers");
    if (post->author.followers >= 0) {
        hark_jw_int(gen, post->author.followers);
    } else {
        hark_jw_null(gen);
    }
    hark_jw_map_close(gen);
    gen_strv(gen, "hashtags", &post->hashtags);
    gen_strv(gen, "mentions", &post->mentions);
    gen_strv(gen, "links", &post->links);
    gen_kv(gen, "in_reply_to", post->in_reply_to);
    gen_kv(gen, "conversation_id", post->conversation_id);
    HARK_JW_KEY(gen, "is_repost");
    hark_jw_bool(gen, post->is_repost);
    if (post->is_repost) {
        gen_kv(gen, "repost_of", post->repost_of);
        gen_kv(gen, "reposted_by", post->reposted_by);
    }
    HARK_JW_KEY(gen, "metrics");
    hark_jw_map_open(gen);
    HARK_JW_KEY(gen, "likes");
    hark_jw_int(gen, post->likes);
    HARK_JW_KEY(gen, "reposts");
    hark_jw_int(gen, post->reposts);
    HARK_JW_KEY(gen, "replies");
    hark_jw_int(gen, post->replies);
    hark_jw_map_close(gen);
    hark_jw_map_close(gen);
}
