"""Several torchrun launches in one: each rank of ONE `torchrun --nproc-per-node 2` runs scenario
after scenario, as `python SCRIPT ARGS...` or `python -m freezelint ARGS...` would run there.

A torchrun launch costs its agent and every rank a torch import (and a torch._dynamo import at the
first optimizer): more than most scenarios. conftest's `torchrun_ranks` launches
`tests/torchrun_scenarios.py SPEC`, SPEC a JSON list of {"cwd", "argv"}, each rank writing
`<cwd>/rank<r>.out|err|json` (tests/one_process.py), or of {"rank_jobs"}: conftest's gloo_ranks
scenario functions (distributed_scenarios.run_jobs) in one process group.

Each scenario gets a fresh rendezvous: rank 0 hosts a new TCPStore and points MASTER_PORT at it.
Re-creating the process group on the agent's store finds the keys the previous group left there
(measured: a rank that arrives late connects to the other's dead address and the job hangs).
"""

from __future__ import annotations

import datetime
import faulthandler
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed import TCPStore

import distributed_scenarios
from one_process import run


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
    for i, scenario in enumerate(json.loads(Path(spec_path).read_text())):
        key = f"freezelint-tests/{i}"
        if rank == 0:  # the port is the OS's pick: no race with another process for it
            store = TCPStore(addr, 0, world, is_master=True, timeout=timeout, wait_for_workers=False)
            agent.set(f"{key}/port", str(store.port))
        port = agent.get(f"{key}/port").decode()
        os.environ["MASTER_PORT"] = port  # env:// in the scenario is a client of rank 0's store
        if "rank_jobs" in scenario:  # conftest's gloo_ranks: scenario functions, results as JSON
            dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
            try:
                distributed_scenarios.run_jobs(rank, torch.device("cpu"), scenario["rank_jobs"])
            finally:
                dist.destroy_process_group()
        else:
            run(scenario["argv"], Path(scenario["cwd"]), f"rank{rank}")
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()  # a script stopped before its own destroy
        _barrier(agent, f"{key}/done", world)  # rank 0's store lives until every rank is done with it
        if rank == 0:
            del store
    os.environ["MASTER_PORT"] = str(agent_port)


if __name__ == "__main__":
    main(sys.argv[1])
