#!/usr/bin/env python3
"""Run the RO-Crate validator (PyPI `roc-validator`, command `rocrate-validator`) with no network.

Usage: the arguments are those of `rocrate-validator`, e.g.

    python3 tests/tools/rocrate_validate_offline.py validate -p ro-crate-1.1 \
        --skip-availability-check --output-format json BAG/data

The validator resolves the JSON-LD context `https://w3id.org/ro/crate/1.1/context` over HTTP.
roc-validator 0.13 does so through `requests` (a `requests_cache.CachedSession`, via its own
JSON-LD document loader) and, when that fails, falls back to rdflib's loader, which uses
`urllib.request.urlopen`. This wrapper answers requests for `https://w3id.org/ro/crate/<version>/context`
on both clients from the context document shipped in the PyPI package `rocrate`
(`rocrate/data/ro-crate.jsonld`) and refuses every other network request, so a run is the same
on a machine with or without network. Refused URLs are reported on stderr; name resolution of
any other host is refused too, so a client not covered here fails at once instead of going out.
`rocrate` 0.16 ships the RO-Crate 1.3 context, a superset of the 1.1 one (schema.org terms, `File`
as schema:MediaObject, `conformsTo` as dct:conformsTo): it is served for any
`…/ro/crate/<version>/context`.

Unless a cache option is given, `validate` runs with `--no-cache`: roc-validator otherwise keeps a
persistent HTTP cache in ~/.cache/rocrate-validator, which would hide whether a run is really
offline and would carry state between runs. Set ROCRATE_OFFLINE_VERBOSE=1 to log what is served.

The exit code is the validator's: 0 valid, 1 invalid, 2 error (including a refused request).
"""

import http.client
import importlib.util
import io
import os
import re
import socket
import sys
import urllib.error
import urllib.request
import urllib.response

PROG = "rocrate_validate_offline"
CONTEXT_URL = re.compile(r"^https?://w3id\.org/ro/crate/[0-9][0-9A-Za-z.\-]*/context/?(?:[?#].*)?$")
CONTENT_TYPE = "application/ld+json"


def _context_path() -> str:
    spec = importlib.util.find_spec("rocrate")
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{PROG}: the Python package 'rocrate' is not installed (run tests/tools/install-test-deps.sh)")
    for location in spec.submodule_search_locations:
        path = os.path.join(location, "data", "ro-crate.jsonld")
        if os.path.isfile(path):
            return path
    sys.exit(f"{PROG}: the package 'rocrate' does not ship data/ro-crate.jsonld")


_CONTEXT_FILE = _context_path()
with open(_CONTEXT_FILE, "rb") as f:
    _CONTEXT_BYTES = f.read()


_VERBOSE = os.environ.get("ROCRATE_OFFLINE_VERBOSE", "") not in ("", "0")


def _answer(url: str, client: str):
    """The local body for `url`, or None when the request must be refused."""
    if CONTEXT_URL.match(url):
        if _VERBOSE:
            print(f"{PROG}: served {url} ({client}) from {_CONTEXT_FILE}", file=sys.stderr)
        return _CONTEXT_BYTES
    print(f"{PROG}: refused network request (offline): {url}", file=sys.stderr)
    return None


# --- urllib (rdflib's fallback loader, pyshacl) ---------------------------------------------------
class _OfflineHandler(urllib.request.BaseHandler):
    handler_order = 100  # before the standard HTTP(S) handlers

    def _serve(self, req):
        url = req.full_url
        body = _answer(url, "urllib")
        if body is None:
            raise urllib.error.URLError(f"offline: network access refused for {url}")
        headers = http.client.HTTPMessage()
        headers["Content-Type"] = CONTENT_TYPE
        headers["Content-Length"] = str(len(body))
        resp = urllib.response.addinfourl(io.BytesIO(body), headers, url, 200)
        resp.msg = "OK"
        return resp

    http_open = _serve
    https_open = _serve
    ftp_open = _serve


# urlopen() uses the installed global opener however it was imported (rdflib binds the name at
# import time, so replacing the module attribute alone would not reach it).
urllib.request.install_opener(urllib.request.build_opener(_OfflineHandler()))


def _urlopen(url, data=None, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, **_ignored):
    # Callers passing an SSL context would otherwise get a fresh opener without our handler.
    return urllib.request._opener.open(url, data, timeout)  # type: ignore[union-attr]


urllib.request.urlopen = _urlopen

# --- requests (roc-validator's HttpRequester, requests_cache.CachedSession) ------------------------
try:
    import requests
    import requests.adapters
    import urllib3
except ImportError:  # roc-validator depends on requests; without it there is nothing to patch
    requests = None

if requests is not None:

    def _adapter_send(self, request, **_kwargs):
        body = _answer(request.url, "requests")
        if body is None:
            raise requests.exceptions.ConnectionError(
                f"offline: network access refused for {request.url}", request=request
            )
        if request.method == "HEAD":
            body = b""
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(body),
            headers={"Content-Type": CONTENT_TYPE, "Content-Length": str(len(body))},
            status=200,
            reason="OK",
            preload_content=False,
            decode_content=False,
            request_method=request.method,
            request_url=request.url,
        )
        return self.build_response(request, raw)

    requests.adapters.HTTPAdapter.send = _adapter_send


# --- last guard: any other client fails at name resolution instead of reaching the network --------
_plain_getaddrinfo = socket.getaddrinfo
_LOCAL = {"localhost", "127.0.0.1", "::1", None}


def _getaddrinfo(host, *args, **kwargs):
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host not in _LOCAL:
        print(f"{PROG}: refused name resolution (offline): {host}", file=sys.stderr)
        raise socket.gaierror(socket.EAI_NONAME, f"offline: name resolution refused for {host}")
    return _plain_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _getaddrinfo


_CACHE_OPTIONS = {"--no-cache", "-nc", "--offline", "--cache-path"}


def _with_no_cache(args: list) -> list:
    """Adds `--no-cache` to `validate` unless the caller chose a cache option.

    By default roc-validator keeps a persistent HTTP cache in ~/.cache/rocrate-validator and
    pre-loads the profile's declared URLs into it. Without the cache every request reaches the
    patched clients above: no state is read from or left behind by earlier runs.
    """
    for i, arg in enumerate(args):
        if arg == "validate":
            rest = args[i + 1 :]
            if any(a.split("=", 1)[0] in _CACHE_OPTIONS for a in rest):
                return args
            return args[: i + 1] + ["--no-cache"] + rest
        if not arg.startswith("-"):
            break
    return args


def main() -> None:
    try:
        from rocrate_validator.cli.main import cli
    except ImportError as e:
        sys.exit(f"{PROG}: roc-validator is not installed ({e}); run tests/tools/install-test-deps.sh")
    # click exits with the command's status (validate: 0 valid, 1 invalid; errors: 2).
    cli.main(args=_with_no_cache(sys.argv[1:]), prog_name="rocrate-validator")


if __name__ == "__main__":
    main()
