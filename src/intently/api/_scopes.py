"""Who may call each route: one line per route, the table the route-by-role test checks against
the application's own route table (a route missing here fails it, and so does a route that
lets in a role this table does not name).

Roles:
- `anyone`: no key (health, the login page, message links);
- `write`: a write key, HTTP basic as Segment's SDKs send it (ingestion; a decision for a
  receipt that names no one);
- `read`: a read key, for a point of sale (decisions for a named customer);
- `privacy`: a privacy key, for a data-protection team (the privacy routes alone);
- `viewer`, `marketer`, `admin`: a key of that kind in the `Authorization` header, or the
  dashboard's session cookie after a login with one, or with the name and password of a
  dashboard user of that role (the session keeps the role), on every route but the privacy
  ones, which take a key in the header only;
- `session`: any dashboard session (the dashboard's page and assets).

A viewer reads; a marketer also changes segments, scenarios, offers and models; an admin may
also send privacy requests and manage the dashboard's users.
"""

from __future__ import annotations

ANYONE = frozenset({"anyone"})
WRITE = frozenset({"write"})
DECIDE = frozenset({"write", "read", "admin", "header"})
VIEW = frozenset({"viewer", "marketer", "admin"})
CHANGE = frozenset({"marketer", "admin"})
ADMIN = frozenset({"admin"})
SESSION = frozenset({"session"})
PRIVACY = frozenset({"privacy", "admin", "header"})
"""`header`: a key in the Authorization header only, never the session cookie."""

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
    ("GET", "/openapi.json"): VIEW,
    ("GET", "/v1/profiles/{identifier}"): VIEW,
    ("GET", "/v1/accounts"): VIEW,
    ("GET", "/v1/accounts/{account_id}"): VIEW,
    ("GET", "/v1/stats"): VIEW,
    ("GET", "/v1/events/set-aside"): VIEW,
    ("GET", "/v1/intent/clusters"): VIEW,
    ("POST", "/v1/rules/validate"): VIEW,  # checks a rule, changes nothing
    ("GET", "/v1/segments"): VIEW,
    ("PUT", "/v1/segments/{name}"): CHANGE,
    ("DELETE", "/v1/segments/{name}"): CHANGE,
    ("GET", "/v1/segments/{name}/members"): VIEW,
    ("GET", "/v1/segments/{name}/history"): VIEW,
    ("GET", "/v1/customers/groups"): VIEW,
    ("GET", "/v1/scenarios"): VIEW,
    ("PUT", "/v1/scenarios/{name}"): CHANGE,
    ("DELETE", "/v1/scenarios/{name}"): CHANGE,
    ("GET", "/v1/scenarios/{name}/report"): VIEW,
    ("GET", "/v1/outbox"): VIEW,
    ("GET", "/v1/offers"): VIEW,
    ("PUT", "/v1/offers"): CHANGE,
    ("GET", "/v1/dashboard/feed"): VIEW,
    ("GET", "/v1/dashboard/stream"): VIEW,
    ("GET", "/v1/dashboard/overview"): VIEW,
    ("GET", "/v1/dashboard/customers/{identifier}"): VIEW,
    ("GET", "/v1/dashboard/segments/{name}/composition"): VIEW,
    ("GET", "/v1/dashboard/paths"): VIEW,
    ("GET", "/v1/dashboard/scenarios/{name}/funnel"): VIEW,
    ("GET", "/v1/rfm"): VIEW,
    ("POST", "/v1/rfm/update"): CHANGE,
    ("GET", "/v1/clv"): VIEW,
    ("POST", "/v1/clv/update"): CHANGE,
    ("POST", "/v1/rules/mine"): CHANGE,
    ("POST", "/v1/privacy/erase"): PRIVACY,
    ("POST", "/v1/privacy/export"): PRIVACY,
    ("POST", "/v1/privacy/suppress"): PRIVACY,
    ("POST", "/v1/privacy/unsuppress"): PRIVACY,
    ("GET", "/v1/privacy/log"): PRIVACY,
    ("GET", "/v1/audit"): ADMIN,
    ("GET", "/v1/users"): ADMIN,
    ("PUT", "/v1/users/{name}"): ADMIN,
    ("DELETE", "/v1/users/{name}"): ADMIN,
}
