"""Dossiers coming in from the one-stop-shop system: the lifecycle, and imports by source format."""
