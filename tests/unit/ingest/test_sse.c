/*
 * Tests for ingest/sse.c (the SSE / NDJSON framer) on the bodies recorded
 * from real streams (tests/data/api/mastodon/streaming_user.sse,
 * tests/data/api/x/filtered_stream_*.jsonl; see tests/data/SOURCES.md),
 * and for the Mastodon adapter's streaming ops (src_mastodon.c with
 * "stream": true) that sit on it.
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
#include "ingest/sse_int.h"

/* ---- helpers ---- */

static char *fixture(const char *rel, size_t *len)
{
    const char *dir = getenv("HARK_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/data/api/%s",
             dir && *dir ? dir : ".", rel);
    char errbuf[256];
    char *text = NULL;
    hark_err_t err =
        hark_file_read(path, 16u << 20, &text, len, errbuf, sizeof(errbuf));
    if (err != HARK_OK) {
        fail_msg("%s", errbuf);
    }
    return text;
}

/* Every message the framer produced, as "event\x1fdata" or "!size". */
struct msgs {
    char **v;
    size_t n;
};

static void collect(void *ctx, const struct hark_sse_msg *msg)
{
    struct msgs *ms = ctx;
    char *s;
    if (msg->is_too_big) {
        assert_null(msg->data);
        s = hark_xasprintf("!%s", msg->event ? msg->event : "");
    } else {
        assert_non_null(msg->data);
        assert_int_equal(strlen(msg->data), msg->data_len);
        s = hark_xasprintf("%s\x1f%s", msg->event ? msg->event : "-",
                           msg->data);
    }
    ms->v = realloc(ms->v, (ms->n + 1) * sizeof(*ms->v));
    assert_non_null(ms->v);
    ms->v[ms->n++] = s;
}

static void msgs_free(struct msgs *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        free(ms->v[i]);
    }
    free(ms->v);
    ms->v = NULL;
    ms->n = 0;
}

/* Frames `body` fed as the pieces cut at the offsets in `cuts`. */
static struct msgs frame_cut(enum hark_sse_mode mode, size_t max_msg,
                             const char *body, size_t len,
                             const size_t *cuts, size_t n_cuts)
{
    struct hark_sse sse;
    struct msgs ms = {NULL, 0};
    hark_sse_init(&sse, mode, max_msg);
    size_t at = 0;
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t end = i < n_cuts ? cuts[i] : len;
        hark_sse_feed(&sse, body + at, end - at, collect, &ms);
        at = end;
    }
    hark_sse_cleanup(&sse);
    return ms;
}

static struct msgs frame(enum hark_sse_mode mode, size_t max_msg,
                         const char *body)
{
    return frame_cut(mode, max_msg, body, strlen(body), NULL, 0);
}

static void assert_same(const struct msgs *want, const struct msgs *got,
                        size_t cut)
{
    if (want->n != got->n) {
        fail_msg("cut at %zu: %zu messages, want %zu", cut, got->n, want->n);
    }
    for (size_t i = 0; i < want->n; i++) {
        if (strcmp(want->v[i], got->v[i]) != 0) {
            fail_msg("cut at %zu: message %zu differs", cut, i);
        }
    }
}

/* Every one-cut split, and byte-by-byte, give the same messages. */
static void assert_split_invariant(enum hark_sse_mode mode, const char *body,
                                   size_t len, const struct msgs *want)
{
    for (size_t k = 0; k <= len; k++) {
        struct msgs got = frame_cut(mode, 0, body, len, &k, 1);
        assert_same(want, &got, k);
        msgs_free(&got);
    }
    size_t *every = malloc(len * sizeof(size_t));
    assert_non_null(every);
    for (size_t k = 0; k < len; k++) {
        every[k] = k;
    }
    struct msgs got = frame_cut(mode, 0, body, len, every, len);
    assert_same(want, &got, (size_t)-1);
    msgs_free(&got);
    free(every);
}

/* `body` with every "\n" turned into "\r\n". */
static char *to_crlf(const char *body, size_t len, size_t *out_len)
{
    char *out = malloc(2 * len + 1);
    assert_non_null(out);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (body[i] == '\n') {
            out[n++] = '\r';
        }
        out[n++] = body[i];
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- SSE on the recorded Mastodon stream ---- */

static void test_hark_sse_feed__recorded_mastodon_stream(void **state)
{
    (void)state;
    size_t len;
    char *body = fixture("mastodon/streaming_user.sse", &len);
    struct msgs ms = frame_cut(HARK_SSE_EVENTS, 0, body, len, NULL, 0);
    /* SOURCES.md: update (2), notification (2), status.update, delete. */
    assert_int_equal(ms.n, 6);
    assert_true(starts_with(ms.v[0],
                            "update\x1f{\"id\":\"117024236332527350\","));
    assert_true(starts_with(ms.v[1], "notification\x1f{\"id\":\"14\","));
    assert_true(starts_with(ms.v[2],
                            "update\x1f{\"id\":\"117024236559579118\","));
    assert_true(starts_with(ms.v[3], "notification\x1f{\"id\":\"16\","));
    assert_true(starts_with(ms.v[4],
                            "status.update\x1f{\"id\":\"117024236332527350\","));
    assert_string_equal(ms.v[5], "delete\x1f" "117024236332527350");
    /* The data is the line after "data: ", without its newline. */
    assert_int_equal(ms.v[0][strlen(ms.v[0]) - 1], '}');
    msgs_free(&ms);
    free(body);
}

static void test_hark_sse_feed__every_split_point_same_messages(void **state)
{
    (void)state;
    size_t len;
    char *body = fixture("mastodon/streaming_user.sse", &len);
    struct msgs want = frame_cut(HARK_SSE_EVENTS, 0, body, len, NULL, 0);
    assert_int_equal(want.n, 6);
    assert_split_invariant(HARK_SSE_EVENTS, body, len, &want);
    msgs_free(&want);
    free(body);
}

static void test_hark_sse_feed__crlf_same_messages(void **state)
{
    (void)state;
    size_t len, crlf_len;
    char *body = fixture("mastodon/streaming_user.sse", &len);
    char *crlf = to_crlf(body, len, &crlf_len);
    struct msgs want = frame_cut(HARK_SSE_EVENTS, 0, body, len, NULL, 0);
    /* Every split, including each one between "\r" and "\n". */
    assert_split_invariant(HARK_SSE_EVENTS, crlf, crlf_len, &want);
    /* A lone "\r" ends a line too (the spec's third form). */
    for (size_t i = 0; i < len; i++) {
        if (body[i] == '\n') {
            body[i] = '\r';
        }
    }
    struct msgs cr = frame_cut(HARK_SSE_EVENTS, 0, body, len, NULL, 0);
    assert_same(&want, &cr, 0);
    msgs_free(&cr);
    msgs_free(&want);
    free(crlf);
    free(body);
}

static void test_hark_sse_feed__field_rules(void **state)
{
    (void)state;
    struct msgs ms = frame(HARK_SSE_EVENTS, 0,
                           ":)\n"
                           "data: one\n"
                           "data:two\n"
                           "data\n"
                           "\n"
                           ": comment between messages\n"
                           "event: update\n"
                           "id: 7\n"
                           "retry: 1000\n"
                           "unknown: x\n"
                           "data:  spaced\n"
                           "\n"
                           "event: lonely\n"
                           "\n"
                           "data: last\n"
                           "\n"
                           "data: never dispatched\n");
    assert_int_equal(ms.n, 3);
    /* Data lines joined with "\n"; an empty "data" adds an empty line. */
    assert_string_equal(ms.v[0], "message\x1fone\ntwo\n");
    /* Only one space after the colon is stripped. */
    assert_string_equal(ms.v[1], "update\x1f spaced");
    /* An event without data dispatches nothing and does not leak on. */
    assert_string_equal(ms.v[2], "message\x1flast");
    msgs_free(&ms);
}

static void test_hark_sse_feed__oversize_message_dropped_once(void **state)
{
    (void)state;
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char *body = hark_xasprintf("event: update\ndata: %s\n\n"
                                "event: update\ndata: %.40s\ndata: %.40s\n"
                                "data: %.40s\n\n"
                                "event: delete\ndata: 42\n\n",
                                big, big, big, big);
    /* Limit 100: the first message has one line of 199 bytes, the second
     * three of 40 that add up to more. Both are dropped and reported once;
     * the third comes through. */
    struct msgs ms = frame(HARK_SSE_EVENTS, 100, body);
    assert_int_equal(ms.n, 3);
    assert_string_equal(ms.v[0], "!update");
    assert_string_equal(ms.v[1], "!update");
    assert_string_equal(ms.v[2], "delete\x1f" "42");
    msgs_free(&ms);

    /* The same split into 7-byte chunks. */
    size_t len = strlen(body);
    size_t cuts[200];
    size_t n_cuts = 0;
    for (size_t k = 7; k < len && n_cuts < 200; k += 7) {
        cuts[n_cuts++] = k;
    }
    ms = frame_cut(HARK_SSE_EVENTS, 100, body, len, cuts, n_cuts);
    assert_int_equal(ms.n, 3);
    assert_string_equal(ms.v[0], "!update");
    msgs_free(&ms);
    free(body);
}

static void record_size(void *ctx, const struct hark_sse_msg *msg)
{
    size_t *sizes = ctx;
    sizes[sizes[0] + 1] = msg->is_too_big ? msg->size : 0;
    sizes[0]++;
}

static void test_hark_sse_feed__oversize_reports_size(void **state)
{
    (void)state;
    struct hark_sse sse;
    size_t sizes[8] = {0};
    hark_sse_init(&sse, HARK_SSE_NDJSON, 10);
    hark_sse_feed(&sse, "0123456789abcdef", 16, record_size, sizes);
    assert_int_equal(sizes[0], 0); /* not over until its newline */
    hark_sse_feed(&sse, "ghij\n{}\n", 8, record_size, sizes);
    /* One report with the line's full size, then framing resumes. */
    assert_int_equal(sizes[0], 2);
    assert_int_equal(sizes[1], 20);
    assert_int_equal(sizes[2], 0);
    hark_sse_cleanup(&sse);
}

/* ---- NDJSON on the recorded X stream ---- */

static void test_hark_sse_feed__ndjson_recorded_x_stream(void **state)
{
    (void)state;
    size_t len;
    char *body = fixture("x/filtered_stream_2021-04-01.jsonl", &len);
    struct msgs want = frame_cut(HARK_SSE_NDJSON, 0, body, len, NULL, 0);
    /* SOURCES.md: 9 messages, one per line. */
    assert_int_equal(want.n, 9);
    for (size_t i = 0; i < want.n; i++) {
        assert_true(starts_with(want.v[i], "-\x1f{\""));
    }
    assert_true(starts_with(want.v[4], "-\x1f{\"errors\": ["));
    assert_split_invariant(HARK_SSE_NDJSON, body, len, &want);

    /* The live stream: "\r\n" after each line and "\r\n" keep-alives. */
    struct hark_buf live;
    hark_buf_init(&live, 0);
    (void)hark_buf_add(&live, "\r\n\r\n", 4);
    for (size_t i = 0; i < len; i++) {
        if (body[i] == '\n') {
            (void)hark_buf_add(&live, "\r\n\r\n \r\n", 7);
        } else {
            (void)hark_buf_addc(&live, body[i]);
        }
    }
    struct msgs got =
        frame_cut(HARK_SSE_NDJSON, 0, live.ptr, live.len, NULL, 0);
    assert_same(&want, &got, 0);
    msgs_free(&got);
    hark_buf_cleanup(&live);
    msgs_free(&want);
    free(body);
}

static void test_hark_sse_feed__truncated_last_line_kept_apart(void **state)
{
    (void)state;
    size_t len;
    char *body = fixture("x/filtered_stream_truncated_last_line.jsonl", &len);
    struct hark_sse sse;
    struct msgs ms = {NULL, 0};
    hark_sse_init(&sse, HARK_SSE_NDJSON, 0);
    hark_sse_feed(&sse, body, len, collect, &ms);
    /* SOURCES.md: 7 complete lines, then one cut mid-object. */
    assert_int_equal(ms.n, 7);
    /* The connection drops: the partial line must not prefix the next. */
    hark_sse_reset(&sse);
    hark_sse_feed(&sse, "{\"next\": 1}\r\n", 13, collect, &ms);
    assert_int_equal(ms.n, 8);
    assert_string_equal(ms.v[7], "-\x1f{\"next\": 1}");
    msgs_free(&ms);
    hark_sse_cleanup(&sse);
    free(body);
}

static void test_hark_sse_reset__drops_partial_sse_message(void **state)
{
    (void)state;
    struct hark_sse sse;
    struct msgs ms = {NULL, 0};
    hark_sse_init(&sse, HARK_SSE_EVENTS, 0);
    hark_sse_feed(&sse, "event: delete\ndata: 1\r", 22, collect, &ms);
    hark_sse_reset(&sse);
    /* Neither the event name nor the data, nor the pending "\r", leak. */
    hark_sse_feed(&sse, "\ndata: 2\n\n", 10, collect, &ms);
    assert_int_equal(ms.n, 1);
    assert_string_equal(ms.v[0], "message\x1f" "2");
    msgs_free(&ms);
    hark_sse_cleanup(&sse);
}

/* ---- the Mastodon adapter's streaming ops ---- */

static const struct hark_source_ops *mops = &hark_src_mastodon;

struct msrc {
    struct hark_json_doc *doc;
    struct hark_diag diag;
    void *state;
    hark_err_t err;
};

static void msrc_init(struct msrc *src, const char *json)
{
    char errbuf[256];
    size_t off;
    struct hark_json_opts opts = {
        .allow_comments = true, .validate_utf8 = true, .max_depth = 64};
    assert_int_equal(hark_json_parse(json, strlen(json), "hark.json", &opts,
                                     &src->doc, errbuf, sizeof(errbuf), &off),
                     HARK_OK);
    hark_diag_init(&src->diag);
    struct hark_source_cfg cfg = {
        .name = (char *)"acme",
        .type = (char *)"mastodon",
        .base_url = (char *)"http://localhost:3000",
        .interval_s = 60,
        .backfill_pages = 1,
    };
    src->state = NULL;
    src->err =
        mops->init(&cfg, src->doc, src->doc->root, &src->diag, &src->state);
}

static void msrc_cleanup(struct msrc *src)
{
    mops->free_state(src->state);
    hark_diag_cleanup(&src->diag);
    hark_json_doc_free(src->doc);
}

/* stream_url of a source following `timeline`, or NULL if ECLOSED. */
static char *stream_url_of(const char *timeline, const char *stream)
{
    struct msrc src;
    char *json = hark_xasprintf("{\"timeline\": \"%s\"%s%s}", timeline,
                                stream ? ", \"stream\": " : "",
                                stream ? stream : "");
    msrc_init(&src, json);
    assert_int_equal(src.err, HARK_OK);
    struct hark_buf url;
    hark_buf_init(&url, 0);
    hark_err_t err = mops->stream_url(src.state, NULL, &url);
    char *out = err == HARK_OK ? hark_buf_take(&url) : NULL;
    if (err != HARK_OK) {
        assert_int_equal(err, HARK_ECLOSED);
    }
    hark_buf_cleanup(&url);
    msrc_cleanup(&src);
    free(json);
    return out;
}

static void assert_stream_url(const char *timeline, const char *want)
{
    char *url = stream_url_of(timeline, "true");
    assert_non_null(url);
    assert_string_equal(url, want);
    free(url);
}

static void test_mastodon_stream_url__per_timeline(void **state)
{
    (void)state;
    assert_stream_url("public",
                      "http://localhost:3000/api/v1/streaming/public");
    assert_stream_url("local",
                      "http://localhost:3000/api/v1/streaming/public/local");
    assert_stream_url("tag/#café",
                      "http://localhost:3000/api/v1/streaming/hashtag?"
                      "tag=caf%C3%A9");
    assert_stream_url("list/42",
                      "http://localhost:3000/api/v1/streaming/list?list=42");
    /* Polling sources do not stream. */
    assert_null(stream_url_of("public", NULL));
    assert_null(stream_url_of("public", "false"));
}

static void test_mastodon_init__account_timelines_cannot_stream(void **state)
{
    (void)state;
    struct msrc src;
    msrc_init(&src, "{\"timeline\": \"account/1\",\n \"stream\": true}");
    assert_int_equal(src.err, HARK_EINVAL);
    assert_null(src.state);
    assert_int_equal(src.diag.n_errors, 1);
    const struct hark_diag_entry *e = &src.diag.entries[0];
    if (!strstr(e->message, "account timelines cannot stream")) {
        fail_msg("message: %s", e->message);
    }
    /* At the "stream" key. */
    assert_int_equal(e->line, 2);
    assert_int_equal(e->column, 2);
    msrc_cleanup(&src);

    /* Polling the account timeline stays fine. */
    msrc_init(&src, "{\"timeline\": \"account/1\", \"stream\": false}");
    assert_int_equal(src.err, HARK_OK);
    msrc_cleanup(&src);
}

static void *stream_state(struct msrc *src, const char *cursor)
{
    msrc_init(src, "{\"timeline\": \"public\", \"stream\": true}");
    assert_int_equal(src->err, HARK_OK);
    struct hark_buf url;
    hark_buf_init(&url, 0);
    assert_int_equal(mops->stream_url(src->state, cursor, &url), HARK_OK);
    hark_buf_cleanup(&url);
    mops->stream_reset(src->state);
    return src->state;
}

static void page_init(struct hark_page *page)
{
    memset(page, 0, sizeof(*page));
    page->is_forward = true;
}

static void test_mastodon_feed__recorded_stream(void **state)
{
    (void)state;
    struct msrc src;
    void *st = stream_state(&src, "117024236000000000");
    size_t len;
    char *body = fixture("mastodon/streaming_user.sse", &len);
    struct hark_page page;
    page_init(&page);
    char errbuf[256] = "x";
    assert_int_equal(mops->feed(st, body, len, &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_string_equal(errbuf, "");
    /* Notifications are not posts: update, update, status.update,
     * delete. */
    assert_int_equal(page.n_posts, 4);
    struct hark_post *p = page.posts[0];
    assert_string_equal(p->id, "117024236332527350");
    assert_string_equal(p->platform, "mastodon");
    assert_string_equal(p->source, "acme");
    assert_string_equal(p->text, "only real cars respond.");
    assert_string_equal(p->created_at, "2026-08-02T05:22:17.399Z");
    assert_null(p->edited_at);
    assert_string_equal(p->lang, "ja");
    assert_string_equal(p->author.handle, "mastodonpy_test@localhost");
    assert_string_equal(p->url,
                        "http://localhost:3000/@mastodonpy_test/"
                        "117024236332527350");
    assert_false(p->is_deleted);

    p = page.posts[1];
    assert_string_equal(p->id, "117024236559579118");
    assert_string_equal(p->text, "@mastodonpy_test_2 pssssst");
    assert_int_equal(p->mentions.n, 1);
    assert_string_equal(p->mentions.v[0], "mastodonpy_test_2@localhost");

    /* The edit: same id, a new revision. */
    p = page.posts[2];
    assert_string_equal(p->id, "117024236332527350");
    assert_string_equal(p->text, "only real animals respond.");
    assert_string_equal(p->edited_at, "2026-08-02T05:22:24.192Z");
    assert_string_equal(hark_post_revision(p), "2026-08-02T05:22:24.192Z");

    /* The tombstone: id and platform, revision "". */
    p = page.posts[3];
    assert_string_equal(p->id, "117024236332527350");
    assert_true(p->is_deleted);
    assert_string_equal(p->platform, "mastodon");
    assert_null(p->created_at);
    assert_string_equal(hark_post_revision(p), "");

    /* The highest status id streamed, committed like a forward page. */
    assert_non_null(page.cursor);
    assert_string_equal(page.cursor, "117024236559579118");
    assert_true(page.is_forward);
    hark_page_cleanup(&page);
    free(body);
    msrc_cleanup(&src);
}

static void test_mastodon_feed__any_chunking_same_posts(void **state)
{
    (void)state;
    size_t len;
    char *body = fixture("mastodon/streaming_user.sse", &len);
    for (size_t step = 1; step < len; step = step * 3 + 1) {
        struct msrc src;
        void *st = stream_state(&src, NULL);
        char ids[512] = "";
        char *cursor = NULL;
        for (size_t at = 0; at < len; at += step) {
            size_t n = len - at < step ? len - at : step;
            struct hark_page page;
            page_init(&page);
            char errbuf[256];
            assert_int_equal(
                mops->feed(st, body + at, n, &page, errbuf, sizeof(errbuf)),
                HARK_OK);
            for (size_t i = 0; i < page.n_posts; i++) {
                size_t k = strlen(ids);
                snprintf(ids + k, sizeof(ids) - k, "%s%s,",
                         page.posts[i]->is_deleted ? "-" : "",
                         page.posts[i]->id);
            }
            if (page.cursor) {
                free(cursor);
                cursor = hark_xstrdup(page.cursor);
            }
            hark_page_cleanup(&page);
        }
        assert_string_equal(ids, "117024236332527350,117024236559579118,"
                                 "117024236332527350,-117024236332527350,");
        assert_string_equal(cursor, "117024236559579118");
        free(cursor);
        msrc_cleanup(&src);
    }
    free(body);
}

static void test_mastodon_feed__edit_of_old_status_keeps_cursor(void **state)
{
    (void)state;
    struct msrc src;
    /* The catch-up walk reached a newer id than the edited status. */
    void *st = stream_state(&src, "117024236559579118");
    size_t len;
    char *body = fixture("mastodon/streaming_user.sse", &len);
    struct hark_page page;
    page_init(&page);
    char errbuf[256];
    assert_int_equal(mops->feed(st, body, len, &page, errbuf, sizeof(errbuf)),
                     HARK_OK);
    assert_int_equal(page.n_posts, 4);
    assert_null(page.cursor); /* nothing newer than the cursor */
    hark_page_cleanup(&page);
    free(body);
    msrc_cleanup(&src);
}

static void test_mastodon_feed__bad_messages_reported(void **state)
{
    (void)state;
    struct msrc src;
    void *st = stream_state(&src, NULL);
    const char *body = "event: update\ndata: {\"id\": \n\n"
                       "event: delete\ndata: not-an-id\n\n"
                       "event: delete\ndata: 5\n\n";
    struct hark_page page;
    page_init(&page);
    char errbuf[256];
    assert_int_equal(mops->feed(st, body, strlen(body), &page, errbuf,
                                sizeof(errbuf)),
                     HARK_EINVAL);
    if (!starts_with(errbuf, "update event: invalid JSON") ||
        !strstr(errbuf, "(and 1 more)")) {
        fail_msg("errbuf: %s", errbuf);
    }
    /* The good message in the same chunk still counts. */
    assert_int_equal(page.n_posts, 1);
    assert_string_equal(page.posts[0]->id, "5");
    assert_true(page.posts[0]->is_deleted);
    hark_page_cleanup(&page);
    msrc_cleanup(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_sse_feed__recorded_mastodon_stream),
        cmocka_unit_test(test_hark_sse_feed__every_split_point_same_messages),
        cmocka_unit_test(test_hark_sse_feed__crlf_same_messages),
        cmocka_unit_test(test_hark_sse_feed__field_rules),
        cmocka_unit_test(test_hark_sse_feed__oversize_message_dropped_once),
        cmocka_unit_test(test_hark_sse_feed__oversize_reports_size),
        cmocka_unit_test(test_hark_sse_feed__ndjson_recorded_x_stream),
        cmocka_unit_test(test_hark_sse_feed__truncated_last_line_kept_apart),
        cmocka_unit_test(test_hark_sse_reset__drops_partial_sse_message),
        cmocka_unit_test(test_mastodon_stream_url__per_timeline),
        cmocka_unit_test(test_mastodon_init__account_timelines_cannot_stream),
        cmocka_unit_test(test_mastodon_feed__recorded_stream),
        cmocka_unit_test(test_mastodon_feed__any_chunking_same_posts),
        cmocka_unit_test(test_mastodon_feed__edit_of_old_status_keeps_cursor),
        cmocka_unit_test(test_mastodon_feed__bad_messages_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
