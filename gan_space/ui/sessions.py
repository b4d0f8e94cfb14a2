"""Per-browser-session state, keyed by Gradio's session hash.

Kept on the server (not in gr.State) because Stop, Resume and the page-close hook all
need to reach the training job a session started, from separate events.
"""

import threading
from dataclasses import dataclass

from .jobs import RunJob


@dataclass
class Session:
    job: RunJob | None = None  # the session's current or last training run (either tab)
    waiting: bool = False  # Train was pressed and the run waits in the queue for the device
    cancel_requested: bool = False  # Stop was pressed while waiting: the run will not start
    last_run: str | None = None  # name of the run this session last trained or resumed

    @property
    def training(self) -> bool:
        return self.job is not None and not self.job.done


class Sessions:
    def __init__(self):
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_hash: str) -> Session:
        with self._lock:
            return self._sessions.setdefault(session_hash, Session())

    def pop(self, session_hash: str) -> Session | None:
        with self._lock:
            return self._sessions.pop(session_hash, None)

    def running_jobs(self) -> list[RunJob]:
        with self._lock:
            return [s.job for s in self._sessions.values() if s.training]
