/*
 * hark: a social listening stream processor.
 *
 * main owns process-wide setup (curl_global_init before any thread, the
 * log level) and dispatches to the commands in app/cmd_*.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "app_int.h"
#include "hark/log.h"

static void usage(FILE *fp)
{
    fprintf(fp,
            "hark %s - social listening stream processor\n\n"
            "usage:\n"
            "  hark run -c hark.json [--once]   run the pipeline (--once: poll "
            "every source once, drain, commit, exit)\n"
            "  hark check -c hark.json          validate config, rules and "
            "customers (exit 1 on errors)\n"
            "  hark try [-c hark.json] [-r RULES ...] [-k customers.csv] "
            "[--text \"...\"] [--json]\n"
            "                                   show what the rules, "
            "sentiment, customer join and priority make of posts\n"
            "  hark --version | --help\n\n"
            "options (before the command):\n"
            "  --log-level error|warn|info|debug   (default info; or "
            "HARK_LOG_LEVEL)\n",
            HARK_VERSION);
}

static bool set_level(const char *s)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            hark_log_set_level((enum hark_log_level)i);
            return true;
        }
    }
    fprintf(stderr, "hark: unknown log level \"%s\"\n", s);
    return false;
}

int main(int argc, char **argv)
{
    const char *env = getenv("HARK_LOG_LEVEL");
    if (env && *env && !set_level(env)) {
        return 2;
    }
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--version") == 0) {
            printf("hark %s\n", HARK_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            if (!set_level(argv[i + 1])) {
                return 2;
            }
            i += 2;
            continue;
        }
        fprintf(stderr, "hark: unknown option \"%s\"\n", argv[i]);
        usage(stderr);
        return 2;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[i];
    int sub_argc = argc - i - 1;
    char **sub_argv = argv + i + 1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "hark: curl_global_init failed\n");
        return 1;
    }
    int rc;
    if (strcmp(cmd, "run") == 0) {
        rc = hark_cmd_run(sub_argc, sub_argv);
    } else if (strcmp(cmd, "check") == 0) {
        rc = hark_cmd_check(sub_argc, sub_argv);
    } else if (strcmp(cmd, "try") == 0) {
        rc = hark_cmd_try(sub_argc, sub_argv);
    } else if (strcmp(cmd, "help") == 0) {
        usage(stdout);
        rc = 0;
    } else {
        fprintf(stderr, "hark: unknown command \"%s\"\n", cmd);
        usage(stderr);
        rc = 2;
    }
    curl_global_cleanup();
    return rc;
}
