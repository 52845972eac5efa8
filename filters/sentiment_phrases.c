/*
 * sentiment_phrases: the domain phrases of rule packs
 * (hark_sentiment_score_with()) found on a segment's tokens. Each
 * occurrence -- the phrase's words as consecutive tokens, no punctuation
 * between them -- is collapsed into one token that the VADER rules of
 * filters/sentiment.c read as a lexicon word with the phrase's valence.
 *
 * Thread: any; works on the caller's struct scan only.
 */
#include "hark/sentiment.h"

#include <stdbool.h>
#include <string.h>

#include "sentiment_int.h"

/*
 * The next word of the phrase p[*pos..len) as w[0..*w_len): words are split
 * on ASCII whitespace and stripped of punctuation the way tokenize() strips
 * a token. False when no word is left.
 */
static bool phrase_next_word(const char *p,
                             size_t len,
                             size_t *pos,
                             const char **w,
                             size_t *w_len)
{
    size_t i = *pos;
    while (i < len && is_ascii_space(p[i])) {
        i++;
    }
    if (i == len) {
        return false;
    }
    size_t start = i;
    while (i < len && !is_ascii_space(p[i])) {
        i++;
    }
    *pos = i;
    size_t a = start;
    size_t b = i;
    strip_punct(p, &a, &b);
    if (count_cps(p + a, b - a) <= 2) {
        a = start;
        b = i;
    }
    *w = p + a;
    *w_len = b - a;
    return true;
}

/* t[0..t_len) == w[0..w_len), reading w's typographic quotes as ASCII. */
static bool word_eq(const char *t, size_t t_len, const char *w, size_t w_len)
{
    size_t i = 0;
    size_t k = 0;
    while (i < t_len && k < w_len) {
        char c = w[k];
        size_t step = 1;
        if ((unsigned char)c == 0xE2) {
            char q = ascii_quote((const unsigned char *)w + k, w_len - k);
            if (q) {
                c = q;
                step = 3;
            }
        }
        if (t[i] != c) {
            return false;
        }
        i++;
        k += step;
    }
    return i == t_len && k == w_len;
}

/*
 * Whether token `t` reads as the phrase word w[0..w_len). Punctuation may
 * stand before the first word and after the last one, never inside a
 * phrase: "no, response" is not "no response".
 */
static bool tok_is_word(const struct scan *sc,
                        const struct tok *t,
                        const char *w,
                        size_t w_len,
                        bool is_first,
                        bool is_last)
{
    if (((t->punct & TP_BEFORE) && !is_first) ||
        ((t->punct & TP_AFTER) && !is_last)) {
        return false;
    }
    const char *s = sc->buf + t->off;
    size_t a = 0;
    size_t b = t->len;
    if (word_eq(s, b, w, w_len)) {
        return true;
    }
    /* a short token keeps its punctuation ("it!"): strip it here */
    while (is_first && a < b && (byte_class[(uint8_t)s[a]] & C_PUNCT)) {
        a++;
    }
    while (is_last && b > a && (byte_class[(uint8_t)s[b - 1]] & C_PUNCT)) {
        b--;
    }
    return (a > 0 || b < t->len) && word_eq(s + a, b - a, w, w_len);
}

/* Whether a phrase can only match tokens that start with its first byte. */
static bool has_fixed_first(const struct hark_sentiment_phrase *ph)
{
    unsigned char p0 = ph->len > 0 ? (unsigned char)ph->phrase[0] : 0;
    return (byte_class[p0] & C_LOWER) || (p0 >= '0' && p0 <= '9');
}

/* How many tokens from `i` on read as `ph`, or 0 when they do not. */
static size_t phrase_match(const struct scan *sc,
                           size_t i,
                           const struct hark_sentiment_phrase *ph)
{
    /* Most tokens fail on their first byte: a letter or digit that starts
     * the phrase starts its first word, and the token must start with it
     * unless punctuation comes first. */
    const struct tok *t = &sc->toks[i];
    unsigned char p0 = ph->len > 0 ? (unsigned char)ph->phrase[0] : 0;
    unsigned char t0 = t->len > 0 ? (unsigned char)sc->buf[t->off] : 0;
    if (has_fixed_first(ph) && t0 != p0 && !(byte_class[t0] & C_PUNCT)) {
        return 0;
    }
    size_t pos = 0;
    const char *w;
    size_t w_len;
    if (!phrase_next_word(ph->phrase, ph->len, &pos, &w, &w_len)) {
        return 0;
    }
    for (size_t k = 0;; k++) {
        /* the next word is cut out only once this one matched */
        size_t rest = pos;
        while (rest < ph->len && is_ascii_space(ph->phrase[rest])) {
            rest++;
        }
        bool has_next = rest < ph->len;
        if (i + k >= sc->n_toks ||
            !tok_is_word(sc, &sc->toks[i + k], w, w_len, k == 0, !has_next)) {
            return 0;
        }
        if (!has_next) {
            return k + 1;
        }
        (void)phrase_next_word(ph->phrase, ph->len, &pos, &w, &w_len);
    }
}

/*
 * The phrases that may start at a token, by the token's first byte: those
 * whose first byte is that byte, and those with no fixed first byte, in
 * the order they are listed (ties go to the first listed). Built once per
 * segment; a segment has tens of tokens and a pack a few phrases to a few
 * hundred, and without it every phrase was tried at every token.
 */
#define BUCKETED_MAX 1024

struct buckets {
    uint16_t start[257]; /* phrases of byte b: idx[start[b]..start[b+1]) */
    uint16_t idx[BUCKETED_MAX];
    uint16_t any[BUCKETED_MAX]; /* no fixed first byte */
    size_t n_any;
};

static void buckets_build(struct buckets *bk,
                          const struct hark_sentiment_phrase *phrases,
                          size_t n)
{
    uint16_t count[256] = {0};
    bk->n_any = 0;
    for (size_t p = 0; p < n; p++) {
        if (has_fixed_first(&phrases[p])) {
            count[(unsigned char)phrases[p].phrase[0]]++;
        } else {
            bk->any[bk->n_any++] = (uint16_t)p;
        }
    }
    bk->start[0] = 0;
    for (size_t b = 0; b < 256; b++) {
        bk->start[b + 1] = (uint16_t)(bk->start[b] + count[b]);
    }
    uint16_t fill[256];
    memcpy(fill, bk->start, sizeof(fill));
    for (size_t p = 0; p < n; p++) { /* stable: listed order kept */
        if (has_fixed_first(&phrases[p])) {
            bk->idx[fill[(unsigned char)phrases[p].phrase[0]]++] = (uint16_t)p;
        }
    }
}

/*
 * The longest phrase at token i among those listed in a[0..na) and
 * b[0..nb) (both ascending), ties to the lower index; *best_k its tokens.
 */
static const struct hark_sentiment_phrase *
best_of(const struct scan *sc, size_t i,
        const struct hark_sentiment_phrase *phrases, const uint16_t *a,
        size_t na, const uint16_t *b, size_t nb, size_t *best_k)
{
    const struct hark_sentiment_phrase *best = NULL;
    *best_k = 0;
    size_t x = 0;
    size_t y = 0;
    while (x < na || y < nb) {
        size_t p = (y >= nb || (x < na && a[x] < b[y])) ? a[x++] : b[y++];
        size_t k = phrase_match(sc, i, &phrases[p]);
        if (k > *best_k) {
            best = &phrases[p];
            *best_k = k;
        }
    }
    return best;
}

/*
 * Replaces each run of tokens that reads as a domain phrase by one token
 * standing for it: a lexicon word with the phrase's valence and no other
 * role. The rules then treat the phrase as VADER treats a word -- a negator
 * or booster before it applies, ALL CAPS emphasizes it, "but" scales it --
 * while the words it covers add nothing and modify nothing (the "no" of
 * "no response" neither scores nor negates). At each token the longest
 * phrase wins (the first listed among equals); matches do not overlap.
 */
void hark_sentiment_collapse_phrases(
    struct scan *scan,
    const struct hark_sentiment_phrase *phrases,
    size_t n_phrases)
{
    /* Work on a copy the compiler can keep in registers, as when this was
     * inlined into the scorer: through `scan` every field would be read
     * again and again (about 2% more instructions a post). */
    struct scan local = *scan;
    struct scan *sc = &local;
    struct buckets bk;
    bool is_bucketed = n_phrases <= BUCKETED_MAX;
    if (is_bucketed) {
        buckets_build(&bk, phrases, n_phrases);
    }
    size_t w = 0;
    size_t i = 0;
    while (i < sc->n_toks) {
        const struct hark_sentiment_phrase *best = NULL;
        size_t best_k = 0;
        const struct tok *cur = &sc->toks[i];
        unsigned char t0 =
            cur->len > 0 ? (unsigned char)sc->buf[cur->off] : 0;
        if (!is_bucketed || (byte_class[t0] & C_PUNCT)) {
            /* a token that starts with punctuation may hold any phrase */
            for (size_t p = 0; p < n_phrases; p++) {
                size_t k = phrase_match(sc, i, &phrases[p]);
                if (k > best_k) {
                    best = &phrases[p];
                    best_k = k;
                }
            }
        } else {
            best = best_of(sc, i, phrases, bk.idx + bk.start[t0],
                           (size_t)(bk.start[t0 + 1] - bk.start[t0]), bk.any,
                           bk.n_any, &best_k);
        }
        if (!best) {
            if (w != i) {
                sc->toks[w] = sc->toks[i];
            }
            w++;
            i++;
            continue;
        }
        bool is_upper = true;
        for (size_t k = 0; k < best_k; k++) {
            is_upper = is_upper && sc->toks[i + k].is_upper;
        }
        struct tok *t = &sc->toks[w]; /* may be toks[i]: read first */
        uint32_t off = sc->toks[i].off;
        memset(t, 0, sizeof(*t));
        t->off = off;
        t->is_upper = is_upper;
        t->flags = F_WORD;
        t->base = best->valence;
        t->ph = best;
        w++;
        i += best_k;
    }
    scan->n_toks = w;
}

