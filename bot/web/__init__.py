"""The web server (aiohttp): webhooks, the REST API and public pages."""
