"""The observability kit against the real binary: every query of the Grafana dashboard
(conf/grafana/cplb.json) returns data from a real Prometheus scraping a real cplb, the alerting rules
(conf/prometheus/alerts.yml) load and evaluate in that Prometheus and pass `promtool check rules` and
their unit tests (conf/prometheus/alerts_test.yml).

The live test (LiveDashboardTest) builds one scene and then only queries it:
- three fake apiservers checked over HTTP on /readyz: s1 up, s2 answering 500 (not_ready), s3 up and
  then killed (down);
- cplb with one frontend (global.max_connections 4) and, when this process may create network
  namespaces (root), one VRRP instance;
- traffic: a few requests, four watches (sessions held open, moved off s3 when it dies), two connects
  over max_connections, a valid and an invalid SIGHUP reload, and two link flaps of the VRRP
  interface (master -> fault -> backup -> master, twice);
- Prometheus (Debian's `prometheus`) scraping cplb's admin port every second, with the alerting rules
  loaded and evaluated every second.

VRRP needs an interface with a carrier that cplb may put a VIP on, and raw sockets: with root, the whole
scene (apiservers, cplb, Prometheus) runs in one network namespace of its own (netns.Lan, a veth `eth0`
on a bridge, 192.0.2.11/24), so nothing touches the host's interfaces, and every query must return data.
Without root (or with CPLB_OBSERVABILITY_NO_NETNS=1) the scene runs on the host's loopback without a
VRRP instance: cplb then exports no cplb_vrrp_* series, so the queries over cplb_vrrp_* are the only ones
allowed to return nothing (and test_vrrp_queries_have_data is skipped, saying so).

Grafana itself is not run: its template variables are substituted as Grafana would ($instance and
$backend as regex-escaped single values, or `.+` for All; $__rate_interval -> 30s, $__interval -> 10s),
and label_values(...) variable queries are answered with Prometheus' series API.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import netns
from harness import Cplb, FakeApiserver, WatchClient, free_port, http_get, metric_samples, wait_until

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "conf" / "grafana" / "cplb.json"
ALERTS = REPO / "conf" / "prometheus" / "alerts.yml"
ALERTS_TEST = REPO / "conf" / "prometheus" / "alerts_test.yml"

RATE_INTERVAL = "30s"  # $__rate_interval (Grafana: max(4 x scrape interval, step + scrape interval))
INTERVAL = "10s"  # $__interval
LB_ADDRESS = "192.0.2.11"  # the namespace's eth0 (TEST-NET-1)
VIP = "192.0.2.100"
MAX_CONNECTIONS = 4
WATCHES = MAX_CONNECTIONS  # the watches hold every slot, so further connects are rejected
SCENE_TIMEOUT = 20.0  # bound of each wait while building the scene


# --- the dashboard ---------------------------------------------------------------------------------

def load_dashboard():
    return json.loads(DASHBOARD.read_text())


def all_panels(dashboard):
    """Every panel, rows' nested panels included."""
    out = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def dashboard_queries(dashboard):
    """[(where, expr)] of every panel target and every Prometheus annotation of the dashboard."""
    queries = []
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("expr"):
                queries.append((f'panel "{panel["title"]}" target {target.get("refId", "?")}', target["expr"]))
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            queries.append((f'annotation "{annotation["name"]}"', annotation["expr"]))
    return queries


def grafana_regex_escape(value):
    """What Grafana's Prometheus data source puts in a query for one selected value of a multi-value
    variable: regex metacharacters escaped with two backslashes (one for the PromQL string)."""
    return re.sub(r"([\\$^*+?.()|{}\[\]'])", r"\\\\\1", value)


def substitute(expr, variables):
    """expr with the dashboard's variables replaced; raises if a `$` variable is left over."""
    out = expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__interval", INTERVAL)
    for name, value in variables.items():
        out = out.replace("${" + name + "}", value).replace("$" + name, value)
    if "$" in out:
        raise AssertionError(f"an unknown variable is left in {out!r}")
    return out


LABEL_VALUES = re.compile(r"^label_values\((.*),\s*(\w+)\)$", re.S)


# --- the scene -------------------------------------------------------------------------------------

def cplb_config(port, admin, servers, *, vrrp, weight=1, broken=False):
    lines = "\n".join(f"      - {{name: {name}, address: '{address}', weight: {weight}}}" for name, address in servers)
    vrrp_section = f"""
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    priority: 100
    advert_interval: 100ms
    version: 3
    virtual_ips: [{VIP}/24]
    track_backends: [be]
    track_penalty: 20
""" if vrrp else ""
    return f"""
global: {{workers: 1, max_connections: {MAX_CONNECTIONS}, shutdown_grace: 1s}}
admin: {{listen: '127.0.0.1:{admin}'}}
frontends:
  - {{name: fe, listen: '127.0.0.1:{port}', backend: be, connect_timeout: 1s}}
backends:
  - name: be
    balance: round_robin
    on_server_down: drain
    drain: {{grace: 1s, spread: 1s, not_ready_grace: 2s}}
    servers:
{lines}
    health_check: {{protocol: http, path: /readyz, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}}
{vrrp_section}{"frontends: nonsense" if broken else ""}
"""


def _open_namespace():
    """(netns.Lan, namespace) of a host `lb` with eth0 = LB_ADDRESS/24, or (None, why not)."""
    if os.environ.get("CPLB_OBSERVABILITY_NO_NETNS"):
        return None, "CPLB_OBSERVABILITY_NO_NETNS is set"
    try:
        netns.require_namespaces()
    except unittest.SkipTest as why:
        return None, str(why)
    lan = netns.Lan()
    try:
        return (lan, lan.add_host("lb", f"{LB_ADDRESS}/24")), None
    except BaseException:
        lan.close()
        raise


def _try_connect(port):
    """Connects to the frontend and waits for cplb to close the connection; returns how it ended (on
    loopback cplb's reset may even beat connect() home)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            data = sock.recv(1)
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        return "open"
    return "closed" if not data else "data"


@unittest.skipUnless(shutil.which("prometheus"), "Debian's prometheus package is not installed (scripts/deps)")
class LiveDashboardTest(unittest.TestCase):
    """One scene for the class (see the module doc); the tests only query it."""

    lan = None
    ns = None
    no_vrrp_reason = None

    # --- helpers that run where the scene is (its namespace, or here) ---------------------------

    @classmethod
    def inside(cls, function, *args):
        if cls.ns is None:
            return function(*args)
        return netns.run_in(cls.ns, function, *args, timeout=30)

    @classmethod
    def prom_get(cls, path, **params):
        """GET /api/v1/PATH from Prometheus; returns the `data` of a success, raises with the error."""
        url = f"http://127.0.0.1:{cls.prom_port}/api/v1/{path}?{urllib.parse.urlencode(params, doseq=True)}"

        def fetch():
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    body = json.load(response)
            except urllib.error.HTTPError as error:
                body = json.loads(error.read() or b"{}")
            if body.get("status") != "success":
                raise AssertionError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
            return body["data"]
        return cls.inside(fetch)

    @classmethod
    def query(cls, expr):
        """The instant vector (list of results) of expr, now."""
        return cls.prom_get("query", query=expr)["result"]

    @classmethod
    def query_value(cls, expr):
        """The single value of expr now as a float, or None when it has no result."""
        result = cls.query(expr)
        return float(result[0]["value"][1]) if result else None

    @classmethod
    def wait_prometheus(cls, expr, expected, what):
        """Waits until Prometheus evaluates expr (one result) to `expected`."""
        wait_until(lambda: cls.query_value(expr) == expected, SCENE_TIMEOUT, 0.25, f"Prometheus: {what}")

    @classmethod
    def metrics(cls):
        status, body = cls.inside(http_get, "127.0.0.1", cls.admin, "/metrics")
        assert status == 200, status
        return body

    # --- building the scene ------------------------------------------------------------------------

    @classmethod
    def setUpClass(cls):
        cls.dashboard = load_dashboard()
        opened, cls.no_vrrp_reason = _open_namespace()
        prefix = []
        if opened:
            cls.lan, cls.ns = opened
            cls.addClassCleanup(cls.lan.close)
            prefix = netns.exec_prefix(cls.ns)
        cls.vrrp = cls.ns is not None
        cls.port, cls.admin, cls.prom_port = free_port(), free_port(), free_port()

        def apiserver(name, readiness="ok"):
            server = FakeApiserver(name=name, control=False, readiness=readiness, command_prefix=prefix)
            server.start()
            cls.addClassCleanup(server.kill)
            if cls.lan:
                cls.lan.adopt(server.pid)
            return server

        cls.s1, cls.s2, cls.s3 = apiserver("s1"), apiserver("s2", readiness="500"), apiserver("s3")
        cls.servers = [("s1", cls.s1.address), ("s2", cls.s2.address), ("s3", cls.s3.address)]
        cls.config = lambda weight=1, broken=False: cplb_config(cls.port, cls.admin, cls.servers, vrrp=cls.vrrp,
                                                                 weight=weight, broken=broken)
        cls.cplb = Cplb(cls.config(), wait_ports=[cls.port, cls.admin], command_prefix=prefix)
        cls.cplb.start()
        cls.addClassCleanup(cls.cplb.__exit__, None, None, None)
        if cls.lan:
            cls.lan.adopt(cls.cplb.pid)
        try:
            cls.build_scene()
        except BaseException:
            tail = cls.cplb.log_text().splitlines()[-80:]
            print("\n--- cplb log tail ---\n" + "\n".join(tail), flush=True)
            raise

    @classmethod
    def start_prometheus(cls, prefix):
        work = Path(tempfile.mkdtemp(prefix="cplb-obs-prom-"))
        cls.addClassCleanup(shutil.rmtree, work, True)
        (work / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ['{ALERTS}']
scrape_configs:
  - job_name: cplb
    static_configs: [{{targets: ['127.0.0.1:{cls.admin}']}}]
""")
        log = open(work / "prometheus.log", "wb")
        cls.addClassCleanup(log.close)
        cls.prom_log = work / "prometheus.log"
        prom = subprocess.Popen([*prefix, "prometheus", f"--config.file={work / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={work / 'data'}",
                                 f"--web.listen-address=127.0.0.1:{cls.prom_port}"],
                                stdout=log, stderr=log)
        if cls.lan:
            cls.lan.adopt(prom.pid)

        def stop():
            if prom.poll() is None:
                os.kill(prom.pid, signal.SIGKILL)
            prom.wait(10)
        cls.addClassCleanup(stop)
        return prom

    @classmethod
    def build_scene(cls):
        prefix = netns.exec_prefix(cls.ns) if cls.ns else []
        cplb = cls.cplb
        for name in ("s1", "s3"):
            cplb.wait_log(rf'msg="server up".*server={name}\b', timeout=SCENE_TIMEOUT)
        cplb.wait_log(r'msg="server not ready".*server=s2\b', timeout=SCENE_TIMEOUT)
        if cls.vrrp:
            cplb.wait_log(r"instance=VI_1 from=backup to=master", timeout=SCENE_TIMEOUT)

        prom = cls.start_prometheus(prefix)
        try:
            wait_until(lambda: prom.poll() is None and cls.query_value('up{job="cplb"}') == 1, SCENE_TIMEOUT, 0.25,
                       "Prometheus to scrape cplb")
        except TimeoutError:
            raise RuntimeError(f"Prometheus did not scrape cplb:\n{cls.prom_log.read_text()[-4000:]}") from None

        # Requests (bytes both ways, sessions that end client_closed), spread over s1 and s3.
        for _ in range(6):
            status, body = cls.inside(http_get, "127.0.0.1", cls.port, "/version")
            assert status == 200 and '"name"' in body, (status, body)
        # Watches hold sessions open (sessions per server); they fill max_connections.
        cls.watches = []
        for _ in range(WATCHES):
            watch = WatchClient("127.0.0.1", cls.port)
            cls.inside(watch.start)  # a new thread starts in the namespace of the thread that creates it
            cls.watches.append(watch)
        cls.addClassCleanup(lambda: [w.stop() for w in cls.watches])
        wait_until(lambda: all(w.current_server for w in cls.watches), SCENE_TIMEOUT, what="every watch established")
        # Over max_connections: closed at once and counted.
        for _ in range(2):
            cls.inside(_try_connect, cls.port)
        wait_until(lambda: metric_samples(cls.metrics(), "cplb_frontend_rejected_connections_total")
                   .get(frozenset({("frontend", "fe"), ("reason", "max_connections")})) == 2,
                   SCENE_TIMEOUT, what="two connections rejected over max_connections")
        # s3 dies: down; its watches come back on s1.
        cls.s3.kill()
        cplb.wait_log(r'msg="server down".*server=s3\b', timeout=SCENE_TIMEOUT)
        wait_until(lambda: all(w.current_server == "s1" for w in cls.watches), SCENE_TIMEOUT,
                   what="every watch on s1")
        # A valid reload (weights change), then an invalid one; the file is left valid.
        cplb.reload(cls.config(weight=2))
        cplb.wait_log(r'msg="reload done"', timeout=SCENE_TIMEOUT)
        cplb.reload(cls.config(broken=True))
        cplb.wait_log(r'msg="reload rejected"', timeout=SCENE_TIMEOUT)
        cplb.write_config(cls.config(weight=2))
        # Two link flaps: master -> fault -> backup -> master, twice (CplbVrrpFlapping: > 4 in 10m).
        if cls.vrrp:
            for flap in (1, 2):
                cls.lan.set_link("lb", False)
                wait_until(lambda: len(re.findall(r"instance=VI_1 from=master to=fault", cplb.log_text())) == flap,
                           SCENE_TIMEOUT, what=f"VRRP fault #{flap}")
                time.sleep(1.5)  # scraped at least once in fault
                cls.lan.set_link("lb", True)
                wait_until(lambda: len(re.findall(r"instance=VI_1 from=backup to=master", cplb.log_text())) == flap + 1,
                           SCENE_TIMEOUT, what=f"VRRP master again after flap #{flap}")

        # Prometheus has seen the end of the scene ...
        cls.wait_prometheus('cplb_config_reloads_total{result="failure"}', 1, "the failed reload")
        cls.wait_prometheus('cplb_server_state{server="s3", state="down"}', 1, "s3 down")
        cls.wait_prometheus('sum(cplb_server_active_connections{server="s1"})', WATCHES, "the watches on s1")
        if cls.vrrp:
            cls.wait_prometheus('sum(cplb_vrrp_transitions_total{to="master"})', 3, "the VRRP transitions")
            cls.wait_prometheus('cplb_vrrp_state{state="master"}', 1, "VRRP master")
        # ... and scraped a few more times, so every rate window holds several samples after it.
        time.sleep(3)

    # --- the tests -------------------------------------------------------------------------------

    def variables(self, all_values):
        """{name: value} for the dashboard's query variables: `.+` (All) or the first value of each, the
        values found with Prometheus' series API (as Grafana answers label_values())."""
        values = {}
        for variable in self.dashboard["templating"]["list"]:
            if variable["type"] != "query":
                continue
            match = LABEL_VALUES.match(variable["query"])
            self.assertIsNotNone(match, f"variable {variable['name']}: {variable['query']!r} is not label_values()")
            selector = substitute(match.group(1), {k: grafana_regex_escape(v) for k, v in values.items()})
            series = self.prom_get("series", **{"match[]": selector})
            found = sorted({s[match.group(2)] for s in series if match.group(2) in s})
            self.assertTrue(found, f"variable {variable['name']}: no values for {selector}")
            values[variable["name"]] = found[0]
        if all_values:
            return {name: ".+" for name in values}
        return {name: grafana_regex_escape(value) for name, value in values.items()}

    def test_variables_list_the_node_and_the_backend(self):
        values = self.variables(all_values=False)
        self.assertEqual(values["instance"], grafana_regex_escape(f"127.0.0.1:{self.admin}"))
        self.assertEqual(values["backend"], "be")

    def assert_queries_have_data(self, only_vrrp):
        queries = [(where, expr) for where, expr in dashboard_queries(self.dashboard)
                   if ("cplb_vrrp_" in expr) == only_vrrp]
        self.assertTrue(queries)
        for all_values in (True, False):
            variables = self.variables(all_values)
            for where, expr in queries:
                with self.subTest(query=where, variables="All" if all_values else "one value"):
                    promql = substitute(expr, variables)
                    result = self.query(promql)
                    self.assertTrue(result, f"{where}: no data for\n{promql}")

    def test_every_query_but_vrrp_has_data(self):
        self.assert_queries_have_data(only_vrrp=False)

    def test_vrrp_queries_have_data(self):
        if not self.vrrp:
            # Without a network namespace there is no interface cplb may put a VIP on: no vrrp_instances,
            # so no cplb_vrrp_* series, and these queries rightly return nothing.
            self.skipTest(f"no VRRP instance outside a network namespace ({self.no_vrrp_reason}): the "
                          "cplb_vrrp_* queries of the dashboard were not checked")
        self.assert_queries_have_data(only_vrrp=True)

    def test_the_state_panels_count_what_happened(self):
        def stat(title):
            panel = next(p for p in all_panels(self.dashboard) if p["title"] == title)
            result = self.query(substitute(panel["targets"][0]["expr"], self.variables(all_values=True)))
            return {r["metric"].get("backend", r["metric"].get("exported_instance")): float(r["value"][1])
                    for r in result}
        self.assertEqual(stat("Servers up"), {"be": 1})
        self.assertEqual(stat("Servers not ready"), {"be": 1})
        self.assertEqual(stat("Servers down"), {"be": 1})
        self.assertEqual(stat("All servers down"), {"be": 0})
        if self.vrrp:
            self.assertEqual(stat("VRRP masters"), {"VI_1": 1})
            # Prometheus keeps the scrape target's `instance` and renames cplb's VRRP instance label.
            series = self.query('cplb_vrrp_effective_priority')
            self.assertEqual([(s["metric"]["instance"], s["metric"]["exported_instance"]) for s in series],
                             [(f"127.0.0.1:{self.admin}", "VI_1")])
        sessions = self.query(substitute(
            next(p for p in all_panels(self.dashboard) if p["title"] == "Sessions per server")["targets"][0]["expr"],
            self.variables(all_values=True)))
        self.assertEqual({r["metric"]["server"]: float(r["value"][1]) for r in sessions},
                         {"s1": WATCHES, "s2": 0, "s3": 0})

    def test_the_alerting_rules_load_and_the_expected_ones_are_active(self):
        groups = self.prom_get("rules")["groups"]
        rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
        self.assertIn("CplbDown", rules)
        for name, rule in rules.items():
            with self.subTest(rule=name):
                self.assertEqual(rule["health"], "ok", rule.get("lastError"))
        expected = {"CplbServerDown": "pending",  # s3, for 5m
                    "CplbServerNotReady": "pending",  # s2, for 15m
                    "CplbConnectionsRejectedMaxConnections": "firing",
                    "CplbConfigReloadFailed": "firing"}
        if self.vrrp:
            expected["CplbVrrpFlapping"] = "firing"

        def active():
            alerts = self.prom_get("alerts")["alerts"]
            return {a["labels"]["alertname"]: a["state"] for a in alerts}
        try:
            wait_until(lambda: all(active().get(name) == state for name, state in expected.items()), 10, 0.25,
                       "the expected alerts")
        except TimeoutError:
            self.fail(f"expected {expected}, Prometheus has {active()}")
        now = active()
        for name in ("CplbDown", "CplbBackendAllDown", "CplbConnectionsRejectedNoServer", "CplbAcceptPaused",
                     "CplbVrrpMultipleMasters"):
            self.assertNotIn(name, now)
        by_name = {a["labels"]["alertname"]: a for a in self.prom_get("alerts")["alerts"]}
        self.assertEqual(by_name["CplbServerDown"]["labels"]["server"], "s3")
        self.assertEqual(by_name["CplbServerNotReady"]["labels"]["server"], "s2")
        # At least the two connects over max_connections (a watch re-opening as fast as it can may add one).
        rejected = by_name["CplbConnectionsRejectedMaxConnections"]["annotations"]["description"]
        self.assertRegex(rejected, r"^\d+ client connections to frontend fe were closed at once")
        self.assertGreaterEqual(int(rejected.split()[0]), 2, rejected)


class DashboardShapeTest(unittest.TestCase):
    """What Grafana needs to import the dashboard anywhere: no Prometheus needed."""

    def test_schema_variables_and_data_sources(self):
        dashboard = load_dashboard()
        self.assertGreaterEqual(dashboard["schemaVersion"], 36)
        self.assertIsNone(dashboard["id"])
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        self.assertEqual(list(variables), ["datasource", "instance", "backend"])
        self.assertEqual((variables["datasource"]["type"], variables["datasource"]["query"]),
                         ("datasource", "prometheus"))
        for name in ("instance", "backend"):
            self.assertRegex(variables[name]["query"], LABEL_VALUES)
            self.assertEqual(variables[name]["datasource"]["uid"], "${datasource}")
        ids = [p["id"] for p in all_panels(dashboard)]
        self.assertEqual(len(ids), len(set(ids)), "panel ids are unique")
        for panel in all_panels(dashboard):
            if panel["type"] == "row":
                continue
            with self.subTest(panel=panel["title"]):
                self.assertEqual(panel["datasource"], {"type": "prometheus", "uid": "${datasource}"})
                self.assertTrue(panel["targets"])
                for target in panel["targets"]:
                    self.assertEqual(target["datasource"]["uid"], "${datasource}")
                    self.assertTrue(target["expr"].strip())
        exprs = " ".join(expr for _, expr in dashboard_queries(dashboard))
        for metric in ("cplb_server_state", "cplb_server_active_connections", "cplb_frontend_connections_total",
                       "cplb_frontend_rejected_connections_total", "cplb_server_bytes_sent_total",
                       "cplb_server_bytes_received_total", "cplb_health_check_duration_seconds_bucket",
                       "cplb_vrrp_state", "cplb_vrrp_transitions_total", "cplb_vrrp_effective_priority",
                       "cplb_config_reloads_total", "cplb_config_last_reload_success_timestamp_seconds",
                       "cplb_session_ends_total", "cplb_rebalance_closed_sessions_total", "cplb_backend_all_down"):
            self.assertIn(metric, exprs)
        self.assertIn("histogram_quantile", exprs)
        self.assertIn("heatmap", {p["type"] for p in all_panels(dashboard)})


@unittest.skipUnless(shutil.which("promtool"), "promtool is not installed (it ships in Debian's prometheus package)")
class PromtoolTest(unittest.TestCase):
    def promtool(self, *args):
        result = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return result.stdout

    def test_check_rules(self):
        self.assertIn("SUCCESS", self.promtool("check", "rules", str(ALERTS)))

    def test_rules_unit_tests(self):
        self.assertIn("SUCCESS", self.promtool("test", "rules", str(ALERTS_TEST)))


if __name__ == "__main__":
    unittest.main()
