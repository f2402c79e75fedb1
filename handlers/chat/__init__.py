"""The chat's plumbing shared by every actor: platform updates kept before they are handled, typed actions."""
