"""Lambda Cloud: instance types with live prices and capacity, launch, wait, terminate.

The API (https://cloud.lambda.ai/api/v1, `Authorization: Bearer KEY`) answers
`{"data": …}` or `{"error": {"code", "message", "suggestion"}}`. It allows about one
request a second and one launch every 12 seconds; beyond that it answers 429, which we wait
out (Retry-After when given, backoff otherwise).

The API does not report an instance's SSH host key, and OwnVoice never accepts an unknown
one. So OwnVoice makes the host key itself: it generates an Ed25519 key pair, hands it to the
instance through cloud-init `user_data`, and pins its fingerprint before the box has even
booted. There is no billing API: the cost meter is time × the listed price.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from engine.errors import OwnVoiceError
from engine.retry_after import seconds as retry_after_seconds

API = "https://cloud.lambda.ai/api/v1"
KEY_NAME = "lambda"  # the keyring entry (or OWNVOICE_KEY_LAMBDA)


class CloudError(OwnVoiceError):
    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


class CapacityError(CloudError):
    """No capacity for that instance type (in that region) right now."""


@dataclass(frozen=True)
class InstanceType:
    name: str
    description: str
    gpu: str
    cents_per_hour: int
    gpus: int
    vcpus: int
    memory_gib: int
    regions: tuple[str, ...]  # with capacity right now

    @property
    def usd_per_hour(self) -> float:
        return self.cents_per_hour / 100


@dataclass
class HostKeyPair:
    private_openssh: str
    public_openssh: str
    fingerprint: str


def generate_host_key() -> HostKeyPair:
    """A fresh Ed25519 host key for the instance, so its fingerprint is known in advance."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    blob = base64.b64decode(public.split()[1])
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return HostKeyPair(private, public, fingerprint)


def cloud_config(host_key: HostKeyPair) -> str:
    """cloud-init user data: our host key replaces the generated ones."""
    import yaml

    return "#cloud-config\n" + yaml.safe_dump({
        "ssh_deletekeys": True,
        "ssh_genkeytypes": [],
        "ssh_keys": {"ed25519_private": host_key.private_openssh,
                     "ed25519_public": host_key.public_openssh},
    }, sort_keys=False)


class LambdaCloud:
    def __init__(self, api_key: str, *, base_url: str = API, retries: int = 6,
                 sleep: Callable[[float], None] = time.sleep, timeout_s: float = 30,
                 min_interval_s: float = 1.0):
        if not api_key:
            raise CloudError("No Lambda Cloud API key: store one with `ownvoice keys set "
                             "lambda` (or set OWNVOICE_KEY_LAMBDA).")
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.sleep = sleep
        self.timeout_s = timeout_s
        self.min_interval_s = min_interval_s  # the API allows about one call a second
        self._last_call = 0.0

    @classmethod
    def from_keyring(cls, **kwargs) -> LambdaCloud:
        from engine.secrets import get_secret

        return cls(get_secret(KEY_NAME) or "", base_url=os.environ.get(
            "OWNVOICE_LAMBDA_API", API), **kwargs)

    # --- the wire -------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict | None = None):
        delay = 1.0
        for attempt in range(self.retries + 1):
            wait = self.min_interval_s - (time.monotonic() - self._last_call)
            if wait > 0:
                self.sleep(wait)
            self._last_call = time.monotonic()
            request = urllib.request.Request(
                self.base_url + path, method=method,
                data=json.dumps(body).encode() if body is not None else None,
                headers={"Authorization": f"Bearer {self.api_key}",
                         "Content-Type": "application/json", "Accept": "application/json",
                         "User-Agent": "OwnVoice"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return json.loads(response.read())["data"]
            except urllib.error.HTTPError as exc:
                retry_after = exc.headers.get("Retry-After")
                payload = _error_payload(exc)
                if exc.code == 429 or exc.code >= 500:
                    if attempt == self.retries:
                        raise CloudError(f"Lambda Cloud keeps answering {exc.code} "
                                         f"({payload.get('message', 'no message')}); try "
                                         "again in a minute.", payload.get("code")) from exc
                    # Seconds or an HTTP date; anything else (-1, garbage) is ignored.
                    wait = retry_after_seconds(retry_after, cap=60.0)
                    self.sleep(delay if wait is None else wait)
                    delay = min(delay * 2, 30)
                    continue
                raise _as_error(exc.code, payload) from exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.retries:
                    raise CloudError(f"Cannot reach Lambda Cloud ({exc}).") from exc
                self.sleep(delay)
                delay = min(delay * 2, 30)
        raise AssertionError("unreachable")

    # --- the API --------------------------------------------------------------------------

    def instance_types(self) -> list[InstanceType]:
        """Every type with its live price and the regions with capacity, cheapest first."""
        found = []
        for item in self._call("GET", "/instance-types").values():
            kind, specs = item["instance_type"], item["instance_type"].get("specs", {})
            found.append(InstanceType(
                name=kind["name"], description=kind.get("description", ""),
                gpu=kind.get("gpu_description", ""),
                cents_per_hour=int(kind["price_cents_per_hour"]),
                gpus=specs.get("gpus", 0), vcpus=specs.get("vcpus", 0),
                memory_gib=specs.get("memory_gib", 0),
                regions=tuple(r["name"] for r in item["regions_with_capacity_available"])))
        return sorted(found, key=lambda t: (t.cents_per_hour, t.name))

    def instance_type(self, name: str) -> InstanceType:
        for kind in self.instance_types():
            if kind.name == name:
                return kind
        raise CloudError(f"Lambda Cloud has no instance type {name!r}.")

    def instances(self) -> list[dict]:
        return self._call("GET", "/instances")

    def instance(self, instance_id: str) -> dict:
        return self._call("GET", f"/instances/{instance_id}")

    def ssh_keys(self) -> list[dict]:
        return self._call("GET", "/ssh-keys")

    def launch(self, *, instance_type: str, region: str, ssh_key_name: str, name: str,
               user_data: str | None = None) -> str:
        body = {"region_name": region, "instance_type_name": instance_type,
                "ssh_key_names": [ssh_key_name], "name": name[:64]}
        if user_data:
            body["user_data"] = user_data
        return self._call("POST", "/instance-operations/launch", body)["instance_ids"][0]

    def terminate(self, instance_id: str) -> None:
        """Terminate `instance_id` (already gone is fine). Raises CloudError naming the
        instance when Lambda cannot be told: it is still running and billing."""
        try:
            self._call("POST", "/instance-operations/terminate",
                       {"instance_ids": [instance_id]})
        except CloudError as exc:
            if exc.code != "global/object-does-not-exist":  # already gone is fine
                raise CloudError(f"Could not terminate Lambda instance {instance_id}: {exc} "
                                 "It may still be running and billing: terminate it in "
                                 "Lambda's dashboard (cloud.lambda.ai).", exc.code) from exc

    def wait_active(self, instance_id: str, *, timeout_s: float = 1200,
                    poll_s: float = 10, on_status: Callable[[str], None] | None = None
                    ) -> dict:
        """Poll until the instance is active (and has an IP); booting takes minutes."""
        deadline = time.monotonic() + timeout_s
        while True:
            instance = self.instance(instance_id)
            if on_status:
                on_status(instance["status"])
            if instance["status"] == "active" and instance.get("ip"):
                return instance
            if instance["status"] in ("terminated", "terminating", "preempted", "unhealthy"):
                raise CloudError(f"Instance {instance_id} is {instance['status']}.")
            if time.monotonic() > deadline:
                raise CloudError(f"Instance {instance_id} was still {instance['status']} after "
                                 f"{timeout_s / 60:.0f} minutes.")
            self.sleep(poll_s)

    def launch_where_possible(self, *, instance_type: str, region: str | None,
                              ssh_key_name: str, name: str, user_data: str | None
                              ) -> tuple[str, InstanceType, str]:
        """Launch in `region`, or in the first region with capacity; (id, type, region)."""
        kind = self.instance_type(instance_type)
        regions = [region] if region else list(kind.regions)
        if not regions or (region and region not in kind.regions):
            where = ", ".join(kind.regions) or "no region"
            raise CapacityError(f"No capacity for {instance_type} "
                                f"{'in ' + region if region else 'anywhere'} right now "
                                f"(capacity in: {where}). Try another type or later.",
                                "instance-operations/launch/insufficient-capacity")
        last: CloudError | None = None
        for candidate in regions:
            try:
                return (self.launch(instance_type=instance_type, region=candidate,
                                    ssh_key_name=ssh_key_name, name=name,
                                    user_data=user_data), kind, candidate)
            except CapacityError as exc:  # capacity moves fast: try the next region
                last = exc
        assert last is not None
        raise last


def _error_payload(exc: urllib.error.HTTPError) -> dict:
    try:
        return json.loads(exc.read()).get("error") or {}
    except (ValueError, OSError, AttributeError):
        return {}


def _as_error(status: int, payload: dict) -> CloudError:
    code = payload.get("code")
    message = payload.get("message") or f"HTTP {status}"
    suggestion = payload.get("suggestion")
    text = f"Lambda Cloud: {message}" + (f" {suggestion}" if suggestion else "")
    if code == "instance-operations/launch/insufficient-capacity":
        return CapacityError(text, code)
    if code == "global/invalid-api-key":
        return CloudError("Lambda Cloud refused the API key (invalid, expired or deleted). "
                          "Store a new one with `ownvoice keys set lambda`.", code)
    return CloudError(text, code)


def cost_usd(started_at: float, cents_per_hour: int, now: float | None = None) -> float:
    """The meter: elapsed hours × the listed price (there is no billing API)."""
    hours = max(0.0, ((now or time.time()) - started_at) / 3600)
    return round(hours * cents_per_hour / 100, 4)
