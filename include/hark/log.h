/*
 * log: one line per event to stderr,
 * `2026-11-01T12:00:00.123Z warn ingest/acme-tag rate limited status=429`.
 *
 * Thread: any; each line is written with a single fwrite under stdio's
 * stream lock. The level is a process-wide setting changed only by main
 * before threads start.
 */
#ifndef HARK_LOG_H
#define HARK_LOG_H

#include "hark/common.h"

enum hark_log_level {
    HARK_LOG_LEVEL_ERROR = 0,
    HARK_LOG_LEVEL_WARN,
    HARK_LOG_LEVEL_INFO,
    HARK_LOG_LEVEL_DEBUG
};

/* Called by main only, before threads start. */
void hark_log_set_level(enum hark_log_level level);
enum hark_log_level hark_log_get_level(void);

void hark_log_write(enum hark_log_level level, const char *component,
                    const char *fmt, ...) HARK_PRINTF(3, 4);

#define HARK_LOG_AT(lvl, comp, ...)                                            \
    do {                                                                       \
        if ((lvl) <= hark_log_get_level()) {                                   \
            hark_log_write((lvl), (comp), __VA_ARGS__);                        \
        }                                                                      \
    } while (0)

#define HARK_LOG_ERROR(comp, ...) HARK_LOG_AT(HARK_LOG_LEVEL_ERROR, comp, __VA_ARGS__)
#define HARK_LOG_WARN(comp, ...)  HARK_LOG_AT(HARK_LOG_LEVEL_WARN, comp, __VA_ARGS__)
#define HARK_LOG_INFO(comp, ...)  HARK_LOG_AT(HARK_LOG_LEVEL_INFO, comp, __VA_ARGS__)
#define HARK_LOG_DEBUG(comp, ...) HARK_LOG_AT(HARK_LOG_LEVEL_DEBUG, comp, __VA_ARGS__)

#endif /* HARK_LOG_H */
