"""deploy/k8s: valid Kubernetes objects whose probes hit real endpoints of this app."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from django.urls import Resolver404, resolve

K8S_DIR = Path(__file__).resolve().parent.parent / "deploy" / "k8s"
PROJECT_DIR = K8S_DIR.parent.parent
MIGRATE_DIR = K8S_DIR / "migrate"  # a kustomization of its own: the Job's per-release name
MANIFESTS = sorted(
    p
    for p in [*K8S_DIR.glob("*.yaml"), *MIGRATE_DIR.glob("*.yaml")]
    if p.name != "kustomization.yaml"
)
PROBE_PATHS = {"/health/live/", "/health/ready/", "/health/"}


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def pod_spec(doc: dict) -> dict:
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec.get("template", {}).get("spec", {})


def containers(doc: dict) -> list[dict]:
    return pod_spec(doc).get("containers", [])


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_a_valid_kubernetes_object(path):
    for doc in documents(path):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def kustomization(folder: Path) -> dict:
    return yaml.safe_load((folder / "kustomization.yaml").read_text())


def test_kustomization_lists_every_manifest_but_the_secret_example():
    listed = set(kustomization(K8S_DIR)["resources"])
    names = {p.relative_to(K8S_DIR).as_posix() for p in MANIFESTS}
    assert listed == names - {"secret.example.yaml", "migrate/job.yaml"} | {"migrate"}
    assert kustomization(MIGRATE_DIR)["resources"] == ["job.yaml"]


def test_the_migrate_job_is_named_per_release():
    """Jobs are immutable: each release's is another object, migrate-<nameSuffix>."""
    [job] = documents(MIGRATE_DIR / "job.yaml")
    assert (job["kind"], job["metadata"]["name"]) == ("Job", "migrate")
    assert "generateName" not in job["metadata"]  # kustomize and `kubectl apply` need a name
    suffix = kustomization(MIGRATE_DIR)["nameSuffix"]
    assert suffix == "-set-per-release"  # the placeholder each release replaces
    # Only this folder's objects get the suffix: the Deployments keep their names.
    assert "nameSuffix" not in kustomization(K8S_DIR)
    assert job["spec"]["ttlSecondsAfterFinished"] > 0  # last releases' Jobs go by themselves
    guide = (PROJECT_DIR / "docs" / "deploy.md").read_text()
    assert "(cd deploy/k8s/migrate && kustomize edit set namesuffix -- -$release)" in guide
    assert "job/migrate-$release" in guide


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl absent: read, not built")
def test_kustomize_names_the_job_per_release_and_tags_its_image(tmp_path):
    """The built kustomization, as `kubectl apply -k` sends it, before and after a release."""
    copy = tmp_path / "k8s"
    shutil.copytree(K8S_DIR, copy)

    def built_job() -> dict:
        out = subprocess.run(
            ["kubectl", "kustomize", str(copy)], capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        [job] = [d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] == "Job"]
        return job

    (image,) = kustomization(K8S_DIR)["images"]
    job = built_job()
    assert job["metadata"]["name"] == "migrate-set-per-release"
    [container] = containers(job)
    assert container["image"] == f"{image['newName']}:{image['newTag']}"  # the parent's tag
    # What `kustomize edit set namesuffix -- -abc1234` writes.
    migrate = kustomization(copy / "migrate") | {"nameSuffix": "-abc1234"}
    (copy / "migrate" / "kustomization.yaml").write_text(yaml.safe_dump(migrate))
    assert built_job()["metadata"]["name"] == "migrate-abc1234"


def test_web_probes_hit_health_endpoints_on_the_served_port():
    (deployment,) = [d for d in documents(K8S_DIR / "web.yaml") if d["kind"] == "Deployment"]
    (web,) = containers(deployment)
    ports = {p["name"]: p["containerPort"] for p in web["ports"]}
    assert ports == {"http": 8000, "liveness": 8001}
    # Liveness goes to gunicorn's master listener (GUNICORN_LIVENESS_BIND), the rest to the app.
    env = {item["name"]: item["value"] for item in web["env"]}
    assert env["GUNICORN_LIVENESS_BIND"].endswith(f":{ports['liveness']}")
    expected = {"startupProbe": "http", "livenessProbe": "liveness", "readinessProbe": "http"}
    for probe, port in expected.items():
        http_get = web[probe]["httpGet"]
        assert http_get["port"] == port
        assert http_get["path"] in PROBE_PATHS
        try:
            match = resolve(http_get["path"])
        except Resolver404:
            pytest.fail(f"{probe} path {http_get['path']} is not routed")
        assert match.url_name.startswith("health")
    assert web["readinessProbe"]["httpGet"]["path"] == "/health/ready/"
    assert web["livenessProbe"]["httpGet"]["path"] == "/health/live/"


def test_every_command_runs_something_the_project_has():
    for path in MANIFESTS:
        for doc in documents(path):
            for container in containers(doc):
                command = container.get("command", [])
                if command[:1] == ["python"]:
                    assert (PROJECT_DIR / command[1]).is_file(), command
                if command[:1] == ["celery"]:
                    assert command[1:3] == ["-A", "config.celery_app"]
                    assert (PROJECT_DIR / "config" / "celery_app.py").is_file()


def test_pods_run_as_the_image_non_root_uid():
    assert "USER 10001:10001" in (PROJECT_DIR / "Dockerfile").read_text()
    for path in MANIFESTS:
        for doc in documents(path):
            if doc["kind"] in {"Deployment", "Job", "CronJob"}:
                assert pod_spec(doc)["securityContext"]["runAsNonRoot"] is True


def test_every_pod_meets_pod_security_restricted():
    """The fields the "restricted" Pod Security Standard requires, on every pod and container;
    the root file system read-only, with /tmp (probe files, beat's schedule) an emptyDir."""
    pods = 0
    for path in MANIFESTS:
        for doc in documents(path):
            if doc["kind"] not in {"Deployment", "Job", "CronJob"}:
                continue
            pods += 1
            where = f"{path.name}: {doc['kind']} {doc['metadata']['name']}"
            spec = pod_spec(doc)
            pod_context = spec.get("securityContext", {})
            assert pod_context.get("runAsNonRoot") is True, where
            assert pod_context.get("seccompProfile") == {"type": "RuntimeDefault"}, where
            volumes = {v["name"]: v for v in spec.get("volumes", [])}
            for container in containers(doc):
                here = f"{where}: container {container['name']}"
                context = container.get("securityContext", {})
                assert context.get("allowPrivilegeEscalation") is False, here
                assert context.get("capabilities", {}).get("drop") == ["ALL"], here
                assert context.get("readOnlyRootFilesystem") is True, here
                mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
                assert "/tmp" in mounts, f"{here}: /tmp is not mounted"  # noqa: S108
                assert "emptyDir" in volumes[mounts["/tmp"]], f"{here}: /tmp"  # noqa: S108
    assert pods == 5


def test_images_get_their_tag_from_the_kustomization_never_latest():
    (image,) = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())["images"]
    assert image["newTag"] not in {"", "latest"}, image
    for path in MANIFESTS:
        for doc in documents(path):
            for container in containers(doc):
                assert container["image"] == image["name"], f"{path.name}: {container['name']}"


def objects(kind: str) -> dict[str, dict]:
    return {
        doc["metadata"]["name"]: doc
        for path in MANIFESTS
        for doc in documents(path)
        if doc["kind"] == kind
    }


def pod_labels(deployment: dict) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def test_the_web_autoscales_on_cpu_and_keeps_no_replica_count():
    deployments = objects("Deployment")
    [hpa] = objects("HorizontalPodAutoscaler").values()
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "web")
    assert "replicas" not in deployments["web"]["spec"]  # apply would reset the HPA's count
    [web] = containers(deployments["web"])
    assert web["resources"]["requests"]["cpu"]  # Utilization is a share of the request
    assert hpa["spec"]["minReplicas"] >= 2


def test_disruption_budgets_select_web_and_worker_and_never_beat():
    deployments = objects("Deployment")
    selected = set()
    for budget in objects("PodDisruptionBudget").values():
        labels = budget["spec"]["selector"]["matchLabels"]
        [name] = [n for n, d in deployments.items() if labels.items() <= pod_labels(d).items()]
        selected.add(name)
    assert selected == {"web", "worker"}


@pytest.mark.parametrize("name", ["web", "worker"])
def test_replicas_spread_over_nodes(name):
    deployment = objects("Deployment")[name]
    [constraint] = pod_spec(deployment)["topologySpreadConstraints"]
    assert constraint["topologyKey"] == "kubernetes.io/hostname"
    assert constraint["labelSelector"]["matchLabels"].items() <= pod_labels(deployment).items()


def test_the_keda_scaler_counts_the_workers_queue():
    """KEDA's CRDs are not in the Kubernetes schema: the fields that matter, checked here."""
    from celery.app.defaults import DEFAULTS

    docs = documents(K8S_DIR / "keda" / "worker-scaledobject.yaml")
    by_kind = {doc["kind"]: doc for doc in docs}
    assert {doc["apiVersion"] for doc in docs} == {"keda.sh/v1alpha1"}
    scaled, auth = by_kind["ScaledObject"]["spec"], by_kind["TriggerAuthentication"]
    assert scaled["scaleTargetRef"]["name"] in objects("Deployment")
    assert scaled["minReplicaCount"] >= 1  # ETA tasks wait in workers, not in the list
    [trigger] = scaled["triggers"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == DEFAULTS["task_default_queue"]
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    # The example Secret's REDIS_URL has this address and db, and the password key exists.
    secret = documents(K8S_DIR / "secret.example.yaml")[0]
    redis = urlsplit(secret["stringData"]["REDIS_URL"])
    assert trigger["metadata"]["address"] == f"{redis.hostname}:{redis.port}"
    assert trigger["metadata"]["databaseIndex"] == (redis.path.strip("/") or "0")
    [reference] = auth["spec"]["secretTargetRef"]
    assert reference["name"] == secret["metadata"]["name"]
    assert reference["key"] in secret["stringData"]


def test_web_pauses_before_sigterm_and_its_grace_period_covers_the_drain():
    """Endpoints are removed while SIGTERM is sent: the preStop pause keeps serving first."""
    (deployment,) = [d for d in documents(K8S_DIR / "web.yaml") if d["kind"] == "Deployment"]
    (web,) = containers(deployment)
    command = web["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pause = float(command[1])
    assert pause >= 5
    gunicorn_conf = (PROJECT_DIR / "gunicorn.conf.py").read_text()
    graceful = float(re.search(r"^graceful_timeout = (\d+)", gunicorn_conf, re.M).group(1))
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] > pause + graceful
