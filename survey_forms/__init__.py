"""What SIPAS Bot asks and how it is scored: form files, their catalog and the index method."""
