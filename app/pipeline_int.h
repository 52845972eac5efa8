/*
 * pipeline_int: the running pipeline (app/pipeline.c), used by `hark run`.
 *
 * Thread: every function is called by main; the pipeline's own threads
 * are described in pipeline.c.
 */
#ifndef HARK_PIPELINE_INT_H
#define HARK_PIPELINE_INT_H

#include <stdio.h>

#include "app_int.h"

struct hark_pipeline;

/*
 * Opens the sinks and the ingest engine for the sources of `snap` (a
 * reference is taken). Failure: problems in `diag`, *out NULL.
 */
HARK_MUST_CHECK hark_err_t hark_pipeline_new(struct hark_snapshot *snap,
                                             bool is_once,
                                             struct hark_diag *diag,
                                             struct hark_pipeline **out);
void hark_pipeline_start(struct hark_pipeline *p);
/* Whether the ingest thread returned (--once finished, or stopped). */
bool hark_pipeline_is_done(struct hark_pipeline *p);
/* Stop fetching, drain, flush, commit (returns at once; join waits). */
void hark_pipeline_stop(struct hark_pipeline *p);
/* Replaces the snapshot used for new items (takes the reference). */
void hark_pipeline_swap(struct hark_pipeline *p, struct hark_snapshot *snap);
const char *hark_pipeline_rules_version(struct hark_pipeline *p);
/* Waits for every thread; returns the ingest result. */
hark_err_t hark_pipeline_join(struct hark_pipeline *p);
/* One line per source, to `fp`, or to the log when fp is NULL. */
void hark_pipeline_log_stats(struct hark_pipeline *p, FILE *fp);
void hark_pipeline_free(struct hark_pipeline *p);

#endif /* HARK_PIPELINE_INT_H */
