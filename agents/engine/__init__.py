"""The MemGPT agent engine: plain Python, no ORM. Storage comes in through `Store`, the model
through `LLM`, events go out through a `publish` callable."""
