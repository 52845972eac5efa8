/*
 * churn_false_alarms: how often churn_risk fires on ordinary variation,
 * how often it catches a real turn, and what an observation and a commit
 * cost, on a synthetic stream through hark_relation_observe().
 *
 * Each author has their own usual tone: mean ~ U(-0.3, 0.8), sd ~ U(0.05,
 * 0.35); their posts are clamp(mean + sd N(0,1), -1, 1), all by valuable
 * customers (clv 5000), interleaved author by author. After the ordinary
 * posts, every author with mean >= 0.3 writes one post at -0.7 +- 0.1 (a
 * happy customer turning sharply negative).
 *
 * A measurement, not a test: not built by default. Build it in an
 * unsanitized build:
 *
 *   cmake -S . -B /tmp/build-bench -DCMAKE_BUILD_TYPE=Release
 *   cmake --build /tmp/build-bench --target hark_bench_churn
 *   /tmp/build-bench/hark_bench_churn [authors posts k alpha min_posts
 *                                      commit_every]
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hark/relation.h"
#include "hark/score.h"

#define T0 1793534400000LL
#define DAY 86400000LL

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static double uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
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

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double clamp1(double x)
{
    return x < -1 ? -1 : (x > 1 ? 1 : x);
}

/* CPU time: this machine is shared, wall time says more about neighbours. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct hark_item *make(int author, int k, double x)
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

static size_t churns(const struct hark_signal_list *sigs)
{
    size_t n = 0;
    for (size_t i = 0; i < sigs->n; i++) {
        n += sigs->v[i].kind == HARK_SIGNAL_CHURN_RISK ? 1 : 0;
    }
    return n;
}

int main(int argc, char **argv)
{
    int n_authors = argc > 1 ? atoi(argv[1]) : 10000;
    int n_posts = argc > 2 ? atoi(argv[2]) : 50;
    struct hark_relation_cfg cfg;
    hark_relation_cfg_init(&cfg);
    if (argc > 3) {
        cfg.churn_k = atof(argv[3]);
    }
    if (argc > 4) {
        cfg.sentiment_alpha = atof(argv[4]);
    }
    if (argc > 5) {
        cfg.churn_min_posts = atoi(argv[5]);
    }
    int commit_every = argc > 6 ? atoi(argv[6]) : 10000;
    char dir[] = "/tmp/hark-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    struct hark_score_cfg score;
    hark_score_cfg_init(&score);
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_relation *rel = NULL;
    if (hark_relation_open(dir, &cfg, &score, &diag, &rel) != HARK_OK) {
        hark_diag_print(&diag, stderr);
        return 1;
    }
    double *mean = calloc((size_t)n_authors, sizeof(*mean));
    double *sd = calloc((size_t)n_authors, sizeof(*sd));
    unsigned char *hit = calloc((size_t)n_authors, 1);
    for (int i = 0; i < n_authors; i++) {
        mean[i] = -0.3 + 1.1 * uniform();
        sd[i] = 0.05 + 0.30 * uniform();
    }
    struct hark_signal_list sigs;
    hark_signal_list_init(&sigs);
    size_t n_alarms = 0, n_hit = 0, n_obs = 0, n_commits = 0;
    size_t n_clear = 0, n_clear_hit = 0; /* turns of >= 4 true sd */
    double t_commit = 0, w_commit = 0;
    char eb[512];
    size_t n_signals = 0;
    double t_loop = now_s();
    for (int k = 0; k <= n_posts; k++) {
        for (int i = 0; i < n_authors; i++) {
            bool is_turn = k == n_posts;
            if (is_turn && mean[i] < 0.3) {
                continue;
            }
            double x = is_turn ? clamp1(-0.7 + 0.1 * gauss())
                               : clamp1(mean[i] + sd[i] * gauss());
            struct hark_item *item = make(i, k, x);
            char id[17];
            snprintf(id, sizeof(id), "%08x%08x", (unsigned)i, (unsigned)k);
            hark_signal_list_clear(&sigs);
            if (hark_relation_observe(rel, item, id, T0, &sigs) != HARK_OK) {
                return 1;
            }
            hark_relation_adjust(rel, item);
            n_signals += sigs.n;
            size_t n = churns(&sigs);
            if (is_turn) {
                n_hit += n ? 1 : 0;
                if ((x - mean[i]) / sd[i] <= -4) {
                    n_clear++;
                    n_clear_hit += n ? 1 : 0;
                }
            } else {
                n_alarms += n;
                hit[i] |= n ? 1 : 0;
            }
            hark_item_free(item);
            if (++n_obs % (size_t)commit_every == 0) {
                double c0 = now_s();
                double w0 = wall_s();
                if (hark_relation_commit(rel, eb, sizeof(eb)) != HARK_OK) {
                    fprintf(stderr, "%s\n", eb);
                    return 1;
                }
                t_commit += now_s() - c0;
                w_commit += wall_s() - w0;
                n_commits++;
            }
        }
    }
    t_loop = now_s() - t_loop;
    /* The same items built and freed without hark: the harness's share. */
    double t_build = now_s();
    for (size_t n = 0; n < n_obs; n++) {
        struct hark_item *item = make((int)(n % (size_t)n_authors),
                                      (int)(n / (size_t)n_authors), 0.1);
        char id[17];
        snprintf(id, sizeof(id), "%08x%08x", (unsigned)n, 0u);
        hark_item_free(item);
    }
    t_build = now_s() - t_build;
    double t_observe = t_loop - t_commit - t_build;
    size_t n_turned = n_obs - (size_t)n_authors * (size_t)n_posts;
    size_t n_alarmed = 0;
    for (int i = 0; i < n_authors; i++) {
        n_alarmed += hit[i];
    }
    size_t n_ordinary = (size_t)n_authors * (size_t)n_posts;
    printf("config: k %.2f alpha %.3f min_posts %" PRId64 " min_drop %.2f "
           "max_value %.2f sd_floor %.2f\n",
           cfg.churn_k, cfg.sentiment_alpha, cfg.churn_min_posts,
           cfg.churn_min_drop, cfg.churn_max_value, cfg.churn_sd_floor);
    printf("false alarms: %zu in %zu ordinary posts (%.4f%%); %zu of %d "
           "authors (%.2f%%) alarmed at least once in %d posts\n",
           n_alarms, n_ordinary, 100.0 * (double)n_alarms / (double)n_ordinary,
           n_alarmed, n_authors, 100.0 * (double)n_alarmed / n_authors,
           n_posts);
    printf("sharp turns caught: %zu of %zu (%.1f%%); of those at least 4 "
           "of the author's own sd below their mean: %zu of %zu (%.1f%%)\n",
           n_hit, n_turned,
           n_turned ? 100.0 * (double)n_hit / (double)n_turned : 0,
           n_clear_hit, n_clear,
           n_clear ? 100.0 * (double)n_clear_hit / (double)n_clear : 0);
    printf("observe+adjust: %.0f /s (%.2f us CPU each); commits: %zu, "
           "%.1f ms CPU and %.1f ms wall each (%d observations per commit, "
           "%d authors)\n",
           (double)n_obs / t_observe, 1e6 * t_observe / (double)n_obs,
           n_commits, n_commits ? 1e3 * t_commit / (double)n_commits : 0,
           n_commits ? 1e3 * w_commit / (double)n_commits : 0, commit_every,
           n_authors);
    printf("signals raised: %zu (%.2f%% of observations)\n", n_signals,
           100.0 * (double)n_signals / (double)n_obs);
    hark_signal_list_cleanup(&sigs);
    hark_relation_free(rel);
    hark_diag_cleanup(&diag);
    hark_relation_cfg_cleanup(&cfg);
    hark_score_cfg_cleanup(&score);
    free(mean);
    free(sd);
    free(hit);
    char path[128];
    static const char *const names[] = {"relation.sqlite",
                                        "relation.sqlite-wal",
                                        "relation.sqlite-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        (void)unlink(path);
    }
    (void)rmdir(dir);
    return 0;
}
