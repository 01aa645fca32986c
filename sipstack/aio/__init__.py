"""The only asyncio code of sipstack: sockets bound to the sans-IO Endpoint."""

from .transports import TransportSet

__all__ = ["TransportSet"]
