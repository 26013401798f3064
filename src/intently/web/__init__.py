"""The dashboard: a single page served by the API at `/`, every asset shipped in the package
(no CDN: the machine may be offline). A login with an admin key gives a signed session cookie;
nothing is served anonymously but the login page."""

from ._routes import router

__all__ = ["router"]
