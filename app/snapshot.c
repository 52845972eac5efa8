/*
 * The snapshot: config, rules, lexicon and customers as one immutable unit
 * (nginx's cycle). Built by the same code for `hark check`, `hark try`,
 * start-up and reload; shared by reference.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app_int.h"
#include "hark/log.h"

hark_err_t hark_snapshot_build(struct hark_app_config *cfg,
                               struct hark_diag *diag,
                               struct hark_snapshot **out)
{
    *out = NULL;
    struct hark_snapshot *snap = hark_xcalloc(1, sizeof(*snap));
    atomic_init(&snap->refs, 1);
    snap->cfg = cfg;
    hark_err_t err = HARK_OK;
    if (hark_rules_load((const char *const *)cfg->rule_paths,
                        cfg->n_rule_paths, diag, &snap->rules) != HARK_OK) {
        err = HARK_EINVAL;
    }
    if (hark_lexicon_load(cfg->lexicon_dir, diag, &snap->lexicon) != HARK_OK) {
        err = HARK_EINVAL;
    }
    if (cfg->customers_path &&
        hark_customers_load(cfg->customers_path, cfg->on_bad_row, diag,
                            &snap->customers) != HARK_OK) {
        err = HARK_EINVAL;
    }
    if (err != HARK_OK) {
        hark_snapshot_unref(snap);
        return err;
    }
    *out = snap;
    return HARK_OK;
}

struct hark_snapshot *hark_snapshot_ref(struct hark_snapshot *snap)
{
    atomic_fetch_add(&snap->refs, 1);
    return snap;
}

void hark_snapshot_unref(struct hark_snapshot *snap)
{
    if (!snap || atomic_fetch_sub(&snap->refs, 1) != 1) {
        return;
    }
    hark_rules_unref(snap->rules);
    hark_lexicon_free(snap->lexicon);
    hark_customers_free(snap->customers);
    hark_app_config_free(snap->cfg);
    free(snap);
}

void hark_app_analyze(const struct hark_snapshot *snap,
                      struct hark_rules_scratch *scratch,
                      struct hark_item *item, bool is_always_scored)
{
    hark_rules_apply(snap->rules, scratch, item);
    bool is_kept = item->action == HARK_ACTION_TAG ||
                   item->action == HARK_ACTION_ENGAGE ||
                   (item->action == HARK_ACTION_NONE &&
                    snap->cfg->keep_unmatched);
    if ((is_kept || is_always_scored) && !item->post->is_deleted) {
        size_t n = 0;
        const struct hark_sentiment_phrase *ph =
            hark_rules_sentiment_phrases(snap->rules, &n);
        hark_sentiment_score_with(snap->lexicon, ph, n, item->post,
                                  &item->sentiment);
    }
}

/* "mastodon:acme@host" matches the post's platform and handle or id. */
bool hark_app_is_brand(const struct hark_app_config *cfg,
                       const struct hark_post *post)
{
    if (!post->platform) {
        return false;
    }
    size_t plen = strlen(post->platform);
    for (size_t i = 0; i < cfg->brand_accounts.n; i++) {
        const char *b = cfg->brand_accounts.v[i];
        if (strncmp(b, post->platform, plen) != 0 || b[plen] != ':') {
            continue;
        }
        const char *who = b + plen + 1;
        if (*who == '@') {
            who++;
        }
        if ((post->author.handle && strcasecmp(who, post->author.handle) == 0) ||
            (post->author.id && strcmp(who, post->author.id) == 0)) {
            return true;
        }
    }
    return false;
}

void hark_app_join(const struct hark_snapshot *snap, struct hark_item *item)
{
    const struct hark_app_config *cfg = snap->cfg;
    if (snap->customers) {
        const char *host = NULL;
        for (size_t i = 0; i < cfg->n_sources; i++) {
            if (item->post->source &&
                strcmp(cfg->sources[i].cfg.name, item->post->source) == 0) {
                host = cfg->sources[i].host;
            }
        }
        bool is_handle = false;
        const struct hark_customer *cust =
            hark_customers_find(snap->customers, item->post, host, &is_handle);
        if (cust) {
            item->has_customer = true;
            hark_customer_view_fill(cust, cfg->score.export_mask, is_handle,
                                    &item->customer);
        }
    }
}

void hark_app_score(const struct hark_snapshot *snap, struct hark_item *item,
                    int64_t now_ms)
{
    const struct hark_app_config *cfg = snap->cfg;
    hark_score_item(&cfg->score, item, now_ms);
    if (item->action == HARK_ACTION_ENGAGE &&
        hark_app_is_brand(cfg, item->post)) {
        /* The brand's own posts never become engagement items. */
        item->action = HARK_ACTION_TAG;
        free(item->route_queue);
        item->route_queue = NULL;
        item->sla_due_ms = 0;
        item->sla_warn_ms = 0;
    }
}

void hark_app_enrich(const struct hark_snapshot *snap, struct hark_item *item,
                     int64_t now_ms)
{
    hark_app_join(snap, item);
    hark_app_score(snap, item, now_ms);
}
