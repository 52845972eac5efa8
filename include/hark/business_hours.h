/*
 * business_hours: opening hours in a real time zone, and SLA clocks that
 * run only while the team is open (enrich/business_hours.c).
 *
 * A schedule is a time zone (an IANA name such as "Europe/Berlin"), the
 * weekdays the team works, one opening and one closing wall-clock time
 * (the same every working day), and holidays (local dates). Wall-clock
 * times are converted with ICU's calendar, so daylight saving time and
 * the zone's history are right; nothing touches TZ or the process's
 * locale, so any number of threads may compute at once.
 *
 * Thread: a schedule is immutable once parsed and shared by reference
 * (_ref/_unref, atomic); every function may run on any thread.
 */
#ifndef HARK_BUSINESS_HOURS_H
#define HARK_BUSINESS_HOURS_H

#include "hark/common.h"
#include "hark/diag.h"
#include "hark/json.h"

struct hark_bhours;

/* ---- create ---- */

/*
 * Reads a business-hours object:
 *
 *   {"timezone": "Europe/Berlin",                  required
 *    "days": ["mon", "tue", "wed", "thu", "fri"],  default Monday-Friday
 *    "open": "09:00", "close": "17:30",            required, 24-hour HH:MM
 *    "holidays": ["2026-12-25"]}                   local dates, default none
 *
 * `open` is 00:00-23:59, `close` 00:01-24:00 and later than `open` (no
 * overnight shifts). `what` names the object in messages
 * ("priority.business_hours"). `extra` lists further keys the caller reads
 * from the same object (may be NULL; rows end with a NULL key): they are
 * accepted here and left to the caller.
 *
 * Success: *out holds one reference owned by the caller
 * (hark_bhours_unref). Failure: *out is NULL, HARK_EINVAL, and `diag` holds
 * one "file:line:column: message" per problem (an unknown time zone, a bad
 * day, time or date, an unknown key). Thread: any.
 */
HARK_MUST_CHECK hark_err_t hark_bhours_parse(const struct hark_json_doc *doc,
                                             const struct hark_json *obj,
                                             const char *what,
                                             const struct hark_cfgmap *extra,
                                             struct hark_diag *diag,
                                             struct hark_bhours **out);

/* Another reference to `bh` (NULL gives NULL). */
struct hark_bhours *hark_bhours_ref(struct hark_bhours *bh);

/* ---- use ---- */

/*
 * The instant at which `duration_ms` of open time has passed since
 * `start_ms` (epoch milliseconds, UTC): the clock runs only while open, so
 * a start out of hours counts from the next opening. A duration of 0
 * gives the start itself when open, else the next opening. The search
 * stops after ten years of calendar days; then (a schedule that is almost
 * never open) the result is start_ms + duration_ms.
 */
int64_t hark_bhours_add(const struct hark_bhours *bh,
                        int64_t start_ms,
                        int64_t duration_ms);

/* True when the team is open at `t_ms` (holidays and days included). */
bool hark_bhours_is_open(const struct hark_bhours *bh, int64_t t_ms);

/* The time zone as configured ("Europe/Berlin"); valid while `bh` lives. */
const char *hark_bhours_timezone(const struct hark_bhours *bh);

/* ---- destroy ---- */

/* Drops one reference; the last frees the schedule. NULL does nothing. */
void hark_bhours_unref(struct hark_bhours *bh);

#endif /* HARK_BUSINESS_HOURS_H */
