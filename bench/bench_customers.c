/*
 * bench_customers: load N generated customers (CSV) and time lookups.
 *
 *   bench_customers [-r reps] [-l lookups] [-d dir] [n_customers ...]
 *       defaults: -r 3 -l 4000000 -d /tmp 1000000 10000000
 *
 * Each customer has three identities (x id, x handle, mastodon user@host
 * on one of 100 hosts), a name, a tier and a segment. For every N the file
 * is written once (not timed) and loaded `reps` times, each time in a
 * fresh child process so that its memory figures are its own:
 *
 *   load wall/CPU   hark_customers_load, seconds
 *   RSS             VmRSS after the load, MiB (the whole process)
 *   peak            VmHWM, MiB: the most the load ever held
 *   hit ns          a lookup that finds a customer: by x id, by x handle in
 *                   another case after an x id miss, by bare Mastodon user
 *                   completed with the default host (a third each)
 *   miss ns         a Mastodon user@host that is in no entry
 *
 * Keys are random customers, prepared outside the timed loops in one flat
 * array read in order: in the pipeline the post was just parsed and is in
 * cache, the directory is not. The last row of each N is the median.
 *
 * Not a test; build it against the release libraries:
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude \
 *      bench/bench_customers.c BUILD/libhark_enrich.a BUILD/libhark_core.a \
 *      -lcsv -lsqlite3 -lyajl -lm -lpthread
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hark/customers.h"

struct result {
    double load_wall;
    double load_cpu;
    double rss_mib;
    double peak_mib;
    double hit_ns;
    double miss_ns;
    long n_found;
    long n_hit_lookups;
    int ok;
};

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A "VmRSS:"-style line of /proc/self/status, in MiB; -1 if absent. */
static double status_mib(const char *key)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    double mib = -1;
    size_t n = strlen(key);
    if (!fp) {
        return -1;
    }
    while (fgets(line, sizeof(line), fp)) {
        if (strncmp(line, key, n) == 0) {
            mib = (double)atol(line + n) / 1024.0;
        }
    }
    fclose(fp);
    return mib;
}

static int write_file(const char *path, long n_custs)
{
    FILE *fp = fopen(path, "w");
    if (!fp) {
        perror(path);
        return -1;
    }
    fprintf(fp, "customer_id,name,tier,segment,clv,revenue_12m,referrals,"
                "identities\n");
    for (long i = 0; i < n_custs; i++) {
        fprintf(fp,
                "cust-%ld,\"Customer %ld, Inc\",%s,%s,%ld.50,%ld,%ld,"
                "x:%ld;x:@User_%ld;mastodon:user%ld@host%ld.example\n",
                i, i, (i % 3) ? "gold" : "silver", (i % 4) ? "smb" : "ent",
                i % 50000, i % 7000, i % 5, 1000000000 + i, i, i, i % 100);
    }
    if (fclose(fp) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

enum { KEY_LEN = 40 };

static char hosts[100][24]; /* "host%d.example", filled by main */

/* One lookup; `kind` 0..2 are hits, 3 a miss. */
static const struct hark_customer *lookup(const struct hark_customers *dir,
                                          struct hark_post *const *posts,
                                          const char *key,
                                          int kind)
{
    static char id_miss[] = "1";
    struct hark_post *post = posts[kind];
    const char *default_host = NULL;
    switch (kind) {
    case 0: /* x id */
        post->author.id = (char *)(uintptr_t)key;
        break;
    case 1: /* x handle in another case, after an id miss */
        post->author.id = id_miss;
        post->author.handle = (char *)(uintptr_t)key;
        break;
    case 2: { /* bare Mastodon handle completed with the host */
        long c = atol(key + 4);
        default_host = hosts[c % 100];
        post->author.handle = (char *)(uintptr_t)key;
        break;
    }
    default: /* miss */
        post->author.handle = (char *)(uintptr_t)key;
        break;
    }
    bool is_handle = false;
    return hark_customers_find(dir, post, default_host, &is_handle);
}

static void run_one(const char *path,
                    long n_custs,
                    long n_lookups,
                    struct result *res)
{
    struct hark_diag diag;
    struct hark_customers *dir = NULL;
    memset(res, 0, sizeof(*res));
    hark_diag_init(&diag);
    double w0 = clock_s(CLOCK_MONOTONIC);
    double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    hark_err_t err =
        hark_customers_load(path, HARK_BAD_ROW_REJECT, &diag, &dir);
    res->load_wall = clock_s(CLOCK_MONOTONIC) - w0;
    res->load_cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (err != HARK_OK || hark_customers_count(dir) != (size_t)n_custs) {
        hark_diag_print(&diag, stderr);
        hark_diag_cleanup(&diag);
        return;
    }
    res->rss_mib = status_mib("VmRSS:");
    res->peak_mib = status_mib("VmHWM:");

    enum { N_KEYS = 1 << 20 };
    char *keys = hark_xmalloc((size_t)N_KEYS * KEY_LEN);
    srand(42);
    for (int i = 0; i < N_KEYS; i++) {
        long c = (long)(((unsigned)rand() << 16 ^ (unsigned)rand()) %
                        (unsigned long)n_custs);
        char *key = keys + (size_t)i * KEY_LEN;
        switch (i % 4) {
        case 0:
            snprintf(key, KEY_LEN, "%ld", 1000000000 + c);
            break;
        case 1:
            snprintf(key, KEY_LEN, "USER_%ld", c);
            break;
        case 2:
            snprintf(key, KEY_LEN, "user%ld", c);
            break;
        default:
            snprintf(key, KEY_LEN, "nobody%ld@host%ld.example", c, c % 100);
            break;
        }
    }
    struct hark_post *posts[4];
    for (int i = 0; i < 4; i++) {
        posts[i] = hark_post_new();
        posts[i]->platform = hark_xstrdup(i < 2 ? "x" : "mastodon");
    }
    /* hits: keys 0..2 of every 4; misses: key 3 */
    long n_found = 0;
    long n_hits = 0;
    double t0 = clock_s(CLOCK_MONOTONIC);
    for (long i = 0; n_hits < n_lookups; i++) {
        int k = (int)(i % N_KEYS);
        if (k % 4 == 3) {
            continue;
        }
        n_hits++;
        if (lookup(dir, posts, keys + (size_t)k * KEY_LEN, k % 4)) {
            n_found++;
        }
    }
    res->hit_ns = (clock_s(CLOCK_MONOTONIC) - t0) / (double)n_hits * 1e9;
    long n_misses = n_lookups / 3;
    long n_false = 0;
    t0 = clock_s(CLOCK_MONOTONIC);
    for (long i = 0; i < n_misses; i++) {
        int k = (int)((i * 4 + 3) % N_KEYS);
        if (lookup(dir, posts, keys + (size_t)k * KEY_LEN, 3)) {
            n_false++;
        }
    }
    res->miss_ns = (clock_s(CLOCK_MONOTONIC) - t0) / (double)n_misses * 1e9;
    res->n_found = n_found;
    res->n_hit_lookups = n_hits;
    res->ok = n_found == n_hits && n_false == 0;
    if (!res->ok) {
        fprintf(stderr, "wrong answers: %ld of %ld hits found, %ld misses "
                        "found\n",
                n_found, n_hits, n_false);
    }
    for (int i = 0; i < 4; i++) {
        posts[i]->author.id = NULL; /* borrowed */
        posts[i]->author.handle = NULL;
        hark_post_free(posts[i]);
    }
    free(keys);
    hark_customers_free(dir);
    hark_diag_cleanup(&diag);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_row(const char *label, long n, const struct result *r)
{
    printf("| %-6s | %10ld | %6.2f | %6.2f | %8.0f | %8.0f | %6.0f | %6.0f |\n",
           label, n, r->load_wall, r->load_cpu, r->rss_mib, r->peak_mib,
           r->hit_ns, r->miss_ns);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int reps = 3;
    long n_lookups = 4000000;
    const char *dir_name = "/tmp";
    int opt;
    while ((opt = getopt(argc, argv, "r:l:d:")) != -1) {
        switch (opt) {
        case 'r':
            reps = atoi(optarg);
            break;
        case 'l':
            n_lookups = atol(optarg);
            break;
        case 'd':
            dir_name = optarg;
            break;
        default:
            fprintf(stderr, "usage: %s [-r reps] [-l lookups] [-d dir] "
                            "[n_customers ...]\n",
                    argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > 64) {
        reps = 3;
    }
    for (int i = 0; i < 100; i++) {
        snprintf(hosts[i], sizeof(hosts[i]), "host%d.example", i);
    }
    static const long default_ns[] = {1000000, 10000000};
    int n_ns = argc - optind;
    printf("| run    |  customers | load s |  CPU s | RSS MiB | peak MiB "
           "| hit ns | miss ns |\n");
    printf("|--------|-----------:|-------:|-------:|--------:|---------:"
           "|-------:|--------:|\n");
    for (int a = 0; a < (n_ns ? n_ns : 2); a++) {
        long n = n_ns ? atol(argv[optind + a]) : default_ns[a];
        char path[4096];
        snprintf(path, sizeof(path), "%s/bench_customers_%ld.csv", dir_name,
                 n);
        if (n < 1 || write_file(path, n) != 0) {
            return 1;
        }
        struct result rs[64];
        for (int r = 0; r < reps; r++) {
            int fds[2];
            if (pipe(fds) != 0) {
                perror("pipe");
                return 1;
            }
            pid_t pid = fork();
            if (pid == 0) {
                struct result res;
                close(fds[0]);
                run_one(path, n, n_lookups, &res);
                ssize_t w = write(fds[1], &res, sizeof(res));
                _exit(w == (ssize_t)sizeof(res) ? 0 : 1);
            }
            close(fds[1]);
            memset(&rs[r], 0, sizeof(rs[r]));
            ssize_t got = read(fds[0], &rs[r], sizeof(rs[r]));
            close(fds[0]);
            int status = 0;
            waitpid(pid, &status, 0);
            if (got != (ssize_t)sizeof(rs[r]) || !rs[r].ok) {
                fprintf(stderr, "run %d of N=%ld failed\n", r + 1, n);
                remove(path);
                return 1;
            }
            char label[16];
            snprintf(label, sizeof(label), "%d", r + 1);
            print_row(label, n, &rs[r]);
        }
        double v[6][64];
        for (int r = 0; r < reps; r++) {
            v[0][r] = rs[r].load_wall;
            v[1][r] = rs[r].load_cpu;
            v[2][r] = rs[r].rss_mib;
            v[3][r] = rs[r].peak_mib;
            v[4][r] = rs[r].hit_ns;
            v[5][r] = rs[r].miss_ns;
        }
        struct result med = {
            .load_wall = median(v[0], reps),
            .load_cpu = median(v[1], reps),
            .rss_mib = median(v[2], reps),
            .peak_mib = median(v[3], reps),
            .hit_ns = median(v[4], reps),
            .miss_ns = median(v[5], reps),
        };
        print_row("median", n, &med);
        remove(path);
    }
    return 0;
}
