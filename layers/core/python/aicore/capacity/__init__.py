"""Capacity and cost as code: what N concurrent players need and cost (`aicore cost --ccu N`)."""
