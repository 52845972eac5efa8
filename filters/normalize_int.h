/*
 * normalize: the matching copy of a text field (DESIGN.md "Normalized
 * post"): NFKC + full case folding + removal of default-ignorable code
 * points (zero-width spaces, soft hyphens), so "𝐫𝐞𝐟𝐮𝐧𝐝", "ＲＥＦＵＮＤ" and
 * "re\u200bfund" all read "refund", with an offset map from every
 * normalized byte back to the original bytes it came from.
 *
 * The text is cut into runs: a code point with combining class 0 and the
 * combining marks (and Hangul vowel/trailing jamo) that follow it. Each run
 * is normalized on its own (NFKC never composes across a starter), and
 * every byte it produces maps to the run's original byte range. A span
 * [s, e) found in the normalized copy therefore maps to
 * [start of the run of byte s, end of the run of byte e - 1) of the
 * original: always whole code points of the original text.
 *
 * An all-ASCII text is lowercased with an identity map (no map arrays).
 * Buffers grow once and are reused: no allocation per call once warm.
 *
 * Thread: a struct hark_normalize belongs to one thread (it lives in a
 * rules scratch); the functions touch no shared state.
 */
#ifndef HARK_NORMALIZE_INT_H
#define HARK_NORMALIZE_INT_H

#include <stdint.h>

#include "hark/common.h"

struct hark_normalize {
    char *text; /* normalized bytes, NUL-terminated */
    size_t len;
    size_t cap;
    uint32_t *map_start; /* per normalized byte: original run start */
    uint32_t *map_end;   /* per normalized byte: original run end */
    size_t map_cap;
    bool is_identity; /* ASCII input: offsets are the same */
    size_t orig_len;
    int32_t *u32; /* code point scratch for one run */
    size_t u32_cap;
};

void hark_normalize_init(struct hark_normalize *norm);
void hark_normalize_cleanup(struct hark_normalize *norm);

/*
 * Normalizes s[0..len) (valid UTF-8; invalid bytes are copied through
 * unchanged) into norm->text / norm->len, replacing the previous content.
 * Never fails (allocation failure aborts).
 */
void hark_normalize_text(struct hark_normalize *norm,
                         const char *s,
                         size_t len);

/*
 * Maps the normalized byte range [start, end) (end > start, end <=
 * norm->len) to the original byte range [*orig_start, *orig_end).
 */
void hark_normalize_span(const struct hark_normalize *norm,
                         size_t start,
                         size_t end,
                         uint32_t *orig_start,
                         uint32_t *orig_end);

/* The normalized copy of s[0..len) as a new string (caller frees). */
char *hark_normalize_dup(const char *s, size_t len);

#endif /* HARK_NORMALIZE_INT_H */
