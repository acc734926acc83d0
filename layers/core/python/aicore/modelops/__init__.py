"""Model management: the registry of model versions per tier and their deployment."""
