/*
 * Tests for ingest/src_x_stream.c (the X API v2 filtered stream) on the
 * streams recorded in tests/data/api/x/ (see tests/data/SOURCES.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hark/source.h"

#include "ingest/source_int.h"

static const struct hark_source_ops *ops = &hark_src_x_stream;
#define SRC_FIXTURE_DIR "x"
#include "src_fixture.h"

/* ---- helpers ---- */

static void src_init(struct src *src, const char *json, const char *base_url)
{
    char errbuf[256];
    size_t off;
    struct hark_json_opts opts = {
        .allow_comments = true, .validate_utf8 = true, .max_depth = 64};
    assert_int_equal(hark_json_parse(json, strlen(json), "hark.json", &opts,
                                     &src->doc, errbuf, sizeof(errbuf), &off),
                     HARK_OK);
    hark_diag_init(&src->diag);
    const char *env = hark_json_str(hark_json_get(src->doc->root,
                                                  "token_env"));
    char *base = hark_xstrdup(base_url);
    char *token_env = hark_xstrdup(env);
    struct hark_source_cfg cfg = {
        .name = (char *)"xs",
        .type = (char *)"x_stream",
        .base_url = base,
        .interval_s = 60,
        .backfill_pages = 1,
        .token_env = token_env,
    };
    src->state = NULL;
    src->err =
        ops->init(&cfg, src->doc, src->doc->root, &src->diag, &src->state);
    free(base); /* init keeps copies */
    free(token_env);
}

static void *state_for(struct src *src)
{
    src_init(src,
             "{\"name\": \"xs\", \"type\": \"x_stream\", \"base_url\": "
             "\"https://api.x.com\", \"token_env\": \"X_BEARER\"}",
             "https://api.x.com/");
    assert_int_equal(src->err, HARK_OK);
    struct hark_buf url;
    hark_buf_init(&url, 0);
    assert_int_equal(ops->stream_url(src->state, NULL, &url), HARK_OK);
    hark_buf_cleanup(&url);
    ops->stream_reset(src->state);
    return src->state;
}

static void page_init(struct hark_page *page)
{
    memset(page, 0, sizeof(*page));
    page->is_forward = true;
}

static hark_err_t feed(void *st, const char *data, size_t len,
                       struct hark_page *page, char *errbuf,
                       size_t errbuf_len)
{
    page_init(page);
    return ops->feed(st, data, len, page, errbuf, errbuf_len);
}

static hark_err_t feed_str(void *st, const char *s, struct hark_page *page,
                           char *errbuf, size_t errbuf_len)
{
    return feed(st, s, strlen(s), page, errbuf, errbuf_len);
}

/* ---- config and requests ---- */

static void test_init__needs_token_env(void **state)
{
    (void)state;
    struct src src;
    src_init(&src, "{\"name\": \"xs\",\n \"type\": \"x_stream\"}",
             "https://api.x.com");
    assert_int_equal(src.err, HARK_EINVAL);
    assert_null(src.state);
    assert_int_equal(src.diag.n_errors, 1);
    if (!strstr(src.diag.entries[0].message, "\"token_env\"")) {
        fail_msg("message: %s", src.diag.entries[0].message);
    }
    src_cleanup(&src);
}

static void test_build_url__no_rest_catch_up(void **state)
{
    (void)state;
    struct src src;
    void *st = state_for(&src);
    struct hark_buf url;
    hark_buf_init(&url, 0);
    /* The engine then streams at once and records gaps. */
    assert_int_equal(ops->build_url(st, NULL, NULL, 0, &url), HARK_ECLOSED);
    assert_int_equal(ops->build_url(st, "1377650529766154240", NULL, 0, &url),
                     HARK_ECLOSED);
    hark_buf_cleanup(&url);
    src_cleanup(&src);
}

static void test_stream_url__fields_and_expansions(void **state)
{
    (void)state;
    struct src src;
    void *st = state_for(&src);
    struct hark_buf url;
    hark_buf_init(&url, 0);
    assert_int_equal(ops->stream_url(st, "5", &url), HARK_OK);
    assert_string_equal(
        url.ptr,
        "https://api.x.com/2/tweets/search/stream?expansions=author_id&"
        "tweet.fields=created_at,lang,conversation_id,in_reply_to_user_id,"
        "referenced_tweets,public_metrics,edit_history_tweet_ids&"
        "user.fields=username,name,public_metrics");
    hark_buf_cleanup(&url);
    src_cleanup(&src);
}

/* ---- the recorded stream ---- */

static void test_feed__recorded_stream(void **state)
{
    (void)state;
    struct src src;
    void *st = state_for(&src);
    size_t len;
    char *body = fixture("filtered_stream_2021-04-01.jsonl", &len);
    struct hark_page page;
    char errbuf[512];
    /* One of the nine lines is an operational-disconnect error. */
    assert_int_equal(feed(st, body, len, &page, errbuf, sizeof(errbuf)),
                     HARK_EINVAL);
    if (!strstr(errbuf, "operational-disconnect") ||
        !strstr(errbuf, "disconnected for operational reasons")) {
        fail_msg("errbuf: %s", errbuf);
    }
    /* Eight tweets (the last one twice: the engine's dedup drops it). */
    assert_int_equal(page.n_posts, 8);
    assert_string_equal(page.posts[6]->id, page.posts[7]->id);

    struct hark_post *p = page.posts[0]; /* quotes another tweet */
    assert_string_equal(p->id, "1377650090978992134");
    assert_string_equal(p->platform, "x");
    assert_string_equal(p->source, "xs");
    assert_int_equal(p->kind, HARK_KIND_POST);
    assert_string_equal(p->text,
                        "Fury https://t.co/YbMgHU5xRX https://t.co/tXgDG9jrKX");
    assert_string_equal(p->created_at, "2021-04-01T15:52:31.000Z");
    assert_null(p->edited_at);
    assert_string_equal(p->lang, "en");
    assert_string_equal(p->conversation_id, "1377650090978992134");
    assert_string_equal(p->author.id, "4602771083");
    assert_string_equal(p->author.handle, "blackheart_265");
    assert_string_equal(p->author.display_name, "Endangered Species");
    assert_int_equal(p->author.followers, 881);
    assert_string_equal(p->url,
                        "https://x.com/blackheart_265/status/"
                        "1377650090978992134");
    assert_int_equal(p->links.n, 2);
    assert_string_equal(p->links.v[1],
                        "https://twitter.com/Manie_DS/status/"
                        "1377640162566496258");
    assert_int_equal(p->likes, 0);

    p = page.posts[1]; /* a reply */
    assert_string_equal(p->id, "1377650093109743620");
    assert_int_equal(p->kind, HARK_KIND_REPLY);
    assert_string_equal(p->in_reply_to, "1377266697850257410");
    assert_string_equal(p->conversation_id, "1377266697850257410");
    assert_string_equal(p->author.handle, "sheelaghb18");
    assert_int_equal(p->author.followers, 837);
    assert_int_equal(p->mentions.n, 1);
    assert_string_equal(p->mentions.v[0], "PoliceMutual");

    p = page.posts[3];
    assert_string_equal(p->author.handle, "OpenMindMH");
    assert_int_equal(p->hashtags.n, 2);
    assert_string_equal(p->hashtags.v[0], "DogsofTwitter");
    assert_string_equal(p->hashtags.v[1], "dogs");
    assert_non_null(strstr(p->text, "#DogsofTwitter"));

    /* A reply whose author id needs more than 32 bits. */
    p = page.posts[5];
    assert_string_equal(p->author.id, "1164149377532907520");
    assert_string_equal(p->author.handle, "RealProstateDoc");

    assert_string_equal(page.cursor, "1377650529766154240");
    assert_true(page.is_forward);
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_feed__chunks_and_keep_alives(void **state)
{
    (void)state;
    size_t len;
    char *body = fixture("filtered_stream_2021-04-01.jsonl", &len);
    /* As the live stream sends it: "\r\n" endings and keep-alives. */
    struct hark_buf live;
    hark_buf_init(&live, 0);
    for (size_t i = 0; i < len; i++) {
        if (body[i] == '\n') {
            (void)hark_buf_add(&live, "\r\n\r\n\r\n", 6);
        } else {
            (void)hark_buf_addc(&live, body[i]);
        }
    }
    for (size_t step = 1; step < live.len; step = step * 4 + 3) {
        struct src src;
        void *st = state_for(&src);
        size_t n_posts = 0;
        size_t n_bad = 0;
        for (size_t at = 0; at < live.len; at += step) {
            size_t n = live.len - at < step ? live.len - at : step;
            struct hark_page page;
            char errbuf[512];
            if (feed(st, live.ptr + at, n, &page, errbuf, sizeof(errbuf)) !=
                HARK_OK) {
                n_bad++;
            }
            n_posts += page.n_posts;
            hark_page_cleanup(&page);
        }
        assert_int_equal(n_posts, 8);
        assert_int_equal(n_bad, 1);
        src_cleanup(&src);
    }
    hark_buf_cleanup(&live);
    free(body);
}

static void test_feed__truncated_last_line_loses_nothing_before(void **state)
{
    (void)state;
    struct src src;
    void *st = state_for(&src);
    size_t len;
    char *body = fixture("filtered_stream_truncated_last_line.jsonl", &len);
    struct hark_page page;
    char errbuf[512];
    /* Seven complete lines; the cut one waits for the rest of its line. */
    assert_int_equal(feed(st, body, len, &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 7);
    assert_string_equal(page.posts[6]->id, "1377650529766154240");
    hark_page_cleanup(&page);
    /* The connection ends; the next one starts clean. */
    ops->stream_reset(st);
    assert_int_equal(
        feed_str(st,
                 "{\"data\": {\"id\": \"1377650529766154241\", \"text\": "
                 "\"hi\", \"author_id\": \"1\"}}\r\n",
                 &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    assert_int_equal(page.n_posts, 1);
    assert_string_equal(page.posts[0]->text, "hi");
    assert_null(page.posts[0]->author.handle); /* no includes.users */
    assert_string_equal(page.posts[0]->url,
                        "https://x.com/i/web/status/1377650529766154241");
    hark_page_cleanup(&page);

    /* Without the reset, the cut line would have swallowed it: it ends
     * as one bad line instead. */
    assert_int_equal(feed(st, body, len, &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    hark_page_cleanup(&page);
    assert_int_equal(feed_str(st, "{\"data\": {\"id\": \"9\"}}\n", &page,
                              errbuf, sizeof(errbuf)),
                     HARK_EINVAL);
    assert_int_equal(page.n_posts, 0);
    assert_non_null(strstr(errbuf, "invalid JSON"));
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

/* ---- mapping (synthetic lines in the API's documented shape) ---- */

static void test_feed__retweet_is_a_repost(void **state)
{
    (void)state;
    struct src src;
    void *st = state_for(&src);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(
        feed_str(st,
                 "{\"data\": {\"id\": \"20\", \"text\": \"RT @ann: hello\", "
                 "\"author_id\": \"2\", \"referenced_tweets\": [{\"type\": "
                 "\"retweeted\", \"id\": \"10\"}], \"public_metrics\": "
                 "{\"retweet_count\": 5, \"reply_count\": 1, \"like_count\": "
                 "7, \"quote_count\": 0}}, \"includes\": {\"users\": [{\"id\": "
                 "\"2\", \"username\": \"bob\", \"name\": \"Bob\"}]}, "
                 "\"matching_rules\": [{\"id\": \"1377649934414049282\", "
                 "\"tag\": \"greetings\"}]}\n",
                 &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    assert_int_equal(page.n_posts, 1);
    struct hark_post *p = page.posts[0];
    assert_int_equal(p->kind, HARK_KIND_REPOST);
    assert_true(p->is_repost);
    assert_string_equal(p->repost_of, "10");
    assert_string_equal(p->reposted_by, "bob");
    assert_int_equal(p->reposts, 5);
    assert_int_equal(p->likes, 7);
    assert_int_equal(p->replies, 1);
    assert_int_equal(p->author.followers, -1); /* not given */
    hark_page_cleanup(&page);
    src_cleanup(&src);
}

static void test_feed__edit_is_a_new_revision(void **state)
{
    (void)state;
    struct src src;
    void *st = state_for(&src);
    struct hark_page page;
    char errbuf[512];
    /* The second version of 1377650090978992134 (recorded: created
     * 2021-04-01T15:52:31.000Z). */
    assert_int_equal(
        feed_str(st,
                 "{\"data\": {\"id\": \"1377660000000000000\", \"text\": "
                 "\"Fury!\", \"author_id\": \"4602771083\", \"created_at\": "
                 "\"2021-04-01T16:31:53.000Z\", \"edit_history_tweet_ids\": "
                 "[\"1377650090978992134\", \"1377660000000000000\"]}}\n",
                 &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    assert_int_equal(page.n_posts, 1);
    struct hark_post *p = page.posts[0];
    assert_string_equal(p->id, "1377650090978992134");
    assert_string_equal(p->edited_at, "2021-04-01T16:31:53.000Z");
    /* From the first version's snowflake id: the recorded time. */
    assert_int_equal(strncmp(p->created_at, "2021-04-01T15:52:31", 19), 0);
    assert_string_equal(hark_post_revision(p), "2021-04-01T16:31:53.000Z");
    assert_string_equal(page.cursor, "1377660000000000000");
    hark_page_cleanup(&page);

    /* A first version lists only itself: not an edit. */
    assert_int_equal(
        feed_str(st,
                 "{\"data\": {\"id\": \"1377670000000000000\", \"text\": "
                 "\"x\", \"edit_history_tweet_ids\": "
                 "[\"1377670000000000000\"]}}\n",
                 &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    assert_string_equal(page.posts[0]->id, "1377670000000000000");
    assert_null(page.posts[0]->edited_at);
    hark_page_cleanup(&page);
    src_cleanup(&src);
}

static void test_feed__cursor_never_moves_back(void **state)
{
    (void)state;
    struct src src;
    void *st = state_for(&src);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(feed_str(st, "{\"data\": {\"id\": \"100\"}}\n", &page,
                              errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_string_equal(page.cursor, "100");
    hark_page_cleanup(&page);
    assert_int_equal(feed_str(st, "{\"data\": {\"id\": \"99\"}}\n", &page,
                              errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 1);
    assert_null(page.cursor);
    hark_page_cleanup(&page);
    src_cleanup(&src);
}

static void test_feed__bad_lines_counted_good_ones_kept(void **state)
{
    (void)state;
    struct src src;
    void *st = state_for(&src);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(
        feed_str(st,
                 "[1]\n"
                 "{\"data\": {\"text\": \"no id\"}}\n"
                 "{\"data\": {\"id\": \"7\"}, \"errors\": [{\"title\": "
                 "\"Not Found Error\"}]}\n",
                 &page, errbuf, sizeof(errbuf)),
        HARK_EINVAL);
    if (!strstr(errbuf, "not an object") || !strstr(errbuf, "(and 1 more)")) {
        fail_msg("errbuf: %s", errbuf);
    }
    /* With data, "errors" are partial: the tweet is kept. */
    assert_int_equal(page.n_posts, 1);
    assert_string_equal(page.posts[0]->id, "7");
    /* Each bad line is reported on its own, with its own bytes only (the
     * DLQ gets that, not the whole chunk). */
    assert_int_equal(page.n_bad, 2);
    assert_int_equal(page.bad[0].raw_len, 3);
    assert_memory_equal(page.bad[0].raw, "[1]", 3);
    assert_non_null(strstr(page.bad[0].reason, "not an object"));
    assert_string_equal(page.bad[1].raw, "{\"data\": {\"text\": \"no id\"}}");
    assert_non_null(strstr(page.bad[1].reason, "unreadable tweet"));
    hark_page_cleanup(&page);

    /* A line over the 1 MiB limit is one bad message; the next is read. */
    size_t big_len = (1u << 20) + 100;
    char *big = malloc(big_len + 32);
    assert_non_null(big);
    memset(big, ' ', big_len);
    memcpy(big + big_len, "\n{\"data\": {\"id\": \"8\"}}\n", 24);
    assert_int_equal(feed(st, big, big_len + 24, &page, errbuf,
                          sizeof(errbuf)),
                     HARK_EINVAL);
    assert_non_null(strstr(errbuf, "larger than"));
    assert_int_equal(page.n_bad, 1);
    assert_null(page.bad[0].raw); /* not kept: it was dropped unread */
    assert_int_equal(page.n_posts, 1);
    assert_string_equal(page.posts[0]->id, "8");
    hark_page_cleanup(&page);
    free(big);
    src_cleanup(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init__needs_token_env),
        cmocka_unit_test(test_build_url__no_rest_catch_up),
        cmocka_unit_test(test_stream_url__fields_and_expansions),
        cmocka_unit_test(test_feed__recorded_stream),
        cmocka_unit_test(test_feed__chunks_and_keep_alives),
        cmocka_unit_test(test_feed__truncated_last_line_loses_nothing_before),
        cmocka_unit_test(test_feed__retweet_is_a_repost),
        cmocka_unit_test(test_feed__edit_is_a_new_revision),
        cmocka_unit_test(test_feed__cursor_never_moves_back),
        cmocka_unit_test(test_feed__bad_lines_counted_good_ones_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
