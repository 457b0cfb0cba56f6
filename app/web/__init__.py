"""The web app (buyer PWA, broker dashboard, seller and admin screens): static files served by Litestar."""

from app.web.controllers import compression_config, not_found, web_handlers

__all__ = ["compression_config", "not_found", "web_handlers"]
