"""The edges and the composition root: settings, the CLI, channels, delivery, the web server."""
