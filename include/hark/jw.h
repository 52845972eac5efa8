/*
 * jw: a JSON writer for the events hark publishes (core/jw.c). It appends
 * compact JSON to a hark_buf, with the commas and colons placed for the
 * caller, and writes strings with yajl_gen's escaping (", \, control
 * characters; "/" and non-ASCII pass through), so its output equals
 * yajl_gen's byte for byte.
 *
 * Why not yajl_gen: writing events is on the hot path of every post.
 * yajl_gen calls a print callback per fragment and walks strings a byte at
 * a time; this writer copies clean runs with one memcpy and formats
 * numbers without printf. It writes; it does not validate: strings must
 * be valid UTF-8 (posts are repaired on input), and the caller balances
 * opens and closes (checked by assertions), at most HARK_JW_MAX_DEPTH deep.
 *
 * Thread: a writer belongs to its caller; no shared state.
 */
#ifndef HARK_JW_H
#define HARK_JW_H

#include "hark/common.h"

#define HARK_JW_MAX_DEPTH 64

struct hark_jw {
    struct hark_buf *out; /* borrowed; appended to (unbounded buffers) */
    uint64_t has_items;   /* bit d: the container at depth d has an item */
    unsigned depth;
    bool after_key;
};

/* Starts writing at the end of `out` (an unbounded hark_buf). */
void hark_jw_init(struct hark_jw *w, struct hark_buf *out);

void hark_jw_map_open(struct hark_jw *w);
void hark_jw_map_close(struct hark_jw *w);
void hark_jw_array_open(struct hark_jw *w);
void hark_jw_array_close(struct hark_jw *w);

/* A key of the open map; the next call writes its value. */
void hark_jw_key(struct hark_jw *w, const char *key);
/*
 * The same for a string literal key with nothing to escape (every key of
 * our schemas): copied with its quotes and colon at once. A key that is
 * not a literal does not compile.
 */
#define HARK_JW_KEY(w, lit)                                                    \
    hark_jw_key_quoted((w), "\"" lit "\":", sizeof(lit) + 2)
void hark_jw_key_quoted(struct hark_jw *w, const char *quoted, size_t n);
void hark_jw_str(struct hark_jw *w, const char *s); /* NULL -> null */
void hark_jw_strn(struct hark_jw *w, const char *s, size_t n);
void hark_jw_int(struct hark_jw *w, int64_t v);
/* Rounded to 4 decimals, no exponent, no trailing zeros; NaN/inf -> null. */
void hark_jw_double(struct hark_jw *w, double v);
void hark_jw_bool(struct hark_jw *w, bool v);
/* A timestamp string as hark_time_format() writes it (UTC, milliseconds). */
void hark_jw_time(struct hark_jw *w, int64_t epoch_ms);
void hark_jw_null(struct hark_jw *w);
/* `json` must be one complete JSON value; it is copied as it is. */
void hark_jw_raw(struct hark_jw *w, const char *json, size_t n);

/* Shorthands: a key with its value. */
void hark_jw_kv_str(struct hark_jw *w, const char *key, const char *s);
void hark_jw_kv_int(struct hark_jw *w, const char *key, int64_t v);
void hark_jw_kv_double(struct hark_jw *w, const char *key, double v);
void hark_jw_kv_bool(struct hark_jw *w, const char *key, bool v);

#endif /* HARK_JW_H */
