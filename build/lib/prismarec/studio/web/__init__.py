"""The curator's web page: gallery, review with keyboard shortcuts, tuning with live preview, similar photos."""

from .app import create_app

__all__ = ["create_app"]
