"""The deployment files agree with each other and with Kubernetes' schemas.

Run by `make test-deploy` (part of `make test`) with the .venv tools:
kubernetes-validate (strict: unknown fields are errors) and PyYAML.
"""

import json
import pathlib
import re
import subprocess
import sys
import unittest

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
CONFIG = DEPLOY / "config" / "starling.conf"


def load_k8s():
    """Every Kubernetes object in deploy/k8s, by kind."""
    objects = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            objects.setdefault(document["kind"], []).append(document)
    return objects


def config_value(key):
    """A top-level `key: value` of the config file (unquoted)."""
    match = re.search(rf"^{key}:\s*(.+?)\s*$", CONFIG.read_text(), re.MULTILINE)
    if not match:
        raise AssertionError(f"{key} not in {CONFIG}")
    return match.group(1).strip('"')


def seconds(duration):
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    if not match:
        raise AssertionError(f"duration {duration}")
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


def config_routes():
    block = re.search(r"routes:\s*\[(.*?)\]", CONFIG.read_text(), re.DOTALL)
    return re.findall(r"nats://[^\s,\]]+", block.group(1)) if block else []


class KubernetesManifests(unittest.TestCase):
    def setUp(self):
        self.objects = load_k8s()
        self.statefulset = self.objects["StatefulSet"][0]
        self.pod = self.statefulset["spec"]["template"]
        self.container = self.pod["spec"]["containers"][0]

    def test_every_manifest_validates_against_the_kubernetes_schema(self):
        files = [str(p) for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml"]
        result = subprocess.run(
            [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", *files],
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_kustomization_lists_every_manifest(self):
        kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
        files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
        self.assertEqual(set(kustomization["resources"]), files)

    def test_configmap_holds_the_config_file_verbatim(self):
        configmap = self.objects["ConfigMap"][0]
        self.assertEqual(configmap["data"]["starling.conf"], CONFIG.read_text())
        volume = next(v for v in self.pod["spec"]["volumes"] if v["name"] == "config")
        self.assertEqual(volume["configMap"]["name"], configmap["metadata"]["name"])
        self.assertEqual(self.container["args"], ["--config", "/etc/starling/starling.conf"])

    def test_one_route_url_names_the_headless_service(self):
        headless = next(s for s in self.objects["Service"] if s["spec"].get("clusterIP") == "None")
        self.assertTrue(headless["spec"]["publishNotReadyAddresses"])
        self.assertEqual(self.statefulset["spec"]["serviceName"], headless["metadata"]["name"])
        self.assertEqual(self.statefulset["spec"]["replicas"], 3)
        # One URL, the headless Service's name: every pod behind it is
        # dialed, whatever the replica count.
        self.assertEqual(config_routes(), [f"nats://{headless['metadata']['name']}:6222"])

    def test_probes_use_healthz_on_the_monitoring_port(self):
        ports = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        self.assertEqual(ports, {"client": 4222, "cluster": 6222, "monitor": 8222})
        self.assertEqual(config_value("http_port"), "8222")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            get = self.container[probe]["httpGet"]
            self.assertEqual((get["path"], get["port"]), ("/healthz", "monitor"), probe)

    def test_probe_timing_fits_the_readiness_rules(self):
        # /healthz is 503 until the routes are up and the peers' interest is
        # in (at most 30 s, READINESS_WAIT_CAP): the startup probe must allow
        # longer, and the readiness probe must notice a ready pod quickly.
        startup = self.container["startupProbe"]
        self.assertGreater(startup["periodSeconds"] * startup["failureThreshold"], 30)
        readiness = self.container["readinessProbe"]
        self.assertLessEqual(readiness["periodSeconds"], 2)
        self.assertLessEqual(readiness["timeoutSeconds"], readiness["periodSeconds"])

    def test_prestop_enters_lame_duck_through_the_pid_file(self):
        pid_file = config_value("pid_file")
        command = self.container["lifecycle"]["preStop"]["exec"]["command"]
        self.assertEqual(command, ["/starling", "--signal", f"ldm={pid_file}"])
        pid_dir = str(pathlib.PurePosixPath(pid_file).parent)
        mount = next(m for m in self.container["volumeMounts"] if m["mountPath"] == pid_dir)
        volume = next(v for v in self.pod["spec"]["volumes"] if v["name"] == mount["name"])
        self.assertIn("emptyDir", volume)
        grace = self.pod["spec"]["terminationGracePeriodSeconds"]
        self.assertGreater(grace, seconds(config_value("lame_duck_duration")))

    def test_pods_run_non_root_on_a_read_only_root_filesystem(self):
        security = self.container["securityContext"]
        self.assertTrue(security["readOnlyRootFilesystem"])
        self.assertFalse(security["allowPrivilegeEscalation"])
        self.assertEqual(security["capabilities"]["drop"], ["ALL"])
        self.assertTrue(self.pod["spec"]["securityContext"]["runAsNonRoot"])
        self.assertNotEqual(self.pod["spec"]["securityContext"]["runAsUser"], 0)
        self.assertIn("cpu", self.container["resources"]["requests"])
        self.assertIn("memory", self.container["resources"]["requests"])

    def test_pods_invite_prometheus_to_scrape_metrics(self):
        annotations = self.pod["metadata"]["annotations"]
        self.assertEqual(annotations["prometheus.io/scrape"], "true")
        self.assertEqual(annotations["prometheus.io/port"], "8222")
        self.assertEqual(annotations["prometheus.io/path"], "/metrics")

    def test_disruption_budget_allows_one_pod_down(self):
        budget = self.objects["PodDisruptionBudget"][0]
        self.assertEqual(budget["spec"]["maxUnavailable"], 1)
        self.assertEqual(
            budget["spec"]["selector"]["matchLabels"], self.statefulset["spec"]["selector"]["matchLabels"]
        )


class ComposeDeployment(unittest.TestCase):
    def setUp(self):
        self.compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
        self.services = self.compose["services"]

    def test_nodes_run_the_kubernetes_config_and_share_the_route_name_as_alias(self):
        names = [re.match(r"nats://([^:]+):", route).group(1) for route in config_routes()]
        self.assertEqual(len(names), 1)
        for name in ("n1", "n2", "n3"):
            node = self.services[name]
            self.assertIn("./config/starling.conf:/etc/starling/starling.conf:ro", node["volumes"])
            self.assertEqual(node["environment"]["SERVER_NAME"], name)
            self.assertEqual(node["networks"]["starling"]["aliases"], names)

    def test_prometheus_scrapes_every_node(self):
        scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
        job = scrape["scrape_configs"][0]
        self.assertEqual(job["metrics_path"], "/metrics")
        self.assertEqual(job["static_configs"][0]["targets"], ["n1:8222", "n2:8222", "n3:8222"])
        self.assertIn("prometheus", self.services)

    def test_published_ports_are_distinct_and_loopback_by_default(self):
        published = []
        for service in self.services.values():
            for port in service.get("ports", []):
                self.assertTrue(port.startswith("${STARLING_PUBLISH_HOST:-127.0.0.1}:"), port)
                published.append(re.search(r":-(\d+)}:\d+$", port).group(1))
        self.assertEqual(len(published), len(set(published)), published)
        self.assertEqual(published[:6], ["4222", "8222", "4223", "8223", "4224", "8224"])


class GrafanaDashboard(unittest.TestCase):
    def test_dashboard_is_importable_json_with_per_node_panels(self):
        dashboard = json.loads((DEPLOY / "grafana" / "starling-dashboard.json").read_text())
        self.assertEqual(dashboard["uid"], "starling-overview")
        variables = {v["name"] for v in dashboard["templating"]["list"]}
        self.assertEqual(variables, {"datasource", "instance"})
        panels = [p for p in dashboard["panels"] if p["type"] != "row"]
        ids = [p["id"] for p in dashboard["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        per_node = [p for p in panels if any("instance" in t["legendFormat"] for t in p["targets"])]
        self.assertGreaterEqual(len(per_node), 10)


if __name__ == "__main__":
    unittest.main()
