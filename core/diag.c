#include "hark/diag.h"

#include <stdlib.h>
#include <string.h>

void hark_diag_init(struct hark_diag *diag)
{
    memset(diag, 0, sizeof(*diag));
}

void hark_diag_cleanup(struct hark_diag *diag)
{
    for (size_t i = 0; i < diag->n_entries; i++) {
        free(diag->entries[i].file);
        free(diag->entries[i].message);
        free(diag->entries[i].source_line);
    }
    hark_diag_init(diag);
}

void hark_diag_position(const char *text, size_t text_len, size_t offset,
                        int *line, int *column)
{
    if (offset > text_len) {
        offset = text_len;
    }
    int l = 1;
    int c = 1;
    for (size_t i = 0; i < offset; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++; /* count code points, not continuation bytes */
        }
    }
    *line = l;
    *column = c;
}

static struct hark_diag_entry *add_entry(struct hark_diag *diag,
                                         enum hark_diag_severity severity)
{
    if (severity == HARK_DIAG_ERROR) {
        diag->n_errors++;
    } else {
        diag->n_warnings++;
    }
    if (diag->n_entries >= HARK_DIAG_MAX) {
        diag->n_dropped++;
        return NULL;
    }
    struct hark_diag_entry *e = &diag->entries[diag->n_entries++];
    memset(e, 0, sizeof(*e));
    e->severity = severity;
    return e;
}

static char *vformat(const char *fmt, va_list ap) HARK_PRINTF(1, 0);

static char *vformat(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    hark_assert(n >= 0);
    char *p = hark_xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

void hark_diag_at(struct hark_diag *diag, enum hark_diag_severity severity,
                  const char *file, const char *text, size_t text_len,
                  size_t offset, const char *fmt, ...)
{
    struct hark_diag_entry *e = add_entry(diag, severity);
    if (!e) {
        return;
    }
    e->file = hark_xstrdup(file);
    va_list ap;
    va_start(ap, fmt);
    e->message = vformat(fmt, ap);
    va_end(ap);
    if (!text) {
        return;
    }
    if (offset > text_len) {
        offset = text_len;
    }
    hark_diag_position(text, text_len, offset, &e->line, &e->column);
    size_t start = offset;
    while (start > 0 && text[start - 1] != '\n') {
        start--;
    }
    size_t end = offset;
    while (end < text_len && text[end] != '\n' && text[end] != '\r') {
        end++;
    }
    e->source_line = hark_xstrndup(text + start, end - start);
}

void hark_diag_line(struct hark_diag *diag, enum hark_diag_severity severity,
                    const char *file, int line, const char *fmt, ...)
{
    struct hark_diag_entry *e = add_entry(diag, severity);
    if (!e) {
        return;
    }
    e->file = hark_xstrdup(file);
    e->line = line;
    va_list ap;
    va_start(ap, fmt);
    e->message = vformat(fmt, ap);
    va_end(ap);
}

bool hark_diag_has_errors(const struct hark_diag *diag)
{
    return diag->n_errors > 0;
}

static void print_caret(const struct hark_diag_entry *e, FILE *fp)
{
    /* Tabs are kept so the caret lines up under the same columns. */
    fprintf(fp, "    %s\n    ", e->source_line);
    const char *s = e->source_line;
    int col = 1;
    for (; *s && col < e->column; s++) {
        if (((unsigned char)*s & 0xC0) == 0x80) {
            continue;
        }
        fputc(*s == '\t' ? '\t' : ' ', fp);
        col++;
    }
    fputs("^\n", fp);
}

void hark_diag_print(const struct hark_diag *diag, FILE *fp)
{
    for (size_t i = 0; i < diag->n_entries; i++) {
        const struct hark_diag_entry *e = &diag->entries[i];
        const char *sev = e->severity == HARK_DIAG_ERROR ? "error" : "warning";
        if (e->file && e->line > 0 && e->column > 0) {
            fprintf(fp, "%s:%d:%d: %s: %s\n", e->file, e->line, e->column, sev,
                    e->message);
        } else if (e->file && e->line > 0) {
            fprintf(fp, "%s:%d: %s: %s\n", e->file, e->line, sev, e->message);
        } else if (e->file) {
            fprintf(fp, "%s: %s: %s\n", e->file, sev, e->message);
        } else {
            fprintf(fp, "%s: %s\n", sev, e->message);
        }
        if (e->source_line && e->column > 0) {
            print_caret(e, fp);
        }
    }
    if (diag->n_dropped) {
        fprintf(fp, "(%zu more problems not shown)\n", diag->n_dropped);
    }
}

void hark_diag_move(struct hark_diag *to, struct hark_diag *from)
{
    for (size_t i = 0; i < from->n_entries; i++) {
        struct hark_diag_entry *src = &from->entries[i];
        if (to->n_entries < HARK_DIAG_MAX) {
            to->entries[to->n_entries++] = *src;
        } else {
            to->n_dropped++;
            free(src->file);
            free(src->message);
            free(src->source_line);
        }
    }
    to->n_errors += from->n_errors;
    to->n_warnings += from->n_warnings;
    to->n_dropped += from->n_dropped;
    hark_diag_init(from);
}
