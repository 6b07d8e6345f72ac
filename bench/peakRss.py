#!/usr/bin/env python3
# npm run bench: runs one command and prints its peak resident set size in KiB (the
# kernel's ru_maxrss for that child alone, from wait4(2), which Node does not expose).
# Exits with the command's status. Usage: peakRss.py COMMAND [ARG...]
import os
import sys

pid = os.fork()
if pid == 0:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)
