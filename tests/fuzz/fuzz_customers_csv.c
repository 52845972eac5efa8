/*
 * fuzz_customers_csv: the customer directory loader (enrich/customers_load.c)
 * through hark_customers_load() on a .csv file, with on_bad_row REJECT and
 * then SKIP: libcsv fed line by line (quoted fields across lines, a BOM,
 * ragged rows), the column map, numbers, the identities column, duplicate
 * and contested identities. A directory that loads is then searched with a
 * few fixed posts (by stable id, by handle, a Mastodon handle completed
 * with the default host) and the match copied out as an event would.
 *
 * An input that starts with '{' is loaded as .ndjson too (the other format
 * of the same loader, sharing its row checks).
 *
 * Invariants: REJECT and SKIP agree on a clean file (same count); SKIP only
 * fails on what is not a bad row (I/O, a bad header); a failure always
 * says why.
 *
 * Thread: one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hark/customers.h"
#include "hark/item.h"
#include "hark/post.h"

#include "fuzz_util.h"

#define MAX_INPUT (64U << 10)

struct probe {
    const char *platform;
    const char *id;
    const char *handle;
};

static const struct probe probes[] = {
    {"mastodon", "109000000000000001", "alice@example.social"},
    {"mastodon", NULL, "carol"},
    {"x", "12345", "@Alice"},
    {"bluesky", "did:plc:abc123", "carol.bsky.social"},
    {"reddit", NULL, "alice_r"},
    {"hackernews", NULL, "carolhn"},
};

static void find_all(const struct hark_customers *dir)
{
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        struct hark_post *post = hark_post_new();
        post->platform = hark_xstrdup(probes[i].platform);
        post->author.id = hark_xstrdup(probes[i].id);
        post->author.handle = hark_xstrdup(probes[i].handle);
        bool is_handle_match = false;
        const struct hark_customer *cust = hark_customers_find(
            dir, post, i % 2 ? "127.0.0.1" : NULL, &is_handle_match);
        if (cust && fuzz_verbose()) {
            (void)fprintf(stderr, "  probe %zu: found\n", i);
        }
        if (cust) {
            struct hark_customer_view view;
            memset(&view, 0, sizeof(view));
            hark_customer_view_fill(cust, ~0U, is_handle_match, &view);
            FUZZ_CHECK(view.id != NULL && view.id[0] != '\0');
            hark_customer_view_cleanup(&view);
        }
        hark_post_free(post);
    }
}

/* Loads `path` both ways; returns nothing, checks everything. */
static void load_both(const char *path)
{
    struct hark_diag diag;
    struct hark_customers *rejected = NULL;
    struct hark_customers *skipped = NULL;

    hark_diag_init(&diag);
    hark_err_t err_reject =
        hark_customers_load(path, HARK_BAD_ROW_REJECT, &diag, &rejected);
    fuzz_check_diag(&diag);
    FUZZ_CHECK((err_reject == HARK_OK) == (rejected != NULL));
    FUZZ_CHECK(err_reject == HARK_OK || diag.n_errors > 0);
    hark_diag_cleanup(&diag);

    hark_diag_init(&diag);
    hark_err_t err_skip =
        hark_customers_load(path, HARK_BAD_ROW_SKIP, &diag, &skipped);
    fuzz_check_diag(&diag);
    FUZZ_CHECK((err_skip == HARK_OK) == (skipped != NULL));
    FUZZ_CHECK(err_skip == HARK_OK || diag.n_errors > 0);
    if (err_reject == HARK_OK) {
        /* A file REJECT accepts has no bad row for SKIP to leave out. */
        FUZZ_CHECK(err_skip == HARK_OK);
        FUZZ_CHECK(hark_customers_count(skipped) ==
                   hark_customers_count(rejected));
    }
    if (fuzz_verbose()) {
        (void)fprintf(stderr,
                      "customers: reject %s (%zu), skip %s (%zu, %zu "
                      "warnings)\n",
                      hark_err_str(err_reject), hark_customers_count(rejected),
                      hark_err_str(err_skip), hark_customers_count(skipped),
                      diag.n_warnings);
    }
    hark_diag_cleanup(&diag);

    if (skipped) {
        find_all(skipped);
    }
    hark_customers_free(rejected);
    hark_customers_free(skipped);
}

/* NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's name */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    const char *path = fuzz_write("customers", "in.csv", data, size);
    load_both(path);
    (void)unlink(path);
    if (size > 0 && data[0] == '{') {
        path = fuzz_write("customers", "in.ndjson", data, size);
        load_both(path);
        (void)unlink(path);
    }
    return 0;
}
