/*
 * bench_ingest: how fast the platform adapters turn recorded API pages
 * into normalized posts, against yajl's tree parser on the same bodies.
 *
 *   hark_bench_ingest [-t CPU_SECONDS] [-r ROUNDS] [-d API_DATA_DIR]
 *                     [-p PLATFORM] [--ndjson FILE]
 *
 * Every recorded page of a platform (tests/data/api/<platform>/...) is
 * loaded into memory once, with its recorded headers; then, for about
 * CPU_SECONDS of process CPU time (CLOCK_PROCESS_CPUTIME_ID) per
 * measurement, split into ROUNDS interleaved rounds, it runs
 *
 *   adapter    ops->parse() on each page, then hark_page_cleanup()
 *              (JSON parse, normalization, HTML to text, post allocation
 *              and freeing: what the ingest thread does per page);
 *   hark_json  hark_json_parse() + hark_json_doc_free() of the same
 *              bodies (the JSON tree the adapters build on);
 *   yajl_tree  yajl_tree_parse() + yajl_tree_free() of the same bodies
 *              (the same-run peer DESIGN.md's budget quotes).
 *
 * Rates are posts per CPU-second (median of the rounds; the adapter's
 * slowest and fastest rounds in brackets), MB/s of body bytes and CPU
 * microseconds per post. A platform whose adapter is not registered, or
 * whose fixtures are missing, is listed as skipped.
 *
 * -p PLATFORM keeps only the rows whose adapter type is PLATFORM (for a
 * profiler: `perf record hark_bench_ingest -p mastodon`).
 *
 * --ndjson FILE (the reference workload's corpus.ndjson) adds the input
 * side of `hark try`: per line, hark_json_parse() + hark_post_from_json()
 * + hark_post_free(), against yajl_tree_parse() of the same lines.
 *
 * Not a test: it prints tables. Build with
 *   cmake --build BUILD --target hark_bench_ingest
 * (EXCLUDE_FROM_ALL; bench/run_ingest_bench.sh does it in Release).
 * Thread: one thread throughout.
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_tree.h>

#include "hark/json.h"
#include "hark/post.h"
#include "hark/source.h"

#define MAX_ROUNDS 15

/* One family of recorded pages and the source that would fetch them. */
struct fixture_set {
    const char *label;       /* row name */
    const char *type;        /* adapter type */
    const char *pattern;     /* glob under the API data dir */
    const char *source_json; /* the type-specific keys of the source */
    const char *base_url;
    const char *url;         /* the request URL the page answered */
};

static const struct fixture_set sets[] = {
    {"mastodon", "mastodon", "mastodon/timeline_*.json",
     "{\"timeline\": \"public\"}", "http://localhost:3000",
     "http://localhost:3000/api/v1/timelines/public?limit=40"},
    {"reddit", "reddit", "reddit/subreddit_*.json",
     "{\"subreddit\": \"all\"}", "https://oauth.reddit.com",
     "https://oauth.reddit.com/r/all/new?raw_json=1&limit=100"},
    {"hackernews", "hackernews", "hackernews/search_by_date_*.json",
     "{\"query\": \"apple\"}", "https://hn.algolia.com",
     "https://hn.algolia.com/api/v1/search_by_date?query=apple"
     "&hitsPerPage=100"},
    {"bluesky search", "bluesky", "bluesky/search_posts_*.json",
     "{\"query\": \"redistricting\"}", "https://public.api.bsky.app",
     "https://public.api.bsky.app/xrpc/app.bsky.feed.searchPosts"
     "?q=redistricting&limit=100"},
    {"bluesky feed", "bluesky", "bluesky/author_feed.json",
     "{\"actor\": \"bsky.app\"}", "https://public.api.bsky.app",
     "https://public.api.bsky.app/xrpc/app.bsky.feed.getAuthorFeed"
     "?actor=bsky.app&limit=100"},
};

#define N_SETS (sizeof(sets) / sizeof(sets[0]))

/* A recorded page held in memory (body NUL-terminated for yajl). */
struct page_mem {
    char *path;
    char *body;
    size_t body_len;
    struct hark_header *headers;
    size_t n_headers;
    struct hark_json_doc *headers_doc; /* owns the header strings */
};

/* Everything one row measures. */
struct bench_set {
    const struct fixture_set *fx;
    const struct hark_source_ops *ops;
    void *state;
    struct hark_json_doc *source_doc;
    struct page_mem *pages;
    size_t n_pages;
    size_t n_posts;      /* per pass */
    size_t n_bytes;      /* per pass */
    const char *skipped; /* why the row is skipped, or NULL */
};

typedef size_t (*pass_fn)(void *ctx); /* one pass; returns posts seen */

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Runs `fn` until `budget_s` of process CPU time has passed (at least
 * once). Returns posts per CPU-second; *cpu_used gets the CPU seconds.
 */
static double measure(pass_fn fn, void *ctx, double budget_s,
                      double *cpu_used)
{
    size_t posts = 0;
    double t0 = cpu_s();
    double t;
    do {
        posts += fn(ctx);
        t = cpu_s() - t0;
    } while (t < budget_s);
    *cpu_used = t;
    return t > 0 ? (double)posts / t : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, size_t n)
{
    double s[MAX_ROUNDS];
    memcpy(s, v, n * sizeof(double));
    qsort(s, n, sizeof(double), cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double vmin(const double *v, size_t n)
{
    double m = v[0];
    for (size_t i = 1; i < n; i++) {
        m = v[i] < m ? v[i] : m;
    }
    return m;
}

static double vmax(const double *v, size_t n)
{
    double m = v[0];
    for (size_t i = 1; i < n; i++) {
        m = v[i] > m ? v[i] : m;
    }
    return m;
}

/* "123,456" into out (rates are printed with thousands separators). */
static const char *fmt_count(double x, char *out, size_t out_len)
{
    char digits[32];
    snprintf(digits, sizeof(digits), "%.0f", x < 0 ? 0 : x);
    size_t n = strlen(digits);
    size_t j = 0;
    for (size_t i = 0; i < n && j + 2 < out_len; i++) {
        if (i > 0 && (n - i) % 3 == 0) {
            out[j++] = ',';
        }
        out[j++] = digits[i];
    }
    out[j] = '\0';
    return out;
}

/* "12k" style, for the brackets. */
static const char *fmt_short(double x, char *out, size_t out_len)
{
    if (x >= 1e6) {
        snprintf(out, out_len, "%.2fM", x / 1e6);
    } else if (x >= 1e3) {
        snprintf(out, out_len, "%.0fk", x / 1e3);
    } else {
        snprintf(out, out_len, "%.0f", x);
    }
    return out;
}

static char *read_all(const char *path, size_t *len)
{
    char *data = NULL;
    char err[256];
    if (hark_file_read(path, 256u << 20, &data, len, err, sizeof(err)) !=
        HARK_OK) {
        fprintf(stderr, "bench_ingest: %s\n", err);
        return NULL;
    }
    /* hark_file_read NUL-terminates; yajl_tree_parse needs that. */
    return data;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * The recorded headers beside a page (X.headers.json: {"headers":
 * {"Name": ["value", ...]}}), names lowercased as the engine gives them.
 * A page without one gets only a JSON content type.
 */
static void load_headers(struct page_mem *pm)
{
    static struct hark_header json_ct[] = {
        {(char *)"content-type", (char *)"application/json; charset=utf-8"},
    };
    pm->headers = NULL;
    pm->n_headers = 0;
    pm->headers_doc = NULL;
    size_t plen = strlen(pm->path);
    char *hpath = hark_xasprintf("%.*s.headers.json", (int)(plen - 5),
                                 pm->path);
    size_t len;
    char *text = NULL;
    char err[256];
    size_t off;
    if (hark_file_read(hpath, 1u << 20, &text, &len, err, sizeof(err)) ==
        HARK_OK) {
        struct hark_json_opts opts = {.validate_utf8 = true, .max_depth = 16};
        if (hark_json_parse(text, len, hpath, &opts, &pm->headers_doc, err,
                            sizeof(err), &off) == HARK_OK) {
            const struct hark_json *h =
                hark_json_get(pm->headers_doc->root, "headers");
            if (h && h->type == HARK_JSON_OBJECT) {
                pm->headers = hark_xcalloc(h->n + 1, sizeof(*pm->headers));
                for (size_t i = 0; i < h->n; i++) {
                    const struct hark_json *v = h->items[i];
                    const char *val = NULL;
                    if (v->type == HARK_JSON_ARRAY && v->n > 0) {
                        val = hark_json_str(v->items[0]);
                    } else {
                        val = hark_json_str(v);
                    }
                    if (!val) {
                        continue;
                    }
                    /* Lowercase in place: the doc owns its strings. */
                    char *name = (char *)(uintptr_t)h->keys[i];
                    for (char *c = name; *c; c++) {
                        if (*c >= 'A' && *c <= 'Z') {
                            *c = (char)(*c + 32);
                        }
                    }
                    pm->headers[pm->n_headers].name = name;
                    pm->headers[pm->n_headers].value = (char *)(uintptr_t)val;
                    pm->n_headers++;
                }
            }
        }
        free(text);
    }
    free(hpath);
    if (pm->n_headers == 0) {
        free(pm->headers);
        pm->headers = json_ct;
        pm->n_headers = 1;
        hark_json_doc_free(pm->headers_doc);
        pm->headers_doc = NULL;
    }
}

static void page_response(const struct bench_set *bs,
                          const struct page_mem *pm,
                          struct hark_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->status = 200;
    resp->headers = pm->headers;
    resp->n_headers = pm->n_headers;
    resp->body = pm->body;
    resp->body_len = pm->body_len;
    resp->url = bs->fx->url;
}

/* ---- the three passes over a set ---- */

static size_t pass_adapter(void *ctx)
{
    struct bench_set *bs = ctx;
    size_t posts = 0;
    for (size_t i = 0; i < bs->n_pages; i++) {
        struct hark_response resp;
        page_response(bs, &bs->pages[i], &resp);
        struct hark_page page;
        memset(&page, 0, sizeof(page));
        char err[256] = "";
        if (bs->ops->parse(bs->state, &resp, &page, err, sizeof(err)) ==
            HARK_OK) {
            posts += page.n_posts;
        }
        hark_page_cleanup(&page);
    }
    return posts;
}

static size_t pass_hark_json(void *ctx)
{
    struct bench_set *bs = ctx;
    struct hark_json_opts opts = {.validate_utf8 = false, .max_depth = 64};
    for (size_t i = 0; i < bs->n_pages; i++) {
        struct hark_json_doc *doc = NULL;
        char err[256];
        size_t off;
        if (hark_json_parse(bs->pages[i].body, bs->pages[i].body_len, NULL,
                            &opts, &doc, err, sizeof(err), &off) == HARK_OK) {
            hark_json_doc_free(doc);
        }
    }
    return bs->n_posts;
}

static size_t pass_yajl(void *ctx)
{
    struct bench_set *bs = ctx;
    for (size_t i = 0; i < bs->n_pages; i++) {
        char err[128];
        yajl_val v = yajl_tree_parse(bs->pages[i].body, err, sizeof(err));
        yajl_tree_free(v);
    }
    return bs->n_posts;
}

/* ---- set up and tear down ---- */

static void set_cleanup(struct bench_set *bs)
{
    for (size_t i = 0; i < bs->n_pages; i++) {
        struct page_mem *pm = &bs->pages[i];
        if (pm->headers_doc) {
            free(pm->headers);
            hark_json_doc_free(pm->headers_doc);
        }
        free(pm->body);
        free(pm->path);
    }
    free(bs->pages);
    if (bs->ops && bs->state) {
        bs->ops->free_state(bs->state);
    }
    hark_json_doc_free(bs->source_doc);
}

static hark_err_t set_init(struct bench_set *bs, const struct fixture_set *fx,
                           const char *data_dir)
{
    memset(bs, 0, sizeof(*bs));
    bs->fx = fx;
    bs->ops = hark_source_ops_find(fx->type);
    if (!bs->ops) {
        bs->skipped = "adapter not registered";
        return HARK_OK;
    }
    char err[256];
    size_t off;
    struct hark_json_opts opts = {.validate_utf8 = true, .max_depth = 16};
    if (hark_json_parse(fx->source_json, strlen(fx->source_json), "bench",
                        &opts, &bs->source_doc, err, sizeof(err),
                        &off) != HARK_OK) {
        fprintf(stderr, "bench_ingest: source json: %s\n", err);
        return HARK_EINTERNAL;
    }
    struct hark_source_cfg cfg = {
        .name = (char *)"bench",
        .type = (char *)(uintptr_t)fx->type,
        .base_url = (char *)(uintptr_t)fx->base_url,
        .interval_s = 60,
        .backfill_pages = 1,
        .page_limit = 0,
        .token_env = NULL,
    };
    struct hark_diag diag;
    hark_diag_init(&diag);
    hark_err_t rc = bs->ops->init(&cfg, bs->source_doc, bs->source_doc->root,
                                  &diag, &bs->state);
    if (rc != HARK_OK) {
        hark_diag_print(&diag, stderr);
        hark_diag_cleanup(&diag);
        bs->skipped = "adapter init failed";
        return HARK_OK;
    }
    hark_diag_cleanup(&diag);

    char *pattern = hark_xasprintf("%s/%s", data_dir, fx->pattern);
    glob_t g;
    int grc = glob(pattern, 0, NULL, &g);
    free(pattern);
    if (grc != 0) {
        bs->skipped = "no fixtures";
        return HARK_OK;
    }
    bs->pages = hark_xcalloc(g.gl_pathc, sizeof(*bs->pages));
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *path = g.gl_pathv[i];
        if (ends_with(path, ".headers.json")) {
            continue;
        }
        struct page_mem *pm = &bs->pages[bs->n_pages];
        pm->body = read_all(path, &pm->body_len);
        if (!pm->body) {
            continue;
        }
        pm->path = hark_xstrdup(path);
        load_headers(pm);
        bs->n_pages++;

        /* One parse up front: a page the adapter refuses is left out. */
        struct hark_response resp;
        page_response(bs, pm, &resp);
        struct hark_page page;
        memset(&page, 0, sizeof(page));
        char perr[256] = "";
        if (bs->ops->parse(bs->state, &resp, &page, perr, sizeof(perr)) !=
            HARK_OK) {
            fprintf(stderr, "bench_ingest: %s: parse failed (%s): left out\n",
                    path, perr);
            hark_page_cleanup(&page);
            bs->n_pages--;
            if (pm->headers_doc) {
                free(pm->headers);
                hark_json_doc_free(pm->headers_doc);
            }
            free(pm->body);
            free(pm->path);
            continue;
        }
        bs->n_posts += page.n_posts;
        bs->n_bytes += pm->body_len;
        hark_page_cleanup(&page);
    }
    globfree(&g);
    if (bs->n_pages == 0 || bs->n_posts == 0) {
        bs->skipped = "no page parsed";
    }
    return HARK_OK;
}

/* ---- the NDJSON input side of `hark try` ---- */

struct ndjson {
    char *data;
    size_t len;
    char **lines; /* NUL-terminated in place */
    size_t *line_lens;
    size_t n_lines;
};

static size_t pass_nd_post(void *ctx)
{
    struct ndjson *nd = ctx;
    struct hark_json_opts opts = {.validate_utf8 = false, .max_depth = 64};
    size_t n = 0;
    for (size_t i = 0; i < nd->n_lines; i++) {
        struct hark_json_doc *doc = NULL;
        char err[256];
        size_t off;
        if (hark_json_parse(nd->lines[i], nd->line_lens[i], "<stdin>", &opts,
                            &doc, err, sizeof(err), &off) != HARK_OK) {
            continue;
        }
        struct hark_post *post = NULL;
        if (hark_post_from_json(doc->root, &post, err, sizeof(err)) ==
            HARK_OK) {
            n++;
        }
        hark_post_free(post);
        hark_json_doc_free(doc);
    }
    return n;
}

static size_t pass_nd_json(void *ctx)
{
    struct ndjson *nd = ctx;
    struct hark_json_opts opts = {.validate_utf8 = false, .max_depth = 64};
    for (size_t i = 0; i < nd->n_lines; i++) {
        struct hark_json_doc *doc = NULL;
        char err[256];
        size_t off;
        if (hark_json_parse(nd->lines[i], nd->line_lens[i], "<stdin>", &opts,
                            &doc, err, sizeof(err), &off) == HARK_OK) {
            hark_json_doc_free(doc);
        }
    }
    return nd->n_lines;
}

static size_t pass_nd_yajl(void *ctx)
{
    struct ndjson *nd = ctx;
    for (size_t i = 0; i < nd->n_lines; i++) {
        char err[128];
        yajl_tree_free(yajl_tree_parse(nd->lines[i], err, sizeof(err)));
    }
    return nd->n_lines;
}

static int run_ndjson(const char *path, double budget_s, int rounds)
{
    struct ndjson nd;
    memset(&nd, 0, sizeof(nd));
    nd.data = read_all(path, &nd.len);
    if (!nd.data) {
        return 1;
    }
    size_t cap = 0;
    char *p = nd.data;
    char *end = nd.data + nd.len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *stop = nl ? nl : end;
        if (stop > p) {
            if (nd.n_lines == cap) {
                cap = cap ? cap * 2 : 1024;
                nd.lines = hark_xrealloc(nd.lines, cap * sizeof(char *));
                nd.line_lens = hark_xrealloc(nd.line_lens, cap * sizeof(size_t));
            }
            *stop = '\0';
            nd.lines[nd.n_lines] = p;
            nd.line_lens[nd.n_lines] = (size_t)(stop - p);
            nd.n_lines++;
        }
        p = stop + 1;
    }
    if (nd.n_lines == 0) {
        fprintf(stderr, "bench_ingest: %s: no lines\n", path);
        free(nd.data);
        return 1;
    }
    size_t ok = pass_nd_post(&nd);
    double r_post[MAX_ROUNDS];
    double r_json[MAX_ROUNDS];
    double r_yajl[MAX_ROUNDS];
    double used;
    double slice = budget_s / rounds;
    for (int r = 0; r < rounds; r++) {
        r_post[r] = measure(pass_nd_post, &nd, slice, &used);
        r_json[r] = measure(pass_nd_json, &nd, slice, &used);
        r_yajl[r] = measure(pass_nd_yajl, &nd, slice, &used);
    }
    size_t nr = (size_t)rounds;
    double m_post = median(r_post, nr);
    double m_yajl = median(r_yajl, nr);
    char a[32], b[32], c[32], lo[16], hi[16];
    printf("\nNDJSON input of `hark try` (%s: %zu lines, %zu parsed, "
           "mean %.0f B/line)\n",
           path, nd.n_lines, ok, (double)nd.len / (double)nd.n_lines);
    printf("%-40s %22s %9s %9s\n", "what", "posts/CPU-s", "MB/s", "us/post");
    printf("%-40s %11s [%4s-%4s] %9.1f %9.2f\n",
           "hark_json_parse + hark_post_from_json",
           fmt_count(m_post, a, sizeof(a)),
           fmt_short(vmin(r_post, nr), lo, sizeof(lo)),
           fmt_short(vmax(r_post, nr), hi, sizeof(hi)),
           m_post * (double)nd.len / (double)nd.n_lines / 1e6, 1e6 / m_post);
    printf("%-40s %22s %9.1f %9.2f\n", "hark_json_parse only",
           fmt_count(median(r_json, nr), b, sizeof(b)),
           median(r_json, nr) * (double)nd.len / (double)nd.n_lines / 1e6,
           1e6 / median(r_json, nr));
    printf("%-40s %22s %9.1f %9.2f\n", "yajl_tree_parse (peer)",
           fmt_count(m_yajl, c, sizeof(c)),
           m_yajl * (double)nd.len / (double)nd.n_lines / 1e6, 1e6 / m_yajl);
    printf("ratio hark post-from-line / yajl_tree_parse: %.2f\n",
           m_post / m_yajl);
    free(nd.lines);
    free(nd.line_lens);
    free(nd.data);
    return 0;
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: hark_bench_ingest [-t CPU_SECONDS] [-r ROUNDS] "
                "[-d API_DATA_DIR] [-p PLATFORM] [--ndjson FILE]\n"
                "  defaults: -t 2 (per measurement), -r 3, "
                "-d $HARK_SOURCE_DIR/tests/data/api (or ./tests/data/api)\n");
}

int main(int argc, char **argv)
{
    double budget_s = 2.0;
    int rounds = 3;
    const char *data_dir = NULL;
    const char *ndjson = NULL;
    const char *only = NULL;
    char dir_buf[4096];
    for (int i = 1; i < argc; i++) {
        bool has_val = i + 1 < argc;
        if (strcmp(argv[i], "-t") == 0 && has_val) {
            budget_s = atof(argv[++i]);
        } else if (strcmp(argv[i], "-r") == 0 && has_val) {
            rounds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "-d") == 0 && has_val) {
            data_dir = argv[++i];
        } else if (strcmp(argv[i], "-p") == 0 && has_val) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--ndjson") == 0 && has_val) {
            ndjson = argv[++i];
        } else if (strcmp(argv[i], "-h") == 0 ||
                   strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (budget_s <= 0 || rounds < 1 || rounds > MAX_ROUNDS) {
        usage(stderr);
        return 2;
    }
    if (!data_dir) {
        const char *src = getenv("HARK_SOURCE_DIR");
        snprintf(dir_buf, sizeof(dir_buf), "%s/tests/data/api",
                 src && *src ? src : ".");
        data_dir = dir_buf;
    }

    struct bench_set bsets[N_SETS];
    for (size_t i = 0; i < N_SETS; i++) {
        if (only && strcmp(only, sets[i].type) != 0) {
            memset(&bsets[i], 0, sizeof(bsets[i]));
            bsets[i].fx = &sets[i];
            bsets[i].skipped = "not selected (-p)";
            continue;
        }
        if (set_init(&bsets[i], &sets[i], data_dir) != HARK_OK) {
            return 1;
        }
    }

    double slice = budget_s / rounds;
    double w0 = wall_s();
    printf("ingest parsing: recorded pages in memory, one thread, process "
           "CPU time;\n%.2f CPU-s per measurement in %d interleaved rounds, "
           "median (adapter: [slowest-fastest round])\n\n",
           budget_s, rounds);
    printf("%-15s %5s %5s %6s | %22s %7s %7s | %11s %11s | %7s\n", "source",
           "pages", "posts", "B/post", "adapter posts/CPU-s", "MB/s",
           "us/post", "hark_json/s", "yajl_tree/s", "ad/yajl");
    for (size_t i = 0; i < N_SETS; i++) {
        struct bench_set *bs = &bsets[i];
        if (bs->skipped) {
            printf("%-15s skipped: %s\n", bs->fx->label, bs->skipped);
            continue;
        }
        double r_ad[MAX_ROUNDS];
        double r_hj[MAX_ROUNDS];
        double r_yj[MAX_ROUNDS];
        double used;
        for (int r = 0; r < rounds; r++) {
            r_ad[r] = measure(pass_adapter, bs, slice, &used);
            r_hj[r] = measure(pass_hark_json, bs, slice, &used);
            r_yj[r] = measure(pass_yajl, bs, slice, &used);
        }
        size_t nr = (size_t)rounds;
        double ad = median(r_ad, nr);
        double hj = median(r_hj, nr);
        double yj = median(r_yj, nr);
        double b_per_post = (double)bs->n_bytes / (double)bs->n_posts;
        char a[32], h[32], y[32], lo[16], hi[16];
        printf("%-15s %5zu %5zu %6.0f | %9s [%5s-%5s] %7.1f %7.2f | %11s "
               "%11s | %7.2f\n",
               bs->fx->label, bs->n_pages, bs->n_posts, b_per_post,
               fmt_count(ad, a, sizeof(a)),
               fmt_short(vmin(r_ad, nr), lo, sizeof(lo)),
               fmt_short(vmax(r_ad, nr), hi, sizeof(hi)),
               ad * b_per_post / 1e6, 1e6 / ad, fmt_count(hj, h, sizeof(h)),
               fmt_count(yj, y, sizeof(y)), ad / yj);
        fflush(stdout);
    }
    printf("\nB/post = body bytes per post (whole page, envelope included); "
           "MB/s = 10^6 body bytes per CPU-s\n"
           "hark_json, yajl_tree: the same bodies through "
           "hark_json_parse() and yajl_tree_parse() alone (parse + free)\n");

    int rc = 0;
    if (ndjson) {
        rc = run_ndjson(ndjson, budget_s, rounds);
    }
    printf("\n(wall time %.1f s)\n", wall_s() - w0);
    for (size_t i = 0; i < N_SETS; i++) {
        set_cleanup(&bsets[i]);
    }
    return rc;
}
