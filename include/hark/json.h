/*
 * json: a JSON tree that remembers where every value and key starts, parsed
 * with yajl's callback API (comments allowed on request), plus config maps:
 * the declarative key tables stages use to validate their config objects
 * (Fluent Bit's idea), so core needs to know no stage.
 *
 * A document owns all of its nodes and strings (one arena); nodes are
 * immutable after parsing and may be read from any thread.
 *
 * Thread: parse on any thread; a document belongs to its creator, reading a
 * finished document from several threads is safe.
 */
#ifndef HARK_JSON_H
#define HARK_JSON_H

#include "hark/common.h"
#include "hark/diag.h"

enum hark_json_type {
    HARK_JSON_NULL = 1 << 0,
    HARK_JSON_BOOL = 1 << 1,
    HARK_JSON_INTEGER = 1 << 2, /* a number without fraction or exponent */
    HARK_JSON_DOUBLE = 1 << 3,  /* any other number */
    HARK_JSON_STRING = 1 << 4,
    HARK_JSON_ARRAY = 1 << 5,
    HARK_JSON_OBJECT = 1 << 6
};

#define HARK_JSON_NUMBER (HARK_JSON_INTEGER | HARK_JSON_DOUBLE)

struct hark_json {
    enum hark_json_type type;
    size_t offset;     /* byte offset of the value's first byte */
    bool b;            /* BOOL */
    int64_t i;         /* INTEGER (also set, truncated, for DOUBLE) */
    double d;          /* INTEGER and DOUBLE */
    const char *s;     /* STRING: NUL-terminated, decoded */
    size_t s_len;      /* STRING: bytes, without the NUL */
    size_t n;          /* ARRAY items / OBJECT members */
    struct hark_json **items; /* ARRAY and OBJECT values, in input order */
    const char **keys;        /* OBJECT keys (NUL-terminated) */
    size_t *key_offsets;      /* OBJECT: byte offset of each key's quote */
};

struct hark_json_doc {
    struct hark_json *root;
    const char *file; /* for diagnostics; may be NULL; owned by the doc */
    const char *text; /* the parsed bytes, a copy owned by the doc */
    size_t text_len;
    void *arena_;     /* private */
};

struct hark_json_opts {
    bool allow_comments;   /* config and rule files */
    bool validate_utf8;    /* false for API pages: strings repaired later */
    unsigned max_depth;    /* 0 = 64 */
};

/*
 * Parses `len` bytes of `text`. `file` is copied and only used in messages.
 *
 * Success: *out is a new document owned by the caller (hark_json_doc_free).
 * Failure: HARK_EINVAL, *out is NULL, `errbuf` holds a one-line reason and
 * *err_offset the byte offset where parsing stopped (so callers can report
 * file:line:column, or count the page as unparseable).
 * Thread: any.
 */
HARK_MUST_CHECK hark_err_t hark_json_parse(const char *text, size_t len,
                                           const char *file,
                                           const struct hark_json_opts *opts,
                                           struct hark_json_doc **out,
                                           char *errbuf, size_t errbuf_len,
                                           size_t *err_offset);

/*
 * Parses and reports a syntax error into `diag` as file:line:column.
 * Reads the file itself when `text` is NULL.
 */
HARK_MUST_CHECK hark_err_t hark_json_load_file(const char *path,
                                               struct hark_diag *diag,
                                               struct hark_json_doc **out);

void hark_json_doc_free(struct hark_json_doc *doc);

/* Borrowed results, valid while the document lives. NULL-safe. */
const struct hark_json *hark_json_get(const struct hark_json *obj,
                                      const char *key);
/* The byte offset of `key` inside `obj`, or obj's own offset if missing. */
size_t hark_json_key_offset(const struct hark_json *obj, const char *key);
/* RFC 6901 pointer ("/account/acct", "/items/0"); "" is `root`. */
const struct hark_json *hark_json_pointer(const struct hark_json *root,
                                          const char *pointer);
/* The string, or NULL when `v` is missing or not a string. */
const char *hark_json_str(const struct hark_json *v);
/* The number as int64 (`def` when missing or not a number). */
int64_t hark_json_int(const struct hark_json *v, int64_t def);
double hark_json_num(const struct hark_json *v, double def);
bool hark_json_bool(const struct hark_json *v, bool def);
/* A short name for messages: "string", "object", ... */
const char *hark_json_type_name(enum hark_json_type type);

/* Adds an error located at byte `offset` of the document's text. */
void hark_json_error(const struct hark_json_doc *doc, struct hark_diag *diag,
                     size_t offset, const char *fmt, ...) HARK_PRINTF(4, 5);
void hark_json_warning(const struct hark_json_doc *doc, struct hark_diag *diag,
                       size_t offset, const char *fmt, ...) HARK_PRINTF(4, 5);

/*
 * Config maps. A table of the keys an object may have, ended by a row whose
 * `key` is NULL. `types` is a mask of enum hark_json_type. A row with
 * `not_built` set names a key for a capability that does not exist yet: its
 * presence is an error that says so.
 */
struct hark_cfgmap {
    const char *key;
    unsigned types;
    bool is_required;
    const char *not_built; /* NULL, or why the key cannot be used yet */
};

/*
 * Checks `obj` against `map`: it must be an object; every key must be
 * listed (unknown keys are errors naming the expected ones), of an allowed
 * type, required keys present. Every problem goes to `diag` with `what`
 * ("source", "rule 'x'") in the message.
 * Returns HARK_OK or HARK_EINVAL.
 */
HARK_MUST_CHECK hark_err_t hark_cfgmap_check(const struct hark_json_doc *doc,
                                             const struct hark_json *obj,
                                             const struct hark_cfgmap *map,
                                             const char *what,
                                             struct hark_diag *diag);

#endif /* HARK_JSON_H */
