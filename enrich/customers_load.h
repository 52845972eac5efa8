/*
 * customers_load: the loader's private state, shared by
 * enrich/customers_load.c (the load, fields and identities of a row, the
 * checks and commits, bad-row reports, NDJSON) and enrich/customers_csv.c
 * (reading the file; CSV through libcsv on a reader thread, its rows).
 *
 * Thread: a loader is used by the thread that called hark_customers_load;
 * only the CSV reader thread's chunks cross threads (customers_csv.c).
 */
#ifndef HARK_ENRICH_CUSTOMERS_LOAD_H
#define HARK_ENRICH_CUSTOMERS_LOAD_H

#include "customers_int.h"

enum hark_cust_col {
    HARK_CCOL_CUSTOMER_ID = 0,
    HARK_CCOL_NAME,
    HARK_CCOL_TIER,
    HARK_CCOL_SEGMENT,
    HARK_CCOL_CLV,
    HARK_CCOL_REVENUE,
    HARK_CCOL_REFERRALS,
    HARK_CCOL_RECOMMENDATIONS,
    HARK_CCOL_INTRODUCTIONS,
    HARK_CCOL_POSITIVE,
    HARK_CCOL_PLATFORM,
    HARK_CCOL_HANDLE,
    HARK_CCOL_IDENTITIES,
    HARK_CCOL_COUNT_
};

/* Lines out of one large buffer refilled with read(). */
struct hark_cust_reader {
    int fd;
    char *buf;
    size_t cap;
    size_t start;   /* the next line begins here */
    size_t end;     /* bytes in buf */
    size_t buf_off; /* of buf[0] in the file */
    bool is_eof;
    int read_errno; /* 0, or why a read failed */
};

/*
 * A parsed row without problems, waiting to be checked against the index
 * and committed (see hark_cust_flush). Its strings point into the loader's
 * `fields` (CSV) and its identities are idents[first_ident ..][0 .. n_idents).
 */
struct hark_cust_pending {
    struct hark_cust_rec rec;
    uint64_t id_hash;
    size_t first_ident;
    size_t n_idents;
    int line;
};

enum { HARK_CUST_PENDING_MAX = 32 };

struct hark_cust_loader {
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
    size_t n_lines;        /* of the file, estimated before loading */
    size_t n_colons;
    size_t file_size; /* 0 when unknown */

    struct hark_cust_rec row;
    uint64_t id_hash;               /* of row.id */
    struct hark_cust_ident *idents; /* of the pending rows, then this one */
    uint64_t *ident_hashes;         /* of idents[i] */
    size_t n_idents;
    size_t cap_idents;
    size_t row_ident; /* where the current row's identities start */
    struct hark_cust_pending pending[HARK_CUST_PENDING_MAX];
    size_t n_pending;
    bool is_flushing;
    bool is_row_unread; /* the rows before this one stopped the load */
    char id_buf[32];    /* an NDJSON integer customer_id */

    /* CSV: the current row, in a chunk (see hark_cust_load_csv) */
    bool has_header;
    int *cols; /* header position -> enum hark_cust_col, or -1 */
    size_t n_cols;
    const char *row_text;
    const size_t *row_off; /* of each field in row_text */
    const size_t *row_len;
    size_t n_fields;
    bool is_ascii; /* every line of the row is ASCII */
    size_t n_done; /* bytes of the file whose rows were taken */
};

/* The header names of the known columns, by enum hark_cust_col. */
extern const char *const hark_cust_col_names[HARK_CCOL_COUNT_];

/* ---- customers_load.c ----------------------------------------------- */

/* Whether the load stops: a fatal problem, or HARK_DIAG_MAX errors. */
bool hark_cust_should_stop(const struct hark_cust_loader *ld);

/*
 * Reports a problem of the current row at ld->line (an error with REJECT,
 * a warning with SKIP) and marks the row bad. The pending rows are
 * committed first, so reports keep the file's order.
 */
void hark_cust_report(struct hark_cust_loader *ld, const char *fmt, ...)
    HARK_PRINTF(2, 3);

/* A problem with the whole file: the load fails whatever on_bad_row says. */
void hark_cust_fatal(struct hark_cust_loader *ld,
                     int line,
                     const char *fmt,
                     ...) HARK_PRINTF(3, 4);

/*
 * A row: begin_row clears ld->row and its identities; the fields go into
 * ld->row (id_known once ld->row.id is set) and the identities through
 * the two parse functions; end_row queues it when it had no problem.
 * Queued rows point into their input: it must stay until hark_cust_flush
 * has committed them.
 */
void hark_cust_begin_row(struct hark_cust_loader *ld);
void hark_cust_id_known(struct hark_cust_loader *ld);
void hark_cust_num_field(struct hark_cust_loader *ld,
                         enum hark_cust_col col,
                         struct hark_str v,
                         double *out);
void hark_cust_count_field(struct hark_cust_loader *ld,
                           enum hark_cust_col col,
                           struct hark_str v,
                           uint32_t *out);
/* "a;b;c": every non-empty piece is an identity. */
void hark_cust_ident_list_parse(struct hark_cust_loader *ld,
                                const char *s,
                                size_t len);
/* The `platform` + `handle` columns. */
void hark_cust_ident_columns_parse(struct hark_cust_loader *ld,
                                   struct hark_str platform,
                                   struct hark_str handle);
void hark_cust_end_row(struct hark_cust_loader *ld);

/* Checks and commits the queued rows, in order. */
void hark_cust_flush(struct hark_cust_loader *ld);

/* ASCII case-insensitive equality of n bytes. */
bool hark_cust_eq_nocase(const char *a, const char *b, size_t n);

/* ---- customers_csv.c ------------------------------------------------ */

/*
 * The next line (with its '\n', if any) in *s, *len; false at the end of
 * the file or on a read error (r->read_errno). *s is valid until the next
 * call.
 */
bool hark_cust_next_line(struct hark_cust_reader *r,
                         const char **s,
                         size_t *len);

/* Whether s[0..len) has anything but blanks and line ends. */
bool hark_cust_has_content(const char *s, size_t len);

/*
 * Loads a CSV of `size` bytes (0 if unknown) from `rd` into ld->dir; the
 * problems are in ld. HARK_EINTERNAL when libcsv cannot start.
 */
HARK_MUST_CHECK hark_err_t hark_cust_load_csv(struct hark_cust_loader *ld,
                                              struct hark_cust_reader *rd,
                                              size_t size);

#endif /* HARK_ENRICH_CUSTOMERS_LOAD_H */
