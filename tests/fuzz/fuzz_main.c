/*
 * fuzz_main: the replay main linked into every fuzz_<target>_replay (built
 * with the compile definition HARK_FUZZ_MAIN, by any compiler), so every
 * CI run regresses the corpora without libFuzzer.
 *
 *     fuzz_rules_replay tests/fuzz/corpus/rules [more files or folders]
 *
 * Each argument is a file or a folder; folders are walked recursively, in
 * name order, skipping names that start with '.'. Each input's name goes
 * to stderr before it runs, so a crash report says which one it was. `-v`
 * sets HARK_FUZZ_VERBOSE=1: the targets then print what each input
 * reached. Other arguments starting with '-' are libFuzzer flags and are
 * ignored, so a libFuzzer command line replays unchanged. Each input is
 * copied into a buffer of exactly its size (as libFuzzer does, so a read
 * past the end is an ASan error) and handed to LLVMFuzzerTestOneInput().
 * A crash or a failed check aborts.
 *
 * Exit: 0 when every input ran and there was at least one; 1 when a path
 * could not be read or no input was found (an empty corpus is a bug).
 *
 * Thread: main thread only.
 */
#ifdef HARK_FUZZ_MAIN

#    include <dirent.h>
#    include <errno.h>
#    include <stddef.h>
#    include <stdint.h>
#    include <stdio.h>
#    include <stdlib.h>
#    include <string.h>
#    include <sys/stat.h>

/* NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's name */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#    define MAX_INPUT_BYTES (64U << 20) /* the targets cap far lower */

struct replay {
    size_t n_inputs;
    size_t n_errors;
};

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_all(const char *path, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        return -1;
    }
    size_t cap = 4096;
    size_t len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        (void)fclose(fp);
        return -1;
    }
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += n;
        if (len == cap) {
            if (cap >= MAX_INPUT_BYTES) {
                break;
            }
            uint8_t *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                (void)fclose(fp);
                return -1;
            }
            buf = grown;
            cap *= 2;
        }
    }
    int is_err = ferror(fp);
    (void)fclose(fp);
    if (is_err) {
        free(buf);
        return -1;
    }
    /* Exactly `len` bytes, so reading past the input is caught. */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    *out = exact;
    *out_len = len;
    return 0;
}

static void run_file(struct replay *r, const char *path)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (read_all(path, &data, &len) != 0) {
        (void)fprintf(stderr, "fuzz replay: cannot read %s: %s\n", path,
                      strerror(errno));
        r->n_errors++;
        return;
    }
    /* Always named first, so a crash report says which input it was. */
    (void)fprintf(stderr, "fuzz replay: %s (%zu bytes)\n", path, len);
    (void)LLVMFuzzerTestOneInput(data, len);
    free(data);
    r->n_inputs++;
}

static void run_path(struct replay *r, const char *path, int depth);

static void run_dir(struct replay *r, const char *path, int depth)
{
    DIR *dir = opendir(path);
    if (!dir) {
        (void)fprintf(stderr, "fuzz replay: cannot open %s: %s\n", path,
                      strerror(errno));
        r->n_errors++;
        return;
    }
    char **names = NULL;
    size_t n_names = 0;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') {
            continue; /* ".", "..", dot files such as .gitkeep */
        }
        if (n_names == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(names, cap * sizeof(*names));
            if (!grown) {
                abort();
            }
            names = grown;
        }
        size_t n = strlen(path) + strlen(de->d_name) + 2;
        names[n_names] = malloc(n);
        if (!names[n_names]) {
            abort();
        }
        (void)snprintf(names[n_names], n, "%s/%s", path, de->d_name);
        n_names++;
    }
    (void)closedir(dir);
    if (n_names > 0) {
        qsort(names, n_names, sizeof(*names), cmp_names);
    }
    for (size_t i = 0; i < n_names; i++) {
        run_path(r, names[i], depth + 1);
        free(names[i]);
    }
    free(names);
}

static void run_path(struct replay *r, const char *path, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        (void)fprintf(stderr, "fuzz replay: cannot stat %s: %s\n", path,
                      strerror(errno));
        r->n_errors++;
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (depth > 32) {
            (void)fprintf(stderr, "fuzz replay: %s: folders nested too deep\n",
                          path);
            r->n_errors++;
            return;
        }
        run_dir(r, path, depth);
    } else if (S_ISREG(st.st_mode)) {
        run_file(r, path);
    } else {
        (void)fprintf(stderr, "fuzz replay: %s: not a file or folder\n", path);
        r->n_errors++;
    }
}

int main(int argc, char **argv)
{
    struct replay r = {0, 0};
    size_t n_paths = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            /* The targets print what each input reached. */
            (void)setenv("HARK_FUZZ_VERBOSE", "1", 1);
        } else if (argv[i][0] != '-') {
            n_paths++;
        }
    }
    if (n_paths == 0) {
        (void)fprintf(stderr, "usage: %s [-v] FILE_OR_FOLDER...\n", argv[0]);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-') {
            run_path(&r, argv[i], 0);
        }
    }
    (void)printf("%s: ran %zu inputs\n", argv[0], r.n_inputs);
    if (r.n_errors > 0) {
        (void)fprintf(stderr, "%s: %zu paths could not be read\n", argv[0],
                      r.n_errors);
        return 1;
    }
    if (r.n_inputs == 0) {
        (void)fprintf(stderr, "%s: no inputs found\n", argv[0]);
        return 1;
    }
    return 0;
}

#else
/* Without HARK_FUZZ_MAIN libFuzzer provides main; keep the unit non-empty. */
typedef int hark_fuzz_main_unused;
#endif /* HARK_FUZZ_MAIN */
