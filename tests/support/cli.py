"""Run the installed ``pzforge`` command as a user would (a subprocess, with a timeout)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

PZFORGE = str(Path(sys.executable).parent / "pzforge")
RUN_TIMEOUT = 600  # a hang (e.g. a Dask deadlock) fails loudly instead of stalling CI


def pzforge(*args, cwd, env=None):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [PZFORGE, *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def pzforge_tty(*args, cwd, env=None, width=80, height=50, command=None):
    """The command in a pseudo-terminal ``width`` columns wide, as a person sees it: returns
    (exit code, text with colours removed). ``command`` replaces ``pzforge`` (e.g. a python -c)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    full_env = dict(os.environ, TERM="xterm-256color", **(env or {}))
    full_env.pop("COLUMNS", None)
    full_env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        command or [PZFORGE, *map(str, args)],
        cwd=cwd,
        env=full_env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = proc.wait(timeout=RUN_TIMEOUT)
    text = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
    return code, ANSI.sub("", text)
