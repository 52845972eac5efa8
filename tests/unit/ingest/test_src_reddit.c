/*
 * Tests for ingest/src_reddit.c on listings recorded from Reddit, in
 * tests/data/api/reddit/ (see tests/data/SOURCES.md). Expected values were
 * read from the fixture files, not from the parser.
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

static const struct hark_source_ops *ops = &hark_src_reddit;
#define SRC_FIXTURE_DIR "reddit"
#include "src_fixture.h"

/* ---- helpers ---- */

/* src_init() with client credentials (names of variables, or NULL). */
static void src_init_creds(struct src *src,
                           const char *json,
                           const char *base_url,
                           int page_limit,
                           int backfill_pages,
                           const char *client_id_env,
                           const char *client_secret_env)
{
    struct hark_source_cfg cfg = {
        .name = (char *)"acme-reddit",
        .type = (char *)"reddit",
        .interval_s = 60,
        .backfill_pages = backfill_pages,
        .page_limit = page_limit,
        .token_env = NULL,
        .client_id_env = hark_xstrdup(client_id_env),
        .client_secret_env = hark_xstrdup(client_secret_env),
    };
    src_init_cfg(src, json, base_url, cfg);
    free(cfg.client_id_env); /* init keeps copies */
    free(cfg.client_secret_env);
}

static void src_init(struct src *src,
                     const char *json,
                     const char *base_url,
                     int page_limit,
                     int backfill_pages)
{
    src_init_creds(src, json, base_url, page_limit, backfill_pages, NULL, NULL);
}

/* A source on r/AskReddit's new listing. */
static void *askreddit(struct src *src, int backfill_pages)
{
    src_init(src, "{\"subreddit\": \"AskReddit\"}", "https://oauth.reddit.com",
             0, backfill_pages);
    assert_int_equal(src->err, HARK_OK);
    return src->state;
}

/* ---- registry ---- */

static void test_hark_source_ops_find__reddit(void **unused)
{
    (void)unused;
    assert_ptr_equal(hark_source_ops_find("reddit"), &hark_src_reddit);
    assert_non_null(strstr(hark_source_types(), "reddit"));
}

/* ---- config and URLs ---- */

static void test_build_url__subreddit_new(void **unused)
{
    (void)unused;
    struct src src;
    void *st = askreddit(&src, 1);
    char *url = url_of(st, NULL, NULL);
    assert_string_equal(
        url, "https://oauth.reddit.com/r/AskReddit/new.json?limit=100"
             "&raw_json=1");
    free(url);
    url = url_of(st, "t3_48fbm9@1456821458", "t3_48f6io");
    assert_string_equal(
        url, "https://oauth.reddit.com/r/AskReddit/new.json?limit=100"
             "&raw_json=1&after=t3_48f6io");
    free(url);
    src_cleanup(&src);
}

static void test_build_url__comments_and_page_limit(void **unused)
{
    (void)unused;
    struct src src;
    src_init(&src, "{\"subreddit\": \"r/all\", \"listing\": \"comments\"}",
             "https://www.reddit.com/", 25, 1);
    assert_int_equal(src.err, HARK_OK);
    char *url = url_of(src.state, NULL, NULL);
    assert_string_equal(url, "https://www.reddit.com/r/all/comments.json"
                             "?limit=25&raw_json=1");
    free(url);
    src_cleanup(&src);
}

static void test_build_url__search_forms(void **unused)
{
    (void)unused;
    struct src src;
    src_init(&src, "{\"subreddit\": \"pics+aww\", \"query\": \"acme & co\"}",
             "https://oauth.reddit.com", 0, 1);
    assert_int_equal(src.err, HARK_OK);
    char *url = url_of(src.state, NULL, NULL);
    assert_string_equal(url, "https://oauth.reddit.com/r/pics+aww/search.json"
                             "?q=acme%20%26%20co&sort=new&restrict_sr=1"
                             "&limit=100&raw_json=1");
    free(url);
    src_cleanup(&src);

    src_init(&src, "{\"query\": \"acme\"}", "https://oauth.reddit.com", 0, 1);
    assert_int_equal(src.err, HARK_OK);
    url = url_of(src.state, NULL, "t3_abc");
    assert_string_equal(url, "https://oauth.reddit.com/search.json?q=acme"
                             "&sort=new&limit=100&raw_json=1&after=t3_abc");
    free(url);
    src_cleanup(&src);
}

static void expect_init_error(const char *json, const char *needle)
{
    struct src src;
    src_init(&src, json, "https://oauth.reddit.com", 0, 1);
    assert_int_equal(src.err, HARK_EINVAL);
    assert_null(src.state);
    bool is_found = false;
    for (size_t i = 0; i < src.diag.n_entries; i++) {
        is_found = is_found || strstr(src.diag.entries[i].message, needle);
    }
    if (!is_found) {
        fail_msg("no diagnostic for %s says \"%s\" (%zu entries)", json, needle,
                 src.diag.n_entries);
    }
    src_cleanup(&src);
}

static void test_init__errors(void **unused)
{
    (void)unused;
    expect_init_error("{}", "needs \"subreddit\"");
    expect_init_error("{\"subreddit\": \"ask reddit\"}",
                      "must be a subreddit name");
    expect_init_error("{\"subreddit\": \"a++b\"}", "must be a subreddit name");
    expect_init_error("{\"subreddit\": \"x\", \"listing\": \"hot\"}",
                      "unknown listing \"hot\"");
    expect_init_error("{\"query\": \"x\", \"listing\": \"new\"}",
                      "does not apply to a search");
    expect_init_error("{\"query\": \"\"}", "must not be empty");
}

/* ---- posts ---- */

static void test_parse__new_listing_first_run(void **unused)
{
    (void)unused;
    struct src src;
    void *st = askreddit(&src, 1);
    size_t len;
    char *body = fixture("subreddit_new.json", &len);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(
        fetch(st, NULL, NULL, body, len, &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    assert_string_equal(errbuf, "");
    assert_int_equal(page.n_posts, 100);
    assert_false(page.is_forward);
    /* Oldest first: the listing's last child comes out first. */
    assert_string_equal(page.posts[0]->id, "t3_48f6io");
    assert_string_equal(page.posts[99]->id, "t3_48fbm9");
    assert_string_equal(page.cursor, "t3_48fbm9@1456821458");
    assert_null(page.next_token); /* backfill_pages 1 */

    const struct hark_post *p = find_post(&page, "t3_48fbm9");
    assert_int_equal(p->kind, HARK_KIND_POST);
    assert_string_equal(p->platform, "reddit");
    assert_string_equal(p->source, "acme-reddit");
    assert_string_equal(p->title, "[Serious] Parents of Reddit, what's the "
                                  "biggest lie about yourself you've told "
                                  "your kids?");
    assert_string_equal(p->text, "");
    assert_string_equal(p->url, "https://www.reddit.com/r/AskReddit/comments/"
                                "48fbm9/serious_parents_of_reddit_whats_the_"
                                "biggest_lie/");
    assert_string_equal(p->created_at, "2016-03-01T08:37:38.000Z");
    assert_null(p->edited_at);
    assert_string_equal(p->author.handle, "RedHeadQc");
    assert_string_equal(p->author.display_name, "RedHeadQc");
    /* 2016 data has no author_fullname: the name stands in. */
    assert_string_equal(p->author.id, "RedHeadQc");
    assert_int_equal(p->author.followers, -1);
    assert_int_equal(p->links.n, 0); /* a self post */
    assert_int_equal(p->likes, 1);
    assert_int_equal(p->replies, 1);
    assert_string_equal(p->conversation_id, "t3_48fbm9");
    assert_false(p->is_deleted);

    p = find_post(&page, "t3_48fax4");
    assert_string_equal(p->text, ".");
    /* raw_json=1: the curly apostrophe came as UTF-8, kept as is. */
    p = find_post(&page, "t3_48f7pw");
    assert_non_null(strstr(p->title, "That\xE2\x80\x99s characterizaion"));
    assert_int_equal(p->n_repaired, 0);
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__link_post(void **unused)
{
    (void)unused;
    struct src src;
    void *st = askreddit(&src, 1);
    size_t len;
    char *body = fixture("subreddit_all_new_before_page.json", &len);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(
        fetch(st, NULL, NULL, body, len, &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    assert_int_equal(page.n_posts, 4);
    const struct hark_post *p = find_post(&page, "t3_5jo144");
    assert_string_equal(p->title, "Newly discovered disease could hold key to "
                                  "Alzheimer's, Parkinson's \xE2\x80\x93 and "
                                  "even ageing");
    assert_int_equal(p->links.n, 1);
    assert_string_equal(p->links.v[0],
                        "http://www.independent.co.uk/news/science/dementia-"
                        "alzheimers-parkinsons-disease-genetic-condition-"
                        "ageing-a7489111.html");
    assert_string_equal(p->url, "https://www.reddit.com/r/UpliftingNews/"
                                "comments/5jo144/newly_discovered_disease_"
                                "could_hold_key_to/");
    assert_int_equal(p->replies, 0);
    p = find_post(&page, "t3_5jo141"); /* is_self: no link */
    assert_int_equal(p->links.n, 0);
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__comments(void **unused)
{
    (void)unused;
    struct src src;
    src_init(&src, "{\"subreddit\": \"all\", \"listing\": \"comments\"}",
             "https://oauth.reddit.com", 0, 1);
    assert_int_equal(src.err, HARK_OK);
    size_t len;
    char *body = fixture("subreddit_comments.json", &len);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(
        fetch(src.state, NULL, NULL, body, len, &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    assert_int_equal(page.n_posts, 100);
    assert_string_equal(page.cursor, "t1_dbhn11d@1482373040");
    const struct hark_post *p = find_post(&page, "t1_dbhn11c");
    assert_int_equal(p->kind, HARK_KIND_COMMENT);
    assert_string_equal(p->in_reply_to, "t1_dbhl9sx");
    assert_string_equal(p->conversation_id, "t3_5jfjzu");
    assert_string_equal(p->title, "My current issue");
    assert_string_equal(p->author.handle, "Dorkchopqueen");
    assert_string_equal(p->created_at, "2016-12-22T02:17:20.000Z");
    /* no permalink in 2016 comments: the canonical comment URL */
    assert_string_equal(p->url,
                        "https://www.reddit.com/comments/5jfjzu/_/dbhn11c/");
    assert_true(strncmp(p->text,
                        "I was wondering why it made me feel like "
                        "crap the first 2 days",
                        62) == 0);
    assert_non_null(strstr(p->text, "water!\n\nI worked"));
    assert_int_equal(p->likes, 1);
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__deleted_comment_is_a_tombstone(void **unused)
{
    (void)unused;
    struct src src;
    void *st = askreddit(&src, 1);
    size_t len;
    char *body = fixture("info_deleted_comment.json", &len);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(
        fetch(st, NULL, NULL, body, len, &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    assert_int_equal(page.n_posts, 1);
    const struct hark_post *p = page.posts[0];
    assert_string_equal(p->id, "t1_d7ltvl0");
    assert_true(p->is_deleted);
    assert_null(p->author.handle);
    assert_string_equal(p->conversation_id, "t3_52o2fl");
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__rate_limit_headers(void **unused)
{
    (void)unused;
    struct src src;
    void *st = askreddit(&src, 1);
    /* The recorded headers (ratelimit_example.headers.json). */
    static const struct hark_header headers[] = {
        {(char *)"x-ratelimit-remaining", (char *)"996.0"},
        {(char *)"x-ratelimit-reset", (char *)"498"},
        {(char *)"x-ratelimit-used", (char *)"4"},
    };
    const char *body = "{\"kind\": \"Listing\", \"data\": {\"children\": [], "
                       "\"after\": null, \"before\": null}}";
    struct hark_response resp = {
        200,  headers,      3,
        body, strlen(body), "https://oauth.reddit.com/r/x/new.json"};
    struct hark_page page;
    char errbuf[512];
    int64_t before = hark_now_ms();
    assert_int_equal(ops->parse(st, &resp, &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    int64_t after = hark_now_ms();
    assert_int_equal(page.rate.remaining, 996);
    assert_int_equal(page.rate.limit, 1000);
    assert_in_range(page.rate.reset_at_ms, before + 498000, after + 498000);
    assert_int_equal(page.n_posts, 0);
    assert_null(page.cursor);
    hark_page_cleanup(&page);
    src_cleanup(&src);
}

/* ---- walks ---- */

static void test_parse__backfill_follows_after(void **unused)
{
    (void)unused;
    struct src src;
    void *st = askreddit(&src, 2);
    size_t len;
    char *body = fixture("subreddit_new.json", &len);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(
        fetch(st, NULL, NULL, body, len, &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    /* data.after of the recording */
    assert_string_equal(page.next_token, "t3_48f6io");
    hark_page_cleanup(&page);
    /* The second page is the last of backfill_pages 2, and has no cursor
     * of its own (the walk commits the first page's). */
    assert_int_equal(
        fetch(st, NULL, "t3_48f6io", body, len, &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    assert_null(page.next_token);
    assert_null(page.cursor);
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__cursor_on_page_ends_walk(void **unused)
{
    (void)unused;
    struct src src;
    void *st = askreddit(&src, 1);
    size_t len;
    char *body = fixture("subreddit_new.json", &len);
    struct hark_page page;
    char errbuf[512];
    /* Child 30 of the recording: t3_48fa13, created_utc 1456820381. */
    assert_int_equal(fetch(st, "t3_48fa13@1456820381", NULL, body, len, &page,
                           errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_string_equal(errbuf, "");
    assert_int_equal(page.n_posts, 30); /* children 0..29 */
    assert_string_equal(page.posts[0]->id, "t3_48fa4z");
    assert_string_equal(page.posts[29]->id, "t3_48fbm9");
    assert_string_equal(page.cursor, "t3_48fbm9@1456821458");
    assert_null(page.next_token);
    hark_page_cleanup(&page);

    /* Nothing new: no posts, cursor unchanged. */
    assert_int_equal(fetch(st, "t3_48fbm9@1456821458", NULL, body, len, &page,
                           errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 0);
    assert_null(page.cursor);
    assert_null(page.next_token);
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__cursor_older_than_page_walks_back(void **unused)
{
    (void)unused;
    struct src src;
    void *st = askreddit(&src, 1);
    size_t len;
    char *body = fixture("subreddit_new.json", &len);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(fetch(st, "t3_48e000@1456800000", NULL, body, len, &page,
                           errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 100);
    assert_string_equal(page.cursor, "t3_48fbm9@1456821458");
    assert_string_equal(page.next_token, "t3_48f6io");
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__cursor_second_is_delivered_again(void **unused)
{
    (void)unused;
    struct src src;
    src_init(&src, "{\"subreddit\": \"all\", \"listing\": \"comments\"}",
             "https://oauth.reddit.com", 0, 1);
    size_t len;
    char *body = fixture("subreddit_comments.json", &len);
    struct hark_page page;
    char errbuf[512];
    /*
     * At 1482373039 the recording lists ... dbhn10i, dbhn10g, dbhn10h ...:
     * within a second, listing order is not id order, so a comment of the
     * cursor's second may appear after a walk passed it. Every comment of
     * that second but the cursor's own (34: smaller ids like dbhn10f too)
     * comes again, for the engine's dedup window to sort out, and every
     * later one (13) is new.
     */
    assert_int_equal(fetch(src.state, "t1_dbhn10g@1482373039", NULL, body, len,
                           &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 47);
    find_post(&page, "t1_dbhn10h");
    find_post(&page, "t1_dbhn10f");
    for (size_t i = 0; i < page.n_posts; i++) {
        assert_string_not_equal(page.posts[i]->id, "t1_dbhn10g");
    }
    assert_null(page.next_token);
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__depth_limit_is_a_gap_note(void **unused)
{
    (void)unused;
    struct src src;
    void *st = askreddit(&src, 1);
    size_t len;
    /* after: null, and every post newer than the cursor */
    char *body = fixture("subreddit_all_new_before_page.json", &len);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(fetch(st, "t3_5jo000@1482370000", "t3_5jo200", body, len,
                           &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 4);
    assert_null(page.next_token);
    assert_true(strncmp(errbuf, "gap: ", 5) == 0);
    assert_non_null(strstr(errbuf, "t3_5jo000@1482370000"));
    /* from the oldest item read (t3_5jo140, 1482373051) */
    assert_non_null(strstr(errbuf, "2016-12-22T02:17:31.000Z"));
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

/* ---- bad bodies ---- */

static void expect_einval(const char *body, const char *needle)
{
    struct src src;
    void *st = askreddit(&src, 1);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(fetch(st, NULL, NULL, body, strlen(body), &page, errbuf,
                           sizeof(errbuf)),
                     HARK_EINVAL);
    if (!strstr(errbuf, needle)) {
        fail_msg("errbuf \"%s\" lacks \"%s\"", errbuf, needle);
    }
    hark_page_cleanup(&page);
    src_cleanup(&src);
}

static void test_parse__bad_bodies(void **unused)
{
    (void)unused;
    expect_einval("<!doctype html><html><head><title>reddit.com: page not "
                  "found</title>",
                  "not JSON");
    expect_einval("", "empty body");
    expect_einval("{\"message\": \"Forbidden\", \"error\": 403}",
                  "error 403 \"Forbidden\"");
    expect_einval("[{\"kind\": \"Listing\", \"data\": {\"children\": []}}]",
                  "expected a Listing object, got array");
    expect_einval("{\"kind\": \"t3\", \"data\": {}}", "got kind \"t3\"");
    expect_einval("{\"kind\": \"Listing\", \"data\": {\"children\": 7}}",
                  "expected a Listing");
}

static void test_parse__truncated_listing(void **unused)
{
    (void)unused;
    struct src src;
    void *st = askreddit(&src, 1);
    size_t len;
    char *body = fixture("subreddit_new.json", &len);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(
        fetch(st, NULL, NULL, body, len / 2, &page, errbuf, sizeof(errbuf)),
        HARK_EINVAL);
    assert_non_null(strstr(errbuf, "invalid JSON"));
    assert_int_equal(page.n_posts, 0);
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__odd_children_are_skipped(void **unused)
{
    (void)unused;
    struct src src;
    void *st = askreddit(&src, 1);
    const char *body =
        "{\"kind\": \"Listing\", \"data\": {\"after\": null, \"children\": ["
        "7, "
        "{\"kind\": \"more\", \"data\": {\"count\": 3}}, "
        "{\"kind\": \"t3\", \"data\": {\"name\": \"t3_zz1\", \"title\": "
        "\"bad \xFF byte\", \"selftext\": \"ok\", \"author\": \"a\", "
        "\"created_utc\": 1700000000.0, \"edited\": 1700000100.5, "
        "\"is_self\": true, \"permalink\": \"/r/x/comments/zz1/t/\"}}, "
        "{\"kind\": \"t3\", \"data\": {\"name\": \"t3_zz0\"}}]}}";
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(fetch(st, NULL, NULL, body, strlen(body), &page, errbuf,
                           sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 1);
    const struct hark_post *p = page.posts[0];
    assert_string_equal(p->title, "bad \xEF\xBF\xBD byte");
    assert_int_equal(p->n_repaired, 1);
    assert_string_equal(p->edited_at, "2023-11-14T22:15:00.500Z");
    assert_string_equal(page.cursor, "t3_zz1@1700000000");
    assert_non_null(strstr(errbuf, "skipped 3 of 4"));
    assert_non_null(strstr(errbuf, "child 0, not an object"));
    hark_page_cleanup(&page);
    src_cleanup(&src);
}

/* ---- base64 ---- */

static void expect_base64(const void *data, size_t len, const char *want)
{
    char *got = hark_base64_encode(data, len);
    assert_string_equal(got, want);
    free(got);
}

static void test_hark_base64_encode__rfc4648_vectors(void **unused)
{
    (void)unused;
    /* RFC 4648 section 10. */
    expect_base64("", 0, "");
    expect_base64("f", 1, "Zg==");
    expect_base64("fo", 2, "Zm8=");
    expect_base64("foo", 3, "Zm9v");
    expect_base64("foob", 4, "Zm9vYg==");
    expect_base64("fooba", 5, "Zm9vYmE=");
    expect_base64("foobar", 6, "Zm9vYmFy");
}

static void test_hark_base64_encode__binary_bytes(void **unused)
{
    (void)unused;
    /* The last two letters of the alphabet, high bytes and NUL. */
    expect_base64("\xfb\xff", 2, "+/8=");
    expect_base64("\xff\xfe\x00", 3, "//4A");
    expect_base64("\x00", 1, "AA==");
    expect_base64("\x14\xfb\x9c\x03\xd9\x7e", 6, "FPucA9l+");
}

/* ---- OAuth client credentials ---- */

#define ID_ENV     "HARK_TEST_REDDIT_CLIENT_ID"
#define SECRET_ENV "HARK_TEST_REDDIT_CLIENT_SECRET"
#define CLIENT_ID  "hark-client"
#define SECRET     "s3cr3t-Value"
/* base64("hark-client:s3cr3t-Value"), computed with base64(1) */
#define BASIC "aGFyay1jbGllbnQ6czNjcjN0LVZhbHVl"

static void *oauth_src(struct src *src, const char *json)
{
    src_init_creds(src, json, "https://oauth.reddit.com", 0, 1, ID_ENV,
                   SECRET_ENV);
    assert_int_equal(src->err, HARK_OK);
    return src->state;
}

static void set_creds(void)
{
    assert_int_equal(setenv(ID_ENV, CLIENT_ID, 1), 0);
    assert_int_equal(setenv(SECRET_ENV, SECRET, 1), 0);
}

struct token_req {
    hark_err_t err;
    char *url;
    char *body;
    struct hark_strv headers;
    char errbuf[256];
};

static void token_req(void *state, struct token_req *req)
{
    struct hark_buf url;
    struct hark_buf body;
    hark_buf_init(&url, 8192);
    hark_buf_init(&body, 8192);
    memset(req, 0, sizeof(*req));
    req->err = ops->token_request(state, &url, &body, &req->headers,
                                  req->errbuf, sizeof(req->errbuf));
    req->url = hark_buf_take(&url);
    req->body = hark_buf_take(&body);
}

static void token_req_cleanup(struct token_req *req)
{
    free(req->url);
    free(req->body);
    hark_strv_cleanup(&req->headers);
}

/* The header `name` ("Authorization") in `hv`, or NULL. */
static const char *header_in(const struct hark_strv *hv, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < hv->n; i++) {
        if (strncmp(hv->v[i], name, n) == 0 && hv->v[i][n] == ':') {
            return hv->v[i];
        }
    }
    return NULL;
}

static hark_err_t token_reply(void *state,
                              const char *body,
                              int64_t now_ms,
                              char *errbuf,
                              size_t errbuf_len)
{
    struct hark_response resp = {
        .status = 200,
        .headers = json_headers,
        .n_headers = 1,
        .body = body,
        .body_len = strlen(body),
        .url = "https://www.reddit.com/api/v1/access_token",
    };
    return ops->token_parse(state, &resp, now_ms, errbuf, errbuf_len);
}

static const char good_token[] =
    "{\"access_token\": \"-ab1Cd_2efG3hIjk4LMnop5QrStu\", "
    "\"token_type\": \"bearer\", \"expires_in\": 86400, \"scope\": \"*\"}";

static void test_token_request__shape(void **unused)
{
    (void)unused;
    struct src src;
    void *st = oauth_src(&src, "{\"subreddit\": \"AskReddit\"}");
    set_creds();
    struct token_req req;
    token_req(st, &req);
    assert_int_equal(req.err, HARK_OK);
    assert_string_equal(req.url, "https://www.reddit.com/api/v1/access_token");
    assert_string_equal(req.body, "grant_type=client_credentials");
    const char *auth = header_in(&req.headers, "Authorization");
    assert_non_null(auth);
    assert_string_equal(auth, "Authorization: Basic " BASIC);
    token_req_cleanup(&req);
    src_cleanup(&src);
}

static void test_token_request__token_url_from_config(void **unused)
{
    (void)unused;
    struct src src;
    void *st = oauth_src(&src, "{\"subreddit\": \"AskReddit\", "
                               "\"token_url\": \"http://127.0.0.1:9/token\"}");
    set_creds();
    struct token_req req;
    token_req(st, &req);
    assert_int_equal(req.err, HARK_OK);
    assert_string_equal(req.url, "http://127.0.0.1:9/token");
    token_req_cleanup(&req);
    src_cleanup(&src);
}

static void test_token_request__missing_variable_is_named(void **unused)
{
    (void)unused;
    struct src src;
    void *st = oauth_src(&src, "{\"subreddit\": \"AskReddit\"}");
    set_creds();
    assert_int_equal(unsetenv(SECRET_ENV), 0);
    struct token_req req;
    token_req(st, &req);
    assert_int_equal(req.err, HARK_EINVAL);
    assert_non_null(strstr(req.errbuf, SECRET_ENV));
    assert_null(strstr(req.errbuf, CLIENT_ID));
    token_req_cleanup(&req);

    set_creds();
    assert_int_equal(setenv(ID_ENV, "", 1), 0);
    token_req(st, &req);
    assert_int_equal(req.err, HARK_EINVAL);
    assert_non_null(strstr(req.errbuf, ID_ENV));
    assert_null(strstr(req.errbuf, SECRET));
    token_req_cleanup(&req);

    /* The values are read at request time: set again, it works. */
    set_creds();
    token_req(st, &req);
    assert_int_equal(req.err, HARK_OK);
    token_req_cleanup(&req);
    src_cleanup(&src);
}

static void test_token_parse__good(void **unused)
{
    (void)unused;
    struct src src;
    void *st = oauth_src(&src, "{\"subreddit\": \"AskReddit\"}");
    char errbuf[256] = "x";
    const int64_t now = 1700000000000;
    assert_true(ops->token_needed(st, now)); /* none yet */
    assert_int_equal(token_reply(st, good_token, now, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_string_equal(errbuf, "");

    struct hark_strv hv = {NULL, 0};
    assert_int_equal(ops->request_headers(st, &hv, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(hv.n, 1);
    assert_string_equal(hv.v[0],
                        "Authorization: Bearer -ab1Cd_2efG3hIjk4LMnop5QrStu");
    hark_strv_cleanup(&hv);
    src_cleanup(&src);
}

static void test_token_needed__before_and_after_expiry(void **unused)
{
    (void)unused;
    struct src src;
    void *st = oauth_src(&src, "{\"subreddit\": \"AskReddit\"}");
    char errbuf[256];
    const int64_t now = 1700000000000;
    const int64_t expires = now + 86400000; /* expires_in 86400 */
    assert_int_equal(token_reply(st, good_token, now, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_false(ops->token_needed(st, now));
    assert_false(ops->token_needed(st, expires - 60001));
    /* Within a minute of expiry, and after it: fetch a new one. */
    assert_true(ops->token_needed(st, expires - 60000));
    assert_true(ops->token_needed(st, expires + 1));
    /* A fresh token resets the clock. */
    assert_int_equal(
        token_reply(st, good_token, expires, errbuf, sizeof(errbuf)), HARK_OK);
    assert_false(ops->token_needed(st, expires + 1));
    src_cleanup(&src);
}

static void expect_token_error(const char *body, const char *needle)
{
    struct src src;
    void *st = oauth_src(&src, "{\"subreddit\": \"AskReddit\"}");
    char errbuf[256];
    const int64_t now = 1700000000000;
    /* A good token first: a failed refresh must not keep it. */
    assert_int_equal(token_reply(st, good_token, now, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(token_reply(st, body, now, errbuf, sizeof(errbuf)),
                     HARK_EINVAL);
    if (!strstr(errbuf, needle)) {
        fail_msg("token body %s: errbuf \"%s\" lacks \"%s\"", body, errbuf,
                 needle);
    }
    assert_null(strstr(errbuf, "ab1Cd"));
    assert_null(strstr(errbuf, "SECRETTOKEN"));
    assert_true(ops->token_needed(st, now));
    struct hark_strv hv = {NULL, 0};
    assert_int_not_equal(ops->request_headers(st, &hv, errbuf, sizeof(errbuf)),
                         HARK_OK);
    assert_int_equal(hv.n, 0);
    hark_strv_cleanup(&hv);
    src_cleanup(&src);
}

static void test_token_parse__error_body(void **unused)
{
    (void)unused;
    expect_token_error("{\"error\": \"invalid_grant\"}",
                       "reported error \"invalid_grant\"");
    expect_token_error("{\"message\": \"Unauthorized\", \"error\": 401}",
                       "reported error \"Unauthorized\"");
}

static void test_token_parse__missing_fields(void **unused)
{
    (void)unused;
    expect_token_error("{\"token_type\": \"bearer\", \"expires_in\": 86400}",
                       "no \"access_token\"");
    expect_token_error("{\"access_token\": \"\", \"token_type\": \"bearer\", "
                       "\"expires_in\": 86400}",
                       "unusable \"access_token\"");
    expect_token_error("{\"access_token\": \"SECRETTOKEN\\r\\nX-Evil: 1\", "
                       "\"token_type\": \"bearer\", \"expires_in\": 86400}",
                       "unusable \"access_token\"");
    expect_token_error("{\"access_token\": \"SECRETTOKEN\", "
                       "\"expires_in\": 86400}",
                       "\"token_type\" is \"(none)\"");
    expect_token_error("{\"access_token\": \"SECRETTOKEN\", "
                       "\"token_type\": \"mac\", \"expires_in\": 86400}",
                       "\"token_type\" is \"mac\"");
    expect_token_error("{\"access_token\": \"SECRETTOKEN\", "
                       "\"token_type\": \"bearer\"}",
                       "no \"expires_in\"");
    expect_token_error("{\"access_token\": \"SECRETTOKEN\", "
                       "\"token_type\": \"bearer\", \"expires_in\": 0}",
                       "unusable \"expires_in\"");
    expect_token_error("[\"SECRETTOKEN\"]", "expected an object");
    expect_token_error("{\"access_token\": \"SECRETTOKEN\"", "invalid JSON");
    expect_token_error("", "empty body");
}

static void test_token_invalidate__forgets_the_token(void **unused)
{
    (void)unused;
    struct src src;
    void *st = oauth_src(&src, "{\"subreddit\": \"AskReddit\"}");
    char errbuf[256];
    const int64_t now = 1700000000000;
    assert_int_equal(token_reply(st, good_token, now, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_false(ops->token_needed(st, now));
    ops->token_invalidate(st);
    assert_true(ops->token_needed(st, now));
    struct hark_strv hv = {NULL, 0};
    assert_int_not_equal(ops->request_headers(st, &hv, errbuf, sizeof(errbuf)),
                         HARK_OK);
    assert_int_equal(hv.n, 0);
    hark_strv_cleanup(&hv);
    src_cleanup(&src);
}

static void test_token_needed__without_credentials(void **unused)
{
    (void)unused;
    struct src src;
    void *st = askreddit(&src, 1);
    /* token_env (the engine's header) or nothing: no token of our own. */
    assert_false(ops->token_needed(st, 1700000000000));
    struct hark_strv hv = {NULL, 0};
    char errbuf[256];
    assert_int_equal(ops->request_headers(st, &hv, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(hv.n, 0);
    hark_strv_cleanup(&hv);
    src_cleanup(&src);
}

static void test_init__token_url_errors(void **unused)
{
    (void)unused;
    expect_init_error("{\"subreddit\": \"x\", \"token_url\": "
                      "\"https://www.reddit.com/api/v1/access_token\"}",
                      "applies only with \"client_id_env\"");
    struct src src;
    src_init_creds(&src, "{\"subreddit\": \"x\", \"token_url\": \"ftp://x/t\"}",
                   "https://oauth.reddit.com", 0, 1, ID_ENV, SECRET_ENV);
    assert_int_equal(src.err, HARK_EINVAL);
    assert_null(src.state);
    assert_int_equal(src.diag.n_entries, 1);
    assert_non_null(
        strstr(src.diag.entries[0].message, "must be an http:// or https://"));
    src_cleanup(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_source_ops_find__reddit),
        cmocka_unit_test(test_build_url__subreddit_new),
        cmocka_unit_test(test_build_url__comments_and_page_limit),
        cmocka_unit_test(test_build_url__search_forms),
        cmocka_unit_test(test_init__errors),
        cmocka_unit_test(test_parse__new_listing_first_run),
        cmocka_unit_test(test_parse__link_post),
        cmocka_unit_test(test_parse__comments),
        cmocka_unit_test(test_parse__deleted_comment_is_a_tombstone),
        cmocka_unit_test(test_parse__rate_limit_headers),
        cmocka_unit_test(test_parse__backfill_follows_after),
        cmocka_unit_test(test_parse__cursor_on_page_ends_walk),
        cmocka_unit_test(test_parse__cursor_older_than_page_walks_back),
        cmocka_unit_test(test_parse__cursor_second_is_delivered_again),
        cmocka_unit_test(test_parse__depth_limit_is_a_gap_note),
        cmocka_unit_test(test_parse__bad_bodies),
        cmocka_unit_test(test_parse__truncated_listing),
        cmocka_unit_test(test_parse__odd_children_are_skipped),
        cmocka_unit_test(test_hark_base64_encode__rfc4648_vectors),
        cmocka_unit_test(test_hark_base64_encode__binary_bytes),
        cmocka_unit_test(test_token_request__shape),
        cmocka_unit_test(test_token_request__token_url_from_config),
        cmocka_unit_test(test_token_request__missing_variable_is_named),
        cmocka_unit_test(test_token_parse__good),
        cmocka_unit_test(test_token_needed__before_and_after_expiry),
        cmocka_unit_test(test_token_parse__error_body),
        cmocka_unit_test(test_token_parse__missing_fields),
        cmocka_unit_test(test_token_invalidate__forgets_the_token),
        cmocka_unit_test(test_token_needed__without_credentials),
        cmocka_unit_test(test_init__token_url_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
