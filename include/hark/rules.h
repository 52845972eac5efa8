/*
 * rules: rule packs (DESIGN.md "Rules and priority") compiled into an
 * immutable, reference-counted rule set, and the matcher that applies a set
 * to a post.
 *
 * Thread: load on any thread (off the hot path). A loaded set is shared by
 * every worker; each worker owns one scratch. hark_rules_ref/unref may be
 * called from any thread (atomic count).
 */
#ifndef HARK_RULES_H
#define HARK_RULES_H

#include "hark/common.h"
#include "hark/diag.h"
#include "hark/item.h"

struct hark_rules;
struct hark_rules_scratch;

/*
 * Compiles the rule files in `paths` (and what they include) into a new
 * rule set.
 *
 * Success: *out holds one reference owned by the caller. Failure: *out is
 * NULL, HARK_EINVAL or HARK_EIO, and `diag` holds one
 * "file:line:column: message" per problem. Warnings (lints) may be left in
 * `diag` on success.
 */
HARK_MUST_CHECK hark_err_t hark_rules_load(const char *const *paths,
                                           size_t n_paths,
                                           struct hark_diag *diag,
                                           struct hark_rules **out);
struct hark_rules *hark_rules_ref(struct hark_rules *rules);
void hark_rules_unref(struct hark_rules *rules);

/* A hash of the compiled rules' sources ("r-1a2b3c4d"); borrowed. */
const char *hark_rules_version(const struct hark_rules *rules);
size_t hark_rules_count(const struct hark_rules *rules);
/* The files the set was loaded from, includes too (for a file watch);
 * borrowed while the set lives. */
size_t hark_rules_n_files(const struct hark_rules *rules);
/* The packs' domain sentiment phrases ("sentiment": {"phrases": {...}});
 * borrowed while the set lives. */
struct hark_sentiment_phrase;
const struct hark_sentiment_phrase *
hark_rules_sentiment_phrases(const struct hark_rules *rules, size_t *n);
const char *hark_rules_file(const struct hark_rules *rules, size_t i);
/* Per-thread match data. */
struct hark_rules_scratch *hark_rules_scratch_new(void);
void hark_rules_scratch_free(struct hark_rules_scratch *scratch);

/* Counters a worker keeps per scratch; read after each batch. */
struct hark_rules_stats {
    uint64_t n_match_limit; /* PCRE2 match/depth limit hits */
};

/*
 * Applies `rules` to item->post: fills item->matches (only rules that
 * matched, with spans into the original fields), item->tags,
 * item->author_tags, item->action, item->rule_points, item->rule_route and
 * item->rules_version. Never fails: a pattern that hits its match limit
 * counts as not matching and is counted in the scratch's stats.
 * Thread: any, with a scratch owned by the calling thread.
 */
void hark_rules_apply(const struct hark_rules *rules,
                      struct hark_rules_scratch *scratch,
                      struct hark_item *item);

const struct hark_rules_stats *
hark_rules_scratch_stats(const struct hark_rules_scratch *scratch);

#endif /* HARK_RULES_H */
