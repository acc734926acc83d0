"""The platform: settings (global and per world), turn budgets, client versions, capabilities."""
