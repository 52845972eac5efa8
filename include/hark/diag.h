/*
 * diag: collects the problems found in a config, rule or customer file and
 * prints each as
 *
 *     rules/acme.json:12:23: error: unknown action "engae"; expected ...
 *         "action": "engae",
 *                   ^
 *
 * Lines and columns are 1-based; columns count characters (UTF-8 code
 * points). At most HARK_DIAG_MAX problems are kept; the rest are counted.
 *
 * Thread: a diag belongs to one thread at a time.
 */
#ifndef HARK_DIAG_H
#define HARK_DIAG_H

#include <stdio.h>

#include "hark/common.h"

#define HARK_DIAG_MAX 50

enum hark_diag_severity { HARK_DIAG_ERROR, HARK_DIAG_WARNING };

struct hark_diag_entry {
    enum hark_diag_severity severity;
    char *file;    /* may be NULL (no file) */
    int line;      /* 0 = no position */
    int column;    /* 0 = no column (customer rows) */
    char *message;
    char *source_line; /* the line's text without newline, or NULL */
};

struct hark_diag {
    struct hark_diag_entry entries[HARK_DIAG_MAX];
    size_t n_entries;
    size_t n_errors;   /* all errors, including those past the cap */
    size_t n_warnings;
    size_t n_dropped;
};

void hark_diag_init(struct hark_diag *diag);
void hark_diag_cleanup(struct hark_diag *diag);

/*
 * Adds a problem at byte `offset` of `text` (the whole file, `text_len`
 * bytes), computing line, column and the source line. `text` may be NULL
 * (no position).
 */
void hark_diag_at(struct hark_diag *diag, enum hark_diag_severity severity,
                  const char *file, const char *text, size_t text_len,
                  size_t offset, const char *fmt, ...) HARK_PRINTF(7, 8);

/* Adds a problem with an explicit line (column 0 = none), no source line. */
void hark_diag_line(struct hark_diag *diag, enum hark_diag_severity severity,
                    const char *file, int line, const char *fmt, ...)
    HARK_PRINTF(5, 6);

/* Converts a byte offset to a 1-based line and character column. */
void hark_diag_position(const char *text, size_t text_len, size_t offset,
                        int *line, int *column);

bool hark_diag_has_errors(const struct hark_diag *diag);

/* Prints every entry with its caret line; then "(N more problems)". */
void hark_diag_print(const struct hark_diag *diag, FILE *fp);

/* Moves every entry of `from` to the end of `to`; `from` is left empty. */
void hark_diag_move(struct hark_diag *to, struct hark_diag *from);

#endif /* HARK_DIAG_H */
