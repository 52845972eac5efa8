/*
 * fuzz_util: what the fuzz targets share. The libFuzzer entry point's
 * prototype, a check that aborts (so libFuzzer and the replay main both
 * report it as a crash), and a private scratch folder per process for the
 * targets whose API reads a file (config, rules, customers).
 *
 * The scratch folder is /tmp/hark-fuzz-<target>-<pid>/: relative paths an
 * input names (rule includes, config paths) resolve inside it, so a run
 * never depends on what else lives in /tmp. It is removed at exit.
 *
 * Thread: a fuzz target runs on one thread.
 */
#ifndef HARK_FUZZ_UTIL_H
#define HARK_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hark/diag.h"
#include "hark/item.h"
#include "hark/post.h"

/* NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's name */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with a report unless `is_ok` (a crash for libFuzzer too). */
static inline void
fuzz_check(bool is_ok, const char *file, int line, const char *expr)
{
    if (!is_ok) {
        (void)fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line,
                      expr);
        abort();
    }
}

/* A function call, not a branch, so checks add no cognitive complexity. */
#define FUZZ_CHECK(e) fuzz_check((e) != 0, __FILE__, __LINE__, #e)

struct fuzz_dir {
    char path[128];
    char files[8][160]; /* created inside it, removed at exit */
    size_t n_files;
};

static inline struct fuzz_dir *fuzz_dir_get(void)
{
    static struct fuzz_dir d;
    return &d;
}

static inline void fuzz_dir_remove(void)
{
    struct fuzz_dir *d = fuzz_dir_get();
    for (size_t i = 0; i < d->n_files; i++) {
        (void)unlink(d->files[i]);
    }
    (void)rmdir(d->path);
}

/* The scratch folder, created on first use. Aborts when it cannot be. */
static inline const char *fuzz_dir(const char *target)
{
    struct fuzz_dir *d = fuzz_dir_get();
    if (d->path[0] == '\0') {
        (void)snprintf(d->path, sizeof(d->path), "/tmp/hark-fuzz-%s-%ld",
                       target, (long)getpid());
        if (mkdir(d->path, 0700) != 0) {
            perror(d->path);
            abort();
        }
        (void)atexit(fuzz_dir_remove);
    }
    return d->path;
}

/*
 * Writes data[0..size) to <dir>/<name> and returns the path (static
 * storage, one per name). The file is registered for removal at exit;
 * callers unlink it after each run as well.
 */
static inline const char *
fuzz_write(const char *target, const char *name, const void *data, size_t size)
{
    struct fuzz_dir *d = fuzz_dir_get();
    const char *dir = fuzz_dir(target);
    char want[160];
    (void)snprintf(want, sizeof(want), "%s/%s", dir, name);
    size_t slot = 0;
    while (slot < d->n_files && strcmp(d->files[slot], want) != 0) {
        slot++;
    }
    FUZZ_CHECK(slot < sizeof(d->files) / sizeof(d->files[0]));
    if (slot == d->n_files) {
        memcpy(d->files[slot], want, sizeof(want));
        d->n_files++;
    }
    const char *path = d->files[slot];
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        perror(path);
        abort();
    }
    if (size > 0 && fwrite(data, 1, size, fp) != size) {
        perror(path);
        abort();
    }
    if (fclose(fp) != 0) {
        perror(path);
        abort();
    }
    return path;
}

/*
 * HARK_FUZZ_VERBOSE=1 makes targets print one line per input (what it
 * loaded or why it failed), for checking what a corpus reaches.
 */
static inline int fuzz_verbose(void)
{
    static int is_verbose = -1;
    if (is_verbose < 0) {
        const char *v = getenv("HARK_FUZZ_VERBOSE");
        is_verbose = v && *v && strcmp(v, "0") != 0;
    }
    return is_verbose;
}

/* Where diagnostics are printed (so printing is exercised, quietly). */
static inline FILE *fuzz_null(void)
{
    static FILE *fp;
    if (!fp) {
        fp = fopen("/dev/null", "w");
        FUZZ_CHECK(fp != NULL);
    }
    return fp;
}

/* Every message of a diag is a valid UTF-8 C string with a sane position. */
static inline void fuzz_check_diag(const struct hark_diag *diag)
{
    FUZZ_CHECK(diag->n_entries <= HARK_DIAG_MAX);
    for (size_t i = 0; i < diag->n_entries; i++) {
        const struct hark_diag_entry *e = &diag->entries[i];
        FUZZ_CHECK(e->message != NULL);
        FUZZ_CHECK(e->line >= 0 && e->column >= 0);
    }
    hark_diag_print(diag, fuzz_verbose() ? stderr : fuzz_null());
}

/* Whether byte offset `off` of s (len bytes) starts a UTF-8 character. */
static inline int fuzz_is_boundary(const char *s, size_t len, size_t off)
{
    return off == len || ((unsigned char)s[off] & 0xC0) != 0x80;
}

/*
 * The invariants of a filtered item: every span lies inside its field, on
 * character boundaries; every match names a rule.
 */
static inline void fuzz_check_item(const struct hark_item *item)
{
    for (size_t i = 0; i < item->n_matches; i++) {
        const struct hark_match *m = &item->matches[i];
        FUZZ_CHECK(m->rule != NULL && m->rule[0] != '\0');
        for (size_t k = 0; k < m->n_spans; k++) {
            const struct hark_span *sp = &m->spans[k];
            FUZZ_CHECK((int)sp->field >= 0 && sp->field < HARK_FIELD_COUNT_);
            const char *f = hark_post_field(item->post, sp->field);
            FUZZ_CHECK(f != NULL);
            size_t len = strlen(f);
            FUZZ_CHECK(sp->start <= sp->end);
            FUZZ_CHECK(sp->end <= len);
            FUZZ_CHECK(fuzz_is_boundary(f, len, sp->start));
            FUZZ_CHECK(fuzz_is_boundary(f, len, sp->end));
        }
    }
    for (size_t i = 0; i < item->tags.n; i++) {
        FUZZ_CHECK(item->tags.v[i] != NULL);
    }
}

#endif /* HARK_FUZZ_UTIL_H */
