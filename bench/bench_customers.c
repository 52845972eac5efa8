/*
 * bench_customers: load N generated customers (CSV) and time lookups.
 *
 *   bench_customers [n_customers [n_lookups [dir]]]
 *       defaults: 1000000 10000000 /tmp
 *
 * Each customer has three identities (x id, x handle, mastodon user@host).
 * Lookups cycle through id hits, handle hits (mixed case), bare Mastodon
 * handles completed with the default host, and misses. Not a test; build
 * by hand against the release libraries (see the report for the command).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hark/customers.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long n_custs = argc > 1 ? atol(argv[1]) : 1000000;
    long n_lookups = argc > 2 ? atol(argv[2]) : 10000000;
    const char *dir_name = argc > 3 ? argv[3] : "/tmp";
    char path[4096];
    snprintf(path, sizeof(path), "%s/bench_customers_%ld.csv", dir_name,
             n_custs);

    FILE *fp = fopen(path, "w");
    if (!fp) {
        perror(path);
        return 1;
    }
    fprintf(fp, "customer_id,name,tier,segment,clv,revenue_12m,referrals,"
                "identities\n");
    for (long i = 0; i < n_custs; i++) {
        fprintf(fp,
                "cust-%ld,\"Customer %ld, Inc\",%s,smb,%ld.50,%ld,%ld,"
                "x:%ld;x:@User_%ld;mastodon:user%ld@host%ld.example\n",
                i, i, (i % 3) ? "gold" : "silver", i % 50000, i % 7000, i % 5,
                1000000000 + i, i, i, i % 100);
    }
    if (fclose(fp) != 0) {
        perror(path);
        return 1;
    }

    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_customers *dir = NULL;
    double t0 = now_s();
    hark_err_t err =
        hark_customers_load(path, HARK_BAD_ROW_REJECT, &diag, &dir);
    double t_load = now_s() - t0;
    if (err != HARK_OK) {
        hark_diag_print(&diag, stderr);
        return 1;
    }
    printf("loaded %zu customers in %.3f s (%.0f rows/s)\n",
           hark_customers_count(dir), t_load, (double)n_custs / t_load);

    /*
     * The keys are prepared outside the timed loop in one flat array read
     * in order, and four posts (one per case) are pointed at them: in the
     * pipeline the post was just parsed and is in cache, the directory is
     * not.
     */
    enum { N_KEYS = 1 << 20, KEY_LEN = 40 };

    char *keys = hark_xmalloc((size_t)N_KEYS * KEY_LEN);
    srand(42);
    for (int i = 0; i < N_KEYS; i++) {
        long c = (long)((unsigned)rand() % (unsigned)n_custs);
        char *key = keys + (size_t)i * KEY_LEN;
        switch (i % 4) {
        case 0: /* stable id hit */
            snprintf(key, KEY_LEN, "%ld", 1000000000 + c);
            break;
        case 1: /* handle hit, another case (after an id miss) */
            snprintf(key, KEY_LEN, "USER_%ld", c);
            break;
        case 2: /* bare Mastodon handle completed with the host */
            snprintf(key, KEY_LEN, "user%ld", c);
            break;
        default: /* miss */
            snprintf(key, KEY_LEN, "nobody%ld@else.example", c);
            break;
        }
    }
    struct hark_post *posts[4];
    for (int i = 0; i < 4; i++) {
        posts[i] = hark_post_new();
        posts[i]->platform = hark_xstrdup(i < 2 ? "x" : "mastodon");
    }
    char id_miss[] = "1";
    char host[] = "host00.example";
    long n_found = 0;
    t0 = now_s();
    for (long i = 0; i < n_lookups; i++) {
        int k = (int)(i % N_KEYS);
        char *key = keys + (size_t)k * KEY_LEN;
        struct hark_post *post = posts[k % 4];
        const char *default_host = NULL;
        switch (k % 4) {
        case 0:
            post->author.id = key;
            break;
        case 1:
            post->author.id = id_miss;
            post->author.handle = key;
            break;
        case 2: {
            long c = atol(key + 4);
            host[4] = (char)('0' + (c % 100) / 10);
            host[5] = (char)('0' + c % 10);
            /* the generator wrote host%ld: no leading zero */
            default_host = c % 100 < 10 ? NULL : host;
            post->author.handle = key;
            break;
        }
        default:
            post->author.handle = key;
            break;
        }
        bool is_handle = false;
        if (hark_customers_find(dir, post, default_host, &is_handle)) {
            n_found++;
        }
    }
    double t_find = now_s() - t0;
    printf("%ld lookups in %.3f s (%.1f M/s, %.0f ns each), %ld found\n",
           n_lookups, t_find, (double)n_lookups / t_find / 1e6,
           t_find / (double)n_lookups * 1e9, n_found);

    for (int i = 0; i < 4; i++) {
        posts[i]->author.id = NULL; /* borrowed from keys */
        posts[i]->author.handle = NULL;
        hark_post_free(posts[i]);
    }
    free(keys);
    hark_customers_free(dir);
    hark_diag_cleanup(&diag);
    remove(path);
    return 0;
}
