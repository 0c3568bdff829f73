"""Run documentation as written: the shell lines of a Markdown fenced block, one command at
a time, in one shell session whose variables (export X=...) carry over, against a server
the commands themselves start.

What the runner changes, and nothing else: `pip install ...` is skipped (the test runs in an
installed environment); the port 8000 in the text becomes a free one (the server is told
through SHUGU_PORT); a line that starts a server in the background (`... &`) is started by
the runner, which waits until the server answers; every command gets the operator's
password on standard input, as the reader types it when `shugu login` asks.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
DOC_PORT = "127.0.0.1:8000"


def section(markdown: str, heading: str) -> str:
    """The text under a `## heading` up to the next heading of the same level."""
    match = re.search(rf"^## {re.escape(heading)}\s*$", markdown, re.MULTILINE)
    assert match, f"no section {heading!r}"
    rest = markdown[match.end():]
    following = re.search(r"^## ", rest, re.MULTILINE)
    return rest[:following.start()] if following else rest


def fenced(text: str, language: str) -> list[str]:
    """The bodies of the ```language blocks in text."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def commands(block: str) -> list[str]:
    """Shell commands: continuation lines joined, blank and comment-only lines dropped."""
    out: list[str] = []
    pending = ""
    for line in block.splitlines():
        if pending:
            line = pending + " " + line.lstrip()
            pending = ""
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1].rstrip()
            continue
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(line.strip())
    assert not pending, "a command ends in a line continuation"
    return out


def tool_dir(where: Path) -> Path:
    """`shugu` and `python` as a reader's installed environment has them, running this
    checkout's code with this test's interpreter."""
    where.mkdir(parents=True, exist_ok=True)
    for name, target in (("shugu", f'exec "{sys.executable}" -m shugu.cli "$@"'),
                         ("python", f'exec "{sys.executable}" "$@"')):
        path = where / name
        path.write_text(f"#!/bin/sh\n{target}\n")
        path.chmod(0o755)
    return where


def base_env(tmp: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHUGU_")}
    # Cheap password hashing as in the rest of the suite; the port the runner chose.
    for key in ("SHUGU_ARGON2_TIME_COST", "SHUGU_ARGON2_MEMORY_KIB", "SHUGU_ARGON2_PARALLELISM"):
        if key in os.environ:
            env[key] = os.environ[key]
    env["SHUGU_PORT"] = str(port)
    env["PATH"] = f"{tool_dir(tmp / 'bin')}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                      env.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"
    return env


def wait_ready(url: str, proc: subprocess.Popen[str], seconds: float = 180) -> None:
    """Until the server answers its health check (each attempt may take as long as the
    machine needs), or its process has ended."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=30).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server at {url} did not answer within {seconds} s")


@dataclass
class Shell:
    cwd: Path
    env: dict[str, str]
    port: int
    stdin: str = ""
    servers: list[subprocess.Popen[str]] = field(default_factory=list)
    server_logs: list[Path] = field(default_factory=list)
    transcript: list[tuple[str, str]] = field(default_factory=list)

    def localise(self, command: str) -> str:
        return command.replace(DOC_PORT, f"127.0.0.1:{self.port}")

    def start_server(self, command: str) -> str:
        """A `... &` line: start it, wait until it answers; its output so far."""
        line = command.split(" #", 1)[0].rstrip()
        assert line.endswith("&"), f"a server line runs in the background: {command}"
        log = self.cwd / f"server-{len(self.servers)}.log"
        proc = subprocess.Popen(["bash", "-c", line[:-1]], cwd=self.cwd, env=self.env,
                                stdout=log.open("w"), stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        self.servers.append(proc)
        self.server_logs.append(log)
        wait_ready(f"http://127.0.0.1:{self.port}", proc)
        return log.read_text()

    def run(self, command: str, timeout: float = 600) -> str:
        """Run one command in the session; its stdout and stderr; fail on a non-zero exit
        or an `export NAME=$(...)` that left NAME empty."""
        command = self.localise(command)
        if command.split(" #", 1)[0].rstrip().endswith("&"):
            output = self.start_server(command)
            self.transcript.append((command, output))
            return output
        env_file = self.cwd / ".env-after"
        script = f"set -o pipefail\n{command}\nstatus=$?\nenv -0 > {shlex.quote(str(env_file))}\n" \
                 "exit $status\n"
        result = subprocess.run(["bash", "-c", script], cwd=self.cwd, env=self.env,
                                input=self.stdin, capture_output=True, text=True,
                                timeout=timeout, start_new_session=True)
        output = result.stdout + result.stderr
        self.transcript.append((command, output))
        assert result.returncode == 0, f"`{command}` exited {result.returncode}:\n{output}"
        self.env = dict(item.split("=", 1) for item in
                        env_file.read_text().split("\0") if "=" in item)
        for name in re.findall(r"\bexport ([A-Z_][A-Z0-9_]*)=\$\(", command):
            assert self.env.get(name), f"`{command}` left {name} empty:\n{output}"
        return output

    def close(self) -> None:
        for proc in self.servers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
