"""The deployment files: docker-compose against the Compose specification's JSON schema, the
Kubernetes manifests against Kubernetes' schemas, and the nginx configuration run by Debian's nginx
in front of stand-in upstreams: only the WhatsApp webhook and the dashboard get through."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import requests
import yaml

from tests.support.servers import ROOT, free_port

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
DEPLOY = ROOT / "deploy"
COMPOSE_SCHEMA = ROOT / "var" / "schemas" / "compose_spec.json"  # `make test` extracts it (Makefile)
KUBERNETES_VERSION = "1.28.0"


def manifests() -> list[dict]:
    documents = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


def test_compose_file_follows_the_compose_specification():
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    jsonschema.Draft201909Validator(schema).validate(compose)
    services = compose["services"]
    assert {"nginx", "rasa", "actions", "dashboard", "postgres", "redis", "retention", "migrate"} <= set(services)
    assert services["rasa"]["deploy"]["replicas"] >= 2
    assert list(services["nginx"]["ports"]) == ["443:443", "80:80"]
    assert [name for name, service in services.items() if service.get("ports")] == ["nginx"]
    for name in ("rasa", "actions", "dashboard", "postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
    assert "/webhooks/whatsapp/ready" in " ".join(services["rasa"]["healthcheck"]["test"])
    environment = services["rasa"]["environment"]
    assert environment["REDIS_URL"].startswith("redis://") and "postgresql" in environment["TRACKER_STORE_URL"]


def test_compose_schema_rejects_a_broken_file():
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft201909Validator(schema).validate({"services": {"rasa": {"deploy": {"replicas": "two"}}}})


@pytest.mark.parametrize("document", manifests(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_kubernetes_manifest_is_valid(document):
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validation_catches_mistakes():
    broken = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
              "spec": {"replicas": "3", "selector": {}, "template": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_deployment_has_probes_and_limits():
    deployments = {d["metadata"]["name"]: d for d in manifests() if d["kind"] == "Deployment"}
    assert set(deployments) == {"satark-rasa", "satark-actions", "satark-dashboard"}
    assert deployments["satark-rasa"]["spec"]["replicas"] >= 2
    for name, deployment in deployments.items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["readinessProbe"]["httpGet"]["path"], name
            assert container["livenessProbe"]["httpGet"]["path"], name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
    [rasa] = deployments["satark-rasa"]["spec"]["template"]["spec"]["containers"]
    assert rasa["readinessProbe"]["httpGet"]["path"] == "/webhooks/whatsapp/ready"
    assert "--enable-api" not in rasa["args"]
    kinds = {d["kind"] for d in manifests()}
    assert {"CronJob", "Ingress", "Job", "Service", "ConfigMap"} <= kinds


def test_ingress_exposes_only_the_webhook_and_the_dashboard():
    [ingress] = [d for d in manifests() if d["kind"] == "Ingress"]
    paths = [(rule["host"], path["path"], path["pathType"], path["backend"]["service"]["name"])
             for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    assert paths == [("bot.satark.example", "/webhooks/whatsapp/webhook", "Exact", "satark-rasa"),
                     ("dashboard.satark.example", "/", "Prefix", "satark-dashboard")]
    assert ingress["spec"]["tls"]


# -- nginx ---------------------------------------------------------------------------------------

class Upstream(BaseHTTPRequestHandler):
    """Answers every request with its own name and the path it saw."""

    def _answer(self) -> None:
        body = json.dumps({"upstream": self.server.name, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *_):
        pass


def serve(name: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Upstream)
    server.name = name
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def self_signed(folder: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "satark.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (folder / "fullchain.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "privkey.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    """deploy/nginx/satark.conf, as shipped except ports, upstream addresses and file paths."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    folder = tmp_path_factory.mktemp("nginx")
    self_signed(folder)
    rasa, dashboard = serve("rasa"), serve("dashboard")
    http_port, https_port = free_port(), free_port()
    site = (DEPLOY / "nginx" / "satark.conf").read_text()
    for old, new in {"rasa:5005": f"127.0.0.1:{rasa.server_port}",
                     "dashboard:8501": f"127.0.0.1:{dashboard.server_port}",
                     "listen 80 ": f"listen 127.0.0.1:{http_port} ",
                     "listen 443 ": f"listen 127.0.0.1:{https_port} ",
                     "/etc/nginx/certs": str(folder), "/var/log/nginx": str(folder)}.items():
        assert old in site, old
        site = site.replace(old, new)
    (folder / "site.conf").write_text(site)
    (folder / "nginx.conf").write_text(
        f"pid {folder}/nginx.pid; error_log {folder}/error.log; events {{}}\n"
        f"http {{ client_body_temp_path {folder}/body; proxy_temp_path {folder}/proxy; "
        f"fastcgi_temp_path {folder}/f; uwsgi_temp_path {folder}/u; scgi_temp_path {folder}/s; "
        f"include {folder}/site.conf; }}\n")
    process = subprocess.Popen([nginx, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
                               stderr=subprocess.PIPE)
    base = f"https://127.0.0.1:{https_port}"
    for _ in range(50):
        try:
            requests.get(base, verify=False, timeout=1)
            break
        except requests.ConnectionError:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode()) from None
            threading.Event().wait(0.1)
    yield base, http_port
    process.terminate()
    process.wait(10)
    rasa.shutdown()
    dashboard.shutdown()


def call(base: str, host: str, method: str, path: str) -> requests.Response:
    return requests.request(method, base + path, headers={"Host": host}, verify=False, timeout=5)


def test_proxy_passes_the_webhook_to_rasa(proxy):
    base, _ = proxy
    for method in ("GET", "POST"):
        response = call(base, "bot.satark.example", method, "/webhooks/whatsapp/webhook")
        assert response.status_code == 200
        assert response.json() == {"upstream": "rasa", "path": "/webhooks/whatsapp/webhook"}


@pytest.mark.parametrize("method,path", [
    ("POST", "/webhooks/rest/webhook"), ("PUT", "/model"), ("GET", "/conversations/x/tracker"),
    ("GET", "/status"), ("GET", "/"), ("GET", "/webhooks/whatsapp/ready"), ("PUT", "/webhooks/whatsapp/webhook"),
    ("GET", "/webhooks/whatsapp/webhook/../../model"),
])
def test_proxy_refuses_everything_else_on_the_bot_host(proxy, method, path):
    base, _ = proxy
    response = call(base, "bot.satark.example", method, path)
    assert response.status_code in (403, 404, 405)
    assert "upstream" not in response.text


def test_proxy_serves_the_dashboard_on_its_host_over_tls_only(proxy):
    base, http_port = proxy
    response = call(base, "dashboard.satark.example", "GET", "/reports")
    assert response.json() == {"upstream": "dashboard", "path": "/reports"}
    plain = requests.get(f"http://127.0.0.1:{http_port}/webhooks/whatsapp/webhook", allow_redirects=False, timeout=5)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
