/*
 * customers: loading the customer directory from CSV (libcsv) or NDJSON.
 *
 * Both formats stream the file line by line (getline), so a 10M-row file
 * needs memory only for the directory itself (see customers_int.h for its
 * layout). A row is first parsed into `struct row` and the loader's scratch
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
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct loader {
    struct hark_customers *dir;
    const char *path;
    struct hark_diag *diag;
    enum hark_bad_row on_bad_row;
    int line;              /* where the current row starts */
    size_t n_errors;       /* errors that fail the load */
    size_t n_row_problems; /* problems of the current row */
    bool is_fatal;         /* header or size problem: stop, fail */

    struct row row;
    struct hark_cust_ident *idents;
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

/* Appends s[0..len) (folded to lowercase when asked) and a NUL. */
static bool arena_add(
    struct loader *ld, const char *s, size_t len, bool is_folded, uint32_t *off)
{
    struct hark_customers *dir = ld->dir;
    if (dir->arena_len + len + 1 > UINT32_MAX) {
        fatal(ld, ld->line,
              "the customer directory holds more than 4 GiB of text");
        return false;
    }
    if (dir->arena_len + len + 1 > dir->arena_cap) {
        size_t cap = dir->arena_cap ? dir->arena_cap : 4096;
        while (cap < dir->arena_len + len + 1) {
            cap *= 2;
        }
        dir->arena = hark_xrealloc(dir->arena, cap);
        dir->arena_cap = cap;
    }
    char *p = dir->arena + dir->arena_len;
    if (is_folded) {
        for (size_t i = 0; i < len; i++) {
            p[i] = lower(s[i]);
        }
    } else if (len) {
        memcpy(p, s, len);
    }
    p[len] = '\0';
    *off = (uint32_t)dir->arena_len;
    dir->arena_len += len + 1;
    return true;
}

/* ---- fields --------------------------------------------------------- */

static void ident_push(struct loader *ld, const struct hark_cust_ident *id)
{
    if (ld->n_idents == ld->cap_idents) {
        ld->cap_idents = ld->cap_idents ? ld->cap_idents * 2 : 8;
        ld->idents =
            hark_xrealloc(ld->idents, ld->cap_idents * sizeof(*ld->idents));
    }
    ld->idents[ld->n_idents++] = *id;
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

/* A decimal number; `s` is NUL-terminated at s[len]. */
static bool parse_number(const char *s, size_t len, double *out)
{
    if (len == 0) {
        return false;
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

static const char *cust_id_at(const struct hark_customers *dir, uint32_t i)
{
    return dir->arena + dir->custs[i].strs.off;
}

static uint32_t ident_hash(const struct hark_cust_ident *id)
{
    return hark_cust_key_hash(id->platform, id->kind, &id->val, 1);
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
    uint32_t id_hash =
        hark_cust_key_hash(HARK_CPLAT_NONE, HARK_CKIND_CUSTOMER_ID, &id, 1);
    if (hark_cust_index_find(dir, HARK_CPLAT_NONE, HARK_CKIND_CUSTOMER_ID, &id,
                             1, id_hash)) {
        report(ld, "duplicate customer_id \"%.*s\"", (int)id.len, id.ptr);
    }
    for (size_t i = 0; i < ld->n_idents; i++) {
        const struct hark_cust_ident *ident = &ld->idents[i];
        const struct hark_cust_entry *e =
            hark_cust_index_find(dir, ident->platform, ident->kind, &ident->val,
                                 1, ident_hash(ident));
        if (e) {
            report(ld,
                   "identity \"%.*s%s%.*s\" of customer \"%.*s\" is already "
                   "claimed by customer \"%s\"",
                   (int)ident->disp.len, ident->disp.ptr, ident->disp_sep,
                   (int)ident->disp2.len, ident->disp2.ptr, (int)id.len, id.ptr,
                   cust_id_at(dir, e->cust));
        }
    }
    if (ld->n_row_problems > 0) {
        return;
    }
    if (dir->n_custs >= UINT32_MAX - 1) {
        fatal(ld, ld->line, "more than %" PRIu32 " customers", UINT32_MAX - 1);
        return;
    }
    uint32_t off = 0;
    uint32_t unused = 0;
    if (!arena_add(ld, id.ptr, id.len, false, &off)) {
        return;
    }
    for (size_t i = 1; i < N_STRS; i++) {
        if (!arena_add(ld, row->strs[i].ptr, row->strs[i].len, false,
                       &unused)) {
            return;
        }
    }
    if (dir->n_custs == dir->cap_custs) {
        dir->cap_custs = dir->cap_custs ? dir->cap_custs * 2 : 1024;
        dir->custs =
            hark_xrealloc(dir->custs, dir->cap_custs * sizeof(*dir->custs));
    }
    uint32_t cust_index = (uint32_t)dir->n_custs;
    struct hark_customer *cust = &dir->custs[dir->n_custs++];
    memset(cust, 0, sizeof(*cust));
    cust->strs.off = off;
    cust->clv = row->clv;
    cust->revenue_12m = row->revenue_12m;
    cust->referrals = row->counts[0];
    cust->recommendations = row->counts[1];
    cust->introductions = row->counts[2];
    cust->positive_mentions = row->counts[3];
    hark_cust_index_add(dir, HARK_CPLAT_NONE, HARK_CKIND_CUSTOMER_ID, off,
                        cust_index, id_hash);
    for (size_t i = 0; i < ld->n_idents; i++) {
        const struct hark_cust_ident *ident = &ld->idents[i];
        if (ident_repeats(ld, i)) {
            continue;
        }
        uint32_t val_off = 0;
        if (!arena_add(ld, ident->val.ptr, ident->val.len,
                       ident->kind == HARK_CKIND_HANDLE, &val_off)) {
            return;
        }
        hark_cust_index_add(dir, ident->platform, ident->kind, val_off,
                            cust_index, ident_hash(ident));
    }
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
    /* the scratch buffer is unbounded: these cannot fail */
    hark_err_t err = hark_buf_add(&ld->fields, data ? data : "", len);
    err = err == HARK_OK ? hark_buf_addc(&ld->fields, '\0') : err;
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
        if (!hark_utf8_valid(f.ptr, f.len)) {
            report(ld, "%s is not valid UTF-8", col_names[ld->cols[i]]);
            continue;
        }
        v[ld->cols[i]] = f;
    }
    for (int i = 0; i < N_STRS; i++) {
        ld->row.strs[i] = v[i];
    }
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

static hark_err_t load_csv(struct loader *ld, FILE *fp)
{
    struct csv_parser parser;
    if (csv_init(&parser, CSV_OPTS) != 0) {
        return HARK_EINTERNAL;
    }
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t n;
    int phys = 0;
    while (!should_stop(ld) && (n = getline(&line, &line_cap, fp)) > 0) {
        const char *s = line;
        size_t len = (size_t)n;
        phys++;
        if (phys == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3;
            len -= 3;
        }
        if (!ld->is_row_open) {
            ld->line = phys;
        }
        ld->has_row_ended = false;
        if (csv_parse(&parser, s, len, csv_on_field, csv_on_row, ld) != len) {
            csv_malformed(ld, "malformed quoting: a quote inside an unquoted "
                              "field, or text after a closing quote");
            /* drop the rest of the row and go on at the next line */
            csv_free(&parser);
            if (csv_init(&parser, CSV_OPTS) != 0) {
                free(line);
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
    bool is_read_error = ferror(fp) != 0;
    int read_errno = errno;
    free(line);
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
    if (is_read_error) {
        hark_diag_line(ld->diag, HARK_DIAG_ERROR, NULL, 0, "read(\"%s\"): %s",
                       ld->path, strerror(read_errno));
        return HARK_EIO;
    }
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

static hark_err_t load_ndjson(struct loader *ld, FILE *fp)
{
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t n;
    int phys = 0;
    while (!should_stop(ld) && (n = getline(&line, &line_cap, fp)) > 0) {
        const char *s = line;
        size_t len = (size_t)n;
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
    bool is_read_error = ferror(fp) != 0;
    int read_errno = errno;
    free(line);
    if (is_read_error) {
        hark_diag_line(ld->diag, HARK_DIAG_ERROR, NULL, 0, "read(\"%s\"): %s",
                       ld->path, strerror(read_errno));
        return HARK_EIO;
    }
    return HARK_OK;
}

/* ---- load ----------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t m = strlen(suffix);
    return n >= m && eq_nocase(s + n - m, suffix, m);
}

/* Makes the directory immutable: exact sizes, record pointers. */
static void finish(struct hark_customers *dir)
{
    /* (copying the arena into huge pages measured no faster, and would
     * double its peak memory) */
    dir->arena = hark_xrealloc(dir->arena, dir->arena_len);
    dir->arena_cap = dir->arena_len;
    if (dir->n_custs) {
        dir->custs =
            hark_xrealloc(dir->custs, dir->n_custs * sizeof(*dir->custs));
        dir->cap_custs = dir->n_custs;
    }
    for (size_t i = 0; i < dir->n_custs; i++) {
        size_t off = dir->custs[i].strs.off;
        dir->custs[i].strs.ptr = dir->arena + off;
    }
}

hark_err_t hark_customers_load(const char *path,
                               enum hark_bad_row on_bad_row,
                               struct hark_diag *diag,
                               struct hark_customers **out)
{
    struct hark_diag local_diag;
    struct loader ld;
    FILE *fp = NULL;
    hark_err_t err = HARK_OK;
    *out = NULL;
    hark_diag_init(&local_diag);
    memset(&ld, 0, sizeof(ld));
    hark_buf_init(&ld.fields, 0);
    ld.path = path;
    ld.diag = diag ? diag : &local_diag;
    ld.on_bad_row = on_bad_row;
    fp = fopen(path, "rb");
    if (!fp) {
        hark_diag_line(ld.diag, HARK_DIAG_ERROR, NULL, 0, "open(\"%s\"): %s",
                       path, strerror(errno));
        err = HARK_EIO;
        goto fail;
    }
    ld.dir = hark_xcalloc(1, sizeof(*ld.dir));
    uint32_t none = 0;
    bool is_added = arena_add(&ld, "", 0, false, &none); /* offset 0: "" */
    hark_assert(is_added && none == 0);
    bool is_ndjson = ends_with(path, ".ndjson") || ends_with(path, ".jsonl");
    err = is_ndjson ? load_ndjson(&ld, fp) : load_csv(&ld, fp);
    if (err != HARK_OK) {
        goto fail;
    }
    if (ld.is_fatal || ld.n_errors > 0) {
        err = HARK_EINVAL;
        goto fail;
    }
    finish(ld.dir);
    *out = ld.dir;
    ld.dir = NULL;
fail:
    if (fp) {
        fclose(fp);
    }
    if (ld.dir) {
        /* not finished: the records still hold offsets, nothing to fix */
        free(ld.dir->arena);
        free(ld.dir->custs);
        hark_cust_index_free(ld.dir);
        free(ld.dir);
    }
    free(ld.idents);
    free(ld.cols);
    free(ld.field_off);
    free(ld.field_len);
    hark_buf_cleanup(&ld.fields);
    hark_diag_cleanup(&local_diag);
    return err;
}

void hark_customers_free(struct hark_customers *dir)
{
    if (!dir) {
        return;
    }
    free(dir->arena);
    free(dir->custs);
    hark_cust_index_free(dir);
    free(dir);
}

size_t hark_customers_count(const struct hark_customers *dir)
{
    return dir ? dir->n_custs : 0;
}

static char *dup_or_null(const char *s)
{
    return *s ? hark_xstrdup(s) : NULL;
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
    const char *id = cust->strs.ptr;
    const char *name = id + strlen(id) + 1;
    const char *tier = name + strlen(name) + 1;
    const char *segment = tier + strlen(tier) + 1;
    view->id = hark_xstrdup(id);
    view->name = dup_or_null(name);
    view->tier = dup_or_null(tier);
    view->segment = dup_or_null(segment);
    view->clv = cust->clv;
    view->revenue_12m = cust->revenue_12m;
    view->referrals = cust->referrals;
    view->recommendations = cust->recommendations;
    view->introductions = cust->introductions;
    view->positive_mentions = cust->positive_mentions;
    view->is_handle_match = is_handle_match;
    view->export_mask = export_mask;
}
