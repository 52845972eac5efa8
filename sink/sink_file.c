/*
 * sink_file: one NDJSON file per topic, `<dir>/<prefix><topic>.ndjson`.
 *
 * An ack must mean durable, so produce only appends the line to a
 * userspace buffer; poll and flush write every file's buffer with
 * write(2) (O_APPEND), fsync once per file and batch, and only then ack
 * every event of the batch, in produce order. One fsync per batch instead
 * of one per event is what makes this sink fast enough.
 *
 * A failed write (disk full) truncates the file back to where the batch
 * started, so the file only ever holds whole lines, and acks every event
 * of that file's batch with HARK_EIO and the reason; the pipeline decides
 * what to do with them. The pending bytes are bounded (buffer_bytes, 8 MiB
 * by default): produce returns HARK_EAGAIN when they are full, except into
 * an empty buffer, so one event larger than the bound still goes through.
 *
 * The ack callback may call produce again (a pipeline sending a failed
 * event to the DLQ): a batch is moved out of the sink before its acks run.
 */
#include "hark/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hark/json.h"

#include "sink_int.h"

#define DEFAULT_BUFFER_BYTES ((size_t)8 * 1024 * 1024)
#define REASON_MAX           512

struct topic_file {
    char *topic; /* the short name the pipeline passes */
    char *path;
    int fd; /* -1 until the first write */
    struct hark_buf buf;
};

struct pending {
    void *token;
    size_t file; /* index into files */
};

struct file_sink {
    char *dir;
    char *prefix;
    bool is_fsync;
    size_t buffer_bytes;
    hark_sink_ack_fn ack;
    void *opaque;
    struct topic_file *files;
    size_t n_files;
    struct pending *pending;
    size_t n_pending;
    size_t cap_pending;
    size_t pending_bytes;
};

static const struct hark_cfgmap file_cfgmap[] = {
    {"dir", HARK_JSON_STRING, true, NULL},
    {"fsync", HARK_JSON_BOOL, false, NULL},
    {"topic_prefix", HARK_JSON_STRING, false, NULL},
    {"buffer_bytes", HARK_JSON_INTEGER, false, NULL},
    {NULL, 0, false, NULL},
};

static char *join_dir(const char *base_dir, const char *dir)
{
    if (dir[0] == '/' || !base_dir || !base_dir[0]) {
        return hark_xstrdup(dir);
    }
    return hark_xasprintf("%s/%s", base_dir, dir);
}

static bool is_file_name(const char *name)
{
    return name[0] != '\0' && strchr(name, '/') == NULL &&
           strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static hark_err_t file_open(const struct hark_json_doc *doc,
                            const struct hark_json *obj,
                            const char *base_dir,
                            struct hark_diag *diag,
                            hark_sink_ack_fn ack,
                            void *opaque,
                            void **state)
{
    *state = NULL;
    if (hark_cfgmap_check(doc, obj, file_cfgmap, "sink 'file'", diag) !=
        HARK_OK) {
        return HARK_EINVAL;
    }
    hark_err_t err = HARK_OK;
    const struct hark_json *v = hark_json_get(obj, "dir");
    if (v->s_len == 0 || strlen(v->s) != v->s_len) {
        hark_json_error(doc, diag, v->offset,
                        "sink 'file': \"dir\" must be a non-empty path");
        err = HARK_EINVAL;
    }
    const char *prefix = HARK_SINK_TOPIC_PREFIX;
    const struct hark_json *p = hark_json_get(obj, "topic_prefix");
    if (p) {
        prefix = p->s;
        if (strchr(prefix, '/') || strlen(prefix) != p->s_len) {
            hark_json_error(doc, diag, p->offset,
                            "sink 'file': \"topic_prefix\" becomes part of a "
                            "file name and cannot contain '/'");
            err = HARK_EINVAL;
        }
    }
    const struct hark_json *b = hark_json_get(obj, "buffer_bytes");
    if (b && (b->i <= 0 || (uint64_t)b->i > SIZE_MAX / 2)) {
        hark_json_error(doc, diag, b->offset,
                        "sink 'file': \"buffer_bytes\" must be positive");
        err = HARK_EINVAL;
    }
    if (err != HARK_OK) {
        return err;
    }

    struct file_sink *sink = hark_xcalloc(1, sizeof(*sink));
    sink->dir = join_dir(base_dir, v->s);
    sink->prefix = hark_xstrdup(prefix);
    sink->is_fsync = hark_json_bool(hark_json_get(obj, "fsync"), true);
    sink->buffer_bytes = b ? (size_t)b->i : DEFAULT_BUFFER_BYTES;
    sink->ack = ack;
    sink->opaque = opaque;
    *state = sink;
    return HARK_OK;
}

/* The file for `topic`, added on first use; NULL when the name is bad. */
static struct topic_file *
find_file(struct file_sink *sink, const char *topic, size_t *index)
{
    for (size_t i = 0; i < sink->n_files; i++) {
        if (strcmp(sink->files[i].topic, topic) == 0) {
            *index = i;
            return &sink->files[i];
        }
    }
    char *name = hark_xasprintf("%s%s", sink->prefix, topic);
    if (!is_file_name(name)) {
        free(name);
        return NULL;
    }
    sink->files =
        hark_xrealloc(sink->files, (sink->n_files + 1) * sizeof(*sink->files));
    struct topic_file *f = &sink->files[sink->n_files];
    f->topic = hark_xstrdup(topic);
    f->path = hark_xasprintf("%s/%s.ndjson", sink->dir, name);
    f->fd = -1;
    hark_buf_init(&f->buf, 0);
    free(name);
    *index = sink->n_files++;
    return f;
}

static hark_err_t file_produce(void *state,
                               const char *topic,
                               const char *key,
                               size_t key_len,
                               const char *payload,
                               size_t payload_len,
                               void *token)
{
    struct file_sink *sink = state;
    (void)key;
    (void)key_len;
    size_t index = 0;
    struct topic_file *f = find_file(sink, topic, &index);
    if (!f) {
        char reason[REASON_MAX];
        (void)snprintf(reason, sizeof(reason),
                       "topic \"%s%s\" is not a valid file name", sink->prefix,
                       topic);
        sink->ack(sink->opaque, token, HARK_EINVAL, reason);
        return HARK_OK;
    }
    if (sink->pending_bytes > 0 &&
        (sink->pending_bytes >= sink->buffer_bytes ||
         payload_len + 1 > sink->buffer_bytes - sink->pending_bytes)) {
        return HARK_EAGAIN;
    }
    if (hark_buf_add(&f->buf, payload, payload_len) != HARK_OK ||
        hark_buf_addc(&f->buf, '\n') != HARK_OK) {
        hark_assert(!"unbounded buffer refused bytes");
    }
    if (sink->n_pending == sink->cap_pending) {
        sink->cap_pending = sink->cap_pending ? 2 * sink->cap_pending : 64;
        sink->pending = hark_xrealloc(
            sink->pending, sink->cap_pending * sizeof(*sink->pending));
    }
    sink->pending[sink->n_pending].token = token;
    sink->pending[sink->n_pending].file = index;
    sink->n_pending++;
    sink->pending_bytes += payload_len + 1;
    return HARK_OK;
}

static void
fail_reason(char *reason, const char *op, const char *path, int errnum)
{
    (void)snprintf(reason, REASON_MAX, "%s(\"%s\"): %s", op, path,
                   strerror(errnum));
}

/* Makes a new file's directory entry durable too. */
static int fsync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return -1;
    }
    int rc = fsync(dfd);
    int saved = errno;
    (void)close(dfd);
    errno = saved;
    return rc;
}

static hark_err_t
open_file(struct file_sink *sink, struct topic_file *f, char *reason)
{
    if (hark_mkdirs(sink->dir) != HARK_OK) {
        fail_reason(reason, "mkdir", sink->dir, errno);
        return HARK_EIO;
    }
    int flags = O_WRONLY | O_APPEND | O_CLOEXEC;
    bool is_new = true;
    int fd = open(f->path, flags | O_CREAT | O_EXCL, 0644);
    if (fd < 0 && errno == EEXIST) {
        is_new = false;
        fd = open(f->path, flags);
    }
    if (fd < 0) {
        fail_reason(reason, "open", f->path, errno);
        return HARK_EIO;
    }
    if (is_new && sink->is_fsync && fsync_dir(sink->dir) != 0) {
        fail_reason(reason, "fsync", sink->dir, errno);
        (void)close(fd);
        return HARK_EIO;
    }
    f->fd = fd;
    return HARK_OK;
}

/* Writes (and fsyncs) one file's buffer; the buffer is left as it was. */
static hark_err_t
write_file(struct file_sink *sink, struct topic_file *f, char *reason)
{
    if (f->fd < 0) {
        hark_err_t err = open_file(sink, f, reason);
        if (err != HARK_OK) {
            return err;
        }
    }
    struct stat st;
    if (fstat(f->fd, &st) != 0) {
        fail_reason(reason, "fstat", f->path, errno);
        return HARK_EIO;
    }
    size_t off = 0;
    while (off < f->buf.len) {
        ssize_t n = write(f->fd, f->buf.ptr + off, f->buf.len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int saved = n < 0 ? errno : EIO;
            fail_reason(reason, "write", f->path, saved);
            /* Leave whole lines only; what was written is not acked. */
            if (ftruncate(f->fd, st.st_size) != 0) {
                (void)snprintf(reason + strlen(reason),
                               REASON_MAX - strlen(reason),
                               "; the file may end in a partial line");
            }
            return HARK_EIO;
        }
        off += (size_t)n;
    }
    if (sink->is_fsync && fsync(f->fd) != 0) {
        fail_reason(reason, "fsync", f->path, errno);
        return HARK_EIO;
    }
    return HARK_OK;
}

/* Writes everything pending, then acks it. */
static void run_batch(struct file_sink *sink)
{
    if (sink->n_pending == 0) {
        return;
    }
    size_t n_files = sink->n_files;
    hark_err_t *status = hark_xcalloc(n_files, sizeof(*status));
    char *reasons = hark_xcalloc(n_files, REASON_MAX);
    for (size_t i = 0; i < n_files; i++) {
        struct topic_file *f = &sink->files[i];
        if (f->buf.len > 0) {
            status[i] = write_file(sink, f, reasons + i * REASON_MAX);
            hark_buf_reset(&f->buf);
        }
    }

    struct pending *batch = sink->pending;
    size_t n_batch = sink->n_pending;
    sink->pending = NULL;
    sink->n_pending = 0;
    sink->cap_pending = 0;
    sink->pending_bytes = 0;
    for (size_t i = 0; i < n_batch; i++) {
        size_t fi = batch[i].file;
        hark_assert(fi < n_files);
        sink->ack(sink->opaque, batch[i].token, status[fi],
                  status[fi] == HARK_OK ? NULL : reasons + fi * REASON_MAX);
    }
    free(batch);
    free(reasons);
    free(status);
}

/* Never blocks: a file has no reports to wait for. */
static void file_poll(void *state, int timeout_ms)
{
    (void)timeout_ms;
    run_batch(state);
}

static hark_err_t file_flush(void *state, int timeout_ms)
{
    struct file_sink *sink = state;
    int64_t deadline = hark_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    do {
        /* Acks may produce again (DLQ); serve those too, in time. */
        run_batch(sink);
    } while (sink->n_pending > 0 && hark_mono_ms() < deadline);
    return sink->n_pending > 0 ? HARK_EAGAIN : HARK_OK;
}

static void file_close(void *state)
{
    struct file_sink *sink = state;
    if (!sink) {
        return;
    }
    for (size_t i = 0; i < sink->n_files; i++) {
        struct topic_file *f = &sink->files[i];
        if (f->fd >= 0) {
            (void)close(f->fd);
        }
        free(f->topic);
        free(f->path);
        hark_buf_cleanup(&f->buf);
    }
    free(sink->files);
    free(sink->pending);
    free(sink->dir);
    free(sink->prefix);
    free(sink);
}

const struct hark_sink_ops hark_sink_file_ops = {
    .name = "file",
    .cfgmap = file_cfgmap,
    .open = file_open,
    .produce = file_produce,
    .poll = file_poll,
    .flush = file_flush,
    .close = file_close,
};
