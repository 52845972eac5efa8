/* Tests for enrich/conversation.c: scripted histories of posts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "hark/conversation.h"
#include "enrich/conversation_int.h"
#include "state_fixture.h"

#define T0 1793534400000LL /* 2026-11-01T12:00:00Z */
#define MIN 60000LL
#define HOUR 3600000LL
#define DAY (24 * HOUR)

/* ---- fixtures ---- */

struct fx {
    char dir[64];
    struct hark_conv_cfg cfg;
    struct hark_conv *conv;
    struct hark_conv_changes changes;
};

static void fx_open(struct fx *fx)
{
    struct hark_diag diag;
    hark_diag_init(&diag);
    hark_err_t err = hark_conv_open(fx->dir, &fx->cfg, &diag, &fx->conv);
    if (err != HARK_OK) {
        hark_diag_print(&diag, stderr);
    }
    assert_int_equal(err, HARK_OK);
    hark_diag_cleanup(&diag);
}

static void fx_commit(struct fx *fx)
{
    char eb[256];
    assert_int_equal(hark_conv_commit(fx->conv, eb, sizeof(eb)), HARK_OK);
    assert_false(hark_conv_is_dirty(fx->conv));
}

static void fx_reopen(struct fx *fx, bool is_commit)
{
    if (is_commit) {
        fx_commit(fx);
    }
    hark_conv_free(fx->conv);
    fx->conv = NULL;
    fx_open(fx);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/hark-conv-XXXXXX");
    if (!mkdtemp(fx->dir)) {
        return -1;
    }
    hark_conv_cfg_init(&fx->cfg);
    hark_conv_changes_init(&fx->changes);
    fx_open(fx);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    hark_conv_free(fx->conv);
    hark_conv_changes_cleanup(&fx->changes);
    hark_conv_cfg_cleanup(&fx->cfg);
    rm_state(fx->dir, "conversations.sqlite");
    (void)rmdir(fx->dir);
    free(fx);
    return 0;
}

/* One scripted post. */
struct spec {
    const char *author;
    const char *post_id;
    const char *conv_id;     /* conversation_id or NULL */
    const char *in_reply_to;
    int64_t t_ms;
    bool is_brand;
    const char *customer;    /* customer id or NULL */
    enum hark_action action; /* 0 = engage */
    const char *edited_at;
};

/* The outcome of one observation, copied out of the item and list. */
struct result {
    char item_id[17];
    uint32_t seq;
    int status;
    int64_t opened_ms;
    int64_t first_unanswered_ms;
    size_t n_changes;
    struct hark_conv_change changes[4]; /* strings not kept */
    bool is_replay;
};

static struct hark_item *make_item(const struct spec *s)
{
    struct hark_post *post = hark_post_new();
    post->platform = hark_xstrdup("mastodon");
    post->id = hark_xstrdup(s->post_id);
    char ts[32];
    hark_time_format(s->t_ms, ts);
    post->created_at = hark_xstrdup(ts);
    post->edited_at = hark_xstrdup(s->edited_at);
    free(post->text);
    post->text = hark_xstrdup("text");
    post->author.id = hark_xstrdup(s->author);
    post->author.followers = -1;
    post->conversation_id = hark_xstrdup(s->conv_id);
    post->in_reply_to = hark_xstrdup(s->in_reply_to);
    struct hark_item *item = hark_item_new(post);
    item->action = s->action ? s->action : HARK_ACTION_ENGAGE;
    if (s->customer) {
        item->has_customer = true;
        item->customer.id = hark_xstrdup(s->customer);
    }
    return item;
}

/* Observes `s` with the clock at `now_ms`. */
static struct result observe_at(struct fx *fx, const struct spec *s,
                                int64_t now_ms)
{
    struct hark_item *item = make_item(s);
    char eid[64];
    snprintf(eid, sizeof(eid), "ev:%s:%s", s->post_id,
             s->edited_at ? s->edited_at : "");
    hark_conv_changes_clear(&fx->changes);
    assert_int_equal(hark_conv_observe(fx->conv, item, s->is_brand, eid,
                                       now_ms, &fx->changes),
                     HARK_OK);
    struct result r;
    memset(&r, 0, sizeof(r));
    if (item->item_id) {
        assert_int_equal(strlen(item->item_id), 16);
        memcpy(r.item_id, item->item_id, 17);
    }
    r.seq = item->item_seq;
    r.status = item->item_status;
    r.opened_ms = item->item_opened_ms;
    r.first_unanswered_ms = item->item_first_unanswered_ms;
    assert_true(fx->changes.n <= 4);
    r.n_changes = fx->changes.n;
    for (size_t i = 0; i < fx->changes.n; i++) {
        r.changes[i] = fx->changes.v[i];
        r.changes[i].author_key = NULL;
        r.changes[i].platform = NULL;
        r.changes[i].conversation = NULL;
        r.is_replay = r.is_replay || fx->changes.v[i].is_replay;
    }
    hark_item_free(item);
    return r;
}

/* Observes `s` a year after T0: post times come from created_at. */
static struct result observe(struct fx *fx, const struct spec *s)
{
    return observe_at(fx, s, T0 + 365 * DAY);
}

/* Equal decisions: the same item fields and changes (replay flag aside). */
static void assert_same(const struct result *a, const struct result *b)
{
    assert_string_equal(a->item_id, b->item_id);
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->opened_ms, b->opened_ms);
    assert_int_equal(a->first_unanswered_ms, b->first_unanswered_ms);
    assert_int_equal(a->n_changes, b->n_changes);
    for (size_t i = 0; i < a->n_changes; i++) {
        const struct hark_conv_change *x = &a->changes[i];
        const struct hark_conv_change *y = &b->changes[i];
        assert_string_equal(x->item_id, y->item_id);
        assert_string_equal(x->update_id, y->update_id);
        assert_int_equal(x->seq, y->seq);
        assert_int_equal(x->status, y->status);
        assert_int_equal(x->answered_ms, y->answered_ms);
    }
}

/* ---- grouping ---- */

static void test_hark_conv_observe__thread_within_window_is_one_item(
    void **state)
{
    struct fx *fx = *state;
    struct spec p1 = {.author = "alice", .post_id = "1", .t_ms = T0};
    struct spec p2 = {.author = "alice", .post_id = "2", .in_reply_to = "1",
                      .t_ms = T0 + 3 * HOUR};
    struct result r1 = observe(fx, &p1);
    struct result r2 = observe(fx, &p2);
    assert_int_equal(r1.seq, 1);
    assert_int_equal(r1.status, HARK_CONV_OPEN);
    assert_int_equal(r1.opened_ms, T0);
    assert_int_equal(r1.first_unanswered_ms, T0);
    assert_string_equal(r2.item_id, r1.item_id);
    assert_int_equal(r2.seq, 2);
    assert_int_equal(r2.status, HARK_CONV_OPEN);
    assert_int_equal(r2.first_unanswered_ms, T0); /* SLA from the first */
    assert_int_equal(r1.n_changes + r2.n_changes, 0);
    assert_int_equal(hark_conv_stats_get(fx->conv)->items, 1);
}

static void test_hark_conv_observe__after_window_is_new_item(void **state)
{
    struct fx *fx = *state;
    struct spec p1 = {.author = "alice", .post_id = "1", .conv_id = "c",
                      .t_ms = T0};
    struct spec p2 = {.author = "alice", .post_id = "2", .conv_id = "c",
                      .t_ms = T0 + DAY + MIN};
    struct result r1 = observe(fx, &p1);
    struct result r2 = observe(fx, &p2);
    assert_string_not_equal(r2.item_id, r1.item_id);
    assert_int_equal(r2.seq, 1);
    assert_int_equal(r2.status, HARK_CONV_OPEN);
    assert_int_equal(r2.opened_ms, T0 + DAY + MIN);
    assert_int_equal(r2.first_unanswered_ms, T0 + DAY + MIN);
}

static void test_hark_conv_observe__authors_and_threads_are_separate(
    void **state)
{
    struct fx *fx = *state;
    struct spec a1 = {.author = "alice", .post_id = "1", .conv_id = "c",
                      .t_ms = T0};
    struct spec b1 = {.author = "bob", .post_id = "2", .conv_id = "c",
                      .t_ms = T0 + MIN};
    struct spec a2 = {.author = "alice", .post_id = "3", .conv_id = "d",
                      .t_ms = T0 + 2 * MIN};
    struct result ra1 = observe(fx, &a1);
    struct result rb1 = observe(fx, &b1);
    struct result ra2 = observe(fx, &a2);
    assert_string_not_equal(ra1.item_id, rb1.item_id);
    assert_string_not_equal(ra1.item_id, ra2.item_id);
    assert_int_equal(rb1.seq, 1);
    assert_int_equal(ra2.seq, 1);
}

static void test_hark_conv_observe__customer_key_spans_identities(
    void **state)
{
    struct fx *fx = *state;
    /* Two accounts of one customer in one thread: one item. */
    struct spec p1 = {.author = "alice", .post_id = "1", .conv_id = "c",
                      .t_ms = T0, .customer = "C-1"};
    struct spec p2 = {.author = "alice-alt", .post_id = "2", .conv_id = "c",
                      .t_ms = T0 + HOUR, .customer = "C-1"};
    struct result r1 = observe(fx, &p1);
    struct result r2 = observe(fx, &p2);
    assert_string_equal(r2.item_id, r1.item_id);
    assert_int_equal(r2.seq, 2);
    struct spec b = {.author = "brand", .post_id = "3", .conv_id = "c",
                     .t_ms = T0 + 2 * HOUR, .is_brand = true};
    observe(fx, &b);
    assert_int_equal(fx->changes.n, 1);
    assert_string_equal(fx->changes.v[0].author_key, "C-1");
    assert_string_equal(fx->changes.v[0].conversation, "c");
    assert_string_equal(fx->changes.v[0].platform, "mastodon");
}

static void test_hark_conv_observe__non_engage_posts_are_not_items(
    void **state)
{
    struct fx *fx = *state;
    struct spec p = {.author = "alice", .post_id = "1", .t_ms = T0,
                     .action = HARK_ACTION_TAG};
    struct result r = observe(fx, &p);
    assert_int_equal(r.item_id[0], '\0');
    assert_int_equal(r.status, HARK_CONV_NONE);
    assert_false(hark_conv_is_dirty(fx->conv));
}

/* ---- answers ---- */

static void test_hark_conv_observe__brand_reply_answers_every_author(
    void **state)
{
    struct fx *fx = *state;
    struct spec a1 = {.author = "alice", .post_id = "1", .t_ms = T0};
    struct spec b1 = {.author = "bob", .post_id = "2", .in_reply_to = "1",
                      .t_ms = T0 + MIN};
    struct result ra = observe(fx, &a1);
    struct result rb = observe(fx, &b1);
    /* alice's conversation is "1" (her own id), bob's is "1" too. */
    struct spec brand = {.author = "acme", .post_id = "3",
                         .in_reply_to = "1", .t_ms = T0 + HOUR,
                         .is_brand = true};
    struct result r = observe(fx, &brand);
    assert_int_equal(r.item_id[0], '\0'); /* never an item */
    assert_int_equal(r.n_changes, 2);
    bool has_a = false;
    bool has_b = false;
    for (size_t i = 0; i < r.n_changes; i++) {
        const struct hark_conv_change *c = &r.changes[i];
        assert_int_equal(c->status, HARK_CONV_ANSWERED);
        assert_int_equal(c->seq, 1);
        assert_int_equal(c->answered_ms, T0 + HOUR);
        assert_int_equal(strlen(c->update_id), 16);
        assert_false(c->is_replay);
        has_a = has_a || strcmp(c->item_id, ra.item_id) == 0;
        has_b = has_b || strcmp(c->item_id, rb.item_id) == 0;
    }
    assert_true(has_a && has_b);
    assert_int_equal(hark_conv_stats_get(fx->conv)->answered, 2);
    /* A second brand reply finds nothing open. */
    struct spec brand2 = {.author = "acme", .post_id = "4",
                          .in_reply_to = "1", .t_ms = T0 + 2 * HOUR,
                          .is_brand = true};
    assert_int_equal(observe(fx, &brand2).n_changes, 0);
}

static void test_hark_conv_observe__reopen_restarts_sla(void **state)
{
    struct fx *fx = *state;
    struct spec p1 = {.author = "alice", .post_id = "1", .conv_id = "c",
                      .t_ms = T0};
    struct spec b = {.author = "acme", .post_id = "2", .conv_id = "c",
                     .in_reply_to = "1", .t_ms = T0 + HOUR,
                     .is_brand = true};
    struct spec p2 = {.author = "alice", .post_id = "3", .conv_id = "c",
                      .t_ms = T0 + 3 * DAY};
    struct spec p3 = {.author = "alice", .post_id = "4", .conv_id = "c",
                      .t_ms = T0 + 3 * DAY + HOUR};
    struct result r1 = observe(fx, &p1);
    struct result rb = observe(fx, &b);
    assert_int_equal(rb.n_changes, 1);
    assert_string_equal(rb.changes[0].item_id, r1.item_id);
    struct result r2 = observe(fx, &p2);
    assert_string_equal(r2.item_id, r1.item_id);
    assert_int_equal(r2.seq, 2);
    assert_int_equal(r2.status, HARK_CONV_REOPENED);
    assert_int_equal(r2.opened_ms, T0);
    assert_int_equal(r2.first_unanswered_ms, T0 + 3 * DAY);
    /* The next post continues the reopened item; the SLA start stays. */
    struct result r3 = observe(fx, &p3);
    assert_string_equal(r3.item_id, r1.item_id);
    assert_int_equal(r3.seq, 3);
    assert_int_equal(r3.status, HARK_CONV_OPEN);
    assert_int_equal(r3.first_unanswered_ms, T0 + 3 * DAY);
    assert_int_equal(hark_conv_stats_get(fx->conv)->reopened, 1);
}

static void test_hark_conv_observe__after_reopen_days_is_new_item(
    void **state)
{
    struct fx *fx = *state;
    struct spec p1 = {.author = "alice", .post_id = "1", .conv_id = "c",
                      .t_ms = T0};
    struct spec b = {.author = "acme", .post_id = "2", .conv_id = "c",
                     .t_ms = T0 + HOUR, .is_brand = true};
    struct spec p2 = {.author = "alice", .post_id = "3", .conv_id = "c",
                      .t_ms = T0 + HOUR + 7 * DAY + MIN};
    struct result r1 = observe(fx, &p1);
    assert_int_equal(observe(fx, &b).n_changes, 1);
    struct result r2 = observe(fx, &p2);
    assert_string_not_equal(r2.item_id, r1.item_id);
    assert_int_equal(r2.seq, 1);
    assert_int_equal(r2.status, HARK_CONV_OPEN);
    assert_int_equal(r2.first_unanswered_ms, p2.t_ms);
}

static void test_hark_conv_observe__old_brand_reply_answers_nothing(
    void **state)
{
    struct fx *fx = *state;
    struct spec p1 = {.author = "alice", .post_id = "1", .conv_id = "c",
                      .t_ms = T0};
    struct spec b = {.author = "acme", .post_id = "2", .conv_id = "c",
                     .t_ms = T0 - HOUR, .is_brand = true};
    observe(fx, &p1);
    assert_int_equal(observe(fx, &b).n_changes, 0);
}

static void test_hark_conv_observe__brand_post_never_an_item(void **state)
{
    struct fx *fx = *state;
    struct spec top = {.author = "acme", .post_id = "1", .t_ms = T0,
                       .is_brand = true};
    struct result r = observe(fx, &top);
    assert_int_equal(r.item_id[0], '\0');
    assert_int_equal(r.n_changes, 0);
    assert_false(hark_conv_is_dirty(fx->conv)); /* not a reply: nothing */
    struct spec reply = {.author = "acme", .post_id = "2",
                         .in_reply_to = "x", .t_ms = T0, .is_brand = true};
    r = observe(fx, &reply);
    assert_int_equal(r.item_id[0], '\0');
    assert_int_equal(hark_conv_stats_get(fx->conv)->items, 0);
}

static void test_hark_conv_observe__edit_keeps_sequence(void **state)
{
    struct fx *fx = *state;
    struct spec p1 = {.author = "alice", .post_id = "1", .t_ms = T0};
    struct spec e1 = {.author = "alice", .post_id = "1", .t_ms = T0,
                      .edited_at = "2026-11-01T12:05:00Z"};
    struct result r1 = observe(fx, &p1);
    struct result re = observe(fx, &e1);
    assert_same(&r1, &re);
}

/* ---- exactly once ---- */

static const struct spec history[] = {
    {.author = "alice", .post_id = "1", .conv_id = "c", .t_ms = T0},
    {.author = "bob", .post_id = "2", .conv_id = "c", .t_ms = T0 + MIN},
    {.author = "alice", .post_id = "3", .conv_id = "c", .t_ms = T0 + HOUR},
    {.author = "acme", .post_id = "4", .conv_id = "c",
     .t_ms = T0 + 2 * HOUR, .is_brand = true},
    {.author = "alice", .post_id = "5", .conv_id = "c", .t_ms = T0 + DAY},
    {.author = "carol", .post_id = "6", .t_ms = T0 + DAY},
    {.author = "acme", .post_id = "7", .conv_id = "c",
     .t_ms = T0 + 2 * DAY, .is_brand = true},
};

#define N_HISTORY (sizeof(history) / sizeof(history[0]))

static void test_hark_conv_observe__replays_are_identical(void **state)
{
    struct fx *fx = *state;
    struct result first[N_HISTORY];
    for (size_t i = 0; i < N_HISTORY; i++) {
        first[i] = observe(fx, &history[i]);
    }
    assert_int_equal(first[3].n_changes, 2);
    assert_int_equal(first[4].status, HARK_CONV_REOPENED);
    assert_int_equal(first[6].n_changes, 1);
    /* Before commit (pending), after commit, after a restart. */
    for (int round = 0; round < 3; round++) {
        if (round == 1) {
            fx_commit(fx);
        } else if (round == 2) {
            fx_reopen(fx, false);
        }
        for (size_t i = 0; i < N_HISTORY; i++) {
            struct result r = observe(fx, &history[i]);
            assert_same(&first[i], &r);
            assert_true(r.n_changes == 0 || r.is_replay);
        }
        assert_false(round > 0 && hark_conv_is_dirty(fx->conv));
    }
    assert_int_equal(hark_conv_stats_get(fx->conv)->replayed, N_HISTORY);
    /* Replays changed nothing: alice's next post reopens at seq 4. */
    struct spec next = {.author = "alice", .post_id = "8", .conv_id = "c",
                        .t_ms = T0 + 3 * DAY};
    struct result r = observe(fx, &next);
    assert_string_equal(r.item_id, first[0].item_id);
    assert_int_equal(r.seq, 4);
    assert_int_equal(r.status, HARK_CONV_REOPENED);
}

static void test_hark_conv_observe__uncommitted_is_redone(void **state)
{
    struct fx *fx = *state;
    struct result first[N_HISTORY];
    for (size_t i = 0; i < 3; i++) {
        first[i] = observe(fx, &history[i]);
    }
    fx_commit(fx);
    for (size_t i = 3; i < N_HISTORY; i++) {
        first[i] = observe(fx, &history[i]);
    }
    fx_reopen(fx, false); /* kill -9: the tail was never committed */
    for (size_t i = 0; i < N_HISTORY; i++) {
        struct result r = observe(fx, &history[i]);
        assert_same(&first[i], &r);
        assert_int_equal(r.is_replay, false);
    }
    assert_int_equal(hark_conv_stats_get(fx->conv)->replayed, 3);
}

static void test_hark_conv_open__state_survives_restart(void **state)
{
    struct fx *fx = *state;
    struct spec p1 = {.author = "alice", .post_id = "1", .conv_id = "c",
                      .t_ms = T0};
    struct result r1 = observe(fx, &p1);
    fx_reopen(fx, true);
    assert_int_equal(hark_conv_stats_get(fx->conv)->items, 1);
    struct spec b = {.author = "acme", .post_id = "2", .conv_id = "c",
                     .t_ms = T0 + HOUR, .is_brand = true};
    struct result rb = observe(fx, &b);
    assert_int_equal(rb.n_changes, 1);
    assert_string_equal(rb.changes[0].item_id, r1.item_id);
    fx_reopen(fx, true);
    struct spec p2 = {.author = "alice", .post_id = "3", .conv_id = "c",
                      .t_ms = T0 + 2 * DAY};
    struct result r2 = observe(fx, &p2);
    assert_string_equal(r2.item_id, r1.item_id);
    assert_int_equal(r2.status, HARK_CONV_REOPENED);
    assert_int_equal(r2.seq, 2);
}

static void test_hark_conv_observe__window_forgets_oldest(void **state)
{
    struct fx *fx = *state;
    hark_conv_free(fx->conv);
    fx->cfg.applied_window = 64;
    fx_open(fx);
    char ids[100][8];
    for (int i = 0; i < 100; i++) {
        snprintf(ids[i], sizeof(ids[i]), "p%d", i);
        struct spec p = {.author = "alice", .post_id = ids[i],
                         .conv_id = ids[i], .t_ms = T0 + i};
        observe(fx, &p);
    }
    fx_reopen(fx, true);
    uint64_t replayed = hark_conv_stats_get(fx->conv)->replayed;
    struct spec newest = {.author = "alice", .post_id = "p99",
                          .conv_id = "p99", .t_ms = T0 + 99};
    struct result r = observe(fx, &newest);
    assert_int_equal(r.seq, 1);
    assert_int_equal(hark_conv_stats_get(fx->conv)->replayed, replayed + 1);
    /* p0 fell out of the window: it is decided again (seq 2). */
    struct spec oldest = {.author = "alice", .post_id = "p0",
                          .conv_id = "p0", .t_ms = T0};
    r = observe(fx, &oldest);
    assert_int_equal(r.seq, 2);
    assert_int_equal(hark_conv_stats_get(fx->conv)->replayed, replayed + 1);
}

/* ---- retention ---- */

/* Observes a new open item of `author` in its own conversation at `t_ms`:
 * it moves the retention clock to t_ms. */
static void tick_clock(struct fx *fx, const char *author, int64_t t_ms)
{
    struct spec p = {.author = author, .post_id = author, .conv_id = author,
                     .t_ms = t_ms};
    observe(fx, &p);
}

static void test_hark_conv_commit__retention_deletes_old_items(void **state)
{
    struct fx *fx = *state;
    const struct hark_conv_stats *st = hark_conv_stats_get(fx->conv);
    struct spec a = {.author = "alice", .post_id = "1", .conv_id = "c",
                     .t_ms = T0};
    struct spec b = {.author = "acme", .post_id = "2", .conv_id = "c",
                     .t_ms = T0 + HOUR, .is_brand = true};
    struct spec o = {.author = "bob", .post_id = "3", .conv_id = "d",
                     .t_ms = T0 + DAY};
    struct result ra = observe(fx, &a);
    observe(fx, &b);
    observe(fx, &o);
    fx_commit(fx);
    /* alice's answer is exactly 30 days old: kept. */
    tick_clock(fx, "carol", T0 + HOUR + 30 * DAY);
    assert_int_equal(hark_conv_expire(fx->conv, INT64_MAX), 0);
    fx_commit(fx);
    assert_int_equal(st->items, 3);
    assert_int_equal(st->expired, 0);
    /* One ms later it goes; bob's open item stays (90 days for those). */
    tick_clock(fx, "dave", T0 + HOUR + 30 * DAY + 1);
    assert_int_equal(hark_conv_expire(fx->conv, INT64_MAX), 1);
    assert_int_equal(hark_conv_expire(fx->conv, T0 + 30 * DAY), 0);
    fx_commit(fx);
    assert_int_equal(st->items, 3);
    assert_int_equal(st->expired, 1);
    fx_reopen(fx, true);
    st = hark_conv_stats_get(fx->conv);
    assert_int_equal(st->items, 3); /* deleted from the file as well */
    /* alice writing again starts a new item. */
    struct spec a2 = {.author = "alice", .post_id = "4", .conv_id = "c",
                      .t_ms = T0 + 31 * DAY};
    struct result r = observe(fx, &a2);
    assert_string_not_equal(r.item_id, ra.item_id);
    assert_int_equal(r.seq, 1);
    assert_int_equal(r.status, HARK_CONV_OPEN);
    fx_commit(fx);
    assert_int_equal(st->items, 4);
    /* bob's unanswered item goes 90 days after his post. */
    tick_clock(fx, "erin", T0 + 91 * DAY);
    fx_commit(fx);
    assert_int_equal(st->items, 5);
    tick_clock(fx, "frank", T0 + 91 * DAY + 1);
    fx_commit(fx);
    assert_int_equal(st->items, 5); /* bob out, frank in */
    assert_int_equal(st->expired, 1); /* since the reopen */
    struct spec late = {.author = "acme", .post_id = "5", .conv_id = "d",
                        .t_ms = T0 + 91 * DAY + 2, .is_brand = true};
    assert_int_equal(observe(fx, &late).n_changes, 0);
}

static void test_hark_conv_commit__retention_zero_keeps_all(void **state)
{
    struct fx *fx = *state;
    hark_conv_free(fx->conv);
    fx->cfg.retention_ms = 0;
    fx_open(fx);
    struct spec a = {.author = "alice", .post_id = "1", .conv_id = "c",
                     .t_ms = T0};
    struct spec b = {.author = "acme", .post_id = "2", .conv_id = "c",
                     .t_ms = T0 + HOUR, .is_brand = true};
    struct spec o = {.author = "bob", .post_id = "3", .conv_id = "d",
                     .t_ms = T0};
    observe(fx, &a);
    observe(fx, &b);
    observe(fx, &o);
    fx_commit(fx);
    tick_clock(fx, "carol", T0 + 300 * DAY);
    assert_int_equal(hark_conv_expire(fx->conv, INT64_MAX), 0);
    fx_reopen(fx, true);
    assert_int_equal(hark_conv_stats_get(fx->conv)->items, 3);
    assert_int_equal(hark_conv_stats_get(fx->conv)->expired, 0);
}

/* The clock follows post times, never ahead of now_ms. */
static void test_hark_conv_commit__retention_clock_is_capped(void **state)
{
    struct fx *fx = *state;
    struct spec a = {.author = "alice", .post_id = "1", .conv_id = "c",
                     .t_ms = T0};
    struct spec b = {.author = "acme", .post_id = "2", .conv_id = "c",
                     .t_ms = T0 + HOUR, .is_brand = true};
    observe_at(fx, &a, T0 + HOUR);
    observe_at(fx, &b, T0 + HOUR);
    struct spec future = {.author = "bob", .post_id = "3", .conv_id = "d",
                          .t_ms = T0 + 400 * DAY};
    observe_at(fx, &future, T0 + 2 * DAY);
    fx_reopen(fx, true);
    assert_int_equal(hark_conv_stats_get(fx->conv)->items, 2);
}

static void test_hark_conv_commit__replay_of_deleted_item(void **state)
{
    struct fx *fx = *state;
    const struct hark_conv_stats *st = hark_conv_stats_get(fx->conv);
    struct spec a = {.author = "alice", .post_id = "1", .conv_id = "c",
                     .t_ms = T0};
    struct spec b = {.author = "acme", .post_id = "2", .conv_id = "c",
                     .t_ms = T0 + HOUR, .is_brand = true};
    struct result ra = observe(fx, &a);
    struct result rb = observe(fx, &b);
    fx_commit(fx);
    tick_clock(fx, "carol", T0 + 40 * DAY);
    fx_commit(fx);
    assert_int_equal(st->expired, 1);
    assert_int_equal(st->items, 1);
    /* Replays (a refetch) return the first decisions and change nothing. */
    uint64_t replayed = st->replayed;
    struct result ra2 = observe(fx, &a);
    struct result rb2 = observe(fx, &b);
    assert_same(&ra, &ra2);
    assert_same(&rb, &rb2);
    assert_true(rb2.is_replay);
    assert_int_equal(st->replayed, replayed + 2);
    assert_int_equal(st->items, 1);
    assert_false(hark_conv_is_dirty(fx->conv));
    fx_reopen(fx, true);
    st = hark_conv_stats_get(fx->conv);
    assert_int_equal(st->items, 1);
    ra2 = observe(fx, &a);
    assert_same(&ra, &ra2);
    assert_int_equal(st->items, 1);
}

static void test_hark_conv_commit__retention_is_batched(void **state)
{
    struct fx *fx = *state;
    const struct hark_conv_stats *st = hark_conv_stats_get(fx->conv);
    char id[16];
    for (int i = 0; i < 5003; i++) {
        snprintf(id, sizeof(id), "p%d", i);
        struct spec p = {.author = "alice", .post_id = id, .conv_id = id,
                         .t_ms = T0 + i};
        observe(fx, &p);
    }
    fx_commit(fx);
    tick_clock(fx, "bob", T0 + 100 * DAY);
    assert_int_equal(hark_conv_expire(fx->conv, INT64_MAX), 5003);
    fx_commit(fx);
    assert_int_equal(st->expired, 5000);
    assert_int_equal(st->items, 4);
    tick_clock(fx, "carol", T0 + 100 * DAY);
    fx_commit(fx);
    assert_int_equal(st->expired, 5003);
    assert_int_equal(st->items, 2);
}

static void test_hark_conv_open__activity_indexed(void **state)
{
    struct fx *fx = *state;
    hark_conv_free(fx->conv);
    fx->conv = NULL;
    char path[128];
    snprintf(path, sizeof(path), "%s/conversations.sqlite", fx->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    /* The retention query's shape: the planner must take the index. */
    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "EXPLAIN QUERY PLAN SELECT author_key, platform,"
                           " conv FROM items WHERE status = 2 AND"
                           " max(last_post_ms, answered_ms) < 5 ORDER BY"
                           " max(last_post_ms, answered_ms) LIMIT 10",
                           -1, &s, NULL),
        SQLITE_OK);
    bool has_index = false;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(s, 3);
        if (detail && strstr(detail, "USING INDEX items_activity")) {
            has_index = true;
        }
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    assert_true(has_index);
    fx_open(fx);
}

/* ---- the thread index ---- */

/*
 * Mastodon-shaped posts: a status has no thread root, so the adapter sets
 * a reply's conversation_id to its parent (in_reply_to); a post that is no
 * reply has its own id.
 */
#define MASTO(author_, id_, parent_, t_)                                       \
    {.author = (author_), .post_id = (id_), .conv_id = (parent_) ? (parent_) \
                                                                 : (id_),    \
     .in_reply_to = (parent_), .t_ms = (t_)}

/* Notes a post that no rule kept (hark_conv_note_post). */
static void note(struct fx *fx, const struct spec *s)
{
    struct hark_item *item = make_item(s);
    hark_conv_note_post(fx->conv, item->post, T0 + 365 * DAY);
    hark_item_free(item);
}

/* Rows of `table` in the file; closes the store meanwhile (it is locked
 * while open) and reopens it without committing. */
static int64_t count_rows(struct fx *fx, const char *table)
{
    hark_conv_free(fx->conv);
    fx->conv = NULL;
    char path[128];
    snprintf(path, sizeof(path), "%s/conversations.sqlite", fx->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    fx_open(fx);
    return n;
}

static void test_hark_conv_observe__reply_chain_is_one_item(void **state)
{
    struct fx *fx = *state;
    struct spec a = MASTO("alice", "A", NULL, T0);
    struct spec b = MASTO("alice", "B", "A", T0 + MIN);
    struct spec c = MASTO("alice", "C", "B", T0 + 2 * MIN);
    struct result ra = observe(fx, &a);
    struct result rb = observe(fx, &b);
    struct result rc = observe(fx, &c);
    assert_string_equal(rb.item_id, ra.item_id);
    assert_string_equal(rc.item_id, ra.item_id);
    assert_int_equal(rc.seq, 3);
    assert_int_equal(rc.status, HARK_CONV_OPEN);
    assert_int_equal(rc.first_unanswered_ms, T0); /* SLA from A */
    assert_int_equal(hark_conv_stats_get(fx->conv)->items, 1);
    /* A deeper chain too; its conversation is A's id. */
    struct spec d = MASTO("alice", "D", "C", T0 + 3 * MIN);
    struct result rd = observe(fx, &d);
    assert_string_equal(rd.item_id, ra.item_id);
    assert_int_equal(rd.seq, 4);
    struct spec brand = MASTO("acme", "R", "D", T0 + HOUR);
    brand.is_brand = true;
    observe(fx, &brand);
    assert_int_equal(fx->changes.n, 1);
    assert_string_equal(fx->changes.v[0].conversation, "A");
}

static void test_hark_conv_observe__brand_reply_to_latest_post_answers(
    void **state)
{
    struct fx *fx = *state;
    struct spec a = MASTO("alice", "A", NULL, T0);
    struct spec b = MASTO("alice", "B", "A", T0 + MIN);
    struct spec c = MASTO("alice", "C", "B", T0 + 2 * MIN);
    struct result ra = observe(fx, &a);
    observe(fx, &b);
    observe(fx, &c);
    struct spec r = MASTO("acme", "R", "C", T0 + HOUR);
    r.is_brand = true;
    struct result rr = observe(fx, &r);
    assert_int_equal(rr.n_changes, 1);
    assert_string_equal(rr.changes[0].item_id, ra.item_id);
    assert_int_equal(rr.changes[0].status, HARK_CONV_ANSWERED);
    assert_int_equal(rr.changes[0].answered_ms, T0 + HOUR);
    assert_int_equal(rr.changes[0].seq, 3);
}

static void test_hark_conv_observe__reply_to_brand_answer_reopens(
    void **state)
{
    struct fx *fx = *state;
    struct spec a = MASTO("alice", "A", NULL, T0);
    struct spec r = MASTO("acme", "R", "A", T0 + HOUR);
    r.is_brand = true;
    struct spec f = MASTO("alice", "F", "R", T0 + 2 * HOUR);
    struct result ra = observe(fx, &a);
    assert_int_equal(observe(fx, &r).n_changes, 1);
    struct result rf = observe(fx, &f);
    assert_string_equal(rf.item_id, ra.item_id);
    assert_int_equal(rf.status, HARK_CONV_REOPENED);
    assert_int_equal(rf.seq, 2);
    assert_int_equal(rf.first_unanswered_ms, T0 + 2 * HOUR);
    assert_int_equal(hark_conv_stats_get(fx->conv)->items, 1);
}

/* Posts no rule kept still carry the chain: noted (pipeline) or observed
 * as tag posts, by anyone. */
static void test_hark_conv_note_post__unkept_posts_keep_the_chain(
    void **state)
{
    struct fx *fx = *state;
    struct spec a = MASTO("alice", "A", NULL, T0);
    struct spec x = MASTO("alice", "X", "A", T0 + MIN); /* no rule kept */
    struct spec y = MASTO("bob", "Y", "X", T0 + 2 * MIN);
    y.action = HARK_ACTION_TAG;
    struct spec c = MASTO("alice", "C", "Y", T0 + 3 * MIN);
    struct result ra = observe(fx, &a);
    fx_commit(fx);
    note(fx, &x);
    assert_true(hark_conv_is_dirty(fx->conv)); /* committed before acks */
    struct result ry = observe(fx, &y);
    assert_int_equal(ry.status, HARK_CONV_NONE);
    struct result rc = observe(fx, &c);
    assert_string_equal(rc.item_id, ra.item_id);
    assert_int_equal(rc.seq, 2);
    assert_int_equal(hark_conv_stats_get(fx->conv)->roots_indexed, 3);
    /* Noting is idempotent and a post that is no reply costs nothing. */
    fx_commit(fx);
    note(fx, &x);
    note(fx, &a);
    assert_false(hark_conv_is_dirty(fx->conv));
    hark_conv_note_post(NULL, NULL, 0);
    hark_conv_note_post(fx->conv, NULL, 0);
}

/* Reddit, Bluesky, HN give the root: taken as is, nothing indexed. */
static void test_hark_conv_observe__adapter_root_is_kept(void **state)
{
    struct fx *fx = *state;
    struct spec s1 = {.author = "alice", .post_id = "t1_a",
                      .conv_id = "t3_x", .in_reply_to = "t3_x", .t_ms = T0};
    struct spec s2 = {.author = "alice", .post_id = "t1_b",
                      .conv_id = "t3_x", .in_reply_to = "t1_z",
                      .t_ms = T0 + MIN};
    struct spec s3 = {.author = "alice", .post_id = "t1_c",
                      .conv_id = "t3_y", .in_reply_to = "t1_a",
                      .t_ms = T0 + 2 * MIN};
    struct result r1 = observe(fx, &s1);
    struct result r2 = observe(fx, &s2);
    /* Even when the index would say otherwise (t1_a is in t3_x). */
    struct result r3 = observe(fx, &s3);
    assert_string_equal(r2.item_id, r1.item_id);
    assert_string_not_equal(r3.item_id, r1.item_id);
    assert_int_equal(r3.seq, 1);
    /* Only the top-level comment (conversation_id == parent) is indexed. */
    assert_int_equal(hark_conv_stats_get(fx->conv)->roots_indexed, 1);
    struct spec brand = {.author = "acme", .post_id = "t1_r",
                         .conv_id = "t3_x", .in_reply_to = "t1_b",
                         .t_ms = T0 + HOUR, .is_brand = true};
    observe(fx, &brand);
    assert_int_equal(fx->changes.n, 1);
    assert_string_equal(fx->changes.v[0].conversation, "t3_x");
}

/* A reply seen before its parent starts at the parent; once the parent
 * is known, later replies reach the root, and a brand reply to the early
 * one still answers it. */
static void test_hark_conv_observe__parent_after_reply(void **state)
{
    struct fx *fx = *state;
    struct spec a = MASTO("alice", "A", NULL, T0);
    struct spec c = MASTO("bob", "C", "B", T0 + 2 * MIN);
    struct spec b = MASTO("alice", "B", "A", T0 + MIN);
    struct spec d = MASTO("alice", "D", "C", T0 + 3 * MIN);
    struct result ra = observe(fx, &a);
    struct result rc = observe(fx, &c); /* B unknown: thread "B" */
    observe(fx, &b);
    struct result rd = observe(fx, &d);
    assert_string_equal(rd.item_id, ra.item_id);
    assert_int_equal(rd.seq, 3);
    struct spec r = MASTO("acme", "R", "C", T0 + HOUR);
    r.is_brand = true;
    struct result rr = observe(fx, &r);
    assert_int_equal(rr.n_changes, 2);
    bool has_a = false;
    bool has_c = false;
    for (size_t i = 0; i < rr.n_changes; i++) {
        has_a = has_a || strcmp(rr.changes[i].item_id, ra.item_id) == 0;
        has_c = has_c || strcmp(rr.changes[i].item_id, rc.item_id) == 0;
    }
    assert_true(has_a && has_c);
}

static const struct spec chain[] = {
    MASTO("alice", "A", NULL, T0),
    MASTO("alice", "B", "A", T0 + MIN),
    MASTO("alice", "C", "B", T0 + 2 * MIN),
    {.author = "acme", .post_id = "R", .conv_id = "C", .in_reply_to = "C",
     .t_ms = T0 + HOUR, .is_brand = true},
    MASTO("alice", "F", "R", T0 + 2 * HOUR),
    MASTO("alice", "G", "F", T0 + 3 * HOUR),
};

#define N_CHAIN (sizeof(chain) / sizeof(chain[0]))

static void assert_chain_decisions(const struct result *r)
{
    for (size_t i = 1; i < N_CHAIN; i++) {
        if (!chain[i].is_brand) {
            assert_string_equal(r[i].item_id, r[0].item_id);
        }
    }
    assert_int_equal(r[2].seq, 3);
    assert_int_equal(r[3].n_changes, 1);
    assert_int_equal(r[4].status, HARK_CONV_REOPENED);
    assert_int_equal(r[5].seq, 5);
}

/* Replays give the stored decisions, also in another order. */
static void test_hark_conv_observe__chain_replays_are_identical(void **state)
{
    struct fx *fx = *state;
    struct result first[N_CHAIN];
    for (size_t i = 0; i < N_CHAIN; i++) {
        first[i] = observe(fx, &chain[i]);
    }
    assert_chain_decisions(first);
    for (int round = 0; round < 3; round++) {
        if (round == 1) {
            fx_commit(fx);
        } else if (round == 2) {
            fx_reopen(fx, false);
        }
        for (size_t k = N_CHAIN; k-- > 0;) {
            struct result r = observe(fx, &chain[k]);
            assert_same(&first[k], &r);
        }
        assert_false(round > 0 && hark_conv_is_dirty(fx->conv));
    }
}

/* kill -9 before the commit: the index rows went with the decisions, and
 * the replay decides the same again from the committed state. */
static void test_hark_conv_observe__chain_uncommitted_is_redone(void **state)
{
    struct fx *fx = *state;
    struct result first[N_CHAIN];
    for (size_t i = 0; i < 2; i++) {
        first[i] = observe(fx, &chain[i]);
    }
    fx_commit(fx);
    for (size_t i = 2; i < N_CHAIN; i++) {
        first[i] = observe(fx, &chain[i]);
    }
    fx_reopen(fx, false);
    struct result again[N_CHAIN];
    for (size_t i = 0; i < N_CHAIN; i++) {
        again[i] = observe(fx, &chain[i]);
        assert_same(&first[i], &again[i]);
    }
    assert_chain_decisions(again);
}

static void test_hark_conv_open__thread_index_survives_restart(void **state)
{
    struct fx *fx = *state;
    struct spec a = MASTO("alice", "A", NULL, T0);
    struct spec b = MASTO("alice", "B", "A", T0 + MIN);
    struct spec x = MASTO("bob", "X", "B", T0 + 2 * MIN);
    struct result ra = observe(fx, &a);
    observe(fx, &b);
    note(fx, &x);
    fx_reopen(fx, true);
    assert_int_equal(hark_conv_stats_get(fx->conv)->roots_cached, 0);
    struct spec c = MASTO("alice", "C", "X", T0 + 3 * MIN);
    struct result rc = observe(fx, &c);
    assert_string_equal(rc.item_id, ra.item_id);
    assert_int_equal(rc.seq, 3);
    fx_reopen(fx, true);
    struct spec r = MASTO("acme", "R", "C", T0 + HOUR);
    r.is_brand = true;
    struct result rr = observe(fx, &r);
    assert_int_equal(rr.n_changes, 1);
    assert_string_equal(rr.changes[0].item_id, ra.item_id);
    fx_reopen(fx, true);
    struct spec f = MASTO("alice", "F", "R", T0 + 2 * HOUR);
    struct result rf = observe(fx, &f);
    assert_string_equal(rf.item_id, ra.item_id);
    assert_int_equal(rf.status, HARK_CONV_REOPENED);
    fx_commit(fx);
    assert_int_equal(count_rows(fx, "thread_roots"), 5); /* B X C R F */
}

/* A file written before the thread index gets the table at open. */
static void test_hark_conv_open__adds_thread_index_to_old_file(void **state)
{
    struct fx *fx = *state;
    struct spec a = MASTO("alice", "A", NULL, T0);
    struct result ra = observe(fx, &a);
    fx_commit(fx);
    hark_conv_free(fx->conv);
    fx->conv = NULL;
    char path[128];
    snprintf(path, sizeof(path), "%s/conversations.sqlite", fx->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE thread_roots", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    fx_open(fx);
    struct spec b = MASTO("alice", "B", "A", T0 + MIN);
    observe(fx, &b);
    fx_reopen(fx, true);
    struct spec c = MASTO("alice", "C", "B", T0 + 2 * MIN);
    struct result rc = observe(fx, &c);
    assert_string_equal(rc.item_id, ra.item_id);
    assert_int_equal(rc.seq, 3);
}

/* Entries live as long as open items (90 days after the post with the
 * default retention), in memory and in the file. */
static void test_hark_conv_commit__retention_prunes_thread_index(
    void **state)
{
    struct fx *fx = *state;
    const struct hark_conv_stats *st = hark_conv_stats_get(fx->conv);
    struct spec a = MASTO("alice", "A", NULL, T0);
    struct spec b = MASTO("alice", "B", "A", T0 + MIN);
    struct spec x = MASTO("bob", "X", "A", T0 + 2 * MIN);
    observe(fx, &a);
    observe(fx, &b);
    note(fx, &x);
    fx_commit(fx);
    assert_int_equal(st->roots_cached, 2);
    /* B is exactly 90 days old: kept; X too. */
    tick_clock(fx, "carol", T0 + MIN + 90 * DAY);
    fx_commit(fx);
    assert_int_equal(st->roots_expired, 0);
    /* One ms later B goes, X stays. */
    tick_clock(fx, "dave", T0 + MIN + 90 * DAY + 1);
    fx_commit(fx);
    assert_int_equal(st->roots_expired, 1);
    assert_int_equal(st->roots_cached, 1);
    assert_int_equal(count_rows(fx, "thread_roots"), 1);
    st = hark_conv_stats_get(fx->conv);
    /* A reply to B starts at B now (a thread of its own). */
    struct spec c = MASTO("erin", "C", "B", T0 + 91 * DAY);
    struct spec r = MASTO("acme", "R", "X", T0 + 91 * DAY + MIN);
    r.is_brand = true;
    observe(fx, &c);
    assert_int_equal(observe(fx, &r).n_changes, 0); /* X -> A: not C's */
    struct spec r2 = MASTO("acme", "R2", "B", T0 + 91 * DAY + MIN);
    r2.is_brand = true;
    assert_int_equal(observe(fx, &r2).n_changes, 1);
}

static void test_hark_conv_commit__retention_zero_keeps_thread_index(
    void **state)
{
    struct fx *fx = *state;
    hark_conv_free(fx->conv);
    fx->cfg.retention_ms = 0;
    fx_open(fx);
    struct spec b = MASTO("alice", "B", "A", T0);
    observe(fx, &b);
    fx_commit(fx);
    tick_clock(fx, "carol", T0 + 400 * DAY);
    fx_commit(fx);
    assert_int_equal(hark_conv_stats_get(fx->conv)->roots_expired, 0);
    assert_int_equal(count_rows(fx, "thread_roots"), 1);
}

/* Memory holds at most `max` clean entries; the rest is read from the
 * file when needed. */
static void test_hark_conv_note_post__memory_is_bounded(void **state)
{
    struct fx *fx = *state;
    fx->conv->roots.max = 16;
    const struct hark_conv_stats *st = hark_conv_stats_get(fx->conv);
    struct spec a = MASTO("alice", "A", NULL, T0);
    struct result ra = observe(fx, &a);
    char ids[101][8];
    snprintf(ids[0], sizeof(ids[0]), "A");
    for (int i = 1; i <= 100; i++) {
        snprintf(ids[i], sizeof(ids[i]), "p%d", i);
        struct spec p = MASTO("bob", ids[i], ids[i - 1], T0 + i);
        note(fx, &p);
    }
    /* Dirty entries are never evicted before the commit. */
    assert_int_equal(st->roots_cached, 100);
    fx_commit(fx);
    assert_int_equal(st->roots_cached, 16);
    assert_int_equal(count_rows(fx, "thread_roots"), 100);
    fx->conv->roots.max = 16;
    st = hark_conv_stats_get(fx->conv);
    /* The end and the start of the chain, both through the file now. */
    struct spec c = MASTO("alice", "C", "p100", T0 + HOUR);
    struct result rc = observe(fx, &c);
    assert_string_equal(rc.item_id, ra.item_id);
    struct spec d = MASTO("alice", "D", "p1", T0 + HOUR + MIN);
    struct result rd = observe(fx, &d);
    assert_string_equal(rd.item_id, ra.item_id);
    assert_int_equal(rd.seq, 3);
    assert_true(st->roots_cached <= 16 + 2); /* C and D: not committed */
}

/* ---- open errors ---- */

static void test_hark_conv_open__corrupt_file(void **state)
{
    struct fx *fx = *state;
    hark_conv_free(fx->conv);
    fx->conv = NULL;
    rm_state(fx->dir, "conversations.sqlite");
    char path[128];
    snprintf(path, sizeof(path), "%s/conversations.sqlite", fx->dir);
    char junk[8192];
    memset(junk, 'x', sizeof(junk) - 1);
    junk[sizeof(junk) - 1] = '\0';
    write_file(path, junk);
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_conv *conv = (struct hark_conv *)1;
    assert_int_equal(hark_conv_open(fx->dir, &fx->cfg, &diag, &conv),
                     HARK_EIO);
    assert_null(conv);
    assert_int_equal(diag.n_errors, 1);
    const char *msg = diag.entries[0].message;
    assert_non_null(strstr(msg, path));
    assert_non_null(strstr(msg, "not a database"));
    assert_non_null(strstr(msg, "conversation state"));
    hark_diag_cleanup(&diag);
    rm_state(fx->dir, "conversations.sqlite");
    fx_open(fx);
}

static void test_hark_conv_open__locked_by_another(void **state)
{
    struct fx *fx = *state;
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_conv *conv = NULL;
    assert_int_equal(hark_conv_open(fx->dir, &fx->cfg, &diag, &conv),
                     HARK_EIO);
    assert_null(conv);
    assert_int_equal(diag.n_errors, 1);
    assert_non_null(strstr(diag.entries[0].message, "locked by another"));
    assert_non_null(strstr(diag.entries[0].message, "conversations.sqlite"));
    hark_diag_cleanup(&diag);
}

/* ---- config ---- */

static hark_err_t parse_cfg(const char *text, struct hark_conv_cfg *cfg,
                            struct hark_diag *diag)
{
    struct hark_json_doc *doc = NULL;
    struct hark_json_opts opts = {.allow_comments = true,
                                  .validate_utf8 = true};
    char eb[128];
    size_t off;
    assert_int_equal(hark_json_parse(text, strlen(text), "hark.json", &opts,
                                     &doc, eb, sizeof(eb), &off),
                     HARK_OK);
    hark_err_t err = hark_conv_cfg_parse(doc, doc->root, diag, cfg);
    hark_json_doc_free(doc);
    return err;
}

static void test_hark_conv_cfg_parse__defaults_and_overrides(void **state)
{
    (void)state;
    struct hark_conv_cfg cfg;
    hark_conv_cfg_init(&cfg);
    assert_int_equal(cfg.group_window_ms, DAY);
    assert_int_equal(cfg.reopen_ms, 7 * DAY);
    assert_int_equal(cfg.applied_window, 65536);
    assert_int_equal(cfg.retention_ms, 30 * DAY);
    struct hark_diag diag;
    hark_diag_init(&diag);
    assert_int_equal(parse_cfg("{\"group_window_s\": 3600,"
                               " \"reopen_days\": 1.5}",
                               &cfg, &diag),
                     HARK_OK);
    assert_int_equal(cfg.group_window_ms, HOUR);
    assert_int_equal(cfg.reopen_ms, 36 * HOUR);
    assert_int_equal(cfg.applied_window, 65536); /* untouched */
    assert_int_equal(cfg.retention_ms, 30 * DAY);
    assert_int_equal(parse_cfg("{\"retention_days\": 0}", &cfg, &diag),
                     HARK_OK);
    assert_int_equal(cfg.retention_ms, 0);
    assert_int_equal(parse_cfg("{\"retention_days\": 0.5}", &cfg, &diag),
                     HARK_OK);
    assert_int_equal(cfg.retention_ms, 12 * HOUR);
    assert_int_equal(hark_conv_cfg_parse(NULL, NULL, &diag, &cfg), HARK_OK);
    assert_int_equal(diag.n_errors, 0);
    hark_diag_cleanup(&diag);
    hark_conv_cfg_cleanup(&cfg);
}

static void test_hark_conv_cfg_parse__errors_have_positions(void **state)
{
    (void)state;
    struct hark_conv_cfg cfg;
    hark_conv_cfg_init(&cfg);
    struct hark_diag diag;
    hark_diag_init(&diag);
    assert_int_equal(parse_cfg("{\"group_window_s\": 60,\n"
                               "  \"reopen_days\": -1,\n"
                               "  \"grop\": 1, \"applied_window\": 10}",
                               &cfg, &diag),
                     HARK_EINVAL);
    assert_int_equal(diag.n_errors, 3);
    bool has_unknown = false;
    bool has_reopen = false;
    for (size_t i = 0; i < diag.n_entries; i++) {
        const struct hark_diag_entry *e = &diag.entries[i];
        assert_string_equal(e->file, "hark.json");
        if (strstr(e->message, "unknown key \"grop\"")) {
            has_unknown = true;
            assert_int_equal(e->line, 3);
            assert_int_equal(e->column, 3);
        }
        if (strstr(e->message, "conversations.reopen_days must be")) {
            has_reopen = true;
            assert_int_equal(e->line, 2);
            assert_int_equal(e->column, 18);
        }
    }
    assert_true(has_unknown && has_reopen);
    assert_int_equal(cfg.group_window_ms, DAY); /* unchanged on failure */
    hark_diag_cleanup(&diag);
    hark_diag_init(&diag);
    assert_int_equal(parse_cfg("{\"retention_days\": -1,\n"
                               " \"reopen_days\": 2}",
                               &cfg, &diag),
                     HARK_EINVAL);
    assert_int_equal(diag.n_errors, 1);
    assert_int_equal(diag.entries[0].line, 1);
    assert_int_equal(diag.entries[0].column, 20);
    assert_non_null(strstr(diag.entries[0].message,
                           "conversations.retention_days must be at least 0"));
    assert_int_equal(cfg.reopen_ms, 7 * DAY); /* unchanged on failure */
    hark_diag_cleanup(&diag);
    hark_diag_init(&diag);
    assert_int_equal(parse_cfg("{\"retention_days\": \"30\"}", &cfg, &diag),
                     HARK_EINVAL);
    assert_int_equal(diag.n_errors, 1);
    assert_int_equal(diag.entries[0].column, 20);
    hark_diag_cleanup(&diag);
    hark_diag_init(&diag);
    assert_int_equal(parse_cfg("[1]", &cfg, &diag), HARK_EINVAL);
    assert_int_equal(diag.n_errors, 1);
    hark_diag_cleanup(&diag);
    hark_conv_cfg_cleanup(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_hark_conv_observe__thread_within_window_is_one_item),
        T(test_hark_conv_observe__after_window_is_new_item),
        T(test_hark_conv_observe__authors_and_threads_are_separate),
        T(test_hark_conv_observe__customer_key_spans_identities),
        T(test_hark_conv_observe__non_engage_posts_are_not_items),
        T(test_hark_conv_observe__brand_reply_answers_every_author),
        T(test_hark_conv_observe__reopen_restarts_sla),
        T(test_hark_conv_observe__after_reopen_days_is_new_item),
        T(test_hark_conv_observe__old_brand_reply_answers_nothing),
        T(test_hark_conv_observe__brand_post_never_an_item),
        T(test_hark_conv_observe__edit_keeps_sequence),
        T(test_hark_conv_observe__replays_are_identical),
        T(test_hark_conv_observe__uncommitted_is_redone),
        T(test_hark_conv_open__state_survives_restart),
        T(test_hark_conv_observe__window_forgets_oldest),
        T(test_hark_conv_commit__retention_deletes_old_items),
        T(test_hark_conv_commit__retention_zero_keeps_all),
        T(test_hark_conv_commit__retention_clock_is_capped),
        T(test_hark_conv_commit__replay_of_deleted_item),
        T(test_hark_conv_commit__retention_is_batched),
        T(test_hark_conv_open__activity_indexed),
        T(test_hark_conv_observe__reply_chain_is_one_item),
        T(test_hark_conv_observe__brand_reply_to_latest_post_answers),
        T(test_hark_conv_observe__reply_to_brand_answer_reopens),
        T(test_hark_conv_note_post__unkept_posts_keep_the_chain),
        T(test_hark_conv_observe__adapter_root_is_kept),
        T(test_hark_conv_observe__parent_after_reply),
        T(test_hark_conv_observe__chain_replays_are_identical),
        T(test_hark_conv_observe__chain_uncommitted_is_redone),
        T(test_hark_conv_open__thread_index_survives_restart),
        T(test_hark_conv_open__adds_thread_index_to_old_file),
        T(test_hark_conv_commit__retention_prunes_thread_index),
        T(test_hark_conv_commit__retention_zero_keeps_thread_index),
        T(test_hark_conv_note_post__memory_is_bounded),
        T(test_hark_conv_open__corrupt_file),
        T(test_hark_conv_open__locked_by_another),
#undef T
        cmocka_unit_test(test_hark_conv_cfg_parse__defaults_and_overrides),
        cmocka_unit_test(test_hark_conv_cfg_parse__errors_have_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
