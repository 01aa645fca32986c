"""Registration: the pure RFC 3261 §10.3 registrar, the location service, the REGISTER service."""
