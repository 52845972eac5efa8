/*
 * app_int: the top floor's private declarations: the config file, the
 * snapshot (everything a reload replaces), the pipeline and the commands.
 * Only app/ includes this header; it is the one place that knows every
 * stage.
 *
 * Thread: see each function.
 */
#ifndef HARK_APP_INT_H
#define HARK_APP_INT_H

#include <stdatomic.h>
#include <stdio.h>

#include "hark/common.h"
#include "hark/conversation.h"
#include "hark/customers.h"
#include "hark/diag.h"
#include "hark/json.h"
#include "hark/relation.h"
#include "hark/rules.h"
#include "hark/score.h"
#include "hark/sentiment.h"
#include "hark/source.h"

struct hark_app_source {
    struct hark_source_cfg cfg;
    const struct hark_source_ops *ops;
    void *state; /* the adapter's */
    char *host;  /* base_url's host, completes bare Mastodon handles */
};

/* A parsed config file (DESIGN.md "Configuration"). */
struct hark_app_config {
    char *path;
    struct hark_json_doc *doc;
    struct hark_app_source *sources;
    size_t n_sources;
    char **rule_paths;          /* resolved against the config's folder */
    size_t n_rule_paths;
    char *customers_path;       /* NULL = no directory */
    enum hark_bad_row on_bad_row;
    struct hark_strv brand_accounts; /* "platform:handle-or-id" */
    const struct hark_json *sinks;   /* inside doc; NULL = file sink "out" */
    char *state_dir;
    char *lexicon_dir;
    struct hark_score_cfg score;
    struct hark_relation_cfg relation;
    struct hark_conv_cfg conversations;
    bool keep_unmatched;
    int workers;
    int watch_s;                /* file watch period, 0 = off (SIGHUP only) */
    char *topic_posts;          /* short names; sinks add their prefix */
    char *topic_engagement;
    char *topic_dlq;
    char *topic_signals;
    size_t max_in_flight;
    size_t max_body_bytes;
    size_t dedup_window;
};

/* The lexicon folder hark ships (HARK_LEXICON_DIR overrides). */
const char *hark_app_default_lexicons(void);

/*
 * Parses and validates `path`. Every problem goes to `diag` as
 * file:line:column. Success: *out owned by the caller.
 * Thread: any (main at start and on reload).
 */
HARK_MUST_CHECK hark_err_t hark_app_config_load(const char *path,
                                                struct hark_diag *diag,
                                                struct hark_app_config **out);
/* A config with defaults and no file (for `hark try` without -c). */
struct hark_app_config *hark_app_config_defaults(void);
void hark_app_config_free(struct hark_app_config *cfg);

/*
 * Everything a reload replaces, immutable once built. Workers take a
 * reference per batch (lock, increment, unlock) and drop it after.
 */
struct hark_snapshot {
    atomic_int refs;
    struct hark_app_config *cfg; /* owned */
    struct hark_rules *rules;
    struct hark_lexicon *lexicon;
    struct hark_customers *customers; /* may be NULL */
};

/*
 * Loads rules, lexicon and customers named by `cfg` (taking ownership of
 * `cfg` on every path). Success: *out with one reference.
 */
HARK_MUST_CHECK hark_err_t hark_snapshot_build(struct hark_app_config *cfg,
                                               struct hark_diag *diag,
                                               struct hark_snapshot **out);
struct hark_snapshot *hark_snapshot_ref(struct hark_snapshot *snap);
void hark_snapshot_unref(struct hark_snapshot *snap);

/*
 * Runs the filters of one item against `snap`, as a worker does. The
 * pipeline scores sentiment only for posts it keeps; `hark try` asks for
 * every post (is_always_scored), so "unscored" keeps meaning "a language
 * the lexicon does not cover".
 */
void hark_app_analyze(const struct hark_snapshot *snap,
                      struct hark_rules_scratch *scratch,
                      struct hark_item *item, bool is_always_scored);
/*
 * Enrichment in two steps, so that the stateful part (enrich/relation, on
 * the emit thread) can run between them: the customer join, then
 * relationship value, priority and route (and the brand-account rule).
 * hark_app_enrich() runs both, for stateless callers (`hark try`).
 */
void hark_app_join(const struct hark_snapshot *snap, struct hark_item *item);
void hark_app_score(const struct hark_snapshot *snap, struct hark_item *item,
                    int64_t now_ms);
void hark_app_enrich(const struct hark_snapshot *snap, struct hark_item *item,
                     int64_t now_ms);
/* Whether the post's author is one of the brand's own accounts. */
bool hark_app_is_brand(const struct hark_app_config *cfg,
                       const struct hark_post *post);

/* Commands; each returns the process exit code. */
int hark_cmd_run(int argc, char **argv);
int hark_cmd_check(int argc, char **argv);
int hark_cmd_try(int argc, char **argv);

#endif /* HARK_APP_INT_H */
