"""The softswitch application: registrar, B2BUA calls, routing policies."""
