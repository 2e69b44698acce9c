"""The step cache of a run folder: one marker per finished step, and a log of what each step did.

A step is skipped when ``DIR/steps/<stage>__<name>.json`` records the same fingerprint and the
step's output folder still holds a complete manifest; otherwise it runs, and its marker is written
only when it finished. ``DIR/run_log.jsonl`` gets one line per step and status (done, skipped,
failed, interrupted).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Optional

from lingalign.artifacts import append_jsonl, now, read_json, read_manifest, write_json
from lingalign.errors import UserError

log = logging.getLogger("lingalign.run")


def _is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc)


class Runner:
    """Executes steps, skipping those whose fingerprint is recorded as done (and whose output is there)."""

    def __init__(self, out: Path):
        self.out = out
        self.steps = out / "steps"

    def marker(self, key: str) -> Path:
        return self.steps / f"{key.replace(':', '__')}.json"

    def is_done(self, key: str, fingerprint: str, output: Optional[Path] = None) -> bool:
        marker = self.marker(key)
        if not marker.exists() or read_json(marker).get("fingerprint") != fingerprint:
            return False
        return output is None or read_manifest(output) is not None

    def _log(self, key: str, status: str, **extra) -> None:
        append_jsonl(self.out / "run_log.jsonl", [{"step": key, "status": status, "time": now(), **extra}])

    def step(self, key: str, fingerprint: str, action: Callable[[], Any], *, output: Optional[Path] = None,
             oom_hint: Optional[str] = None) -> bool:
        """Run ``action`` unless step ``key`` already finished with this fingerprint. True if it ran."""
        if self.is_done(key, fingerprint, output):
            log.info("skip %-28s (cached, fingerprint %s)", key, fingerprint)
            self._log(key, "skipped", fingerprint=fingerprint)
            return False
        log.info("run  %-28s", key)
        start = time.time()
        try:
            action()
        except UserError as exc:
            self._log(key, "failed", error=exc.message)
            raise UserError(f"step {key} failed: {exc.message}",
                            hint=exc.hint or "fix it and run the same command again: finished steps are kept") from None
        except KeyboardInterrupt:
            self._log(key, "interrupted")
            raise
        except Exception as exc:
            if _is_out_of_memory(exc):
                self._log(key, "failed", error="out of memory")
                raise UserError(f"step {key} ran out of memory ({type(exc).__name__})", hint=oom_hint) from None
            self._log(key, "failed", error=f"{type(exc).__name__}: {exc}")
            exc.add_note(f"lingalign run: step {key} failed; finished steps are kept, re-run to resume")
            raise
        seconds = round(time.time() - start, 1)
        write_json(self.marker(key), {"step": key, "fingerprint": fingerprint, "seconds": seconds})
        self._log(key, "done", fingerprint=fingerprint, seconds=seconds)
        return True
