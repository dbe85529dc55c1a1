"""What can be checked of deploy/ without Docker or a cluster.

- The compose file validates against the Compose Specification's JSON Schema (the copy that
  check-jsonschema vendors) and describes the stack: three app replicas behind nginx, Redis and
  PostgreSQL, every reference pointing at a file that exists.
- The Kubernetes manifests validate, strictly, against the schemas kubernetes-validate bundles
  for `K8S_VERSION`, the commented HPA examples included, and agree with each other.
- The Dockerfile is read by a small parser here: build and runtime stages, wheels only in the
  runtime, a non-root user, a HEALTHCHECK on /healthz, and a start command of ``lanner run
  --workers``.
- That start command runs: it is taken from the Dockerfile and executed as the image would, with
  the image's environment, this venv's ``lanner`` on PATH and SQLite instead of PostgreSQL, and
  the app answers /healthz and /readyz with two workers.
- nginx's config is read structurally, and checked by ``nginx -t`` when nginx is installed.

Nothing here reaches the network: every schema is read from an installed package.
"""

import copy
import importlib.resources
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.conftest import Server, free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"

K8S_VERSION = "1.32"
"""The Kubernetes version the manifests are validated for (its schemas ship in kubernetes-validate)."""

VENV_BIN = Path(sys.executable).parent


# -- the compose file ---------------------------------------------------------------------------


def compose_schema() -> dict[str, Any]:
    vendored = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendored / "compose-spec.json").read_text(encoding="utf-8"))
    return schema


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return document


def test_compose_file_validates_against_the_compose_spec(compose: dict[str, Any]) -> None:
    schema = compose_schema()
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_the_compose_schema_catches_a_mistake(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["app"]["deploy"]["replicas"] = [3]
    broken["services"]["app"]["restart_policy"] = "always"  # belongs under deploy:
    validator = jsonschema.Draft202012Validator(compose_schema())
    errors = {
        "/".join(map(str, error.absolute_path)): error.message for error in validator.iter_errors(broken)
    }
    assert "[3] is not of type 'integer', 'string'" in errors["services/app/deploy/replicas"]
    assert "'restart_policy' was unexpected" in errors["services/app"]


def test_check_jsonschema_agrees() -> None:
    # The same schema through the command people run by hand (no download: it is vendored).
    done = subprocess.run(
        [
            str(VENV_BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            "deploy/compose.yaml",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok" in done.stdout


def test_compose_runs_three_replicas_behind_the_proxy(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= {"proxy", "app", "initdb", "postgres", "redis"}
    app = services["app"]
    assert app["deploy"]["replicas"] == 3
    # Replicas cannot share a published host port: only the proxy publishes one.
    assert "ports" not in app and app["expose"] == ["8000"]
    assert services["proxy"]["ports"] == ["8080:80"]
    assert services["proxy"]["depends_on"]["app"]["condition"] == "service_healthy"
    mount = services["proxy"]["volumes"][0]
    assert mount == "./nginx.conf:/etc/nginx/nginx.conf:ro"
    assert (DEPLOY / "nginx.conf").is_file()


def test_compose_app_talks_to_postgres_and_redis(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("app", "initdb"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql+asyncpg://bookshelf:")
        assert env["DATABASE_URL"].endswith("@postgres:5432/bookshelf")
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["LANNER_SECRET_KEY"]  # one key shared by every replica
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "bookshelf"
    depends = services["app"]["depends_on"]
    assert depends["initdb"]["condition"] == "service_completed_successfully"
    assert depends["redis"]["condition"] == "service_healthy"
    assert services["initdb"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["initdb"]["command"] == ["python", "-m", "deploy.initdb"]


def test_compose_builds_the_dockerfile_from_the_repository_root(compose: dict[str, Any]) -> None:
    for name in ("app", "initdb"):
        build = compose["services"][name]["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == ROOT
        assert (context / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"


# -- the Kubernetes manifests -------------------------------------------------------------------


def manifests() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            found[f"{document['kind']}/{document['metadata']['name']}"] = document
    return found


@pytest.fixture(scope="module")
def k8s() -> dict[str, dict[str, Any]]:
    return manifests()


def test_every_manifest_validates_strictly(k8s: dict[str, dict[str, Any]]) -> None:
    assert set(k8s) == {
        "ConfigMap/bookshelf-config",
        "Secret/bookshelf-secrets",
        "Deployment/bookshelf",
        "Service/bookshelf",
        "HorizontalPodAutoscaler/bookshelf",
        "PodDisruptionBudget/bookshelf",
        "Job/bookshelf-initdb",
    }
    for name, document in k8s.items():
        assert kubernetes_validate.validate(document, K8S_VERSION, strict=True) == K8S_VERSION, name


def test_strict_validation_catches_a_mistake(k8s: dict[str, dict[str, Any]]) -> None:
    broken = copy.deepcopy(k8s["Deployment/bookshelf"])
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["livenessProbe"]["httpGet"]["paths"] = container["livenessProbe"]["httpGet"].pop("path")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    wrong_type = copy.deepcopy(k8s["HorizontalPodAutoscaler/bookshelf"])
    wrong_type["spec"]["maxReplicas"] = "ten"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, K8S_VERSION, strict=True)


def container_of(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def test_deployment_probes_resources_and_security(k8s: dict[str, dict[str, Any]]) -> None:
    deployment = k8s["Deployment/bookshelf"]
    pod = deployment["spec"]["template"]["spec"]
    container = container_of(deployment)
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == dockerfile().final_user_id()
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # A read-only root needs somewhere writable for uploads and the metrics files.
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert {"/tmp", "/data"} <= mounts
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_deployment_reads_its_settings_from_the_configmap_and_secret(k8s: dict[str, dict[str, Any]]) -> None:
    container = container_of(k8s["Deployment/bookshelf"])
    sources = [next(iter(source.values()))["name"] for source in container["envFrom"]]
    assert sources == ["bookshelf-config", "bookshelf-secrets"]
    config = k8s["ConfigMap/bookshelf-config"]["data"]
    secret = k8s["Secret/bookshelf-secrets"]["stringData"]
    assert config["REDIS_URL"].startswith("redis://")
    assert secret["DATABASE_URL"].startswith("postgresql+asyncpg://")
    # Everything the image's start command expands is set somewhere.
    env = {**dockerfile().final_env(), **config, **{e["name"]: e["value"] for e in container["env"]}}
    for name in re.findall(r"\$\{(\w+)\}", dockerfile().start_script()):
        assert env.get(name), name
    job = container_of(k8s["Job/bookshelf-initdb"])
    assert job["command"] == ["python", "-m", "deploy.initdb"]
    assert job["envFrom"] == container["envFrom"]


def test_service_and_budget_select_the_deployment_s_pods(k8s: dict[str, dict[str, Any]]) -> None:
    labels = k8s["Deployment/bookshelf"]["spec"]["template"]["metadata"]["labels"]
    service = k8s["Service/bookshelf"]["spec"]
    assert service["selector"].items() <= labels.items()
    assert service["ports"][0]["targetPort"] == "http"
    budget = k8s["PodDisruptionBudget/bookshelf"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget["minAvailable"] < k8s["HorizontalPodAutoscaler/bookshelf"]["spec"]["minReplicas"]


def test_hpa_scales_the_deployment_on_cpu(k8s: dict[str, dict[str, Any]]) -> None:
    hpa = k8s["HorizontalPodAutoscaler/bookshelf"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "bookshelf"}
    assert spec["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
        }
    ]
    assert spec["minReplicas"] <= k8s["Deployment/bookshelf"]["spec"]["replicas"] <= spec["maxReplicas"]


def commented_metrics(text: str) -> list[dict[str, Any]]:
    """The commented ``- type: Pods`` list items of the HPA, uncommented and parsed."""
    items: list[dict[str, Any]] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = re.fullmatch(r"(\s*)# (- type: Pods)", line)
        if not match:
            continue
        indent = match.group(1)
        block = [match.group(2)]
        for following in lines[index + 1 :]:
            if not following.startswith(indent + "#   "):
                break
            block.append(following[len(indent) + 2 :])
        items.extend(yaml.safe_load("\n".join(block)))
    return items


def test_hpa_commented_examples_are_valid_pods_metrics(k8s: dict[str, dict[str, Any]]) -> None:
    examples = commented_metrics((K8S / "hpa.yaml").read_text(encoding="utf-8"))
    names = [example["pods"]["metric"]["name"] for example in examples]
    assert names == ["lanner_http_request_duration_seconds_p95", "lanner_batch_queue_depth"]
    for example in examples:
        hpa = copy.deepcopy(k8s["HorizontalPodAutoscaler/bookshelf"])
        hpa["spec"]["metrics"].append(example)
        kubernetes_validate.validate(hpa, K8S_VERSION, strict=True)


# -- the Dockerfile -----------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for instruction, args in self.instructions if instruction == keyword]


@dataclass
class Dockerfile:
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def final_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for args in self.final.all("ENV"):
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
        return env

    def final_user_id(self) -> int:
        users = self.final.all("USER")
        assert users, "the runtime stage sets no USER: it would run as root"
        return int(users[-1].split(":")[0])

    def exec_form(self, keyword: str) -> list[str]:
        values = self.final.all(keyword)
        assert values, f"no {keyword} in the runtime stage"
        command = json.loads(values[-1])
        assert isinstance(command, list) and all(isinstance(part, str) for part in command)
        return command

    def start_script(self) -> str:
        """The shell script of ``CMD ["/bin/sh", "-c", SCRIPT]``."""
        command = self.exec_form("CMD")
        assert command[:2] == ["/bin/sh", "-c"] and len(command) == 3, command
        return command[2]


def parse_dockerfile(text: str) -> Dockerfile:
    """Split a Dockerfile into stages of (INSTRUCTION, arguments), as BuildKit reads it."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # comments inside a continued instruction are dropped too
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        args = args.strip()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif keyword == "ARG" and not stages:
            continue  # a global build argument, before the first stage
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, args))
    return Dockerfile(stages)


def dockerfile() -> Dockerfile:
    return parse_dockerfile((DEPLOY / "Dockerfile").read_text(encoding="utf-8"))


def test_dockerfile_has_a_build_stage_and_a_slim_runtime() -> None:
    parsed = dockerfile()
    assert [stage.name for stage in parsed.stages] == ["build", "runtime"]
    assert all(re.fullmatch(r"python:\$\{PYTHON_VERSION\}-slim", stage.base) for stage in parsed.stages)
    assert re.search(r"^ARG PYTHON_VERSION=3\.1[2-9]$", (DEPLOY / "Dockerfile").read_text(), re.M)
    build_runs = " ".join(parsed.stages[0].all("RUN"))
    assert "pip wheel --wheel-dir /wheels" in build_runs
    assert "postgres" in build_runs and "redis" in build_runs


def test_runtime_installs_wheels_only_and_runs_as_a_user() -> None:
    final = dockerfile().final
    installs = [run for run in final.all("RUN") if "pip install" in run]
    assert len(installs) == 1
    assert "--no-index" in installs[0] and "--find-links=/wheels" in installs[0]
    assert "--mount=type=bind,from=build" in installs[0]  # the wheels never become a layer
    assert not [args for args in final.all("COPY") if "--from=" in args]
    assert dockerfile().final_user_id() >= 1000
    assert not final.all("ENTRYPOINT")  # CMD is the whole start command


def test_every_copied_file_exists_and_reaches_the_build_context() -> None:
    final = dockerfile().final
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    sources = []
    for stage in dockerfile().stages:
        for args in stage.all("COPY"):
            words = [word for word in args.split() if not word.startswith("--")]
            sources += words[:-1]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source.rstrip("/") in included or any(source.startswith(i + "/") for i in included), source
    assert "*" in ignore  # everything else stays out of the context
    assert "examples/bookshelf/data" in ignore  # a local database never ships
    assert final.all("WORKDIR") == ["/app"]


def test_healthcheck_asks_healthz() -> None:
    parsed = dockerfile()
    checks = parsed.final.all("HEALTHCHECK")
    assert len(checks) == 1
    options, _, command = checks[0].partition(" CMD ")
    assert "--interval=" in options and "--timeout=" in options
    assert json.loads(command) == ["python", "/app/deploy/healthcheck.py"]
    assert "deploy/healthcheck.py" in " ".join(parsed.final.all("COPY"))
    assert "/healthz" in (DEPLOY / "healthcheck.py").read_text(encoding="utf-8")


def test_start_command_is_lanner_run_with_workers() -> None:
    parsed = dockerfile()
    script = parsed.start_script()
    exec_part = script.rsplit("exec ", 1)[1]
    words = shlex.split(exec_part)
    assert words[:3] == ["lanner", "run", "examples.bookshelf.app"]
    assert words[words.index("--workers") + 1] == "${WEB_CONCURRENCY}"
    assert words[words.index("--port") + 1] == "${PORT}"
    assert words[words.index("--host") + 1] == "0.0.0.0"
    env = parsed.final_env()
    assert int(env["WEB_CONCURRENCY"]) >= 2 and env["PORT"] == "8000"
    assert "8000" in parsed.final.all("EXPOSE")


# -- the image's start command, run here --------------------------------------------------------


@dataclass
class Started:
    server: Server
    env: dict[str, str]


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The Dockerfile's CMD, run in this checkout as the image would run it in ``/app``."""
    parsed = dockerfile()
    data = tmp_path_factory.mktemp("bookshelf-data")
    port = free_port()
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("LANNER_", "BOOKSHELF_"))},
        **parsed.final_env(),
        # What differs from the container: paths on this machine, SQLite, a free port.
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "BOOKSHELF_DATA": str(data),
        "DATABASE_URL": f"sqlite+aiosqlite:///{data / 'bookshelf.db'}",
        "PROMETHEUS_MULTIPROC_DIR": str(data / "metrics"),
        "PORT": str(port),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # As compose and the Kubernetes Job do: the tables and seed data first, then the workers.
    initdb = subprocess.run(
        [sys.executable, "-m", "deploy.initdb"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert initdb.returncode == 0, initdb.stderr
    assert (data / "bookshelf.db").is_file() and (data / "covers").is_dir()
    (data / "metrics").mkdir()
    (data / "metrics" / "counter_1.db").write_bytes(b"stale")  # a previous run's leftovers
    server = Server(["/bin/sh", "-c", parsed.start_script()], port, env)
    try:
        server.wait_ready("/healthz", timeout=60)
        yield Started(server, env)
    finally:
        server.stop()


@pytest.mark.slow
def test_the_start_command_serves_healthz(started: Started) -> None:
    response = httpx.get(started.server.url + "/healthz", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


@pytest.mark.slow
def test_the_start_command_serves_readyz(started: Started) -> None:
    response = httpx.get(started.server.url + "/readyz", timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] and set(body["checks"].values()) == {"ok"}


@pytest.mark.slow
def test_the_start_command_serves_the_app(started: Started) -> None:
    home = httpx.get(started.server.url + "/", timeout=10)
    assert home.status_code == 200
    assert "The Left Hand of Darkness" in home.text  # seeded by deploy/initdb.py
    books = httpx.get(started.server.url + "/api/books", timeout=10)
    assert books.status_code == 200


@pytest.mark.slow
def test_the_start_command_serves_metrics(started: Started) -> None:
    response = httpx.get(started.server.url + "/metrics", timeout=10)
    if response.status_code == 404:
        pytest.skip("examples/bookshelf does not serve /metrics (Lanner(metrics_url='/metrics'))")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert "lanner_http_requests_total" in response.text


@pytest.mark.slow
def test_the_start_command_cleared_stale_metrics(started: Started) -> None:
    assert not (Path(started.env["PROMETHEUS_MULTIPROC_DIR"]) / "counter_1.db").exists()


@pytest.mark.slow
def test_the_container_healthcheck_script(started: Started) -> None:
    check = [sys.executable, str(DEPLOY / "healthcheck.py")]
    ok = subprocess.run(check, env=started.env, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    down = subprocess.run(
        check, env={**started.env, "PORT": str(free_port())}, capture_output=True, text=True, timeout=30
    )
    assert down.returncode == 1
    assert "/healthz" in down.stderr


@pytest.mark.slow
def test_the_start_command_runs_the_workers_and_stops_cleanly(started: Started) -> None:
    workers = int(started.env["WEB_CONCURRENCY"])
    # Ask until every worker has answered once (each is its own process).
    for _ in range(50):
        if started.server.output().count("Application startup complete") >= workers:
            break
        httpx.get(started.server.url + "/healthz", timeout=10)
    output = started.server.output()
    assert output.count("Started server process") == workers, output
    # exec: SIGTERM reaches lanner itself, which stops its workers and exits 0.
    started.server.process.terminate()
    assert started.server.process.wait(timeout=30) == 0
    output = started.server.output()
    assert output.count("Finished server process") == workers, output


# -- nginx --------------------------------------------------------------------------------------


def nginx_statements(text: str) -> list[str]:
    """The config's statements and block openings, with comments removed; fails on bad nesting."""
    code = re.sub(r"#[^\n]*", "", text)
    depth = 0
    statements: list[str] = []
    current = ""
    quote: str | None = None
    for char in code:
        if quote:
            quote = None if char == quote else quote
            current += char
            continue
        if char in "'\"":
            quote = char
            current += char
        elif char == "{":
            depth += 1
            statements.append(current.strip() + " {")
            current = ""
        elif char == "}":
            assert not current.strip(), f"missing ';' before '}}': {current.strip()!r}"
            depth -= 1
            assert depth >= 0, "unbalanced '}'"
            statements.append("}")
        elif char == ";":
            statements.append(" ".join(current.split()))
            current = ""
        else:
            current += char
    assert depth == 0 and not current.strip() and quote is None, "unterminated block or statement"
    return statements


def test_nginx_config_is_structurally_sound() -> None:
    statements = nginx_statements((DEPLOY / "nginx.conf").read_text(encoding="utf-8"))
    assert "upstream bookshelf {" in statements
    assert any(s.startswith("server app:8000") for s in statements)
    assert "proxy_pass http://bookshelf" in statements
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for" in statements
    assert "proxy_set_header X-Forwarded-Proto $scheme" in statements
    assert "proxy_set_header Upgrade $http_upgrade" in statements
    assert "proxy_set_header Connection $connection_upgrade" in statements
    at_metrics = statements.index("location = /metrics {")
    assert statements[at_metrics + 1] == "return 404"


def test_nginx_parser_rejects_a_missing_semicolon() -> None:
    with pytest.raises(AssertionError):
        nginx_statements("http { server { listen 80 } }")
    with pytest.raises(AssertionError):
        nginx_statements("http { server { listen 80; }")


def nginx_version(binary: str) -> tuple[int, ...]:
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", done.stderr)
    assert match, done.stderr
    return tuple(int(part) for part in match.groups())


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    binary = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if binary is None:
        pytest.skip("nginx is not installed (apt-get install nginx): only the structural check ran")
    text = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    # The container's names and paths, swapped for this machine's; every directive stays.
    text = text.replace("server app:8000", "server 127.0.0.1:8000")
    text = text.replace("/var/log/nginx/", f"{tmp_path}/")
    mime = Path("/etc/nginx/mime.types")
    if not mime.is_file():
        (tmp_path / "mime.types").write_text("types {\n    text/html html;\n}\n")
        text = text.replace(str(mime), str(tmp_path / "mime.types"))
    temp_paths = "".join(
        f"    {kind}_temp_path {tmp_path}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {\n", "http {\n" + temp_paths, 1)
    if nginx_version(binary) < (1, 27, 3):  # "resolve" on an upstream server came in 1.27.3
        text = text.replace(" resolve ", " ")
    config = tmp_path / "nginx.conf"
    config.write_text(text)
    done = subprocess.run(
        [
            binary,
            "-t",
            "-p",
            str(tmp_path),
            "-c",
            str(config),
            "-e",
            "stderr",
            "-g",
            f"pid {tmp_path}/nginx.pid;",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr
