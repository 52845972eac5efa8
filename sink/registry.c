/*
 * registry: the one list of sinks. Adding a sink takes one file, one row
 * here and one config map.
 */
#include "hark/sink.h"

#include <string.h>

#include "sink_int.h"

static const struct hark_sink_ops *const sinks[] = {
    &hark_sink_file_ops,
    &hark_sink_kafka_ops,
};

const struct hark_sink_ops *hark_sink_ops_find(const char *name)
{
    if (!name) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(sinks) / sizeof(sinks[0]); i++) {
        if (strcmp(sinks[i]->name, name) == 0) {
            return sinks[i];
        }
    }
    return NULL;
}

const char *hark_sink_names(void)
{
    return "file, kafka";
}
