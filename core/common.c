#include "hark/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *hark_err_str(hark_err_t err)
{
    switch (err) {
    case HARK_OK:
        return "ok";
    case HARK_EINVAL:
        return "invalid input";
    case HARK_EIO:
        return "I/O error";
    case HARK_EAGAIN:
        return "try again";
    case HARK_ELIMIT:
        return "limit reached";
    case HARK_EPEER:
        return "peer error";
    case HARK_ECLOSED:
        return "shutting down";
    case HARK_EINTERNAL:
        return "internal error";
    }
    return "unknown error";
}

void hark_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "hark: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

static void oom(size_t n)
{
    fprintf(stderr, "hark: out of memory (%zu bytes)\n", n);
    abort();
}

void *hark_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        oom(n);
    }
    return p;
}

void *hark_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) {
        oom(count * size);
    }
    return p;
}

void *hark_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        oom(n);
    }
    return q;
}

char *hark_xstrdup(const char *s)
{
    if (!s) {
        return NULL;
    }
    return hark_xstrndup(s, strlen(s));
}

char *hark_xstrndup(const char *s, size_t n)
{
    char *p = hark_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *hark_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    hark_assert(n >= 0);
    char *p = hark_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void hark_buf_init(struct hark_buf *buf, size_t max)
{
    buf->ptr = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->max = max;
}

static hark_err_t buf_grow(struct hark_buf *buf, size_t extra)
{
    if (buf->max && buf->len + extra > buf->max) {
        return HARK_ELIMIT;
    }
    size_t need = buf->len + extra + 1;
    if (need <= buf->cap) {
        return HARK_OK;
    }
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    buf->ptr = hark_xrealloc(buf->ptr, cap);
    buf->cap = cap;
    return HARK_OK;
}

hark_err_t hark_buf_reserve(struct hark_buf *buf, size_t n)
{
    return buf_grow(buf, n);
}

hark_err_t hark_buf_add(struct hark_buf *buf, const void *p, size_t n)
{
    hark_err_t err = buf_grow(buf, n);
    if (err != HARK_OK) {
        return err;
    }
    if (n) {
        memcpy(buf->ptr + buf->len, p, n);
    }
    buf->len += n;
    buf->ptr[buf->len] = '\0';
    return HARK_OK;
}

hark_err_t hark_buf_addc(struct hark_buf *buf, char c)
{
    return hark_buf_add(buf, &c, 1);
}

hark_err_t hark_buf_printf(struct hark_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    hark_assert(n >= 0);
    hark_err_t err = buf_grow(buf, (size_t)n);
    if (err != HARK_OK) {
        return err;
    }
    va_start(ap, fmt);
    vsnprintf(buf->ptr + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
    return HARK_OK;
}

void hark_buf_reset(struct hark_buf *buf)
{
    buf->len = 0;
    if (buf->ptr) {
        buf->ptr[0] = '\0';
    }
}

char *hark_buf_take(struct hark_buf *buf)
{
    char *p = buf->ptr ? buf->ptr : hark_xstrdup("");
    buf->ptr = NULL;
    buf->len = 0;
    buf->cap = 0;
    return p;
}

void hark_buf_cleanup(struct hark_buf *buf)
{
    free(buf->ptr);
    buf->ptr = NULL;
    buf->len = 0;
    buf->cap = 0;
}

hark_err_t hark_file_read(const char *path, size_t max_bytes, char **out,
                          size_t *out_len, char *errbuf, size_t errbuf_len)
{
    *out = NULL;
    *out_len = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. A FIFO or a
     * device (/dev/stdin, /dev/zero) would block or never end: refused. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(errbuf, errbuf_len, "open(\"%s\"): %s", path,
                 strerror(errno));
        return HARK_EIO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(errbuf, errbuf_len, "open(\"%s\"): not a regular file",
                 path);
        close(fd);
        return HARK_EIO;
    }
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        snprintf(errbuf, errbuf_len, "open(\"%s\"): %s", path,
                 strerror(errno));
        close(fd);
        return HARK_EIO;
    }
    struct hark_buf buf;
    hark_buf_init(&buf, max_bytes);
    char chunk[65536];
    size_t n;
    hark_err_t err = HARK_OK;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        if (hark_buf_add(&buf, chunk, n) != HARK_OK) {
            snprintf(errbuf, errbuf_len, "read(\"%s\"): larger than %zu bytes",
                     path, max_bytes);
            err = HARK_ELIMIT;
            break;
        }
    }
    if (err == HARK_OK && ferror(fp)) {
        snprintf(errbuf, errbuf_len, "read(\"%s\"): %s", path,
                 strerror(errno));
        err = HARK_EIO;
    }
    fclose(fp);
    if (err != HARK_OK) {
        hark_buf_cleanup(&buf);
        return err;
    }
    *out_len = buf.len;
    *out = hark_buf_take(&buf);
    return HARK_OK;
}

hark_err_t hark_file_write_atomic(const char *path, const void *data,
                                  size_t len, char *errbuf, size_t errbuf_len)
{
    char *tmp = hark_xasprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        snprintf(errbuf, errbuf_len, "open(\"%s\"): %s", tmp, strerror(errno));
        free(tmp);
        return HARK_EIO;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            snprintf(errbuf, errbuf_len, "write(\"%s\"): %s", tmp,
                     strerror(errno));
            close(fd);
            unlink(tmp);
            free(tmp);
            return HARK_EIO;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        snprintf(errbuf, errbuf_len, "fsync(\"%s\"): %s", tmp,
                 strerror(errno));
        unlink(tmp);
        free(tmp);
        return HARK_EIO;
    }
    if (rename(tmp, path) != 0) {
        snprintf(errbuf, errbuf_len, "rename(\"%s\"): %s", tmp,
                 strerror(errno));
        unlink(tmp);
        free(tmp);
        return HARK_EIO;
    }
    free(tmp);
    return HARK_OK;
}

char *hark_path_resolve(const char *base_file, const char *rel)
{
    if (!rel) {
        return NULL;
    }
    if (rel[0] == '/' || !base_file) {
        return hark_xstrdup(rel);
    }
    const char *slash = strrchr(base_file, '/');
    if (!slash) {
        return hark_xstrdup(rel);
    }
    return hark_xasprintf("%.*s/%s", (int)(slash - base_file), base_file, rel);
}

hark_err_t hark_mkdirs(const char *path)
{
    char *p = hark_xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                free(p);
                return HARK_EIO;
            }
            *s = '/';
        }
    }
    hark_err_t err = HARK_OK;
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        err = HARK_EIO;
    }
    free(p);
    return err;
}

int64_t hark_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hark_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void hark_time_format(int64_t epoch_ms, char out[32])
{
    time_t secs = (time_t)(epoch_ms / 1000);
    int ms = (int)(epoch_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[24];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%.19s.%03dZ", date, ms);
}

static bool digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

hark_err_t hark_time_parse(const char *s, int64_t *epoch_ms)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    *epoch_ms = 0;
    if (!s || strlen(s) < 10 || !digits(s, 4, &y) || s[4] != '-' ||
        !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d)) {
        return HARK_EINVAL;
    }
    const char *p = s + 10;
    int64_t ms = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        if (!digits(p + 1, 2, &h) || p[3] != ':' || !digits(p + 4, 2, &mi)) {
            return HARK_EINVAL;
        }
        p += 6;
        if (*p == ':') {
            if (!digits(p + 1, 2, &sec)) {
                return HARK_EINVAL;
            }
            p += 3;
        }
        if (*p == '.') {
            int scale = 100;
            p++;
            while (*p >= '0' && *p <= '9') {
                ms += (*p - '0') * scale;
                scale /= 10;
                p++;
            }
        }
    }
    int64_t off_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh)) {
            return HARK_EINVAL;
        }
        const char *q = p + 3;
        if (*q == ':') {
            q++;
        }
        if (!digits(q, 2, &om)) {
            return HARK_EINVAL;
        }
        off_s = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p = q + 2;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
        mi > 59 || sec > 60) {
        return HARK_EINVAL;
    }
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t t = days * 86400 + h * 3600 + mi * 60 + sec - off_s;
    *epoch_ms = t * 1000 + ms;
    return HARK_OK;
}

uint64_t hark_hash64(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
