/*
 * Tests for ingest/src_json.c, the generic JSON adapter. The real-world
 * input is the X API v2 recent-search page recorded in
 * tests/data/api/x/search_recent_2022-10-07.json (see
 * tests/data/SOURCES.md): data[] newest first, meta.next_token.
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

static const struct hark_source_ops *ops = &hark_src_json;
#define SRC_FIXTURE_DIR "x"
#include "src_fixture.h"

#define X_URL "https://api.twitter.com/2/tweets/search/recent?query=Tweepy"
#define X_TOKEN "b26v89c19zqg8o3fpzbn1e0ffhxjiofzw6po136rvbnul"
#define X_CFG                                                                 \
    "{\"url\": \"" X_URL "\", \"items\": \"/data\", "                         \
    "\"fields\": {\"id\": \"/id\", \"text\": \"/text\"}, "                    \
    "\"cursor\": {\"param\": \"pagination_token\", "                          \
    "\"from\": \"/meta/next_token\", \"since_param\": \"since_id\"}"

/* ---- helpers ---- */

/* Runs init on `json`; base_url is what the engine took from the config
 * ("url" or "base_url"). */
static void src_init_full(struct src *src,
                          const char *json,
                          const char *base_url,
                          int page_limit,
                          int backfill_pages)
{
    struct hark_source_cfg cfg = {
        .name = (char *)"xsearch",
        .type = (char *)"json",
        .interval_s = 60,
        .backfill_pages = backfill_pages,
        .page_limit = page_limit,
        .token_env = NULL,
    };
    src_init_cfg(src, json, base_url, cfg);
}

static void *x_state(struct src *src, const char *extra, int backfill)
{
    char *json = hark_xasprintf("%s%s}", X_CFG, extra ? extra : "");
    src_init_full(src, json, X_URL, 0, backfill);
    free(json);
    if (src->err != HARK_OK) {
        hark_diag_print(&src->diag, stderr);
    }
    assert_int_equal(src->err, HARK_OK);
    return src->state;
}

static const struct hark_header x_headers[] = {
    {(char *)"content-type", (char *)"application/json; charset=utf-8"},
    {(char *)"x-rate-limit-limit", (char *)"450"},
    {(char *)"x-rate-limit-remaining", (char *)"448"},
    {(char *)"x-rate-limit-reset", (char *)"1665183229"},
};

static hark_err_t walk_page(void *state,
                            const char *cursor,
                            const char *token,
                            int page_index,
                            const char *body,
                            size_t len,
                            struct hark_page *page,
                            char *errbuf,
                            size_t errbuf_len)
{
    return src_walk(state, x_headers, sizeof(x_headers) / sizeof(x_headers[0]),
                    cursor, token, page_index, body, len, page, errbuf,
                    errbuf_len);
}

/* ---- the X fixture ---- */

static void test_parse__x_search_first_run(void **state)
{
    (void)state;
    struct src src;
    void *j = x_state(&src, NULL, 1);
    size_t len;
    char *body = fixture("search_recent_2022-10-07.json", &len);
    struct hark_page page;
    char errbuf[256];

    assert_int_equal(walk_page(j, NULL, NULL, 0, body, len, &page, errbuf,
                               sizeof(errbuf)),
                     HARK_OK);
    assert_string_equal(errbuf, "");
    assert_int_equal(page.n_posts, 10);
    assert_string_equal(page.posts[0]->id, "1578511538419212288");
    assert_string_equal(page.posts[0]->text,
                        "2022-10-07 22:24:12.640234 tweepy");
    assert_string_equal(page.posts[9]->id, "1578516068309794817");
    assert_string_equal(page.posts[9]->text,
                        "2022-10-07 22:42:12.637103 tweepy");
    assert_string_equal(page.posts[9]->platform, "json");
    assert_string_equal(page.posts[9]->source, "xsearch");
    assert_int_equal(page.posts[9]->kind, HARK_KIND_POST);
    assert_null(page.posts[9]->created_at); /* not mapped */
    assert_null(page.posts[9]->author.id);
    assert_string_equal(page.posts[9]->conversation_id,
                        "1578516068309794817");
    assert_string_equal(page.cursor, "id:1578516068309794817");
    assert_false(page.is_forward);
    assert_null(page.next_token); /* backfill_pages 1 */
    assert_int_equal(page.rate.limit, 450);
    assert_int_equal(page.rate.remaining, 448);
    assert_int_equal(page.rate.reset_at_ms, INT64_C(1665183229000));
    hark_page_cleanup(&page);
    src_cleanup(&src);

    /* backfill_pages 2: on to the next page with meta.next_token. */
    j = x_state(&src, NULL, 2);
    assert_int_equal(walk_page(j, NULL, NULL, 0, body, len, &page, errbuf,
                               sizeof(errbuf)),
                     HARK_OK);
    assert_string_equal(page.next_token, X_TOKEN);
    hark_page_cleanup(&page);
    char *url = url_for(j, NULL, X_TOKEN, 1);
    assert_string_equal(url, X_URL "&pagination_token=" X_TOKEN);
    free(url);
    free(body);
    src_cleanup(&src);
}

static void test_parse__x_search_with_mark(void **state)
{
    (void)state;
    struct src src;
    void *j = x_state(&src, NULL, 1);
    size_t len;
    char *body = fixture("search_recent_2022-10-07.json", &len);
    struct hark_page page;
    char errbuf[256];

    /* The 5th tweet is the mark: 4 are newer; the walk ends. */
    assert_int_equal(walk_page(j, "id:1578514055010324480", NULL, 0, body,
                               len, &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 4);
    assert_string_equal(page.posts[0]->id, "1578514558372618243");
    assert_string_equal(page.cursor, "id:1578516068309794817");
    assert_null(page.next_token);
    hark_page_cleanup(&page);

    /* The request asks for newer ones with since_id. */
    char *url = url_for(j, "id:1578514055010324480", NULL, 0);
    assert_string_equal(url, X_URL "&since_id=1578514055010324480");
    free(url);
    url = url_for(j, "id:1", X_TOKEN, 1);
    assert_string_equal(url,
                        X_URL "&since_id=1&pagination_token=" X_TOKEN);
    free(url);

    /* A mark older than the page: keep walking. */
    assert_int_equal(walk_page(j, "id:1", NULL, 0, body, len, &page, errbuf,
                               sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 10);
    assert_string_equal(page.next_token, X_TOKEN);
    hark_page_cleanup(&page);

    /* The same token again would loop: the walk ends there. */
    assert_int_equal(walk_page(j, "id:1", X_TOKEN, 1, body, len, &page,
                               errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_null(page.next_token);
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__x_depth_limit_is_a_note(void **state)
{
    (void)state;
    struct src src;
    void *j = x_state(&src, ", \"max_pages\": 1", 1);
    size_t len;
    char *body = fixture("search_recent_2022-10-07.json", &len);
    struct hark_page page;
    char errbuf[256];
    assert_int_equal(walk_page(j, "id:1", NULL, 0, body, len, &page, errbuf,
                               sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 10);
    assert_null(page.next_token);
    assert_non_null(strstr(errbuf, "stopped after 1 pages (max_pages)"));
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__x_empty_and_error_bodies(void **state)
{
    (void)state;
    struct src src;
    void *j = x_state(&src, NULL, 1);
    struct hark_page page;
    char errbuf[256];
    /* No matches: X leaves "data" out. */
    const char *empty = "{\"meta\": {\"result_count\": 0}}";
    assert_int_equal(walk_page(j, "id:5", NULL, 0, empty, strlen(empty),
                               &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 0);
    assert_null(page.cursor);
    assert_null(page.next_token);
    assert_string_equal(errbuf, "");
    hark_page_cleanup(&page);

    const char *bad[][2] = {
        {"", "empty body"},
        {"<html><body>Over capacity</body></html>", "not JSON"},
        {"{\"data\": [", "invalid JSON at byte"},
        {"{\"data\": {\"id\": \"1\"}}", "expected an array at \"/data\", got "
                                        "object"},
        {"[1, 2]", "expected an array at \"/data\", got nothing"},
        {"{\"errors\": [{\"message\": \"The `max_results` query parameter "
         "value [5] is not between 10 and 100\"}], \"title\": \"Invalid "
         "Request\"}",
         "(error: \"The `max_results` query parameter value [5] is not "
         "between 10 and 100\")"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(walk_page(j, NULL, NULL, 0, bad[i][0],
                                   strlen(bad[i][0]), &page, errbuf,
                                   sizeof(errbuf)),
                         HARK_EINVAL);
        if (!strstr(errbuf, bad[i][1])) {
            fail_msg("errbuf \"%s\" lacks \"%s\"", errbuf, bad[i][1]);
        }
        hark_page_cleanup(&page);
    }
    src_cleanup(&src);
}

/* ---- other shapes ---- */

static void test_parse__every_field_and_times(void **state)
{
    (void)state;
    struct src src;
    src_init_full(&src,
                  "{\"base_url\": \"https://api.acme.test\", \"path\": "
                  "\"/v1/posts\", \"items\": \"\", \"platform\": \"acme\", "
                  "\"fields\": {\"id\": \"/id\", \"text\": \"/body/plain\", "
                  "\"created_at\": \"/at\", \"author_id\": \"/user/id\", "
                  "\"author_handle\": \"/user/a~1b\", \"author_name\": "
                  "\"/user/n~0m\", \"url\": \"/link\", \"title\": "
                  "\"/title\", \"lang\": \"/lang\", \"in_reply_to\": "
                  "\"/parent\"}}",
                  "https://api.acme.test", 0, 1);
    assert_int_equal(src.err, HARK_OK);
    const char *body =
        "[{\"id\": 7, \"body\": {\"plain\": \"caf\\u00e9\"}, \"at\": "
        "\"2024-01-02T03:04:05+01:00\", \"user\": {\"id\": 42, \"a/b\": "
        "\"ann\", \"n~m\": \"Ann\"}, \"link\": \"https://acme.test/7\", "
        "\"title\": \"T\", \"lang\": \"fr\", \"parent\": \"6\"},"
        " {\"id\": \"8\", \"body\": {\"plain\": \"x\"}, \"at\": 1704164645},"
        " {\"id\": \"9\", \"at\": 1704164646500},"
        " {\"body\": {\"plain\": \"no id\"}}]";
    struct hark_page page;
    char errbuf[256];
    assert_int_equal(walk_page(src.state, NULL, NULL, 0, body, strlen(body),
                               &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_string_equal(errbuf, "skipped 1 of 4 items (first: item 3, no id "
                                "at fields.id)");
    assert_int_equal(page.n_posts, 3);
    const struct hark_post *p = page.posts[2]; /* newest first in: last */
    assert_string_equal(p->id, "7");
    assert_string_equal(p->platform, "acme");
    assert_string_equal(p->text, "café");
    assert_string_equal(p->created_at, "2024-01-02T02:04:05.000Z");
    assert_string_equal(p->author.id, "42");
    assert_string_equal(p->author.handle, "ann");
    assert_string_equal(p->author.display_name, "Ann");
    assert_string_equal(p->url, "https://acme.test/7");
    assert_string_equal(p->title, "T");
    assert_string_equal(p->lang, "fr");
    assert_string_equal(p->in_reply_to, "6");
    assert_int_equal(p->kind, HARK_KIND_REPLY);
    /* Epoch seconds and milliseconds. */
    assert_string_equal(page.posts[1]->created_at,
                        "2024-01-02T03:04:05.000Z");
    assert_string_equal(page.posts[0]->created_at,
                        "2024-01-02T03:04:06.500Z");
    assert_string_equal(page.posts[0]->text, "");
    /* With created_at mapped the mark is a time: the newest item. */
    assert_string_equal(page.cursor, "t:2024-01-02T03:04:06.500Z|9");
    hark_page_cleanup(&page);

    /* Old by time: earlier, or as early with the same id. */
    assert_int_equal(walk_page(src.state, "t:2024-01-02T03:04:05Z|8", NULL,
                               0, body, strlen(body), &page, errbuf,
                               sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 1);
    assert_string_equal(page.posts[0]->id, "9");
    hark_page_cleanup(&page);
    /* A cursor of the other kind reads as a first run, with a note. */
    assert_int_equal(walk_page(src.state, "id:8", NULL, 0, body,
                               strlen(body), &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 3);
    assert_non_null(strstr(errbuf, "is not a mark of this source"));
    hark_page_cleanup(&page);

    char *url = url_for(src.state, NULL, NULL, 0);
    assert_string_equal(url, "https://api.acme.test/v1/posts");
    free(url);
    src_cleanup(&src);
}

static void test_parse__oldest_first_forward(void **state)
{
    (void)state;
    struct src src;
    src_init_full(&src,
                  "{\"url\": \"https://feed.test/changes\", \"items\": "
                  "\"/results\", \"order\": \"oldest_first\", \"limit_param\": "
                  "\"limit\", \"fields\": {\"id\": \"/key\", \"text\": "
                  "\"/doc/text\"}, \"cursor\": {\"since_param\": \"since\", "
                  "\"max_field\": \"/seq\", \"param\": \"since\", \"from\": "
                  "\"/last_seq\"}}",
                  "https://feed.test/changes", 2, 1);
    assert_int_equal(src.err, HARK_OK);
    const char *body =
        "{\"results\": [{\"seq\": 9, \"key\": \"a\", \"doc\": {\"text\": "
        "\"old\"}}, {\"seq\": 10, \"key\": \"b\", \"doc\": {\"text\": "
        "\"new\"}}, {\"seq\": 11, \"key\": \"c\"}], \"last_seq\": 11}";
    struct hark_page page;
    char errbuf[256];
    assert_int_equal(walk_page(src.state, "id:9", NULL, 0, body,
                               strlen(body), &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_true(page.is_forward);
    assert_int_equal(page.n_posts, 2); /* seq 9 is the mark */
    assert_string_equal(page.posts[0]->id, "b");
    assert_string_equal(page.posts[1]->id, "c");
    assert_string_equal(page.cursor, "id:11");
    assert_string_equal(page.next_token, "11");
    hark_page_cleanup(&page);
    char *url = url_for(src.state, "id:9", NULL, 0);
    assert_string_equal(url, "https://feed.test/changes?limit=2&since=9");
    free(url);
    src_cleanup(&src);
}

static void test_parse__unordered_ids_stop_at_the_mark(void **state)
{
    (void)state;
    struct src src;
    src_init_full(&src,
                  "{\"url\": \"https://q.test/s\", \"items\": \"/hits\", "
                  "\"fields\": {\"id\": \"/uuid\", \"text\": \"/t\"}}",
                  "https://q.test/s", 0, 1);
    assert_int_equal(src.err, HARK_OK);
    const char *body = "{\"hits\": [{\"uuid\": \"zeta-9\"}, {\"uuid\": "
                       "\"alpha\"}, {\"uuid\": \"m\"}]}";
    struct hark_page page;
    char errbuf[256];
    assert_int_equal(walk_page(src.state, "id:alpha", NULL, 0, body,
                               strlen(body), &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    /* Only the mark itself is known to be old. */
    assert_int_equal(page.n_posts, 2);
    assert_string_equal(page.posts[0]->id, "m");
    assert_string_equal(page.posts[1]->id, "zeta-9");
    hark_page_cleanup(&page);
    src_cleanup(&src);
}

/* ---- headers ---- */

static void test_request_headers__from_the_environment(void **state)
{
    (void)state;
    struct src src;
    setenv("HARK_TEST_JSON_KEY", "s3cr3t-value", 1);
    void *j = x_state(&src,
                      ", \"headers_env\": {\"X-Api-Key\": "
                      "\"HARK_TEST_JSON_KEY\", \"Authorization\": "
                      "\"HARK_TEST_JSON_AUTH\"}",
                      1);
    char errbuf[256];
    struct hark_strv h = {NULL, 0};

    /* Unset: the request fails, naming the variable, not a value. */
    unsetenv("HARK_TEST_JSON_AUTH");
    assert_int_equal(ops->request_headers(j, &h, errbuf, sizeof(errbuf)),
                     HARK_EINVAL);
    assert_string_equal(errbuf, "environment variable HARK_TEST_JSON_AUTH "
                                "(header Authorization) is not set");
    hark_strv_cleanup(&h);
    memset(&h, 0, sizeof(h));

    setenv("HARK_TEST_JSON_AUTH", "Bearer AAAA", 1);
    assert_int_equal(ops->request_headers(j, &h, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(h.n, 2);
    assert_string_equal(h.v[0], "X-Api-Key: s3cr3t-value");
    assert_string_equal(h.v[1], "Authorization: Bearer AAAA");
    hark_strv_cleanup(&h);
    memset(&h, 0, sizeof(h));

    /* A line break would inject a header: refused, value not shown. */
    setenv("HARK_TEST_JSON_KEY", "a\r\nX-Evil: 1", 1);
    assert_int_equal(ops->request_headers(j, &h, errbuf, sizeof(errbuf)),
                     HARK_EINVAL);
    assert_null(strstr(errbuf, "Evil"));
    assert_non_null(strstr(errbuf, "HARK_TEST_JSON_KEY"));
    hark_strv_cleanup(&h);
    unsetenv("HARK_TEST_JSON_KEY");
    unsetenv("HARK_TEST_JSON_AUTH");
    src_cleanup(&src);
}

static void test_request_query__params_env(void **state)
{
    (void)state;
    struct src src;
    setenv("HARK_TEST_JSON_QKEY", "k&y=1 2", 1);
    void *j = x_state(&src,
                      ", \"params_env\": {\"api_key\": "
                      "\"HARK_TEST_JSON_QKEY\", \"x\": "
                      "\"HARK_TEST_JSON_QX\"}",
                      1);
    char errbuf[256];
    struct hark_buf q;
    hark_buf_init(&q, 0);
    unsetenv("HARK_TEST_JSON_QX");
    assert_int_equal(ops->request_query(j, &q, errbuf, sizeof(errbuf)),
                     HARK_EINVAL);
    assert_string_equal(errbuf, "environment variable HARK_TEST_JSON_QX "
                                "(query parameter x) is not set");
    hark_buf_reset(&q);
    setenv("HARK_TEST_JSON_QX", "v", 1);
    assert_int_equal(ops->request_query(j, &q, errbuf, sizeof(errbuf)),
                     HARK_OK);
    /* encoded, so a value cannot add parameters of its own */
    assert_string_equal(q.ptr, "api_key=k%26y%3D1%202&x=v");

    /* build_url never carries them: they are not in what gets logged */
    struct hark_buf url;
    hark_buf_init(&url, 0);
    assert_int_equal(ops->build_url(j, NULL, NULL, 0, &url), HARK_OK);
    assert_null(strstr(url.ptr, "api_key"));
    hark_buf_cleanup(&url);
    hark_buf_cleanup(&q);
    unsetenv("HARK_TEST_JSON_QKEY");
    unsetenv("HARK_TEST_JSON_QX");
    src_cleanup(&src);
}

static void test_init__unset_header_variable_is_a_warning(void **state)
{
    (void)state;
    struct src src;
    unsetenv("HARK_TEST_JSON_NOPE");
    void *j = x_state(&src,
                      ",\n \"headers_env\": {\"X-Key\": "
                      "\"HARK_TEST_JSON_NOPE\"}",
                      1);
    assert_non_null(j);
    assert_int_equal(src.diag.n_errors, 0);
    assert_int_equal(src.diag.n_warnings, 1);
    assert_non_null(strstr(src.diag.entries[0].message,
                           "environment variable HARK_TEST_JSON_NOPE is not "
                           "set"));
    assert_int_equal(src.diag.entries[0].line, 2);
    src_cleanup(&src);
}

/* ---- init ---- */

static void expect_init_error(const char *json, const char *want, int line,
                              int column)
{
    struct src src;
    src_init_full(&src, json, "https://api.test/x", 0, 1);
    assert_int_equal(src.err, HARK_EINVAL);
    assert_null(src.state);
    if (src.diag.n_errors != 1) {
        hark_diag_print(&src.diag, stderr);
    }
    assert_int_equal(src.diag.n_errors, 1);
    const struct hark_diag_entry *e = &src.diag.entries[0];
    if (!strstr(e->message, want)) {
        fail_msg("message \"%s\" lacks \"%s\"", e->message, want);
    }
    assert_int_equal(e->line, line);
    assert_int_equal(e->column, column);
    src_cleanup(&src);
}

#define F "\"fields\": {\"id\": \"/id\", \"text\": \"/text\"}"

static void test_init__errors_with_positions(void **state)
{
    (void)state;
    expect_init_error("{\"items\": \"data\", " F "}",
                      "\"items\" \"data\" is not a JSON pointer: it must "
                      "start with '/'",
                      1, 11);
    expect_init_error("{\"items\": \"/data\",\n \"fields\": {\"text\": "
                      "\"/text\"}}",
                      "\"fields\" needs \"id\"", 2, 12);
    expect_init_error("{\"items\": \"/data\", \"fields\": {\"id\": \"/id\", "
                      "\"text\": \"text\"}}",
                      "fields.text \"text\" is not a JSON pointer", 1, 52);
    expect_init_error("{\"items\": \"/data\", \"fields\": {\"id\": \"/id\", "
                      "\"text\": \"/t\", \"body\": \"/b\"}}",
                      "unknown field \"body\"; expected \"id\"", 1, 58);
    expect_init_error("{\"items\": \"/a~2\", " F "}",
                      "'~' must be written \"~0\"", 1, 11);
    expect_init_error("{\"items\": \"\", " F ", \"cursor\": {\"param\": "
                      "\"page\"}}",
                      "\"cursor\" needs both \"param\"", 1, 68);
    expect_init_error("{\"items\": \"\", " F ", \"cursor\": {\"from\": "
                      "\"/next\", \"page\": \"x\", \"param\": \"p\"}}",
                      "unknown key \"page\" in \"cursor\"", 1, 85);
    expect_init_error("{\"items\": \"\", " F ", \"order\": \"newest\"}",
                      "unknown order \"newest\"", 1, 66);
    expect_init_error("{\"items\": \"\", " F ", \"order\": "
                      "\"oldest_first\"}",
                      "\"oldest_first\" needs \"cursor\": "
                      "{\"since_param\": ...}",
                      1, 66);
    expect_init_error("{\"items\": \"\", " F ", \"headers_env\": "
                      "{\"X-Key\": \"sk-live-123\"}}",
                      "never to the secret itself", 1, 82);
    expect_init_error("{\"items\": \"\", " F ", \"params_env\": "
                      "{\"api_key\": \"sk-live-123\"}}",
                      "params_env maps a query parameter to the NAME", 1, 83);
    expect_init_error("{\"items\": \"\", " F ", \"headers_env\": "
                      "{\"X Key\": \"K\"}}",
                      "\"X Key\" is not an HTTP header name", 1, 73);
    expect_init_error("{\"items\": \"\", " F ", \"url\": \"https://a\", "
                      "\"base_url\": \"https://b\"}",
                      "give \"url\" (the whole request URL) or "
                      "\"base_url\" and \"path\", not both",
                      1, 57);
    expect_init_error("{\"items\": \"\", " F ", \"base_url\": \"https://a\", "
                      "\"path\": \"v1\"}",
                      "\"path\" must start with '/'", 1, 90);
    expect_init_error("{\"items\": \"\", " F ", \"limit_param\": \"a=b\"}",
                      "\"limit_param\" \"a=b\" is not a query parameter "
                      "name",
                      1, 72);
    expect_init_error("{\"items\": \"\", " F ", \"platform\": \"X!\"}",
                      "\"platform\" \"X!\" may use only", 1, 69);
}

static void test_init__quiet_on_cfgmap_errors(void **state)
{
    (void)state;
    struct src src;
    /* "items" missing / of the wrong type: the cfgmap says so. */
    src_init_full(&src, "{" F "}", "https://api.test", 0, 1);
    assert_int_equal(src.err, HARK_EINVAL);
    assert_int_equal(src.diag.n_errors, 0);
    src_cleanup(&src);
    src_init_full(&src, "{\"items\": 3, " F "}", "https://api.test", 0, 1);
    assert_int_equal(src.err, HARK_EINVAL);
    assert_int_equal(src.diag.n_errors, 0);
    struct hark_diag diag;
    hark_diag_init(&diag);
    assert_int_equal(hark_cfgmap_check(src.doc, src.doc->root, ops->cfgmap,
                                       "source", &diag),
                     HARK_EINVAL);
    assert_int_equal(diag.n_errors, 1);
    hark_diag_cleanup(&diag);
    src_cleanup(&src);
    /* A non-http URL is the engine's to report. */
    src_init_full(&src, "{\"items\": \"\", " F "}", "ftp://a", 0, 1);
    assert_int_equal(src.err, HARK_EINVAL);
    assert_int_equal(src.diag.n_errors, 0);
    src_cleanup(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse__x_search_first_run),
        cmocka_unit_test(test_parse__x_search_with_mark),
        cmocka_unit_test(test_parse__x_depth_limit_is_a_note),
        cmocka_unit_test(test_parse__x_empty_and_error_bodies),
        cmocka_unit_test(test_parse__every_field_and_times),
        cmocka_unit_test(test_parse__oldest_first_forward),
        cmocka_unit_test(test_parse__unordered_ids_stop_at_the_mark),
        cmocka_unit_test(test_request_headers__from_the_environment),
        cmocka_unit_test(test_request_query__params_env),
        cmocka_unit_test(test_init__unset_header_variable_is_a_warning),
        cmocka_unit_test(test_init__errors_with_positions),
        cmocka_unit_test(test_init__quiet_on_cfgmap_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
