"""The sessions table in DynamoDB and its adapters, one per interface the sessions domain declares."""
