/*
 * `hark check -c FILE`: validates the config, the rules it names, the
 * lexicon and the customer directory with the same code `run` and reload
 * use. Exit 1 with file:line:column errors.
 */
#include <stdio.h>
#include <string.h>

#include "app_int.h"

int hark_cmd_check(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
            i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "-h") == 0 ||
                   strcmp(argv[i], "--help") == 0) {
            printf("usage: hark check -c FILE\n");
            return 0;
        } else {
            fprintf(stderr, "hark check: unknown argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: hark check -c FILE\n");
        return 2;
    }
    struct hark_diag diag;
    hark_diag_init(&diag);
    struct hark_app_config *cfg = NULL;
    struct hark_snapshot *snap = NULL;
    int rc = 1;
    if (hark_app_config_load(path, &diag, &cfg) == HARK_OK &&
        hark_snapshot_build(cfg, &diag, &snap) == HARK_OK) {
        rc = 0;
    }
    hark_diag_print(&diag, stderr);
    if (rc == 0) {
        printf("%s: ok: %zu source(s), %zu rule(s) (rules_version %s), "
               "%zu lexicon entries, %zu customer(s)\n",
               path, snap->cfg->n_sources, hark_rules_count(snap->rules),
               hark_rules_version(snap->rules),
               hark_lexicon_size(snap->lexicon),
               snap->customers ? hark_customers_count(snap->customers) : 0);
    }
    hark_snapshot_unref(snap);
    hark_diag_cleanup(&diag);
    return rc;
}
