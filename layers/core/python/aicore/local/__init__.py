"""Laptop-only code: the local runtime, gateway and model server. Never shipped in the layer."""
