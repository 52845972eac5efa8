/*
 * sink_kafka: events to Kafka through one idempotent librdkafka producer
 * (enable.idempotence=true, acks=all), topics named `<prefix><topic>`.
 *
 * Delivery reports become acks. librdkafka retries what it can until
 * message.timeout.ms; a report with an error is therefore final for
 * librdkafka, but not necessarily for us:
 *
 *   - a permanent error (message too large, not authorized, invalid
 *     message, unknown topic) is acked with HARK_EPEER and librdkafka's
 *     words, and the pipeline sends the event to the DLQ;
 *   - anything else (timed out because the cluster was away, a fatal
 *     idempotence error) is the sink's own business: the message, still
 *     readable inside the report, is copied to a retry list and produced
 *     again from poll. Such events stay unacknowledged, so a cluster that
 *     is down holds the cursors back and the pipeline's in-flight budget
 *     turns it into backpressure, never into lost events. produce answers
 *     HARK_EAGAIN when librdkafka's queue is full.
 *
 * Acks run inside rd_kafka_poll, and a pipeline may produce from an ack
 * (the DLQ record of a refused event). There produce never answers
 * HARK_EAGAIN (the caller would poll from inside our poll): what cannot be
 * queued waits on the retry list, and a nested poll or flush is a no-op.
 *
 * A fatal error (the idempotent producer's sequence can no longer be
 * trusted) makes the rd_kafka_t useless: the sink purges it (the reports
 * of purged messages land on the retry list), destroys it and makes a new
 * one from a copy of the configuration kept for that purpose. Purging
 * in-flight messages may duplicate some of them; at-least-once allows it
 * and event_id lets consumers drop the copies.
 *
 * Secrets: properties_env values and secret-looking properties are never
 * printed; librdkafka's error messages about them are scrubbed.
 */
#include "hark/sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "hark/json.h"
#include "hark/log.h"

#include "sink_int.h"

#define COMP          "sink/kafka"
#define ERRSTR_MAX    512
#define POLL_SLICE_MS 100

struct retry {
    char *topic; /* full name */
    void *key;
    size_t key_len;
    void *payload;
    size_t payload_len;
    void *token;
};

struct kafka_sink {
    rd_kafka_t *rk;
    rd_kafka_conf_t *conf_template; /* to rebuild rk after a fatal error */
    char *prefix;
    hark_sink_ack_fn ack;
    void *opaque;
    struct hark_buf topic; /* scratch: prefix + topic */
    struct retry *retries;
    size_t n_retries;
    size_t cap_retries;
    size_t n_requeued; /* since the last log line about it */
    rd_kafka_resp_err_t requeue_err;
    bool is_fatal;
    bool is_retrying;
    int depth; /* > 0 while rd_kafka_poll/flush serve our callbacks */
    bool is_closing;
    int last_err; /* error_cb repeat collapsing */
    unsigned n_repeats;
    int64_t last_err_ms;
};

static const struct hark_cfgmap kafka_cfgmap[] = {
    {"brokers", HARK_JSON_STRING, true, NULL},
    {"topic_prefix", HARK_JSON_STRING, false, NULL},
    {"properties", HARK_JSON_OBJECT, false, NULL},
    {"properties_env", HARK_JSON_OBJECT, false, NULL},
    {NULL, 0, false, NULL},
};

static bool is_permanent(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR__KEY_SERIALIZATION:
    case RD_KAFKA_RESP_ERR__VALUE_SERIALIZATION:
        return true;
    default:
        return false;
    }
}

/* Properties whose values must never reach a terminal or a log. */
static bool is_secret(const char *name)
{
    static const char *const words[] = {
        "password",           "secret",  "ssl.key.pem", "keystore",
        "oauthbearer.config", "ssl_key",
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strstr(name, words[i])) {
            return true;
        }
    }
    return false;
}

/* Replaces every copy of `value` in `msg` with "***". */
static void scrub(char *msg, size_t msg_size, const char *value)
{
    size_t value_len = strlen(value);
    if (value_len == 0) {
        return;
    }
    char *hit;
    while ((hit = strstr(msg, value)) != NULL) {
        size_t tail = strlen(hit + value_len);
        if ((size_t)(hit - msg) + 3 + tail + 1 > msg_size) {
            *hit = '\0';
            return;
        }
        memmove(hit + 3, hit + value_len, tail + 1);
        memcpy(hit, "***", 3);
    }
}

/* Ownership of the message contents stays with librdkafka. */
static void add_retry(struct kafka_sink *sink,
                      const char *topic,
                      const void *key,
                      size_t key_len,
                      const void *payload,
                      size_t payload_len,
                      void *token)
{
    if (sink->n_retries == sink->cap_retries) {
        sink->cap_retries = sink->cap_retries ? 2 * sink->cap_retries : 64;
        sink->retries = hark_xrealloc(
            sink->retries, sink->cap_retries * sizeof(*sink->retries));
    }
    struct retry *r = &sink->retries[sink->n_retries++];
    r->topic = hark_xstrdup(topic);
    r->key = NULL;
    if (key) {
        r->key = hark_xmalloc(key_len ? key_len : 1);
        memcpy(r->key, key, key_len);
    }
    r->key_len = key_len;
    r->payload = hark_xmalloc(payload_len ? payload_len : 1);
    if (payload_len) {
        memcpy(r->payload, payload, payload_len);
    }
    r->payload_len = payload_len;
    r->token = token;
}

static void retry_cleanup(struct retry *r)
{
    free(r->topic);
    free(r->key);
    free(r->payload);
}

static void
dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    struct kafka_sink *sink = opaque;
    (void)rk;
    if (sink->is_closing) {
        return;
    }
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        sink->ack(sink->opaque, msg->_private, HARK_OK, NULL);
    } else if (is_permanent(msg->err)) {
        sink->ack(sink->opaque, msg->_private, HARK_EPEER,
                  rd_kafka_err2str(msg->err));
    } else {
        add_retry(sink, rd_kafka_topic_name(msg->rkt), msg->key, msg->key_len,
                  msg->payload, msg->len, msg->_private);
        sink->n_requeued++;
        sink->requeue_err = msg->err;
    }
}

static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    /* error_cb reports these, with repeats collapsed. */
    if (strcmp(fac, "FAIL") == 0 || strcmp(fac, "FATAL") == 0 ||
        strcmp(fac, "ERROR") == 0) {
        return;
    }
    enum hark_log_level lvl = HARK_LOG_LEVEL_DEBUG;
    if (level <= 3) {
        lvl = HARK_LOG_LEVEL_ERROR;
    } else if (level == 4) {
        lvl = HARK_LOG_LEVEL_WARN;
    } else if (level <= 6) {
        lvl = HARK_LOG_LEVEL_INFO;
    }
    HARK_LOG_AT(lvl, COMP, "%s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct kafka_sink *sink = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        sink->is_fatal = true; /* serve() logs it and replaces rk */
        return;
    }
    /* Brokers that stay down repeat the same error; say it once a minute. */
    int64_t now = hark_mono_ms();
    if (err == sink->last_err && now - sink->last_err_ms < 60000) {
        sink->n_repeats++;
        return;
    }
    if (sink->n_repeats > 0 && err == sink->last_err) {
        HARK_LOG_WARN(COMP, "%s (repeated %u times)", reason, sink->n_repeats);
    } else {
        if (sink->n_repeats > 0) {
            HARK_LOG_WARN(COMP, "previous error repeated %u times",
                          sink->n_repeats);
        }
        HARK_LOG_WARN(COMP, "%s", reason);
    }
    sink->last_err = err;
    sink->last_err_ms = now;
    sink->n_repeats = 0;
}

/* Sets one property; on failure the message is in `errstr` (scrubbed). */
static bool conf_set(rd_kafka_conf_t *conf,
                     const char *name,
                     const char *value,
                     bool is_hidden,
                     char *errstr)
{
    if (rd_kafka_conf_set(conf, name, value, errstr, ERRSTR_MAX) ==
        RD_KAFKA_CONF_OK) {
        return true;
    }
    if (is_hidden) {
        scrub(errstr, ERRSTR_MAX, value);
    }
    return false;
}

/* Our own settings: librdkafka refusing one is a bug. */
static void
conf_set_fixed(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[ERRSTR_MAX];
    bool is_set = conf_set(conf, name, value, false, errstr);
    hark_assert(is_set);
}

/* A property value as a string: strings as they are, numbers and bools. */
static bool
value_text(const struct hark_json *v, char *buf, size_t size, const char **out)
{
    switch (v->type) {
    case HARK_JSON_STRING:
        *out = v->s;
        return strlen(v->s) == v->s_len;
    case HARK_JSON_INTEGER:
        (void)snprintf(buf, size, "%lld", (long long)v->i);
        *out = buf;
        return true;
    case HARK_JSON_BOOL:
        *out = v->b ? "true" : "false";
        return true;
    default:
        return false;
    }
}

static bool apply_properties(const struct hark_json_doc *doc,
                             const struct hark_json *props,
                             struct hark_diag *diag,
                             rd_kafka_conf_t *conf)
{
    bool is_ok = true;
    for (size_t i = 0; props && i < props->n; i++) {
        const char *name = props->keys[i];
        const struct hark_json *v = props->items[i];
        size_t key_offset = props->key_offsets[i];
        char num[32];
        const char *value = NULL;
        char errstr[ERRSTR_MAX];
        if (strcmp(name, "bootstrap.servers") == 0 ||
            strcmp(name, "metadata.broker.list") == 0) {
            hark_json_error(doc, diag, key_offset,
                            "kafka property \"%s\": set \"brokers\" instead",
                            name);
            is_ok = false;
        } else if (!value_text(v, num, sizeof(num), &value)) {
            hark_json_error(doc, diag, v->offset,
                            "kafka property \"%s\" must be a string, not %s",
                            name, hark_json_type_name(v->type));
            is_ok = false;
        } else if (!conf_set(conf, name, value, is_secret(name), errstr)) {
            hark_json_error(doc, diag, key_offset, "kafka property \"%s\": %s",
                            name, errstr);
            is_ok = false;
        } else if (is_secret(name)) {
            hark_json_warning(doc, diag, key_offset,
                              "kafka property \"%s\" holds a secret in the "
                              "config; name an environment variable in "
                              "\"properties_env\" instead",
                              name);
        } else if (strcmp(name, "acks") == 0 && strcmp(value, "all") != 0 &&
                   strcmp(value, "-1") != 0) {
            hark_json_warning(doc, diag, key_offset,
                              "kafka property \"acks\": \"%s\" acknowledges "
                              "events a broker failure can still lose",
                              value);
        }
    }
    return is_ok;
}

static bool apply_properties_env(const struct hark_json_doc *doc,
                                 const struct hark_json *props,
                                 struct hark_diag *diag,
                                 rd_kafka_conf_t *conf)
{
    bool is_ok = true;
    for (size_t i = 0; props && i < props->n; i++) {
        const char *name = props->keys[i];
        const struct hark_json *v = props->items[i];
        char errstr[ERRSTR_MAX];
        if (v->type != HARK_JSON_STRING || v->s_len == 0) {
            hark_json_error(doc, diag, v->offset,
                            "kafka property \"%s\": \"properties_env\" "
                            "values name an environment variable",
                            name);
            is_ok = false;
            continue;
        }
        const char *value = getenv(v->s);
        if (!value) {
            hark_json_error(doc, diag, v->offset,
                            "kafka property \"%s\": environment variable %s "
                            "is not set",
                            name, v->s);
            is_ok = false;
        } else if (!conf_set(conf, name, value, true, errstr)) {
            hark_json_error(doc, diag, props->key_offsets[i],
                            "kafka property \"%s\" (from %s): %s", name, v->s,
                            errstr);
            is_ok = false;
        }
    }
    return is_ok;
}

static void kafka_close(void *state);

static hark_err_t kafka_open(const struct hark_json_doc *doc,
                             const struct hark_json *obj,
                             const char *base_dir,
                             struct hark_diag *diag,
                             hark_sink_ack_fn ack,
                             void *opaque,
                             void **state)
{
    (void)base_dir;
    *state = NULL;
    if (hark_cfgmap_check(doc, obj, kafka_cfgmap, "sink 'kafka'", diag) !=
        HARK_OK) {
        return HARK_EINVAL;
    }
    struct kafka_sink *sink = hark_xcalloc(1, sizeof(*sink));
    const struct hark_json *p = hark_json_get(obj, "topic_prefix");
    sink->prefix = hark_xstrdup(p ? p->s : HARK_SINK_TOPIC_PREFIX);
    sink->ack = ack;
    sink->opaque = opaque;
    sink->last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    hark_buf_init(&sink->topic, 0);

    char errstr[ERRSTR_MAX];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const struct hark_json *brokers = hark_json_get(obj, "brokers");
    bool is_ok = true;
    if (!conf_set(conf, "bootstrap.servers", brokers->s, false, errstr)) {
        hark_json_error(doc, diag, brokers->offset, "sink 'kafka': %s", errstr);
        is_ok = false;
    }
    /* Defaults the properties may override (hark warns on weaker acks). */
    conf_set_fixed(conf, "enable.idempotence", "true");
    conf_set_fixed(conf, "acks", "all");
    conf_set_fixed(conf, "client.id", "hark");
    is_ok &=
        apply_properties(doc, hark_json_get(obj, "properties"), diag, conf);
    is_ok &= apply_properties_env(doc, hark_json_get(obj, "properties_env"),
                                  diag, conf);
    if (!is_ok) {
        rd_kafka_conf_destroy(conf);
        kafka_close(sink);
        return HARK_EINVAL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_opaque(conf, sink);

    sink->conf_template = rd_kafka_conf_dup(conf);
    sink->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!sink->rk) {
        /* rd_kafka_new() takes `conf` only when it succeeds. */
        rd_kafka_conf_destroy(conf);
        hark_json_error(doc, diag, obj->offset, "sink 'kafka': %s", errstr);
        kafka_close(sink);
        return HARK_EINVAL;
    }
    *state = sink;
    return HARK_OK;
}

static const char *full_topic(struct kafka_sink *sink, const char *topic)
{
    /* Per event: two copies, not a printf. */
    hark_buf_reset(&sink->topic);
    if (hark_buf_add(&sink->topic, sink->prefix, strlen(sink->prefix)) !=
            HARK_OK ||
        hark_buf_add(&sink->topic, topic, strlen(topic)) != HARK_OK) {
        hark_assert(!"unbounded buffer refused bytes");
    }
    return sink->topic.ptr;
}

static rd_kafka_resp_err_t producev(struct kafka_sink *sink,
                                    const char *topic,
                                    const void *key,
                                    size_t key_len,
                                    const void *payload,
                                    size_t payload_len,
                                    void *token)
{
    /* librdkafka copies (F_COPY) but its prototype wants a plain void *. */
    union {
        const void *c;
        void *v;
    } value = {.c = payload};

    return rd_kafka_producev(sink->rk, RD_KAFKA_V_TOPIC(topic),
                             RD_KAFKA_V_KEY(key, key_len),
                             RD_KAFKA_V_VALUE(value.v, payload_len),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_OPAQUE(token), RD_KAFKA_V_END);
}

/*
 * Produces the retry list again, in order, until the queue is full. A
 * permanent refusal is acked (and the ack may produce: the list is walked
 * by index and guarded against a nested walk).
 */
static void retry_pending(struct kafka_sink *sink)
{
    if (sink->is_retrying || sink->n_retries == 0 || sink->is_fatal) {
        return;
    }
    sink->is_retrying = true;
    size_t done = 0;
    while (done < sink->n_retries) {
        struct retry *r = &sink->retries[done];
        rd_kafka_resp_err_t err =
            producev(sink, r->topic, r->key, r->key_len, r->payload,
                     r->payload_len, r->token);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL ||
            (err != RD_KAFKA_RESP_ERR_NO_ERROR && !is_permanent(err))) {
            break;
        }
        struct retry copy = *r;
        done++;
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            sink->ack(sink->opaque, copy.token, HARK_EPEER,
                      rd_kafka_err2str(err));
        }
        retry_cleanup(&copy);
    }
    memmove(sink->retries, sink->retries + done,
            (sink->n_retries - done) * sizeof(*sink->retries));
    sink->n_retries -= done;
    sink->is_retrying = false;
}

/*
 * Replaces a producer that raised a fatal error. Every message it still
 * holds comes back through a purge report onto the retry list.
 */
static void recover(struct kafka_sink *sink)
{
    char errstr[ERRSTR_MAX];
    rd_kafka_resp_err_t err =
        rd_kafka_fatal_error(sink->rk, errstr, sizeof(errstr));
    HARK_LOG_ERROR(COMP, "replacing the producer after a fatal error: %s: %s",
                   rd_kafka_err2name(err), errstr);
    (void)rd_kafka_purge(sink->rk,
                         RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    /* Serve the purge reports (they land on the retry list). */
    int64_t deadline = hark_mono_ms() + 5000;
    sink->depth++;
    while (rd_kafka_outq_len(sink->rk) > 0 && hark_mono_ms() < deadline) {
        (void)rd_kafka_poll(sink->rk, POLL_SLICE_MS);
    }
    sink->depth--;
    if (rd_kafka_outq_len(sink->rk) > 0) {
        HARK_LOG_ERROR(COMP,
                       "%d events were not reported back by the old "
                       "producer; they stay unacknowledged",
                       rd_kafka_outq_len(sink->rk));
    }
    sink->is_closing = true;
    rd_kafka_destroy(sink->rk);
    sink->is_closing = false;
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(sink->conf_template);
    sink->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    /* The same configuration worked at open; failing now is not input. */
    hark_assert(sink->rk);
    sink->is_fatal = false;
}

/*
 * Serves reports, replaces a dead producer and produces the retry list.
 * Called again from inside an ack (a pipeline waiting out HARK_EAGAIN), it
 * does nothing: the outer call is still serving, and rk must not be
 * replaced under it.
 */
static void serve(struct kafka_sink *sink, int timeout_ms)
{
    if (sink->depth > 0) {
        return;
    }
    if (sink->is_fatal) {
        recover(sink);
    }
    retry_pending(sink);
    sink->depth++;
    (void)rd_kafka_poll(sink->rk, timeout_ms);
    sink->depth--;
    if (sink->is_fatal) {
        recover(sink);
    }
    retry_pending(sink);
    if (sink->n_requeued > 0) {
        HARK_LOG_WARN(COMP, "%zu undelivered events queued again: %s",
                      sink->n_requeued, rd_kafka_err2str(sink->requeue_err));
    }
    sink->n_requeued = 0;
}

static hark_err_t kafka_produce(void *state,
                                const char *topic,
                                const char *key,
                                size_t key_len,
                                const char *payload,
                                size_t payload_len,
                                void *token)
{
    struct kafka_sink *sink = state;
    const char *name = full_topic(sink, topic);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__FATAL;
    if (!sink->is_fatal) {
        retry_pending(sink);
        err = producev(sink, name, key, key_len, payload, payload_len, token);
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        return HARK_OK;
    }
    if (is_permanent(err)) {
        sink->ack(sink->opaque, token, HARK_EPEER, rd_kafka_err2str(err));
        return HARK_OK;
    }
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && sink->depth == 0) {
        return HARK_EAGAIN;
    }
    /*
     * Inside an ack (depth > 0) HARK_EAGAIN would have the caller poll
     * from within our own poll; and a dead producer is replaced by the
     * next poll. Either way the event waits on the retry list.
     */
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        sink->is_fatal = true;
    }
    add_retry(sink, name, key, key_len, payload, payload_len, token);
    return HARK_OK;
}

static void kafka_poll(void *state, int timeout_ms)
{
    serve(state, timeout_ms);
}

static hark_err_t kafka_flush(void *state, int timeout_ms)
{
    struct kafka_sink *sink = state;
    if (sink->depth > 0) {
        return HARK_EAGAIN; /* called from an ack: the outer call serves */
    }
    int64_t deadline = hark_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        serve(sink, 0);
        if (rd_kafka_outq_len(sink->rk) == 0 && sink->n_retries == 0) {
            return HARK_OK;
        }
        int64_t left = deadline - hark_mono_ms();
        if (left <= 0) {
            return HARK_EAGAIN;
        }
        /* rd_kafka_flush serves reports; slices let retries go out. */
        sink->depth++;
        (void)rd_kafka_flush(
            sink->rk, (int)(left < POLL_SLICE_MS ? left : POLL_SLICE_MS));
        sink->depth--;
    }
}

static void kafka_close(void *state)
{
    struct kafka_sink *sink = state;
    if (!sink) {
        return;
    }
    sink->is_closing = true;
    if (sink->rk) {
        rd_kafka_destroy(sink->rk);
    }
    if (sink->conf_template) {
        rd_kafka_conf_destroy(sink->conf_template);
    }
    for (size_t i = 0; i < sink->n_retries; i++) {
        retry_cleanup(&sink->retries[i]);
    }
    free(sink->retries);
    hark_buf_cleanup(&sink->topic);
    free(sink->prefix);
    free(sink);
}

struct rd_kafka_s *hark_sink_kafka_handle(void *state)
{
    struct kafka_sink *sink = state;
    return sink->rk;
}

const struct hark_sink_ops hark_sink_kafka_ops = {
    .name = "kafka",
    .cfgmap = kafka_cfgmap,
    .open = kafka_open,
    .produce = kafka_produce,
    .poll = kafka_poll,
    .flush = kafka_flush,
    .close = kafka_close,
};
