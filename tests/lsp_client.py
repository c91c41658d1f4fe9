"""A small Language Server Protocol client for the tests: spawns `python3 -m freezelint server`
and speaks JSON-RPC over its stdin/stdout with Content-Length frames, as an editor does."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

TIMEOUT = 60.0


class LspClient:
    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "freezelint", "server"], cwd=cwd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env={**os.environ, **(env or {})})
        self._next_id = 0
        self._inbox: queue.Queue[dict] = queue.Queue()
        self.notifications: list[dict] = []  # every notification received, in order
        self._responses: dict[int, dict] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._stderr: list[bytes] = []
        threading.Thread(target=lambda: self._stderr.append(self.proc.stderr.read()), daemon=True).start()

    # ------------------------------------------------------------------ framing
    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert length is not None, "frame without Content-Length"
            self._inbox.put(json.loads(out.read(length)))

    def _send(self, *messages: dict) -> None:
        """Write the frames in one go (a burst of changes arrives as an editor sends it)."""
        data = b""
        for message in messages:
            body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
            data += b"Content-Length: %d\r\n\r\n" % len(body) + body
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def _pump(self, deadline: float) -> bool:
        try:
            msg = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return False
        if "id" in msg and "method" not in msg:
            self._responses[msg["id"]] = msg
        elif "id" in msg:  # a request from the server: answer it as a plain client would
            self._send({"id": msg["id"], "result": None})
        else:
            self.notifications.append(msg)
        return True

    # ------------------------------------------------------------------ API
    def request(self, method: str, params: Any, timeout: float = TIMEOUT) -> Any:
        self._next_id += 1
        rid = self._next_id
        self._send({"id": rid, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while rid not in self._responses:
            if not self._pump(deadline):
                raise TimeoutError(f"no answer to {method} in {timeout} s; stderr: {self.stderr()}")
        msg = self._responses.pop(rid)
        assert "error" not in msg, msg["error"]
        return msg["result"]

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def notify_all(self, method: str, params: list[Any]) -> None:
        self._send(*({"method": method, "params": p} for p in params))

    def wait_for(self, method: str, where: Callable[[dict], bool] = lambda p: True,
                 timeout: float = TIMEOUT, after: int = 0) -> dict:
        """The params of the first notification `method` (from index `after`) that satisfies `where`."""
        deadline = time.monotonic() + timeout
        seen = after
        while True:
            for msg in self.notifications[seen:]:
                seen += 1
                if msg["method"] == method and where(msg["params"]):
                    return msg["params"]
            if not self._pump(deadline) and time.monotonic() >= deadline:
                raise TimeoutError(f"no {method} in {timeout} s; got {self.notifications}; stderr: {self.stderr()}")

    def diagnostics(self, uri: str, after: int = 0, where: Callable[[list], bool] = lambda d: True,
                    timeout: float = TIMEOUT) -> list[dict]:
        return self.wait_for("textDocument/publishDiagnostics",
                             lambda p: p["uri"] == uri and where(p["diagnostics"]), timeout, after)["diagnostics"]

    def mark(self) -> int:
        """Index to pass as `after=` so that only notifications from now on count."""
        while self._pump(time.monotonic()):
            pass
        return len(self.notifications)

    def stderr(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
