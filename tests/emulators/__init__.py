"""In-repo emulators of the platforms the product talks to (loopback HTTP, no internet)."""
