"""Runs a command and kills it with SIGKILL as soon as FILE exists.

    kill_after_checkpoint.py FILE -- COMMAND...

What a preempted or crashed training run looks like to the next one:
growc-run train is killed right after its first checkpoint appears (so
mid-step, with a metrics line possibly half-written). Prints "killed" when
it was, and fails if the command ended first or FILE never appeared.
"""

import os
import signal
import subprocess
import sys
import time

watched = sys.argv[1]
command = sys.argv[sys.argv.index("--") + 1:]
if os.path.exists(watched):
    os.remove(watched)
run = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
deadline = time.time() + 60
while not os.path.exists(watched):
    if run.poll() is not None:
        sys.exit(f"the command ended (exit {run.returncode}) before "
                 f"{watched} appeared")
    if time.time() > deadline:
        run.kill()
        sys.exit(f"{watched} did not appear within 60 s")
    time.sleep(0.001)
run.send_signal(signal.SIGKILL)
run.wait()
print("killed" if run.returncode == -signal.SIGKILL else
      f"ended with {run.returncode} before the kill")
