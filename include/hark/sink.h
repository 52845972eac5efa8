/*
 * sink: where events go (sink/sink.c registry, sink_file.c, sink_kafka.c).
 * A sink never decides anything: it is given a topic, a key, a payload and
 * an opaque ack token, and reports back, through the ack callback, when
 * the event is durable (HARK_OK) or permanently refused (an error with a
 * reason). Retriable failures are the sink's own business.
 *
 * Thread: one thread (the sink thread) owns a sink and calls every
 * function; the ack callback runs on that thread, inside produce, poll or
 * flush.
 */
#ifndef HARK_SINK_H
#define HARK_SINK_H

#include "hark/common.h"
#include "hark/diag.h"
#include "hark/json.h"

/* status HARK_OK: durable. Otherwise permanent failure, `reason` says why. */
typedef void (*hark_sink_ack_fn)(void *opaque, void *token, hark_err_t status,
                                 const char *reason);

struct hark_sink_ops {
    const char *name; /* the key under "sinks" in the config */
    const struct hark_cfgmap *cfgmap;
    /* Validates and opens. `base_dir`: the config file's folder. */
    hark_err_t (*open)(const struct hark_json_doc *doc,
                       const struct hark_json *obj, const char *base_dir,
                       struct hark_diag *diag, hark_sink_ack_fn ack,
                       void *opaque, void **state);
    /*
     * Queues one event. HARK_EAGAIN: the sink's queue is full; poll and
     * retry (backpressure). The payload is copied.
     */
    hark_err_t (*produce)(void *state, const char *topic, const char *key,
                          size_t key_len, const char *payload,
                          size_t payload_len, void *token);
    /* Serves delivery reports for up to `timeout_ms`. */
    void (*poll)(void *state, int timeout_ms);
    /* Waits until every queued event is acked or `timeout_ms` passed. */
    hark_err_t (*flush)(void *state, int timeout_ms);
    /* Closes (after a flush); acks of unfinished events are not called. */
    void (*close)(void *state);
};

/* NULL when unknown. */
const struct hark_sink_ops *hark_sink_ops_find(const char *name);
/* "file, kafka" for messages; static storage. */
const char *hark_sink_names(void);

#endif /* HARK_SINK_H */
