/*
 * Tests for enrich/baseline.c: the EW statistics, the churn test, the
 * segments, and the churn test's false-alarm rate on a synthetic stream
 * (10,000 authors x 50 posts, each author's sentiment drawn around their
 * own mean) through the whole relation (hark_relation_observe).
 */
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "enrich/relation_int.h"
#include "hark/relation.h"
#include "hark/score.h"

#define T0 1793534400000LL
#define HOUR 3600000LL
#define DAY (24 * HOUR)

static void test_hark_baseline_add_sentiment__running_mean_first(void **state)
{
    (void)state;
    struct hark_baseline bl = {0};
    const double xs[] = {0.2, 0.6, -0.1, 0.5};
    for (size_t i = 0; i < 4; i++) {
        hark_baseline_add_sentiment(&bl, 0.1, xs[i]);
    }
    /* n <= 1/alpha: the plain mean and population variance */
    double mean = (0.2 + 0.6 - 0.1 + 0.5) / 4;
    double var = 0;
    for (size_t i = 0; i < 4; i++) {
        var += (xs[i] - mean) * (xs[i] - mean);
    }
    var /= 4;
    assert_int_equal(bl.n_scored, 4);
    assert_true(fabs(bl.sent_mean - mean) < 1e-12);
    assert_true(fabs(bl.sent_var - var) < 1e-12);
    hark_baseline_add_sentiment(&bl, 0.1, NAN);
    assert_int_equal(bl.n_scored, 4);
}

static void test_hark_baseline_add_sentiment__forgets(void **state)
{
    (void)state;
    struct hark_baseline bl = {0};
    for (int i = 0; i < 50; i++) {
        hark_baseline_add_sentiment(&bl, 0.1, 0.8);
    }
    assert_true(fabs(bl.sent_mean - 0.8) < 1e-9);
    assert_true(bl.sent_var < 1e-12);
    for (int i = 0; i < 30; i++) {
        hark_baseline_add_sentiment(&bl, 0.1, -0.2);
    }
    /* 30 posts at alpha 0.1: 0.9^30 = 4% of the old level is left */
    assert_true(fabs(bl.sent_mean - (-0.2 + 1.0 * pow(0.9, 30))) < 1e-9);
}

static void test_hark_baseline_add_post__gaps(void **state)
{
    (void)state;
    struct hark_baseline bl = {0};
    hark_baseline_add_post(&bl, 0.2, T0);
    assert_int_equal(bl.n_gaps, 0);
    hark_baseline_add_post(&bl, 0.2, T0 + 2 * HOUR);
    hark_baseline_add_post(&bl, 0.2, T0 + 6 * HOUR);
    assert_int_equal(bl.n_gaps, 2);
    assert_true(fabs(bl.gap_mean_ms - 3 * HOUR) < 1e-6);
    /* out of order: counted, no gap, last post unchanged */
    hark_baseline_add_post(&bl, 0.2, T0 + HOUR);
    assert_int_equal(bl.n_posts, 4);
    assert_int_equal(bl.n_gaps, 2);
    assert_int_equal(bl.last_post_ms, T0 + 6 * HOUR);
    assert_int_equal(bl.first_post_ms, T0);
}

static void test_hark_baseline_sentiment_drop__conditions(void **state)
{
    (void)state;
    struct hark_relation_cfg cfg;
    hark_relation_cfg_init(&cfg);
    struct hark_baseline bl = {.n_scored = 20, .sent_mean = 0.45,
                               .sent_var = 0.04};
    struct hark_deviation dev;
    assert_true(hark_baseline_sentiment_drop(&bl, &cfg, -0.8, &dev));
    assert_true(fabs(dev.z - (-1.25 / 0.2)) < 1e-9);
    assert_true(fabs(dev.sd - 0.2) < 1e-9);
    /* z only -2.5: within the author's range */
    assert_false(hark_baseline_sentiment_drop(&bl, &cfg, -0.05, &dev));
    /* too few posts */
    bl.n_scored = 7;
    assert_false(hark_baseline_sentiment_drop(&bl, &cfg, -0.8, &dev));
    /* a steady author: sd 0.01 is floored at 0.15, and the value must be
     * plainly negative (max_value -0.3) */
    bl.n_scored = 20;
    bl.sent_var = 0.0001;
    bl.sent_mean = 0.3;
    assert_false(hark_baseline_sentiment_drop(&bl, &cfg, 0.05, &dev));
    assert_true(fabs(dev.z - (-0.25 / 0.15)) < 1e-9);
    assert_false(hark_baseline_sentiment_drop(&bl, &cfg, -0.25, &dev));
    assert_true(hark_baseline_sentiment_drop(&bl, &cfg, -0.4, &dev));
    /* min_drop: an unhappy author getting a bit unhappier */
    bl.sent_mean = -0.4;
    bl.sent_var = 0.0001;
    cfg.churn_sd_floor = 0.01;
    assert_false(hark_baseline_sentiment_drop(&bl, &cfg, -0.9, &dev));
    hark_relation_cfg_cleanup(&cfg);
}

static void test_hark_rel_segment__rules(void **state)
{
    (void)state;
    struct hark_relation_cfg cfg;
    hark_relation_cfg_init(&cfg);
    struct hark_rel_author a = {0};
    a.bl.n_posts = 2;
    a.bl.n_scored = 2;
    a.bl.last_post_ms = T0;
    assert_int_equal(hark_rel_segment(&a, &cfg, T0), HARK_SEGMENT_NEW);
    a.file_recommendations = 3;
    assert_int_equal(hark_rel_segment(&a, &cfg, T0), HARK_SEGMENT_ADVOCATE);
    a.bl.n_posts = 10;
    a.bl.n_scored = 10;
    a.bl.n_gaps = 9;
    a.bl.gap_mean_ms = DAY;
    a.bl.sent_mean = 0.1; /* below advocate min_mean 0.2 */
    assert_int_equal(hark_rel_segment(&a, &cfg, T0), HARK_SEGMENT_LOYAL);
    a.bl.sent_mean = -0.3;
    assert_int_equal(hark_rel_segment(&a, &cfg, T0), HARK_SEGMENT_AT_RISK);
    a.bl.sent_mean = 0.5;
    a.last_churn_ms = T0 - DAY;
    assert_int_equal(hark_rel_segment(&a, &cfg, T0), HARK_SEGMENT_AT_RISK);
    assert_int_equal(hark_rel_segment(&a, &cfg, T0 + 29 * DAY),
                     HARK_SEGMENT_ADVOCATE);
    /* dormant: max(10 gaps, 30 days) */
    assert_int_equal(hark_rel_segment(&a, &cfg, T0 + 31 * DAY),
                     HARK_SEGMENT_DORMANT);
    a.bl.gap_mean_ms = 5 * DAY;
    assert_int_equal(hark_rel_segment(&a, &cfg, T0 + 31 * DAY),
                     HARK_SEGMENT_ADVOCATE);
    hark_relation_cfg_cleanup(&cfg);
}

static void test_hark_rel_silence_after_ms__floor(void **state)
{
    (void)state;
    struct hark_relation_cfg cfg;
    hark_relation_cfg_init(&cfg);
    struct hark_rel_author a = {0};
    a.bl.n_posts = 10;
    a.bl.n_gaps = 9;
    a.bl.gap_mean_ms = HOUR;
    assert_int_equal(hark_rel_silence_after_ms(&a, &cfg), 72 * HOUR);
    a.bl.gap_mean_ms = 2 * DAY;
    assert_int_equal(hark_rel_silence_after_ms(&a, &cfg), 10 * DAY);
    a.bl.n_posts = 4;
    assert_int_equal(hark_rel_silence_after_ms(&a, &cfg), 0);
    hark_relation_cfg_cleanup(&cfg);
}

/* ---- the synthetic stream ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double uniform(void)
{
    return (double)(rng() >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
    double u = uniform();
    double v = uniform();
    if (u < 1e-300) {
        u = 1e-300;
    }
    return sqrt(-2 * log(u)) * cos(2 * 3.14159265358979323846 * v);
}

static double clamp1(double x)
{
    return x < -1 ? -1 : (x > 1 ? 1 : x);
}

struct synth {
    double mean, sd;
};

static struct hark_item *synth_item(int author, int k, double x)
{
    struct hark_post *post = hark_post_new();
    post->platform = hark_xstrdup("mastodon");
    post->id = hark_xasprintf("%d-%d", author, k);
    char ts[32];
    hark_time_format(T0 + (int64_t)k * DAY + author, ts);
    post->created_at = hark_xstrdup(ts);
    post->author.id = hark_xasprintf("a%d", author);
    struct hark_item *item = hark_item_new(post);
    item->has_customer = true;
    item->customer.id = hark_xasprintf("c%d", author);
    item->customer.clv = 5000;
    item->sentiment.score = x;
    item->sentiment.label = x >= 0.05    ? HARK_SENTIMENT_POSITIVE
                            : x <= -0.05 ? HARK_SENTIMENT_NEGATIVE
                                         : HARK_SENTIMENT_NEUTRAL;
    return item;
}

static size_t count_churn(const struct hark_signal_list *sigs)
{
    size_t n = 0;
    for (size_t i = 0; i < sigs->n; i++) {
        n += sigs->v[i].kind == HARK_SIGNAL_CHURN_RISK ? 1 : 0;
    }
    return n;
}

static void test_hark_relation_observe__few_false_alarms(void **state)
{
    (void)state;
    enum { N_AUTHORS = 10000, N_POSTS = 50 };
    char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/hark-base-XXXXXX");
    assert_non_null(mkdtemp(dir));
    struct hark_relation_cfg cfg;
    hark_relation_cfg_init(&cfg);
    struct hark_score_cfg score;
    hark_score_cfg_init(&score);
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_relation *rel = NULL;
    assert_int_equal(hark_relation_open(dir, &cfg, &score, &diag, &rel),
                     HARK_OK);
    struct synth *au = calloc(N_AUTHORS, sizeof(*au));
    for (int i = 0; i < N_AUTHORS; i++) {
        au[i].mean = -0.3 + 1.1 * uniform(); /* -0.3 .. 0.8 */
        au[i].sd = 0.05 + 0.30 * uniform();  /* 0.05 .. 0.35 */
    }
    struct hark_signal_list sigs;
    hark_signal_list_init(&sigs);
    size_t n_alarms = 0;
    size_t n_authors_alarmed = 0;
    unsigned char *alarmed = calloc(N_AUTHORS, 1);
    char eb[256];
    clock_t c0 = clock();
    size_t n_obs = 0;
    for (int k = 0; k < N_POSTS; k++) {
        for (int i = 0; i < N_AUTHORS; i++) {
            double x = clamp1(au[i].mean + au[i].sd * gauss());
            struct hark_item *item = synth_item(i, k, x);
            char id[17];
            snprintf(id, sizeof(id), "%08x%08x", (unsigned)i, (unsigned)k);
            hark_signal_list_clear(&sigs);
            assert_int_equal(hark_relation_observe(rel, item, id, T0, &sigs),
                             HARK_OK);
            size_t n = count_churn(&sigs);
            n_alarms += n;
            if (n && !alarmed[i]) {
                alarmed[i] = 1;
                n_authors_alarmed++;
            }
            hark_item_free(item);
            if (++n_obs % 50000 == 0) {
                assert_int_equal(hark_relation_commit(rel, eb, sizeof(eb)),
                                 HARK_OK);
            }
        }
    }
    double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;

    /* Then happy authors (mean >= 0.3) turn sharply negative once. */
    size_t n_turned = 0;
    size_t n_caught = 0;
    size_t n_clear = 0; /* turns of at least 4 of the author's own sd */
    size_t n_clear_caught = 0;
    for (int i = 0; i < N_AUTHORS; i++) {
        if (au[i].mean < 0.3) {
            continue;
        }
        double x = clamp1(-0.7 + 0.1 * gauss());
        struct hark_item *item = synth_item(i, N_POSTS, x);
        char id[17];
        snprintf(id, sizeof(id), "%08x%08x", (unsigned)i, (unsigned)N_POSTS);
        hark_signal_list_clear(&sigs);
        assert_int_equal(hark_relation_observe(rel, item, id, T0, &sigs),
                         HARK_OK);
        bool is_caught = count_churn(&sigs) > 0;
        n_turned++;
        n_caught += is_caught ? 1 : 0;
        if ((x - au[i].mean) / au[i].sd <= -4) {
            n_clear++;
            n_clear_caught += is_caught ? 1 : 0;
        }
        hark_item_free(item);
    }
    assert_int_equal(hark_relation_commit(rel, eb, sizeof(eb)), HARK_OK);

    double per_post = (double)n_alarms / (double)n_obs;
    double per_author = (double)n_authors_alarmed / N_AUTHORS;
    double caught = (double)n_caught / (double)n_turned;
    double clear = (double)n_clear_caught / (double)n_clear;
    printf("churn false alarms: %zu in %zu posts (%.4f%%), %zu of %d "
           "authors (%.2f%%); sharp turns caught: %zu of %zu (%.1f%%), "
           "of >= 4 sd: %zu of %zu (%.1f%%); %.0f observations/s (this "
           "build)\n",
           n_alarms, n_obs, 100 * per_post, n_authors_alarmed, N_AUTHORS,
           100 * per_author, n_caught, n_turned, 100 * caught,
           n_clear_caught, n_clear, 100 * clear,
           (double)n_obs / (secs > 0 ? secs : 1e-9));
    /* The defaults are tuned for < 0.03% of posts falsely alarmed and
     * > 95% of the clear turns caught. */
    assert_true(per_post < 0.0003);
    assert_true(clear > 0.95);

    hark_signal_list_cleanup(&sigs);
    free(alarmed);
    free(au);
    hark_relation_free(rel);
    hark_diag_cleanup(&diag);
    hark_relation_cfg_cleanup(&cfg);
    hark_score_cfg_cleanup(&score);
    char path[128];
    static const char *const names[] = {"relation.sqlite",
                                        "relation.sqlite-wal",
                                        "relation.sqlite-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        (void)unlink(path);
    }
    (void)rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_hark_baseline_add_sentiment__running_mean_first),
        cmocka_unit_test(test_hark_baseline_add_sentiment__forgets),
        cmocka_unit_test(test_hark_baseline_add_post__gaps),
        cmocka_unit_test(test_hark_baseline_sentiment_drop__conditions),
        cmocka_unit_test(test_hark_rel_segment__rules),
        cmocka_unit_test(test_hark_rel_silence_after_ms__floor),
        cmocka_unit_test(test_hark_relation_observe__few_false_alarms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
