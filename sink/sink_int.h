/*
 * sink_int: declarations shared by the files of sink/ only: the ops tables
 * the registry lists, and the topic naming both sinks apply.
 *
 * Thread: see hark/sink.h.
 */
#ifndef HARK_SINK_INT_H
#define HARK_SINK_INT_H

#include "hark/sink.h"

/* The prefix put in front of the pipeline's short topic names. */
#define HARK_SINK_TOPIC_PREFIX "hark."

extern const struct hark_sink_ops hark_sink_file_ops;
extern const struct hark_sink_ops hark_sink_kafka_ops;

struct rd_kafka_s;

/*
 * For tests: the producer behind a Kafka sink's state (borrowed; valid
 * until the next poll, flush or close, which may replace it).
 */
struct rd_kafka_s *hark_sink_kafka_handle(void *state);

#endif /* HARK_SINK_INT_H */
