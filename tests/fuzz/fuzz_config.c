/*
 * fuzz_config: the config file (app/config.c) through
 * hark_app_config_load(): JSON with comments and positions, the config
 * maps of every section, every source adapter's init (mastodon, reddit,
 * bluesky, hackernews, json), the sinks' key maps and the priority
 * section. Every diagnostic is printed (to /dev/null) so the caret lines
 * run too.
 *
 * The input is written to hark.json in this process's scratch folder
 * (/tmp/hark-fuzz-config-<pid>/) and removed after each run. Paths in the
 * config (rules, customers, lexicons, state_dir) are only resolved, never
 * opened: the snapshot that would read them is left out on purpose (it
 * would read whatever file an input names, which is neither deterministic
 * nor offline, and fuzz_rules / fuzz_customers_csv cover those loaders).
 *
 * Thread: one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hark/post.h"

#include "app/app_int.h"
#include "fuzz_util.h"

#define MAX_INPUT (64U << 10)

/* Brand-account matching over what the config listed. */
static void check_brand(const struct hark_app_config *cfg)
{
    struct hark_post *post = hark_post_new();
    post->platform = hark_xstrdup("mastodon");
    post->author.handle = hark_xstrdup("acme@mastodon.social");
    post->author.id = hark_xstrdup("109");
    (void)hark_app_is_brand(cfg, post);
    hark_post_free(post);
}

/* NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's name */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    const char *path = fuzz_write("config", "hark.json", data, size);
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_app_config *cfg = NULL;
    hark_err_t err = hark_app_config_load(path, &diag, &cfg);
    fuzz_check_diag(&diag);
    if (err == HARK_OK) {
        FUZZ_CHECK(cfg != NULL);
        FUZZ_CHECK(!hark_diag_has_errors(&diag));
        FUZZ_CHECK(cfg->lexicon_dir != NULL && cfg->state_dir != NULL);
        for (size_t i = 0; i < cfg->n_sources; i++) {
            const struct hark_app_source *s = &cfg->sources[i];
            FUZZ_CHECK(s->ops != NULL && s->cfg.name != NULL);
            FUZZ_CHECK(s->cfg.base_url != NULL);
        }
        for (size_t i = 0; i < cfg->n_rule_paths; i++) {
            FUZZ_CHECK(cfg->rule_paths[i] != NULL);
        }
        check_brand(cfg);
        if (fuzz_verbose()) {
            (void)fprintf(stderr, "config: ok, %zu sources, %zu rule files\n",
                          cfg->n_sources, cfg->n_rule_paths);
        }
    } else {
        FUZZ_CHECK(cfg == NULL);
        /* Every failure tells the user why. */
        FUZZ_CHECK(diag.n_errors > 0);
        if (fuzz_verbose()) {
            (void)fprintf(stderr, "config: %s, %zu errors\n", hark_err_str(err),
                          diag.n_errors);
        }
    }
    hark_app_config_free(cfg);
    hark_diag_cleanup(&diag);
    (void)unlink(path);
    return 0;
}
