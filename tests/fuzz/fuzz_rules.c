/*
 * fuzz_rules: rule packs (filters/rules.c) through hark_rules_load(): JSON
 * with comments, the pack/rule/condition maps, includes (cycles, repeats),
 * lists and author lists, keyword patterns (wildcards, phrases,
 * apostrophes, normalization) and user regexes compiled by PCRE2. A set
 * that compiles is then applied to a few fixed posts, and every span it
 * reports must lie inside its field on character boundaries.
 *
 * The input is written to r.json in this process's scratch folder, next to
 * a fixed pack lists.json (lists "brands" and "competitors", author list
 * "vips"), so an input may include "lists.json" or itself.
 *
 * Thread: one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hark/item.h"
#include "hark/post.h"
#include "hark/rules.h"

#include "fuzz_util.h"

#define MAX_INPUT (64U << 10)

static const char lists_pack[] =
    "// fixed pack the fuzz inputs may include\n"
    "{\"lists\": {\"brands\": [\"acme\", \"acme corp\", \"ACME*\"],\n"
    "  \"competitors\": [\"globex\", \"initech\", \"umbrella corp\"]},\n"
    " \"authors\": {\"vips\": {\"identities\": [\"mastodon:alice@example."
    "social\", \"x:12345\"], \"tags\": [\"author:vip\"]}},\n"
    " \"rules\": []}\n";

static const char *const post_texts[] = {
    "I want a refund, the ACME app crashed twice! caf\xc3\xa9 \xef\xac\x81le "
    "can\xe2\x80\x99t log in #help @support https://acme.example/x",
    "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88 Globex is better than acme corp. "
    "\xf0\x9f\x98\xa1\xf0\x9f\x98\xa1 T-1234 money  back",
    "",
};

static struct hark_post *make_post(size_t i)
{
    struct hark_post *post = hark_post_new();
    post->id = hark_xasprintf("%zu", i + 1);
    post->platform = hark_xstrdup(i == 1 ? "x" : "mastodon");
    post->source = hark_xstrdup("fuzz");
    post->lang = hark_xstrdup(i == 1 ? "ja" : "en-GB");
    post->kind = i == 2 ? HARK_KIND_REPLY : HARK_KIND_POST;
    free(post->text);
    post->text = hark_xstrdup(post_texts[i]);
    post->title = i == 0 ? hark_xstrdup("Release notes: ACME 2.0") : NULL;
    post->spoiler_text = i == 1 ? hark_xstrdup("rant") : NULL;
    post->author.id = hark_xstrdup(i == 1 ? "12345" : "109");
    post->author.handle = hark_xstrdup(i == 0 ? "alice@example.social" : "bob");
    post->author.display_name = hark_xstrdup("Al \xc3\x8e");
    post->author.followers = i == 0 ? 15000 : -1;
    post->likes = (int64_t)i * 50;
    post->reposts = 101;
    return post;
}

static void apply_all(const struct hark_rules *rules)
{
    struct hark_rules_scratch *scratch = hark_rules_scratch_new();
    for (size_t i = 0; i < sizeof(post_texts) / sizeof(post_texts[0]); i++) {
        struct hark_item *item = hark_item_new(make_post(i));
        hark_rules_apply(rules, scratch, item);
        fuzz_check_item(item);
        FUZZ_CHECK(item->n_matches <= hark_rules_count(rules));
        FUZZ_CHECK(item->n_matches > 0 || item->action == HARK_ACTION_NONE);
        if (fuzz_verbose()) {
            (void)fprintf(stderr, "  post %zu: %zu matches, action %s\n", i,
                          item->n_matches, hark_action_name(item->action));
        }
        hark_item_free(item);
    }
    hark_rules_scratch_free(scratch);
}

/* NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's name */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    static int has_lists;
    if (!has_lists) {
        (void)fuzz_write("rules", "lists.json", lists_pack,
                         sizeof(lists_pack) - 1);
        has_lists = 1;
    }
    const char *path = fuzz_write("rules", "r.json", data, size);
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_rules *rules = NULL;
    const char *paths[] = {path};
    hark_err_t err = hark_rules_load(paths, 1, &diag, &rules);
    fuzz_check_diag(&diag);
    if (err == HARK_OK) {
        FUZZ_CHECK(rules != NULL);
        FUZZ_CHECK(!hark_diag_has_errors(&diag));
        const char *version = hark_rules_version(rules);
        FUZZ_CHECK(version != NULL && strncmp(version, "r-", 2) == 0);
        apply_all(rules);
        if (fuzz_verbose()) {
            (void)fprintf(stderr, "rules: ok, %zu rules, %s\n",
                          hark_rules_count(rules), version);
        }
    } else {
        FUZZ_CHECK(rules == NULL);
        FUZZ_CHECK(diag.n_errors > 0);
        if (fuzz_verbose()) {
            (void)fprintf(stderr, "rules: %s, %zu errors\n", hark_err_str(err),
                          diag.n_errors);
        }
    }
    hark_rules_unref(rules);
    hark_diag_cleanup(&diag);
    (void)unlink(path);
    return 0;
}
