"""One data root at work: its configuration, layout, index, worker pool and writer.

Whoever starts work on a data root (a CLI command, the daemon, a test) builds
one Runtime and passes it down; nothing below rebuilds a DataRoot from the
configuration or opens the index its own way. What is costly is built when it
is first asked for: an index (a SQLite connection, a Solr client), the
writer (it takes the writer lock), the worker pool.
"""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING, Any, Callable, Iterator

from paperfs.archive.layout import DataRoot
from paperfs.archive.lock import WriterLock
from paperfs.archive.paths import build_rules
from paperfs.archive.storage import storage_errors
from paperfs.config import Config
from paperfs.errors import WriterLockedError
from paperfs.index.base import Index
from paperfs.index.catalog import Catalog
from paperfs.index.factory import (Readers, index_status, open_catalog, open_index,
                                   open_readers)

if TYPE_CHECKING:
    from paperfs.archive.naming import PathRules
    from paperfs.archive.store import Archive
    from paperfs.archive.writer import DocumentWriter, LocalWriter
    from paperfs.classify.labels import LabelsFile
    from paperfs.daemon.pool_protocol import Pool


class Runtime:
    def __init__(self, config: Config, *, lock: WriterLock | None = None) -> None:
        self.config = config
        self.root = DataRoot(config.data_root)
        #: held while this process is the data root's writer
        self.lock = lock or WriterLock(self.root.lock_file)
        #: the writer, once open_writer() took the lock
        self.writer: LocalWriter | None = None
        self._pool: Pool | None = None

    @classmethod
    def of(cls, source: "Runtime | Config") -> "Runtime":
        """Entry points take a runtime; a bare Config (tests, scripts) gets its own."""
        return source if isinstance(source, Runtime) else cls(source)

    def initialised(self) -> "Runtime":
        """This runtime, once its data root is known to be one (DataRootError if not)."""
        self.root.check_initialised()
        return self

    # ------------------------------------------------------------ the index

    def open_index(self, *, readonly: bool = False, create: bool = True) -> Index:
        """The writer's index as ``config.index`` describes it (Solr: the catalog,
        mirrored). ``readonly``: no journal, no sender."""
        return open_index(self.config, self.root, readonly=readonly, create=create)

    def open_catalog(self, *, readonly: bool = True) -> Catalog:
        """The catalog: exact lookups, always the local embedded index, whatever the
        backend. ``readonly``: a reader (no index file is NotFoundError); else it
        may create the file."""
        return open_catalog(self.root, readonly=readonly, create=not readonly)

    def open_readers(self) -> Readers:
        """The catalog and the search side on one connection (a WebDAV thread's)."""
        return open_readers(self.config, self.root)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Index]:
        """The index for one command that searches (``paperfs search``): ranking may
        refresh its word lists, so not a read-only connection."""
        index = self.open_index(readonly=True, create=False)
        try:
            yield index
        finally:
            index.close()

    def index_status(self, *, probe: bool = False) -> dict[str, Any]:
        return index_status(self.config, self.root, probe=probe)

    # ------------------------------------------------------------ classifying

    @functools.cached_property
    def labels(self) -> "LabelsFile":
        """labels.yml, read again when it changes; the last valid version stays in force."""
        from paperfs.classify.labels import LabelsFile

        return LabelsFile(self.root.labels_file)

    # ------------------------------------------------------------ writing

    @functools.cached_property
    def rules(self) -> "PathRules":
        """``archive.paths``, compiled (a mistake in them is reported on first use)."""
        return build_rules(self.config)

    def open_archive(self, *, recover: bool = True, command: str | None = None) -> "Archive":
        """Take the writer lock and open the archive; ``recover``: bring the tree and
        the index to a consistent state first. ``command`` names what cannot run
        beside the daemon, for the error when the lock is taken."""
        from paperfs.archive.recovery import recover as recover_archive
        from paperfs.archive.store import Archive

        self.initialised().root.create()
        if command is None:
            self.lock.acquire()
        else:
            self.lock.acquire_for(command)
        try:
            with storage_errors(self.root.index_db):
                archive = Archive(self.root, self.config, self.open_index(), self.rules)
        except BaseException:
            self.lock.release()
            raise
        if recover:
            try:
                with storage_errors(self.root.index_db):
                    recover_archive(archive)
            except BaseException:
                archive.index.close()
                self.lock.release()
                raise
        return archive

    def close_archive(self, archive: "Archive") -> None:
        archive.index.close()
        self.lock.release()

    @contextlib.contextmanager
    def archive(self, *, recover: bool = True, command: str | None = None) -> Iterator["Archive"]:
        """``open_archive`` for one command; the lock is released at the end."""
        archive = self.open_archive(recover=recover, command=command)
        try:
            yield archive
        finally:
            self.close_archive(archive)

    def open_writer(self, *, recover: bool = True) -> "LocalWriter":
        """Become the data root's writer (the daemon, a one-shot consume)."""
        from paperfs.archive.writer import LocalWriter

        self.writer = LocalWriter(self.open_archive(recover=recover))
        return self.writer

    @contextlib.contextmanager
    def document_writer(self) -> Iterator["DocumentWriter"]:
        """The writer for a user's change: this process's own when no daemon runs
        (applied at once), else a hand-off that the running daemon applies."""
        from paperfs.archive.writer import HandOffWriter, LocalWriter

        try:
            archive = self.open_archive()
        except WriterLockedError:  # the daemon holds the lock
            catalog = self.open_catalog()
            try:
                yield HandOffWriter(self.root, lambda: catalog)
            finally:
                catalog.close()
            return
        try:
            yield LocalWriter(archive)
        finally:
            self.close_archive(archive)

    # ------------------------------------------------------------ workers

    def worker_pool(self, func: Callable[[Any], Any], *, serial: bool = False) -> "Pool":
        """The pool that runs ``func`` on each task (its processes start on demand);
        ``serial``: in this process (debugging, tests)."""
        if self._pool is None and self.config.queue and not serial:
            from paperfs.cluster.queue_pool import QueuePool  # `paperfs worker`s do the work

            self._pool = QueuePool(self.config, func)
        if self._pool is None:
            from paperfs.consume.pool import SerialPool, WorkerPool

            consume = self.config.consume
            pool_class = SerialPool if serial else WorkerPool
            self._pool = pool_class(func, workers=self.config.workers,
                                    timeout=consume.timeout_seconds,
                                    idle_seconds=consume.worker_idle_seconds)
        return self._pool

    # ------------------------------------------------------------ the end

    def close(self) -> None:
        """Stop the workers, close the writer, release the lock (each if there is one)."""
        if self._pool is not None:
            self._pool.shutdown(kill=True)
            self._pool = None
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.lock.release()


def open_archive(config: Config, lock: WriterLock) -> "Archive":
    """Take ``lock`` and open the archive of ``config``, brought up to date (tests, scripts)."""
    return Runtime(config, lock=lock).open_archive()
