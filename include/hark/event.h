/*
 * event: the JSON events hark publishes (DESIGN.md "Events"), written with
 * core/jw.c's writer from an item. The same parts (post, matches, sentiment,
 * customer, relationship, priority, route) are written by `hark try
 * --json`.
 *
 * Thread: any; no shared state.
 */
#ifndef HARK_EVENT_H
#define HARK_EVENT_H

#include "hark/common.h"
#include "hark/item.h"
#include "hark/jw.h"

#define HARK_SCHEMA_POST "hark.post/1"
#define HARK_SCHEMA_ENGAGEMENT "hark.engagement/1"
#define HARK_SCHEMA_DLQ "hark.dlq/1"

/*
 * The event id: 16 lowercase hex digits of a hash of (platform, post id,
 * revision, schema). Stable across runs and rule reloads.
 */
void hark_event_id(const struct hark_item *item, const char *schema,
                   char out[17]);

/* The Kafka key: customer id, else "platform:author id". */
void hark_event_key(const struct hark_item *item, struct hark_buf *out);

/*
 * Writes the analysis parts of `item` as keys of the currently open map:
 * "post", "matches", "tags", "author_tags", "sentiment", "customer",
 * "relationship", "priority", "route".
 */
void hark_event_gen_parts(struct hark_jw *gen, const struct hark_item *item);

/*
 * A whole event for `schema` (HARK_SCHEMA_POST or _ENGAGEMENT) into `out`
 * (appended, no newline). `emitted_at_ms` 0 leaves out emitted_at.
 */
HARK_MUST_CHECK hark_err_t hark_event_build(const struct hark_item *item,
                                            const char *schema,
                                            int64_t emitted_at_ms,
                                            struct hark_buf *out);

/*
 * A DLQ event: the source, the reason, and at most `max_raw` bytes of the
 * raw input (repaired to valid UTF-8). event_id hashes (schema, source,
 * reason, raw).
 */
HARK_MUST_CHECK hark_err_t hark_event_dlq(const char *source,
                                          const char *url, const char *reason,
                                          const char *raw, size_t raw_len,
                                          size_t max_raw,
                                          int64_t emitted_at_ms,
                                          struct hark_buf *out);

#endif /* HARK_EVENT_H */
