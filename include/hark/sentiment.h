/*
 * sentiment: a VADER-style lexicon scorer (filters/sentiment.c). The
 * lexicon is immutable after loading and shared by every worker.
 *
 * Thread: load on any thread; score from any number of threads at once.
 */
#ifndef HARK_SENTIMENT_H
#define HARK_SENTIMENT_H

#include "hark/common.h"
#include "hark/diag.h"
#include "hark/item.h"
#include "hark/post.h"

struct hark_lexicon;

/*
 * Loads `dir`/vader_lexicon.txt (word TAB mean TAB sd TAB ratings) and, if
 * present, `dir`/vader_emoji_utf8_lexicon.txt (emoji TAB description) and
 * `dir`/AFINN-emoticon-8.txt. Bad lines are errors with file:line.
 * Success: *out owned by the caller. Failure: *out NULL, HARK_EIO/EINVAL.
 */
HARK_MUST_CHECK hark_err_t hark_lexicon_load(const char *dir,
                                             struct hark_diag *diag,
                                             struct hark_lexicon **out);
void hark_lexicon_free(struct hark_lexicon *lex);
size_t hark_lexicon_size(const struct hark_lexicon *lex);

/*
 * Scores the post's text (and spoiler_text, title) into `out` (which the
 * caller zeroed or cleaned): compound score in [-1, 1], label with the
 * +-0.05 thresholds, and the terms that drove it. A post whose `lang` is
 * set and is not covered by the lexicon (English) is labelled UNSCORED
 * with score 0 and no terms.
 * Thread: any; `lex` is only read.
 */
void hark_sentiment_score(const struct hark_lexicon *lex,
                          const struct hark_post *post,
                          struct hark_sentiment *out);

/*
 * A domain override from a rule pack: a word or phrase (lowercase) whose
 * valence (VADER scale, -4..4) counts wherever it appears word-bounded,
 * e.g. "still waiting" -2.0 in customer care. Borrowed from the rule set.
 */
struct hark_sentiment_phrase {
    const char *phrase;
    size_t len;
    double valence;
};

/*
 * hark_sentiment_score() plus the `n` domain phrases. An occurrence -- the
 * phrase's words as consecutive tokens, with no punctuation between them --
 * replaces the words it covers: they score nothing and negate or boost
 * nothing, and the phrase counts as one lexicon word with its valence (a
 * negator or booster just before it applies, as to a word). It is listed in
 * terms once, as the phrase. The longest phrase wins where several start.
 */
void hark_sentiment_score_with(const struct hark_lexicon *lex,
                               const struct hark_sentiment_phrase *phrases,
                               size_t n, const struct hark_post *post,
                               struct hark_sentiment *out);

/* Scores plain text the same way (no language check). */
void hark_sentiment_score_text(const struct hark_lexicon *lex,
                               const char *text, size_t len,
                               struct hark_sentiment *out);

#endif /* HARK_SENTIMENT_H */
