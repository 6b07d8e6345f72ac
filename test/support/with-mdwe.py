#!/usr/bin/env python3
"""Runs a command under prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN), the restriction
systemd's MemoryDenyWriteExecute=yes puts on systemd-udevd and every RUN+= program."""
import ctypes
import os
import sys

PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1

libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    err = ctypes.get_errno()
    print(f"with-mdwe: prctl(PR_SET_MDWE) failed: {os.strerror(err)}", file=sys.stderr)
    sys.exit(125)
os.execvp(sys.argv[1], sys.argv[1:])
