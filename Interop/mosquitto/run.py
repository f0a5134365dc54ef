#!/usr/bin/env python3
"""Runs mosquitto's own broker tests (Debian's source of mosquitto 2.0.11, `test/broker/`) against Warden.

The suite's scripts start `../../src/mosquitto -v -p PORT`; here that path is a stand-in (broker.py) that starts
`warden serve` with its plain anonymous listener on PORT. The tests that need a mosquitto configuration file
(bridges, password files, plugins, persistence, TLS set up in mosquitto's terms) are not run. docs/conformance.md
lists every test that fails against Warden with the reason; a test listed there that passes, or one not listed
that fails, fails this run, so the list stays true. Standard library only.

Usage: Interop/mosquitto/run.py [--warden BINARY | --mosquitto BINARY] [--jobs N] [TEST.py ...]
(--mosquitto runs the same tests against mosquitto itself, which checks the runner and its comparison.)
"""
import argparse
import ast
import concurrent.futures
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
WORK = ROOT / ".build-mosquitto"
CONFORMANCE = ROOT / "docs/conformance.md"
FIRST_PORT = 21880
# docs/conformance.md classifies this release's tests.
RELEASE = "mosquitto_2.0.11"


def source_tarball() -> pathlib.Path | None:
    """Debian's source of mosquitto, which ships the test suite; fetched once with `apt-get source`."""
    WORK.mkdir(exist_ok=True)
    tarball = WORK / f"{RELEASE}.orig.tar.gz"
    if not tarball.exists():
        result = subprocess.run(["apt-get", "source", "--download-only", "mosquitto"], cwd=WORK,
                                capture_output=True, text=True)
        if not tarball.exists():
            print(f"Interop/mosquitto needs Debian's source of {RELEASE} and could not fetch it: "
                  f"{(result.stderr.strip() or 'a different release').splitlines()[-1]}", file=sys.stderr)
            return None
    return tarball


def unpack_suite(tarball: pathlib.Path) -> pathlib.Path:
    suite = WORK / "suite"
    shutil.rmtree(suite, ignore_errors=True)
    with tarfile.open(tarball) as archive:
        members = [m for m in archive.getmembers() if re.match(r"[^/]+/test/[^/]+(/[^/]+)?$", m.name)]
        archive.extractall(suite, members=members, filter="data")
    (top,) = suite.iterdir()
    standin = top / "src/mosquitto"
    standin.parent.mkdir()
    standin.write_text(f"#!/bin/sh\nexec {sys.executable} {HERE / 'broker.py'} \"$@\"\n")
    standin.chmod(0o755)
    return top / "test/broker"


def prepare_data_directory(binary: str) -> pathlib.Path:
    """A data directory made by one first start, copied for every broker the suite starts."""
    template = WORK / "template"
    shutil.rmtree(template, ignore_errors=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    server = subprocess.Popen([binary, "serve", "--data-dir", str(template), "--https-port", "0", "--mqtt-port", "0", "--amqp-port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environment)
    started = threading.Event()

    def watch():
        for line in server.stdout:
            if line.startswith("Next steps"):
                started.set()

    threading.Thread(target=watch, daemon=True).start()
    started.wait(timeout=60)
    server.terminate()
    if server.wait(timeout=30) != 0 or not (template / "warden.sqlite").exists():
        sys.exit(f"{binary} serve did not start in {template}")
    return template


def tests_without_configuration(broker: pathlib.Path) -> list[str]:
    """The scripts of the suite's own list (test.py) that start the broker with `-p PORT` alone."""
    tree = ast.parse((broker / "test.py").read_text())
    (listed,) = [ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "tests"]
    selected = []
    for _, script in listed:
        path = broker / script
        # test.py at this tag lists a script that the release does not ship.
        if path.exists() and not any(word in path.read_text() for word in ("use_conf", ".conf")):
            selected.append(path.name)
    return selected


# Listed with this kind, a test may pass or fail: its outcome depends on which of two event loops reads first
# (docs/conformance.md, "Either outcome").
EITHER = "order across connections"


def known_failures() -> dict[str, str]:
    """docs/conformance.md's rows `| `NAME.py` | kind | reason |`."""
    rows = re.findall(r"^\| `(\d\d-[\w.-]+\.py)` \| ([^|]+) \|", CONFORMANCE.read_text(), re.MULTILINE)
    return {name: kind.strip() for name, kind in rows}


def run_one(broker: pathlib.Path, script: str, port: int) -> tuple[str, bool, str, float]:
    started = time.monotonic()
    # comparison/sitecustomize.py changes how packets are compared, in this process and in the helpers it starts.
    environment = dict(os.environ, PYTHONPATH=str(HERE / "comparison"), MOSQUITTO_TESTS=str(broker.parent))
    # Its own process group: whatever it leaves running (a broker it started) ends with it.
    test = subprocess.Popen([sys.executable, script, str(port)], cwd=broker, env=environment, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = test.communicate(timeout=120)
        passed = test.returncode == 0
    except subprocess.TimeoutExpired:
        passed, output = False, "timed out after 120 s"
    try:
        os.killpg(test.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    test.wait()
    return script, passed, output, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warden", default=os.environ.get("WARDEN_BINARY", str(ROOT / ".build/debug/warden")))
    parser.add_argument("--mosquitto", help="run against this mosquitto binary instead; nothing is expected")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--optional", action="store_true",
                        help="without the suite's source (no apt deb-src entries): say so and pass")
    parser.add_argument("tests", nargs="*", help="run only these scripts (names like 01-connect-success.py)")
    options = parser.parse_args()

    tarball = source_tarball()
    if tarball is None:
        if options.optional:
            print("mosquitto broker tests: skipped (as root, scripts/test-dependencies.sh sets up apt for them)")
            return 0
        return 1
    broker = unpack_suite(tarball)
    scratch = WORK / "brokers"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    if options.mosquitto:
        os.environ["MOSQUITTO_BINARY"] = options.mosquitto
    else:
        warden = os.path.abspath(options.warden)
        os.environ.update(WARDEN_BINARY=warden, WARDEN_TEMPLATE=str(prepare_data_directory(warden)),
                          WARDEN_SCRATCH=str(scratch))
    selected = tests_without_configuration(broker)
    scripts = options.tests or selected
    unknown = set(scripts) - set(selected)
    if unknown:
        sys.exit(f"not among the suite's tests without a configuration file: {', '.join(sorted(unknown))}")
    expected_failures = {} if options.mosquitto else known_failures()
    stale = set(expected_failures) - set(selected)
    if stale:
        sys.exit(f"docs/conformance.md lists tests this run does not have: {', '.join(sorted(stale))}")

    surprises = []
    passed = failed = 0
    with concurrent.futures.ThreadPoolExecutor(options.jobs) as pool:
        runs = pool.map(lambda script, port: run_one(broker, script, port), scripts,
                        range(FIRST_PORT, FIRST_PORT + len(scripts)))
        for script, ok, output, seconds in runs:
            passed += ok
            failed += not ok
            expected = script not in expected_failures
            verdict = "pass" if ok else f"fail ({expected_failures.get(script, 'not listed')})"
            print(f"{seconds:6.1f} s  {script:55} {verdict}")
            if ok != expected and not (options.mosquitto and ok) and expected_failures.get(script) != EITHER:
                surprises.append((script, ok, output))
    for script, ok, output in surprises:
        if ok:
            print(f"\n{script} passes now: remove it from docs/conformance.md")
        else:
            print(f"\n{script} fails and docs/conformance.md does not say why:\n{output.strip()}")
    broker_name = "mosquitto" if options.mosquitto else "Warden"
    print(f"\nmosquitto broker tests: {passed} of {passed + failed} pass against {broker_name}, "
          f"{len(expected_failures)} failures listed in docs/conformance.md, {len(surprises)} surprises")
    return 0 if options.mosquitto else 1 if surprises else 0


if __name__ == "__main__":
    sys.exit(main())
