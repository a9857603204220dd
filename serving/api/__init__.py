"""The health API: app factory, server, and API keys (see :mod:`vitals.serving.api.app`)."""

from vitals.serving.api.app import create_app
from vitals.serving.api.server import (
    example_requests,
    issue_key,
    keys_in_store,
    serve,
    withdraw_key,
)

__all__ = ["create_app", "example_requests", "issue_key", "keys_in_store", "serve", "withdraw_key"]
