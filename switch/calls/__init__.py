"""The B2BUA engine: calls and their legs, ring steps, ringing, the router, line state, CDRs."""
