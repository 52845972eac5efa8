/*
 * customers: loading the customer directory from CSV (libcsv) or NDJSON.
 *
 * Both formats stream the file line by line out of a large read buffer,
 * so a 10M-row file needs memory only for the directory itself (see
 * customers_int.h for its layout). A first pass over the file counts its
 * lines and colons (every identity has one) to size the hash tables once.
 * A row is first parsed into `struct row` and the loader's scratch
 * identities, then checked against the index (duplicate customer_id,
 * identities claimed by another customer) and only then committed, so a
 * bad row leaves nothing behind.
 *
 * Lines: CSV is fed to libcsv one physical line at a time; a row starts on
 * the first line with content while no row is open, and stays open (a
 * quoted field with a line break) until libcsv reports its end. Every
 * problem of a row is reported at the line where the row starts.
 *
 * Decisions:
 *   - A customer_id that appears twice is an error (use the `identities`
 *     column for several identities).
 *   - Missing trailing fields are empty; more fields than the header is an
 *     error. Unknown columns (and NDJSON keys) are ignored.
 *   - Empty clv/revenue/count fields are 0.
 *   - With REJECT, loading goes on after a bad row so that every problem is
 *     listed, until HARK_DIAG_MAX errors.
 */
#include "hark/customers.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hark/json.h"

#include "customers_int.h"

enum col {
    COL_CUSTOMER_ID = 0,
    COL_NAME,
    COL_TIER,
    COL_SEGMENT,
    COL_CLV,
    COL_REVENUE,
    COL_REFERRALS,
    COL_RECOMMENDATIONS,
    COL_INTRODUCTIONS,
    COL_POSITIVE,
    COL_PLATFORM,
    COL_HANDLE,
    COL_IDENTITIES,
    COL_COUNT_
};

static const char *const col_names[COL_COUNT_] = {
    "customer_id",   "name",
    "tier",          "segment",
    "clv",           "revenue_12m",
    "referrals",     "recommendations",
    "introductions", "positive_mentions",
    "platform",      "handle",
    "identities",
};

#define N_STRS   4 /* id, name, tier, segment: the first four columns */
#define N_COUNTS 4 /* referrals .. positive_mentions */

struct row {
    struct hark_str strs[N_STRS];
    double clv;
    double revenue_12m;
    uint32_t counts[N_COUNTS];
};

/* Lines out of one large buffer refilled with read(). */
struct reader {
    int fd;
    char *buf;
    size_t cap;
    size_t start; /* the next line begins here */
    size_t end;   /* bytes in buf */
    bool is_eof;
    int read_errno; /* 0, or why a read failed */
};

struct loader {
    struct hark_customers *dir;
    struct hark_cust_table ids;  /* customer_ids (STRING) */
    struct hark_cust_table pool; /* interned tier/segment (STRING) */
    const char *path;
    struct hark_diag *diag;
    enum hark_bad_row on_bad_row;
    int line;              /* where the current row starts */
    size_t n_errors;       /* errors that fail the load */
    size_t n_row_problems; /* problems of the current row */
    bool is_fatal;         /* header or size problem: stop, fail */
    size_t n_lines;        /* of the file, counted before loading */
    size_t n_colons;

    struct row row;
    struct hark_cust_ident *idents;
    uint64_t *ident_hashes; /* of idents[i] */
    uint64_t id_hash;       /* of row.strs[0] */
    size_t n_idents;
    size_t cap_idents;
    char id_buf[32]; /* an NDJSON integer customer_id */

    /* CSV */
    bool has_header;
    int *cols; /* header position -> enum col, or -1 */
    size_t n_cols;
    struct hark_buf fields;
    size_t *field_off;
    size_t *field_len;
    size_t n_fields;
    size_t cap_fields;
    bool is_row_open;
    bool has_row_ended;
    bool is_ascii; /* every line of the open row is ASCII */
};

static void report(struct loader *ld, const char *fmt, ...) HARK_PRINTF(2, 3);

/* A problem with the current row. */
static void report(struct loader *ld, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ld->n_row_problems++;
    if (ld->on_bad_row == HARK_BAD_ROW_SKIP) {
        hark_diag_line(ld->diag, HARK_DIAG_WARNING, ld->path, ld->line,
                       "%s; row skipped", msg);
    } else {
        hark_diag_line(ld->diag, HARK_DIAG_ERROR, ld->path, ld->line, "%s",
                       msg);
        ld->n_errors++;
    }
}

static void fatal(struct loader *ld, int line, const char *fmt, ...)
    HARK_PRINTF(3, 4);

/* A problem with the whole file: the load fails whatever on_bad_row says. */
static void fatal(struct loader *ld, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hark_diag_line(ld->diag, HARK_DIAG_ERROR, ld->path, line, "%s", msg);
    ld->is_fatal = true;
}

static bool should_stop(const struct loader *ld)
{
    return ld->is_fatal || ld->n_errors >= HARK_DIAG_MAX;
}

/* ---- arena ---------------------------------------------------------- */

/* ASCII lowercase; other bytes (UTF-8 included) unchanged. */
static char lower(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (char)(c - 'A' + 'a');
    }
    return c;
}

enum { ARENA_MAX = UINT32_MAX }; /* offsets are 32-bit */

/*
 * Room for `len` more bytes at the arena's end, or NULL (reported) past
 * 4 GiB. The arena is mapped once, sized from the file; when that was too
 * little it moves to a mapping twice as large (offsets stay valid).
 */
static char *arena_room(struct loader *ld, size_t len)
{
    struct hark_customers *dir = ld->dir;
    if (dir->arena_len + len > ARENA_MAX) {
        fatal(ld, ld->line,
              "the customer directory holds more than 4 GiB of text");
        return NULL;
    }
    if (dir->arena_len + len > dir->arena_cap) {
        size_t cap = dir->arena_cap * 2;
        while (cap < dir->arena_len + len) {
            cap *= 2;
        }
        cap = cap > ARENA_MAX ? ARENA_MAX : cap;
        char *arena = hark_cust_map(cap);
        memcpy(arena, dir->arena, dir->arena_len);
        hark_cust_unmap(dir->arena, dir->arena_cap);
        dir->arena = arena;
        dir->arena_cap = cap;
    }
    return dir->arena + dir->arena_len;
}

/* Appends s[0..len) (folded to lowercase when asked) and a NUL. */
static bool arena_add(
    struct loader *ld, const char *s, size_t len, bool is_folded, uint32_t *off)
{
    char *p = arena_room(ld, len + 1);
    if (!p) {
        return false;
    }
    if (is_folded) {
        for (size_t i = 0; i < len; i++) {
            p[i] = lower(s[i]);
        }
    } else if (len) {
        memcpy(p, s, len);
    }
    p[len] = '\0';
    *off = (uint32_t)ld->dir->arena_len;
    ld->dir->arena_len += len + 1;
    return true;
}

/* Writes v as a LEB128 varint at p; returns the bytes written (1..5). */
static size_t put_varint(unsigned char *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

enum { NEAR = 1 << 14 }; /* a varint of 2 bytes reaches this far back */

/*
 * The arena offset of a copy of a tier or segment string no further than
 * NEAR before the arena's end (so the block about to be written reaches it
 * with a 2-byte varint), interning it: a value is written again only every
 * NEAR bytes. 0 for an empty one or when the arena is full (reported).
 */
static uint32_t intern(struct loader *ld, struct hark_str v)
{
    struct hark_customers *dir = ld->dir;
    if (v.len == 0 || v.len >= NEAR / 2) {
        uint32_t off = 0;
        return v.len && arena_add(ld, v.ptr, v.len, false, &off) ? off : 0;
    }
    uint64_t h = hark_cust_key_hash(0, false, &v, 1);
    uint32_t *ref = hark_cust_table_find_ref(&ld->pool, dir, &v, h);
    if (ref && dir->arena_len - *ref < NEAR / 2) {
        return *ref;
    }
    uint32_t off = 0;
    if (!arena_add(ld, v.ptr, v.len, false, &off)) {
        return 0;
    }
    if (ref) {
        *ref = off;
    } else {
        hark_cust_table_add(&ld->pool, off, h);
    }
    return off;
}

/* ---- fields --------------------------------------------------------- */

/*
 * Every probe of a row is a cache miss in a large table: each key's slot
 * is asked for as soon as the key is known, so that the misses overlap
 * with each other and with parsing the rest of the row.
 */
static void ident_push(struct loader *ld, const struct hark_cust_ident *id)
{
    if (ld->n_idents == ld->cap_idents) {
        ld->cap_idents = ld->cap_idents ? ld->cap_idents * 2 : 8;
        ld->idents =
            hark_xrealloc(ld->idents, ld->cap_idents * sizeof(*ld->idents));
        ld->ident_hashes = hark_xrealloc(
            ld->ident_hashes, ld->cap_idents * sizeof(*ld->ident_hashes));
    }
    uint64_t h = hark_cust_key_hash(hark_cust_pk(id->platform, id->kind),
                                    id->kind == HARK_CKIND_HANDLE, &id->val, 1);
    hark_cust_table_prefetch(&ld->dir->idents, h);
    ld->ident_hashes[ld->n_idents] = h;
    ld->idents[ld->n_idents++] = *id;
}

/* The customer_id is known: hash it and ask for its slot. */
static void id_known(struct loader *ld)
{
    ld->id_hash = hark_cust_key_hash(0, false, &ld->row.strs[0], 1);
    hark_cust_table_prefetch(&ld->ids, ld->id_hash);
}

/* "a;b;c": every non-empty piece is an identity. */
static void parse_ident_list(struct loader *ld, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        const char *semi = memchr(s + i, ';', len - i);
        size_t end = semi ? (size_t)(semi - s) : len;
        size_t j = i;
        while (j < end && (s[j] == ' ' || s[j] == '\t')) {
            j++;
        }
        if (j < end) {
            struct hark_cust_ident id;
            char err[512];
            if (hark_cust_ident_parse(s + i, end - i, &id, err, sizeof(err)) ==
                HARK_OK) {
                ident_push(ld, &id);
            } else {
                report(ld, "%s", err);
            }
        }
        i = end + 1;
    }
}

static void parse_ident_columns(struct loader *ld,
                                struct hark_str platform,
                                struct hark_str handle)
{
    if (platform.len == 0 && handle.len == 0) {
        return;
    }
    if (handle.len == 0) {
        report(ld, "platform \"%.*s\" has no handle", (int)platform.len,
               platform.ptr);
        return;
    }
    struct hark_cust_ident id;
    char err[512];
    if (hark_cust_ident_columns(platform.ptr, platform.len, handle.ptr,
                                handle.len, &id, err, sizeof(err)) == HARK_OK) {
        ident_push(ld, &id);
    } else {
        report(ld, "%s", err);
    }
}

/*
 * The common case of parse_number without strtod: [+-]digits[.digits]
 * with at most 15 digits, so the digits make an integer m < 2^53 and the
 * value is m / 10^k, both exact doubles: one division, correctly rounded,
 * gives what strtod gives.
 */
static bool parse_decimal_fast(const char *s, size_t len, double *out)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
                                   1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15};
    size_t i = 0;
    bool is_neg = false;
    if (s[0] == '-' || s[0] == '+') {
        is_neg = s[0] == '-';
        i++;
    }
    uint64_t m = 0;
    int n_digits = 0;
    int n_frac = -1; /* -1: no '.' yet */
    for (; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            m = m * 10 + (uint64_t)(c - '0');
            n_digits++;
            n_frac += n_frac >= 0;
        } else if (c == '.' && n_frac < 0) {
            n_frac = 0;
        } else {
            return false;
        }
    }
    if (n_digits == 0 || n_digits > 15) {
        return false;
    }
    double d = (double)m;
    if (n_frac > 0) {
        d /= pow10[n_frac];
    }
    *out = is_neg ? -d : d;
    return true;
}

/* A decimal number; `s` is NUL-terminated at s[len]. */
static bool parse_number(const char *s, size_t len, double *out)
{
    if (len == 0) {
        return false;
    }
    if (parse_decimal_fast(s, len, out)) {
        return true;
    }
    for (size_t i = 0; i < len; i++) {
        if (!strchr("0123456789+-.eE", s[i]) || s[i] == '\0') {
            return false; /* no hex, inf, nan, blanks */
        }
    }
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (end != s + len || errno == ERANGE || !isfinite(d)) {
        return false;
    }
    *out = d;
    return true;
}

static bool parse_count(const char *s, size_t len, uint32_t *out)
{
    if (len == 0 || len > 10) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX) {
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

static void
num_field(struct loader *ld, enum col col, struct hark_str v, double *out)
{
    *out = 0;
    if (v.len > 0 && !parse_number(v.ptr, v.len, out)) {
        report(ld, "%s \"%.*s\" is not a number", col_names[col], (int)v.len,
               v.ptr);
    }
}

static void
count_field(struct loader *ld, enum col col, struct hark_str v, uint32_t *out)
{
    *out = 0;
    if (v.len > 0 && !parse_count(v.ptr, v.len, out)) {
        report(ld, "%s \"%.*s\" is not a whole number from 0 to %" PRIu32,
               col_names[col], (int)v.len, v.ptr, UINT32_MAX);
    }
}

/* ASCII case-insensitive equality of n bytes. */
static bool eq_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

static void begin_row(struct loader *ld)
{
    memset(&ld->row, 0, sizeof(ld->row));
    ld->n_idents = 0;
    ld->n_row_problems = 0;
}

/* ---- commit --------------------------------------------------------- */

/* The fields of a block's head (see customers_int.h). */
struct head {
    double clv;
    double revenue_12m;
    uint32_t counts[N_COUNTS];
    uint32_t tier;    /* distance back to the string; 0 = none */
    uint32_t segment;
};

static double get_money(const unsigned char **p, bool is_cents)
{
    double d;
    if (is_cents) {
        return (double)hark_cust_varint(p) / 100.0;
    }
    memcpy(&d, *p, sizeof(d));
    *p += sizeof(d);
    return d;
}

/* Decodes a block's head; returns where its strings start. */
static const char *get_head(const struct hark_customer *cust, struct head *h)
{
    const unsigned char *p = &cust->flags;
    unsigned flags = *p++;
    unsigned counts = (flags & HARK_CUST_HAS_COUNTS) ? *p++ : 0;
    memset(h, 0, sizeof(*h));
    if (flags & HARK_CUST_HAS_CLV) {
        h->clv = get_money(&p, (flags & HARK_CUST_CLV_CENTS) != 0);
    }
    if (flags & HARK_CUST_HAS_REVENUE) {
        h->revenue_12m = get_money(&p, (flags & HARK_CUST_REVENUE_CENTS) != 0);
    }
    for (int i = 0; i < N_COUNTS; i++) {
        if (counts & (1u << i)) {
            h->counts[i] = hark_cust_varint(&p);
        }
    }
    if (flags & HARK_CUST_HAS_TIER) {
        h->tier = hark_cust_varint(&p);
    }
    if (flags & HARK_CUST_HAS_SEGMENT) {
        h->segment = hark_cust_varint(&p);
    }
    return (const char *)p;
}

/* The first string of a block (its customer_id). */
static const char *block_strings(const struct hark_customer *cust)
{
    struct head h;
    return get_head(cust, &h);
}

static uint32_t ident_find(const struct loader *ld,
                           const struct hark_cust_ident *id,
                           uint64_t hash)
{
    return hark_cust_table_find(&ld->dir->idents, ld->dir,
                                hark_cust_pk(id->platform, id->kind),
                                id->kind == HARK_CKIND_HANDLE, &id->val, 1,
                                hash);
}

static bool ident_same(const struct hark_cust_ident *a,
                       const struct hark_cust_ident *b)
{
    if (a->platform != b->platform || a->kind != b->kind ||
        a->val.len != b->val.len) {
        return false;
    }
    if (a->kind != HARK_CKIND_HANDLE) {
        return memcmp(a->val.ptr, b->val.ptr, a->val.len) == 0;
    }
    return eq_nocase(a->val.ptr, b->val.ptr, a->val.len);
}

/* Whether an earlier identity of this row has the same key. */
static bool ident_repeats(const struct loader *ld, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if (ident_same(&ld->idents[j], &ld->idents[i])) {
            return true;
        }
    }
    return false;
}

/* Bytes a block needs at most besides its strings. */
static size_t block_head_max(void)
{
    return 2 + 2 * sizeof(double) + 6 * 5;
}

/* Cents when a positive amount is exactly cents / 100 (decoded alike). */
static bool as_cents(double d, uint32_t *cents)
{
    if (!(d > 0) || d >= 42949672.0) {
        return false;
    }
    uint32_t k = (uint32_t)(d * 100.0 + 0.5);
    if ((double)k / 100.0 != d) {
        return false;
    }
    *cents = k;
    return true;
}

/* Writes an amount; returns the bytes (0 when it is zero: not written). */
static size_t put_money(unsigned char *p, double d, unsigned *flags,
                        unsigned has, unsigned cents_flag)
{
    static const double zero = 0;
    uint32_t cents = 0;
    if (memcmp(&d, &zero, sizeof(d)) == 0) {
        return 0; /* +0.0; -0.0 is kept as a double */
    }
    *flags |= has;
    if (as_cents(d, &cents)) {
        *flags |= cents_flag;
        return put_varint(p, cents);
    }
    memcpy(p, &d, sizeof(d));
    return sizeof(d);
}

/* Writes the head of a block at p; returns the bytes. */
static size_t put_head(unsigned char *p, const struct row *row,
                       uint32_t tier, uint32_t segment)
{
    unsigned flags = 0;
    unsigned counts = 0;
    for (int i = 0; i < N_COUNTS; i++) {
        counts |= row->counts[i] ? 1u << i : 0;
    }
    size_t n = 1;
    if (counts) {
        flags |= HARK_CUST_HAS_COUNTS;
        p[n++] = (unsigned char)counts;
    }
    n += put_money(p + n, row->clv, &flags, HARK_CUST_HAS_CLV,
                   HARK_CUST_CLV_CENTS);
    n += put_money(p + n, row->revenue_12m, &flags, HARK_CUST_HAS_REVENUE,
                   HARK_CUST_REVENUE_CENTS);
    for (int i = 0; i < N_COUNTS; i++) {
        if (row->counts[i]) {
            n += put_varint(p + n, row->counts[i]);
        }
    }
    if (tier) {
        flags |= HARK_CUST_HAS_TIER;
        n += put_varint(p + n, tier);
    }
    if (segment) {
        flags |= HARK_CUST_HAS_SEGMENT;
        n += put_varint(p + n, segment);
    }
    p[0] = (unsigned char)flags;
    return n;
}

/* Checks the row against the directory and adds it when it is sound. */
static void commit_row(struct loader *ld)
{
    struct hark_customers *dir = ld->dir;
    struct row *row = &ld->row;
    struct hark_str id = row->strs[0];
    if (id.len == 0) {
        report(ld, "missing customer_id");
        return;
    }
    uint64_t id_hash = ld->id_hash;
    if (hark_cust_table_find(&ld->ids, dir, 0, false, &id, 1, id_hash)) {
        report(ld, "duplicate customer_id \"%.*s\"", (int)id.len, id.ptr);
    }
    for (size_t i = 0; i < ld->n_idents; i++) {
        const struct hark_cust_ident *ident = &ld->idents[i];
        uint32_t off = ident_find(ld, ident, ld->ident_hashes[i]);
        if (off) {
            report(ld,
                   "identity \"%.*s%s%.*s\" of customer \"%.*s\" is already "
                   "claimed by customer \"%s\"",
                   (int)ident->disp.len, ident->disp.ptr, ident->disp_sep,
                   (int)ident->disp2.len, ident->disp2.ptr, (int)id.len, id.ptr,
                   block_strings(hark_cust_ident_owner(dir, off)));
        }
    }
    if (ld->n_row_problems > 0) {
        return;
    }
    uint32_t tier = intern(ld, row->strs[2]);
    uint32_t segment = intern(ld, row->strs[3]);
    if (should_stop(ld)) {
        return;
    }
    size_t need = block_head_max() + id.len + 1 + row->strs[1].len + 1;
    for (size_t i = 0; i < ld->n_idents; i++) {
        need += 1 + 5 + ld->idents[i].val.len + 1;
    }
    unsigned char *p = (unsigned char *)arena_room(ld, need);
    if (!p) {
        return;
    }
    size_t block = dir->arena_len;
    size_t n = put_head(p, row, tier ? (uint32_t)block - tier : 0,
                        segment ? (uint32_t)block - segment : 0);
    memcpy(p + n, id.ptr, id.len);
    p[n + id.len] = '\0';
    uint32_t id_off = (uint32_t)(block + n);
    n += id.len + 1;
    if (row->strs[1].len) {
        memcpy(p + n, row->strs[1].ptr, row->strs[1].len);
    }
    n += row->strs[1].len;
    p[n++] = '\0';
    hark_cust_table_add(&ld->ids, id_off, id_hash);
    for (size_t i = 0; i < ld->n_idents; i++) {
        const struct hark_cust_ident *ident = &ld->idents[i];
        if (ident_repeats(ld, i)) {
            continue;
        }
        uint32_t rec = (uint32_t)(block + n);
        p[n++] = hark_cust_pk(ident->platform, ident->kind);
        n += put_varint(p + n, rec - (uint32_t)block);
        if (ident->kind == HARK_CKIND_HANDLE) {
            for (size_t j = 0; j < ident->val.len; j++) {
                p[n + j] = (unsigned char)lower(ident->val.ptr[j]);
            }
        } else {
            memcpy(p + n, ident->val.ptr, ident->val.len);
        }
        n += ident->val.len;
        p[n++] = '\0';
        hark_cust_table_add(&dir->idents, rec, ld->ident_hashes[i]);
    }
    dir->arena_len += n;
    dir->n_custs++;
}

/* ---- CSV ------------------------------------------------------------ */

static struct hark_str field(const struct loader *ld, size_t i)
{
    return (struct hark_str){ld->fields.ptr + ld->field_off[i],
                             ld->field_len[i]};
}

static void csv_on_field(void *data, size_t len, void *arg)
{
    struct loader *ld = arg;
    if (ld->n_fields == ld->cap_fields) {
        ld->cap_fields = ld->cap_fields ? ld->cap_fields * 2 : 32;
        ld->field_off =
            hark_xrealloc(ld->field_off, ld->cap_fields * sizeof(size_t));
        ld->field_len =
            hark_xrealloc(ld->field_len, ld->cap_fields * sizeof(size_t));
    }
    ld->field_off[ld->n_fields] = ld->fields.len;
    ld->field_len[ld->n_fields] = len;
    ld->n_fields++;
    struct hark_buf *b = &ld->fields;
    if (b->cap - b->len > len) { /* the common case, inline */
        if (len) {
            memcpy(b->ptr + b->len, data, len);
        }
        b->ptr[b->len + len] = '\0';
        b->len += len + 1;
        return;
    }
    /* the scratch buffer is unbounded: these cannot fail */
    hark_err_t err = hark_buf_add(b, data ? data : "", len);
    err = err == HARK_OK ? hark_buf_addc(b, '\0') : err;
    hark_assert(err == HARK_OK);
}

static void csv_header(struct loader *ld)
{
    ld->has_header = true;
    ld->n_cols = ld->n_fields;
    ld->cols = hark_xcalloc(ld->n_cols, sizeof(*ld->cols));
    bool seen[COL_COUNT_] = {false};
    for (size_t i = 0; i < ld->n_fields; i++) {
        struct hark_str f = field(ld, i);
        ld->cols[i] = -1;
        for (int c = 0; c < COL_COUNT_; c++) {
            if (strlen(col_names[c]) == f.len &&
                eq_nocase(col_names[c], f.ptr, f.len)) {
                ld->cols[i] = c;
            }
        }
        if (ld->cols[i] < 0) {
            continue;
        }
        if (seen[ld->cols[i]]) {
            fatal(ld, ld->line, "column \"%s\" appears twice in the header",
                  col_names[ld->cols[i]]);
        }
        seen[ld->cols[i]] = true;
    }
    if (!seen[COL_CUSTOMER_ID]) {
        fatal(ld, ld->line, "the header has no \"customer_id\" column");
    }
    if (seen[COL_PLATFORM]) { /* one identity a row besides the colons */
        hark_cust_table_reserve(&ld->dir->idents,
                                ld->dir->idents.n + ld->n_colons + ld->n_lines);
    }
    if (seen[COL_PLATFORM] != seen[COL_HANDLE]) {
        fatal(ld, ld->line,
              "the header has a \"%s\" column but no \"%s\" column",
              seen[COL_PLATFORM] ? "platform" : "handle",
              seen[COL_PLATFORM] ? "handle" : "platform");
    }
}

static void csv_row(struct loader *ld)
{
    begin_row(ld);
    struct hark_str v[COL_COUNT_];
    memset(v, 0, sizeof(v));
    if (ld->n_fields > ld->n_cols) {
        report(ld, "the row has %zu fields; the header has %zu", ld->n_fields,
               ld->n_cols);
        return;
    }
    for (size_t i = 0; i < ld->n_fields; i++) {
        struct hark_str f = field(ld, i);
        if (ld->cols[i] < 0) {
            continue;
        }
        if (!ld->is_ascii && !hark_utf8_valid(f.ptr, f.len)) {
            report(ld, "%s is not valid UTF-8", col_names[ld->cols[i]]);
            continue;
        }
        v[ld->cols[i]] = f;
    }
    for (int i = 0; i < N_STRS; i++) {
        ld->row.strs[i] = v[i];
    }
    id_known(ld);
    num_field(ld, COL_CLV, v[COL_CLV], &ld->row.clv);
    num_field(ld, COL_REVENUE, v[COL_REVENUE], &ld->row.revenue_12m);
    for (int i = 0; i < N_COUNTS; i++) {
        count_field(ld, (enum col)(COL_REFERRALS + i), v[COL_REFERRALS + i],
                    &ld->row.counts[i]);
    }
    parse_ident_columns(ld, v[COL_PLATFORM], v[COL_HANDLE]);
    parse_ident_list(ld, v[COL_IDENTITIES].ptr, v[COL_IDENTITIES].len);
    if (ld->n_row_problems == 0) {
        commit_row(ld);
    }
}

static void csv_on_row(int c, void *arg)
{
    (void)c;
    struct loader *ld = arg;
    ld->has_row_ended = true;
    if (!should_stop(ld)) {
        if (!ld->has_header) {
            csv_header(ld);
        } else {
            csv_row(ld);
        }
    }
    ld->n_fields = 0;
    hark_buf_reset(&ld->fields);
}

enum { READ_CHUNK = 4 * 1024 * 1024 };

/*
 * The next line (with its '\n', if any) in *s, *len; false at the end of
 * the file or on a read error (r->read_errno). *s is valid until the next
 * call.
 */
static bool next_line(struct reader *r, const char **s, size_t *len)
{
    for (;;) {
        char *nl = r->end > r->start
                       ? memchr(r->buf + r->start, '\n', r->end - r->start)
                       : NULL;
        if (nl || (r->is_eof && r->end > r->start)) {
            size_t stop = nl ? (size_t)(nl - r->buf) + 1 : r->end;
            *s = r->buf + r->start;
            *len = stop - r->start;
            r->start = stop;
            return true;
        }
        if (r->is_eof) {
            return false;
        }
        /* keep the partial line, make room, read more */
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
        if (r->cap - r->end < READ_CHUNK / 2) {
            r->cap = r->cap ? r->cap * 2 : READ_CHUNK;
            r->buf = hark_xrealloc(r->buf, r->cap);
        }
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            r->read_errno = errno;
            r->is_eof = true;
            return false;
        }
        r->end += (size_t)n;
        r->is_eof = n == 0;
    }
}

/* Whether every byte is ASCII (then it is valid UTF-8). */
static bool is_ascii(const char *s, size_t len)
{
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, sizeof(w));
        acc |= w;
    }
    for (; i < len; i++) {
        acc |= (unsigned char)s[i];
    }
    return (acc & 0x8080808080808080ULL) == 0;
}

static bool has_content(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            return true;
        }
    }
    return false;
}

enum { CSV_OPTS = CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL };

static void csv_malformed(struct loader *ld, const char *what)
{
    if (!ld->has_header) {
        fatal(ld, ld->line, "%s in the header", what);
    } else {
        begin_row(ld);
        report(ld, "%s", what);
    }
}

static hark_err_t load_csv(struct loader *ld, struct reader *rd)
{
    struct csv_parser parser;
    if (csv_init(&parser, CSV_OPTS) != 0) {
        return HARK_EINTERNAL;
    }
    const char *s = NULL;
    size_t len = 0;
    int phys = 0;
    while (!should_stop(ld) && next_line(rd, &s, &len)) {
        phys++;
        if (phys == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3;
            len -= 3;
        }
        if (!ld->is_row_open) {
            ld->line = phys;
        }
        /* an ASCII row needs no UTF-8 check */
        ld->is_ascii = is_ascii(s, len) && (ld->is_ascii || !ld->is_row_open);
        ld->has_row_ended = false;
        if (csv_parse(&parser, s, len, csv_on_field, csv_on_row, ld) != len) {
            csv_malformed(ld, "malformed quoting: a quote inside an unquoted "
                              "field, or text after a closing quote");
            /* drop the rest of the row and go on at the next line */
            csv_free(&parser);
            if (csv_init(&parser, CSV_OPTS) != 0) {
                return HARK_EINTERNAL;
            }
            ld->n_fields = 0;
            hark_buf_reset(&ld->fields);
            ld->is_row_open = false;
            continue;
        }
        ld->is_row_open =
            (ld->is_row_open || has_content(s, len)) && !ld->has_row_ended;
    }
    if (!should_stop(ld)) {
        ld->has_row_ended = false;
        if (csv_fini(&parser, csv_on_field, csv_on_row, ld) != 0) {
            csv_malformed(ld, "unterminated quoted field at the end of the "
                              "file");
        }
        if (!ld->has_header && !ld->is_fatal) {
            fatal(ld, 0, "the file is empty; expected a header row");
        }
    }
    csv_free(&parser);
    return HARK_OK;
}

/* ---- NDJSON --------------------------------------------------------- */

static void json_str_field(struct loader *ld,
                           const struct hark_json *obj,
                           enum col col,
                           struct hark_str *out)
{
    const struct hark_json *v = hark_json_get(obj, col_names[col]);
    *out = (struct hark_str){"", 0};
    if (!v || v->type == HARK_JSON_NULL) {
        return;
    }
    if (v->type == HARK_JSON_STRING) {
        *out = (struct hark_str){v->s, v->s_len};
    } else if (col == COL_CUSTOMER_ID && v->type == HARK_JSON_INTEGER) {
        snprintf(ld->id_buf, sizeof(ld->id_buf), "%" PRId64, v->i);
        *out = (struct hark_str){ld->id_buf, strlen(ld->id_buf)};
    } else {
        report(ld, "%s is %s; expected a string", col_names[col],
               hark_json_type_name(v->type));
    }
}

static void json_num_field(struct loader *ld,
                           const struct hark_json *obj,
                           enum col col,
                           double *out)
{
    const struct hark_json *v = hark_json_get(obj, col_names[col]);
    *out = 0;
    if (!v || v->type == HARK_JSON_NULL) {
        return;
    }
    if (v->type & HARK_JSON_NUMBER) {
        *out = v->d;
    } else if (v->type == HARK_JSON_STRING) {
        num_field(ld, col, (struct hark_str){v->s, v->s_len}, out);
    } else {
        report(ld, "%s is %s; expected a number", col_names[col],
               hark_json_type_name(v->type));
    }
}

static void json_count_field(struct loader *ld,
                             const struct hark_json *obj,
                             enum col col,
                             uint32_t *out)
{
    const struct hark_json *v = hark_json_get(obj, col_names[col]);
    *out = 0;
    if (!v || v->type == HARK_JSON_NULL) {
        return;
    }
    if (v->type == HARK_JSON_INTEGER && v->i >= 0 && v->i <= UINT32_MAX) {
        *out = (uint32_t)v->i;
    } else if (v->type == HARK_JSON_STRING) {
        count_field(ld, col, (struct hark_str){v->s, v->s_len}, out);
    } else if (v->type & HARK_JSON_NUMBER) {
        report(ld, "%s %g is not a whole number from 0 to %" PRIu32,
               col_names[col], v->d, UINT32_MAX);
    } else {
        report(ld, "%s is %s; expected a whole number", col_names[col],
               hark_json_type_name(v->type));
    }
}

static void json_idents(struct loader *ld, const struct hark_json *obj)
{
    const struct hark_json *v = hark_json_get(obj, "identities");
    if (!v || v->type == HARK_JSON_NULL) {
        return;
    }
    if (v->type == HARK_JSON_STRING) {
        parse_ident_list(ld, v->s, v->s_len);
        return;
    }
    if (v->type != HARK_JSON_ARRAY) {
        report(ld, "identities is %s; expected an array of strings",
               hark_json_type_name(v->type));
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        const struct hark_json *item = v->items[i];
        if (item->type != HARK_JSON_STRING) {
            report(ld, "identities[%zu] is %s; expected a string", i,
                   hark_json_type_name(item->type));
            continue;
        }
        struct hark_cust_ident id;
        char err[512];
        if (hark_cust_ident_parse(item->s, item->s_len, &id, err,
                                  sizeof(err)) == HARK_OK) {
            ident_push(ld, &id);
        } else {
            report(ld, "%s", err);
        }
    }
}

static void json_row(struct loader *ld, const char *s, size_t len)
{
    begin_row(ld);
    struct hark_json_doc *doc = NULL;
    struct hark_json_opts opts = {.validate_utf8 = true};
    char err[256];
    size_t err_offset = 0;
    if (hark_json_parse(s, len, ld->path, &opts, &doc, err, sizeof(err),
                        &err_offset) != HARK_OK) {
        report(ld, "invalid JSON: %s", err);
        return;
    }
    const struct hark_json *obj = doc->root;
    if (!obj || obj->type != HARK_JSON_OBJECT) {
        report(ld, "expected a JSON object, not %s",
               obj ? hark_json_type_name(obj->type) : "nothing");
        hark_json_doc_free(doc);
        return;
    }
    for (int i = 0; i < N_STRS; i++) {
        json_str_field(ld, obj, (enum col)i, &ld->row.strs[i]);
    }
    id_known(ld);
    json_num_field(ld, obj, COL_CLV, &ld->row.clv);
    json_num_field(ld, obj, COL_REVENUE, &ld->row.revenue_12m);
    for (int i = 0; i < N_COUNTS; i++) {
        json_count_field(ld, obj, (enum col)(COL_REFERRALS + i),
                         &ld->row.counts[i]);
    }
    struct hark_str platform;
    struct hark_str handle;
    json_str_field(ld, obj, COL_PLATFORM, &platform);
    json_str_field(ld, obj, COL_HANDLE, &handle);
    parse_ident_columns(ld, platform, handle);
    json_idents(ld, obj);
    if (ld->n_row_problems == 0) {
        commit_row(ld);
    }
    hark_json_doc_free(doc);
}

static void load_ndjson(struct loader *ld, struct reader *rd)
{
    const char *s = NULL;
    size_t len = 0;
    int phys = 0;
    while (!should_stop(ld) && next_line(rd, &s, &len)) {
        phys++;
        if (phys == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3;
            len -= 3;
        }
        if (!has_content(s, len)) {
            continue;
        }
        ld->line = phys;
        json_row(ld, s, len);
    }
}

/* ---- load ----------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t m = strlen(suffix);
    return n >= m && eq_nocase(s + n - m, suffix, m);
}

/*
 * Counts what sizes the tables: lines (a bound on customers) and colons
 * (every identity has one; the platform + handle columns add one a row).
 * Leaves the file at its start.
 */
static hark_err_t prescan(struct loader *ld, struct reader *rd,
                          size_t *n_lines, size_t *n_colons)
{
    size_t lines = 1;
    size_t colons = 0;
    rd->cap = READ_CHUNK;
    rd->buf = hark_xmalloc(rd->cap);
    for (;;) {
        ssize_t n = read(rd->fd, rd->buf, rd->cap);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rd->read_errno = errno;
            break;
        }
        if (n == 0) {
            break;
        }
        const unsigned char *p = (const unsigned char *)rd->buf;
        for (ssize_t i = 0; i < n; i++) {
            lines += p[i] == '\n';
            colons += p[i] == ':';
        }
    }
    if (rd->read_errno == 0 && lseek(rd->fd, 0, SEEK_SET) != 0) {
        rd->read_errno = errno;
    }
    if (rd->read_errno != 0) {
        hark_diag_line(ld->diag, HARK_DIAG_ERROR, NULL, 0, "read(\"%s\"): %s",
                       ld->path, strerror(rd->read_errno));
        return HARK_EIO;
    }
    *n_lines = lines;
    *n_colons = colons;
    return HARK_OK;
}

/* Makes the directory immutable: gives back what the load did not use. */
static void finish(struct loader *ld)
{
    struct hark_customers *dir = ld->dir;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t keep = (dir->arena_len + 2 * 1024 * 1024 - 1) &
                  ~(size_t)(2 * 1024 * 1024 - 1); /* whole huge pages */
    if (dir->arena_cap >= 8 * 1024 * 1024 && keep < dir->arena_cap &&
        page && keep % page == 0) {
        munmap(dir->arena + keep, dir->arena_cap - keep);
        dir->arena_cap = keep;
    }
    hark_cust_table_free(&ld->ids);
    hark_cust_table_free(&ld->pool);
    hark_cust_table_shrink(&dir->idents);
}

static void dir_free(struct hark_customers *dir)
{
    hark_cust_unmap(dir->arena, dir->arena_cap);
    hark_cust_table_free(&dir->idents);
    free(dir);
}

hark_err_t hark_customers_load(const char *path,
                               enum hark_bad_row on_bad_row,
                               struct hark_diag *diag,
                               struct hark_customers **out)
{
    struct hark_diag local_diag;
    struct loader ld;
    struct reader rd = {.fd = -1};
    hark_err_t err = HARK_OK;
    *out = NULL;
    hark_diag_init(&local_diag);
    memset(&ld, 0, sizeof(ld));
    hark_buf_init(&ld.fields, 0);
    ld.path = path;
    ld.diag = diag ? diag : &local_diag;
    ld.on_bad_row = on_bad_row;
    ld.ids.kind = HARK_CTAB_STRING;
    ld.pool.kind = HARK_CTAB_STRING;
    rd.fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (rd.fd < 0 || fstat(rd.fd, &st) != 0) {
        hark_diag_line(ld.diag, HARK_DIAG_ERROR, NULL, 0, "open(\"%s\"): %s",
                       path, strerror(errno));
        err = HARK_EIO;
        goto fail;
    }
    size_t n_lines = 0;
    size_t n_colons = 0;
    err = prescan(&ld, &rd, &n_lines, &n_colons);
    if (err != HARK_OK) {
        goto fail;
    }
    ld.dir = hark_xcalloc(1, sizeof(*ld.dir));
    ld.dir->idents.kind = HARK_CTAB_IDENT;
    /*
     * A block takes at most about 4 bytes per byte of its row (a 2-byte
     * "1," number becomes 8); a typical one fewer than its row. Only the
     * pages written count.
     */
    size_t size = st.st_size > 0 ? (size_t)st.st_size : 0;
    size_t cap = size < ARENA_MAX / 4 ? size * 4 + 65536 : ARENA_MAX;
    ld.dir->arena = hark_cust_map(cap);
    ld.dir->arena_cap = cap;
    ld.dir->arena[0] = '\0'; /* offset 0: "" */
    ld.dir->arena_len = 1;
    hark_cust_table_reserve(&ld.ids, n_lines);
    /* NDJSON: a "platform" key has its colon too; CSV: see csv_header */
    hark_cust_table_reserve(&ld.dir->idents, n_colons);
    ld.n_lines = n_lines;
    ld.n_colons = n_colons;
    bool is_ndjson = ends_with(path, ".ndjson") || ends_with(path, ".jsonl");
    if (is_ndjson) {
        load_ndjson(&ld, &rd);
    } else {
        err = load_csv(&ld, &rd);
    }
    if (err == HARK_OK && rd.read_errno != 0) {
        hark_diag_line(ld.diag, HARK_DIAG_ERROR, NULL, 0, "read(\"%s\"): %s",
                       path, strerror(rd.read_errno));
        err = HARK_EIO;
    }
    if (err != HARK_OK) {
        goto fail;
    }
    if (ld.is_fatal || ld.n_errors > 0) {
        err = HARK_EINVAL;
        goto fail;
    }
    free(rd.buf); /* before the tables shrink: lower peak */
    rd.buf = NULL;
    finish(&ld);
    *out = ld.dir;
    ld.dir = NULL;
fail:
    if (rd.fd >= 0) {
        close(rd.fd);
    }
    free(rd.buf);
    if (ld.dir) {
        dir_free(ld.dir);
    }
    hark_cust_table_free(&ld.ids);
    hark_cust_table_free(&ld.pool);
    free(ld.idents);
    free(ld.ident_hashes);
    free(ld.cols);
    free(ld.field_off);
    free(ld.field_len);
    hark_buf_cleanup(&ld.fields);
    hark_diag_cleanup(&local_diag);
    return err;
}

void hark_customers_free(struct hark_customers *dir)
{
    if (dir) {
        dir_free(dir);
    }
}

size_t hark_customers_count(const struct hark_customers *dir)
{
    return dir ? dir->n_custs : 0;
}

/*
 * Every field is copied, whatever `export_mask` says: scoring reads the
 * tier and CLV of a customer whose events do not carry them. The mask goes
 * into view->export_mask, and the event writer emits only those fields.
 */
void hark_customer_view_fill(const struct hark_customer *cust,
                             unsigned export_mask,
                             bool is_handle_match,
                             struct hark_customer_view *view)
{
    memset(view, 0, sizeof(*view));
    struct head h;
    const char *id = get_head(cust, &h);
    const char *name = id + strlen(id) + 1;
    /* tier and segment: interned copies, that many bytes before the block */
    const char *block = (const char *)&cust->flags;
    view->id = hark_xstrdup(id);
    view->name = *name ? hark_xstrdup(name) : NULL;
    view->tier = h.tier ? hark_xstrdup(block - h.tier) : NULL;
    view->segment = h.segment ? hark_xstrdup(block - h.segment) : NULL;
    view->clv = h.clv;
    view->revenue_12m = h.revenue_12m;
    view->referrals = h.counts[0];
    view->recommendations = h.counts[1];
    view->introductions = h.counts[2];
    view->positive_mentions = h.counts[3];
    view->is_handle_match = is_handle_match;
    view->export_mask = export_mask;
}
