"""The REST API under /v1: compatible with the Letta v1 API for the parts the playground has."""
