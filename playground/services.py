import secrets
from pathlib import Path

from django.contrib.auth import get_user_model

from playground import embedded

ADMIN_USERNAME = "admin"


def admin_user_ensure(*, data_dir: Path) -> str | None:
    """Create the first admin user if there is no user at all.

    Returns the new password (kept in the data directory too), or None when users exist.
    """
    User = get_user_model()
    if User.objects.exists():
        return None
    password = secrets.token_urlsafe(12)
    User.objects.create_superuser(ADMIN_USERNAME, email="", password=password)
    embedded.write_private(data_dir / "admin_password", f"{ADMIN_USERNAME} {password}\n", replace=True)
    return password
