"""aicore's infrastructure: the topology and `endpoints/` turned into one CDK stack per environment.

Reads `aicore.topology` and `aicore.llm.endpoints_config` (data only); never imports domain code.
"""
