"""Stopping a training run cleanly: Ctrl-C or a scheduler's SIGTERM ends the current step, then a checkpoint is
written (the exit code says which signal arrived)."""

from __future__ import annotations

import signal
from typing import Any


class StopFlag:
    """Ctrl-C (SIGINT) or a scheduler's SIGTERM sets a flag; the loop stops after the current step and writes a
    checkpoint (``signal`` says which arrived). A second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.stop = False
        self.signal = ""
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        for number in (signal.SIGINT, signal.SIGTERM):
            try:
                self.previous[number] = signal.signal(number, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, signum, frame) -> None:  # noqa: ANN001
        if self.stop and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.stop = True
        self.signal = self.signal or ("terminated" if signum == signal.SIGTERM else "interrupt")

    def __exit__(self, *exc) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
