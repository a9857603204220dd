"""The CS console: web pages over the health store, served by the API app under ``/console``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from vitals.serving.console import annotate
from vitals.serving.console.pages import HERE, router
from vitals.serving.console.session import SignInRequired, to_sign_in

__all__ = ["install_console"]


def install_console(app: FastAPI) -> None:
    """Add the console's pages, its static files and its sign-in redirect to ``app``."""
    app.include_router(router)
    app.include_router(annotate.router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_exception_handler(SignInRequired, to_sign_in)
