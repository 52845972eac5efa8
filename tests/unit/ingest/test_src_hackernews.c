/*
 * Tests for ingest/src_hackernews.c on Algolia HN search results recorded
 * in tests/data/api/hackernews/ (see tests/data/SOURCES.md). Expected
 * values were read from the fixture files, not from the parser.
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

static const struct hark_source_ops *ops = &hark_src_hackernews;
#define SRC_FIXTURE_DIR "hackernews"
#include "src_fixture.h"

#define COMMENTS "search_by_date_comments_query_apple.json"
#define STORIES  "search_by_date_stories.json"

/* ---- helpers ---- */

/* `text` with the one occurrence of `from` replaced by `to` (caller frees). */
static char *replace(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    return hark_xasprintf("%.*s%s%s", (int)(at - text), text, to,
                          at + strlen(from));
}

static void
src_init(struct src *src, const char *json, int page_limit, int backfill_pages)
{
    struct hark_source_cfg cfg = {
        .name = (char *)"acme-hn",
        .type = (char *)"hackernews",
        .interval_s = 60,
        .backfill_pages = backfill_pages,
        .page_limit = page_limit,
        .token_env = NULL,
    };
    src_init_cfg(src, json, "https://hn.algolia.com", cfg);
}

static void *default_src(struct src *src, int page_limit, int backfill)
{
    src_init(src, "{}", page_limit, backfill);
    assert_int_equal(src->err, HARK_OK);
    return src->state;
}

/* ---- registry, config, URLs ---- */

static void test_hark_source_ops_find__hackernews(void **unused)
{
    (void)unused;
    assert_ptr_equal(hark_source_ops_find("hackernews"), &hark_src_hackernews);
    assert_non_null(strstr(hark_source_types(), "hackernews"));
}

static void test_build_url__default_first_run(void **unused)
{
    (void)unused;
    struct src src;
    void *st = default_src(&src, 0, 1);
    char *url = url_of(st, NULL, NULL);
    assert_string_equal(url, "https://hn.algolia.com/api/v1/search_by_date"
                             "?tags=%28story%2Ccomment%29&hitsPerPage=100");
    free(url);
    src_cleanup(&src);
}

static void test_build_url__query_cursor_and_pages(void **unused)
{
    (void)unused;
    struct src src;
    src_init(&src, "{\"query\": \"acme corp\", \"tags\": \"comment\"}", 20, 1);
    assert_int_equal(src.err, HARK_OK);
    char *url = url_of(src.state, "1401938567:7850047", NULL);
    assert_string_equal(url, "https://hn.algolia.com/api/v1/search_by_date"
                             "?query=acme%20corp&tags=comment&hitsPerPage=20"
                             "&numericFilters=created_at_i%3E%3D1401938567");
    free(url);
    url = url_of(src.state, "1401938567:7850047", "3");
    assert_non_null(strstr(url, "&page=3"));
    free(url);
    url = url_of(src.state, "1401938567:7850047", "0@1401939999");
    assert_non_null(strstr(url, "&numericFilters=created_at_i%3E%3D1401938567"
                                "%2Ccreated_at_i%3C%3D1401939999"));
    assert_null(strstr(url, "&page="));
    free(url);
    src_cleanup(&src);
}

static void test_init__tags_forms(void **unused)
{
    (void)unused;
    static const char *const forms[] = {
        "{\"tags\": \"story,comment\"}",
        "{\"tags\": \"(story, comment)\"}",
        "{\"tags\": [\"story\", \"comment\"]}",
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        struct src src;
        src_init(&src, forms[i], 0, 1);
        assert_int_equal(src.err, HARK_OK);
        char *url = url_of(src.state, NULL, NULL);
        assert_non_null(strstr(url, "?tags=%28story%2Ccomment%29&"));
        free(url);
        src_cleanup(&src);
    }
    struct src src;
    src_init(&src, "{\"tags\": [\"story\"]}", 0, 1);
    char *url = url_of(src.state, NULL, NULL);
    assert_non_null(strstr(url, "?tags=story&"));
    free(url);
    src_cleanup(&src);
}

static void test_init__bad_tags(void **unused)
{
    (void)unused;
    static const char *const bad[] = {
        "{\"tags\": \"\"}",           "{\"tags\": \"story comment\"}",
        "{\"tags\": \"story,\"}",     "{\"tags\": []}",
        "{\"tags\": [\"story\", 3]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct src src;
        src_init(&src, bad[i], 0, 1);
        assert_int_equal(src.err, HARK_EINVAL);
        assert_null(src.state);
        assert_int_equal(src.diag.n_errors, 1);
        assert_non_null(
            strstr(src.diag.entries[0].message, "\"tags\" must be"));
        src_cleanup(&src);
    }
}

/* ---- hits ---- */

static void test_parse__comments(void **unused)
{
    (void)unused;
    struct src src;
    void *st = default_src(&src, 20, 1);
    size_t len;
    char *body = fixture(COMMENTS, &len);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(
        fetch(st, NULL, NULL, body, len, &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    assert_string_equal(errbuf, "");
    assert_int_equal(page.n_posts, 20);
    assert_false(page.is_forward);
    assert_string_equal(page.posts[0]->id, "7849752"); /* oldest first */
    assert_string_equal(page.cursor, "1401938567:7850047");
    assert_null(page.next_token); /* a first run reads one page */

    const struct hark_post *p = find_post(&page, "7850047");
    assert_int_equal(p->kind, HARK_KIND_COMMENT);
    assert_string_equal(p->platform, "hackernews");
    assert_string_equal(p->source, "acme-hn");
    assert_string_equal(p->text,
                        "you think the university board wouldn't appeal to "
                        "a good argument? possible they are bluffing, but if "
                        "they get the right response they may shut up.\n\n"
                        "i find it hard to believe they would be spiteful, "
                        "but maybe i am being too optimistic.");
    assert_string_equal(p->title,
                        "How my school rejected an app made for students");
    assert_string_equal(p->url, "https://news.ycombinator.com/item?id=7850047");
    assert_string_equal(p->created_at, "2014-06-05T03:22:47.000Z");
    assert_string_equal(p->in_reply_to, "7849975");
    assert_string_equal(p->conversation_id, "7849381");
    assert_string_equal(p->author.id, "catshirt");
    assert_string_equal(p->author.handle, "catshirt");
    assert_int_equal(p->likes, 1);
    assert_int_equal(p->replies, 0); /* num_comments null */
    assert_int_equal(p->links.n, 0);

    /* A link in the text: <a href="http://stackoverflow.com/..."> */
    p = find_post(&page, "7849759");
    assert_int_equal(p->links.n, 1);
    assert_string_equal(p->links.v[0],
                        "http://stackoverflow.com/questions/24022172/does-"
                        "swift-use-message-dispatch-for-methods");

    /* Every entity decoded (16 comments have &#x27;, others &quot;). */
    for (size_t i = 0; i < page.n_posts; i++) {
        assert_null(strstr(page.posts[i]->text, "&#x27;"));
        assert_null(strstr(page.posts[i]->text, "&quot;"));
        assert_null(strstr(page.posts[i]->text, "<p>"));
    }
    p = find_post(&page, "7849752");
    assert_string_equal(p->text,
                        "Shock news: Marketing puts company's products in "
                        "positive light!\n\nAll companies tweak the truth to "
                        "make themselves look good (which company was "
                        "touting their huge sales numbers when they had "
                        "barely sold any products to actual customers, just "
                        "retailers?). Apple aren't alone, they just get the "
                        "most press.");
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__stories(void **unused)
{
    (void)unused;
    struct src src;
    void *st = default_src(&src, 20, 1);
    size_t len;
    char *body = fixture(STORIES, &len);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(
        fetch(st, NULL, NULL, body, len, &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    assert_int_equal(page.n_posts, 20);
    assert_string_equal(page.cursor, "1401938837:7850064");
    const struct hark_post *p = find_post(&page, "7850064");
    assert_int_equal(p->kind, HARK_KIND_POST);
    assert_string_equal(p->title, "Corsair offers basically a full SSD "
                                  "disguised as a pocketable flash drive");
    assert_string_equal(p->text, "");
    assert_int_equal(p->links.n, 1);
    assert_string_equal(p->links.v[0],
                        "http://www.pcworld.com/article/2357404/corsairs-"
                        "flash-voyager-gtx-flash-drive-might-as-well-be-a-"
                        "portable-ssd.html");
    assert_string_equal(p->url, "https://news.ycombinator.com/item?id=7850064");
    assert_string_equal(p->conversation_id, "7850064");
    assert_null(p->in_reply_to);
    assert_string_equal(p->author.handle, "brownbat");

    p = find_post(&page, "7849920"); /* Ask HN: story_text, no url */
    assert_string_equal(p->title,
                        "Ask HN: Anyone else getting \"Activation Error\" on "
                        "iOS 8?");
    assert_string_equal(p->text,
                        "I got iOS 8 for my iPod Touch 5th Gen to test apps "
                        "on, but every time I plug it into my computer I get "
                        "an \"Activation Error\" and I have to do a hard "
                        "reboot.\n\nIs anyone else experiencing this as "
                        "well?");
    assert_int_equal(p->links.n, 0);
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

/* ---- walks ---- */

static void test_parse__cursor_on_page_ends_walk(void **unused)
{
    (void)unused;
    struct src src;
    void *st = default_src(&src, 20, 1);
    size_t len;
    char *body = fixture(COMMENTS, &len);
    struct hark_page page;
    char errbuf[512];
    /* hit 5 of the recording: 7849954 at 1401936971 */
    assert_int_equal(fetch(st, "1401936971:7849954", NULL, body, len, &page,
                           errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 5);
    assert_string_equal(page.posts[0]->id, "7849982");
    assert_string_equal(page.cursor, "1401938567:7850047");
    assert_null(page.next_token);
    hark_page_cleanup(&page);

    assert_int_equal(fetch(st, "1401938567:7850047", NULL, body, len, &page,
                           errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 0);
    assert_null(page.cursor); /* unchanged */
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__full_page_walks_to_next(void **unused)
{
    (void)unused;
    struct src src;
    void *st = default_src(&src, 20, 1);
    size_t len;
    char *body = fixture(COMMENTS, &len);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(fetch(st, "1401900000:7840000", NULL, body, len, &page,
                           errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 20);
    assert_string_equal(page.next_token, "1"); /* page 0 of nbPages 50 */
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__hit_cap_restarts_under_oldest(void **unused)
{
    (void)unused;
    struct src src;
    void *st = default_src(&src, 20, 1);
    size_t len;
    char *rec = fixture(COMMENTS, &len);
    /* The last page Algolia serves (49 of 50), with 100793 hits matched. */
    char *body = replace(rec, "\"page\": 0", "\"page\": 49");
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(fetch(st, "1401900000:7840000", "49", body, strlen(body),
                           &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_null(page.cursor); /* not the walk's first page */
    /* the oldest hit: 7849752 at 1401933360 */
    assert_string_equal(page.next_token, "0@1401933360");
    assert_string_equal(errbuf, "");
    hark_page_cleanup(&page);

    /* The same second again under that bound: no progress, a gap note. */
    assert_int_equal(fetch(st, "1401900000:7840000", "49@1401933360", body,
                           strlen(body), &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_null(page.next_token);
    assert_true(strncmp(errbuf, "gap: ", 5) == 0);
    assert_non_null(strstr(errbuf, "1401900000:7840000"));
    hark_page_cleanup(&page);
    free(body);
    free(rec);
    src_cleanup(&src);
}

static void test_parse__short_page_ends_walk(void **unused)
{
    (void)unused;
    struct src src;
    void *st = default_src(&src, 100, 1);
    size_t len;
    char *body = fixture(STORIES, &len); /* 20 hits */
    char *short_page =
        replace(body, "\"hitsPerPage\": 20", "\"hitsPerPage\": 100");
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(fetch(st, "1401900000:7840000", NULL, short_page,
                           strlen(short_page), &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 20);
    assert_null(page.next_token);
    assert_string_equal(errbuf, "");
    hark_page_cleanup(&page);
    free(short_page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__backfill_pages(void **unused)
{
    (void)unused;
    struct src src;
    void *st = default_src(&src, 20, 3);
    size_t len;
    char *body = fixture(STORIES, &len);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(
        fetch(st, NULL, NULL, body, len, &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    assert_string_equal(page.next_token, "1");
    hark_page_cleanup(&page);
    char *p1 = replace(body, "\"page\": 0", "\"page\": 1");
    assert_int_equal(
        fetch(st, NULL, "1", p1, strlen(p1), &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    assert_string_equal(page.next_token, "2");
    assert_null(page.cursor);
    hark_page_cleanup(&page);
    char *p2 = replace(body, "\"page\": 0", "\"page\": 2");
    assert_int_equal(
        fetch(st, NULL, "2", p2, strlen(p2), &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    assert_null(page.next_token); /* three pages read */
    hark_page_cleanup(&page);
    free(p1);
    free(p2);
    free(body);
    src_cleanup(&src);
}

/* ---- bad bodies ---- */

static void expect_einval(const char *body, size_t len, const char *needle)
{
    struct src src;
    void *st = default_src(&src, 0, 1);
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(
        fetch(st, NULL, NULL, body, len, &page, errbuf, sizeof(errbuf)),
        HARK_EINVAL);
    if (!strstr(errbuf, needle)) {
        fail_msg("errbuf \"%s\" lacks \"%s\"", errbuf, needle);
    }
    assert_int_equal(page.n_posts, 0);
    hark_page_cleanup(&page);
    src_cleanup(&src);
}

static void test_parse__bad_bodies(void **unused)
{
    (void)unused;
    const char *html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    expect_einval(html, strlen(html), "not JSON");
    const char *msg = "{\"message\": \"invalid numericFilters\", "
                      "\"status\": 400}";
    expect_einval(msg, strlen(msg), "(message: \"invalid numericFilters\")");
    expect_einval("[]", 2, "got array");
    expect_einval("{\"hits\": {}}", 12, "expected search results");
    size_t len;
    char *body = fixture(STORIES, &len);
    expect_einval(body, len / 3, "invalid JSON");
    free(body);
}

static void test_parse__odd_hits_are_skipped(void **unused)
{
    (void)unused;
    struct src src;
    void *st = default_src(&src, 0, 1);
    const char *body =
        "{\"page\": 0, \"nbPages\": 1, \"hitsPerPage\": 100, \"nbHits\": 4, "
        "\"hits\": [\"x\", {\"objectID\": \"abc\", \"created_at_i\": 1}, "
        "{\"objectID\": \"5\", \"created_at_i\": 1700000000, \"_tags\": "
        "[\"comment\"], \"comment_text\": \"a &amp; b\", \"author\": \"pg\", "
        "\"parent_id\": 4, \"story_id\": 1}, "
        "{\"objectID\": \"6\", \"_tags\": [\"story\"]}]}";
    struct hark_page page;
    char errbuf[512];
    assert_int_equal(fetch(st, NULL, NULL, body, strlen(body), &page, errbuf,
                           sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 1);
    assert_string_equal(page.posts[0]->text, "a & b");
    assert_string_equal(page.posts[0]->in_reply_to, "4");
    assert_string_equal(page.cursor, "1700000000:5");
    assert_non_null(strstr(errbuf, "skipped 3 of 4 hits (first: hit 0, "
                                   "not an object)"));
    hark_page_cleanup(&page);
    src_cleanup(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_source_ops_find__hackernews),
        cmocka_unit_test(test_build_url__default_first_run),
        cmocka_unit_test(test_build_url__query_cursor_and_pages),
        cmocka_unit_test(test_init__tags_forms),
        cmocka_unit_test(test_init__bad_tags),
        cmocka_unit_test(test_parse__comments),
        cmocka_unit_test(test_parse__stories),
        cmocka_unit_test(test_parse__cursor_on_page_ends_walk),
        cmocka_unit_test(test_parse__full_page_walks_to_next),
        cmocka_unit_test(test_parse__hit_cap_restarts_under_oldest),
        cmocka_unit_test(test_parse__short_page_ends_walk),
        cmocka_unit_test(test_parse__backfill_pages),
        cmocka_unit_test(test_parse__bad_bodies),
        cmocka_unit_test(test_parse__odd_hits_are_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
