/*
 * Tests for filters/sentiment.c against the shipped lexicons in
 * $HARK_SOURCE_DIR/rules/lexicons. Expected compounds are vaderSentiment
 * 3.3.x's published outputs (its README and demo).
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hark/sentiment.h"

#define TOL 0.002

static struct hark_lexicon *shipped;

static char *lexicon_dir(void)
{
    const char *src = getenv("HARK_SOURCE_DIR");
    if (src && src[0] != '\0') {
        return hark_xasprintf("%s/rules/lexicons", src);
    }
    return hark_xstrdup("rules/lexicons");
}

static int load_shipped(void **state)
{
    (void)state;
    char *dir = lexicon_dir();
    struct hark_diag diag;
    hark_diag_init(&diag);
    hark_err_t err = hark_lexicon_load(dir, &diag, &shipped);
    if (err != HARK_OK) {
        hark_diag_print(&diag, stderr);
    }
    hark_diag_cleanup(&diag);
    free(dir);
    return err == HARK_OK ? 0 : -1;
}

static int free_shipped(void **state)
{
    (void)state;
    hark_lexicon_free(shipped);
    shipped = NULL;
    return 0;
}

static double score_of(const char *text, enum hark_sentiment_label *label)
{
    struct hark_sentiment s = {0};
    hark_sentiment_score_text(shipped, text, strlen(text), &s);
    double score = s.score;
    if (label) {
        *label = s.label;
    }
    hark_sentiment_cleanup(&s);
    return score;
}

static const struct hark_sentiment_term *
find_term(const struct hark_sentiment *s, const char *term)
{
    for (size_t i = 0; i < s->n_terms; i++) {
        if (strcmp(s->terms[i].term, term) == 0) {
            return &s->terms[i];
        }
    }
    return NULL;
}

static void expect_score(const char *text, double expected)
{
    double got = score_of(text, NULL);
    if (fabs(got - expected) > TOL) {
        fail_msg("\"%s\": got %.4f, vaderSentiment gives %.4f", text, got,
                 expected);
    }
}

/* ---- loading ------------------------------------------------------------ */

static void test_hark_lexicon_load__shipped(void **state)
{
    (void)state;
    /* 7,506 distinct VADER tokens plus the AFINN emoticons VADER lacks. */
    assert_true(hark_lexicon_size(shipped) >= 7506);
    assert_true(hark_lexicon_size(shipped) < 7600);
}

static char *make_dir(void)
{
    char tmpl[] = "/tmp/hark-lexicon-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    return hark_xstrdup(dir);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *path = hark_xasprintf("%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    free(path);
}

static void remove_dir(const char *dir)
{
    static const char *const names[] = {"vader_lexicon.txt",
                                        "vader_emoji_utf8_lexicon.txt",
                                        "AFINN-emoticon-8.txt"};
    for (size_t i = 0; i < 3; i++) {
        char *path = hark_xasprintf("%s/%s", dir, names[i]);
        (void)unlink(path);
        free(path);
    }
    assert_int_equal(rmdir(dir), 0);
}

static void test_hark_lexicon_load__missing_dir_is_eio(void **state)
{
    (void)state;
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_lexicon *lex = (struct hark_lexicon *)&diag; /* not NULL */
    hark_err_t err = hark_lexicon_load("/nonexistent/lexicons", &diag, &lex);
    assert_int_equal(err, HARK_EIO);
    assert_null(lex);
    assert_int_equal(diag.n_errors, 1);
    assert_string_equal(diag.entries[0].file,
                        "/nonexistent/lexicons/vader_lexicon.txt");
    assert_non_null(strstr(diag.entries[0].message, "No such file"));
    hark_diag_cleanup(&diag);
}

static void test_hark_lexicon_load__optional_files_may_be_missing(void **state)
{
    (void)state;
    char *dir = make_dir();
    write_file(dir, "vader_lexicon.txt",
               "good\t1.9\t0.9434\t[2, 1, 2, 3, 1, 2, 2, 2, 2, 2]\n"
               "bad\t-2.5\t0.67082\t[-2, -3, -3, -2, -2, -3, -3, -3, -2, -2]\n"
               "\n");
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_lexicon *lex = NULL;
    assert_int_equal(hark_lexicon_load(dir, &diag, &lex), HARK_OK);
    assert_int_equal(diag.n_errors, 0);
    assert_int_equal(hark_lexicon_size(lex), 2);

    struct hark_sentiment s = {0};
    hark_sentiment_score_text(lex, "good", 4, &s);
    assert_true(fabs(s.score - 0.4404) <= TOL);
    hark_sentiment_cleanup(&s);

    hark_lexicon_free(lex);
    hark_diag_cleanup(&diag);
    remove_dir(dir);
    free(dir);
}

static void test_hark_lexicon_load__bad_lines_are_errors(void **state)
{
    (void)state;
    char *dir = make_dir();
    write_file(dir, "vader_lexicon.txt",
               "good\t1.9\t0.9\t[]\n"
               "no-tab-here\n"
               "\n"
               "bad\tminus two\t0.6\t[]\n"
               "fine\t0.8\n");
    write_file(dir, "vader_emoji_utf8_lexicon.txt",
               "\xf0\x9f\x98\x80\tgrinning face\n"
               "\xff\tbroken\n");
    write_file(dir, "AFINN-emoticon-8.txt", ":)\t2\n:-S\t-9\n");
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_lexicon *lex = (struct hark_lexicon *)&diag;
    assert_int_equal(hark_lexicon_load(dir, &diag, &lex), HARK_EINVAL);
    assert_null(lex);
    assert_int_equal(diag.n_errors, 4);
    assert_int_equal(diag.entries[0].line, 2);
    assert_non_null(strstr(diag.entries[0].file, "/vader_lexicon.txt"));
    assert_int_equal(diag.entries[1].line, 4);
    assert_non_null(strstr(diag.entries[1].message, "not a number"));
    assert_int_equal(diag.entries[2].line, 2);
    assert_non_null(
        strstr(diag.entries[2].file, "/vader_emoji_utf8_lexicon.txt"));
    assert_int_equal(diag.entries[3].line, 2);
    assert_non_null(strstr(diag.entries[3].file, "/AFINN-emoticon-8.txt"));
    hark_diag_cleanup(&diag);
    remove_dir(dir);
    free(dir);
}

static void test_hark_lexicon_load__afinn_adds_missing_emoticons(void **state)
{
    (void)state;
    /* ":))" is only in AFINN (3 -> 2.4); ":)" is VADER's 2.0, not 2*0.8. */
    expect_score(":))", 2.4 / sqrt(2.4 * 2.4 + 15));
    expect_score(":)", 0.4588);
}

/* ---- scoring: vaderSentiment's published examples ----------------------- */

static void test_hark_sentiment_score_text__vader_examples(void **state)
{
    (void)state;
    expect_score("VADER is smart, handsome, and funny.", 0.8316);
    expect_score("VADER is smart, handsome, and funny!", 0.8439);
    expect_score("VADER is very smart, handsome, and funny.", 0.8545);
    expect_score("VADER is VERY SMART, handsome, and FUNNY.", 0.9227);
    expect_score("VADER is VERY SMART, handsome, and FUNNY!!!", 0.9342);
    expect_score("VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
                 0.9469);
    expect_score("VADER is not smart, handsome, nor funny.", -0.7424);
    expect_score("The book was good.", 0.4404);
    expect_score("At least it isn't a horrible book.", 0.431);
    expect_score("The book was only kind of good.", 0.3832);
    expect_score("The plot was good, but the characters are uncompelling "
                 "and the dialog is not great.",
                 -0.7042);
    expect_score("Today SUX!", -0.5461);
    expect_score("Today only kinda sux! But I'll get by, lol", 0.5249);
    expect_score("Make sure you :) or :D today!", 0.8633);
    expect_score("Catch utf-8 emoji such as \xf0\x9f\x92\x98 and "
                 "\xf0\x9f\x92\x8b and \xf0\x9f\x98\x81",
                 0.875);
    expect_score("Not bad at all", 0.431);
}

static void test_hark_sentiment_score_text__vader_tricky(void **state)
{
    (void)state;
    expect_score("Sentiment analysis has never been good.", -0.3412);
    expect_score("Sentiment analysis has never been this good!", 0.5672);
    expect_score("Most automated sentiment analysis tools are shit.", -0.5574);
    expect_score("With VADER, sentiment analysis is the shit!", 0.6476);
    expect_score("Other sentiment analysis tools can be quite bad.", -0.5849);
    expect_score("On the other hand, VADER is quite bad ass", 0.802);
    expect_score("VADER is such a badass!", 0.4003);
    expect_score("Without a doubt, excellent idea.", 0.7013);
    expect_score("Roger Dodger is one of the most compelling variations on "
                 "this theme.",
                 0.2944);
    expect_score("Roger Dodger is at least compelling as a variation on the "
                 "theme.",
                 0.2263);
    expect_score("Roger Dodger is one of the least compelling variations on "
                 "this theme.",
                 -0.1695);
    expect_score("Not such a badass after all.", -0.2584);
    expect_score("Without a doubt, an excellent idea.", 0.7013);
}

static void test_hark_sentiment_score_text__rules(void **state)
{
    (void)state;
    /* "no" negates the next lexicon word and is not scored itself. */
    assert_true(score_of("no good", NULL) < 0);
    /* Question marks add emphasis away from zero. */
    assert_true(score_of("good??", NULL) > score_of("good", NULL));
    /* Caps emphasis only counts when the text mixes case. */
    assert_true(fabs(score_of("GOOD", NULL) - score_of("good", NULL)) < TOL);
    assert_true(score_of("it is GOOD", NULL) > score_of("it is good", NULL));
    /* A quoted word loses its quotes; a short one keeps its punctuation. */
    expect_score("\"good\"", 0.4404);
    expect_score("ok,", 0.0);
    /* Special idioms replace the word's valence ("bomb" alone is -2.2). */
    expect_score("it was the bomb", 0.6124);
}

static void test_hark_sentiment_score_text__refund_is_negative(void **state)
{
    (void)state;
    const char *text = "I want a refund now, this is terrible";
    struct hark_sentiment s = {0};
    hark_sentiment_score_text(shipped, text, strlen(text), &s);
    assert_int_equal(s.label, HARK_SENTIMENT_NEGATIVE);
    assert_true(s.score <= -0.05);
    const struct hark_sentiment_term *t = find_term(&s, "terrible");
    assert_non_null(t);
    assert_true(t->valence < 0);
    hark_sentiment_cleanup(&s);
}

static void test_hark_sentiment_score_text__terms_carry_modifiers(void **state)
{
    (void)state;
    const char *text = "VADER is VERY SMART, handsome, and FUNNY.";
    struct hark_sentiment s = {0};
    hark_sentiment_score_text(shipped, text, strlen(text), &s);
    assert_int_equal(s.n_terms, 3);
    assert_string_equal(s.terms[0].term, "smart");
    assert_string_equal(s.terms[1].term, "handsome");
    assert_string_equal(s.terms[2].term, "funny");
    /* smart 1.7 + caps 0.733 + VERY (booster 0.293 + caps 0.733) */
    assert_true(fabs(s.terms[0].valence - 3.459) < 1e-9);
    /* handsome 2.2 + VERY two words back, scaled 0.95 */
    assert_true(fabs(s.terms[1].valence - (2.2 + 1.026 * 0.95)) < 1e-9);
    hark_sentiment_cleanup(&s);

    text = "good, but terrible";
    hark_sentiment_score_text(shipped, text, strlen(text), &s);
    assert_int_equal(s.n_terms, 2);
    assert_true(fabs(s.terms[0].valence - 1.9 * 0.5) < 1e-9);
    assert_true(fabs(s.terms[1].valence - -2.1 * 1.5) < 1e-9);
    hark_sentiment_cleanup(&s);
}

static void test_hark_sentiment_score_text__empty_is_neutral(void **state)
{
    (void)state;
    static const char *const texts[] = {"", "   \t\n ", "the and of"};
    for (size_t i = 0; i < 3; i++) {
        struct hark_sentiment s = {0};
        hark_sentiment_score_text(shipped, texts[i], strlen(texts[i]), &s);
        assert_int_equal(s.label, HARK_SENTIMENT_NEUTRAL);
        assert_true(s.score == 0.0);
        assert_int_equal(s.n_terms, 0);
        hark_sentiment_cleanup(&s);
    }
    struct hark_sentiment s = {0};
    hark_sentiment_score_text(shipped, NULL, 0, &s);
    assert_int_equal(s.label, HARK_SENTIMENT_NEUTRAL);
    hark_sentiment_cleanup(&s);
}

static void test_hark_sentiment_score_text__odd_utf8(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "\xff\xfe good \xc3",         /* stray bytes, truncated sequence */
        "good \x80\x80\x80 \xe2\x82", /* lone continuations */
        "\xf0\x9f\x98",               /* truncated emoji alone */
        "caf\xc3\xa9 is good",        /* valid Latin-1 letters */
        "\xc0\xaf good",              /* overlong '/' */
        "good\xc2\xa0!",              /* no-break space splits */
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        enum hark_sentiment_label label;
        double score = score_of(texts[i], &label);
        assert_true(score >= -1.0 && score <= 1.0);
        if (i != 2) {
            assert_int_equal(label, HARK_SENTIMENT_POSITIVE);
        }
    }
    /* Glued emoji get a space between descriptions, as in the reference. */
    expect_score("\xf0\x9f\x98\x81\xf0\x9f\x98\x81", 0.7184);
    /* Unicode spaces separate tokens: "no" then negates "good". */
    expect_score("no\xc2\xa0good", -0.3412);
    expect_score("no\xe3\x80\x80good", -0.3412);
    expect_score("no\xe2\x80\x83good", -0.3412);
    /* Typographic quotes are stripped like ASCII ones, and a token left
     * with two characters or fewer stays whole, as in the reference. */
    expect_score("\xe2\x80\x9cgood\xe2\x80\x9d", 0.4404);
    expect_score("\xe2\x80\x9cok\xe2\x80\x9d", 0.0);
    expect_score("ok", 0.296);
    /* A phone's apostrophe negates like the ASCII one. */
    assert_true(fabs(score_of("this isn\xe2\x80\x99t good", NULL) -
                     score_of("this isn't good", NULL)) < 1e-9);
}

static void test_hark_sentiment_score_text__long_text(void **state)
{
    (void)state;
    /* Past the stack buffers: 6,000 tokens, 30 KB. */
    struct hark_buf buf;
    hark_buf_init(&buf, 0);
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(hark_buf_add(&buf, "good bad. ", 10), HARK_OK);
    }
    assert_int_equal(hark_buf_add(&buf, "excellent", 9), HARK_OK);
    struct hark_sentiment s = {0};
    hark_sentiment_score_text(shipped, buf.ptr, buf.len, &s);
    /* 3000 * (good 1.9 + bad -2.5) + excellent 2.7 */
    double sum = 3000 * (1.9 - 2.5) + 2.7;
    assert_true(fabs(s.score - sum / sqrt(sum * sum + 15)) <= TOL);
    assert_int_equal(s.n_terms, 6001);
    hark_sentiment_cleanup(&s);
    hark_buf_cleanup(&buf);
}

/* The lexicon is shared by every worker: score from several threads. */
static const char *const concurrent_texts[] = {
    "VADER is VERY SMART, handsome, and FUNNY!!!",
    "I want a refund now, this is terrible",
    "Catch utf-8 emoji such as \xf0\x9f\x92\x98 and \xf0\x9f\x92\x8b",
    "not bad at all, but the app keeps crashing :(",
};

static int mismatch; /* its address marks a thread that saw one */

static void *score_many(void *arg)
{
    const double *expected = arg;
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < 4; i++) {
            if (score_of(concurrent_texts[i], NULL) != expected[i]) {
                return &mismatch;
            }
        }
    }
    return NULL;
}

static void test_hark_sentiment_score_text__concurrent(void **state)
{
    (void)state;
    double expected[4];
    for (size_t i = 0; i < 4; i++) {
        expected[i] = score_of(concurrent_texts[i], NULL);
    }
    pthread_t threads[4];
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(
            pthread_create(&threads[i], NULL, score_many, expected), 0);
    }
    for (size_t i = 0; i < 4; i++) {
        void *bad = NULL;
        assert_int_equal(pthread_join(threads[i], &bad), 0);
        assert_null(bad);
    }
}

/* ---- posts ----------------------------------------------------------------
 */

static void test_hark_sentiment_score__language(void **state)
{
    (void)state;
    struct hark_post post = {0};
    post.text = "Das ist ein schlechter Service, ich will mein Geld zurück. "
                "bad terrible";
    struct hark_sentiment s = {0};

    post.lang = "de";
    hark_sentiment_score(shipped, &post, &s);
    assert_int_equal(s.label, HARK_SENTIMENT_UNSCORED);
    assert_true(s.score == 0.0);
    assert_int_equal(s.n_terms, 0);
    hark_sentiment_cleanup(&s);

    post.lang = "english"; /* "english" is not the subtag "en" */
    hark_sentiment_score(shipped, &post, &s);
    assert_int_equal(s.label, HARK_SENTIMENT_UNSCORED);
    hark_sentiment_cleanup(&s);

    char *english[] = {"en", "en-GB", "EN_us", NULL};
    for (size_t i = 0; i < 4; i++) {
        post.lang = english[i];
        hark_sentiment_score(shipped, &post, &s);
        assert_int_equal(s.label, HARK_SENTIMENT_NEGATIVE);
        assert_non_null(find_term(&s, "terrible"));
        hark_sentiment_cleanup(&s);
    }
}

static void test_hark_sentiment_score__title_and_spoiler(void **state)
{
    (void)state;
    struct hark_post post = {0};
    post.text = "My order arrived today.";
    struct hark_sentiment s = {0};
    hark_sentiment_score(shipped, &post, &s);
    assert_int_equal(s.label, HARK_SENTIMENT_NEUTRAL);
    hark_sentiment_cleanup(&s);

    post.title = "Terrible support";
    post.spoiler_text = "rant";
    hark_sentiment_score(shipped, &post, &s);
    assert_int_equal(s.label, HARK_SENTIMENT_NEGATIVE);
    assert_non_null(find_term(&s, "terrible"));
    hark_sentiment_cleanup(&s);

    /* Each field is its own segment: the text's "but" spares the title. */
    post.text = "fine but slow";
    post.title = "great";
    post.spoiler_text = NULL;
    hark_sentiment_score(shipped, &post, &s);
    const struct hark_sentiment_term *t = find_term(&s, "great");
    assert_non_null(t);
    assert_true(fabs(t->valence - 3.1) < 1e-9);
    hark_sentiment_cleanup(&s);

    post.text = "";
    post.title = NULL;
    hark_sentiment_score(shipped, &post, &s);
    assert_int_equal(s.label, HARK_SENTIMENT_NEUTRAL);
    assert_true(s.score == 0.0);
    hark_sentiment_cleanup(&s);
}

/* ---- domain phrases ----------------------------------------------------- */

/* VADER's normalization, rounded to 4 decimals as the scorer does. */
static double compound_of(double sum)
{
    return round(sum / sqrt(sum * sum + 15.0) * 10000.0) / 10000.0;
}

static const struct hark_sentiment_phrase test_phrases[] = {
    {"no response", 11, -2.0},    {"waste of money", 14, -2.5},
    {"killed it", 9, 3.0},        {"not bad at all", 14, 2.0},
    {"still waiting", 13, -2.0},  {"kill it", 7, 3.0},
    {"on hold", 7, -1.0},         {"on hold for", 11, -1.5},
    {"doesn't work", 12, -2.0}};
#define N_TEST_PHRASES (sizeof(test_phrases) / sizeof(test_phrases[0]))

static void score_phrased(const char *text, struct hark_sentiment *s)
{
    struct hark_post post = {0};
    post.text = (char *)(uintptr_t)text;
    post.lang = "en";
    hark_sentiment_score_with(shipped, test_phrases, N_TEST_PHRASES, &post,
                              s);
}

/* The one term of `text`: the phrase, with `valence`; score follows. */
static void expect_only_phrase(const char *text,
                               const char *phrase,
                               double valence)
{
    struct hark_sentiment s = {0};
    score_phrased(text, &s);
    if (s.n_terms != 1 || strcmp(s.terms[0].term, phrase) != 0 ||
        fabs(s.terms[0].valence - valence) > 1e-9) {
        fail_msg("\"%s\": %zu terms, first \"%s\" %.4f; expected only "
                 "\"%s\" %.4f",
                 text, s.n_terms, s.n_terms ? s.terms[0].term : "",
                 s.n_terms ? s.terms[0].valence : 0.0, phrase, valence);
    }
    if (fabs(s.score - compound_of(valence)) > 1e-9) {
        fail_msg("\"%s\": score %.4f, expected %.4f", text, s.score,
                 compound_of(valence));
    }
    hark_sentiment_cleanup(&s);
}

static void test_hark_sentiment_score_with__phrase_replaces_its_words(
    void **state)
{
    (void)state;
    /* Adding would give "no" -1.2 + -2.0 = -3.2. */
    expect_only_phrase("no response", "no response", -2.0);
    /* Adding would give waste -1.8 + -2.5 = -4.3. */
    expect_only_phrase("What a waste of money", "waste of money", -2.5);
    /* Positive slang: adding would leave killed -3.5 + 3.0 < 0. */
    expect_only_phrase("The night shift killed it today", "killed it", 3.0);
    /* The negator inside does not flip bad as well: adding gives 3.85. */
    expect_only_phrase("not bad at all", "not bad at all", 2.0);
    /* Punctuation around the phrase is fine; "it." is a short token that
     * keeps its period. */
    expect_only_phrase("\"Still waiting.\"", "still waiting", -2.0);
    expect_only_phrase("you kill it.", "kill it", 3.0);
    /* The longest phrase wins at a token. */
    expect_only_phrase("on hold for an hour", "on hold for", -1.5);
    /* A typographic apostrophe reads as ASCII in the text. */
    expect_only_phrase("it doesn\u2019t work", "doesn't work", -2.0);

    struct hark_sentiment s = {0};
    score_phrased("The night shift killed it today", &s);
    assert_int_equal(s.label, HARK_SENTIMENT_POSITIVE);
    hark_sentiment_cleanup(&s);
}

static void test_hark_sentiment_score_with__phrase_acts_as_one_word(
    void **state)
{
    (void)state;
    struct hark_sentiment s = {0};

    /* A negator just before the phrase flips it, as VADER does a word. */
    score_phrased("They haven't killed it", &s);
    assert_int_equal(s.n_terms, 1);
    assert_string_equal(s.terms[0].term, "killed it");
    assert_true(fabs(s.terms[0].valence - 3.0 * -0.74) < 1e-9);
    assert_int_equal(s.label, HARK_SENTIMENT_NEGATIVE);
    hark_sentiment_cleanup(&s);

    /* A booster before it applies. */
    score_phrased("really killed it", &s);
    assert_int_equal(s.n_terms, 1);
    assert_true(fabs(s.terms[0].valence - (3.0 + 0.293)) < 1e-9);
    assert_true(fabs(s.score - compound_of(3.293)) < 1e-9);
    hark_sentiment_cleanup(&s);

    /* The "no" inside "no response" does not negate the word after it
     * (VADER alone would read great as 3.1 * -0.74). */
    score_phrased("no response, great", &s);
    assert_int_equal(s.n_terms, 2);
    assert_string_equal(s.terms[0].term, "no response");
    assert_true(fabs(s.terms[0].valence - -2.0) < 1e-9);
    assert_string_equal(s.terms[1].term, "great");
    assert_true(fabs(s.terms[1].valence - 3.1) < 1e-9);
    assert_true(fabs(s.score - compound_of(1.1)) < 1e-9);
    hark_sentiment_cleanup(&s);

    /* "but" scales the phrase by position like any word. */
    score_phrased("the app is great but still waiting", &s);
    assert_int_equal(s.n_terms, 2);
    assert_true(fabs(s.terms[0].valence - 3.1 * 0.5) < 1e-9);
    assert_string_equal(s.terms[1].term, "still waiting");
    assert_true(fabs(s.terms[1].valence - -2.0 * 1.5) < 1e-9);
    hark_sentiment_cleanup(&s);

    /* ALL CAPS in a mixed-case text emphasizes it. */
    score_phrased("STILL WAITING for a reply", &s);
    assert_int_equal(s.n_terms, 1);
    assert_true(fabs(s.terms[0].valence - (-2.0 - 0.733)) < 1e-9);
    hark_sentiment_cleanup(&s);
}

static void test_hark_sentiment_score_with__phrase_must_match_whole(
    void **state)
{
    (void)state;
    static const char *const texts[] = {
        "still, waiting",           /* punctuation inside */
        "notstill waitingx",        /* inside other words */
        "still waitings",           /* a longer last word */
        "on the hold"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct hark_sentiment s = {0};
        score_phrased(texts[i], &s);
        if (s.n_terms != 0 || s.score != 0.0) {
            fail_msg("\"%s\": %zu terms, score %.4f", texts[i], s.n_terms,
                     s.score);
        }
        hark_sentiment_cleanup(&s);
    }
}

static void test_hark_sentiment_score_with__no_phrase_is_vader(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "VADER is smart, handsome, and funny.",
        "VADER is VERY SMART, handsome, and FUNNY!!!",
        "The book was good, but the movie was not good at all.",
        "Today SUX!",
        "Not bad at all",
        "Make sure you :) or :D today!",
        "At least it isn't a horrible book.",
        "no help, no refund, nothing"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        double plain = score_of(texts[i], NULL);
        struct hark_sentiment s = {0};
        struct hark_post post = {0};
        post.text = (char *)(uintptr_t)texts[i];
        /* phrases that never match these texts */
        static const struct hark_sentiment_phrase none[] = {
            {"still waiting", 13, -2.0}, {"charged twice", 13, -2.3}};
        hark_sentiment_score_with(shipped, none, 2, &post, &s);
        if (s.score != plain) {
            fail_msg("\"%s\": %.4f with phrases, %.4f without", texts[i],
                     s.score, plain);
        }
        hark_sentiment_cleanup(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_lexicon_load__shipped),
        cmocka_unit_test(test_hark_lexicon_load__missing_dir_is_eio),
        cmocka_unit_test(test_hark_lexicon_load__optional_files_may_be_missing),
        cmocka_unit_test(test_hark_lexicon_load__bad_lines_are_errors),
        cmocka_unit_test(test_hark_lexicon_load__afinn_adds_missing_emoticons),
        cmocka_unit_test(test_hark_sentiment_score_text__vader_examples),
        cmocka_unit_test(test_hark_sentiment_score_text__vader_tricky),
        cmocka_unit_test(test_hark_sentiment_score_text__rules),
        cmocka_unit_test(test_hark_sentiment_score_text__refund_is_negative),
        cmocka_unit_test(test_hark_sentiment_score_text__terms_carry_modifiers),
        cmocka_unit_test(test_hark_sentiment_score_text__empty_is_neutral),
        cmocka_unit_test(test_hark_sentiment_score_text__odd_utf8),
        cmocka_unit_test(test_hark_sentiment_score_text__long_text),
        cmocka_unit_test(test_hark_sentiment_score_text__concurrent),
        cmocka_unit_test(test_hark_sentiment_score__language),
        cmocka_unit_test(test_hark_sentiment_score__title_and_spoiler),
        cmocka_unit_test(
            test_hark_sentiment_score_with__phrase_replaces_its_words),
        cmocka_unit_test(
            test_hark_sentiment_score_with__phrase_acts_as_one_word),
        cmocka_unit_test(
            test_hark_sentiment_score_with__phrase_must_match_whole),
        cmocka_unit_test(test_hark_sentiment_score_with__no_phrase_is_vader),
    };
    return cmocka_run_group_tests(tests, load_shipped, free_shipped);
}
