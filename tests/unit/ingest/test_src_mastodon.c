/*
 * Tests for ingest/src_mastodon.c (and the registry helpers in
 * ingest/registry.c) on responses recorded from real servers, in
 * tests/data/api/mastodon/ (see tests/data/SOURCES.md).
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

static const struct hark_source_ops *ops = &hark_src_mastodon;
#define SRC_FIXTURE_DIR "mastodon"
#include "src_fixture.h"

/* ---- helpers ---- */

/* A single Status fixture wrapped in an array, as a timeline holds it. */
static char *fixture_in_array(const char *name, size_t *len)
{
    size_t n;
    char *one = fixture(name, &n);
    char *s = malloc(n + 3);
    assert_non_null(s);
    s[0] = '[';
    memcpy(s + 1, one, n);
    s[n + 1] = ']';
    s[n + 2] = '\0';
    free(one);
    *len = n + 2;
    return s;
}

/* backfill_pages for the next src_init (tests of backfill set it). */
static int g_backfill_pages = 1;

/* Runs init on the source object `json` with these common settings. */
static void src_init(struct src *src,
                     const char *json,
                     const char *base_url,
                     int page_limit)
{
    struct hark_source_cfg cfg = {
        .name = (char *)"acme",
        .type = (char *)"mastodon",
        .interval_s = 60,
        .backfill_pages = g_backfill_pages,
        .page_limit = page_limit,
        .token_env = NULL,
    };
    src_init_cfg(src, json, base_url, cfg);
}

static void *state_for(struct src *src, const char *base_url)
{
    src_init(src,
             "{\"name\": \"acme\", \"type\": \"mastodon\", "
             "\"base_url\": \"x\", \"timeline\": \"public\"}",
             base_url, 0);
    assert_int_equal(src->err, HARK_OK);
    return src->state;
}

static const struct hark_header recorded_headers[] = {
    {(char *)"content-type", (char *)"application/json; charset=utf-8"},
    {(char *)"x-ratelimit-limit", (char *)"300"},
    {(char *)"x-ratelimit-remaining", (char *)"299"},
    {(char *)"x-ratelimit-reset", (char *)"2026-08-01T14:00:00.497737Z"},
};

static hark_err_t parse_body(void *state,
                             const char *body,
                             size_t len,
                             const char *url,
                             struct hark_page *page,
                             char *errbuf,
                             size_t errbuf_len)
{
    return src_parse(state, recorded_headers,
                     sizeof(recorded_headers) / sizeof(recorded_headers[0]),
                     url, body, len, page, errbuf, errbuf_len);
}

static void assert_ascending(const struct hark_page *page)
{
    for (size_t i = 1; i < page->n_posts; i++) {
        assert_true(hark_id_cmp(page->posts[i - 1]->id, page->posts[i]->id) <
                    0);
    }
}

/* ---- timelines ---- */

static void test_parse__timeline_public(void **state)
{
    (void)state;
    struct src src;
    void *m = state_for(&src, "http://localhost:3000");
    size_t len;
    char *body = fixture("timeline_public.json", &len);
    struct hark_page page;
    char errbuf[256];

    assert_int_equal(parse_body(m, body, len,
                                "http://localhost:3000/api/v1/timelines/"
                                "public?limit=40",
                                &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_string_equal(errbuf, "");
    assert_int_equal(page.n_posts, 8);
    assert_ascending(&page);
    assert_string_equal(page.posts[0]->id, "117020574694606796");
    assert_string_equal(page.posts[7]->id, "117020593378945190");
    assert_string_equal(page.cursor, "117020593378945190");
    assert_null(page.next_token); /* a first run reads one page */
    assert_false(page.is_forward); /* commits when the walk ends */

    const struct hark_post *post = find_post(&page, "117020592137523525");
    assert_string_equal(post->text, "you can't say that on television");
    assert_string_equal(post->platform, "mastodon");
    assert_string_equal(post->source, "acme");
    assert_int_equal(post->kind, HARK_KIND_POST);
    assert_string_equal(post->url,
                        "http://localhost:3000/@admin/117020592137523525");
    assert_string_equal(post->created_at, "2026-08-01T13:55:31.396Z");
    assert_null(post->edited_at);
    assert_string_equal(post->lang, "en");
    assert_null(post->spoiler_text);
    assert_string_equal(post->author.id, "117020565693913441");
    assert_string_equal(post->author.handle, "admin@localhost");
    assert_null(post->author.display_name); /* "" in the status */
    assert_int_equal(post->author.followers, 1);
    assert_string_equal(post->conversation_id, "117020592137523525");
    assert_false(post->is_repost);

    post = find_post(&page, "117020588169351887");
    assert_string_equal(post->text, "@mastodonpy_test beep beep I'm a jeep");
    assert_int_equal(post->mentions.n, 1);
    assert_string_equal(post->mentions.v[0], "mastodonpy_test@localhost");
    assert_int_equal(post->links.n, 0); /* the mention is no link */

    post = find_post(&page, "117020586180926938");
    assert_string_equal(post->edited_at, "2026-08-01T13:54:00.695Z");
    assert_string_equal(post->author.handle,
                        "mastodonpy_test_2@localhost");
    assert_string_equal(post->lang, "ja");

    /* 2026-08-01T14:00:00.497Z */
    assert_int_equal(page.rate.limit, 300);
    assert_int_equal(page.rate.remaining, 299);
    assert_int_equal(page.rate.reset_at_ms, INT64_C(1785592800497));
    assert_int_equal(page.rate.retry_after_ms, -1);

    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__japanese_text_and_hidden_link_parts(void **state)
{
    (void)state;
    struct src src;
    void *m = state_for(&src, "https://mstdn.jp");
    size_t len;
    char *body = fixture("timeline_public_mstdn.jp_2017.json", &len);
    struct hark_page page;
    char errbuf[256];

    assert_int_equal(
        parse_body(m, body, len, NULL, &page, errbuf, sizeof(errbuf)), HARK_OK);
    assert_int_equal(page.n_posts, 20);
    assert_ascending(&page);
    assert_string_equal(page.posts[0]->id, "172398");
    assert_string_equal(page.cursor, "172429");

    const struct hark_post *post = find_post(&page, "172429");
    assert_string_equal(post->text, "電話であれ、テキストであれ、"
                                    "伝達能力はしっかり鍛えてほしい。");
    assert_string_equal(post->author.handle, "iorin0225@mstdn.jp");
    assert_null(post->lang); /* language: null in the 2017 API */
    assert_int_equal(post->n_repaired, 0);

    post = find_post(&page, "172407");
    assert_string_equal(post->text,
                        "それっぽいウソ話とか\n"
                        "変なリプライとかが一切無いこの空間は良いねー");

    /* A remote account keeps its own host. */
    post = find_post(&page, "172427");
    assert_string_equal(post->author.handle, "cocoabottle@mastodon.cloud");

    /* The invisible spans make the text read as the whole URL. */
    const char *url = "http://inforati.jp/apple/mac-tips-techniques/"
                      "system-hints/how-to-capture-a-specific-window-with-"
                      "macos-screen-shot-function.html";
    post = find_post(&page, "172405");
    assert_string_equal(post->text, url);
    assert_int_equal(post->links.n, 1);
    assert_string_equal(post->links.v[0], url);

    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__every_entity_decoded(void **state)
{
    (void)state;
    struct src src;
    void *m = state_for(&src, "http://localhost:3000");
    size_t len;
    char *body = fixture("timeline_public_local_remote.json", &len);
    struct hark_page page;
    char errbuf[256];

    assert_int_equal(
        parse_body(m, body, len, NULL, &page, errbuf, sizeof(errbuf)), HARK_OK);
    assert_int_equal(page.n_posts, 20);
    assert_ascending(&page);
    size_t n_with_mentions = 0;
    for (size_t i = 0; i < page.n_posts; i++) {
        const char *text = page.posts[i]->text;
        /* No content in this file has a literal '&': any left is an entity. */
        assert_null(strchr(text, '&'));
        assert_null(strchr(text, '<'));
        assert_non_null(strchr(text, '\''));
        n_with_mentions += page.posts[i]->mentions.n > 0;
    }
    assert_int_equal(n_with_mentions, 3);
    assert_string_equal(find_post(&page, "117024248092393661")->text,
                        "it's cool guy");

    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__reblog(void **state)
{
    (void)state;
    struct src src;
    void *m = state_for(&src, "http://localhost:3000");
    size_t len;
    char *body = fixture_in_array("status_reblog.json", &len);
    struct hark_page page;
    char errbuf[256];

    assert_int_equal(
        parse_body(m, body, len, NULL, &page, errbuf, sizeof(errbuf)), HARK_OK);
    assert_int_equal(page.n_posts, 1);
    const struct hark_post *post = page.posts[0];
    /* The boost's own id and time... */
    assert_string_equal(post->id, "117020586027094262");
    assert_string_equal(post->created_at, "2026-08-01T13:53:58.160Z");
    assert_int_equal(post->kind, HARK_KIND_REPOST);
    assert_true(post->is_repost);
    assert_string_equal(post->repost_of, "117020586019094258");
    assert_string_equal(post->reposted_by, "mastodonpy_test@localhost");
    /* ...and the original's words, author and counts. */
    assert_string_equal(post->text, "Toot!");
    assert_string_equal(post->author.id, "117020565966271181");
    assert_string_equal(post->author.handle, "mastodonpy_test@localhost");
    assert_string_equal(post->author.display_name, "John Lennon");
    assert_int_equal(post->author.followers, 0);
    assert_string_equal(post->lang, "en");
    assert_string_equal(post->url, "http://localhost:3000/@mastodonpy_test/"
                                   "117020586019094258");
    assert_int_equal(post->reposts, 1);
    assert_string_equal(post->conversation_id, "117020586019094258");
    assert_string_equal(page.cursor, "117020586027094262");

    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__edited_status(void **state)
{
    (void)state;
    struct src src;
    void *m = state_for(&src, "https://mastodon.social");
    size_t len;
    char *body = fixture_in_array("status_mastodon.social_a.json", &len);
    struct hark_page page;
    char errbuf[256];

    assert_int_equal(
        parse_body(m, body, len, NULL, &page, errbuf, sizeof(errbuf)), HARK_OK);
    assert_int_equal(page.n_posts, 1);
    const struct hark_post *post = page.posts[0];
    assert_string_equal(post->id, "110446223051565765");
    assert_string_equal(post->created_at, "2023-05-28T12:06:50.000Z");
    assert_string_equal(post->edited_at, "2023-05-28T12:09:44.000Z");
    assert_string_equal(post->spoiler_text, "test post for mastodon.py stuff");
    assert_string_equal(post->lang, "de");
    assert_string_equal(post->text,
                        "@halcy you're a doo-doo head\n\n"
                        "edit: editing this to have the maximum amount of "
                        "fields filled :trans_heart: #ThisIsAHashtag");
    assert_int_equal(post->hashtags.n, 1);
    assert_string_equal(post->hashtags.v[0], "thisisahashtag");
    assert_int_equal(post->mentions.n, 1);
    assert_string_equal(post->mentions.v[0], "halcy@icosahedron.website");
    assert_int_equal(post->links.n, 0);
    assert_string_equal(post->author.handle, "halcy@icosahedron.website");
    assert_int_equal(post->author.followers, 3553);
    assert_int_equal(post->likes, 1);

    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__tag_timeline_2017(void **state)
{
    (void)state;
    struct src src;
    void *m = state_for(&src, "https://friends.nico");
    size_t len;
    char *body = fixture("timeline_tag_mastodon_2017.json", &len);
    struct hark_page page;
    char errbuf[256];

    assert_int_equal(
        parse_body(m, body, len, NULL, &page, errbuf, sizeof(errbuf)), HARK_OK);
    assert_int_equal(page.n_posts, 20);
    assert_ascending(&page);
    for (size_t i = 0; i < page.n_posts; i++) {
        assert_true(page.posts[i]->hashtags.n > 0);
    }

    const struct hark_post *post = find_post(&page, "714859");
    assert_int_equal(post->kind, HARK_KIND_REPLY);
    assert_string_equal(post->in_reply_to, "675923");
    assert_string_equal(post->conversation_id, "675923");
    assert_string_equal(post->author.handle, "jeroenpraat@mastodon.social");
    assert_int_equal(post->hashtags.n, 2);
    assert_string_equal(post->hashtags.v[0], "diaspora");
    assert_string_equal(post->hashtags.v[1], "mastodon");
    assert_int_equal(post->mentions.n, 2);
    assert_string_equal(post->mentions.v[0], "alexl@mstdn.io");
    assert_string_equal(post->mentions.v[1],
                        "deadsuperhero@social.nasqueron.org");
    assert_int_equal(post->links.n, 0); /* mentions and hashtags only */
    assert_int_equal(post->replies, 0); /* no replies_count in 2017 */

    post = find_post(&page, "707791");
    assert_int_equal(post->hashtags.n, 2);
    assert_string_equal(post->hashtags.v[1], "公式アカウント");
    assert_int_equal(post->links.n, 2);
    assert_string_equal(post->links.v[0],
                        "https://takulog.info/20170420you-ming-gou/");
    assert_string_equal(post->links.v[1],
                        "https://pawoo.net/media/7irphvcmS8sO_K-rlEU");
    assert_non_null(
        strstr(post->text, "https://takulog.info/20170420you-ming-gou/"));
    assert_non_null(strstr(post->text, "#公式アカウント"));

    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__quote_post(void **state)
{
    (void)state;
    struct src src;
    void *m = state_for(&src, "https://mastodon.social");
    size_t len;
    char *body = fixture_in_array("status_quote_mastodon.social.json", &len);
    struct hark_page page;
    char errbuf[256];

    assert_int_equal(
        parse_body(m, body, len, NULL, &page, errbuf, sizeof(errbuf)), HARK_OK);
    assert_int_equal(page.n_posts, 1);
    const struct hark_post *post = page.posts[0];
    assert_int_equal(post->kind, HARK_KIND_REPLY);
    assert_string_equal(post->in_reply_to, "115044053131672379");
    assert_string_equal(post->author.handle, "h4lcy.bsky.social@bsky.brid.gy");
    /* The "RE: <link>" fallback is not the author's words... */
    assert_string_equal(post->text, "actual reply that quotes a post that "
                                    "quotes a post bsky.app/profile/h4lc...");
    /* ...but both links are kept. */
    assert_int_equal(post->links.n, 2);
    assert_string_equal(post->links.v[0], "https://bsky.app/profile/"
                                          "h4lcy.bsky.social/post/"
                                          "3lwlumdwf522i");
    assert_string_equal(post->links.v[1],
                        "https://bsky.app/profile/did:plc:"
                        "5syfqzormjkutgo5hi2u2gpr/post/3lwlumdwf522i");

    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

/* ---- bad bodies ---- */

static void
expect_einval(void *m, const char *body, size_t len, const char *want_in_errbuf)
{
    struct hark_page page;
    char errbuf[256];
    assert_int_equal(
        parse_body(m, body, len, NULL, &page, errbuf, sizeof(errbuf)),
        HARK_EINVAL);
    if (!strstr(errbuf, want_in_errbuf)) {
        fail_msg("errbuf \"%s\" lacks \"%s\"", errbuf, want_in_errbuf);
    }
    assert_int_equal(page.n_posts, 0);
    assert_null(page.cursor);
    assert_null(page.next_token);
    assert_int_equal(page.rate.remaining, 299); /* read all the same */
    hark_page_cleanup(&page);
}

static void test_parse__bad_bodies(void **state)
{
    (void)state;
    struct src src;
    void *m = state_for(&src, "http://localhost:3000");

    const char *html = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway"
                       "</title></head><body>nginx</body></html>";
    expect_einval(m, html, strlen(html), "not JSON (");
    expect_einval(m, html, strlen(html), "<!DOCTYPE html>");

    size_t len;
    char *body = fixture("timeline_public.json", &len);
    expect_einval(m, body, len / 2, "invalid JSON");
    free(body);

    const char *obj = "{\"error\": \"Record not found\"}";
    expect_einval(m, obj, strlen(obj),
                  "expected a JSON array of statuses, got object");
    expect_einval(m, obj, strlen(obj), "Record not found");
    expect_einval(m, "\"x\"", 3, "got string");
    expect_einval(m, " \n", 2, "empty body");
    expect_einval(m, "", 0, "empty body");

    src_cleanup(&src);
}

static void test_parse__malformed_status_skipped(void **state)
{
    (void)state;
    struct src src;
    void *m = state_for(&src, "https://h.example");
    const char *body =
        "[{\"id\": \"9\", \"created_at\": \"2026-01-01T00:00:09Z\"},"
        " {\"id\": \"5\", \"created_at\": \"2026-01-01T00:00:05Z\","
        "  \"account\": {\"id\": \"1\", \"acct\": \"a\"},"
        "  \"content\": \"<p>ok \xff</p>\", \"display_name\": 1},"
        " {\"created_at\": \"2026-01-01T00:00:07Z\"}, 42]";
    struct hark_page page;
    char errbuf[256];

    assert_int_equal(
        parse_body(m, body, strlen(body), NULL, &page, errbuf, sizeof(errbuf)),
        HARK_OK);
    assert_int_equal(page.n_posts, 1);
    assert_string_equal(page.posts[0]->id, "5");
    assert_string_equal(page.posts[0]->author.handle, "a@h.example");
    assert_string_equal(page.posts[0]->text, "ok \xEF\xBF\xBD");
    assert_int_equal(page.posts[0]->n_repaired, 1);
    /* The skipped status's id still moves the cursor past it. */
    assert_string_equal(page.cursor, "9");
    assert_non_null(strstr(errbuf, "skipped 3 of 4 statuses"));

    hark_page_cleanup(&page);
    src_cleanup(&src);
}

static void test_parse__empty_page(void **state)
{
    (void)state;
    struct src src;
    void *m = state_for(&src, "http://localhost:3000");
    size_t len;
    char *body = fixture("timeline_tag_page4_empty.json", &len);
    struct hark_page page;
    char errbuf[256];

    assert_int_equal(parse_body(m, body, len,
                                "http://localhost:3000/api/v1/timelines/"
                                "public?limit=40&min_id=117020582177108552",
                                &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 0);
    assert_null(page.cursor);
    assert_null(page.next_token);
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__backfill_walks_back_with_max_id(void **state)
{
    (void)state;
    struct src src;
    g_backfill_pages = 2;
    void *m = state_for(&src, "http://localhost:3000");
    g_backfill_pages = 1;
    size_t len;
    char *body = fixture("timeline_tag_page1.json", &len);
    struct hark_page page;
    char errbuf[256];
    const char *base = "http://localhost:3000/api/v1/timelines/tag/x";
    struct hark_buf url;
    hark_buf_init(&url, 0);

    /* Page 0 of a first run: the newest page, then one page back. */
    assert_int_equal(ops->build_url(m, NULL, NULL, 0, &url), HARK_OK);
    char *u0 = hark_xasprintf("%s?limit=10", base);
    assert_int_equal(
        parse_body(m, body, len, u0, &page, errbuf, sizeof(errbuf)), HARK_OK);
    assert_false(page.is_forward);
    assert_string_equal(page.cursor, "117020582251615632");
    assert_string_equal(page.next_token, "max:117020582177108552");
    assert_int_equal(ops->build_url(m, NULL, page.next_token, 1, &url),
                     HARK_OK);
    assert_non_null(strstr(url.ptr, "&max_id=117020582177108552"));
    assert_null(strstr(url.ptr, "min_id"));
    hark_page_cleanup(&page);

    /* Page 1 is the last one backfill_pages allows. */
    char *u1 = hark_xasprintf("%s?limit=10&max_id=117020582177108552", base);
    assert_int_equal(
        parse_body(m, body, len, u1, &page, errbuf, sizeof(errbuf)), HARK_OK);
    assert_null(page.next_token);
    hark_page_cleanup(&page);
    free(u0);
    free(u1);
    hark_buf_cleanup(&url);
    free(body);
    src_cleanup(&src);
}

static void test_parse__next_token_when_catching_up(void **state)
{
    (void)state;
    struct src src;
    void *m = state_for(&src, "http://localhost:3000");
    size_t len;
    /* 10 statuses, newest 117020582251615632 */
    char *body = fixture("timeline_tag_page1.json", &len);
    struct hark_page page;
    char errbuf[256];
    const char *base = "http://localhost:3000/api/v1/timelines/tag/x";

    /* Full page of a catch-up request: the walk goes on from its max. */
    char *url = hark_xasprintf("%s?limit=10&min_id=117020582000000000", base);
    assert_int_equal(
        parse_body(m, body, len, url, &page, errbuf, sizeof(errbuf)), HARK_OK);
    assert_int_equal(page.n_posts, 10);
    assert_string_equal(page.posts[0]->id, "117020582177108552");
    assert_string_equal(page.cursor, "117020582251615632");
    assert_string_equal(page.next_token, "117020582251615632");
    hark_page_cleanup(&page);
    free(url);

    /* A short page ends the walk. */
    url = hark_xasprintf("%s?limit=40&min_id=117020582000000000", base);
    assert_int_equal(
        parse_body(m, body, len, url, &page, errbuf, sizeof(errbuf)), HARK_OK);
    assert_string_equal(page.cursor, "117020582251615632");
    assert_null(page.next_token);
    hark_page_cleanup(&page);
    free(url);

    /* A full first-run page does not walk back. */
    url = hark_xasprintf("%s?limit=10", base);
    assert_int_equal(
        parse_body(m, body, len, url, &page, errbuf, sizeof(errbuf)), HARK_OK);
    assert_null(page.next_token);
    hark_page_cleanup(&page);
    free(url);

    free(body);
    src_cleanup(&src);
}

static void test_parse__no_rate_headers(void **state)
{
    (void)state;
    struct src src;
    void *m = state_for(&src, "http://localhost:3000");
    struct hark_response resp = {.status = 200, .body = "[]", .body_len = 2};
    struct hark_page page;
    char errbuf[64];
    assert_int_equal(ops->parse(m, &resp, &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.rate.limit, -1);
    assert_int_equal(page.rate.remaining, -1);
    assert_int_equal(page.rate.reset_at_ms, -1);
    assert_int_equal(page.rate.retry_after_ms, -1);
    hark_page_cleanup(&page);
    src_cleanup(&src);
}

/* ---- requests and config ---- */

static void expect_url(const char *timeline,
                       const char *base_url,
                       int page_limit,
                       const char *cursor,
                       const char *token,
                       const char *want)
{
    char json[256];
    snprintf(json, sizeof(json), "{\"timeline\": \"%s\"}", timeline);
    struct src src;
    src_init(&src, json, base_url, page_limit);
    assert_int_equal(src.err, HARK_OK);
    char *url = url_of(src.state, cursor, token);
    assert_string_equal(url, want);
    free(url);
    src_cleanup(&src);
}

static void test_build_url__forms(void **state)
{
    (void)state;
    const char *b = "https://mastodon.social";
    expect_url("public", b, 0, NULL, NULL,
               "https://mastodon.social/api/v1/timelines/public?limit=40");
    expect_url("public", b, 0, "117020593378945190", NULL,
               "https://mastodon.social/api/v1/timelines/public?limit=40"
               "&min_id=117020593378945190");
    /* The page token wins over the cursor. */
    expect_url("public", b, 0, "100", "200",
               "https://mastodon.social/api/v1/timelines/public?limit=40"
               "&min_id=200");
    expect_url("local", b, 0, "100", NULL,
               "https://mastodon.social/api/v1/timelines/public?local=true"
               "&limit=40&min_id=100");
    expect_url("tag/公式アカウント", b, 0, NULL, NULL,
               "https://mastodon.social/api/v1/timelines/tag/%E5%85%AC%E5%BC"
               "%8F%E3%82%A2%E3%82%AB%E3%82%A6%E3%83%B3%E3%83%88?limit=40");
    expect_url("tag/#acme", b, 0, NULL, NULL,
               "https://mastodon.social/api/v1/timelines/tag/acme?limit=40");
    expect_url("list/42", b, 0, NULL, NULL,
               "https://mastodon.social/api/v1/timelines/list/42?limit=40");
    expect_url("account/109", b, 0, NULL, NULL,
               "https://mastodon.social/api/v1/accounts/109/statuses"
               "?limit=40");
    /* page_limit applies up to Mastodon's 40. */
    expect_url("public", b, 20, NULL, NULL,
               "https://mastodon.social/api/v1/timelines/public?limit=20");
    expect_url("public", b, 100, NULL, NULL,
               "https://mastodon.social/api/v1/timelines/public?limit=40");
    expect_url("public", "https://mastodon.social/", 0, NULL, NULL,
               "https://mastodon.social/api/v1/timelines/public?limit=40");
}

/* Runs init on `json`; expects one error containing `want` at line:col. */
static void expect_init_error_with(const char *json,
                                   const char *base_url,
                                   const char *want,
                                   int line,
                                   int column)
{
    struct src src;
    src_init(&src, json, base_url, 0);
    assert_int_equal(src.err, HARK_EINVAL);
    assert_null(src.state);
    assert_int_equal(src.diag.n_errors, 1);
    const struct hark_diag_entry *e = &src.diag.entries[0];
    if (!strstr(e->message, want)) {
        fail_msg("message \"%s\" lacks \"%s\"", e->message, want);
    }
    assert_int_equal(e->line, line);
    assert_int_equal(e->column, column);
    src_cleanup(&src);
}

static void
expect_init_error(const char *json, const char *want, int line, int column)
{
    expect_init_error_with(json, "https://mastodon.social", want, line, column);
}

static void test_init__errors(void **state)
{
    (void)state;
    expect_init_error("{\"name\": \"acme\",\n \"timeline\": \"home\"}",
                      "unknown timeline \"home\"; expected \"public\", "
                      "\"local\", \"tag/NAME\", \"list/ID\" or \"account/ID\"",
                      2, 14);
    expect_init_error("{\"timeline\": \"tag/\"}", "unknown timeline", 1, 14);
    expect_init_error("{\"timeline\": \"list/1/2\"}", "unknown timeline", 1,
                      14);
    expect_init_error("{\"timeline\": \"account/1\", \"stream\": true}",
                      "account timelines cannot stream", 1, 27);
}

/* What the cfgmap check reports already, init refuses without a word. */
static void expect_quiet_failure(const char *json, const char *base_url)
{
    struct src src;
    src_init(&src, json, base_url, 0);
    assert_int_equal(src.err, HARK_EINVAL);
    assert_null(src.state);
    assert_int_equal(src.diag.n_errors, 0);
    src_cleanup(&src);
}

static void test_init__no_duplicate_of_cfgmap_errors(void **state)
{
    (void)state;
    const char *b = "https://mastodon.social";
    expect_quiet_failure("{\"timeline\": 7}", b);
    expect_quiet_failure("{\"name\": \"acme\"}", b);
    expect_quiet_failure("{\"timeline\": \"public\", \"stream\": 1}", b);
    /* A missing or non-http base_url is the engine's to report. */
    expect_quiet_failure("{\"timeline\": \"public\"}", "");
    expect_quiet_failure("{\"timeline\": \"public\"}", "mastodon.social");

    /* The cfgmap itself catches those (the engine merges it). */
    struct src src;
    src_init(&src, "{\"timeline\": 7, \"stream\": false}", b, 0);
    struct hark_diag diag;
    hark_diag_init(&diag);
    assert_int_equal(hark_cfgmap_check(src.doc, src.doc->root,
                                       hark_src_mastodon.cfgmap, "source",
                                       &diag),
                     HARK_EINVAL);
    assert_int_equal(diag.n_errors, 1);
    hark_diag_cleanup(&diag);
    src_cleanup(&src);

    /* An http URL without a host is ours to report. */
    expect_init_error_with("{\"timeline\": \"public\", \"base_url\": "
                           "\"https://\"}",
                           "https://",
                           "\"base_url\" must be the instance's URL", 1, 24);
}

static void test_init__common_keys_ignored(void **state)
{
    (void)state;
    struct src src;
    src_init(&src,
             "{\"name\": \"acme\", \"type\": \"mastodon\", \"base_url\": "
             "\"https://mastodon.social\", \"interval_s\": 30, "
             "\"backfill_pages\": 1, \"page_limit\": 40, \"token_env\": "
             "\"T\", \"timeline\": \"tag/acme\", \"stream\": false}",
             "https://mastodon.social", 0);
    assert_int_equal(src.err, HARK_OK);
    assert_int_equal(src.diag.n_errors, 0);
    assert_non_null(src.state);
    src_cleanup(&src);
}

/* ---- registry ---- */

static void test_registry__find_and_types(void **state)
{
    (void)state;
    assert_ptr_equal(hark_source_ops_find("mastodon"), &hark_src_mastodon);
    assert_null(hark_source_ops_find("myspace"));
    assert_null(hark_source_ops_find(NULL));
    assert_non_null(strstr(hark_source_types(), "mastodon"));
    assert_string_equal(hark_src_mastodon.cfgmap[0].key, "timeline");
}

static void test_registry__response_header(void **state)
{
    (void)state;
    struct hark_response resp = {.headers = recorded_headers, .n_headers = 4};
    assert_string_equal(hark_response_header(&resp, "x-ratelimit-limit"),
                        "300");
    assert_string_equal(hark_response_header(&resp, "X-RateLimit-Limit"),
                        "300");
    assert_null(hark_response_header(&resp, "link"));
}

static void test_registry__page_cleanup_skips_taken_posts(void **state)
{
    (void)state;
    struct hark_page page = {0};
    page.posts = hark_xcalloc(2, sizeof(*page.posts));
    page.posts[0] = hark_post_new();
    page.posts[1] = NULL; /* taken by the engine */
    page.n_posts = 2;
    page.cursor = hark_xstrdup("1");
    page.next_token = hark_xstrdup("1");
    hark_page_cleanup(&page);
    assert_null(page.posts);
    assert_int_equal(page.n_posts, 0);
    assert_null(page.cursor);
    hark_page_cleanup(&page); /* twice is fine */
}

static void test_hark_id_cmp__numeric_order(void **state)
{
    (void)state;
    assert_true(hark_id_cmp("9", "10") < 0);
    assert_true(hark_id_cmp("117020593378945190", "117020574694606796") > 0);
    /* Past 2^53, where doubles lose digits. */
    assert_true(hark_id_cmp("9007199254740993", "9007199254740992") > 0);
    assert_int_equal(hark_id_cmp("172429", "172429"), 0);
    assert_int_equal(hark_id_cmp("007", "7"), 0);
    assert_true(hark_id_cmp(NULL, "1") < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse__timeline_public),
        cmocka_unit_test(test_parse__japanese_text_and_hidden_link_parts),
        cmocka_unit_test(test_parse__every_entity_decoded),
        cmocka_unit_test(test_parse__reblog),
        cmocka_unit_test(test_parse__edited_status),
        cmocka_unit_test(test_parse__tag_timeline_2017),
        cmocka_unit_test(test_parse__quote_post),
        cmocka_unit_test(test_parse__bad_bodies),
        cmocka_unit_test(test_parse__malformed_status_skipped),
        cmocka_unit_test(test_parse__empty_page),
        cmocka_unit_test(test_parse__next_token_when_catching_up),
        cmocka_unit_test(test_parse__backfill_walks_back_with_max_id),
        cmocka_unit_test(test_parse__no_rate_headers),
        cmocka_unit_test(test_build_url__forms),
        cmocka_unit_test(test_init__errors),
        cmocka_unit_test(test_init__no_duplicate_of_cfgmap_errors),
        cmocka_unit_test(test_init__common_keys_ignored),
        cmocka_unit_test(test_registry__find_and_types),
        cmocka_unit_test(test_registry__response_header),
        cmocka_unit_test(test_registry__page_cleanup_skips_taken_posts),
        cmocka_unit_test(test_hark_id_cmp__numeric_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
