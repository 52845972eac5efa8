/*
 * sentiment_int: what the three files of the sentiment scorer share --
 * the lexicon's tables (filled by filters/sentiment_lexicon.c, read by
 * filters/sentiment.c), the token array a segment is scored on (built by
 * filters/sentiment.c, rewritten by filters/sentiment_phrases.c), and the
 * small helpers all of them call.
 *
 * The helpers are defined here, `static`, because the scorer calls them
 * per token or per byte (hashing, the table probes, UTF-8 decoding, the
 * byte classes): each file gets its own copy, as when they were static in
 * one file, so the hot path is compiled the same way (checked by counting
 * instructions: within 0.1% of the one-file scorer).
 *
 * Thread: a loaded lexicon is immutable and read by any number of threads;
 * a struct scan belongs to the thread scoring its segment.
 */
#ifndef HARK_SENTIMENT_INT_H
#define HARK_SENTIMENT_INT_H

#include <stdint.h>
#include <string.h>

#include <utf8proc.h>

#include "hark/sentiment.h"

enum {
    F_WORD = 1U << 0,  /* a lexicon word: `valence` is set */
    F_BOOST = 1U << 1, /* in BOOSTER_DICT, as B_INCR */
    F_DECR = 1U << 2,  /* with F_BOOST: as B_DECR */
    F_NEGATE = 1U << 3 /* in NEGATE */
};

/* Words the rules name; stored on their table entry. */
enum word_id {
    W_NONE = 0,
    W_NO,
    W_KIND,
    W_OF,
    W_NEVER,
    W_SO,
    W_THIS,
    W_WITHOUT,
    W_DOUBT,
    W_LEAST,
    W_AT,
    W_VERY,
    W_BUT,
    W_OR,
    W_NOR
};

/*
 * The words of the reference's phrases (special_cases and
 * booster_bigrams in sentiment.c); stored on their table entry.
 */
enum phrase_word {
    P_NONE = 0,
    P_THE,
    P_SHIT,
    P_BOMB,
    P_BAD,
    P_ASS,
    P_BUS,
    P_STOP,
    P_YEAH,
    P_RIGHT,
    P_KISS,
    P_OF,
    P_DEATH,
    P_TO,
    P_DIE,
    P_FOR,
    P_BEATING,
    P_HEART,
    P_BROKEN,
    P_JUST,
    P_ENOUGH,
    P_KIND,
    P_SORT,
    P_COUNT
};

/*
 * The word table is two parallel arrays: `hashes` (0 = empty slot) is what
 * probing walks, 64 KiB for the shipped lexicon so it stays in cache; an
 * entry is read only when its hash matches.
 */
struct lex_entry {
    const char *key; /* not NUL-terminated */
    uint64_t head;   /* the key's first 8 bytes, zero-padded (load8()) */
    double valence;
    uint32_t key_len;
    uint8_t flags;
    uint8_t word;   /* enum word_id */
    uint8_t phrase; /* enum phrase_word */
};

struct emoji_entry {
    uint32_t cp; /* 0 = empty slot */
    uint32_t desc_len;
    const char *desc;
};

struct hark_lexicon {
    uint32_t *hashes;
    struct lex_entry *words;
    size_t words_mask;
    size_t n_slots_used;
    size_t n_words; /* entries with F_WORD */
    struct emoji_entry *emoji;
    size_t emoji_mask;
    size_t n_emoji;
    char *files[3]; /* loaded contents; keys point into them */
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- hashing ----------------------------------------------------------- */

/*
 * Keys hash 8 bytes at a time, zero-padded, so that the tokenizer can
 * lowercase, copy and hash a token in one pass over 64-bit words.
 */
#define HASH_MUL 0x9E3779B97F4A7C15ULL

/* s[0..n), n <= 8, as a word with zero bytes past n (memory order). */
static inline uint64_t load8(const char *s, size_t n)
{
    uint64_t w = 0;
    memcpy(&w, s, n);
    return w;
}

static inline uint64_t hash_step(uint64_t h, uint64_t w)
{
    h = (h ^ w) * HASH_MUL;
    return h ^ (h >> 29);
}

/* 0 marks an empty slot, so no key hashes to it. */
static inline uint32_t hash_final(uint64_t h, size_t n)
{
    h = (h ^ n) * HASH_MUL;
    uint32_t h32 = (uint32_t)(h >> 32);
    return h32 ? h32 : 1;
}

static inline uint32_t hash32(const char *s, size_t n)
{
    uint64_t h = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        h = hash_step(h, load8(s + i, 8));
    }
    if (i < n) {
        h = hash_step(h, load8(s + i, n - i));
    }
    return hash_final(h, n);
}

/* ---- UTF-8 and case ---------------------------------------------------- */

/*
 * The helpers below that the scorer calls off its fastest path (a byte
 * >= 0x80, the slow tokenizer) are plain `static`, as they were when the
 * scorer was one file, so the compiler makes the same inlining decisions
 * (an `inline` hint costs about 0.5% more instructions a post); `unused`
 * because not every file calls each of them.
 */
#if defined(__GNUC__)
#    define HARK_SENTIMENT_HELPER static __attribute__((unused))
#else
#    define HARK_SENTIMENT_HELPER static inline
#endif

/*
 * Decodes one UTF-8 sequence of s[0..n), n >= 1. Invalid or truncated
 * input decodes as one byte with *cp = 0xFFFD, so callers always advance
 * and never split a valid multi-byte character.
 */
HARK_SENTIMENT_HELPER size_t u8_decode(const unsigned char *s,
                                       size_t n,
                                       uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v;
    uint32_t min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1FU;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0FU;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07U;
        min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (len > n) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3FU);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = v;
    return len;
}

HARK_SENTIMENT_HELPER size_t u8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static inline size_t count_cps(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            k++;
        }
    }
    return k;
}

HARK_SENTIMENT_HELPER void lower_in_place(char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (c >= 'A' && c <= 'Z') {
                s[i] = (char)(c + ('a' - 'A'));
            }
            i++;
            continue;
        }
        uint32_t cp;
        size_t len = u8_decode((unsigned char *)s + i, n - i, &cp);
        if (len > 1) {
            uint32_t lc = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
            char enc[4];
            if (lc != cp && u8_encode(lc, enc) == len) {
                memcpy(s + i, enc, len);
            }
        }
        i += len;
    }
}

static inline bool is_ascii_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* ---- table lookups ------------------------------------------------------ */

/* `head` is load8() of the first min(n, 8) bytes of s, `h` its hash32(). */
static inline const struct lex_entry *lex_find_h(const struct hark_lexicon *lex,
                                                 const char *s,
                                                 size_t n,
                                                 uint32_t h,
                                                 uint64_t head)
{
    const uint32_t *hashes = lex->hashes;
    for (size_t i = h & lex->words_mask;; i = (i + 1) & lex->words_mask) {
        if (hashes[i] == 0) {
            return NULL;
        }
        if (hashes[i] == h) {
            const struct lex_entry *e = &lex->words[i];
            if (e->key_len == n && e->head == head &&
                (n <= 8 || memcmp(e->key + 8, s + 8, n - 8) == 0)) {
                return e;
            }
        }
    }
}

static inline const struct emoji_entry *
emoji_find(const struct hark_lexicon *lex, uint32_t cp)
{
    if (lex->n_emoji == 0) {
        return NULL;
    }
    uint32_t h = cp * 2654435761U;
    for (size_t i = (h >> 8) & lex->emoji_mask;;
         i = (i + 1) & lex->emoji_mask) {
        const struct emoji_entry *e = &lex->emoji[i];
        if (e->cp == 0) {
            return NULL;
        }
        if (e->cp == cp) {
            return e;
        }
    }
}

/* ---- tokens -------------------------------------------------------------- */

struct tok {
    uint32_t off; /* into scan.buf: lowercased, quotes normalized */
    uint32_t len;
    uint32_t hash;
    bool is_upper;
    /* copied from the table entry (0 when the table lacks the word) */
    uint8_t flags;
    uint8_t word;
    uint8_t phrase;
    uint8_t punct;  /* TP_BEFORE | TP_AFTER: punctuation was stripped */
    uint64_t head;  /* load8() of the first bytes, for lex_find_h() */
    double base;    /* the lexicon valence, when flags has F_WORD */
    double valence; /* after the rules */
    /* A domain phrase standing for the tokens it covered (len is 0). */
    const struct hark_sentiment_phrase *ph;
};

enum { TP_BEFORE = 1U << 0, TP_AFTER = 1U << 1 };

struct scan {
    const char *buf;
    struct tok *toks;
    size_t n_toks;
    bool is_cap_diff;
};

/*
 * Byte classes for the ASCII fast path. Bytes >= 0x80 are C_HIGH and take
 * the decoding path.
 */
enum {
    C_SPACE = 1U << 0, /* Python whitespace */
    C_PUNCT = 1U << 1, /* string.punctuation */
    C_UPPER = 1U << 2,
    C_LOWER = 1U << 3,
    C_HIGH = 1U << 4
};

#define S C_SPACE
#define P C_PUNCT
#define U C_UPPER
#define L C_LOWER
#define H C_HIGH
/* clang-format off */
static const uint8_t byte_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, S, S, S, S, S, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, S, S, S, S,
    S, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, P, P, P, P, P, P,
    P, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,
    U, U, U, U, U, U, U, U, U, U, U, P, P, P, P, P,
    P, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
    L, L, L, L, L, L, L, L, L, L, L, P, P, P, P, 0,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
};
/* clang-format on */
#undef S
#undef P
#undef U
#undef L
#undef H

/* The quotes we read as ASCII: U+2018, U+2019 -> ', U+201C, U+201D -> ". */
static inline char ascii_quote(const unsigned char *s, size_t n)
{
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80) {
        if (s[2] == 0x98 || s[2] == 0x99) {
            return '\'';
        }
        if (s[2] == 0x9C || s[2] == 0x9D) {
            return '"';
        }
    }
    return 0;
}

/* Strips string.punctuation from both ends of t[*a..*b). */
static inline void strip_punct(const char *t, size_t *a, size_t *b)
{
    while (*a < *b && (byte_class[(unsigned char)t[*a]] & C_PUNCT)) {
        (*a)++;
    }
    while (*b > *a && (byte_class[(unsigned char)t[*b - 1]] & C_PUNCT)) {
        (*b)--;
    }
}

/*
 * Replaces each run of the segment's tokens that reads as one of the
 * `n_phrases` domain phrases by one token standing for it (see
 * filters/sentiment_phrases.c). `phrases` is borrowed; the new tokens
 * point at it. Thread: the caller's (touches only `sc`).
 */
void hark_sentiment_collapse_phrases(
    struct scan *sc,
    const struct hark_sentiment_phrase *phrases,
    size_t n_phrases);

#endif /* HARK_SENTIMENT_INT_H */
