"""Language models: tiers and budgets, the `ModelEndpoint` interface and its SageMaker adapter, the
chat wire contract, the router, and the tier configurations in `endpoints/`.

Import the submodule you need: `aicore.llm.tiers` and `aicore.llm.endpoints_config` are data only
(`cdk/` reads them), `aicore.llm.endpoint` brings boto3.
"""
