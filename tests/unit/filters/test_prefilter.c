/*
 * Unit tests for filters/prefilter.c and filters/prefilter_lit.c: the
 * Hyperscan prefilter gives exactly the matches of trying every rule (on
 * rules chosen to be hard for it), literal extraction, the shard cache
 * (round trip, corrupt and foreign files, an unwritable directory) and
 * recompiling only the shard an edit touched.
 *
 * Each test runs in a fresh temporary directory; HARK_CACHE_DIR is empty
 * (no cache) unless a test builds with its own options. In the rule texts
 * a backtick stands for a double quote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hark/diag.h"
#include "hark/item.h"
#include "hark/post.h"
#include "hark/rules.h"

#include "filters/prefilter_int.h"
#include "filters/rules_int.h"

struct fixture {
    char dir[64];
    char cwd[4096];
    struct hark_rules *rules;
    struct hark_rules_scratch *naive;
    struct hark_rules_scratch *fast;
    struct hark_diag diag;
};

static struct fixture *fx;

static int setup(void **state)
{
    fx = calloc(1, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/hark-test-prefilter-XXXXXX");
    if (!mkdtemp(fx->dir) || !getcwd(fx->cwd, sizeof(fx->cwd)) ||
        chdir(fx->dir) != 0) {
        return -1;
    }
    setenv("HARK_CACHE_DIR", "", 1);
    unsetenv("HARK_PREFILTER");
    fx->naive = hark_rules_scratch_new();
    fx->fast = hark_rules_scratch_new();
    hark_rules_scratch_use_prefilter(fx->naive, false);
    hark_diag_init(&fx->diag);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (chdir(fx->cwd) != 0) {
        return -1;
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0) {
        return -1;
    }
    hark_rules_unref(fx->rules);
    hark_rules_scratch_free(fx->naive);
    hark_rules_scratch_free(fx->fast);
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
}

static void load_file(const char *name)
{
    const char *paths[] = {name};
    hark_rules_unref(fx->rules);
    fx->rules = NULL;
    hark_err_t err = hark_rules_load(paths, 1, &fx->diag, &fx->rules);
    if (err != HARK_OK) {
        hark_diag_print(&fx->diag, stderr);
    }
    assert_int_equal(err, HARK_OK);
}

static void load_text(const char *text)
{
    write_file("r.json", text);
    load_file("r.json");
}

static struct hark_post *make_post(const char *text,
                                   const char *title,
                                   const char *handle,
                                   int64_t followers)
{
    struct hark_post *post = hark_post_new();
    free(post->text);
    post->text = strdup(text);
    post->title = title ? strdup(title) : NULL;
    post->author.handle = handle ? strdup(handle) : NULL;
    post->author.followers = followers;
    post->platform = strdup("mastodon");
    post->lang = strdup("en");
    return post;
}

/* "rule[field:start-end,...] rule[...]" plus action, points and route. */
static void describe(const struct hark_item *item, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < item->n_matches; i++) {
        const struct hark_match *m = &item->matches[i];
        n += (size_t)snprintf(buf + n, len - n, "%s[", m->rule);
        for (size_t k = 0; k < m->n_spans && n < len; k++) {
            n += (size_t)snprintf(buf + n, len - n, "%d:%u-%u,",
                                  (int)m->spans[k].field, m->spans[k].start,
                                  m->spans[k].end);
        }
        n += (size_t)snprintf(buf + n, len - n, "] ");
        assert_true(n < len);
    }
    n += (size_t)snprintf(buf + n, len - n, "action=%d points=%lld route=%s",
                          (int)item->action, (long long)item->rule_points,
                          item->rule_route ? item->rule_route : "-");
    assert_true(n < len);
}

/*
 * Applies the set both ways to a copy of `post` and checks they agree;
 * returns the description (static buffer) of what matched.
 */
static const char *both_ways(struct hark_post *post)
{
    static char want[4096];
    char got[4096];
    struct hark_item *a = hark_item_new(hark_post_dup(post));
    struct hark_item *b = hark_item_new(post);
    hark_rules_apply(fx->rules, fx->naive, a);
    hark_rules_apply(fx->rules, fx->fast, b);
    describe(a, want, sizeof(want));
    describe(b, got, sizeof(got));
    if (strcmp(want, got) != 0) {
        fprintf(stderr, "text: %s\nnaive:     %s\nprefilter: %s\n", post->text,
                want, got);
    }
    assert_string_equal(want, got);
    hark_item_free(a);
    hark_item_free(b);
    return want;
}

static bool has_rule(const char *desc, const char *rule)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "%s[", rule);
    for (const char *p = desc; (p = strstr(p, needle)) != NULL; p++) {
        if (p == desc || p[-1] == ' ') {
            return true;
        }
    }
    return false;
}

static const char *texts[] = {
    "I want a refund now",
    "Refunds are slow; REFUNDED at last",
    "non-refundable",
    "caf\xc3\xa9 au lait",       /* café */
    "the caf\xc3\xa9s are shut", /* cafés */
    "cafe\xcc\x81 decomposed",   /* cafe + U+0301 */
    "a caf near here",
    "Stra\xc3\x9f"
    "e and STRASSE",
    "\xe2\x84\xaa"
    "iosk open", /* U+212A KELVIN SIGN, then "iosk" */
    "big \xc5\xbf"
    "ale today", /* U+017F LONG S, then "ale" */
    "big sale today",
    "\xef\xbc\xb2\xef\xbc\xa5\xef\xbc\xa6\xef\xbc\xb5\xef\xbc\xae\xef\xbc"
    "\xa4 please", /* fullwidth REFUND */
    "\xf0\x9d\x90\xab\xf0\x9d\x90\x9e\xf0\x9d\x90\x9f\xf0\x9d\x90\xae"
    "\xf0\x9d\x90\xa7\xf0\x9d\x90\x9d\xf0\x9d\x90\xac", /* bold refunds */
    "the colour and the color",
    "cancelled, canceling, cancellation",
    "money   back guarantee",
    "can\xe2\x80\x99t log in",
    "this is spam spam",
    "nothing to see",
    "",
    "ACME Corp is down again",
    "acmecorp down",
    "refund\nplease",
    "foo bar baz",
    "xxxxyyyy",
    "aaab",
};

#define RULES                                                                 \
    "{`lists`: {`brands`: [`acme`, `globex corp`]},"                          \
    " `rules`: ["                                                             \
    "{`id`: `kw`, `match`: {`all`: [{`keywords`: [`refund*`, `colo?r`,"       \
    "   `money back`, `can't log in`]}]}, `priority`: 3},"                    \
    "{`id`: `cafe`, `match`: {`any`: [{`regex`: `\\\\bcaf\\u00e9\\\\b`},"     \
    "   {`regex`: `\\\\bcaf\\\\b`}]}, `action`: `engage`, `route`: `q1`},"    \
    "{`id`: `strasse`, `match`: {`all`: [{`regex`: "                          \
    "   `\\\\bstra(\\u00df|ss)e\\\\b`}]}},"                                   \
    "{`id`: `kiosk`, `match`: {`all`: [{`regex`: `\\\\bkiosk\\\\b`}]}},"      \
    "{`id`: `sale`, `match`: {`all`: [{`regex`: `big sale`}]}},"              \
    "{`id`: `none_only`, `match`: {`none`: [{`keywords`: [`spam`]}]}},"       \
    "{`id`: `numeric`, `match`: {`all`: [{`field`: `author.followers`,"       \
    "   `gte`: 1000}]}, `priority`: 1},"                                      \
    "{`id`: `and_num`, `match`: {`all`: [{`regex`: `down`},"                  \
    "   {`field`: `author.followers`, `lt`: 1000}]}},"                        \
    "{`id`: `rejected`, `match`: {`any`: [{`regex`: `refund\\\\Kplease`}]}}," \
    "{`id`: `empty`, `match`: {`any`: [{`regex`: `x*`}]}},"                   \
    "{`id`: `mixed`, `match`: {`all`: [{`regex`: `(?i)acme`}],"               \
    "   `none`: [{`keywords`: [`@brands`], `case`: true}]}},"                 \
    "{`id`: `brands`, `match`: {`any`: [{`keywords`: [`@brands`]}]},"         \
    "   `group`: `g`, `action`: `engage`, `route`: `brand`, `priority`: 2},"  \
    "{`id`: `brands2`, `match`: {`any`: [{`regex`: `acme\\\\s*corp`}]},"      \
    "   `group`: `g`},"                                                       \
    "{`id`: `title`, `match`: {`all`: [{`regex`: `urgent`, `field`:"          \
    "   `title`}]}},"                                                         \
    "{`id`: `handle`, `match`: {`all`: [{`keywords`: [`bot`], `field`:"       \
    "   `author.handle`}]}, `action`: `drop`},"                               \
    "{`id`: `nested`, `match`: {`any`: [{`all`: [{`regex`: `foo`},"           \
    "   {`regex`: `baz`}]}, {`regex`: `y{4}`}]}},"                            \
    "{`id`: `backtrack`, `match`: {`all`: [{`regex`: `^(a|aa)+b$`}]}}"        \
    "]}"

static void test_hark_rules_apply__prefilter_same_matches(void **state)
{
    (void)state;
    load_text(RULES);
    assert_non_null(fx->rules->prefilter);
    const struct hark_prefilter_stats *st =
        hark_prefilter_stats(fx->rules->prefilter);
    assert_true(st->n_fallback >= 2); /* \K and x* */
    assert_true(st->n_literal >= 8);
    /* none-only, numeric-only and the two fallback rules. */
    assert_int_equal(st->n_always_rules, 4);

    size_t n_texts = sizeof(texts) / sizeof(texts[0]);
    for (size_t i = 0; i < n_texts; i++) {
        both_ways(make_post(texts[i], NULL, NULL, 10));
        both_ways(make_post(texts[i], "urgent: refund", "a-bot", 5000));
        both_ways(make_post("nothing", texts[i], NULL, -1));
    }
    /* The cases the prefilter must not lose, checked for real. */
    assert_true(
        has_rule(both_ways(make_post(texts[3], NULL, NULL, 1)), "cafe"));
    assert_false(
        has_rule(both_ways(make_post(texts[4], NULL, NULL, 1)), "cafe"));
    assert_false(
        has_rule(both_ways(make_post(texts[5], NULL, NULL, 1)), "cafe"));
    assert_true(
        has_rule(both_ways(make_post(texts[6], NULL, NULL, 1)), "cafe"));
    assert_true(
        has_rule(both_ways(make_post(texts[8], NULL, NULL, 1)), "kiosk"));
    assert_true(
        has_rule(both_ways(make_post(texts[9], NULL, NULL, 1)), "sale"));
    assert_true(has_rule(both_ways(make_post(texts[11], NULL, NULL, 1)), "kw"));
    assert_true(has_rule(both_ways(make_post(texts[12], NULL, NULL, 1)), "kw"));
    assert_true(
        has_rule(both_ways(make_post(texts[7], NULL, NULL, 1)), "strasse"));
    assert_true(
        has_rule(both_ways(make_post(texts[18], NULL, NULL, 1)), "none_only"));
    assert_true(
        has_rule(both_ways(make_post(texts[18], NULL, NULL, 5000)), "numeric"));
    assert_true(has_rule(both_ways(make_post("a refundplease", NULL, NULL, 1)),
                         "rejected"));
    assert_false(
        has_rule(both_ways(make_post(texts[22], NULL, NULL, 1)), "rejected"));
    assert_true(
        has_rule(both_ways(make_post(texts[22], NULL, NULL, 1)), "empty"));
    assert_true(
        has_rule(both_ways(make_post(texts[20], NULL, NULL, 1)), "brands"));
    assert_true(
        has_rule(both_ways(make_post(texts[20], NULL, NULL, 1)), "and_num"));
    assert_true(
        has_rule(both_ways(make_post(texts[25], NULL, NULL, 1)), "backtrack"));
    /* The prefilter did prune: fewer candidates than rules per post. */
    const struct hark_rules_pf_counters *c =
        hark_rules_scratch_pf_counters(fx->fast);
    assert_true(c->n_posts > 0);
    assert_true(c->n_candidates < c->n_posts * hark_rules_count(fx->rules));
    assert_int_equal(c->n_fallbacks, 0);
}

#define NEW_RULES                                                             \
    "{`rules`: ["                                                             \
    "{`id`: `tag`, `match`: {`all`: [{`hashtags`: [`acme`]}]}},"              \
    "{`id`: `tag_kw`, `match`: {`all`: [{`hashtags`: [`acme`]},"              \
    "   {`keywords`: [`refund`]}]}},"                                         \
    "{`id`: `men_or_kw`, `match`: {`any`: [{`mentions`: [`acme`]},"           \
    "   {`keywords`: [`globex`]}]}},"                                         \
    "{`id`: `dom_none`, `match`: {`all`: [{`domains`: [`acme.com`]}],"        \
    "   `none`: [{`keywords`: [`spam`]}]}},"                                  \
    "{`id`: `orig`, `match`: {`all`: [{`kind`: `original`},"                  \
    "   {`regex`: `down`}]}},"                                                \
    "{`id`: `near`, `match`: {`all`: [{`near`: {`terms`: [`refund*`,"         \
    "   `money`], `within`: 2}}]}},"                                          \
    "{`id`: `near_any`, `match`: {`any`: [{`near`: {`terms`: [`acme`,"        \
    "   `down`], `within`: 3, `ordered`: true}}, {`keywords`: [`xyzzy`]}]}}"  \
    "]}"

static void test_hark_rules_apply__prefilter_new_conditions_same(void **state)
{
    (void)state;
    load_text(NEW_RULES);
    assert_non_null(fx->rules->prefilter);
    /* Only tag, men_or_kw and dom_none: a near test needs both terms. */
    assert_int_equal(hark_prefilter_stats(fx->rules->prefilter)->n_always_rules,
                     3);
    static const char *const more[] = {
        "refund my money", "money for a refund", "acme is down",
        "down is acme", "refunded, all of my money", "spam from acme",
    };
    size_t n_texts = sizeof(texts) / sizeof(texts[0]);
    size_t n_more = sizeof(more) / sizeof(more[0]);
    bool saw[7] = {false};
    static const char *const ids[] = {"tag", "tag_kw", "men_or_kw",
                                      "dom_none", "orig", "near", "near_any"};
    for (size_t i = 0; i < n_texts + n_more; i++) {
        const char *t = i < n_texts ? texts[i] : more[i - n_texts];
        for (int v = 0; v < 8; v++) {
            struct hark_post *post =
                make_post(t, v & 4 ? "refund, or acme" : NULL, NULL, 10);
            if (v & 1) {
                hark_strv_add(&post->hashtags, "ACME", 4);
                hark_strv_add(&post->mentions, "acme@acme.social", 16);
                hark_strv_add(&post->links, "https://www.acme.com/x", 22);
            }
            if (v & 2) {
                post->kind = HARK_KIND_REPLY;
            }
            const char *desc = both_ways(post);
            for (size_t k = 0; k < 7; k++) {
                saw[k] = saw[k] || has_rule(desc, ids[k]);
            }
        }
    }
    for (size_t k = 0; k < 7; k++) {
        assert_true(saw[k]);
    }
}

static void test_hark_rules_load__prefilter_off_by_env(void **state)
{
    (void)state;
    setenv("HARK_PREFILTER", "0", 1);
    load_text(RULES);
    unsetenv("HARK_PREFILTER");
    assert_null(fx->rules->prefilter);
    assert_true(
        has_rule(both_ways(make_post(texts[3], NULL, NULL, 1)), "cafe"));
}

static void test_hark_rules_load__prefilter_regex_tier_only(void **state)
{
    (void)state;
    setenv("HARK_PREFILTER", "regex", 1);
    load_text(RULES);
    unsetenv("HARK_PREFILTER");
    const struct hark_prefilter_stats *st =
        hark_prefilter_stats(fx->rules->prefilter);
    assert_int_equal(st->n_literal, 0);
    size_t n_texts = sizeof(texts) / sizeof(texts[0]);
    for (size_t i = 0; i < n_texts; i++) {
        both_ways(make_post(texts[i], "urgent", "bot", 10));
    }
}

/* ------------------------------------------------------------------ */
/* Literals                                                            */

/* The groups of `pattern` as "a|b & c|d" ("-" when none). */
static const char *lits(const char *pattern, bool is_folded)
{
    static char buf[2048];
    struct hark_strv groups[HARK_PREFILTER_GROUPS_MAX];
    memset(groups, 0, sizeof(groups));
    size_t n = hark_prefilter_literals(pattern, is_folded, groups);
    size_t len = 0;
    buf[0] = '\0';
    if (n == 0) {
        snprintf(buf, sizeof(buf), "-");
    }
    for (size_t g = 0; g < n; g++) {
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s",
                                g ? " & " : "");
        for (size_t i = 0; i < groups[g].n; i++) {
            len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
                                    i ? "|" : "", groups[g].v[i]);
        }
    }
    for (size_t g = 0; g < HARK_PREFILTER_GROUPS_MAX; g++) {
        hark_strv_cleanup(&groups[g]);
    }
    return buf;
}

static void test_hark_prefilter_literals__required_strings(void **state)
{
    (void)state;
    assert_string_equal(lits("\\brefund(ed)?\\b", false), "refund");
    assert_string_equal(lits("overcharg\\w*|double[- ]charged", false),
                        "overcharg|double");
    assert_string_equal(lits("(love|hate) \\w+ (acme|globex)", false),
                        " acme| globex & love |hate ");
    assert_string_equal(lits("(?:bug|glitch) ?[0-9]{2,4}", false),
                        "bug|glitch");
    assert_string_equal(lits("\\x{41}BC\\.d", false), "ABC.d");
    /* k and s have case partners outside ASCII: the scan folds them. */
    assert_string_equal(lits("ask", false), "ask");
    /* Non-ASCII letters have case partners the literal matcher does not
     * fold: cut on the original text, kept on the folded copy. */
    assert_string_equal(lits("caf\xc3\xa9 noir", false), " noir");
    assert_string_equal(lits("caf\xc3\xa9", false), "caf");
    assert_string_equal(lits("caf\xc3\xa9 noir", true), "caf\xc3\xa9 noir");
    assert_string_equal(lits("[]a]bcd", false), "]bcd|abcd");
}

static void test_hark_prefilter_literals__gives_up(void **state)
{
    (void)state;
    assert_string_equal(lits("a|", false), "-");           /* empty match */
    assert_string_equal(lits("(?i)acme", false), "-");     /* options */
    assert_string_equal(lits("(?=acme)acme", false), "-"); /* lookaround */
    assert_string_equal(lits("(acme)\\1", false), "-");    /* backref */
    assert_string_equal(lits("\\Qacme\\E", false), "-");
    assert_string_equal(lits("[[:alpha:]]acme", false), "-");
    assert_string_equal(lits("x\\d+", false), "-"); /* too short */
    assert_string_equal(lits("[0-9]{3}-[0-9]{4}", false), "-");
    assert_string_equal(lits("acme{", false), "-"); /* literal { */
    assert_string_equal(lits("(acme", false), "-");
    assert_string_equal(lits("acme)", false), "-");
}

/* ------------------------------------------------------------------ */
/* Cache and shards                                                    */

/* A pack of `n` rules tag000..; rule `edit` (if < n) gets another word. */
static void
write_pack(const char *name, size_t n, size_t edit, const char *first)
{
    FILE *fp = fopen(name, "w");
    assert_non_null(fp);
    fprintf(fp, "{\"rules\": [");
    if (first) {
        fprintf(fp,
                "{\"id\": \"first\", \"match\": {\"all\": [{\"regex\": "
                "\"%s\"}]}},",
                first);
    }
    for (size_t i = 0; i < n; i++) {
        fprintf(fp,
                "%s{\"id\": \"r%03zu\", \"match\": {\"all\": [{\"regex\": "
                "\"\\\\btag%03zu%s\\\\b\"}]}}",
                i ? "," : "", i, i, i == edit ? "edited" : "");
    }
    fprintf(fp, "]}\n");
    assert_int_equal(fclose(fp), 0);
}

static void test_opts(struct hark_prefilter_opts *opts, const char *cache)
{
    hark_prefilter_opts_default(opts);
    opts->shard_literals = 8;
    opts->cache_min_patterns = 1;
    opts->n_threads = 2;
    snprintf(opts->cache_dir, sizeof(opts->cache_dir), "%s", cache);
}

static struct hark_prefilter *build(const struct hark_prefilter_opts *opts)
{
    struct hark_prefilter *pf = NULL;
    assert_int_equal(hark_prefilter_build(fx->rules, opts, &pf), HARK_OK);
    assert_non_null(pf);
    return pf;
}

/* Installs `pf` and checks a few posts against the naive path. */
static void check_with(struct hark_prefilter *pf, size_t n_rules)
{
    hark_rules_set_prefilter_take(fx->rules, pf);
    for (size_t i = 0; i < n_rules; i += 7) {
        char text[64];
        snprintf(text, sizeof(text), "about TAG%03zu today", i);
        assert_true(has_rule(both_ways(make_post(text, NULL, NULL, 1)),
                             "r000") == (i == 0));
    }
    both_ways(make_post("tag0001 tag00 nothing", NULL, NULL, 1));
}

static void test_hark_prefilter_build__cache_round_trip(void **state)
{
    (void)state;
    write_pack("p.json", 60, 999, NULL);
    load_file("p.json");
    struct hark_prefilter_opts opts;
    test_opts(&opts, "cache");

    struct hark_prefilter *pf = build(&opts);
    const struct hark_prefilter_stats *st = hark_prefilter_stats(pf);
    size_t n_shards = st->n_shards;
    assert_true(n_shards >= 4);
    assert_int_equal(st->n_compiled, n_shards);
    assert_int_equal(st->n_cached, 0);
    assert_int_equal(st->n_cache_written, n_shards);
    char path[4200];
    assert_true(hark_prefilter_shard_path(pf, 1, path, sizeof(path)));
    check_with(pf, 60);

    pf = build(&opts); /* second load: every shard from its file */
    st = hark_prefilter_stats(pf);
    assert_int_equal(st->n_shards, n_shards);
    assert_int_equal(st->n_cached, n_shards);
    assert_int_equal(st->n_compiled, 0);
    check_with(pf, 60);

    /* A corrupt file (one byte flipped): rebuilt and rewritten. */
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 40, SEEK_SET), 0);
    int c = fgetc(fp);
    assert_int_equal(fseek(fp, 40, SEEK_SET), 0);
    fputc(c ^ 0x55, fp);
    assert_int_equal(fclose(fp), 0);
    pf = build(&opts);
    st = hark_prefilter_stats(pf);
    assert_int_equal(st->n_compiled, 1);
    assert_int_equal(st->n_cached, n_shards - 1);
    assert_int_equal(st->n_cache_written, 1);
    check_with(pf, 60);

    /* A foreign file under the name, and a truncated one. */
    write_file(path, "not a hyperscan database");
    pf = build(&opts);
    assert_int_equal(hark_prefilter_stats(pf)->n_compiled, 1);
    check_with(pf, 60);
    assert_int_equal(truncate(path, 100), 0);
    pf = build(&opts);
    assert_int_equal(hark_prefilter_stats(pf)->n_compiled, 1);
    check_with(pf, 60);

    pf = build(&opts);
    assert_int_equal(hark_prefilter_stats(pf)->n_cached, n_shards);
    hark_prefilter_free(pf);
}

static void test_hark_prefilter_build__unwritable_cache(void **state)
{
    (void)state;
    write_pack("p.json", 30, 999, NULL);
    load_file("p.json");
    write_file("plain-file", "x");
    struct hark_prefilter_opts opts;
    test_opts(&opts, "plain-file/cache"); /* mkdir fails, even for root */
    struct hark_prefilter *pf = build(&opts);
    const struct hark_prefilter_stats *st = hark_prefilter_stats(pf);
    assert_true(st->n_shards > 0);
    assert_int_equal(st->n_compiled, st->n_shards);
    assert_int_equal(st->n_cache_written, 0);
    check_with(pf, 30);

    test_opts(&opts, ""); /* no cache at all */
    pf = build(&opts);
    assert_int_equal(hark_prefilter_stats(pf)->n_cache_written, 0);
    check_with(pf, 30);
}

static void test_hark_prefilter_build__edit_recompiles_one_shard(void **s)
{
    (void)s;
    write_pack("p.json", 80, 999, NULL);
    load_file("p.json");
    struct hark_prefilter_opts opts;
    test_opts(&opts, "cache");
    struct hark_prefilter *pf = build(&opts);
    size_t n_shards = hark_prefilter_stats(pf)->n_shards;
    assert_true(n_shards >= 5);
    hark_prefilter_free(pf);

    /* One rule edited: its shard (and at most the next one, when the edit
     * moves a boundary) is compiled; the others come from the cache. */
    write_pack("p.json", 80, 41, NULL);
    load_file("p.json");
    pf = build(&opts);
    const struct hark_prefilter_stats *st = hark_prefilter_stats(pf);
    assert_true(st->n_compiled >= 1 && st->n_compiled <= 2);
    assert_int_equal(st->n_cached + st->n_compiled, st->n_shards);
    check_with(pf, 80);

    /* A rule inserted at the front does not shift every shard. */
    write_pack("p.json", 80, 41, "\\\\bnewcomer\\\\b");
    load_file("p.json");
    pf = build(&opts);
    st = hark_prefilter_stats(pf);
    assert_true(st->n_compiled >= 1 && st->n_compiled <= 2);
    assert_int_equal(st->n_cached + st->n_compiled, st->n_shards);
    hark_prefilter_free(pf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_hark_rules_apply__prefilter_same_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_hark_rules_load__prefilter_off_by_env, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_hark_rules_apply__prefilter_new_conditions_same, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_hark_rules_load__prefilter_regex_tier_only, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_hark_prefilter_literals__required_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hark_prefilter_literals__gives_up,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_hark_prefilter_build__cache_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_hark_prefilter_build__unwritable_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_hark_prefilter_build__edit_recompiles_one_shard, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
