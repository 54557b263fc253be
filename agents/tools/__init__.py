"""Custom tools: their schemas from source, and the sandbox that runs them."""
