"""Channel adapters: each translates native updates to Inbound and Replies to native calls."""
