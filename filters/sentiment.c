/*
 * sentiment: a C port of VADER's compound score (Hutto & Gilbert, ICWSM
 * 2014; the reference implementation is cjhutto/vaderSentiment 3.3.x).
 *
 * How a text is scored, in the reference's order:
 *
 *  1. Emoji: each code point found in vader_emoji_utf8_lexicon.txt is
 *     replaced by its description ("face with tears of joy"), with a space
 *     before it unless the previous character was a space. The reference
 *     walks code points, so only single-code-point entries can ever match;
 *     the loader keeps only those.
 *  2. Tokens: split on Unicode whitespace (Python's str.split()), then strip
 *     leading and trailing ASCII punctuation -- unless what is left has two
 *     code points or fewer, in which case the token is kept whole (that is
 *     how ":)", ":D" and "<3" survive, and also why "ok," stays "ok,").
 *     Lookups are lowercase.
 *  3. Each token gets a valence: 0 unless it is a lexicon word (boosters
 *     and the "kind" of "kind of" are 0 themselves). A lexicon word is
 *     adjusted by the "no" rules, ALL-CAPS emphasis (only when the text
 *     mixes case), boosters/dampeners up to three tokens back (scaled 1,
 *     0.95, 0.9 by distance), negation up to three tokens back (with the
 *     "never so/this" and "without doubt" exceptions), the special idioms
 *     and the "least" rule.
 *     Domain phrases from rule packs (hark_sentiment_score_with()) are
 *     matched on the tokens first, and each occurrence becomes one token
 *     that the rules see as a lexicon word with the phrase's valence; the
 *     words it covered are gone, so they neither score nor modify.
 *  4. "but": valences before the first "but" x0.5, after it x1.5.
 *  5. Sum; add the '!' (0.292 each, up to 4) and '?' (2-3: 0.18 each, 4+:
 *     0.96) emphasis away from zero; compound = x / sqrt(x^2 + 15), rounded
 *     to 4 decimals as the reference does.
 *
 * Deliberate differences from the reference, each small:
 *  - The reference's "but" rule rewrites sentiments by *value*
 *    (list.index()), which misplaces the factor when two tokens happen to
 *    have equal valence; we apply it by position, as intended.
 *  - Typographic quotes U+2018/U+2019 are read as ' and U+201C/U+201D as ",
 *    so "isn't" typed on a phone negates and a quoted word is stripped.
 *  - Lowercasing and the ALL-CAPS test use utf8proc's simple case mapping
 *    instead of Python's full mapping (a mapping that would change the
 *    UTF-8 length of a character is left alone).
 *  - AFINN-emoticon-8.txt, when present, adds the emoticons VADER lacks
 *    (e.g. ":))", "<33", ";-D") at 4/5 of their AFINN rating, so -5..5
 *    maps onto VADER's -4..4; VADER's own entries always win.
 *  - A post's text, spoiler and title are scored as separate segments
 *    (each with its own "but", caps and punctuation rules) whose sums are
 *    added before normalizing.
 *
 * Files: this one tokenizes and scores; sentiment_lexicon.c loads the
 * lexicon files into the tables, sentiment_phrases.c finds the domain
 * phrases, and sentiment_int.h holds what they share.
 *
 * Memory: the lexicon keeps the file contents it loaded and its keys point
 * into them; the two hash tables (open addressing, linear probing) are
 * sized once from the line counts and never rehashed. Scoring allocates
 * nothing for ordinary posts: the token array and text buffers live on the
 * stack, and only a text with more than STACK_TOKS tokens or longer than
 * STACK_TEXT bytes takes one heap buffer for that segment. A segment past
 * SEG_MAX_BYTES is scored on its first SEG_MAX_BYTES only.
 *
 * Speed: most tokens are 1-7 ASCII bytes followed by a space, and
 * fast_token() finds, lowercases, hashes and classifies one from a single
 * 8-byte load (SWAR); the table compares a key's first 8 bytes as one word.
 * The rules read the token's cached entry fields, never strings. On the
 * reference workload's texts this is about 20,000 instructions a post.
 */
#include "hark/sentiment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "hark/item.h"

#include "sentiment_int.h"

#define B_INCR   0.293
#define B_DECR   (-0.293)
#define C_INCR   0.733
#define N_SCALAR (-0.74)

#define SEG_MAX_BYTES     ((size_t)256 << 10) /* longer ones are cut */
#define STACK_TEXT        4096
#define STACK_TOKS        256

struct phrase {
    uint8_t words[3]; /* enum phrase_word */
    size_t n_words;
    double valence;
};

/*
 * SPECIAL_CASES. ("badass" is a key there too, but a key that is one word
 * can never equal a joined sequence of two or three tokens.)
 */
static const struct phrase special_cases[] = {
    {{P_THE, P_SHIT}, 2, 3.0},      {{P_THE, P_BOMB}, 2, 3.0},
    {{P_BAD, P_ASS}, 2, 1.5},       {{P_BUS, P_STOP}, 2, 0.0},
    {{P_YEAH, P_RIGHT}, 2, -2.0},   {{P_KISS, P_OF, P_DEATH}, 3, -1.5},
    {{P_TO, P_DIE, P_FOR}, 3, 3.0}, {{P_BEATING, P_HEART}, 2, 3.1},
    {{P_BROKEN, P_HEART}, 2, -2.9}};

/* The two-word keys of BOOSTER_DICT. */
static const struct phrase booster_bigrams[] = {{{P_JUST, P_ENOUGH}, 2, B_DECR},
                                                {{P_KIND, P_OF}, 2, B_DECR},
                                                {{P_SORT, P_OF}, 2, B_DECR}};

/* ---- small helpers ------------------------------------------------------ */

#define BYTES(x) (0x0101010101010101ULL * (uint64_t)(x))

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    defined(__GNUC__)
#    define HAVE_LE_WORDS 1
#else
#    define HAVE_LE_WORDS 0
#endif

/*
 * load8(p, k) when p[0..k) lies in a buffer that ends at `end`; reads a
 * whole word and masks it when 8 bytes are readable, which saves the
 * variable-length copy.
 */
static uint64_t load8_in(const char *p, size_t k, const char *end)
{
#if HAVE_LE_WORDS
    if (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        return k >= 8 ? w : w & ((1ULL << (8 * k)) - 1);
    }
#else
    (void)end;
#endif
    return load8(p, k < 8 ? k : 8);
}

/* Python's str.isspace() set, which str.split() splits on. */
static bool is_space_cp(uint32_t cp)
{
    if (cp < 0x80) {
        return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) ||
               (cp >= 0x1C && cp <= 0x1F);
    }
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Python's str.isupper(): some cased character and none lowercase. */
static bool is_upper_word(const char *s, size_t n)
{
    bool has_upper = false;
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (c >= 'a' && c <= 'z') {
                return false;
            }
            if (c >= 'A' && c <= 'Z') {
                has_upper = true;
            }
            i++;
            continue;
        }
        uint32_t cp;
        i += u8_decode((const unsigned char *)s + i, n - i, &cp);
        if (utf8proc_islower((utf8proc_int32_t)cp) ||
            utf8proc_category((utf8proc_int32_t)cp) == UTF8PROC_CATEGORY_LT) {
            return false;
        }
        if (utf8proc_isupper((utf8proc_int32_t)cp)) {
            has_upper = true;
        }
    }
    return has_upper;
}

/* ---- scoring ------------------------------------------------------------- */

static bool in_lex(const struct scan *sc, size_t i)
{
    return sc->toks[i].flags & F_WORD;
}

static enum word_id word_of(const struct scan *sc, size_t i)
{
    return (enum word_id)sc->toks[i].word;
}

static enum phrase_word phrase_of(const struct scan *sc, size_t i)
{
    return (enum phrase_word)sc->toks[i].phrase;
}

/* The reference's negated([word]): in NEGATE, or containing "n't". */
static bool is_negated(const struct scan *sc, size_t i)
{
    const struct tok *t = &sc->toks[i];
    if (t->flags & F_NEGATE) {
        return true;
    }
    const char *s = sc->buf + t->off;
    for (size_t k = 0; k + 3 <= t->len; k++) {
        if (s[k] == 'n' && s[k + 1] == '\'' && s[k + 2] == 't') {
            return true;
        }
    }
    return false;
}

static bool
phrase_at(const struct scan *sc, size_t first, const struct phrase *p)
{
    for (size_t k = 0; k < p->n_words; k++) {
        if (phrase_of(sc, first + k) != p->words[k]) {
            return false;
        }
    }
    return true;
}

static const struct phrase *
special_at(const struct scan *sc, size_t first, size_t n_words)
{
    static const uint32_t first_words =
        1U << P_THE | 1U << P_BAD | 1U << P_BUS | 1U << P_YEAH | 1U << P_KISS |
        1U << P_TO | 1U << P_BEATING | 1U << P_BROKEN;
    if (!(first_words & (1U << phrase_of(sc, first)))) {
        return NULL;
    }
    for (size_t k = 0; k < N_ELEMS(special_cases); k++) {
        if (special_cases[k].n_words == n_words &&
            phrase_at(sc, first, &special_cases[k])) {
            return &special_cases[k];
        }
    }
    return NULL;
}

/* The reference's scalar_inc_dec() for the token at `j`. */
static double scalar_inc_dec(const struct scan *sc, size_t j, double valence)
{
    const struct tok *t = &sc->toks[j];
    if (!(t->flags & F_BOOST)) {
        return 0.0;
    }
    double scalar = (t->flags & F_DECR) ? B_DECR : B_INCR;
    if (valence < 0) {
        scalar = -scalar;
    }
    if (t->is_upper && sc->is_cap_diff) {
        scalar += valence > 0 ? C_INCR : -C_INCR;
    }
    return scalar;
}

static double
negation_check(const struct scan *sc, double v, size_t st, size_t i)
{
    if (st == 0) {
        if (is_negated(sc, i - 1)) {
            v *= N_SCALAR;
        }
    } else if (st == 1) {
        enum word_id w2 = word_of(sc, i - 2);
        enum word_id w1 = word_of(sc, i - 1);
        /* "never so good" intensifies; "without doubt" does not negate */
        if (w2 == W_NEVER && (w1 == W_SO || w1 == W_THIS)) {
            v *= 1.25;
        } else if (!(w2 == W_WITHOUT && w1 == W_DOUBT) &&
                   is_negated(sc, i - 2)) {
            v *= N_SCALAR;
        }
    } else {
        enum word_id w3 = word_of(sc, i - 3);
        enum word_id w2 = word_of(sc, i - 2);
        enum word_id w1 = word_of(sc, i - 1);
        /* Python precedence: (never and (so or this)) or (so or this). */
        if ((w3 == W_NEVER && (w2 == W_SO || w2 == W_THIS)) || w1 == W_SO ||
            w1 == W_THIS) {
            v *= 1.25;
        } else if (!(w3 == W_WITHOUT && (w2 == W_DOUBT || w1 == W_DOUBT)) &&
                   is_negated(sc, i - 3)) {
            v *= N_SCALAR;
        }
    }
    return v;
}

/* The reference's _special_idioms_check(); only called with i >= 3. */
static double special_idioms(const struct scan *sc, double v, size_t i)
{
    /* onezero, twoonezero, twoone, threetwoone, threetwo: first wins */
    static const struct {
        size_t back;
        size_t n_words;
    } seqs[] = {{1, 2}, {2, 3}, {2, 2}, {3, 3}, {3, 2}};

    size_t last = i + 2 < sc->n_toks ? i + 2 : sc->n_toks - 1;
    bool has_phrase_word = false;
    for (size_t k = i - 3; k <= last && !has_phrase_word; k++) {
        has_phrase_word = phrase_of(sc, k) != P_NONE;
    }
    if (!has_phrase_word) {
        return v;
    }
    for (size_t k = 0; k < N_ELEMS(seqs); k++) {
        const struct phrase *p =
            special_at(sc, i - seqs[k].back, seqs[k].n_words);
        if (p) {
            v = p->valence;
            break;
        }
    }
    if (sc->n_toks - 1 > i) {
        const struct phrase *p = special_at(sc, i, 2);
        if (p) {
            v = p->valence;
        }
    }
    if (sc->n_toks - 1 > i + 1) {
        const struct phrase *p = special_at(sc, i, 3);
        if (p) {
            v = p->valence;
        }
    }
    /* booster bigrams ending just before the word: threetwo, twoone */
    for (size_t k = 0; k < N_ELEMS(booster_bigrams); k++) {
        if (phrase_at(sc, i - 3, &booster_bigrams[k])) {
            v += booster_bigrams[k].valence;
        }
        if (phrase_at(sc, i - 2, &booster_bigrams[k])) {
            v += booster_bigrams[k].valence;
        }
    }
    return v;
}

static double least_check(const struct scan *sc, double v, size_t i)
{
    /* "least" negates, except in "at least" and "very least" */
    if (i > 0 && !in_lex(sc, i - 1) && word_of(sc, i - 1) == W_LEAST &&
        (i == 1 ||
         (word_of(sc, i - 2) != W_AT && word_of(sc, i - 2) != W_VERY))) {
        v *= N_SCALAR;
    }
    return v;
}

/* The reference's sentiment_valence() for a lexicon word at `i`. */
static double word_valence(const struct scan *sc, size_t i)
{
    const struct tok *t = &sc->toks[i];
    double base = t->base;
    double v = base;
    size_t n = sc->n_toks;

    if (word_of(sc, i) == W_NO && i != n - 1 && in_lex(sc, i + 1)) {
        v = 0.0; /* "no" negates the next word instead */
    }
    if ((i > 0 && word_of(sc, i - 1) == W_NO) ||
        (i > 1 && word_of(sc, i - 2) == W_NO) ||
        (i > 2 && word_of(sc, i - 3) == W_NO &&
         (word_of(sc, i - 1) == W_OR || word_of(sc, i - 1) == W_NOR))) {
        v = base * N_SCALAR;
    }
    if (t->is_upper && sc->is_cap_diff) {
        v += v > 0 ? C_INCR : -C_INCR;
    }
    for (size_t st = 0; st < 3; st++) {
        if (i > st && !in_lex(sc, i - (st + 1))) {
            double s = scalar_inc_dec(sc, i - (st + 1), v);
            if (st == 1 && s != 0) {
                s *= 0.95;
            } else if (st == 2 && s != 0) {
                s *= 0.9;
            }
            v += s;
            v = negation_check(sc, v, st, i);
            if (st == 2) {
                v = special_idioms(sc, v, i);
            }
        }
    }
    return least_check(sc, v, i);
}

/* ---- emoji and tokens ---------------------------------------------------- */

/* The first index >= i of a byte >= 0x80 in u[0..len), or len. */
static size_t skip_ascii(const unsigned char *u, size_t i, size_t len)
{
    while (i + 8 <= len) {
        uint64_t w;
        memcpy(&w, u + i, 8);
        if (w & 0x8080808080808080ULL) {
            break;
        }
        i += 8;
    }
    while (i < len && u[i] < 0x80) {
        i++;
    }
    return i;
}

static size_t count_byte(const char *s, size_t len, char c)
{
    size_t n = 0;
    const char *end = s + len;
    const char *p = memchr(s, c, len);
    while (p) {
        n++;
        p++;
        p = memchr(p, c, (size_t)(end - p));
    }
    return n;
}

/*
 * Step 1: the length of `s` with emoji replaced by their descriptions, or
 * 0 when it has none. With `out`, also writes the expansion. Only lead
 * bytes of multi-byte characters are decoded; ASCII runs are copied whole.
 */
static size_t emoji_expand(const struct hark_lexicon *lex,
                           const char *s,
                           size_t len,
                           char *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0;
    size_t run = 0;            /* start of the bytes not yet copied */
    bool is_prev_space = true; /* the reference's prev_space at `run` */
    bool has_emoji = false;
    size_t i = 0;
    while (i < len) {
        i = skip_ascii(u, i, len);
        if (i == len) {
            break;
        }
        if (u[i] < 0xC2) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t cl = u8_decode(u + i, len - i, &cp);
        const struct emoji_entry *e = emoji_find(lex, cp);
        if (!e) {
            i += cl;
            continue;
        }
        if (i > run) {
            if (out) {
                memcpy(out + n, s + run, i - run);
            }
            n += i - run;
            is_prev_space = s[i - 1] == ' ';
        }
        if (!is_prev_space) {
            if (out) {
                out[n] = ' ';
            }
            n++;
        }
        if (out) {
            memcpy(out + n, e->desc, e->desc_len);
        }
        n += e->desc_len;
        is_prev_space = false;
        has_emoji = true;
        i += cl;
        run = i;
    }
    if (!has_emoji) {
        return 0;
    }
    if (out) {
        memcpy(out + n, s + run, len - run);
    }
    return n + (len - run);
}

struct tok_vec {
    struct tok *v;
    size_t n;
    size_t cap;
    struct tok *heap; /* non-NULL once grown past the stack array */
    size_t max;       /* no text has more tokens than this */
};

static struct tok *tok_push(struct tok_vec *tv)
{
    if (tv->n == tv->cap) {
        hark_assert(tv->heap == NULL && tv->max > tv->cap);
        tv->heap = hark_xmalloc(tv->max * sizeof(*tv->heap));
        memcpy(tv->heap, tv->v, tv->n * sizeof(*tv->heap));
        tv->v = tv->heap;
        tv->cap = tv->max;
    }
    return &tv->v[tv->n++];
}

/*
 * Copies the token s[0..n) to `dst` with typographic quotes made ASCII;
 * returns the bytes written (<= n).
 */
static size_t copy_token(char *dst, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t w = 0;
    size_t run = 0;
    for (size_t i = 0; i + 3 <= n; i++) {
        char q = '\0';
        if (u[i] == 0xE2) {
            q = ascii_quote(u + i, n - i);
        }
        if (q) {
            memcpy(dst + w, s + run, i - run);
            w += i - run;
            dst[w++] = q;
            run = i + 3;
            i += 2;
        }
    }
    memcpy(dst + w, s + run, n - run);
    return w + (n - run);
}

/*
 * Copies the ASCII token src[0..n) (in a buffer ending at `src_end`)
 * lowercased to `dst` (which has 8 bytes of slack), sets *head, returns the
 * hash32() of the copy and tells whether the token is ALL CAPS -- 8 bytes at a
 * time. Every byte is < 0x80, so adding 0x80 - 'A' to a byte sets its top bit
 * exactly when it is >= 'A', with no carry into the next byte.
 */
static uint64_t lower_word(uint64_t w, uint64_t *any_upper, uint64_t *any_lower)
{
    uint64_t up =
        (w + BYTES(0x80 - 'A')) & ~(w + BYTES(0x80 - 'Z' - 1)) & BYTES(0x80);
    uint64_t lo =
        (w + BYTES(0x80 - 'a')) & ~(w + BYTES(0x80 - 'z' - 1)) & BYTES(0x80);
    *any_upper |= up;
    *any_lower |= lo;
    return w | (up >> 2); /* 0x80 >> 2 == 'a' - 'A' */
}

static uint32_t lower_hash_ascii(char *dst,
                                 const char *src,
                                 size_t n,
                                 const char *src_end,
                                 uint64_t *head,
                                 bool *is_upper)
{
    uint64_t h = 0;
    uint64_t any_upper = 0;
    uint64_t any_lower = 0;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = lower_word(load8_in(src + i, n - i, src_end), &any_upper,
                                &any_lower);
        memcpy(dst + i, &w, 8);
        if (i == 0) {
            *head = w;
        }
        h = hash_step(h, w);
    }
    if (n == 0) {
        *head = 0;
    }
    *is_upper = any_upper && !any_lower;
    return hash_final(h, n);
}

/*
 * The first index >= i of s[0..len) that is whitespace or >= 0x80, or len.
 * Eight bytes at a time: (w - 0x21) | w has the top bit of a byte set when
 * the byte is below 0x21 (every ASCII space is) or >= 0x80; borrows only
 * disturb bytes after the first hit, and control bytes that are not
 * whitespace are checked against the table.
 */
static size_t token_run(const char *s, size_t i, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
#if HAVE_LE_WORDS
    while (i + 8 <= len) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t m = ((w - BYTES(0x21)) | w) & BYTES(0x80);
        if (m == 0) {
            i += 8;
            continue;
        }
        i += (size_t)__builtin_ctzll(m) >> 3;
        if (byte_class[u[i]] & (C_SPACE | C_HIGH)) {
            return i;
        }
        i++;
    }
#endif
    while (i < len && !(byte_class[u[i]] & (C_SPACE | C_HIGH))) {
        i++;
    }
    return i;
}

/*
 * Fast path for most tokens: 1-7 ASCII bytes followed by whitespace in one
 * 8-byte load, with no punctuation at either end (so stripping does
 * nothing); see token_run() for the mask. On success the token is pushed,
 * *w and *i (past the token and one space) advanced, and true returned.
 */
static bool fast_token(const char *s,
                       size_t *i,
                       size_t len,
                       char *buf,
                       size_t *w,
                       struct tok_vec *tv)
{
#if HAVE_LE_WORDS
    const unsigned char *u = (const unsigned char *)s + *i;
    if (*i + 8 > len) {
        return false;
    }
    uint64_t word;
    memcpy(&word, u, 8);
    uint64_t m = ((word - BYTES(0x21)) | word) & BYTES(0x80);
    size_t n = m ? (size_t)__builtin_ctzll(m) >> 3 : 0;
    if (n == 0 || !(byte_class[u[n]] & C_SPACE) ||
        (byte_class[u[0]] & C_PUNCT) || (byte_class[u[n - 1]] & C_PUNCT)) {
        return false;
    }
    uint64_t any_upper = 0;
    uint64_t any_lower = 0;
    word = lower_word(word & ((1ULL << (8 * n)) - 1), &any_upper, &any_lower);
    memcpy(buf + *w, &word, 8);
    struct tok *t = tok_push(tv);
    memset(t, 0, sizeof(*t));
    t->off = (uint32_t)*w;
    t->len = (uint32_t)n;
    t->head = word;
    t->hash = hash_final(hash_step(0, word), n);
    t->is_upper = any_upper && !any_lower;
    *w += n;
    *i += n + 1;
    return true;
#else
    (void)s, (void)i, (void)len, (void)buf, (void)w, (void)tv;
    return false;
#endif
}

/* The length of the whitespace character at s[i], or 0. */
static size_t space_at(const char *s, size_t i, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    uint8_t k = byte_class[u[i]];
    if (k & C_SPACE) {
        return 1;
    }
    if (k & C_HIGH) {
        uint32_t cp;
        size_t cl = u8_decode(u + i, len - i, &cp);
        return is_space_cp(cp) ? cl : 0;
    }
    return 0;
}

/*
 * The general token starting at s[i]: runs to the next whitespace, strips
 * punctuation unless that leaves two characters or fewer, and is lowercased
 * into buf at *w. Returns the index past the token.
 */
static size_t slow_token(const char *s,
                         size_t i,
                         size_t len,
                         char *buf,
                         size_t *w,
                         struct tok_vec *tv)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t start = i;
    bool has_high = false;
    for (;;) {
        i = token_run(s, i, len);
        if (i == len || (byte_class[u[i]] & C_SPACE)) {
            break;
        }
        uint32_t cp;
        size_t cl = u8_decode(u + i, len - i, &cp);
        if (is_space_cp(cp)) {
            break;
        }
        has_high = true;
        i += cl;
    }
    struct tok *t = tok_push(tv);
    memset(t, 0, sizeof(*t));
    if (!has_high) {
        size_t a = start;
        size_t b = i;
        strip_punct(s, &a, &b);
        if (b - a <= 2) {
            a = start;
            b = i;
        }
        t->punct = (uint8_t)((a > start ? TP_BEFORE : 0) |
                             (b < i ? TP_AFTER : 0));
        t->off = (uint32_t)*w;
        t->len = (uint32_t)(b - a);
        t->hash = lower_hash_ascii(buf + *w, s + a, b - a, s + len, &t->head,
                                   &t->is_upper);
        *w += b - a;
        return i;
    }
    size_t w0 = *w;
    *w += copy_token(buf + w0, s + start, i - start);
    size_t a = w0;
    size_t b = *w;
    strip_punct(buf, &a, &b);
    if (count_cps(buf + a, b - a) <= 2) {
        a = w0;
        b = *w;
    }
    t->punct = (uint8_t)((a > w0 ? TP_BEFORE : 0) | (b < *w ? TP_AFTER : 0));
    t->off = (uint32_t)a;
    t->len = (uint32_t)(b - a);
    t->is_upper = is_upper_word(buf + a, b - a);
    lower_in_place(buf + a, b - a);
    t->hash = hash32(buf + a, b - a);
    t->head = load8(buf + a, b - a < 8 ? b - a : 8);
    return i;
}

/* Step 2: tokens of s[0..len) into `buf` (at least `len` + 8 bytes). */
static void tokenize(const char *s, size_t len, char *buf, struct tok_vec *tv)
{
    size_t i = 0;
    size_t w = 0;
    while (i < len) {
        if (fast_token(s, &i, len, buf, &w, tv)) {
            continue;
        }
        size_t n_space = space_at(s, i, len);
        if (n_space > 0) {
            i += n_space;
            continue;
        }
        i = slow_token(s, i, len, buf, &w, tv);
    }
}

static double punctuation_emphasis(size_t n_ep, size_t n_qm)
{
    double amp = (double)(n_ep > 4 ? 4 : n_ep) * 0.292;
    if (n_qm > 1) {
        amp += n_qm <= 3 ? (double)n_qm * 0.18 : 0.96;
    }
    return amp;
}

/* Steps 3 and 4 on a tokenized segment; returns the sum of valences. */
static double score_tokens(const struct hark_lexicon *lex,
                           struct scan *sc,
                           const struct hark_sentiment_phrase *phrases,
                           size_t n_phrases,
                           struct hark_sentiment *out)
{
    size_t n = sc->n_toks;
    size_t n_upper = 0;
    size_t but_at = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        struct tok *t = &sc->toks[i];
        const struct lex_entry *e =
            lex_find_h(lex, sc->buf + t->off, t->len, t->hash, t->head);
        if (e) {
            t->flags = e->flags;
            t->word = e->word;
            t->phrase = e->phrase;
            t->base = e->valence;
        }
        n_upper += t->is_upper;
    }
    /* the text's case, before phrases merge tokens */
    sc->is_cap_diff = n_upper > 0 && n_upper < n;
    if (n_phrases > 0) {
        hark_sentiment_collapse_phrases(sc, phrases, n_phrases);
        n = sc->n_toks;
    }
    for (size_t i = 0; i < n && but_at == SIZE_MAX; i++) {
        if (word_of(sc, i) == W_BUT) {
            but_at = i;
        }
    }

    for (size_t i = 0; i < n; i++) {
        struct tok *t = &sc->toks[i];
        if (!(t->flags & F_WORD) || (t->flags & F_BOOST)) {
            continue;
        }
        if (i + 1 < n && word_of(sc, i) == W_KIND &&
            word_of(sc, i + 1) == W_OF) {
            continue;
        }
        t->valence = word_valence(sc, i);
    }

    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        struct tok *t = &sc->toks[i];
        if (t->valence == 0.0) {
            continue;
        }
        if (but_at != SIZE_MAX) {
            t->valence *= i < but_at ? 0.5 : 1.5;
        }
        sum += t->valence;
        if (t->ph) {
            hark_sentiment_add_term(out, t->ph->phrase, t->ph->len,
                                    t->valence);
        } else {
            hark_sentiment_add_term(out, sc->buf + t->off, t->len,
                                    t->valence);
        }
    }
    return sum;
}

/*
 * Scores one segment: its sum of valences with punctuation emphasis, the
 * quantity the compound normalizes. *has_tokens tells an empty segment.
 */
static double score_segment(const struct hark_lexicon *lex,
                            const char *text,
                            size_t len,
                            const struct hark_sentiment_phrase *phrases,
                            size_t n_phrases,
                            struct hark_sentiment *out,
                            bool *has_tokens)
{
    char ebuf_stack[STACK_TEXT];
    char nbuf_stack[STACK_TEXT];
    struct tok toks_stack[STACK_TOKS];
    char *ebuf_heap = NULL;
    char *nbuf_heap = NULL;

    if (len > SEG_MAX_BYTES) {
        len = SEG_MAX_BYTES;
        while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80) {
            len--; /* do not cut a character in half */
        }
    }

    const char *src = text;
    size_t src_len = len;
    if (lex->n_emoji > 0) {
        size_t n = emoji_expand(lex, text, len, NULL);
        if (n > 0) {
            char *e = n <= sizeof(ebuf_stack) ? ebuf_stack
                                              : (ebuf_heap = hark_xmalloc(n));
            size_t n_written = emoji_expand(lex, text, len, e);
            hark_assert(n_written == n);
            src = e;
            src_len = n;
        }
    }

    /* lower_hash_ascii() writes whole words: 8 bytes of slack */
    char *nbuf = src_len + 8 <= sizeof(nbuf_stack)
                     ? nbuf_stack
                     : (nbuf_heap = hark_xmalloc(src_len + 8));
    struct tok_vec tv = {toks_stack, 0, STACK_TOKS, NULL, src_len / 2 + 1};
    tokenize(src, src_len, nbuf, &tv);

    double sum = 0.0;
    *has_tokens = tv.n > 0;
    if (tv.n > 0) {
        struct scan sc = {nbuf, tv.v, tv.n, false};
        sum = score_tokens(lex, &sc, phrases, n_phrases, out);
        double amp = punctuation_emphasis(count_byte(src, src_len, '!'),
                                          count_byte(src, src_len, '?'));
        if (sum > 0) {
            sum += amp;
        } else if (sum < 0) {
            sum -= amp;
        }
    }
    free(tv.heap);
    free(nbuf_heap);
    free(ebuf_heap);
    return sum;
}

static void finish(struct hark_sentiment *out, double sum, bool has_tokens)
{
    double compound = 0.0;
    if (has_tokens) {
        compound = sum / sqrt(sum * sum + 15.0);
        if (compound < -1.0) {
            compound = -1.0;
        } else if (compound > 1.0) {
            compound = 1.0;
        }
        compound = round(compound * 10000.0) / 10000.0;
        if (compound == 0.0) {
            compound = 0.0; /* no "-0.0000" in events */
        }
    }
    out->score = compound;
    if (compound >= 0.05) {
        out->label = HARK_SENTIMENT_POSITIVE;
    } else if (compound <= -0.05) {
        out->label = HARK_SENTIMENT_NEGATIVE;
    } else {
        out->label = HARK_SENTIMENT_NEUTRAL;
    }
}

void hark_sentiment_score_text(const struct hark_lexicon *lex,
                               const char *text,
                               size_t len,
                               struct hark_sentiment *out)
{
    hark_assert(lex && out);
    bool has_tokens = false;
    double sum = 0.0;
    if (text && len > 0) {
        sum = score_segment(lex, text, len, NULL, 0, out, &has_tokens);
    }
    finish(out, sum, has_tokens);
}

/* True when `lang` (BCP 47) is English, e.g. "en", "en-GB", "EN_us". */
static bool is_english(const char *lang)
{
    return (lang[0] == 'e' || lang[0] == 'E') &&
           (lang[1] == 'n' || lang[1] == 'N') &&
           (lang[2] == '\0' || lang[2] == '-' || lang[2] == '_');
}

void hark_sentiment_score(const struct hark_lexicon *lex,
                          const struct hark_post *post,
                          struct hark_sentiment *out)
{
    hark_sentiment_score_with(lex, NULL, 0, post, out);
}

void hark_sentiment_score_with(const struct hark_lexicon *lex,
                               const struct hark_sentiment_phrase *phrases,
                               size_t n, const struct hark_post *post,
                               struct hark_sentiment *out)
{
    hark_assert(lex && post && out);
    if (post->lang && post->lang[0] != '\0' && !is_english(post->lang)) {
        out->score = 0.0;
        out->label = HARK_SENTIMENT_UNSCORED;
        return;
    }
    const char *fields[3] = {post->text, post->spoiler_text, post->title};
    double sum = 0.0;
    bool has_tokens = false;
    for (size_t i = 0; i < 3; i++) {
        if (fields[i] && fields[i][0] != '\0') {
            bool seg_has_tokens = false;
            size_t flen = strlen(fields[i]);
            sum += score_segment(lex, fields[i], flen, phrases, n, out,
                                 &seg_has_tokens);
            has_tokens = has_tokens || seg_has_tokens;
        }
    }
    finish(out, sum, has_tokens);
}
