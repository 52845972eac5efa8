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

#include "hark/conversation.h"

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

static void rm_state(const char *dir)
{
    static const char *const names[] = {
        "conversations.sqlite", "conversations.sqlite-wal",
        "conversations.sqlite-shm", "conversations.sqlite-journal"};
    for (size_t i = 0; i < 4; i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        (void)unlink(path);
    }
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    hark_conv_free(fx->conv);
    hark_conv_changes_cleanup(&fx->changes);
    hark_conv_cfg_cleanup(&fx->cfg);
    rm_state(fx->dir);
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

static struct result observe(struct fx *fx, const struct spec *s)
{
    struct hark_item *item = make_item(s);
    char eid[64];
    snprintf(eid, sizeof(eid), "ev:%s:%s", s->post_id,
             s->edited_at ? s->edited_at : "");
    hark_conv_changes_clear(&fx->changes);
    assert_int_equal(hark_conv_observe(fx->conv, item, s->is_brand, eid,
                                       T0 + 365 * DAY, &fx->changes),
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

/* ---- expiry ---- */

static void test_hark_conv_expire__forgets_closed_and_stale(void **state)
{
    struct fx *fx = *state;
    struct spec a = {.author = "alice", .post_id = "1", .conv_id = "c",
                     .t_ms = T0};
    struct spec b = {.author = "acme", .post_id = "2", .conv_id = "c",
                     .t_ms = T0 + HOUR, .is_brand = true};
    struct spec s = {.author = "bob", .post_id = "3", .conv_id = "d",
                     .t_ms = T0 + 6 * DAY};
    struct result ra = observe(fx, &a);
    observe(fx, &b);
    observe(fx, &s);
    fx_commit(fx);
    assert_int_equal(hark_conv_expire(fx->conv, T0 + 7 * DAY), 0);
    /* alice's answer is 7 days + 1 ms old; bob's post only 2 days. */
    assert_int_equal(hark_conv_expire(fx->conv, T0 + HOUR + 7 * DAY + 1), 1);
    assert_int_equal(hark_conv_stats_get(fx->conv)->items, 1);
    assert_true(hark_conv_is_dirty(fx->conv));
    fx_reopen(fx, true);
    assert_int_equal(hark_conv_stats_get(fx->conv)->items, 1);
    /* bob's open item goes once its last post is 7 days old. */
    assert_int_equal(hark_conv_expire(fx->conv, T0 + 13 * DAY + 1), 1);
    assert_int_equal(hark_conv_stats_get(fx->conv)->items, 0);
    fx_reopen(fx, true);
    assert_int_equal(hark_conv_stats_get(fx->conv)->items, 0);
    struct spec a2 = {.author = "alice", .post_id = "4", .conv_id = "c",
                      .t_ms = T0 + 14 * DAY};
    struct result r = observe(fx, &a2);
    assert_string_not_equal(r.item_id, ra.item_id);
    assert_int_equal(r.seq, 1);
}

/* ---- open errors ---- */

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

static void test_hark_conv_open__corrupt_file(void **state)
{
    struct fx *fx = *state;
    hark_conv_free(fx->conv);
    fx->conv = NULL;
    rm_state(fx->dir);
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
    rm_state(fx->dir);
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
    struct hark_diag diag;
    hark_diag_init(&diag);
    assert_int_equal(parse_cfg("{\"group_window_s\": 3600,"
                               " \"reopen_days\": 1.5}",
                               &cfg, &diag),
                     HARK_OK);
    assert_int_equal(cfg.group_window_ms, HOUR);
    assert_int_equal(cfg.reopen_ms, 36 * HOUR);
    assert_int_equal(cfg.applied_window, 65536); /* untouched */
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
        T(test_hark_conv_expire__forgets_closed_and_stale),
        T(test_hark_conv_open__corrupt_file),
        T(test_hark_conv_open__locked_by_another),
#undef T
        cmocka_unit_test(test_hark_conv_cfg_parse__defaults_and_overrides),
        cmocka_unit_test(test_hark_conv_cfg_parse__errors_have_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
