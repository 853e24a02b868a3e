"""API keys live in the OS keyring (macOS Keychain, Windows Credential Locker, Secret
Service on Linux), never in the database, settings files, logs or exports.

For headless machines and CI the conventional environment variable works too
(OPENAI_API_KEY for the key named "openai", OWNVOICE_KEY_<NAME> for any other).
"""

from __future__ import annotations

import os

from engine.errors import OwnVoiceError

SERVICE = "OwnVoice"


def env_name(name: str) -> str:
    return "OPENAI_API_KEY" if name == "openai" else "OWNVOICE_KEY_" + name.upper().replace(
        "-", "_").replace(".", "_")


def get_secret(name: str) -> str | None:
    value = os.environ.get(env_name(name))
    if value:
        return value
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(SERVICE, name)
    except KeyringError:
        return None  # no keyring on this machine: the caller says what to do


def set_secret(name: str, value: str) -> None:
    import keyring
    from keyring.errors import KeyringError

    try:
        keyring.set_password(SERVICE, name, value)
    except KeyringError as exc:
        raise OwnVoiceError(
            f"No OS keyring is available to store the key ({exc}). On a headless Linux box, "
            f"set {env_name(name)} in the environment instead.") from exc


def delete_secret(name: str) -> bool:
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        keyring.delete_password(SERVICE, name)
        return True
    except PasswordDeleteError:
        return False
    except KeyringError as exc:
        raise OwnVoiceError(f"No OS keyring is available ({exc}).") from exc
