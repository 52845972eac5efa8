/*
 * registry: the table of platform adapters (one row per src_<platform>.c,
 * as nginx lists its modules), the page and response helpers every adapter
 * and the engine share, the id ordering adapters use for cursors, and the
 * message loop the stream adapters' feed() share.
 *
 * Adding a platform: write src_<platform>.c with its ops table, declare it
 * in source_int.h, add one row below.
 */
#include "hark/source.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source_int.h"
#include "sse_int.h"

static const struct hark_source_ops *const adapters[] = {
    &hark_src_mastodon,
    &hark_src_reddit,
    &hark_src_hackernews,
    &hark_src_bluesky,
    &hark_src_json,
    &hark_src_x_stream,
};

#define N_ADAPTERS (sizeof(adapters) / sizeof(adapters[0]))

const struct hark_source_ops *hark_source_ops_find(const char *type)
{
    if (!type) {
        return NULL;
    }
    for (size_t i = 0; i < N_ADAPTERS; i++) {
        if (strcmp(adapters[i]->type, type) == 0) {
            return adapters[i];
        }
    }
    return NULL;
}

static char types_text[256];
static pthread_once_t types_once = PTHREAD_ONCE_INIT;

static void types_build(void)
{
    size_t n = 0;
    for (size_t i = 0; i < N_ADAPTERS; i++) {
        const char *sep = i == 0 ? "" : ", ";
        int k = snprintf(types_text + n, sizeof(types_text) - n, "%s%s", sep,
                         adapters[i]->type);
        hark_assert(k > 0 && (size_t)k < sizeof(types_text) - n);
        n += (size_t)k;
    }
}

const char *hark_source_types(void)
{
    /* Built once from the table, so the list can never go stale. */
    int rc = pthread_once(&types_once, types_build);
    hark_assert(rc == 0);
    return types_text;
}

void hark_page_cleanup(struct hark_page *page)
{
    if (!page) {
        return;
    }
    for (size_t i = 0; i < page->n_posts; i++) {
        hark_post_free(page->posts[i]); /* NULL once taken */
    }
    free(page->posts);
    free(page->cursor);
    free(page->next_token);
    for (size_t i = 0; i < page->n_bad; i++) {
        free(page->bad[i].reason);
        free(page->bad[i].raw);
    }
    free(page->bad);
    memset(page, 0, sizeof(*page));
    page->rate.limit = -1;
    page->rate.remaining = -1;
    page->rate.reset_at_ms = -1;
    page->rate.retry_after_ms = -1;
}

void hark_page_add_bad(struct hark_page *page, const char *raw,
                       size_t raw_len, const char *reason)
{
    page->bad =
        hark_xrealloc(page->bad, (page->n_bad + 1) * sizeof(*page->bad));
    struct hark_bad_msg *b = &page->bad[page->n_bad++];
    b->reason = hark_xstrdup(reason ? reason : "unreadable message");
    b->raw = raw ? hark_xstrndup(raw, raw_len) : NULL;
    b->raw_len = raw ? raw_len : 0;
}

static unsigned char lower(char c)
{
    unsigned char u = (unsigned char)c;
    return (u >= 'A' && u <= 'Z') ? (unsigned char)(u + 32) : u;
}

static bool name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        if (lower(*a) != lower(*b)) {
            return false;
        }
    }
    return *a == *b;
}

int64_t hark_response_count(const struct hark_response *resp,
                            const char *name)
{
    const char *v = hark_response_header(resp, name);
    if (!v) {
        return -1;
    }
    char *end;
    double d = strtod(v, &end);
    if (end == v || d < 0 || d > 9e15) {
        return -1;
    }
    return (int64_t)d;
}

const char *hark_response_header(const struct hark_response *resp,
                                 const char *name)
{
    if (!resp || !name) {
        return NULL;
    }
    /* Names are lowercased by the engine; compare without case anyway. */
    for (size_t i = 0; i < resp->n_headers; i++) {
        const struct hark_header *h = &resp->headers[i];
        if (h->name && name_eq(h->name, name)) {
            return h->value;
        }
    }
    return NULL;
}

int hark_id_cmp(const char *a, const char *b)
{
    if (!a || !b) {
        return (a != NULL) - (b != NULL); /* NULL sorts first */
    }
    while (*a == '0' && a[1]) {
        a++;
    }
    while (*b == '0' && b[1]) {
        b++;
    }
    size_t a_len = strlen(a);
    size_t b_len = strlen(b);
    if (a_len != b_len) {
        return a_len < b_len ? -1 : 1;
    }
    int c = strcmp(a, b);
    return (c > 0) - (c < 0);
}

/* Up to 60 bytes of the body, printable ASCII only, for messages. */
static void body_excerpt(const char *body, size_t len, char out[64])
{
    size_t n = 0;
    for (size_t i = 0; i < len && n < 60; i++) {
        unsigned char c = (unsigned char)body[i];
        out[n++] = (char)((c >= 0x20 && c < 0x7F) ? c : ' ');
    }
    out[n] = '\0';
}

hark_err_t hark_response_json(const struct hark_response *resp,
                              const char *expected,
                              struct hark_json_doc **doc, char *errbuf,
                              size_t errbuf_len)
{
    *doc = NULL;
    size_t i = 0;
    while (resp->body && i < resp->body_len &&
           (resp->body[i] == ' ' || resp->body[i] == '\t' ||
            resp->body[i] == '\n' || resp->body[i] == '\r')) {
        i++;
    }
    if (!resp->body || i == resp->body_len) {
        hark_errbuf_printf(errbuf, errbuf_len, "empty body; expected %s",
                           expected);
        return HARK_EINVAL;
    }
    if (resp->body[i] == '<') {
        /* An HTML error page (a proxy, a login wall), often with 200. */
        char excerpt[64];
        body_excerpt(resp->body + i, resp->body_len - i, excerpt);
        const char *type = hark_response_header(resp, "content-type");
        hark_errbuf_printf(errbuf, errbuf_len,
                           "not JSON (%s?): body starts \"%s\"",
                           type ? type : "text/html", excerpt);
        return HARK_EINVAL;
    }
    char parse_err[256];
    size_t err_offset = 0;
    struct hark_json_opts opts = {
        .allow_comments = false, .validate_utf8 = false, .max_depth = 64};
    if (hark_json_parse(resp->body, resp->body_len, resp->url, &opts, doc,
                        parse_err, sizeof(parse_err), &err_offset) != HARK_OK) {
        hark_errbuf_printf(errbuf, errbuf_len,
                           "invalid JSON at byte %zu of %zu: %s", err_offset,
                           resp->body_len, parse_err);
        return HARK_EINVAL;
    }
    return HARK_OK;
}

void hark_errbuf_printf(char *errbuf, size_t errbuf_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errbuf && errbuf_len > 0) {
        /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): started */
        (void)vsnprintf(errbuf, errbuf_len, fmt, ap);
    }
    va_end(ap);
}

char *hark_json_dup_repaired(const struct hark_json *v, unsigned *n_repaired)
{
    if (!v || v->type != HARK_JSON_STRING || v->s_len == 0) {
        return NULL;
    }
    if (hark_utf8_valid(v->s, v->s_len) && !memchr(v->s, '\0', v->s_len)) {
        return hark_xstrndup(v->s, v->s_len);
    }
    return hark_utf8_repair(v->s, v->s_len, n_repaired);
}

int64_t hark_json_count(const struct hark_json *obj, const char *key)
{
    int64_t v = hark_json_int(hark_json_get(obj, key), 0);
    return v < 0 ? 0 : v;
}

/* ---- stream feeds ---- */

struct feed_run {
    struct hark_feed *feed;
    hark_feed_msg_fn fn;
};

static void on_msg(void *ctx, const struct hark_sse_msg *msg)
{
    struct feed_run *run = ctx;
    run->feed->raw = msg->is_too_big ? NULL : msg->data;
    run->feed->raw_len = msg->is_too_big ? 0 : msg->data_len;
    run->fn(run->feed, msg);
}

hark_err_t hark_feed_run(struct hark_sse *sse, void *state, const char *data,
                         size_t len, struct hark_page *page, char *errbuf,
                         size_t errbuf_len, hark_feed_msg_fn fn)
{
    struct hark_feed feed = {state, page, 0, errbuf, errbuf_len, NULL, 0};
    struct feed_run run = {&feed, fn};
    page->is_forward = true;
    hark_errbuf_printf(errbuf, errbuf_len, "%s", "");
    hark_sse_feed(sse, data, len, on_msg, &run);
    if (feed.n_bad > 1 && errbuf && errbuf_len > 0) {
        size_t n = strlen(errbuf);
        hark_errbuf_printf(errbuf + n, errbuf_len - n, " (and %zu more)",
                           feed.n_bad - 1);
    }
    return feed.n_bad > 0 ? HARK_EINVAL : HARK_OK;
}

void hark_feed_bad(struct hark_feed *feed, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    hark_page_add_bad(feed->page, feed->raw, feed->raw_len, why);
    if (feed->n_bad++ == 0) {
        hark_errbuf_printf(feed->errbuf, feed->errbuf_len, "%s", why);
    }
}

void hark_feed_add(struct hark_feed *feed, struct hark_post *post)
{
    struct hark_page *page = feed->page;
    page->posts =
        hark_xrealloc(page->posts, (page->n_posts + 1) * sizeof(*page->posts));
    page->posts[page->n_posts++] = post;
}
