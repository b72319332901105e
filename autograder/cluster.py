"""Run grading Tasks on Dask: a LocalCluster by default, or an existing cluster (scheduler address or file).

Each Task is one Dask task (``autograder.run.run_task``). A worker that dies mid-task (killed, out of memory) has
its task resubmitted by Dask's scheduler; a submission that kills workers again and again ends as rows with
status ``ungradable`` once the scheduler gives up (its ``allowed-failures``). A progress bar shows submissions
done, failed and the rate. Ctrl-C stops cleanly: what was graded is returned and the run is marked interrupted.
"""
import logging
import multiprocessing
import multiprocessing.forkserver
import signal
import sys
import threading
import time
import uuid

import dask
from distributed import Client, LocalCluster, WorkerPlugin, as_completed
from distributed.gc import disable_gc_diagnosis, enable_gc_diagnosis
from distributed.scheduler import KilledWorker
from tqdm.auto import tqdm

from .run import CourseMismatch, failed_result, run_task

ALLOWED_FAILURES = 2  # workers a submission may take down before it is given up (LocalCluster; a scheduler of
                      # your own has its own distributed.scheduler.allowed-failures)
WORKER_MODULES = ["distributed", "autograder.run"]  # what a local worker imports, once for all of them
CLOSE_SECONDS = 60  # for the local workers to stop (one still waiting for a kernel is stopped after about 4 s)


class LeaveStopSignalsToTheGrader(WorkerPlugin):
    """Makes a local worker ignore SIGINT and SIGHUP. Ctrl-C in the instructor's terminal, and the hangup when it
    closes, reach the whole process group: a worker that died of them printed its traceback there, and the cluster's
    shutdown waited for it (a test run once hung). The grader stops its workers itself."""
    name = "leave-stop-signals-to-the-grader"

    def setup(self, worker):
        for stop in (signal.SIGINT, signal.SIGHUP):
            signal.signal(stop, signal.SIG_IGN)  # setup runs in the worker process's main thread


class Cluster:
    """A Dask client for grading: ``with Cluster(jobs=2) as cluster: results = cluster.grade(tasks)``.

    The local workers start (or the client connects) in a background thread, so that what the caller prepares
    meanwhile (the output folder's gradebook) overlaps with it; ``grade`` waits until the cluster is there and
    raises what its start raised. Local workers import the grader as they start (Dask's ``preload``), not on
    their first submission.
    """

    def __init__(self, jobs=1, scheduler=None, scheduler_file=None):
        self.local = self.client = self._error = None
        if not (scheduler or scheduler_file):
            start_worker_server()
        # A Dask scheduler hooks a timer into the garbage collector as it starts. Starting in the background thread,
        # it once hooked in halfway through a full collection of the main thread (a finalizer had let it run): the
        # timer failed at the collection's end ("assert start is not None"), and the main thread's ast.parse, which
        # the collection had interrupted, raised "SystemError: AST constructor recursion depth mismatch" (CI, one
        # run in many; CPython 3.11's gh-106905). Hooked here, before any thread starts, the scheduler's start only
        # counts one more user of the hook; __exit__ releases this one.
        enable_gc_diagnosis()
        self._starting = threading.Thread(target=self._start, args=(jobs, scheduler, scheduler_file), daemon=True,
                                          name="autograder-cluster-start")
        self._starting.start()

    def _start(self, jobs, scheduler, scheduler_file):
        try:
            if scheduler or scheduler_file:
                self.client = Client(address=scheduler, scheduler_file=scheduler_file, timeout="30s")
                return
            with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                                  "distributed.worker.multiprocessing-method": "forkserver"}):
                self.local = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                          dashboard_address=":0", silence_logs=logging.ERROR,
                                          preload=[run_task.__module__])
            self.client = Client(self.local)
            self.client.register_plugin(LeaveStopSignalsToTheGrader())  # also for workers started later (restarts)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread by _ready
            self._error = exc

    def _ready(self):
        self._starting.join()
        if self._error is not None:
            raise self._error

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._starting.join()
        if self.client is not None:
            self.client.close()
        if self.local is not None:
            try:
                self.local.close(timeout=CLOSE_SECONDS)
            except TimeoutError:  # the results are in; the workers are daemons and end with this process
                print(f"warning: the local Dask workers did not stop within {CLOSE_SECONDS} s", file=sys.stderr)
        disable_gc_diagnosis()

    def grade(self, tasks, templates, progress=True, done=None):
        """{task key: Result} for ``tasks``, and whether the run was interrupted (Ctrl-C) before the end.
        ``templates``: {assignment: its scratch nbgrader course} (``autograder.run.build_templates``).
        ``done(result)``, if given, is called with each Result as it comes back."""
        self._ready()
        # every worker holds every template: a task can then run on whichever worker is free. (A template made on
        # one worker kept all its assignment's submissions there, and the other workers idle at the end.)
        # Keys are new in every run (hash=False, a run id): a key an earlier client of the same scheduler had
        # just released could be forgotten under this run's task ("cancelled for reason: already forgotten").
        names = sorted({t.assignment for t in tasks})
        shared = dict(zip(names, self.client.scatter([templates[a] for a in names], broadcast=True, hash=False)))
        run = uuid.uuid4().hex[:8]
        futures = {self.client.submit(run_task, task, shared[task.assignment], key=f"grade-{task.key}-{run}",
                                      pure=False): task for task in tasks}
        results, failed = {}, 0
        bar = tqdm(total=len(tasks), desc="grading", unit="submission", disable=not progress)
        start = time.monotonic()
        try:
            for future in as_completed(futures):
                task = futures[future]
                result = _outcome(future, task)
                if done is not None:
                    done(result)
                results[task.key] = result  # after done: a result Ctrl-C cut short there is graded again next run
                failed += any(r["status"] in ("error", "ungradable", "timeout") for r in result.rows)
                bar.update()
                bar.set_postfix(failed=failed, per_min=f"{len(results) * 60 / (time.monotonic() - start):.1f}")
        except KeyboardInterrupt:
            self.client.cancel(list(futures))
            return results, True
        finally:
            bar.close()
        return results, False


def start_worker_server():
    """Starts (once per process) the server the local workers are forked from, importing Dask and the grader.

    A worker spawned afresh imports them itself, 1.3 s of CPU each, beside the instructor's process on the same
    cores; forked, the workers share one import (20 notebooks, --jobs 2: 18.4 -> 17.8 s, 1.2 core-s less) and stop
    in 0.04 s instead of 0.45. The server keeps the environment of its start for the life of this process. A worker
    that Dask starts again after a crash is spawned, and imports the grader as a Dask preload.

    The server and multiprocessing's resource tracker, which starts with it, are started ignoring SIGHUP, and so
    are the workers forked from the server: when the instructor's terminal closes, only the grader's own process
    acts on it, and stops them. (They died of it, and the tracker relaunched printed tracebacks.)"""
    multiprocessing.get_context("forkserver").set_forkserver_preload(WORKER_MODULES)
    in_main_thread = threading.current_thread() is threading.main_thread()  # where signal.signal may be called
    hangup = signal.signal(signal.SIGHUP, signal.SIG_IGN) if in_main_thread else None
    try:
        multiprocessing.forkserver.ensure_running()  # an ignored signal stays ignored across fork and exec
    finally:
        if in_main_thread:
            signal.signal(signal.SIGHUP, hangup)


def _outcome(future, task):
    """The Result of a finished future, or rows saying why there is none."""
    try:
        return future.result()
    except KilledWorker:
        return failed_result(task, "ungradable", "the submission took down the grader's worker again and again "
                                                 "(crash or memory), so it was given up")
    except CourseMismatch as exc:
        return failed_result(task, "error", str(exc))
    except Exception as exc:  # noqa: BLE001 - a grader failure on one submission must not stop the run
        return failed_result(task, "error", f"the grader failed on this submission: {type(exc).__name__}: {exc}")
