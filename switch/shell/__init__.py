"""The asyncio shell: sockets, clock, signals, RTP and file adapters, admin HTTP, logging."""
