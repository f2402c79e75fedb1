"""Dossiers imported from a one-stop-shop export: each source format read, rows checked, applied in batches."""
