"""The browser chat UI (Gradio): ``build_app(assistant)`` and ``serve(settings, host, port)``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa.ui.app import build_app, launch, serve

__all__ = ["build_app", "launch", "serve"]


def __getattr__(name: str) -> Any:
    """Import Gradio only when the UI is actually used."""
    if name in __all__:
        from qa.ui import app

        return getattr(app, name)
    raise AttributeError(f"module 'qa.ui' has no attribute {name!r}")
