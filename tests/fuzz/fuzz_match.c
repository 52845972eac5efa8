/*
 * fuzz_match: the matcher (filters/rules_match.c, with normalization from
 * filters/normalize.c) on arbitrary post text. A fixed rule set, compiled
 * once, covers keyword conditions (phrases, wildcards, apostrophes, NFKC
 * and case folding, "case": true, lists), regexes (Unicode, case
 * sensitive, one that can match the empty string, one that hits the match
 * limit), the title, spoiler and author fields, match trees, a group,
 * numbers and sets.
 *
 * The input is split at NUL bytes into the post's text, title,
 * spoiler_text and author display name (each repaired to valid UTF-8, as
 * adapters deliver them).
 *
 * Invariants: every span lies inside its field, on UTF-8 character
 * boundaries; applying the set again with the same scratch gives the same
 * matches, spans, tags and action.
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

static const char pack[] =
    "// the fixed rule set of fuzz_match\n"
    "{\"lists\": {\"competitors\": [\"globex\", \"initech\", \"umbrella "
    "corp\"]},\n"
    " \"authors\": {\"vips\": {\"identities\": [\"mastodon:alice@example."
    "social\"], \"tags\": [\"author:vip\"]}},\n"
    " \"rules\": [\n"
    "  {\"id\": \"refund\", \"tags\": [\"intent:billing\"], \"action\": "
    "\"engage\", \"priority\": 20, \"route\": \"billing\",\n"
    "   \"match\": {\"any\": [{\"keywords\": [\"refund*\", \"money back\", "
    "\"charged twice\", \"can't pay\"]}]}},\n"
    "  {\"id\": \"wild\", \"match\": {\"any\": [{\"keywords\": "
    "[\"colo?r\", \"cancel*\", \"gr?y\", \"unsubscrib*\"]}]}},\n"
    "  {\"id\": \"nfkc\", \"match\": {\"any\": [{\"keywords\": "
    "[\"caf\xc3\xa9\", \"file\", \"stra\xc3\x9f"
    "e\", \"\xe2\x84\xab\", "
    "\"\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88\", \"\xf0\x9f\x98\xa1\"]}]}},\n"
    "  {\"id\": \"brand\", \"match\": {\"all\": [{\"keywords\": [\"ACME\"], "
    "\"case\": true}]}},\n"
    "  {\"id\": \"competitor\", \"match\": {\"any\": [{\"keywords\": "
    "[\"@competitors\"]}]}},\n"
    "  {\"id\": \"ticket\", \"match\": {\"all\": [{\"regex\": "
    "\"\\\\bT-\\\\d{4}\\\\b\", \"case\": true}]}},\n"
    "  {\"id\": \"unicode_re\", \"match\": {\"any\": [{\"regex\": "
    "\"\\\\p{Han}+|\\\\p{Katakana}{2,}|caf[e\xc3\xa9]\"}]}},\n"
    "  {\"id\": \"empty_re\", \"match\": {\"any\": [{\"regex\": "
    "\"(?:ab)*\"}]}},\n"
    "  {\"id\": \"evil_re\", \"match\": {\"any\": [{\"regex\": "
    "\"^(a|aa)+$\"}]}},\n"
    "  {\"id\": \"tree\", \"action\": \"drop\", \"match\": {\n"
    "    \"all\": [{\"keywords\": [\"app\"]}],\n"
    "    \"any\": [{\"keywords\": [\"crash*\", \"freez*\"]},\n"
    "            {\"all\": [{\"keywords\": [\"slow\"]}, {\"keywords\": "
    "[\"very\", \"so\"]}]}],\n"
    "    \"none\": [{\"keywords\": [\"fixed\"]}, {\"any\": [{\"field\": "
    "\"title\", \"keywords\": [\"release notes\"]}]}]}},\n"
    "  {\"id\": \"title\", \"match\": {\"all\": [{\"field\": \"title\", "
    "\"regex\": \"(?i)outage|down\"}]}},\n"
    "  {\"id\": \"spoiler\", \"match\": {\"all\": [{\"field\": "
    "\"spoiler_text\", \"keywords\": [\"rant\", \"cw\"]}]}},\n"
    "  {\"id\": \"name\", \"match\": {\"all\": [{\"field\": "
    "\"author.display_name\", \"keywords\": [\"bot\"]}]}},\n"
    "  {\"id\": \"route.legal\", \"group\": \"route\", \"tags\": "
    "[\"queue:legal\"], \"match\": {\"any\": [{\"keywords\": [\"lawyer\", "
    "\"sue you\"]}]}},\n"
    "  {\"id\": \"route.any\", \"group\": \"route\", \"match\": {\"any\": "
    "[{\"regex\": \".\"}]}},\n"
    "  {\"id\": \"numbers\", \"match\": {\"all\": [{\"field\": "
    "\"author.followers\", \"gte\": 10}, {\"lang\": [\"en\"]}, "
    "{\"platform\": \"mastodon\"}, {\"kind\": [\"post\"]}, {\"keywords\": "
    "[\"help\"]}]}}\n"
    " ]}\n";

static struct hark_rules *rules;
static struct hark_rules_scratch *scratch;

static void load_rules(void)
{
    if (rules) {
        return;
    }
    const char *path =
        fuzz_write("match", "match.json", pack, sizeof(pack) - 1);
    struct hark_diag diag;
    hark_diag_init(&diag);
    const char *paths[] = {path};
    hark_err_t err = hark_rules_load(paths, 1, &diag, &rules);
    if (err != HARK_OK) {
        hark_diag_print(&diag, stderr);
    }
    FUZZ_CHECK(err == HARK_OK);
    hark_diag_cleanup(&diag);
    (void)unlink(path);
    scratch = hark_rules_scratch_new();
    /* Both live for the whole process. */
}

/*
 * The next NUL-terminated piece of data[*off..size), repaired; NULL once
 * the input is used up. *off moves past the piece and its NUL.
 */
static char *next_piece(const uint8_t *data, size_t size, size_t *off)
{
    if (*off > size) {
        return NULL;
    }
    size_t left = size - *off;
    const uint8_t *start = data + *off;
    const uint8_t *nul = left ? memchr(start, '\0', left) : NULL;
    size_t len = nul ? (size_t)(nul - start) : left;
    *off += len + 1;
    return hark_utf8_repair((const char *)start, len, NULL);
}

static struct hark_post *make_post(const uint8_t *data, size_t size)
{
    size_t off = 0;
    struct hark_post *post = hark_post_new();
    post->id = hark_xstrdup("1");
    post->platform = hark_xstrdup("mastodon");
    post->source = hark_xstrdup("fuzz");
    post->lang = hark_xstrdup("en");
    post->author.id = hark_xstrdup("109");
    post->author.handle = hark_xstrdup("alice@example.social");
    post->author.followers = 100;
    free(post->text);
    post->text = next_piece(data, size, &off);
    post->title = next_piece(data, size, &off);
    post->spoiler_text = next_piece(data, size, &off);
    post->author.display_name = next_piece(data, size, &off);
    return post;
}

static void check_same(const struct hark_item *a, const struct hark_item *b)
{
    FUZZ_CHECK(a->n_matches == b->n_matches);
    FUZZ_CHECK(a->action == b->action);
    FUZZ_CHECK(a->rule_points == b->rule_points);
    FUZZ_CHECK(a->tags.n == b->tags.n);
    FUZZ_CHECK(a->author_tags.n == b->author_tags.n);
    for (size_t i = 0; i < a->n_matches; i++) {
        const struct hark_match *ma = &a->matches[i];
        const struct hark_match *mb = &b->matches[i];
        FUZZ_CHECK(strcmp(ma->rule, mb->rule) == 0);
        FUZZ_CHECK(ma->n_spans == mb->n_spans);
        for (size_t k = 0; k < ma->n_spans; k++) {
            FUZZ_CHECK(ma->spans[k].field == mb->spans[k].field);
            FUZZ_CHECK(ma->spans[k].start == mb->spans[k].start);
            FUZZ_CHECK(ma->spans[k].end == mb->spans[k].end);
        }
    }
}

/* NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's name */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) {
        return 0;
    }
    load_rules();
    struct hark_item *item = hark_item_new(make_post(data, size));
    hark_rules_apply(rules, scratch, item);
    fuzz_check_item(item);
    FUZZ_CHECK(item->n_matches <= hark_rules_count(rules));

    struct hark_item *again = hark_item_new(hark_post_dup(item->post));
    hark_rules_apply(rules, scratch, again);
    check_same(item, again);
    if (fuzz_verbose()) {
        (void)fprintf(stderr, "match: %zu matches, action %s:", item->n_matches,
                      hark_action_name(item->action));
        for (size_t i = 0; i < item->n_matches; i++) {
            (void)fprintf(stderr, " %s(%zu)", item->matches[i].rule,
                          item->matches[i].n_spans);
        }
        (void)fprintf(stderr, "\n");
    }

    hark_item_free(again);
    hark_item_free(item);
    return 0;
}
