"""Schemathesis hooks for .ci/contract: one check that keeps the two refusals of schema-valid
requests that depend on the server's state, not on the request's shape, honest.

`.ci/schemathesis.toml` lets 412 (PUT, PATCH, DELETE /orders/{id}) and 422 (POST /orders, PUT and
PATCH /orders/{id}) pass `positive_data_acceptance`, since a document cannot know an order's
version or which service ids the catalogue holds. This check fails any such refusal of a
schema-valid request that is not that:

- a 412 must be a real mismatch: the If-Match value parses as RFC 9110 section 13.1.1 says
  (`"*"` / `#entity-tag`), is not `*`, and names no strong tag equal to the current version;
- a 422 may only name unknown service ids, or be an Idempotency-Key reused with another body.
"""

import re

import schemathesis

OWS = " \t"
# entity-tag = [ weak ] opaque-tag; opaque-tag = DQUOTE *etagc DQUOTE (RFC 9110 section 8.8.3)
ENTITY_TAG = re.compile(r'(W/)?"([!#-~\x80-\xff]*)"')


def parse_if_match(value):
    """`"*"`, a list of (weak, opaque) pairs, or None for a value of neither form."""
    value = value.strip(OWS)
    if value == "*":
        return "*"
    tags, rest = [], value
    while True:
        rest = rest.lstrip(OWS)
        if not rest:
            return tags
        if rest[0] == ",":
            rest = rest[1:]
            continue
        match = ENTITY_TAG.match(rest)
        if match is None:
            return None
        tags.append((match.group(1) is not None, match.group(2)))
        rest = rest[match.end():].lstrip(OWS)
        if rest and rest[0] != ",":
            return None


def header(case, name):
    for key, value in (case.headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def problem(response):
    try:
        body = response.json()
    except Exception:  # noqa: BLE001 - a body that is not JSON is answered below
        return {}
    return body if isinstance(body, dict) else {}


@schemathesis.check
def state_dependent_refusals_only(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    body = problem(response)
    if response.status_code == 412:
        value = header(case, "If-Match")
        current = body.get("current_version")
        if value is None:
            raise AssertionError("412 without an If-Match header")
        parsed = parse_if_match(value)
        if parsed is None:
            raise AssertionError(f"the document admits If-Match {value!r}, which is no list of entity tags")
        if parsed == "*":
            raise AssertionError("If-Match: * refused for an order that exists")
        if any(not weak and opaque == str(current) for weak, opaque in parsed):
            raise AssertionError(f"If-Match {value!r} names the current version {current} yet got 412")
    if response.status_code == 422:
        if body.get("type") == "idempotency-mismatch":
            return None
        errors = body.get("errors") or []
        shape = [e for e in errors if not (e.get("field") == "services"
                                           and str(e.get("message", "")).startswith("unknown service id"))]
        if shape or not errors:
            raise AssertionError(f"a schema-valid request refused for its shape: {shape or body}")
    return None
