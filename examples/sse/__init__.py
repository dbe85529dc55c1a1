"""A clock streamed over server-sent events; the app is in ``app.py``."""
