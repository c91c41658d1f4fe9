"""Several torchrun launches in one: each rank of ONE `torchrun --nproc-per-node 2` runs scenario
after scenario, as `python SCRIPT ARGS...` or `python -m freezelint ARGS...` would run it there.

A torchrun launch costs its agent and every rank a torch import (and a torch._dynamo import at the
first optimizer): more than most scenarios. `python -m torchrun_scenarios SPEC` is the command
conftest's `torchrun_ranks` launches; SPEC is a JSON list of {"name", "cwd", "argv"}. Per scenario
and rank it writes `<cwd>/rank<r>.out` / `.err` (fd-level: C++ warnings too) and
`<cwd>/rank<r>.json` ({"code": the exit status, "error": a traceback the script let out}).

Each scenario gets a fresh rendezvous: rank 0 hosts a new TCPStore and points MASTER_PORT at it.
Re-creating the process group on the agent's store finds the keys the previous group left there
(measured: a rank that arrives late connects to the other's dead address and the job hangs).
"""

from __future__ import annotations

import contextlib
import datetime
import faulthandler
import json
import os
import runpy
import sys
import time
import traceback
from pathlib import Path

import torch.distributed as dist
from torch.distributed import TCPStore


@contextlib.contextmanager
def _redirected(out: Path, err: Path):
    """fds 1 and 2 into files, for Python's and C++'s writes alike."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(out, "wb") as o, open(err, "wb") as e:
        os.dup2(o.fileno(), 1)
        os.dup2(e.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _exit_code(e: SystemExit) -> int:
    if e.code is None:
        return 0
    return e.code if isinstance(e.code, int) else 1  # sys.exit("message") prints it and exits 1


def _run(argv: list[str]) -> int:
    """What `python ARGV...` would exit with, in this process."""
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    try:
        if argv[:2] == ["-m", "freezelint"]:
            from freezelint.cli import main

            sys.argv = ["freezelint", *argv[2:]]
            return main(argv[2:])
        script = os.path.abspath(argv[0])
        sys.argv = [argv[0], *argv[1:]]
        sys.path.insert(0, os.path.dirname(script))
        runpy.run_path(script, run_name="__main__")
        return 0
    except SystemExit as e:
        return _exit_code(e)
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


def _barrier(store: TCPStore, key: str, world: int) -> None:
    store.add(key, 1)
    while store.add(key, 0) < world:
        time.sleep(0.01)


def main(spec_path: str) -> None:
    faulthandler.enable()  # a rank killed by a signal (an abort in C++) prints where each thread was
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    addr, agent_port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    timeout = datetime.timedelta(seconds=120)
    agent = TCPStore(addr, agent_port, world, is_master=False, timeout=timeout)
    home = os.getcwd()
    for i, scenario in enumerate(json.loads(Path(spec_path).read_text())):
        key = f"freezelint-tests/{i}"
        if rank == 0:  # the port is the OS's pick: no race with another process for it
            store = TCPStore(addr, 0, world, is_master=True, timeout=timeout, wait_for_workers=False)
            agent.set(f"{key}/port", str(store.port))
        port = agent.get(f"{key}/port").decode()
        os.environ["MASTER_PORT"] = port  # env:// in the scenario is a client of rank 0's store
        cwd = Path(scenario["cwd"])
        result: dict = {}
        os.chdir(cwd)
        with _redirected(cwd / f"rank{rank}.out", cwd / f"rank{rank}.err"):
            try:
                result["code"] = _run(scenario["argv"])
            except BaseException:  # noqa: BLE001 — as Python would: print it, exit 1
                result["code"], result["error"] = 1, traceback.format_exc()
                print(result["error"], file=sys.stderr)
        os.chdir(home)
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()  # a script stopped before its own destroy
        (cwd / f"rank{rank}.json").write_text(json.dumps(result))
        _barrier(agent, f"{key}/done", world)  # rank 0's store lives until every rank is done with it
        if rank == 0:
            del store
    os.environ["MASTER_PORT"] = str(agent_port)


if __name__ == "__main__":
    main(sys.argv[1])
