"""Lambda Cloud against a local stand-in that follows its documented API, and a rented box
played by a real sshd: the host key OwnVoice generates is the one it pins, the job runs,
and the instance is terminated in every case."""

from __future__ import annotations

import sys

import pytest
import yaml

from engine import events
from engine.jobs import JobKind, JobState
from engine.training import pipeline
from engine.training.targets import TrainingRequest, run
from remote import cloud as lambda_cloud
from remote.cloud import CapacityError, CloudError, LambdaCloud
from remote.rented import Budget, BudgetExceeded, meter
from remote.targets import RentedTarget
from tests.lambda_fake import KEY, FakeLambda
from tests.sshd import SSHServer
from tests.test_finetune import add_correction_pairs


def client(fake: FakeLambda, key: str = KEY) -> LambdaCloud:
    return LambdaCloud(key, base_url=fake.url, sleep=lambda s: None, min_interval_s=0)


def test_instance_types_come_with_live_prices_and_capacity():
    with FakeLambda() as fake:
        types = client(fake).instance_types()
    assert [t.name for t in types] == ["gpu_1x_gh200", "gpu_1x_h100_pcie"]  # cheapest first
    gh200 = types[0]
    assert gh200.usd_per_hour == 2.29 and gh200.regions == ("us-east-3",)
    assert (gh200.gpus, gh200.vcpus, gh200.memory_gib) == (1, 64, 432)


def test_429s_are_waited_out():
    with FakeLambda(too_many_requests=3) as fake:
        assert client(fake).instances() == []
        assert len(fake.calls) == 4


@pytest.mark.parametrize("header", ["-1", "1.5", "soon", "Wed, 21 Oct 2015 07:28:00 GMT",
                                    "in-the-future"])
def test_any_retry_after_is_waited_out_never_a_crash(header):
    slept = []
    with FakeLambda(too_many_requests=2, retry_after=header) as fake:
        cloud = LambdaCloud(KEY, base_url=fake.url, sleep=slept.append, min_interval_s=0)
        assert cloud.instances() == []
    assert len(slept) == 2 and all(0 <= s <= 60 for s in slept), slept


def test_an_http_date_retry_after_is_honoured():
    from email.utils import formatdate

    slept = []
    when = formatdate(__import__("time").time() + 30, usegmt=True)
    with FakeLambda(too_many_requests=1, retry_after=when) as fake:
        LambdaCloud(KEY, base_url=fake.url, sleep=slept.append, min_interval_s=0).instances()
    assert 25 <= slept[0] <= 31, slept


def test_a_throttled_api_during_boot_still_ends_with_the_instance_terminated(store, tmp_path,
                                                                            tiny_base):
    """The one-click flow: launched, then Lambda answers 429 with an HTTP-date Retry-After
    long enough for the boot wait to give up; the instance is terminated all the same."""
    from email.utils import formatdate

    import remote.rented as rented

    add_correction_pairs(store)
    job = pipeline.prepare(store, base_model=str(tiny_base), kind=JobKind.REMOTE)
    fake = FakeLambda(retry_after=formatdate(usegmt=True))

    def throttle(_user_data):
        fake.too_many_requests = 10  # 7 for the first status poll (6 retries), 3 more

    fake.on_launch = throttle
    with fake, pytest.raises(CloudError, match="keeps answering 429"):
        rented.rent(store, client(fake), job, instance_type="gpu_1x_gh200", region=None,
                    ssh_key_name="laptop", key_file=None, boot_timeout_s=5)
    assert fake.running() == []
    assert store.job(job.id).meta.cloud.terminated_at is not None


def test_capacity_and_key_errors_say_what_to_do():
    with FakeLambda(no_capacity_in=("us-east-3",)) as fake:
        cloud = client(fake)
        with pytest.raises(CapacityError, match=r"No capacity for gpu_1x_h100_pcie anywhere"):
            cloud.launch_where_possible(instance_type="gpu_1x_h100_pcie", region=None,
                                        ssh_key_name="laptop", name="x", user_data=None)
        with pytest.raises(CapacityError, match="Not enough capacity"):
            cloud.launch_where_possible(instance_type="gpu_1x_gh200", region=None,
                                        ssh_key_name="laptop", name="x", user_data=None)
        with pytest.raises(CloudError, match="no instance type 'gpu_9x'"):
            cloud.instance_type("gpu_9x")
        with pytest.raises(CloudError, match="refused the API key.*keys set lambda"):
            client(fake, key="wrong").instances()
    with pytest.raises(CloudError, match="No Lambda Cloud API key"):
        LambdaCloud("")


def test_the_generated_host_key_travels_in_cloud_init():
    key = lambda_cloud.generate_host_key()
    config = lambda_cloud.cloud_config(key)
    assert config.startswith("#cloud-config\n")
    data = yaml.safe_load(config)
    assert data["ssh_deletekeys"] is True
    assert data["ssh_keys"]["ed25519_public"] == key.public_openssh
    assert "OPENSSH PRIVATE KEY" in data["ssh_keys"]["ed25519_private"]
    assert key.fingerprint.startswith("SHA256:") and len(key.fingerprint) == 50


def test_the_budget_meter():
    budget = Budget(max_hours=1.0, max_usd=3.0)
    assert budget.exceeded(0, 229, now=1800) is None
    assert "time budget of 1 h" in budget.exceeded(0, 229, now=3700)
    assert "$3" in Budget(max_usd=3.0).exceeded(0, 229, now=3600 * 1.5)
    assert lambda_cloud.cost_usd(0, 229, now=3600 * 2) == 4.58


@pytest.fixture
def rented_box(tmp_path, store, tiny_base, default_model):
    """A fake Lambda whose instances are a real sshd; the launch's cloud-init host key is
    installed into that sshd, as cloud-init would on a real instance."""
    server = SSHServer(tmp_path / "sshd").start()

    def install_host_key(user_data: str) -> None:
        keys = yaml.safe_load(user_data)["ssh_keys"]
        server.host_key.write_text(keys["ed25519_private"])
        server.host_key.chmod(0o600)
        (server.folder / "host_key.pub").write_text(keys["ed25519_public"] + "\n")
        server.restart()

    add_correction_pairs(store)
    with FakeLambda(on_launch=install_host_key) as fake:
        yield fake, server
    server.stop()


def rent_and_train(store, fake, server, tiny_base, tmp_path, on_event=None, **changes):
    """The rented target through the one training operation (targets.run)."""
    options = dict(region=None, ssh_key_name="laptop", key_file=str(server.client_key),
                   budget=Budget(max_hours=1), cloud=client(fake), user=server.user,
                   port=server.port,
                   host_meta={"python": sys.executable, "root": str(tmp_path / "box")},
                   watchdog_action="none")
    options.update(changes)
    request = TrainingRequest(base_model=str(tiny_base), max_steps=6, learning_rate=1e-3,
                              quant="Q8_0")
    row = run(RentedTarget("gpu_1x_gh200", **options), store, request, on_event=on_event)
    return store.jobs()[0], row


def test_a_rented_box_trains_and_is_terminated(rented_box, store, tiny_base, tmp_path):
    fake, server = rented_box
    states = []
    job, row = rent_and_train(store, fake, server, tiny_base, tmp_path,
                              on_event=states.append)
    assert row["name"] == f"voice-{job.id}" and row["origin"] == "fine-tuned"
    assert fake.running() == []  # terminated
    (launch,) = [c for c in fake.calls if c[1].endswith("/instance-operations/launch")]
    assert launch[2]["ssh_key_names"] == ["laptop"]
    assert launch[2]["user_data"].startswith("#cloud-config")
    done = store.job(job.id)
    cost = meter(done)
    assert cost["running"] is False and cost["usd_per_hour"] == 2.29 and cost["usd"] >= 0
    assert done.meta.cloud.terminated_at is not None
    assert store.hosts() == []  # the rented host is forgotten with its pinned key
    assert any(isinstance(s, events.Stage) and s.cost_usd is not None for s in states)


def test_a_budget_overrun_stops_the_job_and_terminates(rented_box, store, tiny_base,
                                                       tmp_path):
    fake, server = rented_box
    with pytest.raises(BudgetExceeded, match="reached the budget of \\$1e-06"):
        rent_and_train(store, fake, server, tiny_base, tmp_path,
                       budget=Budget(max_usd=0.000001))
    assert fake.running() == []
    job = store.jobs()[0]
    assert job.status is JobState.CANCELLED and job.meta.cloud.cost_usd is not None


def test_a_box_presenting_another_host_key_is_refused_and_terminated(tmp_path, store,
                                                                     tiny_base,
                                                                     default_model):
    from remote.session import HostKeyError

    add_correction_pairs(store)
    with SSHServer(tmp_path / "sshd") as server, FakeLambda() as fake:  # cloud-init ignored
        job = pipeline.prepare(store, base_model=str(tiny_base), kind=JobKind.REMOTE)
        import remote.rented as rented

        cloud = client(fake)
        with pytest.raises(HostKeyError, match="not the SHA256"):
            rented.rent(store, cloud, job, instance_type="gpu_1x_gh200", region=None,
                        ssh_key_name="laptop", key_file=str(server.client_key),
                        user=server.user, port=server.port, boot_timeout_s=5)
        assert fake.running() == []


def test_the_command_line_lists_types_and_refuses_a_launch_without_capacity(store,
                                                                           tiny_base,
                                                                           default_model):
    import json

    from tests.conftest import run_ownvoice

    add_correction_pairs(store)
    with FakeLambda() as fake:
        env = {"OWNVOICE_LAMBDA_API": fake.url, "OWNVOICE_KEY_LAMBDA": KEY}
        types = json.loads(run_ownvoice("remote", "lambda-types", "--json", env=env).stdout)
        assert types[0] == {"name": "gpu_1x_gh200", "gpu": "GH200 (96 GB)", "gpus": 1,
                            "usd_per_hour": 2.29, "regions": ["us-east-3"]}
        listed = run_ownvoice("remote", "lambda-types", env=env).stdout
        assert "no capacity now" in listed and "$  2.29/h" in listed
        missing = run_ownvoice("finetune", "--lambda", "gpu_1x_gh200", env=env, check=False)
        assert missing.returncode == 2 and "--ssh-key-name" in missing.stderr
        full = run_ownvoice("finetune", "--lambda", "gpu_1x_h100_pcie", "--ssh-key-name",
                            "laptop", "--base", str(tiny_base), env=env, check=False)
        assert full.returncode == 1 and "No capacity for gpu_1x_h100_pcie" in full.stderr
        assert fake.running() == []
        no_key = run_ownvoice("remote", "lambda-types", env={"OWNVOICE_LAMBDA_API": fake.url},
                              check=False)
        assert no_key.returncode == 1 and "No Lambda Cloud API key" in no_key.stderr
    assert store.jobs()[0].status is JobState.FAILED
