"""One module per product feature, each built with the narrow ports it needs (switch/ports.py)."""
