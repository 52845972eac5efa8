#!/usr/bin/env python3
# Copied unchanged (but for this header) from the shared benchmark kit,
# ../shared/bench/gen_workload.py, the reference workload of DESIGN.md
# "Performance budget", so the hark build and bench/run_rules_bench.sh do
# not depend on anything outside this repository. Keep it in sync by hand.
"""Synthetic social-listening workload: an NDJSON corpus of posts plus regex rule sets.

Deterministic for a given --seed. Standard library only.

Writes under --out (default /tmp/bench):
  corpus.ndjson              N posts, one JSON object per line (~0.5-2 KB each)
  texts.txt                  the decoded `text` field of each post, one per line
                             (texts never contain a newline), for line-oriented greps
  rules/rules-K.txt          K regexes, one per line, to be applied case-insensitively to
                             `text` (K in --ks, default 10,100,1000,10000; each set is a
                             prefix of the next)
  rules/rules-K.json         the same rules in hark's rule format (shared/DESIGN.md)
  rules/rules-K.anchors.json per rule, lowercase word prefixes of which at least one
                             begins a word token of any match (used by the verifier)
  rules/grep-K.txt           one PCRE line: (r1)|(r2)|... (for grep -P, which rejects
                             multi-line pattern files in some versions)
  rules/syslog-ng-K.conf     filter f_rules { match(...) or match(...) ... };
  rules/rsyslog-K.conf       if re_match_i($!text, "r1") or ... then call out
  rules/fluent-bit-K.conf    a [FILTER] grep section with K `Regex text /r/i` lines,
                             Logical_Op or

Rule dialect: every rule stays inside the subset shared by PCRE/PCRE2, Python re, Onigmo
(Fluent Bit), glibc POSIX ERE with GNU extensions (rsyslog re_match) and Rust regex
(ripgrep): literals, ( | ), ?, *, +, {m,n}, [..] without escapes inside brackets,
\\b, \\w, `.`. No (?:), no lookaround, no lazy quantifiers, no apostrophes.
"""
import argparse
import bisect
import json
import os
import random
import sys

COMMON = """the be to of and a in that have I it for not on with he as you do at this but his by
from they we say her she or an will my one all would there their what so up out if about who get
which go me when make can like time no just him know take people into year your good some could
them see other than then now look only come its over think also back after use two how our work
first well way even new want because any these give day most us really today week still again
night morning honestly literally finally never always maybe actually pretty very much more less
love great nice bad weird funny happy sad tired excited coffee lunch dinner weekend friday monday
team game music movie show book city trip flight train home office kids dog cat weather rain sun
phone laptop app update screen battery camera photo video news story post thread reply question
answer help thanks please sorry lol omg tbh imo btw yes yeah nope okay sure right wrong big small
long short old young early late fast slow free cheap expensive price deal sale store shop online
order account email message call wait line hour minute store friend family party event meeting
deadline project school class test exam study job interview hire boss coworker commute traffic
road bike car bus ticket hotel beach park garden kitchen recipe pizza burger salad tea water
""".split()

# (word, weight) - a few very frequent function words, a long flat tail for the rest
FUNCTION = "the to and a of in is it you that for on with this my i was so but just".split()

EMOJI = ["\U0001F600", "\U0001F621", "\U0001F525", "\U0001F44D", "\U0001F64F", "\U0001F494",
         "\U0001F680", "\u2728", "\U0001F602", "\U0001F62D", "\u2764\ufe0f", "\U0001F644",
         "\U0001F389", "\U0001F914", "\U0001F4AF", "\U0001F92C"]
NON_ASCII = ["caf\u00e9", "na\u00efve", "Z\u00fcrich", "S\u00e3o Paulo", "M\u00fcnchen",
             "\u6771\u4eac", "\u043f\u0440\u0438\u0432\u0435\u0442", "\u00a1hola!",
             "jalape\u00f1o", "d\u00e9j\u00e0 vu", "cr\u00e8me br\u00fbl\u00e9e", "\u00fcber",
             "fa\u00e7ade", "r\u00e9sum\u00e9", "Espa\u00f1a", "\u3042\u308a\u304c\u3068\u3046",
             "\u2014", "\u2026", "\u00bd", "\u20ac20"]
TLDS = ["com", "io", "net", "co", "app"]

POPULAR_BRANDS = ["acme", "globex", "hooli", "initech", "umbrella", "vandelay", "stark", "wayne",
                  "cyberdyne", "tyrell", "wonka", "oscorp", "soylent", "aperture", "monarch",
                  "piedpiper", "dunder", "gringotts", "wernham", "massive"]
PRODUCT_LINES = ["phone", "tab", "watch", "buds", "cloud", "drive", "mail", "pay", "tv", "router"]
PRODUCT_TIERS = ["pro", "plus", "max", "mini", "ultra", "lite", "2", "3", "12", "15"]

# Popular rules: (regex, anchors, tags). The first 10 form the K=10 set.
POPULAR_RULES = [
    (r"\b(refund(s|ed)?|overcharg\w*|double[- ]charged|charged twice)\b",
     ["refund", "overcharg", "double", "charged"], ["topic:billing", "intent:complaint"]),
    (r"\b(cancel(l?ed|l?ing)?|clos(e|ing)) (my |our )?(account|subscription|membership|plan)\b",
     ["cancel", "clos"], ["intent:churn"]),
    (r"\b(outage|down again|not working|(is|was|are) down|crash(es|ed|ing)?)\b",
     ["outage", "down", "not", "is", "was", "are", "crash"], ["topic:reliability"]),
    (r"\bacme( corp| inc|co)?\b", ["acme"], ["brand:acme"]),
    (r"\bglobex (cloud|drive|mail)( (pro|plus|max))?\b", ["globex"], ["brand:globex", "topic:product"]),
    (r"(#hooli\w*|@hooli(support|help)?\b)", ["hooli"], ["brand:hooli", "channel:social"]),
    (r"\b(love|loving|obsessed with|shout ?out to) (my |the |our )?(acme|globex|hooli|initech|umbrella)\b",
     ["lov", "obsessed", "shout"], ["sentiment:praise"]),
    (r"\b(package|order|delivery|parcel) (never|still not|did not) (arrived|arrive|shipped|showed up)\b",
     ["package", "order", "delivery", "parcel"], ["topic:delivery", "intent:complaint"]),
    (r"\bswitch(ed|ing)? (from|to) (acme|globex|hooli|initech|umbrella|vandelay)\b",
     ["switch"], ["intent:churn", "topic:competitor"]),
    (r"\b(worst|terrible|awful|horrible) (customer )?(service|support|experience)\b",
     ["worst", "terrible", "awful", "horrible"], ["topic:support", "sentiment:negative"]),
    # 11..40: second tier, brand and intent rules
    (r"\binitech( ?(cloud|pay|mail))?\b", ["initech"], ["brand:initech"]),
    (r"\bumbrella (corp|pharma|health)\b", ["umbrella"], ["brand:umbrella"]),
    (r"\bvandelay( industries)?\b", ["vandelay"], ["brand:vandelay"]),
    (r"\b(data breach|leaked|hacked|phishing|scam\w*)\b", ["data", "leaked", "hacked", "phishing", "scam"],
     ["topic:security"]),
    (r"\b(price|prices|pricing) (hike|increase|went up|jump\w*)\b", ["pric"], ["topic:pricing"]),
    (r"\b(any|some) recommendations? for (a |an )?\w+", ["any", "some"], ["intent:question"]),
    (r"\b(highly recommend|five stars|5 stars|best purchase)\b", ["highly", "five", "5", "best"],
     ["sentiment:praise", "signal:advocacy"]),
    (r"\b(still waiting|on hold for|no response|ignored my (email|ticket|dm))\b",
     ["still", "on", "no", "ignored"], ["topic:support"]),
    (r"\bstark( ?(phone|watch|tab))?( (pro|max|ultra))?\b", ["stark"], ["brand:stark"]),
    (r"\bwayne (tech|enterprises|pay)\b", ["wayne"], ["brand:wayne"]),
    (r"@(acme|globex|initech)(support|help|cares)\b", ["acme", "globex", "initech"], ["channel:support-handle"]),
    (r"\bcyberdyne\w*\b", ["cyberdyne"], ["brand:cyberdyne"]),
    (r"\btyrell (corp|phone|tab)\b", ["tyrell"], ["brand:tyrell"]),
    (r"\b(wonka|oscorp|soylent)( (bar|labs|green))?\b", ["wonka", "oscorp", "soylent"], ["brand:misc"]),
    (r"\b(battery|screen|camera) (died|cracked|broke|broken|drain\w*)\b", ["battery", "screen", "camera"],
     ["topic:hardware"]),
    (r"\b(never again|waste of money|rip ?off)\b", ["never", "waste", "rip"], ["sentiment:negative"]),
    (r"\b(thank you|thanks|kudos) (to )?(acme|globex|hooli|stark)\b", ["thank", "kudos"],
     ["sentiment:praise"]),
    (r"\baperture (science|labs)\b", ["aperture"], ["brand:aperture"]),
    (r"\bmonarch (app|pay)\b", ["monarch"], ["brand:monarch"]),
    (r"\bpied ?piper\b", ["pied"], ["brand:piedpiper"]),
    (r"\b(gringotts|wernham hogg|dunder mifflin)\b", ["gringotts", "wernham", "dunder"], ["brand:misc2"]),
    (r"\bmassive dynamic\b", ["massive"], ["brand:massive"]),
    (r"\b(hiring|job opening|we are looking for)\b", ["hiring", "job", "we"], ["topic:jobs"]),
    (r"\b(bug|glitch|error code) ?[0-9]{2,4}\b", ["bug", "glitch", "error"], ["topic:bug"]),
    (r"\b(customer|tech) support (is|was) (great|amazing|awesome|helpful)\b", ["customer", "tech"],
     ["topic:support", "sentiment:praise"]),
    (r"\b(recall|recalled|safety issue)\b", ["recall", "safety"], ["topic:safety"]),
    (r"\b(unsubscribe|spam) (email|emails|texts)\b", ["unsubscribe", "spam"], ["topic:marketing"]),
    (r"\b(lawsuit|sue|suing|class action)\b", ["lawsuit", "sue", "suing", "class"], ["topic:legal"]),
    (r"\b(free trial|promo code|discount code|coupon)\b", ["free", "promo", "discount", "coupon"],
     ["topic:promo"]),
    (r"\b(shipping|delivery) (fee|fees|cost|costs) (are|is) (insane|ridiculous|crazy)\b",
     ["shipping", "delivery"], ["topic:pricing"]),
]

# Phrase groups inserted into post texts: (probability per post, phrases). Most groups
# target one popular rule; NEAR_MISS phrases look similar but match no rule.
BILLING = ["I want a refund", "they overcharged me", "got double charged", "was double-charged again",
           "charged twice for one order", "refunds take forever", "still no refund", "refunded at last",
           "overcharging customers again", "Overcharged AGAIN"]
CANCEL = ["I am going to cancel my subscription", "just cancelled my account", "closing my account today",
          "cancelling our membership", "cancel my plan", "Canceled my subscription", "close our account"]
OUTAGE = ["the app keeps crashing", "service is down again", "site is down", "it was down all morning",
          "outage for the third time this week", "checkout not working", "login not working",
          "crashed twice today", "servers are down", "Outage!!"]
DELIVERY = ["my package never arrived", "order still not shipped", "delivery did not show up",
            "parcel never showed up", "order never arrived", "package still not arrived"]
SWITCH = ["switched to globex", "switching from acme", "thinking about switching to hooli",
          "switch to initech", "switched from umbrella", "switching to vandelay"]
SUPPORT_BAD = ["worst customer service ever", "terrible support experience", "awful experience",
               "horrible service", "worst support", "terrible customer support", "awful service"]
ACME = ["acme", "Acme", "ACME", "acme corp", "Acme Inc", "acmeco", "@acme", "Acme's", "acme,"]
GLOBEX = ["globex cloud", "Globex Drive pro", "globex mail plus", "Globex Cloud max", "globex drive"]
HOOLI = ["#hooli", "#HooliFail", "@hoolisupport", "@hooli", "#hoolilove", "@HooliHelp"]
PRAISE = ["love my acme", "loving the globex", "obsessed with my hooli", "shout out to acme",
          "shoutout to the initech", "love my umbrella", "loving our acme", "love the hooli"]
TIER2 = [
    "initech", "Initech Pay", "initechcloud", "umbrella corp", "Umbrella Health", "vandelay",
    "Vandelay Industries", "data breach notice today", "my account got hacked", "this is a scam",
    "leaked again", "price hike again?", "prices went up 20%", "pricing increase is ridiculous",
    "any recommendations for a new laptop?", "some recommendations for a good phone?",
    "any recommendation for an alternative?", "highly recommend", "five stars", "5 stars from me",
    "best purchase this year", "still waiting", "on hold for 45 minutes", "no response from support",
    "they ignored my email", "stark phone", "Stark Watch Ultra", "starkphone pro", "wayne tech",
    "Wayne Enterprises", "@acmesupport", "@globexhelp", "@initechcares", "cyberdyne",
    "Cyberdyne Systems", "tyrell corp", "Tyrell Phone", "wonka bar", "oscorp labs", "soylent green",
    "battery died after a week", "screen cracked on day one", "camera broke", "never again",
    "what a waste of money", "total rip off", "thank you acme", "thanks globex", "kudos to stark",
    "aperture science", "Aperture Labs", "monarch app", "Monarch Pay", "pied piper", "PiedPiper",
    "Gringotts", "wernham hogg", "Dunder Mifflin", "massive dynamic", "we are looking for a designer",
    "hiring now", "job opening on our team", "error code 504 again", "bug 1234 still there",
    "glitch 404", "customer support was amazing", "tech support is great", "the recall notice",
    "safety issue", "unsubscribe emails", "spam texts", "class action", "lawsuit", "free trial",
    "promo code", "discount code", "coupon", "shipping fees are insane", "delivery cost is crazy",
]
NEAR_MISS = ["refundable ticket", "cancel the meeting", "globex", "down the road", "working late",
             "closed on sunday", "order pizza", "love this weather", "worst traffic", "package deal",
             "acmeish", "hoolis", "switching gears", "crash course", "priceless", "stark contrast",
             "data science", "free time", "class starts", "still life", "no way", "on my way"]
INSERT_GROUPS = [(0.045, BILLING), (0.026, CANCEL), (0.036, OUTAGE), (0.016, DELIVERY),
                 (0.014, SWITCH), (0.030, SUPPORT_BAD), (0.035, ACME), (0.022, GLOBEX),
                 (0.022, HOOLI), (0.022, PRAISE), (0.070, TIER2), (0.25, NEAR_MISS)]


def make_names(rng, n):
    """Pseudo-word product/brand names for the long tail (lowercase ASCII)."""
    onsets = ["b", "br", "c", "ch", "d", "dr", "f", "fl", "g", "gr", "k", "kr", "l", "m", "n", "p",
              "pr", "qu", "r", "s", "sk", "st", "t", "tr", "v", "vr", "x", "z", "zh"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou", "y"]
    codas = ["", "", "n", "x", "r", "l", "s", "m", "nt", "rk", "th", "v"]
    banned = set(w.lower() for w in COMMON) | set(POPULAR_BRANDS) | set(PRODUCT_LINES)
    seen = set()
    names = []
    while len(names) < n:
        syl = rng.choice([2, 2, 3, 3, 3, 4])
        w = "".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(syl))
        if len(w) < 6 or len(w) > 13 or w in seen or w in banned:
            continue
        seen.add(w)
        names.append(w)
    return names


LT_SUFFIX = ["app", "pro", "cloud", "plus", "max", "go"]
LT_VERBS = ["love", "hate", "ditched", "ditching", "switched to", "switching to", "cancelled",
            "canceling"]
LT_TOPICS = ["refund", "support", "outage", "price", "prices", "update", "bug", "bugs"]


def longtail_rule(name, kind):
    """(regex, anchors, tags) for a long-tail name; kind picks the template."""
    split = max(3, len(name) // 2)
    a, b = name[:split], name[split:]
    tags = ["brand:" + name]
    if kind == 0:
        return (r"\b(%s|%sx|%s ?%s)\b" % (name, name, a, b), [a], tags)
    if kind == 1:
        return (r"\b%s (app|pro|cloud|plus|max|go)\b" % name, [name], tags + ["topic:product"])
    if kind == 2:
        return (r"#%s\w*" % name, [name], tags + ["channel:hashtag"])
    if kind == 3:
        return (r"@%s(support|help|hq)?\b" % name, [name], tags + ["channel:mention"])
    if kind == 4:
        return (r"\b(love|hate|ditch(ed|ing)?|switch(ed|ing)? to|cancel(l?ed|l?ing)?) (my |the )?%s\b" % name,
                [name], tags + ["intent:sentiment"])
    return (r"\b%s\w* (refund|support|outage|price[sd]?|update|bug)s?\b" % name, [name],
            tags + ["topic:issue"])


# template mix for long-tail rules: plain variants most common
LT_KINDS = [0, 0, 0, 0, 1, 1, 2, 3, 4, 5]


def longtail_mention(rng, name):
    """A mention of a long-tail name in one of the forms the templates target."""
    r = rng.random()
    cap = name.capitalize() if rng.random() < 0.6 else name
    if r < 0.40:
        return cap
    if r < 0.55:
        return "%s %s" % (cap, rng.choice(LT_SUFFIX))
    if r < 0.65:
        return "#%s%s" % (cap, rng.choice(["", "", "fail", "love", "2024"]))
    if r < 0.75:
        return "@%s%s" % (name, rng.choice(["", "support", "help", "hq"]))
    if r < 0.85:
        return "%s %s%s" % (rng.choice(LT_VERBS), rng.choice(["", "my ", "the "]), cap)
    if r < 0.93:
        return "%s %s" % (cap, rng.choice(LT_TOPICS))
    split = max(3, len(name) // 2)
    return rng.choice([name + "x", name[:split] + " " + name[split:]])


class Zipf:
    def __init__(self, n, s):
        acc, cum = 0.0, []
        for k in range(1, n + 1):
            acc += 1.0 / (k ** s)
            cum.append(acc)
        self.cum, self.total = cum, acc

    def draw(self, rng):
        return bisect.bisect_left(self.cum, rng.random() * self.total)


def sentence(rng, words, wz, nwords):
    ws = []
    for _ in range(nwords):
        if rng.random() < 0.35:
            ws.append(rng.choice(FUNCTION))
        else:
            ws.append(words[wz.draw(rng)])
    s = " ".join(ws)
    s = s[0].upper() + s[1:]
    return s + rng.choice([".", ".", ".", "!", "?", "...", ""])


def make_text(rng, names, lz, words, wz, target_len):
    parts = []
    length = 0
    inserts = []
    for prob, group in INSERT_GROUPS:
        if rng.random() < prob:
            inserts.append(rng.choice(group))
    if rng.random() < 0.20:
        inserts.append(longtail_mention(rng, names[lz.draw(rng)]))
    while length < target_len:
        s = sentence(rng, words, wz, rng.randint(4, 22))
        parts.append(s)
        length += len(s) + 1
    for ins in inserts:
        i = rng.randrange(len(parts))
        ws = parts[i].split(" ")
        j = rng.randrange(len(ws) + 1)
        ws[j:j] = [ins]
        parts[i] = " ".join(ws)
    # decorations: hashtags, mentions, urls, emoji, non-ascii words (space separated)
    extra = []
    if rng.random() < 0.35:
        extra.append("#" + rng.choice(["monday", "tech", "customerservice", "fail", "win", "mood",
                                        "news", "deal", "travel", "foodie", "gaming", "music"]))
    if rng.random() < 0.25:
        extra.append("@" + rng.choice(words) + str(rng.randint(1, 9999)))
    if rng.random() < 0.30:
        extra.append("https://%s.%s/%s/%d" % (rng.choice(words), rng.choice(TLDS), rng.choice(words),
                                              rng.randint(100, 999999)))
    if rng.random() < 0.45:
        extra.append(rng.choice(EMOJI) * rng.randint(1, 3))
    if rng.random() < 0.15:
        extra.append(rng.choice(NON_ASCII))
    for e in extra:
        i = rng.randrange(len(parts))
        ws = parts[i].split(" ")
        ws.insert(rng.randrange(len(ws) + 1), e)
        parts[i] = " ".join(ws)
    if rng.random() < 0.1:
        parts.insert(0, "\"%s\"" % rng.choice(words))  # quoted word: exercises JSON escapes
    return " ".join(parts)


def gen_corpus(args, names, out_dir):
    rng = random.Random(args.seed)
    words = list(dict.fromkeys(COMMON))
    rng.shuffle(words)
    wz = Zipf(len(words), 0.9)
    lz = Zipf(len(names), args.longtail_zipf)
    t0 = 1_700_000_000
    platforms = ["mastodon", "reddit", "bluesky", "hackernews", "x"]
    langs = ["en"] * 17 + ["es", "de", "fr"]
    total = 0
    cpath = os.path.join(out_dir, "corpus.ndjson")
    tpath = os.path.join(out_dir, "texts.txt")
    with open(cpath, "w", encoding="utf-8") as cf, open(tpath, "w", encoding="utf-8") as tf:
        for i in range(args.posts):
            r = rng.random()
            tlen = rng.randint(40, 280) if r < 0.6 else (rng.randint(280, 800) if r < 0.92
                                                          else rng.randint(800, 1400))
            text = make_text(rng, names, lz, words, wz, tlen)
            plat = rng.choice(platforms)
            pid = str(1_000_000_000_000 + i * 7919 + rng.randint(0, 7918))
            handle = rng.choice(words) + rng.choice(["", "_", "."]) + str(rng.randint(1, 99999))
            created = t0 + i * 3 + rng.randint(0, 2)
            h, m, s = (created // 3600) % 24, (created // 60) % 60, created % 60
            day = 14 + (created - t0) // 86400
            post = {
                "id": pid,
                "platform": plat,
                "source": plat + "-stream",
                "url": "https://%s.example/%s/%s" % (plat, handle, pid),
                "created_at": "2023-11-%02dT%02d:%02d:%02dZ" % (min(day, 30), h, m, s),
                "lang": rng.choice(langs),
                "text": text,
                "author": {
                    "id": str(rng.randint(10_000, 99_999_999)),
                    "handle": handle,
                    "display_name": rng.choice(words).capitalize() + " " +
                    rng.choice(["", rng.choice(EMOJI), rng.choice(NON_ASCII), rng.choice(words)]),
                    "followers": int(rng.paretovariate(1.2) * 50),
                },
                "hashtags": [w[1:] for w in text.split() if w.startswith("#") and len(w) > 1][:5],
                "mentions": [w[1:] for w in text.split() if w.startswith("@") and len(w) > 1][:5],
                "links": [w for w in text.split() if w.startswith("https://")][:3],
                "in_reply_to": (str(1_000_000_000_000 + rng.randint(0, i * 7919 + 1))
                                if rng.random() < 0.3 else None),
                "conversation_id": pid,
                "is_repost": rng.random() < 0.1,
                "metrics": {"likes": rng.randint(0, 500), "reposts": rng.randint(0, 80),
                            "replies": rng.randint(0, 40)},
            }
            line = json.dumps(post, ensure_ascii=False, separators=(",", ":"))
            cf.write(line + "\n")
            tf.write(text + "\n")
            total += len(line.encode("utf-8")) + 1
    return cpath, total


def build_rules(names, kmax, seed):
    rng = random.Random(seed + 1)
    rules = []
    for rx, anchors, tags in POPULAR_RULES:
        rules.append((rx, anchors, tags))
    i = 0
    while len(rules) < kmax:
        name = names[i]
        kind = LT_KINDS[rng.randrange(len(LT_KINDS))]
        rules.append(longtail_rule(name, kind))
        i += 1
    return rules[:kmax]


def write_rules(rules, ks, rdir):
    os.makedirs(rdir, exist_ok=True)
    for k in ks:
        rs = rules[:k]
        with open(os.path.join(rdir, "rules-%d.txt" % k), "w") as f:
            for rx, _, _ in rs:
                f.write(rx + "\n")
        with open(os.path.join(rdir, "rules-%d.anchors.json" % k), "w") as f:
            json.dump([a for _, a, _ in rs], f)
        hark = {"rules": [{"id": "r%05d" % (n + 1),
                           "match": {"all": [{"field": "text", "regex": rx}]},
                           "tags": tags, "action": "tag"} for n, (rx, _, tags) in enumerate(rs)]}
        with open(os.path.join(rdir, "rules-%d.json" % k), "w") as f:
            json.dump(hark, f, indent=1)
        with open(os.path.join(rdir, "grep-%d.txt" % k), "w") as f:
            f.write("|".join("(%s)" % rx for rx, _, _ in rs) + "\n")
        # syslog-ng: single-quoted strings are taken literally (no escape processing)
        with open(os.path.join(rdir, "syslog-ng-%d.conf" % k), "w") as f:
            f.write("filter f_rules {\n")
            f.write("\n  or ".join("match('%s' value('.json.text') type(pcre) flags(ignore-case))" % rx
                                  for rx, _, _ in rs))
            f.write("\n};\n")
        # rsyslog: string constants are unescaped (\b would become a backspace): double '\'
        with open(os.path.join(rdir, "rsyslog-%d.conf" % k), "w") as f:
            f.write("if ")
            f.write("\n  or ".join("re_match_i($!text, \"%s\")" % rx.replace("\\", "\\\\")
                                  for rx, _, _ in rs))
            f.write(" then call out\n")
        # Fluent Bit filter_grep: value is the rest of the line; /re/i sets ignore-case
        with open(os.path.join(rdir, "fluent-bit-%d.conf" % k), "w") as f:
            f.write("[FILTER]\n    Name grep\n    Match *\n    Logical_Op or\n")
            for rx, _, _ in rs:
                f.write("    Regex text /%s/i\n" % rx)
    for rx, _, _ in rules:
        assert "'" not in rx and "\n" not in rx and "\"" not in rx, rx


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--posts", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default="/tmp/bench")
    ap.add_argument("--ks", default="10,100,1000,10000")
    ap.add_argument("--longtail-names", type=int, default=16000)
    ap.add_argument("--longtail-zipf", type=float, default=1.0)
    ap.add_argument("--rules-only", action="store_true")
    args = ap.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    os.makedirs(args.out, exist_ok=True)
    names = make_names(random.Random(args.seed + 7), args.longtail_names)
    rules = build_rules(names, max(ks), args.seed)
    write_rules(rules, ks, os.path.join(args.out, "rules"))
    if not args.rules_only:
        path, total = gen_corpus(args, names, args.out)
        print("%s: %d posts, %d bytes (%.1f MiB), mean %.0f B/post" %
              (path, args.posts, total, total / 2**20, total / args.posts), file=sys.stderr)
    print("rules: %s in %s/rules" % (",".join(map(str, ks)), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
