/*
 * jw: the JSON writer (include/hark/jw.h). Output is byte for byte what
 * yajl_gen writes with its defaults (no beautify, no solidus escaping),
 * which the unit tests check against yajl_gen itself.
 */
#include "hark/jw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* 0: copied as it is; otherwise the letter after the backslash, or 'u'. */
static const char escape_of[256] = {
    ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
    ['"'] = '"',  ['\\'] = '\\',
    [0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u',
    [0x05] = 'u', [0x06] = 'u', [0x07] = 'u', [0x0b] = 'u', [0x0e] = 'u',
    [0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u', [0x13] = 'u',
    [0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u', [0x18] = 'u',
    [0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u',
    [0x1e] = 'u', [0x1f] = 'u',
};

/* Room for `n` more bytes and the NUL. */
static inline char *room(struct hark_jw *w, size_t n)
{
    struct hark_buf *b = w->out;
    if (b->cap - b->len < n + 1) {
        (void)hark_buf_reserve(b, n); /* unbounded: cannot fail */
    }
    return b->ptr + b->len;
}

static inline void put(struct hark_jw *w, const char *p, size_t n)
{
    char *dst = room(w, n);
    memcpy(dst, p, n);
    w->out->len += n;
    dst[n] = '\0';
}

static inline void putc1(struct hark_jw *w, char c)
{
    char *dst = room(w, 1);
    dst[0] = c;
    dst[1] = '\0';
    w->out->len++;
}

/* The comma before a value or key, when its container has items. */
static void before_value(struct hark_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    uint64_t bit = (uint64_t)1 << w->depth;
    if (w->has_items & bit) {
        putc1(w, ',');
    }
    w->has_items |= bit;
}

void hark_jw_init(struct hark_jw *w, struct hark_buf *out)
{
    hark_assert(out->max == 0);
    w->out = out;
    w->has_items = 0;
    w->depth = 0;
    w->after_key = false;
}

static void open_container(struct hark_jw *w, char c)
{
    before_value(w);
    hark_assert(w->depth + 1 < HARK_JW_MAX_DEPTH);
    putc1(w, c);
    w->depth++;
    w->has_items &= ~((uint64_t)1 << w->depth);
}

static void close_container(struct hark_jw *w, char c)
{
    hark_assert(w->depth > 0 && !w->after_key);
    w->depth--;
    putc1(w, c);
}

void hark_jw_map_open(struct hark_jw *w)
{
    open_container(w, '{');
}

void hark_jw_map_close(struct hark_jw *w)
{
    close_container(w, '}');
}

void hark_jw_array_open(struct hark_jw *w)
{
    open_container(w, '[');
}

void hark_jw_array_close(struct hark_jw *w)
{
    close_container(w, ']');
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Nonzero when one of the 8 bytes in `x` is below 0x20, '"' or '\\'. */
static inline uint64_t needs_escape8(uint64_t x)
{
    uint64_t below = (x - ONES * 0x20) & ~x;
    uint64_t q = x ^ (ONES * '"');
    uint64_t quote = (q - ONES) & ~q;
    uint64_t b = x ^ (ONES * '\\');
    uint64_t bslash = (b - ONES) & ~b;
    return (below | quote | bslash) & HIGHS;
}

/* Length of the prefix of s[0..n) that needs no escaping. */
static size_t clean_run(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        if (needs_escape8(x)) {
            break;
        }
        i += 8;
    }
    while (i < n && escape_of[s[i]] == 0) {
        i++;
    }
    return i;
}

static void put_string(struct hark_jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    (void)room(w, n + 2);
    putc1(w, '"');
    size_t i = 0;
    while (i < n) {
        size_t run = clean_run(p + i, n - i);
        put(w, s + i, run);
        i += run;
        if (i == n) {
            break;
        }
        char e = escape_of[p[i]];
        if (e == 'u') {
            char u[6] = {'\\', 'u', '0', '0', hex[p[i] >> 4], hex[p[i] & 15]};
            put(w, u, sizeof(u));
        } else {
            char esc[2] = {'\\', e};
            put(w, esc, sizeof(esc));
        }
        i++;
    }
    putc1(w, '"');
}

void hark_jw_key(struct hark_jw *w, const char *key)
{
    hark_assert(!w->after_key);
    before_value(w);
    put_string(w, key, strlen(key));
    putc1(w, ':');
    w->after_key = true;
}

void hark_jw_key_quoted(struct hark_jw *w, const char *quoted, size_t n)
{
    hark_assert(!w->after_key);
    before_value(w);
    put(w, quoted, n);
    w->after_key = true;
}

void hark_jw_strn(struct hark_jw *w, const char *s, size_t n)
{
    before_value(w);
    put_string(w, s, n);
}

void hark_jw_str(struct hark_jw *w, const char *s)
{
    if (!s) {
        hark_jw_null(w);
        return;
    }
    hark_jw_strn(w, s, strlen(s));
}

/* Digits of `u` ending at `end`; returns the first digit. */
static char *digits_before(char *end, uint64_t u)
{
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    return end;
}

void hark_jw_int(struct hark_jw *w, int64_t v)
{
    char tmp[24];
    char *end = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = digits_before(end, u);
    if (v < 0) {
        *--p = '-';
    }
    before_value(w);
    put(w, p, (size_t)(end - p));
}

void hark_jw_double(struct hark_jw *w, double v)
{
    if (!isfinite(v)) {
        hark_jw_null(w);
        return;
    }
    before_value(w);
    /* Integer arithmetic: snprintf("%.4f") was a tenth of the cost of
     * writing an event. */
    double scaled = round(v * 10000.0);
    if (fabs(scaled) >= 9e15) {
        char big[400];
        int n = snprintf(big, sizeof(big), "%.0f", v);
        put(w, big, (size_t)(n > 0 ? n : 0));
        return;
    }
    int64_t q = (int64_t)scaled;
    bool is_neg = q < 0;
    uint64_t u = (uint64_t)(is_neg ? -q : q);
    uint64_t frac = u % 10000;
    int digits = 4;
    while (digits > 0 && frac % 10 == 0) { /* drop trailing zeros */
        frac /= 10;
        digits--;
    }
    char tmp[32];
    char *end = tmp + sizeof(tmp);
    char *p = end;
    for (int i = 0; i < digits; i++) {
        *--p = (char)('0' + frac % 10);
        frac /= 10;
    }
    if (digits > 0) {
        *--p = '.';
    }
    p = digits_before(p, u / 10000);
    if (is_neg && u != 0) {
        *--p = '-';
    }
    put(w, p, (size_t)(end - p));
}

void hark_jw_bool(struct hark_jw *w, bool v)
{
    before_value(w);
    if (v) {
        put(w, "true", 4);
    } else {
        put(w, "false", 5);
    }
}

void hark_jw_time(struct hark_jw *w, int64_t epoch_ms)
{
    char ts[32];
    hark_time_format(epoch_ms, ts);
    hark_jw_str(w, ts);
}

void hark_jw_null(struct hark_jw *w)
{
    before_value(w);
    put(w, "null", 4);
}

void hark_jw_raw(struct hark_jw *w, const char *json, size_t n)
{
    before_value(w);
    put(w, json, n);
}

void hark_jw_kv_str(struct hark_jw *w, const char *key, const char *s)
{
    hark_jw_key(w, key);
    hark_jw_str(w, s);
}

void hark_jw_kv_int(struct hark_jw *w, const char *key, int64_t v)
{
    hark_jw_key(w, key);
    hark_jw_int(w, v);
}

void hark_jw_kv_double(struct hark_jw *w, const char *key, double v)
{
    hark_jw_key(w, key);
    hark_jw_double(w, v);
}

void hark_jw_kv_bool(struct hark_jw *w, const char *key, bool v)
{
    hark_jw_key(w, key);
    hark_jw_bool(w, v);
}
