/*
 * business_hours: SLA clocks that run only while the team is open.
 *
 * The model is the one Zendesk and Freshdesk use for business-hours SLA
 * targets: the clock runs during open hours only; a post that arrives out
 * of hours starts its clock at the next opening; nights, closed weekdays
 * and holidays do not count.
 *
 * hark_bhours_add() walks local calendar days from the start: each
 * working day that is not a holiday contributes the interval
 * [open, close) converted to UTC for that very day, and the duration is
 * spent from those intervals in order. Dates are plain proleptic
 * Gregorian day numbers (days_from_civil), independent of any zone; only
 * the two conversions between a zone's wall clock and UTC go through ICU
 * (ucal_setMillis/ucal_get one way, ucal_setDateTime/ucal_getMillis the
 * other), so a day of 23 or 25 hours and an offset that changed over a
 * weekend come out right. A wall time that does not exist (an opening
 * inside the spring-forward gap) is taken as the first valid instant
 * after it (UCAL_WALLTIME_NEXT_VALID); a repeated one as its first
 * occurrence (ICU's default).
 *
 * Why ICU and not localtime_r(): the C library reads the zone from TZ, a
 * process-wide setting that workers cannot change per schedule while
 * others run. A UCalendar is a private object; ICU's zone data and caches
 * are thread-safe. One calendar is opened per call (a few microseconds,
 * and only for engagement items).
 */
#include "hark/business_hours.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#define MAX_DAYS     (3653) /* ten years of calendar days */
#define MAX_ZONE_LEN 64
#define MIN_PER_DAY  (24 * 60)

struct hark_bhours {
    atomic_int refs;
    char *timezone;
    UChar zone[MAX_ZONE_LEN + 1];
    int32_t zone_len;
    unsigned days;     /* bit 0 = Monday ... bit 6 = Sunday */
    int open_min;      /* minutes after local midnight */
    int close_min;     /* > open_min, at most 24:00 */
    int64_t *holidays; /* local day numbers, sorted */
    size_t n_holidays;
};

static const char *const day_names[7] = {"mon", "tue", "wed", "thu",
                                         "fri", "sat", "sun"};

/* ---- calendar arithmetic (proleptic Gregorian, no zone) ---------------- */

/* Days since 1970-01-01 of y-m-d (m 1..12); H. Hinnant's algorithm. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* 0 = Monday ... 6 = Sunday (1970-01-01 was a Thursday). */
static int weekday(int64_t day)
{
    int64_t w = (day + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : n[m - 1];
}

/* ---- parsing ------------------------------------------------------------ */

static const struct hark_cfgmap own_map[] = {
    {"timezone", HARK_JSON_STRING, true, NULL},
    {"days", HARK_JSON_ARRAY, false, NULL},
    {"open", HARK_JSON_STRING, true, NULL},
    {"close", HARK_JSON_STRING, true, NULL},
    {"holidays", HARK_JSON_ARRAY, false, NULL},
    {NULL, 0, false, NULL},
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* "HH:MM" -> minutes; -1 when malformed. 24:00 is allowed here. */
static int parse_hhmm(const char *s)
{
    if (strlen(s) != 5 || !is_digit(s[0]) || !is_digit(s[1]) || s[2] != ':' ||
        !is_digit(s[3]) || !is_digit(s[4])) {
        return -1;
    }
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0)) {
        return -1;
    }
    return h * 60 + m;
}

/* "YYYY-MM-DD" -> day number; false when malformed or not a real date. */
static bool parse_date(const char *s, int64_t *day)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') {
        return false;
    }
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && !is_digit(s[i])) {
            return false;
        }
    }
    int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
                (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > month_days(y, m)) {
        return false;
    }
    *day = days_from_civil(y, m, d);
    return true;
}

static int cmp_day(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static hark_err_t parse_zone(const struct hark_json_doc *doc,
                             const struct hark_json *v,
                             const char *what,
                             struct hark_diag *diag,
                             struct hark_bhours *bh)
{
    bool is_ascii = v->s_len > 0 && v->s_len <= MAX_ZONE_LEN;
    for (size_t i = 0; is_ascii && i < v->s_len; i++) {
        unsigned char c = (unsigned char)v->s[i];
        is_ascii = c > 0x20 && c < 0x7f;
    }
    UBool is_system = 0;
    if (is_ascii) {
        u_charsToUChars(v->s, bh->zone, (int32_t)v->s_len);
        bh->zone[v->s_len] = 0;
        bh->zone_len = (int32_t)v->s_len;
        UChar canon[MAX_ZONE_LEN * 2];
        UErrorCode status = U_ZERO_ERROR;
        (void)ucal_getCanonicalTimeZoneID(bh->zone, bh->zone_len, canon,
                                          MAX_ZONE_LEN * 2, &is_system,
                                          &status);
        if (U_FAILURE(status)) {
            is_system = 0;
        }
    }
    if (!is_system) {
        hark_json_error(doc, diag, v->offset,
                        "unknown time zone \"%s\" in %s.timezone; expected an "
                        "IANA name such as \"Europe/Berlin\", "
                        "\"America/New_York\" or \"UTC\"",
                        v->s, what);
        return HARK_EINVAL;
    }
    bh->timezone = hark_xstrdup(v->s);
    return HARK_OK;
}

static hark_err_t parse_days(const struct hark_json_doc *doc,
                             const struct hark_json *arr,
                             const char *what,
                             struct hark_diag *diag,
                             struct hark_bhours *bh)
{
    hark_err_t err = HARK_OK;
    unsigned days = 0;
    for (size_t i = 0; i < arr->n; i++) {
        const char *name = hark_json_str(arr->items[i]);
        int d = 0;
        while (name && d < 7 && strcmp(name, day_names[d]) != 0) {
            d++;
        }
        if (!name || d == 7) {
            hark_json_error(doc, diag, arr->items[i]->offset,
                            "unknown day %s%s%s in %s.days; expected \"mon\", "
                            "\"tue\", \"wed\", \"thu\", \"fri\", \"sat\" or "
                            "\"sun\"",
                            name ? "\"" : "", name ? name : "(not a string)",
                            name ? "\"" : "", what);
            err = HARK_EINVAL;
            continue;
        }
        days |= 1U << d;
    }
    if (err == HARK_OK && days == 0) {
        hark_json_error(doc, diag, arr->offset,
                        "%s.days must name at least one day", what);
        err = HARK_EINVAL;
    }
    bh->days = days;
    return err;
}

static hark_err_t parse_times(const struct hark_json_doc *doc,
                              const struct hark_json *obj,
                              const char *what,
                              struct hark_diag *diag,
                              struct hark_bhours *bh)
{
    const struct hark_json *open = hark_json_get(obj, "open");
    const struct hark_json *close = hark_json_get(obj, "close");
    if (!open || open->type != HARK_JSON_STRING || !close ||
        close->type != HARK_JSON_STRING) {
        return HARK_EINVAL; /* reported by the map */
    }
    hark_err_t err = HARK_OK;
    bh->open_min = parse_hhmm(open->s);
    if (bh->open_min < 0 || bh->open_min >= MIN_PER_DAY) {
        hark_json_error(doc, diag, open->offset,
                        "%s.open must be a time from \"00:00\" to \"23:59\", "
                        "not \"%s\"",
                        what, open->s);
        err = HARK_EINVAL;
    }
    bh->close_min = parse_hhmm(close->s);
    if (bh->close_min <= 0) {
        hark_json_error(doc, diag, close->offset,
                        "%s.close must be a time from \"00:01\" to \"24:00\", "
                        "not \"%s\"",
                        what, close->s);
        err = HARK_EINVAL;
    }
    if (err == HARK_OK && bh->close_min <= bh->open_min) {
        hark_json_error(doc, diag, close->offset,
                        "%s.close (\"%s\") must be later than open (\"%s\"); "
                        "overnight hours are not supported",
                        what, close->s, open->s);
        err = HARK_EINVAL;
    }
    return err;
}

static hark_err_t parse_holidays(const struct hark_json_doc *doc,
                                 const struct hark_json *arr,
                                 const char *what,
                                 struct hark_diag *diag,
                                 struct hark_bhours *bh)
{
    hark_err_t err = HARK_OK;
    bh->holidays = hark_xcalloc(arr->n ? arr->n : 1, sizeof(*bh->holidays));
    for (size_t i = 0; i < arr->n; i++) {
        const char *s = hark_json_str(arr->items[i]);
        int64_t day = 0;
        if (!s || !parse_date(s, &day)) {
            hark_json_error(doc, diag, arr->items[i]->offset,
                            "%s.holidays must hold dates as \"YYYY-MM-DD\", "
                            "not %s%s%s",
                            what, s ? "\"" : "", s ? s : "(not a string)",
                            s ? "\"" : "");
            err = HARK_EINVAL;
            continue;
        }
        bh->holidays[bh->n_holidays++] = day;
    }
    qsort(bh->holidays, bh->n_holidays, sizeof(*bh->holidays), cmp_day);
    return err;
}

/* own_map followed by the caller's rows, for one key check. */
static struct hark_cfgmap *joined_map(const struct hark_cfgmap *extra)
{
    size_t n_own = sizeof(own_map) / sizeof(own_map[0]) - 1;
    size_t n_extra = 0;
    while (extra && extra[n_extra].key) {
        n_extra++;
    }
    struct hark_cfgmap *map = hark_xcalloc(n_own + n_extra + 1, sizeof(*map));
    memcpy(map, own_map, n_own * sizeof(*map));
    if (n_extra) {
        memcpy(map + n_own, extra, n_extra * sizeof(*map));
    }
    return map;
}

hark_err_t hark_bhours_parse(const struct hark_json_doc *doc,
                             const struct hark_json *obj,
                             const char *what,
                             const struct hark_cfgmap *extra,
                             struct hark_diag *diag,
                             struct hark_bhours **out)
{
    *out = NULL;
    struct hark_cfgmap *map = joined_map(extra);
    hark_err_t err = hark_cfgmap_check(doc, obj, map, what, diag);
    free(map);
    if (!obj || obj->type != HARK_JSON_OBJECT) {
        return HARK_EINVAL;
    }
    struct hark_bhours *bh = hark_xcalloc(1, sizeof(*bh));
    atomic_init(&bh->refs, 1);
    bh->days = 0x1f; /* Monday to Friday */
    const struct hark_json *v = hark_json_get(obj, "timezone");
    if (v && v->type == HARK_JSON_STRING &&
        parse_zone(doc, v, what, diag, bh) != HARK_OK) {
        err = HARK_EINVAL;
    }
    v = hark_json_get(obj, "days");
    if (v && v->type == HARK_JSON_ARRAY &&
        parse_days(doc, v, what, diag, bh) != HARK_OK) {
        err = HARK_EINVAL;
    }
    if (parse_times(doc, obj, what, diag, bh) != HARK_OK) {
        err = HARK_EINVAL;
    }
    v = hark_json_get(obj, "holidays");
    if (v && v->type == HARK_JSON_ARRAY &&
        parse_holidays(doc, v, what, diag, bh) != HARK_OK) {
        err = HARK_EINVAL;
    }
    if (err != HARK_OK || !bh->timezone) {
        hark_bhours_unref(bh);
        return HARK_EINVAL;
    }
    *out = bh;
    return HARK_OK;
}

struct hark_bhours *hark_bhours_ref(struct hark_bhours *bh)
{
    if (bh) {
        atomic_fetch_add(&bh->refs, 1);
    }
    return bh;
}

void hark_bhours_unref(struct hark_bhours *bh)
{
    if (!bh || atomic_fetch_sub(&bh->refs, 1) != 1) {
        return;
    }
    free(bh->timezone);
    free(bh->holidays);
    free(bh);
}

const char *hark_bhours_timezone(const struct hark_bhours *bh)
{
    return bh->timezone;
}

/* ---- computing ---------------------------------------------------------- */

static bool is_holiday(const struct hark_bhours *bh, int64_t day)
{
    return bh->n_holidays > 0 && bsearch(&day, bh->holidays, bh->n_holidays,
                                         sizeof(day), cmp_day) != NULL;
}

static bool is_working_day(const struct hark_bhours *bh, int64_t day)
{
    return (bh->days & (1U << weekday(day))) && !is_holiday(bh, day);
}

static UCalendar *open_cal(const struct hark_bhours *bh)
{
    UErrorCode status = U_ZERO_ERROR;
    UCalendar *cal =
        ucal_open(bh->zone, bh->zone_len, "", UCAL_GREGORIAN, &status);
    if (U_FAILURE(status)) {
        ucal_close(cal);
        return NULL;
    }
    ucal_setAttribute(cal, UCAL_LENIENT, 1);
    ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_NEXT_VALID);
    return cal;
}

/* The local day number and minute of the day of `t_ms`; false on error. */
static bool local_day(UCalendar *cal, int64_t t_ms, int64_t *day, int *minute)
{
    UErrorCode status = U_ZERO_ERROR;
    ucal_setMillis(cal, (UDate)t_ms, &status);
    int32_t era = ucal_get(cal, UCAL_ERA, &status);
    int32_t y = ucal_get(cal, UCAL_YEAR, &status);
    int32_t m = ucal_get(cal, UCAL_MONTH, &status);
    int32_t d = ucal_get(cal, UCAL_DATE, &status);
    int32_t h = ucal_get(cal, UCAL_HOUR_OF_DAY, &status);
    int32_t min = ucal_get(cal, UCAL_MINUTE, &status);
    if (U_FAILURE(status)) {
        return false;
    }
    int64_t year = era == 0 ? 1 - (int64_t)y : y; /* BC years */
    *day = days_from_civil(year, (int)m + 1, (int)d);
    *minute = (int)(h * 60 + min);
    return true;
}

/* UTC milliseconds of `minute` (0..1440) on local day `day`. */
static bool local_to_utc(UCalendar *cal, int64_t day, int minute, int64_t *t_ms)
{
    if (minute >= MIN_PER_DAY) {
        day += minute / MIN_PER_DAY;
        minute %= MIN_PER_DAY;
    }
    int64_t y = 0;
    int m = 0;
    int d = 0;
    civil_from_days(day, &y, &m, &d);
    UErrorCode status = U_ZERO_ERROR;
    ucal_clear(cal);
    ucal_setDateTime(cal, (int32_t)y, m - 1, d, minute / 60, minute % 60, 0,
                     &status);
    UDate ms = ucal_getMillis(cal, &status);
    if (U_FAILURE(status)) {
        return false;
    }
    *t_ms = (int64_t)ms;
    return true;
}

int64_t hark_bhours_add(const struct hark_bhours *bh,
                        int64_t start_ms,
                        int64_t duration_ms)
{
    int64_t fallback = start_ms + duration_ms;
    UCalendar *cal = open_cal(bh);
    int64_t day = 0;
    int minute = 0;
    if (!cal || !local_day(cal, start_ms, &day, &minute)) {
        ucal_close(cal);
        return fallback;
    }
    int64_t remaining = duration_ms < 0 ? 0 : duration_ms;
    int64_t result = fallback;
    for (int i = 0; i < MAX_DAYS; i++, day++) {
        if (!is_working_day(bh, day)) {
            continue;
        }
        int64_t open_ms = 0;
        int64_t close_ms = 0;
        if (!local_to_utc(cal, day, bh->open_min, &open_ms) ||
            !local_to_utc(cal, day, bh->close_min, &close_ms)) {
            break;
        }
        int64_t from = start_ms > open_ms ? start_ms : open_ms;
        if (from >= close_ms) {
            continue; /* the start is after today's closing */
        }
        if (remaining <= close_ms - from) {
            result = from + remaining;
            break;
        }
        remaining -= close_ms - from;
    }
    ucal_close(cal);
    return result;
}

bool hark_bhours_is_open(const struct hark_bhours *bh, int64_t t_ms)
{
    UCalendar *cal = open_cal(bh);
    int64_t day = 0;
    int minute = 0;
    bool is_open = false;
    int64_t open_ms = 0;
    int64_t close_ms = 0;
    if (cal && local_day(cal, t_ms, &day, &minute) && is_working_day(bh, day) &&
        local_to_utc(cal, day, bh->open_min, &open_ms) &&
        local_to_utc(cal, day, bh->close_min, &close_ms)) {
        is_open = t_ms >= open_ms && t_ms < close_ms;
    }
    ucal_close(cal);
    return is_open;
}
