/*
 * normalize: NFKC + case folding with an offset map (see normalize_int.h).
 *
 * Why runs and not whole-string utf8proc_map(): the map must say, for every
 * output byte, which input bytes produced it. NFKC decomposes each code
 * point, reorders combining marks and composes them back onto the
 * preceding starter; nothing crosses a starter (with the rare exceptions
 * of a few Indic two-part vowels, which then simply stay decomposed; the
 * keyword terms go through this same function, so they agree with the
 * text). Normalizing one run at a time with utf8proc_decompose() (which
 * also reorders) and utf8proc_normalize_utf32() (which composes) gives
 * the same bytes as normalizing the whole string, plus the map for free.
 *
 * Fast paths: an all-ASCII text is lowercased with an identity map, and an
 * ASCII byte followed by another ASCII byte is its own run and needs no
 * utf8proc call.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "normalize_int.h"

#define NORM_OPTS \
    (UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE)

void hark_normalize_init(struct hark_normalize *norm)
{
    memset(norm, 0, sizeof(*norm));
}

void hark_normalize_cleanup(struct hark_normalize *norm)
{
    free(norm->text);
    free(norm->map_start);
    free(norm->map_end);
    free(norm->u32);
    memset(norm, 0, sizeof(*norm));
}

static void reserve(struct hark_normalize *norm, size_t extra)
{
    size_t need = norm->len + extra + 1;
    if (need > norm->cap) {
        size_t cap = norm->cap ? norm->cap : 256;
        while (cap < need) {
            cap *= 2;
        }
        norm->text = hark_xrealloc(norm->text, cap);
        norm->cap = cap;
    }
}

static void reserve_map(struct hark_normalize *norm, size_t extra)
{
    size_t need = norm->len + extra;
    if (need > norm->map_cap) {
        size_t cap = norm->map_cap ? norm->map_cap : 256;
        while (cap < need) {
            cap *= 2;
        }
        norm->map_start =
            hark_xrealloc(norm->map_start, cap * sizeof(*norm->map_start));
        norm->map_end =
            hark_xrealloc(norm->map_end, cap * sizeof(*norm->map_end));
        norm->map_cap = cap;
    }
}

static void emit(struct hark_normalize *norm,
                 const char *p,
                 size_t n,
                 size_t orig_start,
                 size_t orig_end)
{
    reserve(norm, n);
    reserve_map(norm, n);
    for (size_t i = 0; i < n; i++) {
        norm->text[norm->len] = p[i];
        norm->map_start[norm->len] = (uint32_t)orig_start;
        norm->map_end[norm->len] = (uint32_t)orig_end;
        norm->len++;
    }
}

/* A code point that attaches to the run before it. */
static bool is_continuer(int32_t cp)
{
    if (cp < 0x300) {
        return false;
    }
    /* Hangul conjoining vowels and trailing consonants compose with an L. */
    if ((cp >= 0x1161 && cp <= 0x1175) || (cp >= 0x11a8 && cp <= 0x11c2)) {
        return true;
    }
    return utf8proc_get_property(cp)->combining_class != 0;
}

static void run_general(struct hark_normalize *norm,
                        const char *s,
                        size_t start,
                        size_t end)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s + start;
    utf8proc_ssize_t run_len = (utf8proc_ssize_t)(end - start);
    utf8proc_ssize_t n;
    for (;;) {
        n = utf8proc_decompose(p, run_len, norm->u32,
                               (utf8proc_ssize_t)norm->u32_cap, NORM_OPTS);
        if (n < 0 || (size_t)n <= norm->u32_cap) {
            break;
        }
        size_t cap = norm->u32_cap ? norm->u32_cap : 32;
        while (cap < (size_t)n) {
            cap *= 2;
        }
        norm->u32 = hark_xrealloc(norm->u32, cap * sizeof(*norm->u32));
        norm->u32_cap = cap;
    }
    if (n < 0) {
        /* Not valid UTF-8 (cannot happen for repaired posts): keep it. */
        emit(norm, s + start, end - start, start, end);
        return;
    }
    if (n > 0) {
        n = utf8proc_normalize_utf32(norm->u32, n, NORM_OPTS);
    }
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        utf8proc_uint8_t buf[4];
        utf8proc_ssize_t k = utf8proc_encode_char(norm->u32[i], buf);
        emit(norm, (const char *)buf, (size_t)k, start, end);
    }
}

static bool all_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] >= 0x80) {
            return false;
        }
    }
    return true;
}

static char ascii_lower(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (char)(c + ('a' - 'A'));
    }
    return c;
}

void hark_normalize_text(struct hark_normalize *norm, const char *s, size_t len)
{
    norm->len = 0;
    norm->orig_len = len;
    if (all_ascii(s, len)) {
        norm->is_identity = true;
        reserve(norm, len);
        for (size_t i = 0; i < len; i++) {
            norm->text[i] = ascii_lower(s[i]);
        }
        norm->len = len;
        norm->text[len] = '\0';
        return;
    }
    norm->is_identity = false;
    reserve(norm, len);
    reserve_map(norm, len);
    const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = u[i];
        if (c < 0x80 && (i + 1 == len || u[i + 1] < 0x80)) {
            char lc = ascii_lower((char)c);
            emit(norm, &lc, 1, i, i + 1);
            i++;
            continue;
        }
        size_t start = i;
        int32_t cp;
        utf8proc_ssize_t k =
            utf8proc_iterate(u + i, (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0) {
            emit(norm, s + i, 1, i, i + 1);
            i++;
            continue;
        }
        i += (size_t)k;
        while (i < len && u[i] >= 0x80) {
            k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(len - i), &cp);
            if (k <= 0 || !is_continuer(cp)) {
                break;
            }
            i += (size_t)k;
        }
        run_general(norm, s, start, i);
    }
    reserve(norm, 0);
    norm->text[norm->len] = '\0';
}

void hark_normalize_span(const struct hark_normalize *norm,
                         size_t start,
                         size_t end,
                         uint32_t *orig_start,
                         uint32_t *orig_end)
{
    hark_assert(start < end && end <= norm->len);
    if (norm->is_identity) {
        *orig_start = (uint32_t)start;
        *orig_end = (uint32_t)end;
        return;
    }
    *orig_start = norm->map_start[start];
    *orig_end = norm->map_end[end - 1];
}

char *hark_normalize_dup(const char *s, size_t len)
{
    struct hark_normalize norm;
    hark_normalize_init(&norm);
    hark_normalize_text(&norm, s, len);
    char *out = hark_xstrndup(norm.text, norm.len);
    hark_normalize_cleanup(&norm);
    return out;
}
