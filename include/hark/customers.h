/*
 * customers: the customer directory (enrich/customers.c), loaded from CSV
 * or NDJSON into an immutable index of identities.
 *
 * Thread: load on any thread; a loaded directory is only read and may be
 * shared by every thread.
 */
#ifndef HARK_CUSTOMERS_H
#define HARK_CUSTOMERS_H

#include "hark/common.h"
#include "hark/diag.h"
#include "hark/item.h"
#include "hark/post.h"

struct hark_customers;
struct hark_customer;

enum hark_bad_row { HARK_BAD_ROW_REJECT = 0, HARK_BAD_ROW_SKIP };

/*
 * Loads `path` (".csv" or ".ndjson"/".jsonl"). A CSV has a header row;
 * known columns: customer_id (required), name, tier, segment, clv,
 * revenue_12m, referrals, recommendations, introductions,
 * positive_mentions, and either platform + handle or identities
 * ("mastodon:alice@example.social;bluesky:did:plc:abc;x:@alice").
 * A bad row is reported as "file:line: error: ..."; with REJECT the load
 * fails, with SKIP the row is left out and reported as a warning.
 * Success: *out owned by the caller.
 */
HARK_MUST_CHECK hark_err_t hark_customers_load(const char *path,
                                               enum hark_bad_row on_bad_row,
                                               struct hark_diag *diag,
                                               struct hark_customers **out);
void hark_customers_free(struct hark_customers *dir);
size_t hark_customers_count(const struct hark_customers *dir);

/*
 * Finds the customer behind a post's author: by stable id first (platform
 * + author id), then by handle (case-insensitive; a Mastodon handle without
 * "@host" is completed with `default_host` when not NULL). Sets
 * *is_handle_match when the match used a handle though the platform has a
 * stable id. Returns a borrowed pointer valid while `dir` lives, or NULL.
 */
const struct hark_customer *
hark_customers_find(const struct hark_customers *dir,
                    const struct hark_post *post, const char *default_host,
                    bool *is_handle_match);

/* Copies the customer's fields into `view` (which the caller owns). */
void hark_customer_view_fill(const struct hark_customer *cust,
                             unsigned export_mask, bool is_handle_match,
                             struct hark_customer_view *view);

#endif /* HARK_CUSTOMERS_H */
