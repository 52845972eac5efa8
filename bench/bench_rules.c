/*
 * bench_rules: the rules engine on the reference workload, with and
 * without the Hyperscan prefilter (DESIGN.md "Performance budget").
 * Not a test; bench/run_rules_bench.sh runs it once per K and prints the
 * table.
 *
 *   hark_bench_rules --dir DIR --k K [--posts N] [--naive-s S] [--cold]
 *                    [--verify] [--threads T]
 *
 * DIR is what bench/gen_workload.py wrote (corpus.ndjson,
 * rules/rules-K.json). In order:
 *
 *   1. compile, each in a forked child (so its peak RSS is its own):
 *      PCRE2 only (HARK_PREFILTER=0); cold (an empty cache directory,
 *      only with --cold); then twice with DIR/cache: the first fills it
 *      (cold when it was empty), the second is warm.
 *   2. the corpus, parsed into posts in memory (not timed).
 *   3. posts per CPU-second of one thread: naive (every rule on every
 *      post, for at most S seconds: at 10,000 rules it is slow) and
 *      prefilter + PCRE2 confirmation (every post).
 *   4. --verify: both paths on every post (T threads), comparing matched
 *      rules, spans, tags, action, points and route; any difference is
 *      printed and the exit status is 1.
 *
 * Output: one line of key=value pairs, for the script.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hark/diag.h"
#include "hark/item.h"
#include "hark/json.h"
#include "hark/post.h"
#include "hark/rules.h"

#include "filters/prefilter_int.h"
#include "filters/rules_int.h"

struct opts {
    const char *dir;
    long k;
    long max_posts;
    double naive_s;
    bool is_cold;
    bool is_verify;
    bool is_profile;
    int n_threads;
};

struct load_result {
    int ok;
    double wall_s;
    long maxrss_kb;
    struct hark_prefilter_stats pf;
    int has_pf;
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct hark_rules *load_rules(const struct opts *o, double *wall_s)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/rules/rules-%ld.json", o->dir, o->k);
    const char *paths[] = {path};
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_rules *rules = NULL;
    double t0 = mono_s();
    if (hark_rules_load(paths, 1, &diag, &rules) != HARK_OK) {
        hark_diag_print(&diag, stderr);
    }
    *wall_s = mono_s() - t0;
    hark_diag_cleanup(&diag);
    return rules;
}

/* Loads the rules in a child with `env` set; reports time and RSS. */
static struct load_result
load_in_child(const struct opts *o, const char *name, const char *value)
{
    struct load_result res;
    memset(&res, 0, sizeof(res));
    int fds[2];
    if (pipe(fds) != 0) {
        return res;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        setenv(name, value, 1);
        struct hark_rules *rules = load_rules(o, &res.wall_s);
        res.ok = rules != NULL;
        if (rules && rules->prefilter) {
            res.pf = *hark_prefilter_stats(rules->prefilter);
            res.has_pf = 1;
        }
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        res.maxrss_kb = ru.ru_maxrss;
        if (write(fds[1], &res, sizeof(res)) != (ssize_t)sizeof(res)) {
            _exit(1);
        }
        _exit(0);
    }
    close(fds[1]);
    if (pid > 0) {
        if (read(fds[0], &res, sizeof(res)) != (ssize_t)sizeof(res)) {
            memset(&res, 0, sizeof(res));
        }
        waitpid(pid, NULL, 0);
    }
    close(fds[0]);
    return res;
}

static void rm_cache_files(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not empty %s\n", dir);
    }
}

/* ------------------------------------------------------------------ */
/* Corpus                                                              */

static struct hark_post **load_corpus(const struct opts *o, size_t *n_out)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/corpus.ndjson", o->dir);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        perror(path);
        exit(2);
    }
    size_t cap = 1024;
    size_t n = 0;
    struct hark_post **posts = hark_xmalloc(cap * sizeof(*posts));
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    struct hark_json_opts jo = {.validate_utf8 = false, .max_depth = 64};
    while ((len = getline(&line, &line_cap, fp)) > 0 &&
           (o->max_posts <= 0 || (long)n < o->max_posts)) {
        struct hark_json_doc *doc = NULL;
        char err[256];
        size_t off = 0;
        if (hark_json_parse(line, (size_t)len, path, &jo, &doc, err,
                            sizeof(err), &off) != HARK_OK) {
            fprintf(stderr, "%s:%zu: %s\n", path, n + 1, err);
            exit(2);
        }
        struct hark_post *post = NULL;
        if (hark_post_from_json(doc->root, &post, err, sizeof(err)) !=
            HARK_OK) {
            fprintf(stderr, "%s:%zu: %s\n", path, n + 1, err);
            exit(2);
        }
        hark_json_doc_free(doc);
        if (n == cap) {
            cap *= 2;
            posts = hark_xrealloc(posts, cap * sizeof(*posts));
        }
        posts[n++] = post;
    }
    free(line);
    fclose(fp);
    *n_out = n;
    return posts;
}

/* ------------------------------------------------------------------ */
/* Throughput                                                          */

static struct hark_item *apply(const struct hark_rules *rules,
                               struct hark_rules_scratch *sc,
                               struct hark_post *post)
{
    struct hark_item *item = hark_item_new(post);
    hark_rules_apply(rules, sc, item);
    return item;
}

static void release(struct hark_item *item)
{
    item->post = NULL; /* the corpus keeps its posts */
    hark_item_free(item);
}

struct run_result {
    size_t n_posts;
    double cpu_s;
    size_t n_matched_posts;
    size_t n_matches;
    double candidates_per_post;
};

static struct run_result run(const struct hark_rules *rules,
                             struct hark_post **posts,
                             size_t n_posts,
                             bool use_prefilter,
                             double budget_s)
{
    struct run_result r;
    memset(&r, 0, sizeof(r));
    struct hark_rules_scratch *sc = hark_rules_scratch_new();
    hark_rules_scratch_use_prefilter(sc, use_prefilter);
    double t0 = cpu_s();
    size_t i = 0;
    for (; i < n_posts; i++) {
        struct hark_item *item = apply(rules, sc, posts[i]);
        r.n_matched_posts += item->n_matches > 0;
        r.n_matches += item->n_matches;
        release(item);
        if (budget_s > 0 && (i & 15) == 15 && cpu_s() - t0 > budget_s) {
            i++;
            break;
        }
    }
    r.cpu_s = cpu_s() - t0;
    r.n_posts = i;
    const struct hark_rules_pf_counters *c = hark_rules_scratch_pf_counters(sc);
    if (c->n_posts > 0) {
        r.candidates_per_post = (double)c->n_candidates / (double)c->n_posts;
    }
    hark_rules_scratch_free(sc);
    return r;
}

/* ------------------------------------------------------------------ */
/* Verification                                                        */

static bool strv_equal(const struct hark_strv *a, const struct hark_strv *b)
{
    if (a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->v[i], b->v[i]) != 0) {
            return false;
        }
    }
    return true;
}

static bool items_equal(const struct hark_item *a, const struct hark_item *b)
{
    if (a->n_matches != b->n_matches || a->action != b->action ||
        a->rule_points != b->rule_points || !strv_equal(&a->tags, &b->tags) ||
        !strv_equal(&a->author_tags, &b->author_tags)) {
        return false;
    }
    if ((a->rule_route == NULL) != (b->rule_route == NULL) ||
        (a->rule_route && strcmp(a->rule_route, b->rule_route) != 0)) {
        return false;
    }
    for (size_t i = 0; i < a->n_matches; i++) {
        const struct hark_match *x = &a->matches[i];
        const struct hark_match *y = &b->matches[i];
        if (strcmp(x->rule, y->rule) != 0 || x->n_spans != y->n_spans ||
            !strv_equal(&x->tags, &y->tags)) {
            return false;
        }
        for (size_t k = 0; k < x->n_spans; k++) {
            if (x->spans[k].field != y->spans[k].field ||
                x->spans[k].start != y->spans[k].start ||
                x->spans[k].end != y->spans[k].end) {
                return false;
            }
        }
    }
    return true;
}

struct verify_job {
    const struct hark_rules *rules;
    struct hark_post **posts;
    size_t begin, end;
    size_t n_diff;
    size_t n_pairs;
};

static void *verify_worker(void *arg)
{
    struct verify_job *job = arg;
    struct hark_rules_scratch *naive = hark_rules_scratch_new();
    struct hark_rules_scratch *fast = hark_rules_scratch_new();
    hark_rules_scratch_use_prefilter(naive, false);
    for (size_t i = job->begin; i < job->end; i++) {
        struct hark_item *a = apply(job->rules, naive, job->posts[i]);
        struct hark_item *b = apply(job->rules, fast, job->posts[i]);
        job->n_pairs += a->n_matches;
        if (!items_equal(a, b)) {
            if (job->n_diff < 5) {
                fprintf(stderr,
                        "DIFF post %zu (%s): naive %zu matches, "
                        "prefilter %zu\n",
                        i, job->posts[i]->id, a->n_matches, b->n_matches);
            }
            job->n_diff++;
        }
        release(a);
        release(b);
    }
    hark_rules_scratch_free(naive);
    hark_rules_scratch_free(fast);
    return NULL;
}

static size_t verify(const struct hark_rules *rules,
                     struct hark_post **posts,
                     size_t n_posts,
                     int n_threads,
                     size_t *n_pairs)
{
    struct verify_job *jobs = hark_xcalloc((size_t)n_threads, sizeof(*jobs));
    pthread_t *tids = hark_xcalloc((size_t)n_threads, sizeof(*tids));
    for (int t = 0; t < n_threads; t++) {
        jobs[t].rules = rules;
        jobs[t].posts = posts;
        jobs[t].begin = n_posts * (size_t)t / (size_t)n_threads;
        jobs[t].end = n_posts * (size_t)(t + 1) / (size_t)n_threads;
        if (pthread_create(&tids[t], NULL, verify_worker, &jobs[t]) != 0) {
            verify_worker(&jobs[t]);
            tids[t] = 0;
        }
    }
    size_t n_diff = 0;
    *n_pairs = 0;
    for (int t = 0; t < n_threads; t++) {
        if (tids[t]) {
            pthread_join(tids[t], NULL);
        }
        n_diff += jobs[t].n_diff;
        *n_pairs += jobs[t].n_pairs;
    }
    free(jobs);
    free(tids);
    return n_diff;
}

/* ------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: hark_bench_rules --dir DIR --k K [--posts N] "
                    "[--naive-s S] [--cold] [--verify] [--threads T]\n");
    exit(2);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->naive_s = 5;
    o->n_threads = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--dir") == 0 && v) {
            o->dir = v;
            i++;
        } else if (strcmp(a, "--k") == 0 && v) {
            o->k = atol(v);
            i++;
        } else if (strcmp(a, "--posts") == 0 && v) {
            o->max_posts = atol(v);
            i++;
        } else if (strcmp(a, "--naive-s") == 0 && v) {
            o->naive_s = atof(v);
            i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            o->n_threads = atoi(v) > 0 ? atoi(v) : 1;
            i++;
        } else if (strcmp(a, "--cold") == 0) {
            o->is_cold = true;
        } else if (strcmp(a, "--verify") == 0) {
            o->is_verify = true;
        } else if (strcmp(a, "--profile") == 0) {
            o->is_profile = true; /* only the prefilter loop, for perf */
        } else {
            usage();
        }
    }
    if (!o->dir || o->k <= 0) {
        usage();
    }
}

int main(int argc, char **argv)
{
    struct opts o;
    parse_args(argc, argv, &o);
    char cache[4096];
    char cold_cache[4096];
    snprintf(cache, sizeof(cache), "%s/cache", o.dir);
    snprintf(cold_cache, sizeof(cold_cache), "%s/cache-cold", o.dir);

    if (o.is_profile) {
        size_t n = 0;
        struct hark_post **all = load_corpus(&o, &n);
        setenv("HARK_CACHE_DIR", cache, 1);
        double w = 0;
        struct hark_rules *r = load_rules(&o, &w);
        for (int i = 0; i < 3 && r; i++) {
            struct run_result f = run(r, all, n, true, 0);
            printf("pf_pps=%.0f\n", (double)f.n_posts / f.cpu_s);
        }
        return 0;
    }
    struct load_result pcre = load_in_child(&o, "HARK_PREFILTER", "0");
    struct load_result cold;
    memset(&cold, 0, sizeof(cold));
    if (o.is_cold) {
        rm_cache_files(cold_cache);
        cold = load_in_child(&o, "HARK_CACHE_DIR", cold_cache);
        rm_cache_files(cold_cache);
    }
    struct load_result fill = load_in_child(&o, "HARK_CACHE_DIR", cache);
    struct load_result warm = load_in_child(&o, "HARK_CACHE_DIR", cache);
    if (!pcre.ok || !fill.ok || !warm.ok) {
        fprintf(stderr, "rules did not load\n");
        return 2;
    }
    if (!o.is_cold && fill.pf.n_compiled == fill.pf.n_shards &&
        fill.pf.n_shards > 0) {
        cold = fill; /* the cache was empty: that load was cold */
    }

    size_t n_posts = 0;
    struct hark_post **posts = load_corpus(&o, &n_posts);
    setenv("HARK_CACHE_DIR", cache, 1);
    double wall = 0;
    struct hark_rules *rules = load_rules(&o, &wall);
    if (!rules || !rules->prefilter) {
        fprintf(stderr, "no prefilter\n");
        return 2;
    }
    struct run_result naive = run(rules, posts, n_posts, false, o.naive_s);
    struct run_result fast = run(rules, posts, n_posts, true, 0);
    /* The naive run covered a prefix: compare on the same prefix. */
    struct run_result fast_prefix = run(rules, posts, naive.n_posts, true, 0);

    size_t n_diff = 0;
    size_t n_pairs = 0;
    if (o.is_verify) {
        double t0 = mono_s();
        n_diff = verify(rules, posts, n_posts, o.n_threads, &n_pairs);
        fprintf(stderr,
                "verify K=%ld: %zu posts, %zu (post, rule) pairs, "
                "%zu differences, %.1f s\n",
                o.k, n_posts, n_pairs, n_diff, mono_s() - t0);
    }
    const struct hark_prefilter_stats *st =
        hark_prefilter_stats(rules->prefilter);
    printf("k=%ld posts=%zu naive_posts=%zu naive_pps=%.0f pf_pps=%.0f "
           "pf_matched_posts=%zu pf_matches=%zu prefix_matches_naive=%zu "
           "prefix_matches_pf=%zu cand_per_post=%.2f "
           "pcre_load_s=%.3f pcre_rss_kb=%ld "
           "cold_s=%.3f cold_rss_kb=%ld warm_s=%.3f warm_rss_kb=%ld "
           "fill_s=%.3f shards=%zu literal_conds=%zu regex_conds=%zu "
           "literals=%zu fallback=%zu always=%zu db_bytes=%zu "
           "warm_cached=%zu verify=%s diffs=%zu pairs=%zu\n",
           o.k, n_posts, naive.n_posts, (double)naive.n_posts / naive.cpu_s,
           (double)fast.n_posts / fast.cpu_s, fast.n_matched_posts,
           fast.n_matches, naive.n_matches, fast_prefix.n_matches,
           fast.candidates_per_post, pcre.wall_s, pcre.maxrss_kb, cold.wall_s,
           cold.maxrss_kb, warm.wall_s, warm.maxrss_kb, fill.wall_s,
           st->n_shards, st->n_literal, st->n_regex, st->n_literals,
           st->n_fallback, st->n_always_rules, st->db_bytes, warm.pf.n_cached,
           o.is_verify ? "yes" : "no", n_diff, n_pairs);
    hark_rules_unref(rules);
    for (size_t i = 0; i < n_posts; i++) {
        hark_post_free(posts[i]);
    }
    free(posts);
    return n_diff ? 1 : 0;
}
