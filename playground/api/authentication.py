from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """`Authorization: Bearer <token>`, as the Letta SDKs send their API key; DRF's Token model."""

    keyword = "Bearer"
