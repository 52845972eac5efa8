/*
 * Unit tests for filters/rules.c and filters/rules_match.c, through
 * include/hark/rules.h: loading (packs, includes, lists, authors, every
 * error with its exact file:line:column) and applying (keywords, regexes,
 * normalization with spans into the original bytes, match trees, groups,
 * actions, routes, numeric and set tests, author lists, limits).
 *
 * Each test runs in a fresh temporary directory so file names in messages
 * are short and exact. In the rule texts below a backtick stands for a
 * double quote, to keep the JSON readable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hark/diag.h"
#include "hark/item.h"
#include "hark/post.h"
#include "hark/rules.h"

struct fixture {
    char dir[64];
    char cwd[4096];
    char *files[16];
    size_t n_files;
    struct hark_rules *rules;
    struct hark_rules_scratch *scratch;
    struct hark_diag diag;
};

static struct fixture *fx;

static int setup(void **state)
{
    fx = calloc(1, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/hark-test-rules-XXXXXX");
    if (!mkdtemp(fx->dir) || !getcwd(fx->cwd, sizeof(fx->cwd)) ||
        chdir(fx->dir) != 0) {
        return -1;
    }
    fx->scratch = hark_rules_scratch_new();
    hark_diag_init(&fx->diag);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < fx->n_files; i++) {
        unlink(fx->files[i]);
        free(fx->files[i]);
    }
    if (chdir(fx->cwd) != 0 || rmdir(fx->dir) != 0) {
        return -1;
    }
    hark_rules_unref(fx->rules);
    hark_rules_scratch_free(fx->scratch);
    hark_diag_cleanup(&fx->diag);
    free(fx);
    fx = NULL;
    return 0;
}

/* Writes `text` (backticks become double quotes) to `name`. */
static void write_file(const char *name, const char *text)
{
    FILE *fp = fopen(name, "w");
    assert_non_null(fp);
    for (const char *p = text; *p; p++) {
        fputc(*p == '`' ? '"' : *p, fp);
    }
    assert_int_equal(fclose(fp), 0);
    for (size_t i = 0; i < fx->n_files; i++) {
        if (strcmp(fx->files[i], name) == 0) {
            return;
        }
    }
    fx->files[fx->n_files++] = strdup(name);
}

static void print_diag(void)
{
    hark_diag_print(&fx->diag, stderr);
}

/* Loads one pack text as r.json; fails the test on any error. */
static void load_text(const char *text)
{
    write_file("r.json", text);
    const char *paths[] = {"r.json"};
    hark_rules_unref(fx->rules);
    fx->rules = NULL;
    hark_err_t err = hark_rules_load(paths, 1, &fx->diag, &fx->rules);
    if (err != HARK_OK) {
        print_diag();
    }
    assert_int_equal(err, HARK_OK);
    assert_non_null(fx->rules);
}

/* Loads `paths`, expecting failure; returns the error. */
static hark_err_t load_fail(const char *const *paths, size_t n)
{
    struct hark_rules *rules = NULL;
    hark_err_t err = hark_rules_load(paths, n, &fx->diag, &rules);
    assert_null(rules);
    assert_int_not_equal(err, HARK_OK);
    return err;
}

/* Entry `i` as "file:line:column: message". */
static const char *diag_msg(size_t i)
{
    static char buf[1024];
    assert_true(i < fx->diag.n_entries);
    const struct hark_diag_entry *e = &fx->diag.entries[i];
    snprintf(buf, sizeof(buf), "%s:%d:%d: %s", e->file ? e->file : "-", e->line,
             e->column, e->message);
    return buf;
}

static struct hark_item *apply_post(struct hark_post *post)
{
    struct hark_item *item = hark_item_new(post);
    hark_rules_apply(fx->rules, fx->scratch, item);
    return item;
}

static struct hark_item *apply_text(const char *text)
{
    struct hark_post *post = hark_post_new();
    free(post->text);
    post->text = strdup(text);
    post->platform = strdup("mastodon");
    return apply_post(post);
}

static const struct hark_match *find_match(const struct hark_item *item,
                                           const char *rule)
{
    for (size_t i = 0; i < item->n_matches; i++) {
        if (strcmp(item->matches[i].rule, rule) == 0) {
            return &item->matches[i];
        }
    }
    return NULL;
}

static bool matches(const char *text, const char *rule)
{
    struct hark_item *item = apply_text(text);
    bool is_hit = find_match(item, rule) != NULL;
    hark_item_free(item);
    return is_hit;
}

static void assert_span(const struct hark_match *m,
                        size_t i,
                        enum hark_field field,
                        uint32_t start,
                        uint32_t end)
{
    assert_true(i < m->n_spans);
    assert_int_equal(m->spans[i].field, field);
    assert_int_equal(m->spans[i].start, start);
    assert_int_equal(m->spans[i].end, end);
}

/* ------------------------------------------------------------------ */
/* Keywords                                                            */

static void test_hark_rules_apply__keywords_are_word_bounded(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `refund`, `match`: {`all`: ["
              "{`keywords`: [`refund`]}]}}]}");
    assert_true(matches("I want a refund.", "refund"));
    assert_true(matches("Refund!", "refund"));
    assert_false(matches("it was refunded", "refund"));
    assert_false(matches("a nonrefundable fare", "refund"));
    assert_false(matches("refund_policy", "refund"));
    assert_true(matches("(refund)", "refund"));
}

static void test_hark_rules_apply__wildcards(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `w`, `match`: {`any`: ["
              "{`keywords`: [`cancel*`, `colo?r`, `re*ed`]}]}}]}");
    assert_true(matches("cancel it", "w"));
    assert_true(matches("I cancelled", "w"));
    assert_true(matches("the cancellation", "w"));
    assert_false(matches("precancel", "w"));
    assert_true(matches("colour", "w"));
    assert_false(matches("color", "w"));
    assert_false(matches("colouur", "w"));
    assert_true(matches("refunded", "w"));
    assert_true(matches("reed", "w"));
    assert_false(matches("reds", "w"));
}

static void test_hark_rules_apply__phrases_and_apostrophes(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `p`, `match`: {`any`: ["
              "{`keywords`: [`money back`, `can't log in`]}]}}]}");
    assert_true(matches("I want my MONEY   back", "p"));
    assert_true(matches("money\nback please", "p"));
    assert_false(matches("moneyback", "p"));
    assert_true(matches("I can't log in", "p"));
    assert_true(matches("I can\xe2\x80\x99t log in", "p")); /* can’t */
    assert_false(matches("I cant log in", "p"));
}

static void test_hark_rules_apply__lists_expand_in_any_pack(void **state)
{
    (void)state;
    write_file("lists.json", "{`lists`: {`money`: [`refund`, `chargeback`]}}");
    load_text("{`include`: [`lists.json`], `rules`: [{`id`: `l`, "
              "`match`: {`all`: [{`keywords`: [`@money`, `billing`]}]}}]}");
    assert_true(matches("filed a chargeback", "l"));
    assert_true(matches("billing is broken", "l"));
    assert_false(matches("charge", "l"));
}

static void test_hark_rules_apply__nfkc_spans_into_original(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `r`, `match`: {`all`: ["
              "{`keywords`: [`refund`]}]}}]}");
    /* "Need a 𝐫𝐞𝐟𝐮𝐧𝐝 or ＲＥＦＵＮＤ": bytes 7..31 and 35..53. */
    struct hark_item *item = apply_text(
        "Need a \xf0\x9d\x90\xab\xf0\x9d\x90\x9e\xf0\x9d\x90\x9f\xf0\x9d\x90"
        "\xae\xf0\x9d\x90\xa7\xf0\x9d\x90\x9d or \xef\xbc\xb2\xef\xbc\xa5\xef"
        "\xbc\xa6\xef\xbc\xb5\xef\xbc\xae\xef\xbc\xa4");
    const struct hark_match *m = find_match(item, "r");
    assert_non_null(m);
    assert_int_equal(m->n_spans, 2);
    assert_span(m, 0, HARK_FIELD_TEXT, 7, 31);
    assert_span(m, 1, HARK_FIELD_TEXT, 35, 53);
    hark_item_free(item);
}

static void test_hark_rules_apply__case_true_runs_on_original(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `c`, `match`: {`all`: ["
              "{`keywords`: [`ACME`], `case`: true}]}},"
              "{`id`: `rx`, `match`: {`all`: [{`regex`: `Acme\\\\d`}]}},"
              "{`id`: `rxc`, `match`: {`all`: ["
              "{`regex`: `Acme\\\\d`, `case`: true}]}}]}");
    assert_true(matches("I love ACME", "c"));
    assert_false(matches("I love acme", "c"));
    /* Case-sensitive keywords see the original, not the folded copy. */
    assert_false(matches("I love \xef\xbc\xa1\xef\xbc\xa3\xef\xbc\xad\xef"
                         "\xbc\xa5",
                         "c"));
    assert_true(matches("ACME9", "rx"));
    assert_false(matches("ACME9", "rxc"));
    assert_true(matches("Acme9", "rxc"));
}

/* ------------------------------------------------------------------ */
/* Match trees, spans                                                  */

static void test_hark_rules_apply__all_any_none_nest(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `n`, `match`: {"
              "`all`: [{`keywords`: [`app`]}],"
              "`any`: [{`keywords`: [`crash*`]}, {`all`: ["
              "{`keywords`: [`slow`]}, {`keywords`: [`very`]}]}],"
              "`none`: [{`keywords`: [`fixed`]}]}}]}");
    assert_true(matches("the app crashes", "n"));
    assert_true(matches("the app is very slow", "n"));
    assert_false(matches("the app is slow", "n"));
    assert_false(matches("the app crashed but it is fixed", "n"));
    assert_false(matches("crashes everywhere", "n"));
}

static void test_hark_rules_apply__reports_every_span(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `s`, `tags`: [`t1`], `match`: {"
              "`all`: [{`keywords`: [`refund`]}],"
              "`any`: [{`regex`: `\\\\bnow\\\\b`}, {`keywords`: [`today`]}],"
              "`none`: [{`keywords`: [`never`]}]}}]}");
    /* 0         1         2         3
       0123456789012345678901234567890123456 */
    struct hark_item *item = apply_text("refund now, refund today, refund NOW");
    const struct hark_match *m = find_match(item, "s");
    assert_non_null(m);
    assert_int_equal(m->n_spans, 6);
    assert_span(m, 0, HARK_FIELD_TEXT, 0, 6);
    assert_span(m, 1, HARK_FIELD_TEXT, 7, 10);
    assert_span(m, 2, HARK_FIELD_TEXT, 12, 18);
    assert_span(m, 3, HARK_FIELD_TEXT, 19, 24);
    assert_span(m, 4, HARK_FIELD_TEXT, 26, 32);
    assert_span(m, 5, HARK_FIELD_TEXT, 33, 36);
    assert_int_equal(m->tags.n, 1);
    assert_string_equal(m->tags.v[0], "t1");
    hark_item_free(item);
}

static void test_hark_rules_apply__default_fields_and_field(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `any`, `match`: {`all`: ["
              "{`keywords`: [`outage`]}]}},"
              "{`id`: `title`, `match`: {`all`: ["
              "{`field`: `title`, `keywords`: [`outage`]}]}},"
              "{`id`: `handle`, `match`: {`all`: ["
              "{`field`: `author.handle`, `regex`: `^support@`}]}}]}");
    struct hark_post *post = hark_post_new();
    post->spoiler_text = strdup("Outage");
    post->title = strdup("Status");
    post->author.handle = strdup("support@acme.example");
    struct hark_item *item = apply_post(post);
    const struct hark_match *m = find_match(item, "any");
    assert_non_null(m);
    assert_int_equal(m->n_spans, 1);
    assert_span(m, 0, HARK_FIELD_SPOILER, 0, 6);
    assert_null(find_match(item, "title"));
    m = find_match(item, "handle");
    assert_non_null(m);
    assert_int_equal(m->n_spans, 0); /* not a post text field */
    hark_item_free(item);
}

/* ------------------------------------------------------------------ */
/* Actions, groups, routes, points, tags                               */

static void test_hark_rules_apply__drop_beats_engage(void **state)
{
    (void)state;
    load_text("{`rules`: ["
              "{`id`: `e`, `action`: `engage`, `priority`: 20, `route`: "
              "`care`, `tags`: [`a`, `b`], `match`: {`all`: [{`keywords`: "
              "[`help`]}]}},"
              "{`id`: `t`, `tags`: [`b`, `c`], `priority`: 5, `match`: "
              "{`all`: [{`keywords`: [`help`]}]}},"
              "{`id`: `d`, `action`: `drop`, `priority`: -10, `match`: "
              "{`all`: [{`keywords`: [`hiring`]}]}}]}");
    struct hark_item *item = apply_text("help, we're hiring");
    assert_int_equal(item->action, HARK_ACTION_DROP);
    assert_int_equal(item->n_matches, 3); /* a drop keeps its matches */
    assert_int_equal(item->rule_points, 15);
    assert_int_equal(item->tags.n, 3);
    assert_string_equal(item->tags.v[0], "a");
    assert_string_equal(item->tags.v[1], "b");
    assert_string_equal(item->tags.v[2], "c");
    assert_string_equal(item->rule_route, "care");
    hark_item_free(item);

    item = apply_text("help");
    assert_int_equal(item->action, HARK_ACTION_ENGAGE);
    hark_item_free(item);
    item = apply_text("nothing here");
    assert_int_equal(item->action, HARK_ACTION_NONE);
    assert_int_equal(item->n_matches, 0);
    assert_null(item->rule_route);
    assert_string_equal(item->rules_version, hark_rules_version(fx->rules));
    hark_item_free(item);
}

static void test_hark_rules_apply__route_highest_priority_engage(void **s)
{
    (void)s;
    load_text("{`rules`: ["
              "{`id`: `a`, `action`: `engage`, `priority`: 10, `route`: "
              "`care`, `match`: {`all`: [{`keywords`: [`refund`]}]}},"
              "{`id`: `b`, `action`: `engage`, `priority`: 30, `route`: "
              "`retention`, `match`: {`all`: [{`keywords`: [`cancel`]}]}},"
              "{`id`: `c`, `action`: `engage`, `priority`: 30, `route`: "
              "`billing`, `match`: {`all`: [{`keywords`: [`refund`]}]}}]}");
    struct hark_item *item = apply_text("refund or I cancel");
    assert_string_equal(item->rule_route, "retention"); /* tie: earlier */
    assert_int_equal(item->rule_points, 70);
    hark_item_free(item);
    item = apply_text("refund please");
    assert_string_equal(item->rule_route, "billing");
    hark_item_free(item);
}

static void test_hark_rules_apply__ordered_group_first_match(void **state)
{
    (void)state;
    load_text("{`rules`: ["
              "{`id`: `g1`, `group`: `route`, `match`: {`all`: "
              "[{`keywords`: [`lawyer`]}]}},"
              "{`id`: `free`, `match`: {`all`: [{`keywords`: [`refund`]}]}},"
              "{`id`: `g2`, `group`: `route`, `match`: {`all`: "
              "[{`keywords`: [`refund`]}]}},"
              "{`id`: `g3`, `group`: `route`, `match`: {`all`: "
              "[{`keywords`: [`refund`, `lawyer`]}]}}]}");
    struct hark_item *item = apply_text("refund or my lawyer calls");
    assert_int_equal(item->n_matches, 2);
    assert_string_equal(item->matches[0].rule, "g1");
    assert_string_equal(item->matches[1].rule, "free");
    hark_item_free(item);
    item = apply_text("refund");
    assert_int_equal(item->n_matches, 2);
    assert_string_equal(item->matches[0].rule, "free");
    assert_string_equal(item->matches[1].rule, "g2");
    hark_item_free(item);
}

/* ------------------------------------------------------------------ */
/* Numbers, sets, authors                                              */

static void test_hark_rules_apply__followers_range(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `mid`, `match`: {`all`: ["
              "{`field`: `author.followers`, `gte`: 1000, `lt`: 10000}]}},"
              "{`id`: `liked`, `match`: {`all`: ["
              "{`field`: `metrics.likes`, `gt`: 5}]}}]}");
    struct hark_post *post = hark_post_new();
    post->author.followers = 1000;
    post->likes = 6;
    struct hark_item *item = apply_post(post);
    assert_non_null(find_match(item, "mid"));
    assert_non_null(find_match(item, "liked"));
    hark_item_free(item);
    post = hark_post_new();
    post->author.followers = 10000;
    post->likes = 5;
    item = apply_post(post);
    assert_int_equal(item->n_matches, 0);
    hark_item_free(item);
    post = hark_post_new(); /* followers unknown (-1) */
    item = apply_post(post);
    assert_null(find_match(item, "mid"));
    hark_item_free(item);
}

static void test_hark_rules_apply__lang_platform_kind(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `en`, `match`: {`all`: [{`lang`: `en`}]}},"
              "{`id`: `gb`, `match`: {`all`: [{`lang`: [`en-GB`]}]}},"
              "{`id`: `pk`, `match`: {`all`: [{`platform`: [`reddit`, "
              "`hackernews`]}, {`kind`: [`comment`, `reply`]}]}}]}");
    struct hark_post *post = hark_post_new();
    post->lang = strdup("en-GB");
    post->platform = strdup("reddit");
    post->kind = HARK_KIND_COMMENT;
    struct hark_item *item = apply_post(post);
    assert_int_equal(item->n_matches, 3);
    hark_item_free(item);
    post = hark_post_new();
    post->lang = strdup("eng");
    post->platform = strdup("reddit");
    item = apply_post(post);
    assert_int_equal(item->n_matches, 0);
    hark_item_free(item);
    post = hark_post_new();
    post->lang = strdup("EN");
    item = apply_post(post);
    assert_int_equal(item->n_matches, 1);
    assert_string_equal(item->matches[0].rule, "en");
    hark_item_free(item);
}

static void test_hark_rules_apply__author_lists_tag_the_author(void **s)
{
    (void)s;
    load_text("{`authors`: {"
              "`vips`: {`identities`: [`mastodon:@Alice@Example.social`, "
              "`x:12345`], `tags`: [`author:vip`]},"
              "`press`: {`identities`: [`x:12345`], `tags`: [`author:press`, "
              "`author:vip`]}}, `rules`: []}");
    struct hark_post *post = hark_post_new();
    post->platform = strdup("mastodon");
    post->author.handle = strdup("alice@example.social");
    struct hark_item *item = apply_post(post);
    assert_int_equal(item->author_tags.n, 1);
    assert_string_equal(item->author_tags.v[0], "author:vip");
    assert_int_equal(item->n_matches, 0);
    hark_item_free(item);

    post = hark_post_new();
    post->platform = strdup("x");
    post->author.id = strdup("12345");
    post->author.handle = strdup("someone");
    item = apply_post(post);
    assert_int_equal(item->author_tags.n, 2);
    assert_string_equal(item->author_tags.v[0], "author:vip");
    assert_string_equal(item->author_tags.v[1], "author:press");
    hark_item_free(item);

    post = hark_post_new(); /* same handle, other platform */
    post->platform = strdup("bluesky");
    post->author.handle = strdup("alice@example.social");
    item = apply_post(post);
    assert_int_equal(item->author_tags.n, 0);
    hark_item_free(item);
}

static void test_hark_rules_apply__match_limit_counts_no_match(void **s)
{
    (void)s;
    /* The prefilter knows this text cannot match and would never run
     * PCRE2 on it: try every rule, as without one. */
    setenv("HARK_PREFILTER", "0", 1);
    load_text("{`rules`: [{`id`: `evil`, `match`: {`all`: ["
              "{`regex`: `^(a|aa)+$`}]}}]}");
    unsetenv("HARK_PREFILTER");
    char text[200];
    memset(text, 'a', sizeof(text) - 2);
    text[sizeof(text) - 2] = 'b';
    text[sizeof(text) - 1] = '\0';
    struct hark_item *item = apply_text(text);
    assert_int_equal(item->n_matches, 0);
    assert_true(hark_rules_scratch_stats(fx->scratch)->n_match_limit >= 1);
    hark_item_free(item);
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */

static void test_hark_rules_load__includes_version_count(void **state)
{
    (void)state;
    write_file("a.json", "{`include`: [`b.json`, `b.json`], `rules`: ["
                         "{`id`: `a1`, `match`: {`all`: [{`keywords`: "
                         "[`x`]}]}}]}");
    write_file("b.json", "{`rules`: [{`id`: `b1`, `match`: {`all`: ["
                         "{`keywords`: [`x`]}]}}]}");
    const char *paths[] = {"a.json", "b.json"};
    struct hark_rules *rules = NULL;
    assert_int_equal(hark_rules_load(paths, 2, &fx->diag, &rules), HARK_OK);
    assert_int_equal(hark_rules_count(rules), 2);
    const char *v = hark_rules_version(rules);
    assert_int_equal(strlen(v), 14);
    assert_memory_equal(v, "r-", 2);
    assert_int_equal(strspn(v + 2, "0123456789abcdef"), 12);
    char first[16];
    snprintf(first, sizeof(first), "%s", v);
    /* Includes come first: b1 then a1. */
    fx->rules = rules;
    struct hark_item *item = apply_text("x");
    assert_int_equal(item->n_matches, 2);
    assert_string_equal(item->matches[0].rule, "b1");
    assert_string_equal(item->matches[1].rule, "a1");
    hark_item_free(item);

    write_file("b.json", "{`rules`: [{`id`: `b1`, `match`: {`all`: ["
                         "{`keywords`: [`y`]}]}}]}");
    struct hark_rules *again = NULL;
    assert_int_equal(hark_rules_load(paths, 1, &fx->diag, &again), HARK_OK);
    assert_string_not_equal(hark_rules_version(again), first);
    assert_ptr_equal(hark_rules_ref(again), again);
    hark_rules_unref(again);
    hark_rules_unref(again);
    assert_false(hark_diag_has_errors(&fx->diag));
}

static void test_hark_rules_load__unknown_key_in_rule(void **state)
{
    (void)state;
    write_file("bad.json", "{`rules`: [\n"
                           "  {`id`: `r1`, `prio`: 3, `match`: {`all`: "
                           "[{`keywords`: [`x`]}]}}\n"
                           "]}\n");
    const char *paths[] = {"bad.json"};
    assert_int_equal(load_fail(paths, 1), HARK_EINVAL);
    assert_int_equal(fx->diag.n_errors, 1);
    assert_string_equal(diag_msg(0),
                        "bad.json:2:16: unknown key \"prio\" in rule 'r1'; "
                        "expected one of \"id\", \"match\", \"tags\", "
                        "\"action\", \"priority\", \"route\", \"group\", "
                        "\"description\"");
}

static void test_hark_rules_load__bad_action(void **state)
{
    (void)state;
    write_file("bad.json", "{`rules`: [\n"
                           "  {`id`: `r1`,\n"
                           "   `action`: `engae`,\n"
                           "   `match`: {`all`: [{`keywords`: [`x`]}]}}\n"
                           "]}\n");
    const char *paths[] = {"bad.json"};
    assert_int_equal(load_fail(paths, 1), HARK_EINVAL);
    assert_int_equal(fx->diag.n_errors, 1);
    assert_string_equal(diag_msg(0),
                        "bad.json:3:14: unknown action \"engae\"; expected "
                        "\"engage\", \"tag\" or \"drop\"");
}

static void test_hark_rules_load__duplicate_id_across_files(void **state)
{
    (void)state;
    write_file("a.json", "{`rules`: [\n"
                         "  {`id`: `dup`, `match`: {`all`: [{`keywords`: "
                         "[`x`]}]}}\n"
                         "]}\n");
    write_file("b.json", "// another pack\n"
                         "{`rules`: [{`id`: `ok`, `match`: {`all`: "
                         "[{`keywords`: [`x`]}]}},\n"
                         "    {`id`: `dup`, `match`: {`all`: [{`keywords`: "
                         "[`x`]}]}}]}\n");
    const char *paths[] = {"a.json", "b.json"};
    assert_int_equal(load_fail(paths, 2), HARK_EINVAL);
    assert_int_equal(fx->diag.n_errors, 1);
    assert_string_equal(diag_msg(0),
                        "b.json:3:12: duplicate rule id \"dup\" (first "
                        "defined at a.json:2:10)");
}

static void test_hark_rules_load__bad_regex_column_after_escapes(void **s)
{
    (void)s;
    /* The pattern é\d) is written \u00e9\\d) in JSON: PCRE2 reports the
     * unmatched ")" at decoded offset 4, which is raw column 44 + 9. */
    write_file("bad.json", "{`rules`: [\n"
                           "  {`id`: `rx`, `match`: {`all`: [{`regex`: "
                           "`\\u00e9\\\\d)`}]}}\n"
                           "]}\n");
    const char *paths[] = {"bad.json"};
    assert_int_equal(load_fail(paths, 1), HARK_EINVAL);
    assert_int_equal(fx->diag.n_errors, 1);
    assert_string_equal(diag_msg(0),
                        "bad.json:2:54: rule 'rx': unmatched closing "
                        "parenthesis (at pattern offset 4)");
}

static void test_hark_rules_load__unknown_list(void **state)
{
    (void)state;
    write_file("bad.json", "{`lists`: {`known`: [`a`]},\n"
                           " `rules`: [{`id`: `l`, `match`: {`any`: [\n"
                           "   {`keywords`: [`@known`, `@nope`]}]}}]}\n");
    const char *paths[] = {"bad.json"};
    assert_int_equal(load_fail(paths, 1), HARK_EINVAL);
    assert_int_equal(fx->diag.n_errors, 1);
    assert_string_equal(diag_msg(0), "bad.json:3:28: unknown list \"@nope\"");
}

static void test_hark_rules_load__collects_every_problem(void **state)
{
    (void)state;
    write_file("bad.json",
               "{`rules`: [\n"
               " {`id`: `a`, `match`: {`any`: []}},\n"
               " {`id`: `b`, `match`: {`all`: [{`field`: `body`, "
               "`keywords`: [`x`]}]}},\n"
               " {`id`: `c`, `match`: {`all`: [{`regex`: `x`, "
               "`keywords`: [`y`]}]}},\n"
               " {`id`: `d`, `match`: {`all`: [{`keywords`: [`*x`]}]}}\n"
               "], `extra`: 1}\n");
    const char *paths[] = {"bad.json"};
    assert_int_equal(load_fail(paths, 1), HARK_EINVAL);
    assert_int_equal(fx->diag.n_errors, 5);
    assert_string_equal(diag_msg(0),
                        "bad.json:6:4: unknown key \"extra\" in a rule pack; "
                        "expected one of \"rules\", \"include\", \"lists\", "
                        "\"authors\", \"sentiment\"");
    assert_string_equal(diag_msg(1), "bad.json:2:31: \"any\" is empty: it "
                                     "could never match");
    assert_string_equal(diag_msg(2),
                        "bad.json:3:42: unknown field \"body\"; expected "
                        "\"text\", \"title\", \"spoiler_text\", "
                        "\"author.handle\" or \"author.display_name\"");
    assert_string_equal(diag_msg(3),
                        "bad.json:4:47: a condition has one test; found "
                        "\"regex\" and \"keywords\" (use \"all\" or \"any\" "
                        "to combine)");
    assert_string_equal(diag_msg(4),
                        "bad.json:5:46: keyword \"*x\": \"*\" may only be "
                        "inside or at the end of a word");
}

static void test_hark_rules_load__include_cycle_and_missing(void **state)
{
    (void)state;
    write_file("a.json", "{`include`: [`b.json`]}");
    write_file("b.json", "{`include`: [`a.json`, `gone.json`]}");
    const char *paths[] = {"a.json"};
    assert_int_equal(load_fail(paths, 1), HARK_EIO);
    assert_int_equal(fx->diag.n_errors, 2);
    assert_string_equal(diag_msg(0), "b.json:1:14: include cycle: a.json -> "
                                     "b.json -> a.json");
    assert_string_equal(diag_msg(1),
                        "b.json:1:24: cannot include \"gone.json\": No such "
                        "file or directory");
}

/* ------------------------------------------------------------------ */
/* Hashtags, mentions, domains, original, near                         */

static struct hark_post *post_with(const char *text)
{
    struct hark_post *post = hark_post_new();
    free(post->text);
    post->text = strdup(text);
    post->platform = strdup("mastodon");
    return post;
}

static bool post_matches(struct hark_post *post, const char *rule)
{
    struct hark_item *item = apply_post(post);
    bool is_hit = find_match(item, rule) != NULL;
    hark_item_free(item);
    return is_hit;
}

static bool tagged(const char *field, const char *value, const char *rule)
{
    struct hark_post *post = post_with("");
    struct hark_strv *sv = strcmp(field, "hashtags") == 0 ? &post->hashtags
                           : strcmp(field, "mentions") == 0
                               ? &post->mentions
                               : &post->links;
    hark_strv_add(sv, value, strlen(value));
    return post_matches(post, rule);
}

static void test_hark_rules_apply__hashtags_case_insensitive(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `h`, `match`: {`all`: ["
              "{`hashtags`: [`#Acme`, `Café`]}]}}]}");
    assert_true(tagged("hashtags", "acme", "h"));
    assert_true(tagged("hashtags", "ACME", "h"));
    assert_true(tagged("hashtags", "#acme", "h"));
    assert_true(tagged("hashtags", "CAFÉ", "h"));
    assert_false(tagged("hashtags", "acmeco", "h"));
    assert_false(tagged("hashtags", "acm", "h"));
    assert_false(matches("#acme in the text is not a hashtag", "h"));
}

static void test_hark_rules_apply__mentions_bare_name_any_host(void **s)
{
    (void)s;
    load_text("{`rules`: [{`id`: `bare`, `match`: {`all`: ["
              "{`mentions`: [`@Acme`]}]}},"
              "{`id`: `full`, `match`: {`all`: ["
              "{`mentions`: [`help@acme.social`]}]}}]}");
    assert_true(tagged("mentions", "acme", "bare"));
    assert_true(tagged("mentions", "ACME@mastodon.social", "bare"));
    assert_true(tagged("mentions", "@acme@other.host", "bare"));
    assert_false(tagged("mentions", "acmebot@mastodon.social", "bare"));
    assert_false(tagged("mentions", "acme@mastodon.social", "full"));
    assert_true(tagged("mentions", "Help@Acme.Social", "full"));
    assert_false(tagged("mentions", "help", "full"));
    assert_false(tagged("mentions", "help@acme.social.evil", "full"));
}

static void test_hark_rules_apply__domains_host_or_subdomain(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `d`, `match`: {`all`: ["
              "{`domains`: [`Acme.com`]}]}}]}");
    assert_true(tagged("links", "https://acme.com/", "d"));
    assert_true(tagged("links", "https://support.ACME.com/x?y#z", "d"));
    assert_true(tagged("links", "http://acme.com:8080/path", "d"));
    assert_true(tagged("links", "https://user@acme.com./", "d"));
    assert_true(tagged("links", "acme.com/no-scheme", "d"));
    assert_false(tagged("links", "https://notacme.com/", "d"));
    assert_false(tagged("links", "https://acme.com.evil.net/", "d"));
    assert_false(tagged("links", "https://evil.net/acme.com", "d"));
    assert_false(tagged("links", "https://evil.net/?u=https://acme.com", "d"));
}

static void test_hark_rules_apply__kind_original(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `o`, `match`: {`all`: ["
              "{`kind`: `original`}]}},"
              "{`id`: `or`, `match`: {`all`: ["
              "{`kind`: [`original`, `repost`]}]}}]}");
    struct hark_post *post = post_with("x");
    assert_true(post_matches(post, "o"));
    post = post_with("x");
    post->kind = HARK_KIND_REPLY;
    assert_false(post_matches(post, "o"));
    post = post_with("x");
    post->kind = HARK_KIND_REPOST;
    assert_false(post_matches(post, "o"));
    post = post_with("x");
    post->kind = HARK_KIND_REPOST;
    assert_true(post_matches(post, "or"));
    post = post_with("x");
    post->is_repost = true;
    assert_false(post_matches(post, "o"));
    post = post_with("x");
    post->kind = HARK_KIND_COMMENT;
    post->in_reply_to = strdup("t3_abc");
    assert_false(post_matches(post, "o"));
    post = post_with("x");
    post->kind = HARK_KIND_COMMENT;
    assert_true(post_matches(post, "o"));
}

static void test_hark_rules_apply__near_within_words(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `n`, `match`: {`all`: ["
              "{`near`: {`terms`: [`refund*`, [`money`, `@cash`]], "
              "`within`: 3}}]}},"
              "{`id`: `o`, `match`: {`all`: ["
              "{`near`: {`terms`: [`refund`, `money`], `within`: 3, "
              "`ordered`: true}}]}}],"
              "`lists`: {`cash`: [`cash`, `my dollars`]}}");
    assert_true(matches("refund my money", "n"));
    assert_true(matches("refund money", "n"));
    assert_true(matches("refunds: all my money", "n"));
    assert_false(matches("refund of all my money", "n"));
    assert_true(matches("money for a refund", "n"));
    assert_true(matches("refunded, in cash", "n"));
    assert_true(matches("a refund in my dollars", "n"));
    assert_false(matches("refund", "n"));
    assert_false(matches("money", "n"));
    assert_false(matches("nonrefund my money", "n"));
    assert_true(matches("\xf0\x9d\x90\xab\xf0\x9d\x90\x9e\xf0\x9d\x90\x9f"
                        "\xf0\x9d\x90\xae\xf0\x9d\x90\xa7\xf0\x9d\x90\x9d"
                        " my MONEY",
                        "n"));
    assert_true(matches("refund my money", "o"));
    assert_false(matches("money for a refund", "o"));
    assert_true(matches("money, then a refund for the money", "o"));
}

static void test_hark_rules_apply__near_spans_both_hits(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `n`, `match`: {`all`: ["
              "{`near`: {`terms`: [`refund`, `money`], `within`: 2}}]}}]}");
    struct hark_item *item = apply_text("I want a Refund, money back");
    const struct hark_match *m = find_match(item, "n");
    assert_non_null(m);
    assert_int_equal(m->n_spans, 2);
    assert_span(m, 0, HARK_FIELD_TEXT, 9, 15);
    assert_span(m, 1, HARK_FIELD_TEXT, 17, 22);
    hark_item_free(item);
    /* The title is searched too, but A and B must share a field. */
    struct hark_post *post = post_with("money");
    post->title = strdup("refund");
    assert_false(post_matches(post, "n"));
}

static void test_hark_rules_load__new_condition_errors(void **state)
{
    (void)state;
    write_file("bad.json",
               "{`rules`: [\n"
               "  {`id`: `a`, `match`: {`all`: [{`hashtags`: []}]}},\n"
               "  {`id`: `b`, `match`: {`all`: [{`domains`: [`a.com/x`]}]}},\n"
               "  {`id`: `c`, `match`: {`all`: [{`mentions`: [`@`, 3]}]}},\n"
               "  {`id`: `d`, `match`: {`all`: [{`kind`: `originl`}]}},\n"
               "  {`id`: `e`, `match`: {`all`: [{`near`: {`terms`: [`x`],\n"
               "     `within`: 0}}]}},\n"
               "  {`id`: `f`, `match`: {`all`: [{`near`: {`terms`: [`*x`, "
               "{}], `within`: 2, `orderd`: true}}]}}\n"
               "]}\n");
    const char *paths[] = {"bad.json"};
    assert_int_equal(load_fail(paths, 1), HARK_EINVAL);
    print_diag();
    const char *want[] = {
        "bad.json:2:46: \"hashtags\" is empty: it could never match",
        "bad.json:3:46: bad domain \"a.com/x\"; expected a host name such "
        "as \"example.com\"",
        "bad.json:4:47: bad mention \"@\"; expected a handle such as "
        "\"acme\" or \"@acme@host\"",
        "bad.json:4:52: mentions must be non-empty strings, not integer",
        "bad.json:5:42: unknown kind \"originl\"; expected \"post\", "
        "\"comment\", \"reply\", \"repost\" or \"original\"",
        "bad.json:6:52: \"terms\" must hold two keyword terms (or lists of "
        "them), not 1",
        "bad.json:7:16: \"within\" must be a number of words from 1 to "
        "1000, not 0",
        "bad.json:8:77: unknown key \"orderd\" in \"near\"; expected one of "
        "\"terms\", \"within\", \"ordered\"",
        "bad.json:8:53: keyword \"*x\": \"*\" may only be inside or at "
        "the end of a word",
        "bad.json:8:59: a \"near\" term must be a keyword or a list of "
        "keywords, not object",
    };
    assert_int_equal(fx->diag.n_entries, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_string_equal(diag_msg(i), want[i]);
    }
}

/* ------------------------------------------------------------------ */
/* Lints                                                               */

static void assert_warning(size_t i, const char *want)
{
    assert_int_equal(fx->diag.entries[i].severity, HARK_DIAG_WARNING);
    assert_string_equal(diag_msg(i), want);
}

static void test_hark_rules_load__lint_short_wildcard_stem(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `w`, `match`: {`any`: [\n"
              "  {`keywords`: [`ab*`, `abc*`, `x y*`]},\n"
              "  {`near`: {`terms`: [`a?*`, `refund`], `within`: 2}}]}}]}");
    assert_int_equal(fx->diag.n_errors, 0);
    assert_int_equal(fx->diag.n_entries, 3);
    assert_warning(0, "r.json:2:17: keyword \"ab*\": only 2 letters before "
                      "\"*\" (use at least 3, or it matches too many words)");
    assert_warning(1, "r.json:2:32: keyword \"x y*\": only 1 letter before "
                      "\"*\" (use at least 3, or it matches too many words)");
    assert_warning(2, "r.json:3:23: keyword \"a?*\": only 1 letter before "
                      "\"*\" (use at least 3, or it matches too many words)");
    /* A warning, not an error: the rule still works. */
    assert_true(matches("abroad", "w"));
}

static void test_hark_rules_load__lint_regex_matches_empty(void **state)
{
    (void)state;
    load_text("{`rules`: [{`id`: `e`, `match`: {`any`: [\n"
              "  {`regex`: `(refund)?`}, {`regex`: `refunds?`},\n"
              "  {`regex`: `\\\\b|x`}]}}]}");
    assert_int_equal(fx->diag.n_errors, 0);
    assert_int_equal(fx->diag.n_entries, 2);
    assert_warning(0, "r.json:2:13: rule 'e': regex \"(refund)?\" matches "
                      "the empty string, so it holds on every post");
    assert_warning(1, "r.json:3:13: rule 'e': regex \"\\b|x\" matches "
                      "the empty string, so it holds on every post");
    assert_true(matches("nothing here", "e"));
}

static void test_hark_rules_load__lint_shadowed_in_group(void **state)
{
    (void)state;
    load_text("{`rules`: [\n"
              "  {`id`: `a`, `group`: `g`, `match`: {`all`: "
              "[{`keywords`: [`refund`]}]}},\n"
              "  {`id`: `b`, `group`: `h`, `match`: {`all`: "
              "[{`keywords`: [`refund`]}]}},\n"
              "  {`id`: `c`, `group`: `g`, `match`: {`all`: "
              "[{`keywords`: [`refunds`]}]}},\n"
              "  {`id`: `d`, `group`: `g`, `tags`: [`t`], `match`: "
              "{`all`: [ {`keywords`: [`refund`]} ]}},\n"
              "  {`id`: `e`, `group`: `h`, `match`: {`all`: []}},\n"
              "  {`id`: `f`, `group`: `h`, `match`: {`all`: "
              "[{`keywords`: [`other`]}]}},\n"
              "  {`id`: `x`, `match`: {`all`: [{`keywords`: [`refund`]}]}}\n"
              "]}");
    assert_int_equal(fx->diag.n_errors, 0);
    assert_int_equal(fx->diag.n_entries, 2);
    assert_warning(0, "r.json:5:10: rule 'd' is shadowed in group \"g\": "
                      "rule 'a' (r.json:2:10) has the same match and comes "
                      "first");
    assert_warning(1, "r.json:7:10: rule 'f' is shadowed in group \"h\": "
                      "rule 'e' (r.json:6:10) matches every post and comes "
                      "first");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_hark_rules_apply__keywords_are_word_bounded),
        T(test_hark_rules_apply__wildcards),
        T(test_hark_rules_apply__phrases_and_apostrophes),
        T(test_hark_rules_apply__lists_expand_in_any_pack),
        T(test_hark_rules_apply__nfkc_spans_into_original),
        T(test_hark_rules_apply__case_true_runs_on_original),
        T(test_hark_rules_apply__all_any_none_nest),
        T(test_hark_rules_apply__reports_every_span),
        T(test_hark_rules_apply__default_fields_and_field),
        T(test_hark_rules_apply__drop_beats_engage),
        T(test_hark_rules_apply__route_highest_priority_engage),
        T(test_hark_rules_apply__ordered_group_first_match),
        T(test_hark_rules_apply__followers_range),
        T(test_hark_rules_apply__lang_platform_kind),
        T(test_hark_rules_apply__author_lists_tag_the_author),
        T(test_hark_rules_apply__match_limit_counts_no_match),
        T(test_hark_rules_load__includes_version_count),
        T(test_hark_rules_load__unknown_key_in_rule),
        T(test_hark_rules_load__bad_action),
        T(test_hark_rules_load__duplicate_id_across_files),
        T(test_hark_rules_load__bad_regex_column_after_escapes),
        T(test_hark_rules_load__unknown_list),
        T(test_hark_rules_load__collects_every_problem),
        T(test_hark_rules_load__include_cycle_and_missing),
        T(test_hark_rules_apply__hashtags_case_insensitive),
        T(test_hark_rules_apply__mentions_bare_name_any_host),
        T(test_hark_rules_apply__domains_host_or_subdomain),
        T(test_hark_rules_apply__kind_original),
        T(test_hark_rules_apply__near_within_words),
        T(test_hark_rules_apply__near_spans_both_hits),
        T(test_hark_rules_load__new_condition_errors),
        T(test_hark_rules_load__lint_short_wildcard_stem),
        T(test_hark_rules_load__lint_regex_matches_empty),
        T(test_hark_rules_load__lint_shadowed_in_group),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
