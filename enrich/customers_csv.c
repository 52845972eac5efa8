/*
 * customers_csv: reading a customer file, and loading a CSV with libcsv
 * (see customers_load.c for the columns and the decisions about bad rows).
 *
 * Lines: CSV is fed to libcsv one physical line at a time; a row starts on
 * the first line with content while no row is open, and stays open (a
 * quoted field with a line break) until libcsv reports its end. Every
 * problem of a row is reported at the line where the row starts.
 *
 * Thread: hark_cust_load_csv runs on the loading thread and starts one
 * reader thread for the file's bytes (below), joined before it returns.
 */
#include <csv.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "customers_load.h"

/* ---- reading -------------------------------------------------------- */

enum { READ_CHUNK = 256 * 1024 }; /* stays in L2 between read and parse */

/*
 * The next line (with its '\n', if any) in *s, *len; false at the end of
 * the file or on a read error (r->read_errno). *s is valid until the next
 * call.
 */
bool hark_cust_next_line(struct hark_cust_reader *r,
                         const char **s,
                         size_t *len)
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
        if (r->end > r->start) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
        }
        r->buf_off += r->start;
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

bool hark_cust_has_content(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            return true;
        }
    }
    return false;
}

/* ---- CSV: splitting (the reader thread) ----------------------------- */

/*
 * A CSV is read in two stages. The reader thread reads the file and runs
 * libcsv over it, one physical line at a time (to number the lines), and
 * packs what libcsv reports into chunks: fields and rows, or a marker
 * where libcsv failed. The calling thread takes the chunks in order and
 * does everything else: header, fields, identities, checks, commits,
 * reports. Reading and libcsv are about 40% of a load's CPU time (1M
 * rows: 0.8 s of 1.9 s), so with a second core free the load takes the
 * calling thread's share; the problems are found and reported by one
 * thread in the file's order, the same as when it all ran on one.
 *
 * A small file (or when no thread can be had) is split on the calling
 * thread, each chunk handed over as soon as it is full.
 */

enum crow_kind {
    CROW_ROW = 0,      /* a row (the first one is the header) */
    CROW_MALFORMED,    /* libcsv stopped at bad quoting in this line */
    CROW_UNTERMINATED, /* the file ended inside a quoted field */
};

struct crow {
    enum crow_kind kind;
    int line;      /* where the row starts */
    bool is_ascii; /* every line of the row is ASCII */
    size_t first_field;
    size_t n_fields;
};

struct chunk {
    struct hark_buf text; /* the fields, each NUL-terminated */
    size_t *field_off;    /* of each field in text */
    size_t *field_len;
    size_t n_fields;
    size_t cap_fields;
    struct crow *rows;
    size_t n_rows;
    size_t cap_rows;
    size_t file_off; /* bytes of the file split when it was handed over */
    bool is_last;
};

enum {
    N_CHUNKS = 3,
    CHUNK_ROWS = 4096,
    CHUNK_TEXT = 512 * 1024,
    SPLIT_THREAD_MIN = 256 * 1024, /* smaller files: no thread */
};

struct splitter {
    struct hark_cust_loader *ld;
    struct hark_cust_reader *rd;
    struct csv_parser parser;
    bool is_row_open;
    bool has_row_ended;
    bool is_ascii;
    int row_line;
    int phys;
    struct chunk *cur; /* being filled */
    size_t row_first;  /* the open row's first field in cur */

    /* the hand-over, under `mu` (threaded) */
    bool is_threaded;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct chunk chunks[N_CHUNKS];
    bool is_full[N_CHUNKS];
    size_t next_fill;
    size_t next_take;
    bool is_stopped; /* the taker wants no more */
    bool is_internal_error;
};

static void consume_chunk(struct hark_cust_loader *ld, struct chunk *c);

static void chunk_reset(struct chunk *c)
{
    hark_buf_reset(&c->text);
    c->n_fields = 0;
    c->n_rows = 0;
    c->is_last = false;
}

static void chunk_cleanup(struct chunk *c)
{
    hark_buf_cleanup(&c->text);
    free(c->field_off);
    free(c->field_len);
    free(c->rows);
}

static void on_field(void *data, size_t len, void *arg)
{
    struct splitter *sp = arg;
    struct chunk *c = sp->cur;
    if (c->n_fields == c->cap_fields) {
        c->cap_fields = c->cap_fields ? c->cap_fields * 2 : 4096;
        c->field_off =
            hark_xrealloc(c->field_off, c->cap_fields * sizeof(size_t));
        c->field_len =
            hark_xrealloc(c->field_len, c->cap_fields * sizeof(size_t));
    }
    struct hark_buf *b = &c->text;
    c->field_off[c->n_fields] = b->len;
    c->field_len[c->n_fields] = len;
    c->n_fields++;
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

static void add_crow(struct splitter *sp, enum crow_kind kind)
{
    struct chunk *c = sp->cur;
    if (c->n_rows == c->cap_rows) {
        c->cap_rows = c->cap_rows ? c->cap_rows * 2 : CHUNK_ROWS + 16;
        c->rows = hark_xrealloc(c->rows, c->cap_rows * sizeof(*c->rows));
    }
    c->rows[c->n_rows++] = (struct crow){
        .kind = kind,
        .line = sp->row_line,
        .is_ascii = sp->is_ascii,
        .first_field = sp->row_first,
        .n_fields = kind == CROW_ROW ? c->n_fields - sp->row_first : 0,
    };
    sp->row_first = c->n_fields;
}

static void on_row(int ch, void *arg)
{
    (void)ch;
    struct splitter *sp = arg;
    sp->has_row_ended = true;
    add_crow(sp, CROW_ROW);
}

/* Drops the fields of the open row (libcsv gave up on it). */
static void drop_open_row(struct splitter *sp)
{
    struct chunk *c = sp->cur;
    if (sp->row_first < c->n_fields) {
        c->text.len = c->field_off[sp->row_first];
        c->text.ptr[c->text.len] = '\0';
        c->n_fields = sp->row_first;
    }
}

/*
 * Hands the filled chunk over and takes an empty one; false when the
 * taker wants no more.
 */
static bool hand_over(struct splitter *sp, bool is_last)
{
    sp->cur->is_last = is_last;
    sp->cur->file_off = sp->rd->buf_off + sp->rd->start;
    if (!sp->is_threaded) {
        consume_chunk(sp->ld, sp->cur);
        chunk_reset(sp->cur);
        sp->row_first = 0;
        return !hark_cust_should_stop(sp->ld);
    }
    pthread_mutex_lock(&sp->mu);
    sp->is_full[sp->next_fill] = true;
    sp->next_fill = (sp->next_fill + 1) % N_CHUNKS;
    pthread_cond_broadcast(&sp->cv);
    while (sp->is_full[sp->next_fill] && !sp->is_stopped) {
        pthread_cond_wait(&sp->cv, &sp->mu);
    }
    bool is_stopped = sp->is_stopped;
    pthread_mutex_unlock(&sp->mu);
    sp->cur = &sp->chunks[sp->next_fill];
    chunk_reset(sp->cur);
    sp->row_first = 0;
    return !is_stopped;
}

enum { CSV_OPTS = CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL };

/* Splits the whole file into chunks; false on a libcsv failure. */
static bool split(struct splitter *sp)
{
    const char *s = NULL;
    size_t len = 0;
    bool is_more = true;
    while (is_more && hark_cust_next_line(sp->rd, &s, &len)) {
        sp->phys++;
        if (sp->phys == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3;
            len -= 3;
        }
        if (!sp->is_row_open) {
            sp->row_line = sp->phys;
        }
        /* an ASCII row needs no UTF-8 check */
        sp->is_ascii = is_ascii(s, len) && (sp->is_ascii || !sp->is_row_open);
        sp->has_row_ended = false;
        if (csv_parse(&sp->parser, s, len, on_field, on_row, sp) != len) {
            /* drop the rest of the row and go on at the next line */
            drop_open_row(sp);
            add_crow(sp, CROW_MALFORMED);
            csv_free(&sp->parser);
            if (csv_init(&sp->parser, CSV_OPTS) != 0) {
                return false;
            }
            sp->is_row_open = false;
        } else {
            sp->is_row_open =
                (sp->is_row_open || hark_cust_has_content(s, len)) &&
                !sp->has_row_ended;
        }
        if (!sp->is_row_open && (sp->cur->n_rows >= CHUNK_ROWS ||
                                 sp->cur->text.len >= CHUNK_TEXT)) {
            is_more = hand_over(sp, false);
        }
    }
    if (is_more) {
        sp->has_row_ended = false;
        if (csv_fini(&sp->parser, on_field, on_row, sp) != 0) {
            drop_open_row(sp);
            add_crow(sp, CROW_UNTERMINATED);
        }
        (void)hand_over(sp, true);
    }
    return true;
}

static void *split_main(void *arg)
{
    struct splitter *sp = arg;
    if (!split(sp)) {
        pthread_mutex_lock(&sp->mu);
        sp->is_internal_error = true;
        pthread_mutex_unlock(&sp->mu);
    }
    /* the taker may wait for a chunk that will never come */
    pthread_mutex_lock(&sp->mu);
    sp->is_stopped = true;
    pthread_cond_broadcast(&sp->cv);
    pthread_mutex_unlock(&sp->mu);
    return NULL;
}

/* ---- CSV: rows (the calling thread) --------------------------------- */

static struct hark_str field(const struct hark_cust_loader *ld, size_t i)
{
    return (struct hark_str){ld->row_text + ld->row_off[i], ld->row_len[i]};
}

static void csv_header(struct hark_cust_loader *ld)
{
    ld->has_header = true;
    ld->n_cols = ld->n_fields;
    ld->cols = hark_xcalloc(ld->n_cols ? ld->n_cols : 1, sizeof(*ld->cols));
    bool seen[HARK_CCOL_COUNT_] = {false};
    for (size_t i = 0; i < ld->n_fields; i++) {
        struct hark_str f = field(ld, i);
        ld->cols[i] = -1;
        for (int c = 0; c < HARK_CCOL_COUNT_; c++) {
            if (strlen(hark_cust_col_names[c]) == f.len &&
                hark_cust_eq_nocase(hark_cust_col_names[c], f.ptr, f.len)) {
                ld->cols[i] = c;
            }
        }
        if (ld->cols[i] < 0) {
            continue;
        }
        if (seen[ld->cols[i]]) {
            hark_cust_fatal(ld, ld->line,
                            "column \"%s\" appears twice in the header",
                            hark_cust_col_names[ld->cols[i]]);
        }
        seen[ld->cols[i]] = true;
    }
    if (!seen[HARK_CCOL_CUSTOMER_ID]) {
        hark_cust_fatal(ld, ld->line,
                        "the header has no \"customer_id\" column");
    }
    if (seen[HARK_CCOL_PLATFORM]) { /* one identity a row besides the colons */
        hark_cust_table_reserve(&ld->dir->idents,
                                ld->dir->idents.n + ld->n_colons + ld->n_lines);
    }
    if (seen[HARK_CCOL_PLATFORM] != seen[HARK_CCOL_HANDLE]) {
        hark_cust_fatal(ld, ld->line,
                        "the header has a \"%s\" column but no \"%s\" column",
                        seen[HARK_CCOL_PLATFORM] ? "platform" : "handle",
                        seen[HARK_CCOL_PLATFORM] ? "handle" : "platform");
    }
}

static void csv_row(struct hark_cust_loader *ld)
{
    hark_cust_begin_row(ld);
    struct hark_str v[HARK_CCOL_COUNT_];
    memset(v, 0, sizeof(v));
    if (ld->n_fields > ld->n_cols) {
        hark_cust_report(ld, "the row has %zu fields; the header has %zu",
                         ld->n_fields, ld->n_cols);
        return;
    }
    for (size_t i = 0; i < ld->n_fields; i++) {
        struct hark_str f = field(ld, i);
        if (ld->cols[i] < 0) {
            continue;
        }
        if (!ld->is_ascii && !hark_utf8_valid(f.ptr, f.len)) {
            hark_cust_report(ld, "%s is not valid UTF-8",
                             hark_cust_col_names[ld->cols[i]]);
            continue;
        }
        v[ld->cols[i]] = f;
    }
    ld->row.id = v[HARK_CCOL_CUSTOMER_ID];
    ld->row.name = v[HARK_CCOL_NAME];
    ld->row.tier = v[HARK_CCOL_TIER];
    ld->row.segment = v[HARK_CCOL_SEGMENT];
    hark_cust_id_known(ld);
    hark_cust_num_field(ld, HARK_CCOL_CLV, v[HARK_CCOL_CLV], &ld->row.clv);
    hark_cust_num_field(ld, HARK_CCOL_REVENUE, v[HARK_CCOL_REVENUE],
                        &ld->row.revenue_12m);
    for (int i = 0; i < HARK_CUST_N_COUNTS; i++) {
        hark_cust_count_field(ld, (enum hark_cust_col)(HARK_CCOL_REFERRALS + i),
                              v[HARK_CCOL_REFERRALS + i], &ld->row.counts[i]);
    }
    hark_cust_ident_columns_parse(ld, v[HARK_CCOL_PLATFORM],
                                  v[HARK_CCOL_HANDLE]);
    hark_cust_ident_list_parse(ld, v[HARK_CCOL_IDENTITIES].ptr,
                               v[HARK_CCOL_IDENTITIES].len);
    hark_cust_end_row(ld);
}

static void csv_malformed(struct hark_cust_loader *ld, const char *what)
{
    if (!ld->has_header) {
        hark_cust_fatal(ld, ld->line, "%s in the header", what);
    } else {
        hark_cust_begin_row(ld);
        hark_cust_report(ld, "%s", what);
    }
}

/*
 * Takes a chunk's rows in order. Pending rows point into the chunk, so
 * they are committed before it goes back.
 */
static void consume_chunk(struct hark_cust_loader *ld, struct chunk *c)
{
    for (size_t i = 0; i < c->n_rows && !hark_cust_should_stop(ld); i++) {
        const struct crow *r = &c->rows[i];
        ld->line = r->line;
        switch (r->kind) {
        case CROW_ROW:
            ld->is_ascii = r->is_ascii;
            ld->row_text = c->text.ptr;
            ld->row_off = c->field_off + r->first_field;
            ld->row_len = c->field_len + r->first_field;
            ld->n_fields = r->n_fields;
            if (!ld->has_header) {
                csv_header(ld);
            } else {
                csv_row(ld);
            }
            break;
        case CROW_MALFORMED:
            csv_malformed(ld, "malformed quoting: a quote inside an "
                              "unquoted field, or text after a closing "
                              "quote");
            break;
        default:
            csv_malformed(ld, "unterminated quoted field at the end of the "
                              "file");
            break;
        }
    }
    hark_cust_flush(ld);
    ld->n_done = c->file_off;
    if (c->is_last && !hark_cust_should_stop(ld) && !ld->has_header &&
        !ld->is_fatal) {
        hark_cust_fatal(ld, 0, "the file is empty; expected a header row");
    }
}

hark_err_t hark_cust_load_csv(struct hark_cust_loader *ld,
                              struct hark_cust_reader *rd,
                              size_t size)
{
    struct splitter *sp = hark_xcalloc(1, sizeof(*sp));
    hark_err_t err = HARK_OK;
    sp->ld = ld;
    sp->rd = rd;
    sp->cur = &sp->chunks[0];
    if (csv_init(&sp->parser, CSV_OPTS) != 0) {
        free(sp);
        return HARK_EINTERNAL;
    }
    pthread_t thread;
    if (size >= SPLIT_THREAD_MIN) {
        pthread_mutex_init(&sp->mu, NULL);
        pthread_cond_init(&sp->cv, NULL);
        /* Set before the thread starts: it reads it (a race otherwise,
         * found by ThreadSanitizer, in which the reader could take the
         * one-thread path and consume chunks itself). */
        sp->is_threaded = true;
        if (pthread_create(&thread, NULL, split_main, sp) != 0) {
            sp->is_threaded = false;
            pthread_mutex_destroy(&sp->mu);
            pthread_cond_destroy(&sp->cv);
        }
    }
    if (!sp->is_threaded) {
        err = split(sp) ? HARK_OK : HARK_EINTERNAL;
    } else {
        for (;;) {
            pthread_mutex_lock(&sp->mu);
            while (!sp->is_full[sp->next_take] && !sp->is_stopped) {
                pthread_cond_wait(&sp->cv, &sp->mu);
            }
            bool has_chunk = sp->is_full[sp->next_take];
            pthread_mutex_unlock(&sp->mu);
            if (!has_chunk) {
                break; /* the splitter is done */
            }
            struct chunk *c = &sp->chunks[sp->next_take];
            consume_chunk(ld, c);
            bool is_last = c->is_last;
            pthread_mutex_lock(&sp->mu);
            sp->is_full[sp->next_take] = false;
            sp->next_take = (sp->next_take + 1) % N_CHUNKS;
            if (is_last || hark_cust_should_stop(ld)) {
                sp->is_stopped = true;
            }
            pthread_cond_broadcast(&sp->cv);
            pthread_mutex_unlock(&sp->mu);
            if (is_last || hark_cust_should_stop(ld)) {
                break;
            }
        }
        pthread_join(thread, NULL);
        err = sp->is_internal_error ? HARK_EINTERNAL : HARK_OK;
        pthread_mutex_destroy(&sp->mu);
        pthread_cond_destroy(&sp->cv);
    }
    csv_free(&sp->parser);
    for (int i = 0; i < N_CHUNKS; i++) {
        chunk_cleanup(&sp->chunks[i]);
    }
    free(sp);
    return err;
}
