/*
 * `hark run -c FILE [--once]`: the whole pipeline.
 *
 * Main owns the signals: SIGINT/SIGTERM stop (drain, flush, commit, exit
 * 0), SIGHUP reloads the config's rules, lexicon and customers (a broken
 * set is rejected with its errors and the old one keeps running).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "app_int.h"
#include "hark/log.h"
#include "pipeline_int.h"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: hark run -c FILE [--once] [--log-level LEVEL]\n");
}

/*
 * The file watch (config "watch_s"): the config, every rule file (includes
 * too) and the customer directory, by modification time and size.
 */
struct watch {
    char **paths;
    int64_t *stamps;
    size_t n;
};

static int64_t stamp_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        return -1;
    }
    return (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec +
           (int64_t)st.st_size;
}

static void watch_cleanup(struct watch *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->paths[i]);
    }
    free(w->paths);
    free(w->stamps);
    memset(w, 0, sizeof(*w));
}

static void watch_add(struct watch *w, const char *path)
{
    if (!path) {
        return;
    }
    w->paths = hark_xrealloc(w->paths, (w->n + 1) * sizeof(*w->paths));
    w->stamps = hark_xrealloc(w->stamps, (w->n + 1) * sizeof(*w->stamps));
    w->paths[w->n] = hark_xstrdup(path);
    w->stamps[w->n] = stamp_of(path);
    w->n++;
}

static void watch_build(struct watch *w, const struct hark_snapshot *snap)
{
    watch_cleanup(w);
    watch_add(w, snap->cfg->path);
    for (size_t i = 0; i < hark_rules_n_files(snap->rules); i++) {
        watch_add(w, hark_rules_file(snap->rules, i));
    }
    watch_add(w, snap->cfg->customers_path);
}

/* Whether any watched file changed since the last call. */
static bool watch_changed(struct watch *w)
{
    bool is_changed = false;
    for (size_t i = 0; i < w->n; i++) {
        int64_t now = stamp_of(w->paths[i]);
        if (now != w->stamps[i]) {
            w->stamps[i] = now;
            is_changed = true;
        }
    }
    return is_changed;
}

static void reload(struct hark_pipeline *pipe, const char *path,
                   struct watch *w)
{
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_app_config *cfg = NULL;
    struct hark_snapshot *snap = NULL;
    if (hark_app_config_load(path, &diag, &cfg) == HARK_OK &&
        hark_snapshot_build(cfg, &diag, &snap) == HARK_OK) {
        watch_build(w, snap);
        hark_pipeline_swap(pipe, snap);
        HARK_LOG_INFO("reload", "reloaded %s rules_version=%s", path,
                      hark_pipeline_rules_version(pipe));
    } else {
        HARK_LOG_ERROR("reload", "rejected the new config %s; the previous "
                       "one keeps running:", path);
        hark_diag_print(&diag, stderr);
    }
    hark_diag_cleanup(&diag);
}

int hark_cmd_run(int argc, char **argv)
{
    const char *path = NULL;
    bool is_once = false;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
            i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--once") == 0) {
            is_once = true;
        } else if (strcmp(argv[i], "-h") == 0 ||
                   strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "hark run: unknown argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_app_config *cfg = NULL;
    struct hark_snapshot *snap = NULL;
    if (hark_app_config_load(path, &diag, &cfg) != HARK_OK ||
        hark_snapshot_build(cfg, &diag, &snap) != HARK_OK) {
        hark_diag_print(&diag, stderr);
        hark_diag_cleanup(&diag);
        return 1;
    }
    if (snap->cfg->n_sources == 0) {
        fprintf(stderr, "%s: error: no sources configured; nothing to run\n",
                path);
        hark_snapshot_unref(snap);
        hark_diag_cleanup(&diag);
        return 1;
    }
    /* Signals go to main only: block them before any thread starts. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct hark_pipeline *pipe = NULL;
    if (hark_pipeline_new(snap, is_once, &diag, &pipe) != HARK_OK) {
        hark_diag_print(&diag, stderr);
        hark_diag_cleanup(&diag);
        hark_snapshot_unref(snap);
        return 1;
    }
    hark_diag_print(&diag, stderr); /* warnings */
    hark_diag_cleanup(&diag);
    HARK_LOG_INFO("main", "hark %s running %zu source(s), rules_version=%s%s",
                  HARK_VERSION, snap->cfg->n_sources,
                  hark_rules_version(snap->rules), is_once ? " (once)" : "");
    struct watch w = {NULL, NULL, 0};
    int watch_s = snap->cfg->watch_s;
    if (watch_s > 0) {
        watch_build(&w, snap);
    }
    hark_snapshot_unref(snap);
    hark_pipeline_start(pipe);
    int64_t next_watch = hark_mono_ms() + (int64_t)watch_s * 1000;

    int64_t next_stats = hark_mono_ms() + 60000;
    bool is_stopping = false;
    while (!hark_pipeline_is_done(pipe)) {
        struct timespec ts = {0, 200 * 1000000L};
        int sig = sigtimedwait(&set, NULL, &ts);
        if ((sig == SIGINT || sig == SIGTERM) && !is_stopping) {
            HARK_LOG_INFO("main", "%s: stopping: draining, flushing, "
                          "committing", sig == SIGINT ? "SIGINT" : "SIGTERM");
            is_stopping = true;
            hark_pipeline_stop(pipe);
        } else if (sig == SIGHUP) {
            reload(pipe, path, &w);
        }
        if (watch_s > 0 && !is_stopping && hark_mono_ms() >= next_watch) {
            next_watch = hark_mono_ms() + (int64_t)watch_s * 1000;
            if (watch_changed(&w)) {
                HARK_LOG_INFO("reload", "a watched file changed; reloading");
                reload(pipe, path, &w);
            }
        }
        if (hark_mono_ms() >= next_stats) {
            hark_pipeline_log_stats(pipe, NULL);
            next_stats += 60000;
        }
    }
    watch_cleanup(&w);
    hark_err_t err = hark_pipeline_join(pipe);
    hark_pipeline_log_stats(pipe, NULL);
    hark_pipeline_free(pipe);
    return err == HARK_OK ? 0 : 3;
}
