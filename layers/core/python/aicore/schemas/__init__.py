"""Python code generated from `schemas/*.proto` at build time (`make protos`, which `make setup`,
`make run` and `make test` pass through): `frames_pb2` and `events_pb2` with their `.pyi` stubs.
Never edited, never committed; the core layer's asset carries them to Lambda."""
