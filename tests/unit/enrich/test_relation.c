/* Tests for enrich/relation.c and enrich/relation_store.c. */
#include <inttypes.h>
#include <math.h>
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

#include "hark/relation.h"
#include "hark/score.h"
#include "state_fixture.h"

#define T0 1793534400000LL /* 2026-11-01T12:00:00Z */
#define HOUR 3600000LL
#define DAY (24 * HOUR)

/* ---- fixtures ---- */

struct fx {
    char dir[64];
    struct hark_relation_cfg cfg;
    struct hark_score_cfg score;
    struct hark_relation *rel;
    struct hark_signal_list sigs;
};

static void fx_open(struct fx *fx)
{
    struct hark_diag diag;
    hark_diag_init(&diag);
    hark_err_t err =
        hark_relation_open(fx->dir, &fx->cfg, &fx->score, &diag, &fx->rel);
    if (err != HARK_OK) {
        hark_diag_print(&diag, stderr);
    }
    assert_int_equal(err, HARK_OK);
    hark_diag_cleanup(&diag);
}

static void fx_reopen(struct fx *fx, bool is_commit)
{
    if (is_commit) {
        char eb[256];
        assert_int_equal(hark_relation_commit(fx->rel, eb, sizeof(eb)),
                         HARK_OK);
    }
    hark_relation_free(fx->rel);
    fx->rel = NULL;
    fx_open(fx);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/hark-rel-XXXXXX");
    if (!mkdtemp(fx->dir)) {
        return -1;
    }
    hark_relation_cfg_init(&fx->cfg);
    hark_score_cfg_init(&fx->score);
    hark_signal_list_init(&fx->sigs);
    fx_open(fx);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    hark_relation_free(fx->rel);
    hark_signal_list_cleanup(&fx->sigs);
    hark_relation_cfg_cleanup(&fx->cfg);
    hark_score_cfg_cleanup(&fx->score);
    rm_state(fx->dir, "relation.sqlite");
    (void)rmdir(fx->dir);
    free(fx);
    return 0;
}

struct post_spec {
    const char *author;  /* author id */
    const char *post_id;
    int64_t t_ms;
    double sentiment;    /* NAN = unscored */
    const char *tags[4];
    const char *customer; /* customer id or NULL */
    double clv;
    int64_t file_recommendations;
    const char *edited_at;
    const char *conv; /* conversation id or NULL */
};

static struct hark_item *make_item(const struct post_spec *s)
{
    struct hark_post *post = hark_post_new();
    post->platform = hark_xstrdup("mastodon");
    post->id = hark_xstrdup(s->post_id);
    char ts[32];
    hark_time_format(s->t_ms ? s->t_ms : T0, ts);
    post->created_at = hark_xstrdup(ts);
    post->edited_at = hark_xstrdup(s->edited_at);
    post->conversation_id = hark_xstrdup(s->conv);
    free(post->text);
    post->text = hark_xstrdup("text");
    post->author.id = hark_xstrdup(s->author);
    post->author.handle = hark_xasprintf("%s@example.social", s->author);
    post->author.followers = -1;
    struct hark_item *item = hark_item_new(post);
    item->rules_version = hark_xstrdup("rv1");
    for (size_t i = 0; i < 4 && s->tags[i]; i++) {
        hark_strv_add(&item->tags, s->tags[i], strlen(s->tags[i]));
    }
    if (isnan(s->sentiment)) {
        item->sentiment.label = HARK_SENTIMENT_UNSCORED;
    } else {
        item->sentiment.score = s->sentiment;
        double x = s->sentiment;
        item->sentiment.label = x >= 0.05    ? HARK_SENTIMENT_POSITIVE
                                : x <= -0.05 ? HARK_SENTIMENT_NEGATIVE
                                             : HARK_SENTIMENT_NEUTRAL;
    }
    if (s->customer) {
        item->has_customer = true;
        item->customer.id = hark_xstrdup(s->customer);
        item->customer.clv = s->clv;
        item->customer.recommendations = s->file_recommendations;
    }
    return item;
}

/* A post event id as sink/event.c makes one: a hash of id + revision. */
static void event_id_of(const struct hark_item *item, char out[17])
{
    const struct hark_post *post = item->post;
    uint64_t h = hark_hash64(post->id, strlen(post->id), HARK_HASH_SEED);
    const char *rev = hark_post_revision(post);
    h = hark_hash64(rev, strlen(rev), h);
    snprintf(out, 17, "%016" PRIx64, h);
}

/* Observes one post; returns the number of signals raised. */
static size_t observe(struct fx *fx, const struct post_spec *s)
{
    struct hark_item *item = make_item(s);
    char id[17];
    event_id_of(item, id);
    hark_signal_list_clear(&fx->sigs);
    assert_int_equal(
        hark_relation_observe(fx->rel, item, id, s->t_ms + 1000, &fx->sigs),
        HARK_OK);
    hark_item_free(item);
    return fx->sigs.n;
}

static const struct hark_signal *find_sig(const struct fx *fx,
                                          enum hark_signal_kind kind)
{
    for (size_t i = 0; i < fx->sigs.n; i++) {
        if (fx->sigs.v[i].kind == kind) {
            return &fx->sigs.v[i];
        }
    }
    return NULL;
}

static struct hark_json_doc *parse(const struct hark_signal *sig)
{
    struct hark_json_doc *doc = NULL;
    struct hark_json_opts opts = {.validate_utf8 = true};
    char eb[128];
    size_t off;
    assert_int_equal(hark_json_parse(sig->payload, sig->payload_len, "sig",
                                     &opts, &doc, eb, sizeof(eb), &off),
                     HARK_OK);
    return doc;
}

static const struct hark_json *ptr(const struct hark_json_doc *doc,
                                   const char *p)
{
    const struct hark_json *v = hark_json_pointer(doc->root, p);
    if (!v) {
        fail_msg("no %s in the signal", p);
    }
    return v;
}

/* Adjusts a fresh item of `s` and returns its relational value. */
static double relational_of(struct fx *fx, const struct post_spec *s,
                            struct hark_item **keep)
{
    struct hark_item *item = make_item(s);
    hark_relation_adjust(fx->rel, item);
    double v = item->relationship.relational;
    if (keep) {
        *keep = item;
    } else {
        hark_item_free(item);
    }
    return v;
}

/* ---- relational capital ---- */

static void test_hark_relation_observe__recommendation_signal(void **state)
{
    struct fx *fx = *state;
    struct post_spec s = {.author = "42", .post_id = "p1", .t_ms = T0,
                          .sentiment = 0.6,
                          .tags = {"signal:recommendation"}};
    assert_int_equal(observe(fx, &s), 1);
    const struct hark_signal *sig = find_sig(fx, HARK_SIGNAL_RECOMMENDATION);
    assert_non_null(sig);
    assert_false(sig->is_replay);
    assert_string_equal(sig->key, "mastodon:42");
    assert_int_equal(strlen(sig->event_id), 16);
    struct hark_json_doc *doc = parse(sig);
    assert_string_equal(hark_json_str(ptr(doc, "/schema")), "hark.signal/1");
    assert_string_equal(hark_json_str(ptr(doc, "/event_id")), sig->event_id);
    assert_string_equal(hark_json_str(ptr(doc, "/signal")), "recommendation");
    assert_int_equal(ptr(doc, "/customer")->type, HARK_JSON_NULL);
    assert_string_equal(hark_json_str(ptr(doc, "/author/key")), "mastodon:42");
    assert_string_equal(hark_json_str(ptr(doc, "/post/id")), "p1");
    assert_string_equal(hark_json_str(ptr(doc, "/rules_version")), "rv1");
    assert_string_equal(hark_json_str(ptr(doc, "/details/act")),
                        "recommendation");
    assert_int_equal(hark_json_int(ptr(doc, "/details/count"), -1), 1);
    /* recommendation 100 + positive mention 10, a stranger: monetary 0 */
    assert_true(hark_json_num(ptr(doc, "/relationship/monetary"), -1) == 0);
    assert_true(hark_json_num(ptr(doc, "/relationship/relational"), -1) ==
                110);
    assert_non_null(hark_json_get(doc->root, "emitted_at"));
    hark_json_doc_free(doc);
}

static void test_hark_relation_observe__signal_ids_are_stable(void **state)
{
    struct fx *fx = *state;
    struct post_spec s = {.author = "42", .post_id = "p1", .t_ms = T0,
                          .sentiment = 0.6, .tags = {"signal:referral"}};
    observe(fx, &s);
    const struct hark_signal *sig = find_sig(fx, HARK_SIGNAL_REFERRAL);
    assert_non_null(sig);
    char first[17];
    memcpy(first, sig->event_id, 17);
    /* Another author's state, same post: the id names the post. */
    rm_state(fx->dir, "relation.sqlite");
    hark_relation_free(fx->rel);
    fx_open(fx);
    observe(fx, &s);
    sig = find_sig(fx, HARK_SIGNAL_REFERRAL);
    assert_non_null(sig);
    assert_string_equal(sig->event_id, first);
    /* A different kind on the same post has a different id. */
    struct post_spec s2 = s;
    s2.post_id = "p2";
    s2.tags[0] = "signal:advocacy";
    observe(fx, &s2);
    assert_non_null(find_sig(fx, HARK_SIGNAL_ADVOCACY));
    assert_string_not_equal(find_sig(fx, HARK_SIGNAL_ADVOCACY)->event_id,
                            first);
}

static void test_hark_relation_observe__positive_mention_counts(void **state)
{
    struct fx *fx = *state;
    struct post_spec s = {.author = "7", .post_id = "p1", .t_ms = T0,
                          .sentiment = 0.8};
    assert_int_equal(observe(fx, &s), 0); /* no tag: no signal */
    assert_true(relational_of(fx, &s, NULL) == 10);
    s.post_id = "p2";
    s.sentiment = -0.5;
    observe(fx, &s);
    assert_true(relational_of(fx, &s, NULL) == 10);
}

static void test_hark_relation_observe__exactly_once(void **state)
{
    struct fx *fx = *state;
    struct post_spec s = {.author = "42", .post_id = "p1", .t_ms = T0,
                          .sentiment = 0.5,
                          .tags = {"signal:recommendation"}};
    assert_int_equal(observe(fx, &s), 1);
    char *payload = hark_xstrdup(fx->sigs.v[0].payload);
    /* Same event again in the same run: nothing counted, same signal. */
    assert_int_equal(observe(fx, &s), 1);
    assert_true(fx->sigs.v[0].is_replay);
    assert_string_equal(fx->sigs.v[0].payload, payload);
    assert_true(relational_of(fx, &s, NULL) == 110);
    /* Committed, then a restart replays it: still counted once, and the
     * signal comes back byte for byte. */
    fx_reopen(fx, true);
    assert_int_equal(observe(fx, &s), 1);
    assert_true(fx->sigs.v[0].is_replay);
    assert_string_equal(fx->sigs.v[0].payload, payload);
    assert_true(relational_of(fx, &s, NULL) == 110);
    const struct hark_relation_stats *st = hark_relation_stats_get(fx->rel);
    assert_int_equal(st->replayed, 1);
    assert_int_equal(st->observed, 0);
    free(payload);
}

static void test_hark_relation_observe__uncommitted_is_redone(void **state)
{
    struct fx *fx = *state;
    struct post_spec s = {.author = "42", .post_id = "p1", .t_ms = T0,
                          .sentiment = 0.5,
                          .tags = {"signal:recommendation"}};
    observe(fx, &s);
    /* kill -9 before the commit: the state never saw it. */
    fx_reopen(fx, false);
    assert_true(relational_of(fx, &s, NULL) == 0);
    assert_int_equal(observe(fx, &s), 1);
    assert_false(fx->sigs.v[0].is_replay);
    assert_true(relational_of(fx, &s, NULL) == 110);
}

static void test_hark_relation_observe__edit_counts_new_acts_only(void **state)
{
    struct fx *fx = *state;
    struct post_spec s = {.author = "42", .post_id = "p1", .t_ms = T0,
                          .sentiment = 0.5,
                          .tags = {"signal:recommendation"}};
    observe(fx, &s);
    fx_reopen(fx, true);
    struct post_spec e = s;
    e.edited_at = "2026-11-01T13:00:00Z";
    assert_int_equal(observe(fx, &e), 0);
    assert_true(relational_of(fx, &s, NULL) == 110);
    /* A second edit adds a referral: only the referral counts. */
    e.edited_at = "2026-11-01T14:00:00Z";
    e.tags[1] = "signal:referral";
    assert_int_equal(observe(fx, &e), 1);
    assert_non_null(find_sig(fx, HARK_SIGNAL_REFERRAL));
    assert_true(relational_of(fx, &s, NULL) == 360);
}

static void test_hark_relation_adjust__customer_counts_live(void **state)
{
    struct fx *fx = *state;
    struct post_spec s = {.author = "42", .post_id = "p1", .t_ms = T0,
                          .sentiment = 0.0,
                          .tags = {"signal:recommendation"},
                          .customer = "c-1", .clv = 5000,
                          .file_recommendations = 2};
    observe(fx, &s);
    const struct hark_signal *sig = find_sig(fx, HARK_SIGNAL_RECOMMENDATION);
    assert_non_null(sig);
    assert_string_equal(sig->key, "c-1");
    struct hark_json_doc *doc = parse(sig);
    assert_string_equal(hark_json_str(ptr(doc, "/customer/id")), "c-1");
    assert_int_equal(hark_json_int(ptr(doc, "/details/count"), -1), 3);
    assert_true(hark_json_num(ptr(doc, "/relationship/total"), -1) == 5300);
    hark_json_doc_free(doc);

    struct hark_item *item = NULL;
    relational_of(fx, &s, &item);
    assert_int_equal(item->customer.recommendations, 3);
    assert_true(item->relationship.monetary == 5000);
    assert_true(item->relationship.relational == 300);
    assert_true(item->relationship.total == 5300);
    assert_string_equal(item->behaviour_segment, "advocate");
    /* hark_score_item recomputes the same value from the adjusted item. */
    hark_score_item(&fx->score, item, T0);
    assert_true(item->relationship.total == 5300);
    hark_item_free(item);
}

static void test_hark_relation_adjust__unknown_author(void **state)
{
    struct fx *fx = *state;
    struct post_spec s = {.author = "99", .post_id = "p1", .sentiment = 0.1};
    struct hark_item *item = NULL;
    assert_true(relational_of(fx, &s, &item) == 0);
    assert_string_equal(item->behaviour_segment, "new");
    assert_true(item->relationship.total == 0);
    hark_item_free(item);
}

static void test_hark_relation_observe__stranger_becomes_customer(void **state)
{
    struct fx *fx = *state;
    struct post_spec s = {.author = "42", .post_id = "p1", .t_ms = T0,
                          .sentiment = 0.5,
                          .tags = {"signal:recommendation"}};
    observe(fx, &s);
    struct post_spec c = {.author = "42", .post_id = "p2", .t_ms = T0 + HOUR,
                          .sentiment = 0.5, .customer = "c-9", .clv = 10};
    observe(fx, &c);
    struct hark_item *item = NULL;
    relational_of(fx, &c, &item);
    assert_int_equal(item->customer.recommendations, 1);
    assert_int_equal(item->customer.positive_mentions, 2);
    hark_item_free(item);
    /* The move survives a restart, and the stranger row is gone. */
    fx_reopen(fx, true);
    relational_of(fx, &c, &item);
    assert_int_equal(item->customer.recommendations, 1);
    hark_item_free(item);
    assert_true(relational_of(fx, &s, NULL) == 0);
    assert_int_equal(hark_relation_stats_get(fx->rel)->authors, 1);
}

static void test_hark_relation_observe__ignores_tombstones(void **state)
{
    struct fx *fx = *state;
    struct post_spec s = {.author = "42", .post_id = "p1",
                          .tags = {"signal:recommendation"}};
    struct hark_item *item = make_item(&s);
    item->post->is_deleted = true;
    assert_int_equal(hark_relation_observe(fx->rel, item, "00000000000000aa",
                                           T0, &fx->sigs),
                     HARK_OK);
    assert_int_equal(fx->sigs.n, 0);
    assert_false(hark_relation_is_dirty(fx->rel));
    hark_item_free(item);
}

/* ---- churn ---- */

/* `n` ordinary posts around `mean` (a fixed zig-zag of +-sd). */
static size_t history(struct fx *fx, const char *author, const char *cust,
                      double clv, int n, double mean, double sd,
                      int64_t gap_ms)
{
    size_t n_churn = 0;
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "%s-h%d", author, i);
        double x = mean + ((i % 3) - 1) * sd * 1.2;
        struct post_spec s = {.author = author, .post_id = id,
                              .t_ms = T0 + i * gap_ms, .sentiment = x,
                              .customer = cust, .clv = clv};
        observe(fx, &s);
        n_churn += find_sig(fx, HARK_SIGNAL_CHURN_RISK) ? 1 : 0;
    }
    return n_churn;
}

static void test_hark_relation_observe__churn_on_sharp_drop(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(history(fx, "42", "c-1", 5000, 20, 0.45, 0.2, DAY), 0);
    struct post_spec s = {.author = "42", .post_id = "bad", .t_ms = T0 + 21 *
                          DAY, .sentiment = -0.8, .customer = "c-1",
                          .clv = 5000};
    observe(fx, &s);
    const struct hark_signal *sig = find_sig(fx, HARK_SIGNAL_CHURN_RISK);
    assert_non_null(sig);
    struct hark_json_doc *doc = parse(sig);
    assert_string_equal(hark_json_str(ptr(doc, "/signal")), "churn_risk");
    assert_string_equal(hark_json_str(ptr(doc, "/details/baseline")),
                        "sentiment");
    assert_true(fabs(hark_json_num(ptr(doc, "/details/value"), 0) + 0.8) <
                1e-9);
    double mean = hark_json_num(ptr(doc, "/details/mean"), 0);
    double z = hark_json_num(ptr(doc, "/details/z"), 0);
    assert_true(mean > 0.35 && mean < 0.55);
    assert_true(z <= -4);
    hark_json_doc_free(doc);
    /* The churn also moves the customer to at_risk. */
    const struct hark_signal *seg = find_sig(fx, HARK_SIGNAL_SEGMENT_CHANGE);
    assert_non_null(seg);
    doc = parse(seg);
    assert_string_equal(hark_json_str(ptr(doc, "/details/to")), "at_risk");
    hark_json_doc_free(doc);
}

static void test_hark_relation_observe__no_churn_for_moody_author(void **state)
{
    struct fx *fx = *state;
    /* Someone whose usual tone swings widely: -0.8 is within their range. */
    assert_int_equal(history(fx, "42", "c-1", 5000, 20, 0.0, 0.6, DAY), 0);
    struct post_spec s = {.author = "42", .post_id = "x", .t_ms = T0 + 21 *
                          DAY, .sentiment = -0.8, .customer = "c-1",
                          .clv = 5000};
    observe(fx, &s);
    assert_null(find_sig(fx, HARK_SIGNAL_CHURN_RISK));
}

static void test_hark_relation_observe__no_churn_without_baseline(void **state)
{
    struct fx *fx = *state;
    history(fx, "42", "c-1", 5000, 3, 0.6, 0.05, DAY);
    struct post_spec s = {.author = "42", .post_id = "x", .t_ms = T0 + 4 * DAY,
                          .sentiment = -0.9, .customer = "c-1", .clv = 5000};
    observe(fx, &s);
    assert_null(find_sig(fx, HARK_SIGNAL_CHURN_RISK));
}

static void test_hark_relation_observe__no_churn_low_value(void **state)
{
    struct fx *fx = *state;
    history(fx, "42", "c-1", 50, 20, 0.45, 0.1, DAY);
    struct post_spec s = {.author = "42", .post_id = "x", .t_ms = T0 + 21 * DAY,
                          .sentiment = -0.9, .customer = "c-1", .clv = 50,
                          .tags = {"intent:cancel"}};
    observe(fx, &s);
    assert_null(find_sig(fx, HARK_SIGNAL_CHURN_RISK));
}

static void test_hark_relation_observe__churn_on_cancel_intent(void **state)
{
    struct fx *fx = *state;
    /* A high-value customer hark has never seen before. */
    struct post_spec s = {.author = "42", .post_id = "x", .t_ms = T0,
                          .sentiment = -0.2, .customer = "c-1", .clv = 20000,
                          .tags = {"intent:cancel", "signal:churn_risk"}};
    observe(fx, &s);
    const struct hark_signal *sig = find_sig(fx, HARK_SIGNAL_CHURN_RISK);
    assert_non_null(sig);
    struct hark_json_doc *doc = parse(sig);
    assert_string_equal(hark_json_str(ptr(doc, "/details/baseline")), "intent");
    assert_string_equal(hark_json_str(ptr(doc, "/details/intent")),
                        "intent:cancel");
    assert_string_equal(hark_json_str(ptr(doc, "/customer/id")), "c-1");
    hark_json_doc_free(doc);
}

static void test_hark_relation_observe__churn_on_advocate_complaint(
    void **state)
{
    struct fx *fx = *state;
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "r%d", i);
        struct post_spec s = {.author = "42", .post_id = id,
                              .t_ms = T0 + i * DAY, .sentiment = 0.7,
                              .tags = {"signal:recommendation"}};
        observe(fx, &s);
        assert_null(find_sig(fx, HARK_SIGNAL_CHURN_RISK));
    }
    struct post_spec s = {.author = "42", .post_id = "c", .t_ms = T0 + 4 * DAY,
                          .sentiment = -0.3, .tags = {"intent:complaint"}};
    observe(fx, &s);
    const struct hark_signal *sig = find_sig(fx, HARK_SIGNAL_CHURN_RISK);
    assert_non_null(sig);
    struct hark_json_doc *doc = parse(sig);
    assert_string_equal(hark_json_str(ptr(doc, "/details/baseline")),
                        "advocacy");
    assert_int_equal(hark_json_int(ptr(doc, "/details/advocacy_acts"), 0), 3);
    assert_int_equal(ptr(doc, "/customer")->type, HARK_JSON_NULL);
    hark_json_doc_free(doc);
    /* A complaint from someone who never recommended: not churn. */
    struct post_spec o = {.author = "43", .post_id = "o", .t_ms = T0,
                          .sentiment = -0.3, .tags = {"intent:complaint"},
                          .customer = "c-2", .clv = 5000};
    observe(fx, &o);
    assert_null(find_sig(fx, HARK_SIGNAL_CHURN_RISK));
}

/* ---- silence and segments ---- */

static void tick(struct fx *fx, int64_t now)
{
    hark_signal_list_clear(&fx->sigs);
    hark_relation_tick(fx->rel, "rv1", now, &fx->sigs);
}

static void test_hark_relation_tick__silence_after_m_gaps(void **state)
{
    struct fx *fx = *state;
    history(fx, "42", "c-1", 5000, 10, 0.4, 0.1, DAY);
    int64_t last = T0 + 9 * DAY;
    tick(fx, last + 4 * DAY); /* 4 gaps < 5 */
    assert_null(find_sig(fx, HARK_SIGNAL_SILENCE));
    tick(fx, last + 5 * DAY + HOUR);
    const struct hark_signal *sig = find_sig(fx, HARK_SIGNAL_SILENCE);
    assert_non_null(sig);
    assert_string_equal(sig->key, "c-1");
    struct hark_json_doc *doc = parse(sig);
    assert_string_equal(hark_json_str(ptr(doc, "/details/baseline")), "gap");
    assert_true(fabs(hark_json_num(ptr(doc, "/details/mean_gap_hours"), 0) -
                     24) < 1e-6);
    assert_true(hark_json_num(ptr(doc, "/details/gaps"), 0) > 5);
    assert_null(hark_json_get(doc->root, "post"));
    char id[17];
    memcpy(id, sig->event_id, 17);
    hark_json_doc_free(doc);
    /* Once per silence, also across a restart. */
    tick(fx, last + 6 * DAY);
    assert_null(find_sig(fx, HARK_SIGNAL_SILENCE));
    fx_reopen(fx, true);
    tick(fx, last + 7 * DAY);
    assert_null(find_sig(fx, HARK_SIGNAL_SILENCE));
    /* A new post ends the silence; the next one has another id. */
    struct post_spec s = {.author = "42", .post_id = "back",
                          .t_ms = last + 8 * DAY, .sentiment = 0.4,
                          .customer = "c-1", .clv = 5000};
    observe(fx, &s);
    tick(fx, last + 8 * DAY + 40 * DAY);
    sig = find_sig(fx, HARK_SIGNAL_SILENCE);
    assert_non_null(sig);
    assert_string_not_equal(sig->event_id, id);
}

static void test_hark_relation_tick__no_silence_for_strangers(void **state)
{
    struct fx *fx = *state;
    history(fx, "42", NULL, 0, 10, 0.0, 0.1, DAY);
    tick(fx, T0 + 100 * DAY);
    assert_null(find_sig(fx, HARK_SIGNAL_SILENCE));
}

static const char *segment_of(struct fx *fx, const struct post_spec *s,
                              char *buf, size_t len)
{
    struct hark_item *item = NULL;
    relational_of(fx, s, &item);
    snprintf(buf, len, "%s", item->behaviour_segment);
    hark_item_free(item);
    return buf;
}

static void test_hark_relation__segment_transitions(void **state)
{
    struct fx *fx = *state;
    char buf[32];
    struct post_spec who = {.author = "42", .post_id = "q", .customer = "c-1",
                            .clv = 5000};
    size_t n_changes = 0;
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof(id), "s%d", i);
        struct post_spec s = {.author = "42", .post_id = id,
                              .t_ms = T0 + i * DAY, .sentiment = 0.3,
                              .customer = "c-1", .clv = 5000};
        observe(fx, &s);
        const struct hark_signal *sig =
            find_sig(fx, HARK_SIGNAL_SEGMENT_CHANGE);
        if (sig) {
            n_changes++;
            struct hark_json_doc *doc = parse(sig);
            assert_string_equal(hark_json_str(ptr(doc, "/details/from")),
                                "new");
            assert_string_equal(hark_json_str(ptr(doc, "/details/to")),
                                "loyal");
            hark_json_doc_free(doc);
        }
        assert_string_equal(segment_of(fx, &who, buf, sizeof(buf)),
                            i < 4 ? "new" : "loyal");
    }
    assert_int_equal(n_changes, 1);
    /* Silent for long: dormant, by tick. */
    tick(fx, T0 + 4 * DAY + 31 * DAY);
    const struct hark_signal *sig = find_sig(fx, HARK_SIGNAL_SEGMENT_CHANGE);
    assert_non_null(sig);
    struct hark_json_doc *doc = parse(sig);
    assert_string_equal(hark_json_str(ptr(doc, "/details/to")), "dormant");
    hark_json_doc_free(doc);
    assert_string_equal(segment_of(fx, &who, buf, sizeof(buf)), "dormant");
    /* Back with a cancel: at_risk. */
    struct post_spec s = {.author = "42", .post_id = "cx",
                          .t_ms = T0 + 40 * DAY, .sentiment = -0.4,
                          .customer = "c-1", .clv = 5000,
                          .tags = {"intent:cancel"}};
    observe(fx, &s);
    assert_non_null(find_sig(fx, HARK_SIGNAL_CHURN_RISK));
    assert_string_equal(segment_of(fx, &who, buf, sizeof(buf)), "at_risk");
    /* at_risk wears off after at_risk_days (30) by tick. */
    struct post_spec s2 = s;
    s2.post_id = "ok";
    s2.tags[0] = NULL;
    s2.sentiment = 0.3;
    s2.t_ms = T0 + 45 * DAY;
    observe(fx, &s2);
    tick(fx, T0 + 71 * DAY);
    sig = find_sig(fx, HARK_SIGNAL_SEGMENT_CHANGE);
    assert_non_null(sig);
    doc = parse(sig);
    assert_string_equal(hark_json_str(ptr(doc, "/details/from")), "at_risk");
    assert_string_equal(hark_json_str(ptr(doc, "/details/to")), "loyal");
    hark_json_doc_free(doc);
}

/* ---- persistence and the store ---- */

static void test_hark_relation_open__state_survives_restart(void **state)
{
    struct fx *fx = *state;
    history(fx, "42", "c-1", 5000, 20, 0.45, 0.2, DAY);
    struct post_spec r = {.author = "42", .post_id = "r", .t_ms = T0 + 20 * DAY,
                          .sentiment = 0.5, .customer = "c-1", .clv = 5000,
                          .tags = {"signal:referral"}};
    observe(fx, &r);
    char buf[32];
    const char *seg = segment_of(fx, &r, buf, sizeof(buf));
    assert_string_equal(seg, "loyal");
    fx_reopen(fx, true);
    assert_string_equal(segment_of(fx, &r, buf, sizeof(buf)), "loyal");
    struct hark_item *item = NULL;
    relational_of(fx, &r, &item);
    assert_int_equal(item->customer.referrals, 1);
    hark_item_free(item);
    /* The baseline came back too: the same drop still alarms. */
    struct post_spec s = {.author = "42", .post_id = "bad", .t_ms = T0 + 21 *
                          DAY, .sentiment = -0.8, .customer = "c-1",
                          .clv = 5000};
    observe(fx, &s);
    assert_non_null(find_sig(fx, HARK_SIGNAL_CHURN_RISK));
    assert_int_equal(hark_relation_stats_get(fx->rel)->authors, 1);
}

static void test_hark_relation_observe__window_forgets_oldest(void **state)
{
    struct fx *fx = *state;
    fx->cfg.applied_window = 1024;
    fx_reopen(fx, false);
    /* 3000 distinct observations through a 1024-id window, committed in
     * batches: the newest 1024 are all still known, also after restart. */
    for (int i = 0; i < 3000; i++) {
        char id[17];
        snprintf(id, sizeof(id), "%016x", i + 1);
        struct post_spec s = {.author = "42", .post_id = id,
                              .t_ms = T0 + i * HOUR, .sentiment = NAN};
        struct hark_item *item = make_item(&s);
        assert_int_equal(hark_relation_observe(fx->rel, item, id, T0,
                                               &fx->sigs),
                         HARK_OK);
        hark_item_free(item);
        if (i % 100 == 99) {
            char eb[256];
            assert_int_equal(hark_relation_commit(fx->rel, eb, sizeof(eb)),
                             HARK_OK);
        }
    }
    fx_reopen(fx, true);
    uint64_t before = hark_relation_stats_get(fx->rel)->replayed;
    for (int i = 3000 - 1024; i < 3000; i++) {
        char id[17];
        snprintf(id, sizeof(id), "%016x", i + 1);
        struct post_spec s = {.author = "42", .post_id = id,
                              .t_ms = T0 + i * HOUR, .sentiment = NAN};
        struct hark_item *item = make_item(&s);
        assert_int_equal(hark_relation_observe(fx->rel, item, id, T0,
                                               &fx->sigs),
                         HARK_OK);
        hark_item_free(item);
    }
    assert_int_equal(hark_relation_stats_get(fx->rel)->replayed - before,
                     1024);
}

/* ---- retention of strangers ---- */

static void commit(struct fx *fx)
{
    char eb[256];
    assert_int_equal(hark_relation_commit(fx->rel, eb, sizeof(eb)), HARK_OK);
}

static void test_hark_relation_commit__forgets_idle_strangers(void **state)
{
    struct fx *fx = *state; /* default strangers_ttl_days: 90 */
    struct post_spec once = {.author = "once", .post_id = "o1", .t_ms = T0,
                             .sentiment = 0.8};
    struct post_spec fan = {.author = "fan", .post_id = "f1", .t_ms = T0,
                            .sentiment = 0.8,
                            .tags = {"signal:recommendation"}};
    struct post_spec cust = {.author = "c", .post_id = "c1", .t_ms = T0,
                             .sentiment = NAN, .customer = "cust-1",
                             .clv = 0};
    observe(fx, &once);
    observe(fx, &fan);
    observe(fx, &cust);
    commit(fx);
    assert_true(relational_of(fx, &once, NULL) == 10);
    const struct hark_relation_stats *st = hark_relation_stats_get(fx->rel);
    assert_int_equal(st->authors, 3);
    assert_int_equal(st->idle_strangers, 1);

    /* 89 days later nothing is old enough. */
    struct post_spec later = {.author = "new", .post_id = "n1",
                              .t_ms = T0 + 89 * DAY, .sentiment = NAN};
    observe(fx, &later);
    commit(fx);
    assert_int_equal(st->evicted, 0);
    assert_int_equal(st->authors, 4);

    /* 91 days after its post, the one-time stranger is forgotten; the
     * stranger who recommended and the customer are kept. */
    later.post_id = "n2";
    later.t_ms = T0 + 91 * DAY;
    observe(fx, &later);
    commit(fx);
    assert_int_equal(st->evicted, 1);
    assert_int_equal(st->authors, 3);
    assert_int_equal(st->idle_strangers, 1); /* "new" */
    assert_true(relational_of(fx, &once, NULL) == 0);
    assert_true(relational_of(fx, &fan, NULL) == 110);

    /* Gone from the file too; the applied ids are untouched, so the
     * forgotten stranger's post is still a replay, which changes nothing
     * (and brings no state back). */
    fx_reopen(fx, true);
    st = hark_relation_stats_get(fx->rel);
    assert_int_equal(st->authors, 3);
    observe(fx, &once);
    assert_int_equal(st->replayed, 1);
    assert_int_equal(st->observed, 0);
    assert_int_equal(st->authors, 3);
    assert_true(relational_of(fx, &once, NULL) == 0);
    /* A new post makes them a new author. */
    once.post_id = "o2";
    once.t_ms = T0 + 92 * DAY;
    observe(fx, &once);
    assert_int_equal(st->authors, 4);
    assert_true(relational_of(fx, &once, NULL) == 10);
}

static void test_hark_relation_commit__ttl_zero_keeps_strangers(void **state)
{
    struct fx *fx = *state;
    fx->cfg.strangers_ttl_ms = 0;
    fx_reopen(fx, false);
    struct post_spec once = {.author = "once", .post_id = "o1", .t_ms = T0,
                             .sentiment = NAN};
    observe(fx, &once);
    commit(fx);
    struct post_spec later = {.author = "new", .post_id = "n1",
                              .t_ms = T0 + 3650 * DAY, .sentiment = NAN};
    observe(fx, &later);
    commit(fx);
    assert_int_equal(hark_relation_stats_get(fx->rel)->evicted, 0);
    assert_int_equal(hark_relation_stats_get(fx->rel)->authors, 2);
}

static void test_hark_relation_commit__max_strangers_keeps_newest(void **state)
{
    struct fx *fx = *state;
    fx->cfg.strangers_ttl_ms = 0;
    fx->cfg.max_strangers = 2;
    fx_reopen(fx, false);
    /* Five idle strangers (newest last) and one with an act. */
    char names[5][8];
    for (int i = 0; i < 5; i++) {
        snprintf(names[i], sizeof(names[i]), "s%d", i);
        struct post_spec s = {.author = names[i], .post_id = names[i],
                              .t_ms = T0 + i * HOUR, .sentiment = 0.8};
        observe(fx, &s);
    }
    struct post_spec fan = {.author = "fan", .post_id = "f1", .t_ms = T0,
                            .sentiment = 0.8, .tags = {"signal:referral"}};
    observe(fx, &fan);
    assert_int_equal(hark_relation_stats_get(fx->rel)->idle_strangers, 5);
    commit(fx);
    const struct hark_relation_stats *st = hark_relation_stats_get(fx->rel);
    assert_int_equal(st->evicted, 3);
    assert_int_equal(st->idle_strangers, 2);
    assert_int_equal(st->authors, 3);
    for (int i = 0; i < 5; i++) {
        struct post_spec s = {.author = names[i], .post_id = names[i],
                              .t_ms = T0 + i * HOUR, .sentiment = 0.8};
        assert_true(relational_of(fx, &s, NULL) == (i >= 3 ? 10 : 0));
    }
    assert_true(relational_of(fx, &fan, NULL) == 260);
    fx_reopen(fx, true);
    assert_int_equal(hark_relation_stats_get(fx->rel)->authors, 3);
    assert_int_equal(hark_relation_stats_get(fx->rel)->idle_strangers, 2);
}

static void test_hark_relation_commit__forgets_in_batches(void **state)
{
    struct fx *fx = *state;
    /* 6000 one-time strangers, then 100 days of nothing: the first commit
     * forgets 5000 of them (the per-commit bound), the next the rest. */
    for (int i = 0; i < 6000; i++) {
        char id[16];
        snprintf(id, sizeof(id), "a%d", i);
        struct post_spec s = {.author = id, .post_id = id, .t_ms = T0,
                              .sentiment = NAN};
        observe(fx, &s);
    }
    commit(fx);
    struct post_spec later = {.author = "new", .post_id = "n1",
                              .t_ms = T0 + 100 * DAY, .sentiment = NAN};
    observe(fx, &later);
    commit(fx);
    const struct hark_relation_stats *st = hark_relation_stats_get(fx->rel);
    assert_int_equal(st->evicted, 5000);
    assert_int_equal(st->authors, 1001);
    later.post_id = "n2";
    observe(fx, &later);
    commit(fx);
    assert_int_equal(st->evicted, 6000);
    assert_int_equal(st->authors, 1);
    assert_int_equal(st->idle_strangers, 1);
}

/* The conversation ids in relation.sqlite, as "a,b," in id order. */
static void conv_rows(struct fx *fx, char *out, size_t out_len)
{
    hark_relation_free(fx->rel);
    fx->rel = NULL;
    char path[128];
    snprintf(path, sizeof(path), "%s/relation.sqlite", fx->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT id FROM conversations "
                                            "ORDER BY id",
                                        -1, &s, NULL),
                     SQLITE_OK);
    out[0] = '\0';
    while (sqlite3_step(s) == SQLITE_ROW) {
        size_t n = strlen(out);
        snprintf(out + n, out_len - n, "%s,", sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    fx_open(fx);
}

static void test_hark_relation_commit__forgets_old_conversations(void **state)
{
    struct fx *fx = *state;
    char rows[256];
    struct post_spec a = {.author = "a", .post_id = "p1", .t_ms = T0,
                          .sentiment = NAN, .conv = "x1"};
    observe(fx, &a);
    commit(fx);
    conv_rows(fx, rows, sizeof(rows));
    assert_string_equal(rows, "x1,");

    /* 89 days on, x1 is kept; 91 days on, its row goes. */
    struct post_spec b = {.author = "b", .post_id = "p2",
                          .t_ms = T0 + 89 * DAY, .sentiment = NAN,
                          .conv = "x2"};
    observe(fx, &b);
    commit(fx);
    conv_rows(fx, rows, sizeof(rows));
    assert_string_equal(rows, "x1,x2,");
    b.post_id = "p3";
    b.t_ms = T0 + 91 * DAY;
    b.conv = "x3";
    observe(fx, &b);
    commit(fx);
    conv_rows(fx, rows, sizeof(rows));
    assert_string_equal(rows, "x2,x3,");
}

static void test_hark_relation_open__idle_strangers_indexed(void **state)
{
    struct fx *fx = *state;
    hark_relation_free(fx->rel);
    fx->rel = NULL;
    char path[128];
    snprintf(path, sizeof(path), "%s/relation.sqlite", fx->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    /* The retention query's shape: the planner must take the index. */
    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "EXPLAIN QUERY PLAN SELECT key FROM authors WHERE "
                           "is_customer = 0 AND referrals = 0 AND "
                           "recommendations = 0 AND introductions = 0 AND "
                           "advocacy = 0 AND last_post_ms < 5 ORDER BY "
                           "last_post_ms LIMIT 10",
                           -1, &s, NULL),
        SQLITE_OK);
    bool has_index = false;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(s, 3);
        if (detail && strstr(detail, "USING INDEX authors_idle_strangers")) {
            has_index = true;
        }
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    assert_true(has_index);
    fx_open(fx);
}

static void test_hark_relation_open__corrupt_file(void **state)
{
    struct fx *fx = *state;
    hark_relation_free(fx->rel);
    fx->rel = NULL;
    char path[128];
    snprintf(path, sizeof(path), "%s/relation.sqlite", fx->dir);
    rm_state(fx->dir, "relation.sqlite");
    char junk[8192];
    memset(junk, 'x', sizeof(junk) - 1);
    junk[sizeof(junk) - 1] = '\0';
    write_file(path, junk);
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_relation *rel = (struct hark_relation *)1;
    assert_int_equal(
        hark_relation_open(fx->dir, &fx->cfg, &fx->score, &diag, &rel),
        HARK_EIO);
    assert_null(rel);
    assert_int_equal(diag.n_errors, 1);
    const char *msg = diag.entries[0].message;
    assert_non_null(strstr(msg, path));
    assert_non_null(strstr(msg, "not a database"));
    hark_diag_cleanup(&diag);
    rm_state(fx->dir, "relation.sqlite");
    fx_open(fx);
}

static void test_hark_relation_open__locked_by_another(void **state)
{
    struct fx *fx = *state;
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_relation *rel = NULL;
    assert_int_equal(
        hark_relation_open(fx->dir, &fx->cfg, &fx->score, &diag, &rel),
        HARK_EIO);
    assert_null(rel);
    assert_int_equal(diag.n_errors, 1);
    assert_non_null(strstr(diag.entries[0].message, "locked by another"));
    assert_non_null(strstr(diag.entries[0].message, "relation.sqlite"));
    hark_diag_cleanup(&diag);
}

static void test_hark_relation_open__unwritable_dir(void **state)
{
    struct fx *fx = *state;
    char path[128];
    snprintf(path, sizeof(path), "%s/file", fx->dir);
    write_file(path, "x");
    char sub[160];
    snprintf(sub, sizeof(sub), "%s/sub", path);
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_relation *rel = NULL;
    assert_int_equal(
        hark_relation_open(sub, &fx->cfg, &fx->score, &diag, &rel), HARK_EIO);
    assert_null(rel);
    assert_int_equal(diag.n_errors, 1);
    hark_diag_cleanup(&diag);
    (void)unlink(path);
}

/* ---- config ---- */

static hark_err_t parse_cfg(const char *text, struct hark_relation_cfg *cfg,
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
    hark_err_t err = hark_relation_cfg_parse(doc, doc->root, diag, cfg);
    hark_json_doc_free(doc);
    return err;
}

static void test_hark_relation_cfg_parse__overrides(void **state)
{
    (void)state;
    struct hark_relation_cfg cfg;
    hark_relation_cfg_init(&cfg);
    assert_true(cfg.churn_k == 4);
    assert_int_equal(cfg.churn_tags.n, 1);
    assert_int_equal(cfg.strangers_ttl_ms, 90 * DAY);
    assert_int_equal(cfg.max_strangers, 0);
    struct hark_diag diag;
    hark_diag_init(&diag);
    assert_int_equal(
        parse_cfg("{\"churn\": {\"k\": 2.5, \"min_posts\": 4,"
                  " \"intent_tags\": [\"intent:cancel\", \"intent:switch\"],"
                  " \"at_risk_days\": 7},"
                  " \"silence\": {\"min_hours\": 1.5},"
                  " \"segments\": {\"strangers\": true},"
                  " \"applied_window\": 5000, \"strangers_ttl_days\": 30,"
                  " \"max_strangers\": 100000}",
                  &cfg, &diag),
        HARK_OK);
    assert_true(cfg.churn_k == 2.5);
    assert_int_equal(cfg.churn_min_posts, 4);
    assert_int_equal(cfg.churn_tags.n, 2);
    assert_string_equal(cfg.churn_tags.v[1], "intent:switch");
    assert_int_equal(cfg.at_risk_ms, 7 * DAY);
    assert_int_equal(cfg.silence_min_ms, 90 * 60000);
    assert_true(cfg.is_segment_strangers);
    assert_int_equal(cfg.applied_window, 5000);
    assert_int_equal(cfg.strangers_ttl_ms, 30 * DAY);
    assert_int_equal(cfg.max_strangers, 100000);
    assert_true(cfg.churn_min_drop == 0.6); /* untouched */
    hark_diag_cleanup(&diag);
    hark_relation_cfg_cleanup(&cfg);
}

static void test_hark_relation_cfg_parse__errors_have_positions(void **state)
{
    (void)state;
    struct hark_relation_cfg cfg;
    hark_relation_cfg_init(&cfg);
    struct hark_diag diag;
    hark_diag_init(&diag);
    assert_int_equal(parse_cfg("{\"churn\": {\"k\": 0,\n"
                               "  \"kk\": 1},\n"
                               " \"baseline\": {\"sentiment_alpha\": 1.5},\n"
                               " \"applied_window\": 10}",
                               &cfg, &diag),
                     HARK_EINVAL);
    assert_int_equal(diag.n_errors, 4);
    bool has_unknown = false;
    bool has_k = false;
    for (size_t i = 0; i < diag.n_entries; i++) {
        const struct hark_diag_entry *e = &diag.entries[i];
        assert_string_equal(e->file, "hark.json");
        if (strstr(e->message, "unknown key \"kk\"")) {
            has_unknown = true;
            assert_int_equal(e->line, 2);
            assert_int_equal(e->column, 3);
        }
        if (strstr(e->message, "relationship.churn.k must be greater")) {
            has_k = true;
            assert_int_equal(e->line, 1);
            assert_int_equal(e->column, 17);
        }
    }
    assert_true(has_unknown);
    assert_true(has_k);
    assert_true(cfg.churn_k == 4); /* unchanged on failure */
    hark_diag_cleanup(&diag);
    hark_relation_cfg_cleanup(&cfg);
}

static void test_hark_relation_cfg_parse__bad_retention(void **state)
{
    (void)state;
    struct hark_relation_cfg cfg;
    hark_relation_cfg_init(&cfg);
    struct hark_diag diag;
    hark_diag_init(&diag);
    assert_int_equal(parse_cfg("{\"strangers_ttl_days\": -1,\n"
                               " \"max_strangers\": 1.5}",
                               &cfg, &diag),
                     HARK_EINVAL);
    assert_int_equal(diag.n_errors, 2);
    assert_int_equal(diag.entries[0].line, 2);
    assert_non_null(strstr(diag.entries[0].message,
                           "\"max_strangers\" in relationship must be"));
    assert_int_equal(diag.entries[1].line, 1);
    assert_int_equal(diag.entries[1].column, 24);
    assert_non_null(strstr(diag.entries[1].message,
                           "relationship.strangers_ttl_days must be at "
                           "least 0 and at most 36500, not -1"));
    assert_int_equal(cfg.strangers_ttl_ms, 90 * DAY); /* unchanged */
    hark_diag_cleanup(&diag);
    hark_relation_cfg_cleanup(&cfg);
}

static void test_hark_relation_cfg_parse__not_an_object(void **state)
{
    (void)state;
    struct hark_relation_cfg cfg;
    hark_relation_cfg_init(&cfg);
    struct hark_diag diag;
    hark_diag_init(&diag);
    assert_int_equal(parse_cfg("[1]", &cfg, &diag), HARK_EINVAL);
    assert_int_equal(diag.n_errors, 1);
    assert_non_null(strstr(diag.entries[0].message, "must be an object"));
    hark_diag_cleanup(&diag);
    hark_diag_init(&diag);
    assert_int_equal(
        parse_cfg("{\"churn\": {\"intent_tags\": [\"\"]}}", &cfg, &diag),
        HARK_EINVAL);
    assert_int_equal(cfg.churn_tags.n, 1);
    hark_diag_cleanup(&diag);
    hark_relation_cfg_cleanup(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_hark_relation_observe__recommendation_signal),
        T(test_hark_relation_observe__signal_ids_are_stable),
        T(test_hark_relation_observe__positive_mention_counts),
        T(test_hark_relation_observe__exactly_once),
        T(test_hark_relation_observe__uncommitted_is_redone),
        T(test_hark_relation_observe__edit_counts_new_acts_only),
        T(test_hark_relation_adjust__customer_counts_live),
        T(test_hark_relation_adjust__unknown_author),
        T(test_hark_relation_observe__stranger_becomes_customer),
        T(test_hark_relation_observe__ignores_tombstones),
        T(test_hark_relation_observe__churn_on_sharp_drop),
        T(test_hark_relation_observe__no_churn_for_moody_author),
        T(test_hark_relation_observe__no_churn_without_baseline),
        T(test_hark_relation_observe__no_churn_low_value),
        T(test_hark_relation_observe__churn_on_cancel_intent),
        T(test_hark_relation_observe__churn_on_advocate_complaint),
        T(test_hark_relation_tick__silence_after_m_gaps),
        T(test_hark_relation_tick__no_silence_for_strangers),
        T(test_hark_relation__segment_transitions),
        T(test_hark_relation_open__state_survives_restart),
        T(test_hark_relation_observe__window_forgets_oldest),
        T(test_hark_relation_open__corrupt_file),
        T(test_hark_relation_open__locked_by_another),
        T(test_hark_relation_open__unwritable_dir),
        T(test_hark_relation_commit__forgets_idle_strangers),
        T(test_hark_relation_commit__ttl_zero_keeps_strangers),
        T(test_hark_relation_commit__max_strangers_keeps_newest),
        T(test_hark_relation_commit__forgets_in_batches),
        T(test_hark_relation_open__idle_strangers_indexed),
        T(test_hark_relation_commit__forgets_old_conversations),
#undef T
        cmocka_unit_test(test_hark_relation_cfg_parse__overrides),
        cmocka_unit_test(test_hark_relation_cfg_parse__errors_have_positions),
        cmocka_unit_test(test_hark_relation_cfg_parse__not_an_object),
        cmocka_unit_test(test_hark_relation_cfg_parse__bad_retention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
