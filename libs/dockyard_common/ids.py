"""Identifiers: 64-hex object ids, Docker's random names, timestamps."""

import datetime
import random
import secrets
import time


def new_id():
    return secrets.token_hex(32)


def short(ident):
    return ident.split(":", 1)[-1][:12]


def now_rfc3339(ns=None):
    """RFC 3339 UTC with nanoseconds, as Docker prints times."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    base = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return "%s.%09dZ" % (base, frac)


ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339_to_ns(value):
    """Parse an RFC 3339 timestamp (nanoseconds allowed) to unix nanoseconds; 0 for ZERO_TIME/""."""
    if not value or value.startswith("0001-01-01"):
        return 0
    value = value.replace("Z", "+00:00")
    frac_ns = 0
    if "." in value:
        head, rest = value.split(".", 1)
        digits = ""
        for ch in rest:
            if not ch.isdigit():
                break
            digits += ch
        tz = rest[len(digits):]
        frac_ns = int((digits + "000000000")[:9])
        value = head + tz
    dt = datetime.datetime.fromisoformat(value)
    return int(dt.timestamp()) * 1_000_000_000 + frac_ns


_LEFT = ["admiring", "brave", "clever", "dazzling", "eager", "focused", "gallant", "happy",
         "jolly", "keen", "loving", "modest", "nifty", "optimistic", "peaceful", "quirky",
         "relaxed", "sharp", "tender", "upbeat", "vibrant", "wizardly", "youthful", "zealous"]
_RIGHT = ["albattani", "babbage", "curie", "darwin", "euclid", "fermi", "galileo", "hopper",
          "johnson", "kepler", "lovelace", "meitner", "noether", "pascal", "ritchie", "shannon",
          "turing", "wozniak", "yalow", "zhukovsky"]


def random_name():
    return "%s_%s" % (random.choice(_LEFT), random.choice(_RIGHT))
