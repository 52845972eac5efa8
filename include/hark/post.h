/*
 * post: the normalized post every stage shares (DESIGN.md "Normalized
 * post"), and its JSON form (the same shape in events and `hark try`).
 *
 * A post owns all of its strings (malloc'd, NUL-terminated UTF-8). Empty
 * optional strings are NULL. A post has one owner at a time; it changes
 * owner when it moves through a queue.
 *
 * Thread: any; no shared state.
 */
#ifndef HARK_POST_H
#define HARK_POST_H

#include "hark/common.h"
#include "hark/json.h"
#include "hark/jw.h"

enum hark_post_kind {
    HARK_KIND_POST = 0,
    HARK_KIND_COMMENT,
    HARK_KIND_REPLY,
    HARK_KIND_REPOST
};

/* The text fields a rule can match and a span can name. */
enum hark_field {
    HARK_FIELD_TEXT = 0,
    HARK_FIELD_TITLE,
    HARK_FIELD_SPOILER,
    HARK_FIELD_COUNT_
};

struct hark_author {
    char *id;           /* platform's stable id (Mastodon account id, DID) */
    char *handle;       /* Mastodon user@host, Reddit name, Bluesky handle */
    char *display_name;
    int64_t followers;  /* -1 = unknown */
};

struct hark_strv {
    char **v;
    size_t n;
};

struct hark_post {
    char *id;           /* the platform's own id */
    char *platform;     /* "mastodon", "reddit", ... */
    char *source;       /* the configured source name */
    enum hark_post_kind kind;
    char *url;
    char *created_at;   /* RFC 3339 */
    char *edited_at;    /* RFC 3339 or NULL */
    char *lang;         /* BCP 47 or NULL */
    char *title;        /* Reddit, HN */
    char *spoiler_text; /* content warning */
    char *text;         /* plain text, never NULL (may be "") */
    struct hark_author author;
    struct hark_strv hashtags;  /* without '#' */
    struct hark_strv mentions;  /* without '@' */
    struct hark_strv links;
    char *in_reply_to;
    char *conversation_id;
    bool is_repost;
    char *repost_of;    /* the original's id, for reposts */
    char *reposted_by;  /* the booster's handle, for reposts */
    int64_t likes, reposts, replies;
    bool is_deleted;    /* a tombstone reported by the platform */
    unsigned n_repaired; /* invalid UTF-8 sequences replaced by U+FFFD */
};

struct hark_post *hark_post_new(void);
void hark_post_free(struct hark_post *post);
struct hark_post *hark_post_dup(const struct hark_post *post);

/* The text of `field` (NULL when absent). */
const char *hark_post_field(const struct hark_post *post, enum hark_field f);
const char *hark_field_name(enum hark_field f);
const char *hark_post_kind_name(enum hark_post_kind kind);

/* Appends to a string vector (copies `s`). */
void hark_strv_add(struct hark_strv *sv, const char *s, size_t len);
void hark_strv_cleanup(struct hark_strv *sv);

/*
 * The revision used for event ids: edited_at when the post was edited,
 * else created_at, else "". Borrowed from `post`.
 */
const char *hark_post_revision(const struct hark_post *post);

/*
 * Reads a post in its normalized JSON form (one line of `hark try` input).
 * Unknown keys are ignored; invalid UTF-8 in strings is repaired.
 * Success: *out owned by the caller. Failure: HARK_EINVAL, `errbuf` says why.
 */
HARK_MUST_CHECK hark_err_t hark_post_from_json(const struct hark_json *obj,
                                               struct hark_post **out,
                                               char *errbuf,
                                               size_t errbuf_len);

/* Writes the post as a JSON object (the `post` part of every event). */
void hark_post_gen(struct hark_jw *gen, const struct hark_post *post);

/*
 * Replaces invalid UTF-8 in s[0..len) with U+FFFD into a new string
 * (caller frees); *n_repaired counts the replacements. Never fails.
 */
char *hark_utf8_repair(const char *s, size_t len, unsigned *n_repaired);
bool hark_utf8_valid(const char *s, size_t len);

#endif /* HARK_POST_H */
