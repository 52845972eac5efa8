/*
 * common: error codes, always-on assertions, aborting allocators, string
 * slices and a bounded growable buffer. Used by every module.
 *
 * Thread: every function here may be called from any thread.
 */
#ifndef HARK_COMMON_H
#define HARK_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HARK_VERSION "0.1.0"

#if defined(__GNUC__)
#    define HARK_MUST_CHECK      __attribute__((warn_unused_result))
#    define HARK_PRINTF(fmt, va) __attribute__((format(printf, fmt, va)))
#    define HARK_NORETURN        __attribute__((noreturn))
#else
#    define HARK_MUST_CHECK
#    define HARK_PRINTF(fmt, va)
#    define HARK_NORETURN
#endif

typedef enum {
    HARK_OK = 0,
    HARK_EINVAL,   /* bad input */
    HARK_EIO,      /* I/O failed */
    HARK_EAGAIN,   /* try again later */
    HARK_ELIMIT,   /* a budget was hit */
    HARK_EPEER,    /* the peer reported an error */
    HARK_ECLOSED,  /* shutting down */
    HARK_EINTERNAL /* bug */
} hark_err_t;

/* Never returns NULL. */
const char *hark_err_str(hark_err_t err);

/* A slice of someone else's buffer; not NUL-terminated in general. */
struct hark_str {
    const char *ptr;
    size_t len;
};

HARK_NORETURN void hark_assert_fail(const char *expr, const char *file,
                                    int line);

/* Always on: guards invariants, never input. */
#define hark_assert(e)                                                         \
    do {                                                                       \
        if (!(e)) {                                                            \
            hark_assert_fail(#e, __FILE__, __LINE__);                          \
        }                                                                      \
    } while (0)

/* Allocators that abort on out-of-memory (memory is bounded by budgets). */
void *hark_xmalloc(size_t n);
void *hark_xcalloc(size_t count, size_t size);
void *hark_xrealloc(void *p, size_t n);
char *hark_xstrdup(const char *s);        /* NULL in, NULL out */
char *hark_xstrndup(const char *s, size_t n);
char *hark_xasprintf(const char *fmt, ...) HARK_PRINTF(1, 2);

/*
 * A growable byte buffer with a maximum size (curl's dynbuf). The content is
 * always NUL-terminated once anything was added. Lives in caller storage.
 */
struct hark_buf {
    char *ptr;
    size_t len;
    size_t cap;
    size_t max; /* 0 = unbounded */
};

void hark_buf_init(struct hark_buf *buf, size_t max);
/*
 * HARK_ELIMIT when the maximum would be exceeded; the buffer is unchanged.
 * An unbounded buffer (max 0) never fails, so its callers may ignore the
 * result.
 */
hark_err_t hark_buf_add(struct hark_buf *buf, const void *p,
                                        size_t n);
hark_err_t hark_buf_addc(struct hark_buf *buf, char c);
/* Makes room for `n` more bytes (and the NUL) without adding any. */
hark_err_t hark_buf_reserve(struct hark_buf *buf, size_t n);
hark_err_t hark_buf_printf(struct hark_buf *buf,
                                           const char *fmt, ...)
    HARK_PRINTF(2, 3);
void hark_buf_reset(struct hark_buf *buf); /* len = 0, keeps memory */
/* Returns the content (caller frees; never NULL) and leaves buf empty. */
char *hark_buf_take(struct hark_buf *buf);
void hark_buf_cleanup(struct hark_buf *buf);

/* Reads a whole file. On failure sets `errbuf` to `open("path"): reason`. */
HARK_MUST_CHECK hark_err_t hark_file_read(const char *path, size_t max_bytes,
                                          char **out, size_t *out_len,
                                          char *errbuf, size_t errbuf_len);

/* Writes `data` to `path` atomically (temp file, fsync, rename). */
HARK_MUST_CHECK hark_err_t hark_file_write_atomic(const char *path,
                                                  const void *data, size_t len,
                                                  char *errbuf,
                                                  size_t errbuf_len);

/* `rel` resolved against the folder of `base_file`; absolute paths kept. */
char *hark_path_resolve(const char *base_file, const char *rel);

/* mkdir -p */
HARK_MUST_CHECK hark_err_t hark_mkdirs(const char *path);

/* Wall clock in milliseconds since the epoch, and a monotonic clock. */
int64_t hark_now_ms(void);
int64_t hark_mono_ms(void);

/* RFC 3339 UTC with milliseconds: "2026-11-01T12:00:00.123Z" (25 bytes). */
void hark_time_format(int64_t epoch_ms, char out[32]);
/* Parses RFC 3339 / ISO 8601 (Z or +hh:mm); HARK_EINVAL on bad input. */
HARK_MUST_CHECK hark_err_t hark_time_parse(const char *s, int64_t *epoch_ms);

/* 64-bit FNV-1a, for stable ids (event_id) and hashing. */
uint64_t hark_hash64(const void *p, size_t n, uint64_t seed);

#define HARK_HASH_SEED 0xcbf29ce484222325ULL

#endif /* HARK_COMMON_H */
