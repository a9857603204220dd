"""The health API: the app factory (:mod:`vitals.serving.api.app`), the server and API keys
(:mod:`vitals.serving.api.server`).

Nothing is imported here, so that the console (which the app mounts) can import the API's
dependencies without importing the app first.
"""
