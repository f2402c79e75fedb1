"""The leaders' daily digest: its figures, its lines as read, its chart's data, fields against targets."""
