"""ASGI middleware that ships with lanner."""

from lanner.middleware.functions import FunctionMiddleware

__all__ = ["FunctionMiddleware"]
