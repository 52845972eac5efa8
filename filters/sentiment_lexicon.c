/*
 * sentiment_lexicon: loading the lexicon files of the VADER scorer
 * (filters/sentiment.c) into the two hash tables it reads
 * (sentiment_int.h): vader_lexicon.txt, and when present
 * vader_emoji_utf8_lexicon.txt and AFINN-emoticon-8.txt, plus the
 * reference's built-in word lists (boosters, negations, the words the
 * rules name).
 *
 * Memory: the lexicon keeps the file contents it loaded and its keys point
 * into them; the two hash tables (open addressing, linear probing) are
 * sized once from the line counts and never rehashed.
 *
 * Thread: load on any thread; the loaded lexicon is immutable.
 */
#include "hark/sentiment.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sentiment_int.h"

#define LEXICON_MAX_BYTES ((size_t)64 << 20)

#define VADER_FILE  "vader_lexicon.txt"
#define EMOJI_FILE  "vader_emoji_utf8_lexicon.txt"
#define AFINN_FILE  "AFINN-emoticon-8.txt"
#define AFINN_SCALE 0.8

/* ---- the reference's word lists ---------------------------------------- */

static const char *const boosters_incr[] = {
    "absolutely",    "amazingly",    "awfully",       "completely",
    "considerable",  "considerably", "decidedly",     "deeply",
    "effing",        "enormous",     "enormously",    "entirely",
    "especially",    "exceptional",  "exceptionally", "extreme",
    "extremely",     "fabulously",   "flipping",      "flippin",
    "frackin",       "fracking",     "fricking",      "frickin",
    "frigging",      "friggin",      "fully",         "fuckin",
    "fucking",       "fuggin",       "fugging",       "greatly",
    "hella",         "highly",       "hugely",        "incredible",
    "incredibly",    "intensely",    "major",         "majorly",
    "more",          "most",         "particularly",  "purely",
    "quite",         "really",       "remarkably",    "so",
    "substantially", "thoroughly",   "total",         "totally",
    "tremendous",    "tremendously", "uber",          "unbelievably",
    "unusually",     "utter",        "utterly",       "very"};

/* The two-word dampeners ("kind of", ...) are in `booster_bigrams`. */
static const char *const boosters_decr[] = {
    "almost", "barely", "hardly",   "kinda",      "kindof",     "kind-of",
    "less",   "little", "marginal", "marginally", "occasional", "occasionally",
    "partly", "scarce", "scarcely", "slight",     "slightly",   "somewhat",
    "sorta",  "sortof", "sort-of"};

static const char *const negations[] = {
    "aint",    "arent",    "cannot",  "cant",     "couldnt",  "darent",
    "didnt",   "doesnt",   "ain't",   "aren't",   "can't",    "couldn't",
    "daren't", "didn't",   "doesn't", "dont",     "hadnt",    "hasnt",
    "havent",  "isnt",     "mightnt", "mustnt",   "neither",  "don't",
    "hadn't",  "hasn't",   "haven't", "isn't",    "mightn't", "mustn't",
    "neednt",  "needn't",  "never",   "none",     "nope",     "nor",
    "not",     "nothing",  "nowhere", "oughtnt",  "shant",    "shouldnt",
    "uhuh",    "wasnt",    "werent",  "oughtn't", "shan't",   "shouldn't",
    "uh-uh",   "wasn't",   "weren't", "without",  "wont",     "wouldnt",
    "won't",   "wouldn't", "rarely",  "seldom",   "despite"};

static const struct {
    const char *word;
    enum word_id id;
} rule_words[] = {
    {"no", W_NO},           {"kind", W_KIND},   {"of", W_OF},
    {"never", W_NEVER},     {"so", W_SO},       {"this", W_THIS},
    {"without", W_WITHOUT}, {"doubt", W_DOUBT}, {"least", W_LEAST},
    {"at", W_AT},           {"very", W_VERY},   {"but", W_BUT},
    {"or", W_OR},           {"nor", W_NOR}};



static const char *const phrase_words[P_COUNT] = {
    [P_THE] = "the",         [P_SHIT] = "shit",     [P_BOMB] = "bomb",
    [P_BAD] = "bad",         [P_ASS] = "ass",       [P_BUS] = "bus",
    [P_STOP] = "stop",       [P_YEAH] = "yeah",     [P_RIGHT] = "right",
    [P_KISS] = "kiss",       [P_OF] = "of",         [P_DEATH] = "death",
    [P_TO] = "to",           [P_DIE] = "die",       [P_FOR] = "for",
    [P_BEATING] = "beating", [P_HEART] = "heart",   [P_BROKEN] = "broken",
    [P_JUST] = "just",       [P_ENOUGH] = "enough", [P_KIND] = "kind",
    [P_SORT] = "sort"};

/* ---- small helpers ------------------------------------------------------ */

static size_t pow2_at_least(size_t n)
{
    size_t cap = 16;
    while (cap < n) {
        cap <<= 1;
    }
    return cap;
}

static bool is_valid_utf8(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t cl = u8_decode(u + i, n - i, &cp);
        if (cp == 0xFFFD && cl == 1) {
            return false; /* a real U+FFFD is three bytes */
        }
        i += cl;
    }
    return true;
}

/* ---- hash tables --------------------------------------------------------- */

static const struct lex_entry *
lex_find(const struct hark_lexicon *lex, const char *s, size_t n)
{
    return lex_find_h(lex, s, n, hash32(s, n), load8(s, n < 8 ? n : 8));
}

/* Returns the entry for `key`, adding an empty one if needed. */
static struct lex_entry *
lex_slot(struct hark_lexicon *lex, const char *key, size_t n)
{
    uint32_t h = hash32(key, n);
    for (size_t i = h & lex->words_mask;; i = (i + 1) & lex->words_mask) {
        struct lex_entry *e = &lex->words[i];
        if (lex->hashes[i] == 0) {
            /* Sized for at most half full when loading starts. */
            hark_assert(lex->n_slots_used < lex->words_mask);
            lex->hashes[i] = h;
            e->key = key;
            e->head = load8(key, n < 8 ? n : 8);
            e->key_len = (uint32_t)n;
            lex->n_slots_used++;
            return e;
        }
        if (lex->hashes[i] == h && e->key_len == n &&
            memcmp(e->key, key, n) == 0) {
            return e;
        }
    }
}

static void lex_set_word(struct hark_lexicon *lex,
                         const char *key,
                         size_t n,
                         double valence)
{
    struct lex_entry *e = lex_slot(lex, key, n);
    if (!(e->flags & F_WORD)) {
        lex->n_words++;
    }
    e->flags |= F_WORD;
    e->valence = valence;
}

static void emoji_set(struct hark_lexicon *lex,
                      uint32_t cp,
                      const char *desc,
                      size_t desc_len)
{
    uint32_t h = cp * 2654435761U;
    for (size_t i = (h >> 8) & lex->emoji_mask;;
         i = (i + 1) & lex->emoji_mask) {
        struct emoji_entry *e = &lex->emoji[i];
        if (e->cp == 0) {
            hark_assert(lex->n_emoji < lex->emoji_mask);
            lex->n_emoji++;
        } else if (e->cp != cp) {
            continue;
        }
        e->cp = cp;
        e->desc = desc;
        e->desc_len = (uint32_t)desc_len;
        return;
    }
}

/* ---- loading ------------------------------------------------------------- */

static void
diag_error(struct hark_diag *diag, const char *file, int line, const char *msg)
{
    if (diag) {
        hark_diag_line(diag, HARK_DIAG_ERROR, file, line, "%s", msg);
    }
}

static size_t count_lines(const char *s, size_t n)
{
    size_t k = 1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') {
            k++;
        }
    }
    return k;
}


/*
 * Calls `fn` for each line of `text` that is not empty, with the line
 * stripped of surrounding whitespace (as the reference's line.strip()) and
 * NUL-terminated in place. Returns the number of lines `fn` rejected;
 * each is reported as file:line with the reason `fn` gives.
 */
static size_t each_line(struct hark_lexicon *lex,
                        char *text,
                        size_t text_len,
                        const char *path,
                        struct hark_diag *diag,
                        bool (*fn)(struct hark_lexicon *lex,
                                   char *line,
                                   size_t len,
                                   const char **why))
{
    size_t n_bad = 0;
    int line_no = 0;
    size_t pos = 0;
    while (pos < text_len) {
        line_no++;
        char *line = text + pos;
        char *nl = memchr(line, '\n', text_len - pos);
        size_t len = nl ? (size_t)(nl - line) : text_len - pos;
        pos += len + (nl ? 1 : 0);
        while (len > 0 && is_ascii_space(line[len - 1])) {
            len--;
        }
        while (len > 0 && is_ascii_space(line[0])) {
            line++;
            len--;
        }
        if (len == 0) {
            continue;
        }
        line[len] = '\0';
        const char *why = NULL;
        if (!fn(lex, line, len, &why)) {
            diag_error(diag, path, line_no, why);
            n_bad++;
        }
    }
    return n_bad;
}

/* Splits off the first tab-separated field; NULL when there is no tab. */
static char *next_field(char *s)
{
    char *tab = strchr(s, '\t');
    if (!tab) {
        return NULL;
    }
    *tab = '\0';
    return tab + 1;
}

static bool parse_vader_line(struct hark_lexicon *lex,
                             char *line,
                             size_t len,
                             const char **why)
{
    (void)len;
    char *mean = next_field(line);
    if (!mean || line[0] == '\0') {
        *why = "expected TOKEN<TAB>MEAN<TAB>STDDEV<TAB>RATINGS";
        return false;
    }
    char *rest = next_field(mean);
    (void)rest;
    char *end = NULL;
    errno = 0;
    double v = strtod(mean, &end);
    if (end == mean || *end != '\0' || errno != 0 || !isfinite(v)) {
        *why = "the mean valence (second field) is not a number";
        return false;
    }
    lex_set_word(lex, line, strlen(line), v);
    return true;
}

static bool parse_emoji_line(struct hark_lexicon *lex,
                             char *line,
                             size_t len,
                             const char **why)
{
    (void)len;
    char *desc = next_field(line);
    if (!desc || line[0] == '\0') {
        *why = "expected EMOJI<TAB>DESCRIPTION";
        return false;
    }
    char *rest = next_field(desc);
    (void)rest;
    size_t key_len = strlen(line);
    if (!is_valid_utf8(line, key_len)) {
        *why = "the emoji is not valid UTF-8";
        return false;
    }
    uint32_t cp;
    size_t cp_len = u8_decode((unsigned char *)line, key_len, &cp);
    if (cp_len == key_len) {
        /* Sequences of several code points can never match (see top). */
        emoji_set(lex, cp, desc, strlen(desc));
    }
    return true;
}

static bool parse_afinn_line(struct hark_lexicon *lex,
                             char *line,
                             size_t len,
                             const char **why)
{
    (void)len;
    char *val = next_field(line);
    if (!val || line[0] == '\0') {
        *why = "expected EMOTICON<TAB>RATING";
        return false;
    }
    char *end = NULL;
    errno = 0;
    long r = strtol(val, &end, 10);
    if (end == val || *end != '\0' || errno != 0 || r < -5 || r > 5) {
        *why = "the rating is not an integer from -5 to 5";
        return false;
    }
    size_t key_len = strlen(line);
    lower_in_place(line, key_len);
    const struct lex_entry *e = lex_find(lex, line, key_len);
    if (r != 0 && !(e && (e->flags & F_WORD))) {
        lex_set_word(lex, line, key_len, (double)r * AFINN_SCALE);
    }
    return true;
}

static void add_builtins(struct hark_lexicon *lex)
{
    for (size_t i = 0; i < N_ELEMS(boosters_incr); i++) {
        const char *w = boosters_incr[i];
        lex_slot(lex, w, strlen(w))->flags |= F_BOOST;
    }
    for (size_t i = 0; i < N_ELEMS(boosters_decr); i++) {
        const char *w = boosters_decr[i];
        lex_slot(lex, w, strlen(w))->flags |= F_BOOST | F_DECR;
    }
    for (size_t i = 0; i < N_ELEMS(negations); i++) {
        const char *w = negations[i];
        lex_slot(lex, w, strlen(w))->flags |= F_NEGATE;
    }
    for (size_t i = 0; i < N_ELEMS(rule_words); i++) {
        const char *w = rule_words[i].word;
        lex_slot(lex, w, strlen(w))->word = (uint8_t)rule_words[i].id;
    }
    for (size_t i = 1; i < P_COUNT; i++) {
        const char *w = phrase_words[i];
        lex_slot(lex, w, strlen(w))->phrase = (uint8_t)i;
    }
}

/*
 * Reads `dir`/`name` into lex->files[slot]. A missing optional file leaves
 * the slot NULL and returns HARK_OK.
 */
static hark_err_t read_lexicon_file(struct hark_lexicon *lex,
                                    int slot,
                                    const char *path,
                                    bool is_optional,
                                    struct hark_diag *diag,
                                    size_t *len)
{
    struct stat st;
    *len = 0;
    if (is_optional && stat(path, &st) != 0 && errno == ENOENT) {
        return HARK_OK;
    }
    char errbuf[512];
    hark_err_t err = hark_file_read(path, LEXICON_MAX_BYTES, &lex->files[slot],
                                    len, errbuf, sizeof(errbuf));
    if (err != HARK_OK) {
        diag_error(diag, path, 0, errbuf);
        return HARK_EIO;
    }
    return HARK_OK;
}

hark_err_t hark_lexicon_load(const char *dir,
                             struct hark_diag *diag,
                             struct hark_lexicon **out)
{
    static const char *const names[3] = {VADER_FILE, EMOJI_FILE, AFINN_FILE};
    static bool (*const parsers[3])(struct hark_lexicon *, char *, size_t,
                                    const char **) = {
        parse_vader_line, parse_emoji_line, parse_afinn_line};
    struct hark_lexicon *lex = NULL;
    char *paths[3] = {NULL, NULL, NULL};
    size_t lens[3] = {0, 0, 0};
    hark_err_t err = HARK_OK;

    *out = NULL;
    lex = hark_xcalloc(1, sizeof(*lex));
    for (int i = 0; i < 3; i++) {
        paths[i] = hark_xasprintf("%s/%s", dir, names[i]);
        err = read_lexicon_file(lex, i, paths[i], i > 0, diag, &lens[i]);
        if (err != HARK_OK) {
            goto fail;
        }
    }

    size_t n_builtins = N_ELEMS(boosters_incr) + N_ELEMS(boosters_decr) +
                        N_ELEMS(negations) + N_ELEMS(rule_words) + P_COUNT;
    size_t n_word_lines =
        count_lines(lex->files[0], lens[0]) +
        (lex->files[2] ? count_lines(lex->files[2], lens[2]) : 0);
    size_t words_cap = pow2_at_least(2 * (n_word_lines + n_builtins));
    lex->hashes = hark_xcalloc(words_cap, sizeof(*lex->hashes));
    lex->words = hark_xcalloc(words_cap, sizeof(*lex->words));
    lex->words_mask = words_cap - 1;
    size_t emoji_cap = pow2_at_least(
        lex->files[1] ? 2 * count_lines(lex->files[1], lens[1]) : 16);
    lex->emoji = hark_xcalloc(emoji_cap, sizeof(*lex->emoji));
    lex->emoji_mask = emoji_cap - 1;

    add_builtins(lex);
    size_t n_bad = 0;
    for (int i = 0; i < 3; i++) {
        if (lex->files[i]) {
            n_bad += each_line(lex, lex->files[i], lens[i], paths[i], diag,
                               parsers[i]);
        }
    }
    if (n_bad > 0) {
        err = HARK_EINVAL;
        goto fail;
    }
    for (int i = 0; i < 3; i++) {
        free(paths[i]);
    }
    *out = lex;
    return HARK_OK;

fail:
    for (int i = 0; i < 3; i++) {
        free(paths[i]);
    }
    hark_lexicon_free(lex);
    return err;
}

void hark_lexicon_free(struct hark_lexicon *lex)
{
    if (!lex) {
        return;
    }
    free(lex->hashes);
    free(lex->words);
    free(lex->emoji);
    for (int i = 0; i < 3; i++) {
        free(lex->files[i]);
    }
    free(lex);
}

size_t hark_lexicon_size(const struct hark_lexicon *lex)
{
    return lex ? lex->n_words : 0;
}
