"""Canonical article URLs: one key per article however a feed, a share button or an AMP page spells it.

The heavy lifting (percent-encoding, IDNA hosts, dot segments, sorted query) is
:func:`w3lib.url.canonicalize_url`, Scrapy's well-tested implementation. On top of it this module
drops what only tracks the reader (``utm_*``, ``fbclid``…), default ports and the markers of an
AMP or ``index.html`` copy of the same page. Pure: no I/O.

A trailing slash goes too (``/news/123/`` and ``/news/123`` are one article on every news site
met so far, and WordPress's AMP copy is ``/slug/amp`` of ``/slug/``). Left alone on purpose,
because two such URLs can be different pages: ``www.`` and other subdomains
(``amp.example.com``), ``http`` versus ``https``, and letter case in the path.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, unquote_plus, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

__all__ = ["TRACKING_PARAMETERS", "canonical_url"]

# Query parameters that say where a reader came from, never which article they read.
TRACKING_PARAMETERS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "ttclid", "li_fat_id", "wbraid",
    "gbraid", "igshid", "igsh", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "ref", "ref_src",
    "ref_url", "referrer", "spm", "ocid", "cmpid", "xtor", "s_cid", "ito", "sr_share",
    "fb_action_ids", "fb_action_types", "fb_ref", "fb_source", "action_object_map", "action_type_map",
    "action_ref_map", "__twitter_impression",
})
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "matomo_", "hsa_", "itm_", "oly_", "vero_", "ga_")

# ?amp, ?amp=1, ?outputType=amp: the AMP rendering of the same article.
_AMP_FLAG_VALUES = frozenset({"", "1", "true", "yes", "amp"})
_AMP_VALUE_PARAMETERS = frozenset({"outputtype", "output", "format", "view"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A trailing /amp (WordPress and most CMSs) or a leading /amp/ section (Al Jazeera, Sky News Arabia).
_AMP_SUFFIX = re.compile(r"/amp/?$", re.IGNORECASE)
_TRAILING_SLASHES = re.compile(r"(?<=.)/+$")
_AMP_PREFIX = re.compile(r"^/amp(?=/.)", re.IGNORECASE)
# The directory's default document; index.php only without a query, where it may be a router.
_INDEX_PAGE = re.compile(r"/index\.(?:html?|php|aspx?|shtml)$", re.IGNORECASE)


def canonical_url(url: str) -> str:
    """The canonical form of an http(s) URL; anything else comes back stripped of spaces only.

    >>> canonical_url("HTTPS://Example.com:443/a/amp/?utm_source=x&b=2&a=1#top")
    'https://example.com/a?a=1&b=2'
    """
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    query = _without_tracking(parts.query)
    path = _AMP_PREFIX.sub("", _AMP_SUFFIX.sub("/", parts.path or "/"))
    index = _INDEX_PAGE.search(path)
    if index and not (query and index.group(0).lower().endswith(".php")):
        path = path[: index.start()] + "/"
    path = _TRAILING_SLASHES.sub("", path)
    return canonicalize_url(urlunsplit((scheme, _netloc(parts, scheme), path, query, "")))


def _netloc(parts: SplitResult, scheme: str) -> str:
    """Host (w3lib lowercases and IDNA-encodes it) and port, without the scheme's default port."""
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    try:
        port = parts.port
    except ValueError:
        port = None  # a malformed port is left out rather than failing the article
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    return netloc if port in (None, _DEFAULT_PORTS[scheme]) else f"{netloc}:{port}"


def _without_tracking(query: str) -> str:
    """The query without tracking and AMP parameters, each kept pair in its original encoding."""
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition("=")
        name = unquote_plus(raw_name).strip().lower()
        value = unquote_plus(raw_value).strip().lower()
        if name in TRACKING_PARAMETERS or name.startswith(TRACKING_PREFIXES):
            continue
        if (name == "amp" and value in _AMP_FLAG_VALUES) or (name in _AMP_VALUE_PARAMETERS and value == "amp"):
            continue
        kept.append(pair)
    return "&".join(kept)
