"""Several erasure jobs in flight in one worker process, each in a thread of its own.

With [delivery] jobs_in_flight N > 1 the worker's main loop keeps dequeuing (through
recovery.TakingQueue) while fewer than N jobs run and waits for a free thread when N run; it
never takes a job it has no thread for, so a taken job starts at once (no stranding). Each
job's RQ bookkeeping runs in its thread, as the sequential worker runs it in the main thread.
- timeouts: SIGALRM reaches the main thread only; ThreadDeathPenalty raises the timeout in
  the job's thread at its next Python instruction (a Zeeg call in progress ends first);
- warm shutdown (SIGTERM): no job is started any more, each running job ends, then the
  worker's teardown; a second SIGTERM is a cold shutdown, every running job cut (ColdShutdown,
  which RQ's retry runs again), as the sequential worker's job is cut by SystemExit; a job
  still in a Zeeg call CUT_WAIT_SECONDS later is left to crash recovery;
- a SIGKILLed worker's N jobs each lapse in the started registry and are retried as one is.
N = 1 keeps the sequential path: jobs run in the main thread under RQ's SIGALRM penalty.
"""

from __future__ import annotations

import ctypes
import logging
import queue as queue_module
import threading
import time
from datetime import timedelta
from types import FrameType
from typing import Any, ClassVar

from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.job import Job
from rq.timeouts import BaseDeathPenalty
from rq.timeouts import JobTimeoutException as RQJobTimeout
from rq.utils import now
from rq.worker.base import WorkerStatus

log = logging.getLogger(__name__)

SLOT_WAIT_SECONDS = 1.0  # a main loop waiting for a free thread still runs its maintenance
# After a cold shutdown's cut, how long teardown waits for the jobs' failure bookkeeping (the
# cut lands after a Zeeg call in progress): a job still running then is left to crash
# recovery, as a SIGKILLed worker's is.
CUT_WAIT_SECONDS = 2.0


class JobTimeoutException(RQJobTimeout):
    """A job in a thread ran past its job timeout (RQ's exception, raised into the thread)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(args or ("Task exceeded its job timeout",)))


class ColdShutdown(Exception):
    """A second SIGTERM cut this job; RQ's retry runs it again."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(args or ("cold shutdown: the job was cut",)))


def _raise_in(thread_id: int, exception: type[BaseException]) -> None:
    """Raise exception in the thread thread_id at its next Python instruction."""
    hit = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception)
    )
    if hit > 1:  # cannot happen for one id; undo as the C API asks
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)


class ThreadDeathPenalty(BaseDeathPenalty):
    """RQ's timer death penalty for a job in any thread, firing only while the job runs.

    RQ's TimerDeathPenalty can fire as the job returns, landing its exception in the
    worker's bookkeeping; here a penalty fires under a lock, only while armed (inside the
    job's `with`), and cut_all() fires every armed one with another exception.
    """

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _armed: ClassVar[dict[int, ThreadDeathPenalty]] = {}

    def __init__(self, timeout: int, exception: type[BaseException] = RQJobTimeout, **kw: Any):
        exception = JobTimeoutException if exception is RQJobTimeout else exception
        super().__init__(timeout, exception, **kw)  # type: ignore[no-untyped-call]
        self._thread = threading.get_ident()
        self._timer: threading.Timer | None = None

    def setup_death_penalty(self) -> None:
        """Arm: the timer fires the exception into this thread after the timeout."""
        with self._lock:
            self._armed[self._thread] = self
        if self._timeout > 0:
            self._timer = threading.Timer(self._timeout, self.fire, (self._exception,))
            self._timer.daemon = True
            self._timer.start()

    def cancel_death_penalty(self) -> None:
        """Disarm: after this, nothing is raised into the thread."""
        with self._lock:
            if self._armed.get(self._thread) is self:
                del self._armed[self._thread]
        if self._timer is not None:
            self._timer.cancel()

    def fire(self, exception: type[BaseException]) -> bool:
        """Raise exception into the job's thread if still armed (once); whether it did."""
        with self._lock:
            if self._armed.get(self._thread) is not self:
                return False
            del self._armed[self._thread]
            _raise_in(self._thread, exception)
        return True

    @classmethod
    def cut_all(cls, exception: type[BaseException]) -> int:
        """Fire every armed penalty with exception; how many jobs were cut."""
        with cls._lock:
            armed = list(cls._armed.values())
        return sum(p.fire(exception) for p in armed)


class InFlight:
    """Up to n jobs of one worker at once, each run by worker.run_job in a thread of its own.

    Threads start as needed and serve job after job (a thread's Zeeg connection stays open
    across its jobs). An error that escapes run_job (Redis refusing the job's start) is
    raised again in the main loop, as the sequential worker's loop would see it.
    """

    def __init__(self, worker: InFlightWorker, n: int) -> None:
        self._worker = worker
        self.n = n
        self._cond = threading.Condition()
        self._todo: queue_module.SimpleQueue[tuple[Job, Queue] | None] = queue_module.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self.busy = 0
        self._error: BaseException | None = None
        self.cut_at: float | None = None  # time.monotonic() of a cold shutdown's cut

    def wait_for_slot(self, timeout: float) -> bool:
        """Whether fewer than n jobs run, waiting up to timeout seconds for one to end."""
        with self._cond:
            free = self._cond.wait_for(lambda: self.busy < self.n, timeout)
            error, self._error = self._error, None
        if error is not None:
            raise error
        return free

    def submit(self, job: Job, queue: Queue) -> None:
        """Run job in a free thread (the caller waited for a slot)."""
        with self._cond:
            self.busy += 1
            if len(self._threads) < min(self.busy, self.n):
                name = f"job-{self._worker.name[-8:]}-{len(self._threads)}"
                thread = threading.Thread(target=self._serve, name=name, daemon=True)
                self._threads.append(thread)
                thread.start()
        self._todo.put((job, queue))

    def _serve(self) -> None:
        """A job thread: job after job until told to end (None); it never dies of one."""
        while (item := self._todo.get()) is not None:
            try:
                self._worker.run_job(*item)
            except RedisError as e:  # its start refused: the job is recovered from Redis
                with self._cond:
                    self._error = self._error or e
            except BaseException:  # a cold shutdown landing outside the job, or a bug
                log.exception("job %s: its thread failed outside the job", item[0].id)
            finally:
                with self._cond:
                    self.busy -= 1
                    idle = self.busy == 0
                    self._cond.notify_all()
            if idle:
                try:
                    self._worker.set_state(WorkerStatus.IDLE)
                except RedisError as e:  # only what `rq info` shows; the next job sets it
                    log.warning("worker state not written: %s", type(e).__name__)

    def wait_all(self) -> None:
        """Return once no job runs, or CUT_WAIT_SECONDS after a cut; then end the threads.

        Waits in short slices: the main thread handles a signal (a cold shutdown) meanwhile.
        """
        with self._cond:
            while self.busy and not self._cut_long_ago():
                self._cond.wait(0.1)
        for _ in self._threads:
            self._todo.put(None)
        for thread in self._threads:
            if self.cut_at is None:
                thread.join(SLOT_WAIT_SECONDS)
        self._threads = []

    def wait_idle(self) -> None:
        """Return once no job runs (the main loop takes none meanwhile: it is the caller)."""
        with self._cond:
            self._cond.wait_for(lambda: self.busy == 0)

    def _cut_long_ago(self) -> bool:
        return self.cut_at is not None and time.monotonic() - self.cut_at >= CUT_WAIT_SECONDS


class InFlightWorker(SimpleWorker):
    """RQ's SimpleWorker that may run up to inflight.n jobs at once (set by run_in_flight)."""

    inflight: InFlight | None = None
    _taking = False  # the main loop is in RQ's dequeue: a SIGTERM interrupts it
    _finishing = False  # teardown waits for the running jobs

    def run_in_flight(self, n: int) -> None:
        """Run up to n jobs at once from now on (1: the sequential path, unchanged)."""
        if n > 1:
            self.inflight = InFlight(self, n)
            self.death_penalty_class = ThreadDeathPenalty

    def run_job(self, job: Job, queue: Queue) -> None:
        """Run one job in this thread, with all its RQ bookkeeping (the subclass's)."""
        raise NotImplementedError

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run job here (one in flight), or hand it to a free thread."""
        if self.inflight is None:
            self.run_job(job, queue)
        else:
            self.inflight.submit(job, queue)

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """RQ's dequeue, once a thread is free for the job it takes."""
        if self.inflight is None:
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        while not self.inflight.wait_for_slot(SLOT_WAIT_SECONDS):
            if self._stop_requested:
                raise StopRequested()
            if self.should_run_maintenance_tasks:
                self.run_maintenance_tasks()  # type: ignore[no-untyped-call]  # rq: untyped
        self._taking = True
        try:
            if self._stop_requested:
                raise StopRequested()
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        finally:
            self._taking = False

    def _start_scheduler(self, *args: Any, **kwargs: Any) -> None:
        """RQ's, but a scheduler process forks only while no job thread runs.

        RQ forks its scheduler (at the start, and in a maintenance after the holder of the
        scheduler lock died); a fork while a thread holds a lock (stdout's, a connection
        pool's) leaves that lock held forever in the child, which could hang on it.
        """
        super()._start_scheduler(*args, **kwargs)
        if self.inflight is not None and self.scheduler is not None:
            start, inflight = self.scheduler.start, self.inflight

            def start_when_idle() -> Any:
                inflight.wait_idle()
                return start()  # type: ignore[no-untyped-call]  # rq leaves it untyped

            self.scheduler.start = start_when_idle  # type: ignore[method-assign]

    def set_state(self, state: str, pipeline: Any = None) -> None:
        """RQ's, but the worker stays busy while one of its jobs runs."""
        if state == WorkerStatus.IDLE and self.inflight is not None and self.inflight.busy:
            return
        super().set_state(state, pipeline)

    def _shutdown(self) -> None:
        """A warm shutdown: stop taking jobs (interrupting a dequeue), let running ones end."""
        if self.inflight is None:
            super()._shutdown()  # type: ignore[no-untyped-call]  # rq leaves it untyped
            return
        if self._taking:
            raise StopRequested()
        self._stop_requested = True
        self.set_shutdown_requested_date()  # type: ignore[no-untyped-call]
        if self.scheduler:
            self.stop_scheduler()  # type: ignore[no-untyped-call]

    def request_force_stop(self, signum: int, frame: FrameType | None) -> None:
        """A cold shutdown: every running job cut (RQ retries it), then RQ's exit."""
        started = self._shutdown_requested_date
        if self.inflight is None or (started and now() - started < timedelta(seconds=1)):
            super().request_force_stop(signum, frame)  # RQ's (it ignores a doubled signal)
            return
        cut = ThreadDeathPenalty.cut_all(ColdShutdown)
        self.inflight.cut_at = time.monotonic()
        self.log.warning("Worker %s: cold shut down, %d running jobs cut", self.name, cut)
        if not self._finishing:  # else teardown is waiting for the cut jobs to end
            super().request_force_stop(signum, frame)

    def finish_in_flight(self) -> None:
        """Wait for every running job to end (teardown calls this first)."""
        if self.inflight is not None:
            self._finishing = True
            self.inflight.wait_all()
