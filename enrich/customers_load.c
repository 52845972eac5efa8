/*
 * customers_load: loading the customer directory from CSV or NDJSON: the
 * fields and identities of a row, checking rows against the directory,
 * committing them, reporting bad ones, and NDJSON. customers_csv.c reads
 * the file and splits a CSV (libcsv, on a reader thread);
 * customers_store.c writes the blocks (layout in customers_int.h).
 *
 * Memory goes to the directory itself: the file streams through a read
 * buffer, and the hash tables are sized once, before loading, from an
 * estimate of the file's lines and colons (every identity has one). A row
 * is first parsed into a `struct hark_cust_rec` and the loader's scratch
 * identities, then queued; the queue is checked against the index
 * (duplicate customer_id, identities claimed by another customer) and
 * committed in order, so a bad row leaves nothing behind.
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
#include "customers_load.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hark/customers.h"
#include "hark/json.h"

const char *const hark_cust_col_names[HARK_CCOL_COUNT_] = {
    "customer_id",   "name",
    "tier",          "segment",
    "clv",           "revenue_12m",
    "referrals",     "recommendations",
    "introductions", "positive_mentions",
    "platform",      "handle",
    "identities",
};

bool hark_cust_should_stop(const struct hark_cust_loader *ld)
{
    return ld->is_fatal || ld->n_errors >= HARK_DIAG_MAX;
}

/*
 * A problem with the current row. The rows before it are committed first,
 * so problems are reported in the order of the file, and when those reach
 * HARK_DIAG_MAX errors this row counts as never read (see hark_cust_flush).
 */
void hark_cust_report(struct hark_cust_loader *ld, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    if (!ld->is_flushing && ld->n_pending > 0) {
        hark_cust_flush(ld);
        ld->is_row_unread = hark_cust_should_stop(ld);
    }
    if (!ld->is_flushing && ld->is_row_unread) {
        ld->n_row_problems++;
        return;
    }
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

/* A problem with the whole file: the load fails whatever on_bad_row says. */
void hark_cust_fatal(struct hark_cust_loader *ld,
                     int line,
                     const char *fmt,
                     ...)
{
    char msg[512];
    va_list ap;
    if (!ld->is_flushing && ld->n_pending > 0) {
        hark_cust_flush(ld);
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hark_diag_line(ld->diag, HARK_DIAG_ERROR, ld->path, line, "%s", msg);
    ld->is_fatal = true;
}

/* ---- fields --------------------------------------------------------- */

/* ASCII lowercase; other bytes (UTF-8 included) unchanged. */
static char lower(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (char)(c - 'A' + 'a');
    }
    return c;
}

/*
 * Every probe of a row is a cache miss in a large table: each key's slot
 * is asked for as soon as the key is known, so that the misses overlap
 * with each other and with parsing the rest of the row.
 */
static void ident_push(struct hark_cust_loader *ld,
                       const struct hark_cust_ident *id)
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
void hark_cust_id_known(struct hark_cust_loader *ld)
{
    ld->id_hash = hark_cust_key_hash(0, false, &ld->row.id, 1);
    hark_cust_table_prefetch(&ld->ids, ld->id_hash);
}

/* "a;b;c": every non-empty piece is an identity. */
void hark_cust_ident_list_parse(struct hark_cust_loader *ld,
                                const char *s,
                                size_t len)
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
                hark_cust_report(ld, "%s", err);
            }
        }
        i = end + 1;
    }
}

void hark_cust_ident_columns_parse(struct hark_cust_loader *ld,
                                   struct hark_str platform,
                                   struct hark_str handle)
{
    if (platform.len == 0 && handle.len == 0) {
        return;
    }
    if (handle.len == 0) {
        hark_cust_report(ld, "platform \"%.*s\" has no handle",
                         (int)platform.len, platform.ptr);
        return;
    }
    struct hark_cust_ident id;
    char err[512];
    if (hark_cust_ident_columns(platform.ptr, platform.len, handle.ptr,
                                handle.len, &id, err, sizeof(err)) == HARK_OK) {
        ident_push(ld, &id);
    } else {
        hark_cust_report(ld, "%s", err);
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
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3, 1e4,  1e5,
                                   1e6,  1e7,  1e8,  1e9, 1e10, 1e11,
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

void hark_cust_num_field(struct hark_cust_loader *ld,
                         enum hark_cust_col col,
                         struct hark_str v,
                         double *out)
{
    *out = 0;
    if (v.len > 0 && !parse_number(v.ptr, v.len, out)) {
        hark_cust_report(ld, "%s \"%.*s\" is not a number",
                         hark_cust_col_names[col], (int)v.len, v.ptr);
    }
}

void hark_cust_count_field(struct hark_cust_loader *ld,
                           enum hark_cust_col col,
                           struct hark_str v,
                           uint32_t *out)
{
    *out = 0;
    if (v.len > 0 && !parse_count(v.ptr, v.len, out)) {
        hark_cust_report(
            ld, "%s \"%.*s\" is not a whole number from 0 to %" PRIu32,
            hark_cust_col_names[col], (int)v.len, v.ptr, UINT32_MAX);
    }
}

/* ASCII case-insensitive equality of n bytes. */
bool hark_cust_eq_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

void hark_cust_begin_row(struct hark_cust_loader *ld)
{
    memset(&ld->row, 0, sizeof(ld->row));
    ld->n_idents = ld->row_ident;
    ld->n_row_problems = 0;
    ld->is_row_unread = false;
}

/* ---- commit --------------------------------------------------------- */

static uint32_t ident_find(const struct hark_cust_loader *ld,
                           const struct hark_cust_ident *id,
                           uint64_t hash)
{
    return hark_cust_table_find(
        &ld->dir->idents, ld->dir, hark_cust_pk(id->platform, id->kind),
        id->kind == HARK_CKIND_HANDLE, &id->val, 1, hash);
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
    return hark_cust_eq_nocase(a->val.ptr, b->val.ptr, a->val.len);
}

/* Whether idents[i] has the key of one of idents[0..n). */
static bool
ident_repeats(const struct hark_cust_ident *idents, size_t i, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        if (ident_same(&idents[j], &idents[i])) {
            return true;
        }
    }
    return false;
}

/*
 * Makes room in `t` for `n` more entries when it would pass 80% full: the
 * estimate was low (or there was none). It is sized for what the file
 * holds at the density of the part read so far, plus 5%: growing once by
 * what is missing rather than doubling (300 MB more at 10M customers).
 */
static void
table_room(struct hark_cust_loader *ld, struct hark_cust_table *t, size_t n)
{
    if ((t->n + n) * 10 <= t->cap * 8) {
        return;
    }
    size_t done = ld->n_done;
    size_t want = t->n + n;
    if (done > 0 && ld->file_size > done) {
        double scale = (double)ld->file_size / (double)done * 1.05;
        want = (size_t)((double)want * scale) + 1024;
    }
    hark_cust_table_reserve(t, want); /* else add() doubles it */
}

/*
 * Checks a pending row against the directory and adds it when it is sound.
 * Runs within flush: ld->line is the row's.
 */
static void commit_row(struct hark_cust_loader *ld,
                       struct hark_cust_pending *row)
{
    struct hark_customers *dir = ld->dir;
    struct hark_str id = row->rec.id;
    struct hark_cust_ident *idents = ld->idents + row->first_ident;
    uint64_t *hashes = ld->ident_hashes + row->first_ident;
    if (id.len == 0) {
        hark_cust_report(ld, "missing customer_id");
        return;
    }
    uint64_t id_hash = row->id_hash;
    if (hark_cust_table_find(&ld->ids, dir, 0, false, &id, 1, id_hash)) {
        hark_cust_report(ld, "duplicate customer_id \"%.*s\"", (int)id.len,
                         id.ptr);
    }
    for (size_t i = 0; i < row->n_idents; i++) {
        const struct hark_cust_ident *ident = &idents[i];
        uint32_t off = ident_find(ld, ident, hashes[i]);
        if (off) {
            hark_cust_report(
                ld,
                "identity \"%.*s%s%.*s\" of customer \"%.*s\" is already "
                "claimed by customer \"%s\"",
                (int)ident->disp.len, ident->disp.ptr, ident->disp_sep,
                (int)ident->disp2.len, ident->disp2.ptr, (int)id.len, id.ptr,
                hark_cust_block_id(hark_cust_ident_owner(dir, off)));
        }
    }
    if (ld->n_row_problems > 0) {
        return;
    }
    /* an identity written twice in the row is stored once */
    size_t n = 0;
    for (size_t i = 0; i < row->n_idents; i++) {
        if (!ident_repeats(idents, i, n)) {
            idents[n] = idents[i];
            hashes[n] = hashes[i];
            n++;
        }
    }
    table_room(ld, &dir->idents, n);
    table_room(ld, &ld->ids, 1);
    uint32_t id_off =
        hark_cust_block_add(dir, &ld->pool, &row->rec, idents, hashes, n);
    if (id_off == 0) {
        hark_cust_fatal(ld, ld->line,
                        "the customer directory holds more than 4 GiB of text");
        return;
    }
    hark_cust_table_add(&ld->ids, id_off, id_hash);
}

/*
 * Commits the pending rows, in order, and stops where the load stops (the
 * rows after that count as never read). Every probe of a row is a cache
 * miss in a large table; the slots were asked for when the keys were
 * parsed (ident_push, id_known), HARK_CUST_PENDING_MAX rows ago at most, so by
 * now most have arrived and the misses overlapped with parsing. The current row
 * (when a problem of it made the flush) keeps its identities, moved to the
 * front, and its fields.
 */
void hark_cust_flush(struct hark_cust_loader *ld)
{
    int line = ld->line;
    size_t n_row_problems = ld->n_row_problems;
    ld->is_flushing = true;
    for (size_t i = 0; i < ld->n_pending && !hark_cust_should_stop(ld); i++) {
        ld->line = ld->pending[i].line;
        ld->n_row_problems = 0;
        commit_row(ld, &ld->pending[i]);
    }
    ld->is_flushing = false;
    ld->n_pending = 0;
    ld->line = line;
    ld->n_row_problems = n_row_problems;
    size_t n = ld->n_idents - ld->row_ident;
    if (n > 0 && ld->row_ident > 0) {
        memmove(ld->idents, ld->idents + ld->row_ident,
                n * sizeof(*ld->idents));
        memmove(ld->ident_hashes, ld->ident_hashes + ld->row_ident,
                n * sizeof(*ld->ident_hashes));
    }
    ld->row_ident = 0;
    ld->n_idents = n;
}

/*
 * The current row is parsed: queued when it has no problem (committed
 * when HARK_CUST_PENDING_MAX are), dropped otherwise.
 */
void hark_cust_end_row(struct hark_cust_loader *ld)
{
    if (ld->n_row_problems > 0) {
        ld->n_idents = ld->row_ident;
        return;
    }
    ld->pending[ld->n_pending++] = (struct hark_cust_pending){
        .rec = ld->row,
        .id_hash = ld->id_hash,
        .first_ident = ld->row_ident,
        .n_idents = ld->n_idents - ld->row_ident,
        .line = ld->line,
    };
    ld->row_ident = ld->n_idents;
    if (ld->n_pending == HARK_CUST_PENDING_MAX) {
        hark_cust_flush(ld);
    }
}

/* ---- NDJSON --------------------------------------------------------- */

static void json_str_field(struct hark_cust_loader *ld,
                           const struct hark_json *obj,
                           enum hark_cust_col col,
                           struct hark_str *out)
{
    const struct hark_json *v = hark_json_get(obj, hark_cust_col_names[col]);
    *out = (struct hark_str){"", 0};
    if (!v || v->type == HARK_JSON_NULL) {
        return;
    }
    if (v->type == HARK_JSON_STRING) {
        *out = (struct hark_str){v->s, v->s_len};
    } else if (col == HARK_CCOL_CUSTOMER_ID && v->type == HARK_JSON_INTEGER) {
        snprintf(ld->id_buf, sizeof(ld->id_buf), "%" PRId64, v->i);
        *out = (struct hark_str){ld->id_buf, strlen(ld->id_buf)};
    } else {
        hark_cust_report(ld, "%s is %s; expected a string",
                         hark_cust_col_names[col],
                         hark_json_type_name(v->type));
    }
}

static void json_num_field(struct hark_cust_loader *ld,
                           const struct hark_json *obj,
                           enum hark_cust_col col,
                           double *out)
{
    const struct hark_json *v = hark_json_get(obj, hark_cust_col_names[col]);
    *out = 0;
    if (!v || v->type == HARK_JSON_NULL) {
        return;
    }
    if (v->type & HARK_JSON_NUMBER) {
        *out = v->d;
    } else if (v->type == HARK_JSON_STRING) {
        hark_cust_num_field(ld, col, (struct hark_str){v->s, v->s_len}, out);
    } else {
        hark_cust_report(ld, "%s is %s; expected a number",
                         hark_cust_col_names[col],
                         hark_json_type_name(v->type));
    }
}

static void json_count_field(struct hark_cust_loader *ld,
                             const struct hark_json *obj,
                             enum hark_cust_col col,
                             uint32_t *out)
{
    const struct hark_json *v = hark_json_get(obj, hark_cust_col_names[col]);
    *out = 0;
    if (!v || v->type == HARK_JSON_NULL) {
        return;
    }
    if (v->type == HARK_JSON_INTEGER && v->i >= 0 && v->i <= UINT32_MAX) {
        *out = (uint32_t)v->i;
    } else if (v->type == HARK_JSON_STRING) {
        hark_cust_count_field(ld, col, (struct hark_str){v->s, v->s_len}, out);
    } else if (v->type & HARK_JSON_NUMBER) {
        hark_cust_report(ld, "%s %g is not a whole number from 0 to %" PRIu32,
                         hark_cust_col_names[col], v->d, UINT32_MAX);
    } else {
        hark_cust_report(ld, "%s is %s; expected a whole number",
                         hark_cust_col_names[col],
                         hark_json_type_name(v->type));
    }
}

static void json_idents(struct hark_cust_loader *ld,
                        const struct hark_json *obj)
{
    const struct hark_json *v = hark_json_get(obj, "identities");
    if (!v || v->type == HARK_JSON_NULL) {
        return;
    }
    if (v->type == HARK_JSON_STRING) {
        hark_cust_ident_list_parse(ld, v->s, v->s_len);
        return;
    }
    if (v->type != HARK_JSON_ARRAY) {
        hark_cust_report(ld, "identities is %s; expected an array of strings",
                         hark_json_type_name(v->type));
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        const struct hark_json *item = v->items[i];
        if (item->type != HARK_JSON_STRING) {
            hark_cust_report(ld, "identities[%zu] is %s; expected a string", i,
                             hark_json_type_name(item->type));
            continue;
        }
        struct hark_cust_ident id;
        char err[512];
        if (hark_cust_ident_parse(item->s, item->s_len, &id, err,
                                  sizeof(err)) == HARK_OK) {
            ident_push(ld, &id);
        } else {
            hark_cust_report(ld, "%s", err);
        }
    }
}

static void json_row(struct hark_cust_loader *ld, const char *s, size_t len)
{
    hark_cust_begin_row(ld);
    struct hark_json_doc *doc = NULL;
    struct hark_json_opts opts = {.validate_utf8 = true};
    char err[256];
    size_t err_offset = 0;
    if (hark_json_parse(s, len, ld->path, &opts, &doc, err, sizeof(err),
                        &err_offset) != HARK_OK) {
        hark_cust_report(ld, "invalid JSON: %s", err);
        return;
    }
    const struct hark_json *obj = doc->root;
    if (!obj || obj->type != HARK_JSON_OBJECT) {
        hark_cust_report(ld, "expected a JSON object, not %s",
                         obj ? hark_json_type_name(obj->type) : "nothing");
        hark_json_doc_free(doc);
        return;
    }
    json_str_field(ld, obj, HARK_CCOL_CUSTOMER_ID, &ld->row.id);
    json_str_field(ld, obj, HARK_CCOL_NAME, &ld->row.name);
    json_str_field(ld, obj, HARK_CCOL_TIER, &ld->row.tier);
    json_str_field(ld, obj, HARK_CCOL_SEGMENT, &ld->row.segment);
    hark_cust_id_known(ld);
    json_num_field(ld, obj, HARK_CCOL_CLV, &ld->row.clv);
    json_num_field(ld, obj, HARK_CCOL_REVENUE, &ld->row.revenue_12m);
    for (int i = 0; i < HARK_CUST_N_COUNTS; i++) {
        json_count_field(ld, obj, (enum hark_cust_col)(HARK_CCOL_REFERRALS + i),
                         &ld->row.counts[i]);
    }
    struct hark_str platform;
    struct hark_str handle;
    json_str_field(ld, obj, HARK_CCOL_PLATFORM, &platform);
    json_str_field(ld, obj, HARK_CCOL_HANDLE, &handle);
    hark_cust_ident_columns_parse(ld, platform, handle);
    json_idents(ld, obj);
    hark_cust_end_row(ld);
    hark_cust_flush(ld); /* its strings are in `doc` */
    hark_json_doc_free(doc);
}

static void load_ndjson(struct hark_cust_loader *ld,
                        struct hark_cust_reader *rd)
{
    const char *s = NULL;
    size_t len = 0;
    int phys = 0;
    while (!hark_cust_should_stop(ld) && hark_cust_next_line(rd, &s, &len)) {
        phys++;
        if (phys == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3;
            len -= 3;
        }
        if (!hark_cust_has_content(s, len)) {
            continue;
        }
        ld->line = phys;
        ld->n_done = rd->buf_off + rd->start;
        json_row(ld, s, len);
    }
}

/* ---- load ----------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t m = strlen(suffix);
    return n >= m && hark_cust_eq_nocase(s + n - m, suffix, m);
}

enum { SAMPLE_LEN = 64 * 1024, N_SAMPLES = 32 };

/* Adds the lines and colons of s[0..len) to *n_lines, *n_colons. */
static void
count_marks(const char *s, size_t len, size_t *n_lines, size_t *n_colons)
{
    size_t lines = 0;
    size_t colons = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        lines += p[i] == '\n';
        colons += p[i] == ':';
    }
    *n_lines += lines;
    *n_colons += colons;
}

/*
 * What sizes the tables: the lines (a bound on customers) and colons
 * (every identity has one; the platform + handle columns add one a row).
 * A file larger than N_SAMPLES * SAMPLE_LEN * 4 is not read twice:
 * N_SAMPLES pieces spread evenly over it give its density, 3% is added
 * for what they missed, and a table that still fills up is sized again
 * from the part read (see grow_estimate). Other files are counted
 * exactly. Only pread(): the file stays at its start. A non-regular file
 * (a pipe) gives 0 and 0: the tables grow as they fill.
 */
static hark_err_t estimate(struct hark_cust_loader *ld,
                           struct hark_cust_reader *rd,
                           const struct stat *st,
                           size_t *n_lines,
                           size_t *n_colons)
{
    *n_lines = 1;
    *n_colons = 0;
    if (!S_ISREG(st->st_mode) || st->st_size <= 0) {
        *n_lines = 0;
        return HARK_OK;
    }
    size_t size = (size_t)st->st_size;
    bool is_sampled = size > (size_t)N_SAMPLES * SAMPLE_LEN * 4;
    size_t piece = is_sampled ? SAMPLE_LEN : 4 * 1024 * 1024;
    size_t n_pieces = is_sampled ? N_SAMPLES : (size + piece - 1) / piece;
    size_t n_read = 0;
    char *buf = hark_xmalloc(piece);
    for (size_t i = 0; i < n_pieces; i++) {
        off_t at = is_sampled ? (off_t)((size - piece) / (N_SAMPLES - 1) * i)
                              : (off_t)(piece * i);
        ssize_t n = pread(rd->fd, buf, piece, at);
        if (n < 0 && errno == EINTR) {
            i--;
            continue;
        }
        if (n < 0) {
            rd->read_errno = errno;
            break;
        }
        count_marks(buf, (size_t)n, n_lines, n_colons);
        n_read += (size_t)n;
        if ((size_t)n < piece) {
            break; /* the file is shorter than it was */
        }
    }
    free(buf);
    if (rd->read_errno != 0) {
        hark_diag_line(ld->diag, HARK_DIAG_ERROR, NULL, 0, "read(\"%s\"): %s",
                       ld->path, strerror(rd->read_errno));
        return HARK_EIO;
    }
    if (is_sampled && n_read > 0) {
        double scale = (double)size / (double)n_read * 1.03;
        *n_lines = (size_t)((double)*n_lines * scale) + 1024;
        *n_colons = (size_t)((double)*n_colons * scale) + 1024;
    }
    return HARK_OK;
}

/* Makes the directory immutable: gives back what the load did not use. */
/* Makes the directory immutable; frees what only the load needed. */
static void finish(struct hark_cust_loader *ld)
{
    hark_cust_table_free(&ld->ids);
    hark_cust_table_free(&ld->pool);
    hark_cust_dir_seal(ld->dir);
}

hark_err_t hark_customers_load(const char *path,
                               enum hark_bad_row on_bad_row,
                               struct hark_diag *diag,
                               struct hark_customers **out)
{
    struct hark_diag local_diag;
    struct hark_cust_loader ld;
    struct hark_cust_reader rd = {.fd = -1};
    hark_err_t err = HARK_OK;
    *out = NULL;
    hark_diag_init(&local_diag);
    memset(&ld, 0, sizeof(ld));
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
    err = estimate(&ld, &rd, &st, &n_lines, &n_colons);
    if (err != HARK_OK) {
        goto fail;
    }
    /*
     * A block takes at most about 4 bytes per byte of its row (a 2-byte
     * "1," number becomes 8); a typical one fewer than its row. Only the
     * pages written count.
     */
    size_t size = st.st_size > 0 ? (size_t)st.st_size : 0;
    size_t cap =
        size < HARK_CUST_ARENA_MAX / 4 ? size * 4 + 65536 : HARK_CUST_ARENA_MAX;
    ld.dir = hark_cust_dir_new(cap);
    hark_cust_table_reserve(&ld.ids, n_lines);
    /* NDJSON: a "platform" key has its colon too; CSV: see csv_header */
    hark_cust_table_reserve(&ld.dir->idents, n_colons);
    ld.n_lines = n_lines;
    ld.n_colons = n_colons;
    ld.file_size = S_ISREG(st.st_mode) ? size : 0;
    bool is_ndjson = ends_with(path, ".ndjson") || ends_with(path, ".jsonl");
    if (is_ndjson) {
        load_ndjson(&ld, &rd);
    } else {
        err = hark_cust_load_csv(&ld, &rd, size);
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
    hark_customers_free(ld.dir);
    hark_cust_table_free(&ld.ids);
    hark_cust_table_free(&ld.pool);
    free(ld.idents);
    free(ld.ident_hashes);
    free(ld.cols);
    hark_diag_cleanup(&local_diag);
    return err;
}
