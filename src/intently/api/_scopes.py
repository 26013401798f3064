"""Who may call each route: one line per route, the table the route-by-role test checks against
the application's own route table (a route missing here fails it, and so does a route that
lets in a role this table does not name).

Roles:
- `anyone`: no key (health, the login page, message links);
- `write`: a write key, HTTP basic as Segment's SDKs send it (ingestion; a decision for a
  receipt that names no one);
- `read`: a read key, for a point of sale (decisions for a named customer);
- `privacy`: a privacy key, for a data-protection team (the privacy routes alone);
- `admin`: an admin key in the `Authorization` header;
- `session`: the dashboard's session cookie (a login with an admin key): the dashboard's
  page and assets, and the admin routes, except the privacy ones, which take a key in the
  header only.
"""

from __future__ import annotations

ANYONE = frozenset({"anyone"})
WRITE = frozenset({"write"})
DECIDE = frozenset({"write", "read", "admin"})
ADMIN = frozenset({"admin", "session"})
SESSION = frozenset({"session"})
PRIVACY = frozenset({"privacy", "admin"})

_INGEST = ["track", "t", "identify", "i", "page", "p", "screen", "s", "alias", "a", "group",
           "g", "batch", "b", "import"]

ROUTES: dict[tuple[str, str], frozenset[str]] = {
    **{("POST", f"/v1/{name}"): WRITE for name in _INGEST},
    ("POST", "/v1/decide"): DECIDE,
    ("GET", "/health"): ANYONE,
    ("GET", "/login"): ANYONE,
    ("POST", "/login"): ANYONE,
    ("POST", "/logout"): ANYONE,
    ("GET", "/t/o/{token}.gif"): ANYONE,
    ("GET", "/t/c/{token}"): ANYONE,
    ("GET", "/u/{token}"): ANYONE,
    ("POST", "/u/{token}"): ANYONE,
    ("GET", "/"): SESSION,
    ("GET", "/static/{name}"): SESSION,
    ("GET", "/openapi.json"): ADMIN,
    ("GET", "/v1/profiles/{identifier}"): ADMIN,
    ("GET", "/v1/accounts"): ADMIN,
    ("GET", "/v1/accounts/{account_id}"): ADMIN,
    ("GET", "/v1/stats"): ADMIN,
    ("GET", "/v1/events/set-aside"): ADMIN,
    ("GET", "/v1/intent/clusters"): ADMIN,
    ("POST", "/v1/rules/validate"): ADMIN,
    ("GET", "/v1/segments"): ADMIN,
    ("PUT", "/v1/segments/{name}"): ADMIN,
    ("DELETE", "/v1/segments/{name}"): ADMIN,
    ("GET", "/v1/segments/{name}/members"): ADMIN,
    ("GET", "/v1/segments/{name}/history"): ADMIN,
    ("GET", "/v1/customers/groups"): ADMIN,
    ("GET", "/v1/scenarios"): ADMIN,
    ("PUT", "/v1/scenarios/{name}"): ADMIN,
    ("DELETE", "/v1/scenarios/{name}"): ADMIN,
    ("GET", "/v1/scenarios/{name}/report"): ADMIN,
    ("GET", "/v1/outbox"): ADMIN,
    ("GET", "/v1/offers"): ADMIN,
    ("PUT", "/v1/offers"): ADMIN,
    ("GET", "/v1/dashboard/feed"): ADMIN,
    ("GET", "/v1/dashboard/stream"): ADMIN,
    ("GET", "/v1/dashboard/overview"): ADMIN,
    ("GET", "/v1/dashboard/customers/{identifier}"): ADMIN,
    ("GET", "/v1/dashboard/segments/{name}/composition"): ADMIN,
    ("GET", "/v1/dashboard/paths"): ADMIN,
    ("GET", "/v1/dashboard/scenarios/{name}/funnel"): ADMIN,
    ("GET", "/v1/rfm"): ADMIN,
    ("POST", "/v1/rfm/update"): ADMIN,
    ("GET", "/v1/clv"): ADMIN,
    ("POST", "/v1/clv/update"): ADMIN,
    ("POST", "/v1/rules/mine"): ADMIN,
    ("POST", "/v1/privacy/erase"): PRIVACY,
    ("POST", "/v1/privacy/export"): PRIVACY,
    ("POST", "/v1/privacy/suppress"): PRIVACY,
    ("POST", "/v1/privacy/unsuppress"): PRIVACY,
    ("GET", "/v1/privacy/log"): PRIVACY,
}
