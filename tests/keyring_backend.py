"""A keyring backend for tests: a JSON file named by OWNVOICE_TEST_KEYRING.

Selected with PYTHON_KEYRING_BACKEND=tests.keyring_backend.FileKeyring, so that the
real code path (keyring.get_password / set_password) runs where no OS keyring exists.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    @properties.classproperty
    def priority(cls):  # noqa: N805 - keyring's class property
        # Only viable when a test asks for it: never picked up by accident.
        if "OWNVOICE_TEST_KEYRING" not in os.environ:
            raise RuntimeError("OWNVOICE_TEST_KEYRING is not set")
        return 1

    def _path(self) -> Path:
        return Path(os.environ["OWNVOICE_TEST_KEYRING"])

    def _load(self) -> dict:
        path = self._path()
        return json.loads(path.read_text()) if path.exists() else {}

    def get_password(self, service, username):
        return self._load().get(f"{service}/{username}")

    def set_password(self, service, username, password):
        data = self._load()
        data[f"{service}/{username}"] = password
        self._path().write_text(json.dumps(data))

    def delete_password(self, service, username):
        data = self._load()
        if data.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError(username)
        self._path().write_text(json.dumps(data))
