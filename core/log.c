#include "hark/log.h"

#include <stdio.h>
#include <string.h>

/*
 * The level is set by main before any thread starts and only read
 * afterwards, so a plain variable is enough.
 */
static enum hark_log_level log_level = HARK_LOG_LEVEL_INFO;

void hark_log_set_level(enum hark_log_level level)
{
    log_level = level;
}

enum hark_log_level hark_log_get_level(void)
{
    return log_level;
}

static const char *level_names[] = {"error", "warn", "info", "debug"};

void hark_log_write(enum hark_log_level level, const char *component,
                    const char *fmt, ...)
{
    char line[2048];
    char ts[32];
    hark_time_format(hark_now_ms(), ts);
    int n = snprintf(line, sizeof(line), "%s %s %s ", ts,
                     level_names[level], component);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        n = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2) {
        len = sizeof(line) - 2;
    }
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}
