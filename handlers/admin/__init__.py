"""Running the deployment: the unit tree, API keys, roles given and taken away, the audit log."""
