"""The web app (buyer PWA, broker dashboard, seller and admin screens): static files served by Litestar."""

from app.web.controllers import web_handlers

__all__ = ["web_handlers"]
