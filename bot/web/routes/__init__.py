"""The REST API's routes, one module per resource; bot/web/api.py puts their operations in one table."""
