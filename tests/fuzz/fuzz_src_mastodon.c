/*
 * fuzz_src_mastodon: the Mastodon adapter's parse (ingest/src_mastodon.c)
 * on a response body: JSON parsed without UTF-8 validation (strings are
 * repaired later), statuses and boosts, HTML content to text with links,
 * mentions, tags, metrics, ids compared as decimal strings, the cursor and
 * next page token.
 *
 * The adapter is initialized once, on a fixed source object. Each input is
 * parsed as two 200 responses with the recorded headers: a first run's
 * request (no min_id, a walk back) and a catch-up request (min_id, a walk
 * forward). A small limit (2) in the URL lets short inputs reach the
 * full-page paths.
 *
 * Invariants checked on every page: each post has an id, the platform and
 * source, a text, every string valid UTF-8; posts are sorted oldest first;
 * a page with posts has a cursor; and every post survives the trip through
 * its JSON form (hark_post_gen, then hark_json_parse with UTF-8 validation,
 * hark_post_from_json) with id and text unchanged.
 *
 * Thread: one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


#include "hark/json.h"
#include "hark/post.h"
#include "hark/source.h"

#include "fuzz_util.h"
#include "ingest/source_int.h"

#define MAX_INPUT (256U << 10)

static const char source_obj[] =
    "{\"name\": \"acme\", \"type\": \"mastodon\", "
    "\"base_url\": \"https://mastodon.social\", \"timeline\": \"tag/coffee\", "
    "\"backfill_pages\": 2}";

static const struct hark_header headers[] = {
    {(char *)"content-type", (char *)"application/json; charset=utf-8"},
    {(char *)"link",
     (char *)"<https://mastodon.social/api/v1/timelines/tag/coffee?limit=2&"
             "max_id=109>; rel=\"next\", <https://mastodon.social/api/v1/"
             "timelines/tag/coffee?limit=2&min_id=110>; rel=\"prev\""},
    {(char *)"x-ratelimit-limit", (char *)"300"},
    {(char *)"x-ratelimit-remaining", (char *)"299"},
    {(char *)"x-ratelimit-reset", (char *)"2026-08-01T14:00:00.497737Z"},
};

static const char *const urls[] = {
    "https://mastodon.social/api/v1/timelines/tag/coffee?limit=2",
    "https://mastodon.social/api/v1/timelines/tag/coffee?limit=2&"
    "min_id=109000000000000001",
};

static const struct hark_source_ops *ops;
static void *state;

static void *mastodon_state(void)
{
    if (state) {
        return state;
    }
    ops = hark_source_ops_find("mastodon");
    FUZZ_CHECK(ops != NULL);
    char errbuf[256];
    size_t off = 0;
    struct hark_json_opts opts = {
        .allow_comments = true, .validate_utf8 = true, .max_depth = 64};
    struct hark_json_doc *doc = NULL;
    FUZZ_CHECK(hark_json_parse(source_obj, sizeof(source_obj) - 1, "hark.json",
                               &opts, &doc, errbuf, sizeof(errbuf),
                               &off) == HARK_OK);
    struct hark_source_cfg cfg = {
        .name = (char *)"acme",
        .type = (char *)"mastodon",
        .base_url = (char *)"https://mastodon.social",
        .interval_s = 60,
        .backfill_pages = 2,
        .page_limit = 0,
        .token_env = NULL,
    };
    struct hark_diag diag;
    hark_diag_init(&diag);
    FUZZ_CHECK(ops->init(&cfg, doc, doc->root, &diag, &state) == HARK_OK);
    hark_diag_cleanup(&diag);
    hark_json_doc_free(doc);
    /* The adapter keeps `state` for the whole process (one source). */
    return state;
}

static void check_str(const char *s)
{
    if (s) {
        FUZZ_CHECK(hark_utf8_valid(s, strlen(s)));
    }
}

static void check_strv(const struct hark_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++) {
        FUZZ_CHECK(sv->v[i] != NULL);
        check_str(sv->v[i]);
    }
}

static void check_post(const struct hark_post *post)
{
    FUZZ_CHECK(post->id != NULL && post->id[0] != '\0');
    FUZZ_CHECK(post->platform && strcmp(post->platform, "mastodon") == 0);
    FUZZ_CHECK(post->source && strcmp(post->source, "acme") == 0);
    FUZZ_CHECK(post->text != NULL);
    const char *strs[] = {post->id,
                          post->url,
                          post->created_at,
                          post->edited_at,
                          post->lang,
                          post->title,
                          post->spoiler_text,
                          post->text,
                          post->author.id,
                          post->author.handle,
                          post->author.display_name,
                          post->in_reply_to,
                          post->conversation_id,
                          post->repost_of,
                          post->reposted_by};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        check_str(strs[i]);
    }
    check_strv(&post->hashtags);
    check_strv(&post->mentions);
    check_strv(&post->links);
}

/* The post's JSON form reads back as the same post. */
static void check_round_trip(const struct hark_post *post)
{
    struct hark_buf out;
    struct hark_jw jw;
    hark_buf_init(&out, 0);
    hark_jw_init(&jw, &out);
    hark_post_gen(&jw, post);
    const char *buf = out.ptr;
    size_t len = out.len;

    char errbuf[256];
    size_t off = 0;
    struct hark_json_opts opts = {
        .allow_comments = false, .validate_utf8 = true, .max_depth = 64};
    struct hark_json_doc *doc = NULL;
    hark_err_t err = hark_json_parse((const char *)buf, len, "post", &opts,
                                     &doc, errbuf, sizeof(errbuf), &off);
    if (err != HARK_OK) {
        (void)fprintf(stderr, "post JSON does not parse back: %s: %.*s\n",
                      errbuf, (int)len, (const char *)buf);
    }
    FUZZ_CHECK(err == HARK_OK);
    struct hark_post *back = NULL;
    FUZZ_CHECK(hark_post_from_json(doc->root, &back, errbuf, sizeof(errbuf)) ==
               HARK_OK);
    FUZZ_CHECK(strcmp(back->id, post->id) == 0);
    FUZZ_CHECK(strcmp(back->text, post->text) == 0);
    FUZZ_CHECK(back->n_repaired == 0);
    hark_post_free(back);
    hark_json_doc_free(doc);
    hark_buf_cleanup(&out);
}

static void check_page(const struct hark_page *page)
{
    for (size_t i = 0; i < page->n_posts; i++) {
        FUZZ_CHECK(page->posts[i] != NULL);
        check_post(page->posts[i]);
        check_round_trip(page->posts[i]);
        if (i > 0) {
            FUZZ_CHECK(
                hark_id_cmp(page->posts[i - 1]->id, page->posts[i]->id) <= 0);
        }
    }
    if (page->n_posts > 0) {
        FUZZ_CHECK(page->cursor != NULL);
    }
    check_str(page->cursor);
    check_str(page->next_token);
}

/* NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's name */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    void *st = mastodon_state();
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        struct hark_response resp = {
            .status = 200,
            .headers = headers,
            .n_headers = sizeof(headers) / sizeof(headers[0]),
            .body = (const char *)data,
            .body_len = size,
            .url = urls[i],
        };
        struct hark_page page;
        char errbuf[512];
        hark_err_t err = ops->parse(st, &resp, &page, errbuf, sizeof(errbuf));
        FUZZ_CHECK(memchr(errbuf, '\0', sizeof(errbuf)) != NULL);
        if (fuzz_verbose()) {
            (void)fprintf(
                stderr, "mastodon %s: %s, %zu posts, cursor %s, next %s%s%s\n",
                i ? "catch-up" : "first", hark_err_str(err), page.n_posts,
                page.cursor ? page.cursor : "-",
                page.next_token ? page.next_token : "-", errbuf[0] ? ": " : "",
                errbuf);
        }
        if (err == HARK_OK) {
            check_page(&page);
        } else {
            FUZZ_CHECK(errbuf[0] != '\0'); /* the DLQ says why */
        }
        hark_page_cleanup(&page);
    }
    return 0;
}
