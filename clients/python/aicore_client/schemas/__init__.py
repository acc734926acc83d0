"""Code generated from aicore's `schemas/frames.proto` (`make protos`; not committed)."""
