/*
 * Tests for ingest/src_bluesky.c on responses recorded from the real
 * AppView, in tests/data/api/bluesky/ (see tests/data/SOURCES.md): a
 * searchPosts page and a getAuthorFeed page with reposts. Expected values
 * were read from the fixture files (facets' byte ranges sliced by hand).
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

static const struct hark_source_ops *ops = &hark_src_bluesky;
#define SRC_FIXTURE_DIR "bluesky"
#include "src_fixture.h"

#define SEARCH "search_posts_redistricting_2025-05-19.json"
#define FEED "author_feed.json"
#define BASE "https://public.api.bsky.app"

/* ---- helpers ---- */

static void src_init_full(struct src *src,
                          const char *json,
                          const char *base_url,
                          int page_limit,
                          int backfill_pages)
{
    struct hark_source_cfg cfg = {
        .name = (char *)"bsky",
        .type = (char *)"bluesky",
        .interval_s = 60,
        .backfill_pages = backfill_pages,
        .page_limit = page_limit,
        .token_env = NULL,
    };
    src_init_cfg(src, json, base_url, cfg);
}

static void src_init(struct src *src, const char *json)
{
    src_init_full(src, json, BASE, 0, 1);
}

static void *search_state(struct src *src)
{
    src_init(src, "{\"query\": \"redistricting\"}");
    assert_int_equal(src->err, HARK_OK);
    return src->state;
}

static void *feed_state(struct src *src)
{
    src_init(src, "{\"actor\": \"chriskenny.bsky.social\"}");
    assert_int_equal(src->err, HARK_OK);
    return src->state;
}

static const struct hark_header recorded_headers[] = {
    {(char *)"content-type", (char *)"application/json; charset=utf-8"},
    {(char *)"ratelimit-limit", (char *)"3000"},
    {(char *)"ratelimit-remaining", (char *)"2983"},
    {(char *)"ratelimit-reset", (char *)"1747676784"},
    {(char *)"ratelimit-policy", (char *)"3000;w=300"},
};

/* build_url (so the adapter knows the walk), then parse `body`. */
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
    return src_walk(state, recorded_headers,
                    sizeof(recorded_headers) / sizeof(recorded_headers[0]),
                    cursor, token, page_index, body, len, page, errbuf,
                    errbuf_len);
}

static bool has(const struct hark_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++) {
        if (strcmp(sv->v[i], s) == 0) {
            return true;
        }
    }
    return false;
}

#define MCPLI "at://did:plc:7nagdvjqrzaquzk7mueohne5/app.bsky.feed.post/"
#define KENNY "at://did:plc:wpe35pganb6d4pg4ekmfy6u5/app.bsky.feed.post/"
#define KENNY_DID "did:plc:wpe35pganb6d4pg4ekmfy6u5"
#define NEWEST_SEARCH                                                         \
    "at://did:plc:kkergqgbhb56ptpwj2wenkje/app.bsky.feed.post/3lpk2u6qo222m"
#define TENTH_SEARCH                                                          \
    "at://did:plc:ooimp4mgjxbday5u4j2rh57m/app.bsky.feed.post/3lpjqeajmlk27"

/* ---- searchPosts ---- */

static void test_parse__search_first_run(void **state)
{
    (void)state;
    struct src src;
    void *b = search_state(&src);
    size_t len;
    char *body = fixture(SEARCH, &len);
    struct hark_page page;
    char errbuf[256];

    assert_int_equal(walk_page(b, NULL, NULL, 0, body, len, &page, errbuf,
                               sizeof(errbuf)),
                     HARK_OK);
    assert_string_equal(errbuf, "");
    assert_int_equal(page.n_posts, 25);
    /* Oldest first; the mark is the newest post's sortAt (its createdAt,
     * 17:10:09.561858Z, is earlier than its indexedAt) and uri. */
    assert_string_equal(page.posts[0]->id, MCPLI "3lpica7sxmk2u");
    assert_string_equal(page.posts[24]->id, NEWEST_SEARCH);
    assert_string_equal(page.cursor,
                        "2025-05-19T17:10:09.561Z|" NEWEST_SEARCH);
    assert_false(page.is_forward);
    assert_null(page.next_token); /* a first run reads one page */
    assert_int_equal(page.rate.limit, 3000);
    assert_int_equal(page.rate.remaining, 2983);
    assert_int_equal(page.rate.reset_at_ms, INT64_C(1747676784000));
    assert_int_equal(page.rate.retry_after_ms, -1);

    /* A tag facet [191, 198) and a link facet [201, 233) */
    const struct hark_post *p = find_post(&page, MCPLI "3lpica7sxmk2u");
    assert_string_equal(p->platform, "bluesky");
    assert_string_equal(p->source, "bsky");
    assert_int_equal(p->kind, HARK_KIND_POST);
    assert_string_equal(p->url, "https://bsky.app/profile/mcpli.bsky.social/"
                                "post/3lpica7sxmk2u");
    assert_string_equal(p->created_at, "2025-05-19T00:16:50.191Z");
    assert_string_equal(p->lang, "en");
    assert_true(strncmp(p->text, "The plaintiffs in the Texas redistricting "
                                 "cases have filed",
                        56) == 0);
    assert_non_null(strstr(p->text, "#txlege \n\ndrive.google.com/file/d/"
                                    "1wZ7W..."));
    assert_string_equal(p->author.id, "did:plc:7nagdvjqrzaquzk7mueohne5");
    assert_string_equal(p->author.handle, "mcpli.bsky.social");
    assert_string_equal(p->author.display_name, "Michael Li (李之樸)");
    assert_int_equal(p->author.followers, -1);
    assert_int_equal(p->hashtags.n, 1);
    assert_string_equal(p->hashtags.v[0], "txlege");
    assert_int_equal(p->links.n, 1);
    assert_string_equal(p->links.v[0],
                        "https://drive.google.com/file/d/1wZ7W8GA3EuJuAhpZWL8"
                        "We4AyfVe8fjki/view?usp=sharing");
    assert_int_equal(p->mentions.n, 0);
    assert_string_equal(p->conversation_id, MCPLI "3lpica7sxmk2u");
    assert_null(p->in_reply_to);
    assert_int_equal(p->likes, 58);
    assert_int_equal(p->reposts, 13);
    assert_int_equal(p->replies, 0);

    /* A reply: parent and root differ. */
    p = find_post(&page, MCPLI "3lpjzka2pzc2l");
    assert_int_equal(p->kind, HARK_KIND_REPLY);
    assert_string_equal(p->in_reply_to, MCPLI "3lpjzgltpa22l");
    assert_string_equal(p->conversation_id, MCPLI "3lpjy3eabqs2l");

    /* createdAt "2025-05-19T02:03:20.286393+00:00" normalized. */
    p = find_post(&page, "at://did:plc:qogyzvlh3vivathu2piavvpv/"
                         "app.bsky.feed.post/3lpii6nwbyt2m");
    assert_string_equal(p->created_at, "2025-05-19T02:03:20.286Z");
    assert_non_null(strstr(p->text, "121–150: Existential"));

    /* A link card whose uri is the facet's link: kept once. */
    p = find_post(&page, "at://did:plc:s7savtl25cqhm3ddqc7jeljx/"
                         "app.bsky.feed.post/3lpk2r5h5ec2j");
    assert_int_equal(p->links.n, 1);
    assert_string_equal(p->links.v[0],
                        "https://open.substack.com/pub/christackett/p/"
                        "the-pawn-or-the-collaborator?r=92vnq&utm_medium=ios");

    /* A quote post: the quoted post is not folded into the text. */
    p = find_post(&page, "at://did:plc:pjjrd7avt2v4ycccavykzg3n/"
                         "app.bsky.feed.post/3lpjl6vjfes2b");
    assert_string_equal(p->text,
                        "Thursday is Opinion Day at the SCOTUS. \nMarc is "
                        "following the Louisiana redistricting case; "
                        "important for democracy. They were ordered to draw "
                        "a new map to have two Black districts; a group of "
                        "non-Blacks want to strike it down.\nLayoffs in Dept "
                        "of Education-trump accuntability case being "
                        "covered.");
    assert_int_equal(p->links.n, 0);
    /* No langs in the record. */
    p = find_post(&page, NEWEST_SEARCH);
    assert_null(p->lang);

    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__search_stops_at_the_mark(void **state)
{
    (void)state;
    struct src src;
    void *b = search_state(&src);
    size_t len;
    char *body = fixture(SEARCH, &len);
    struct hark_page page;
    char errbuf[256];
    /* The mark of the 10th post (index 9): its sortAt and uri. */
    const char *mark = "2025-05-19T14:02:17.257Z|" TENTH_SEARCH;

    assert_int_equal(walk_page(b, mark, NULL, 0, body, len, &page, errbuf,
                               sizeof(errbuf)),
                     HARK_OK);
    assert_string_equal(errbuf, "");
    assert_int_equal(page.n_posts, 9); /* indices 0..8 are newer */
    for (size_t i = 0; i < page.n_posts; i++) {
        assert_string_not_equal(page.posts[i]->id, TENTH_SEARCH);
    }
    assert_null(page.next_token); /* an old post ends the walk */
    assert_string_equal(page.cursor,
                        "2025-05-19T17:10:09.561Z|" NEWEST_SEARCH);
    hark_page_cleanup(&page);

    /* The same time with another uri is not the mark: delivered. */
    assert_int_equal(walk_page(b,
                               "2025-05-19T14:02:17.257Z|at://did:plc:x/"
                               "app.bsky.feed.post/other",
                               NULL, 0, body, len, &page, errbuf,
                               sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 10);
    assert_null(page.next_token);
    hark_page_cleanup(&page);

    /* Nothing new: no posts, the mark stays. */
    assert_int_equal(walk_page(b, "2025-05-19T17:10:09.561Z|" NEWEST_SEARCH,
                               NULL, 0, body, len, &page, errbuf,
                               sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 0);
    assert_null(page.cursor);
    assert_null(page.next_token);
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__search_walks_back_until_the_mark(void **state)
{
    (void)state;
    struct src src;
    void *b = search_state(&src);
    size_t len;
    char *body = fixture(SEARCH, &len);
    struct hark_page page;
    char errbuf[256];
    const char *mark = "2025-05-18T00:00:00.000Z|at://did:plc:x/"
                       "app.bsky.feed.post/old";

    /* Every post is newer than the mark: go on with the response cursor. */
    assert_int_equal(walk_page(b, mark, NULL, 0, body, len, &page, errbuf,
                               sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 25);
    assert_string_equal(page.next_token, "25");
    assert_string_equal(page.cursor,
                        "2025-05-19T17:10:09.561Z|" NEWEST_SEARCH);
    assert_false(page.is_forward);
    hark_page_cleanup(&page);

    /* Page 2 of the walk asks with the cursor. */
    struct hark_buf url;
    hark_buf_init(&url, 0);
    assert_int_equal(ops->build_url(b, mark, "25", 1, &url), HARK_OK);
    assert_string_equal(url.ptr, BASE "/xrpc/app.bsky.feed.searchPosts?"
                                      "q=redistricting&limit=100&sort=latest"
                                      "&cursor=25");
    hark_buf_cleanup(&url);
    free(body);
    src_cleanup(&src);
}

static void test_parse__depth_limit_is_a_note(void **state)
{
    (void)state;
    struct src src;
    src_init(&src, "{\"query\": \"redistricting\", \"max_pages\": 1}");
    assert_int_equal(src.err, HARK_OK);
    size_t len;
    char *body = fixture(SEARCH, &len);
    struct hark_page page;
    char errbuf[256];

    assert_int_equal(walk_page(src.state,
                               "2025-05-18T00:00:00Z|at://did:plc:x/"
                               "app.bsky.feed.post/old",
                               NULL, 0, body, len, &page, errbuf,
                               sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 25);
    assert_null(page.next_token);
    assert_non_null(page.cursor);
    assert_non_null(strstr(errbuf, "stopped after 1 pages (max_pages) "
                                   "without reaching the committed mark"));
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__backfill_pages(void **state)
{
    (void)state;
    struct src src;
    src_init_full(&src, "{\"query\": \"redistricting\"}", BASE, 0, 2);
    assert_int_equal(src.err, HARK_OK);
    size_t len;
    char *body = fixture(SEARCH, &len);
    struct hark_page page;
    char errbuf[256];

    assert_int_equal(walk_page(src.state, NULL, NULL, 0, body, len, &page,
                               errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_string_equal(page.next_token, "25");
    hark_page_cleanup(&page);
    assert_int_equal(walk_page(src.state, NULL, "25", 1, body, len, &page,
                               errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_null(page.next_token); /* two pages read */
    assert_string_equal(errbuf, "");
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

static void test_parse__bad_cursor_reads_as_first_run(void **state)
{
    (void)state;
    struct src src;
    void *b = search_state(&src);
    size_t len;
    char *body = fixture(SEARCH, &len);
    struct hark_page page;
    char errbuf[256];

    assert_int_equal(walk_page(b, "117020593378945190", NULL, 0, body, len,
                               &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 25);
    assert_null(page.next_token);
    assert_non_null(strstr(errbuf, "cursor \"117020593378945190\" is not "
                                   "\"<time>|<uri>\""));
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

/* ---- getAuthorFeed ---- */

static void test_parse__author_feed_with_reposts(void **state)
{
    (void)state;
    struct src src;
    void *b = feed_state(&src);
    size_t len;
    char *body = fixture(FEED, &len);
    struct hark_page page;
    char errbuf[256];

    assert_int_equal(walk_page(b, NULL, NULL, 0, body, len, &page, errbuf,
                               sizeof(errbuf)),
                     HARK_OK);
    assert_string_equal(errbuf, "");
    assert_int_equal(page.n_posts, 50);
    assert_string_equal(page.cursor,
                        "2025-05-05T01:30:17.912Z|" KENNY "3lof7sovfok2h");
    assert_string_equal(page.posts[49]->id, KENNY "3lof7sovfok2h");
    assert_string_equal(page.posts[0]->id, KENNY "3koakqbeoil22");
    size_t n_reposts = 0;
    for (size_t i = 0; i < page.n_posts; i++) {
        n_reposts += page.posts[i]->is_repost;
        for (size_t k = 0; k < i; k++) {
            assert_string_not_equal(page.posts[i]->id, page.posts[k]->id);
        }
    }
    assert_int_equal(n_reposts, 7);

    /* Mentions: "@typst.app" is bytes [56, 66) after a 3-byte "’", and
     * "@quarto.org" [69, 80); the link card repeats the facet link. */
    const struct hark_post *p = find_post(&page, KENNY "3lo7irc7njk2p");
    assert_int_equal(p->mentions.n, 2);
    assert_string_equal(p->mentions.v[0], "typst.app");
    assert_string_equal(p->mentions.v[1], "quarto.org");
    assert_int_equal(p->links.n, 1);
    assert_string_equal(p->links.v[0],
                        "https://github.com/christopherkenny/harvard-diss");
    assert_string_equal(p->author.display_name, "Chris Kenny");
    assert_int_equal(p->likes, 6);
    assert_int_equal(p->reposts, 2);
    assert_int_equal(p->replies, 2);

    p = find_post(&page, KENNY "3lc5da4a45c2c");
    assert_int_equal(p->mentions.n, 1);
    assert_string_equal(p->mentions.v[0], "jeremy-data.bsky.social");
    assert_int_equal(p->kind, HARK_KIND_REPLY);
    assert_string_equal(p->in_reply_to, KENNY "3lc5d6zspys2c");
    assert_string_equal(p->conversation_id, KENNY "3lc5d6zspys2c");

    /* A repost: its own id and time, the original's text and author. */
    const char *orig = "at://did:plc:n65dhyosfrm6t7jhzum76exq/"
                       "app.bsky.feed.post/3lnneysi3ps2c";
    char *id = hark_xasprintf("%s#repost/%s/2025-04-25T18:43:12.048Z", orig,
                              KENNY_DID);
    p = find_post(&page, id);
    free(id);
    assert_int_equal(p->kind, HARK_KIND_REPOST);
    assert_true(p->is_repost);
    assert_string_equal(p->repost_of, orig);
    assert_string_equal(p->reposted_by, "chriskenny.bsky.social");
    assert_string_equal(p->created_at, "2025-04-25T18:43:12.048Z");
    assert_string_equal(p->author.handle, "mickael.canouil.fr");
    assert_string_equal(p->url, "https://bsky.app/profile/mickael.canouil.fr/"
                                "post/3lnneysi3ps2c");
    assert_int_equal(p->hashtags.n, 7);
    assert_true(has(&p->hashtags, "QuartoPub"));
    assert_true(has(&p->hashtags, "AwesomeQuarto"));
    assert_int_equal(p->links.n, 1);
    assert_non_null(strstr(p->text, "star it and share it 😉"));
    assert_int_equal(p->likes, 13);

    hark_page_cleanup(&page);

    /* The walk with the recorded cursor: the mark is a repost's time. */
    assert_int_equal(walk_page(b,
                               "2025-04-25T18:43:12.048Z|" KENNY
                               "unrelated",
                               NULL, 0, body, len, &page, errbuf,
                               sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 7); /* after the repost: 6 + itself */
    hark_page_cleanup(&page);
    free(body);
    src_cleanup(&src);
}

/* ---- bad bodies ---- */

static void expect_bad(void *b, const char *body, const char *want)
{
    struct hark_page page;
    char errbuf[256];
    assert_int_equal(walk_page(b, NULL, NULL, 0, body, strlen(body), &page,
                               errbuf, sizeof(errbuf)),
                     HARK_EINVAL);
    if (!strstr(errbuf, want)) {
        fail_msg("errbuf \"%s\" lacks \"%s\"", errbuf, want);
    }
    hark_page_cleanup(&page);
}

static void test_parse__bad_bodies(void **state)
{
    (void)state;
    struct src src;
    void *b = search_state(&src);
    expect_bad(b, "", "empty body");
    expect_bad(b, "  \n", "empty body");
    expect_bad(b, "<!DOCTYPE html><html>", "not JSON");
    expect_bad(b, "{\"posts\": [", "invalid JSON at byte");
    expect_bad(b, "[]", "expected an object with a \"posts\" array, got "
                        "array");
    expect_bad(b, "{\"posts\": 5}", "got object");
    expect_bad(b,
               "{\"error\":\"InvalidRequest\",\"message\":\"limit can not be "
               "greater than 100\"}",
               "(error: \"InvalidRequest\": limit can not be greater than "
               "100)");
    /* A feed source wants "feed". */
    struct src fsrc;
    void *f = feed_state(&fsrc);
    expect_bad(f, "{\"posts\": []}", "\"feed\" array");
    src_cleanup(&fsrc);
    src_cleanup(&src);
}

static void test_parse__malformed_items_skipped(void **state)
{
    (void)state;
    struct src src;
    void *b = search_state(&src);
    const char *body =
        "{\"posts\": [{\"uri\": \"at://did:plc:a/app.bsky.feed.post/1\"},"
        " 7,"
        " {\"uri\": \"at://did:plc:a/app.bsky.feed.post/2\","
        "  \"author\": {\"did\": \"did:plc:a\", \"handle\": \"a.test\"},"
        "  \"record\": {\"text\": \"caf\\u00e9 @b.test\","
        "   \"createdAt\": \"2025-05-19T10:00:00Z\","
        "   \"facets\": [{\"index\": {\"byteStart\": 6, \"byteEnd\": 13},"
        "     \"features\": [{\"$type\": \"app.bsky.richtext.facet#mention\","
        "       \"did\": \"did:plc:b\"}]},"
        "    {\"index\": {\"byteStart\": 6, \"byteEnd\": 99},"
        "     \"features\": [{\"$type\": \"app.bsky.richtext.facet#mention\","
        "       \"did\": \"did:plc:c\"}]}]},"
        "  \"indexedAt\": \"2025-05-19T10:00:01Z\"}]}";
    struct hark_page page;
    char errbuf[256];
    assert_int_equal(walk_page(b, NULL, NULL, 0, body, strlen(body), &page,
                               errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 1);
    assert_string_equal(errbuf, "skipped 2 of 3 items (first: item 0, no "
                                "\"author\" with a \"did\")");
    const struct hark_post *p = page.posts[0];
    assert_string_equal(p->text, "café @b.test");
    /* "é" is two bytes: [6, 13) is "@b.test"; a range past the end falls
     * back to the DID. */
    assert_int_equal(p->mentions.n, 2);
    assert_string_equal(p->mentions.v[0], "b.test");
    assert_string_equal(p->mentions.v[1], "did:plc:c");
    assert_string_equal(p->created_at, "2025-05-19T10:00:00.000Z");
    assert_string_equal(page.cursor, "2025-05-19T10:00:00.000Z|"
                                     "at://did:plc:a/app.bsky.feed.post/2");
    assert_null(page.next_token);
    hark_page_cleanup(&page);
    src_cleanup(&src);
}

static void test_parse__empty_page_ends_the_walk(void **state)
{
    (void)state;
    struct src src;
    void *b = feed_state(&src);
    const char *body = "{\"feed\": [], \"cursor\": \"2024-01-01T00:00:00Z\"}";
    struct hark_page page;
    char errbuf[256];
    assert_int_equal(walk_page(b, "2020-01-01T00:00:00Z|at://x", NULL, 0,
                               body, strlen(body), &page, errbuf,
                               sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 0);
    assert_null(page.next_token);
    assert_null(page.cursor);
    hark_page_cleanup(&page);
    src_cleanup(&src);
}

/* ---- build_url ---- */

static void expect_url(const char *json,
                       const char *base,
                       int page_limit,
                       const char *token,
                       const char *want)
{
    struct src src;
    src_init_full(&src, json, base, page_limit, 1);
    assert_int_equal(src.err, HARK_OK);
    struct hark_buf url;
    hark_buf_init(&url, 0);
    assert_int_equal(ops->build_url(src.state, NULL, token, 0, &url),
                     HARK_OK);
    assert_string_equal(url.ptr, want);
    hark_buf_cleanup(&url);
    src_cleanup(&src);
}

static void test_build_url__forms(void **state)
{
    (void)state;
    expect_url("{\"query\": \"acme widgets\"}", BASE, 0, NULL,
               BASE "/xrpc/app.bsky.feed.searchPosts?q=acme%20widgets"
                    "&limit=100&sort=latest");
    expect_url("{\"query\": \"acme\"}", BASE "/", 25, "50",
               BASE "/xrpc/app.bsky.feed.searchPosts?q=acme&limit=25"
                    "&sort=latest&cursor=50");
    expect_url("{\"query\": \"acme\"}", BASE, 500, NULL,
               BASE "/xrpc/app.bsky.feed.searchPosts?q=acme&limit=100"
                    "&sort=latest");
    expect_url("{\"query\": \"公式\", \"lang\": \"ja\", \"author\": "
               "\"a.bsky.social\", \"mentions\": \"did:plc:x\", \"domain\": "
               "\"acme.com\", \"tag\": [\"#acme\", \"café\"]}",
               BASE, 0, NULL,
               BASE "/xrpc/app.bsky.feed.searchPosts?q=%E5%85%AC%E5%BC%8F"
                    "&limit=100&sort=latest&lang=ja&author=a.bsky.social"
                    "&mentions=did%3Aplc%3Ax&domain=acme.com&tag=acme"
                    "&tag=caf%C3%A9");
    expect_url("{\"actor\": \"chriskenny.bsky.social\", \"filter\": "
               "\"posts_no_replies\"}",
               BASE, 0, "2024-03-21T23:36:16.378Z",
               BASE "/xrpc/app.bsky.feed.getAuthorFeed?"
                    "actor=chriskenny.bsky.social&limit=100"
                    "&filter=posts_no_replies"
                    "&cursor=2024-03-21T23%3A36%3A16.378Z");
}

/* ---- init ---- */

static void expect_init_error(const char *json, const char *want, int line,
                              int column)
{
    struct src src;
    src_init(&src, json);
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

static void test_init__errors(void **state)
{
    (void)state;
    expect_init_error("{\"name\": \"b\"}",
                      "a bluesky source needs \"query\" (search posts) or "
                      "\"actor\"",
                      1, 1);
    expect_init_error("{\"query\": \"a\",\n \"actor\": \"b\"}",
                      "either \"query\" (searchPosts) or \"actor\"", 2, 2);
    expect_init_error("{\"query\": \" \"}", "\"query\" must not be empty", 1,
                      11);
    expect_init_error("{\"actor\": \"b\", \"lang\": \"en\"}",
                      "\"lang\" filters searchPosts; it needs \"query\"", 1,
                      16);
    expect_init_error("{\"query\": \"a\", \"filter\": \"posts_no_replies\"}",
                      "\"filter\" filters getAuthorFeed", 1, 16);
    expect_init_error("{\"actor\": \"b\", \"filter\": \"replies\"}",
                      "unknown filter \"replies\"", 1, 26);
    expect_init_error("{\"query\": \"a\", \"tag\": [\"x\", 3]}",
                      "\"tag\" lists hashtags", 1, 29);
    expect_init_error("{\"query\": \"a\", \"max_pages\": 0}",
                      "\"max_pages\" must be 1 to 10000", 1, 29);
}

static void test_init__quiet_on_cfgmap_errors(void **state)
{
    (void)state;
    struct src src;
    src_init(&src, "{\"query\": 5}");
    assert_int_equal(src.err, HARK_EINVAL);
    assert_int_equal(src.diag.n_errors, 0);
    src_cleanup(&src);
    /* A bad base_url is the engine's to report. */
    src_init_full(&src, "{\"query\": \"a\"}", "bsky.app", 0, 1);
    assert_int_equal(src.err, HARK_EINVAL);
    assert_int_equal(src.diag.n_errors, 0);
    src_cleanup(&src);
    /* The map catches a wrong type. */
    src_init(&src, "{\"query\": 5}");
    struct hark_diag diag;
    hark_diag_init(&diag);
    assert_int_equal(hark_cfgmap_check(src.doc, src.doc->root, ops->cfgmap,
                                       "source", &diag),
                     HARK_EINVAL);
    assert_int_equal(diag.n_errors, 1);
    hark_diag_cleanup(&diag);
    src_cleanup(&src);
}

static void test_registry__finds_bluesky_and_json(void **state)
{
    (void)state;
    assert_ptr_equal(hark_source_ops_find("bluesky"), &hark_src_bluesky);
    assert_ptr_equal(hark_source_ops_find("json"), &hark_src_json);
    assert_non_null(strstr(hark_source_types(), "bluesky"));
    assert_null(hark_src_bluesky.request_headers);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse__search_first_run),
        cmocka_unit_test(test_parse__search_stops_at_the_mark),
        cmocka_unit_test(test_parse__search_walks_back_until_the_mark),
        cmocka_unit_test(test_parse__depth_limit_is_a_note),
        cmocka_unit_test(test_parse__backfill_pages),
        cmocka_unit_test(test_parse__bad_cursor_reads_as_first_run),
        cmocka_unit_test(test_parse__author_feed_with_reposts),
        cmocka_unit_test(test_parse__bad_bodies),
        cmocka_unit_test(test_parse__malformed_items_skipped),
        cmocka_unit_test(test_parse__empty_page_ends_the_walk),
        cmocka_unit_test(test_build_url__forms),
        cmocka_unit_test(test_init__errors),
        cmocka_unit_test(test_init__quiet_on_cfgmap_errors),
        cmocka_unit_test(test_registry__finds_bluesky_and_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
