"""Starts N copies of a command as the ranks of one data-parallel job the way
torchrun does, through the environment (RANK, WORLD_SIZE, LOCAL_RANK,
LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT on a free local port), waits for
all of them and exits with the first non-zero status. Each rank's stderr
goes to this script's stderr, prefixed with "[rank r] " when --tag is given.

    launch_ranks.py N [--tag] -- command args...
"""
import os
import socket
import subprocess
import sys
import tempfile


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    args = sys.argv[1:]
    if "--" not in args or not args[0].isdigit():
        sys.exit(__doc__)
    n = int(args[0])
    tag = "--tag" in args[:args.index("--")]
    command = args[args.index("--") + 1:]
    port = str(free_port())
    procs, logs = [], []
    for rank in range(n):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(n),
                   LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(n),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        # Files, not pipes: a rank blocked on a full pipe would stall the
        # others at their next collective.
        logs.append(tempfile.TemporaryFile(mode="w+"))
        procs.append(subprocess.Popen(command, env=env, stderr=logs[-1]))
    status = 0
    for rank, (proc, log) in enumerate(zip(procs, logs)):
        proc.wait()
        log.seek(0)
        for line in log.read().splitlines():
            print(("[rank %d] " % rank if tag else "") + line, file=sys.stderr)
        if proc.returncode and not status:
            status = proc.returncode
    sys.exit(status)


if __name__ == "__main__":
    main()
