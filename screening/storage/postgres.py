"""PostgreSQL behind the same storage functions as SQLite.

The storage layer is written against the small part of sqlite-utils'
``Database`` it uses: ``execute`` and ``query`` with ``?`` or ``:name``
parameters, ``conn.in_transaction`` and ``close``. ``PgDatabase`` gives a
psycopg 3 connection that shape, so every storage function runs unchanged on
either database; the few statements that differ (the name search, the
schema, erase and backup) ask ``dialect``. Errors come out as sqlite3's
classes (``IntegrityError``, ``OperationalError``) so callers catch one kind.

psycopg is imported only here and only when a ``postgresql://`` database is
configured: the embedded SQLite default needs no driver.
"""

from __future__ import annotations

import contextlib
import functools
import re
import select
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import PostgresUnavailable

if TYPE_CHECKING:  # pragma: no cover
    import psycopg
    import psycopg_pool

URL_SCHEMES = ("postgresql://", "postgres://")

# The one advisory lock every write transaction takes: writers queue in the
# server, as SQLite's BEGIN IMMEDIATE makes them queue on the file, so what a
# transaction reads before it writes cannot change under it on any app server.
WRITE_LOCK = 7_261_001
# Held while migrating: two servers starting at once migrate one after the other.
MIGRATE_LOCK = 7_261_002


def is_postgres_url(database: str) -> bool:
    """Whether the database setting names a PostgreSQL server rather than an SQLite file."""
    return database.startswith(URL_SCHEMES)


def describe_url(url: str) -> str:
    """``host:port/dbname`` of a PostgreSQL URL, without the user's password, for messages."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


def _driver() -> Any:
    try:
        import psycopg
    except ImportError as error:
        raise PostgresUnavailable(
            "SCREENING_DATABASE is a postgresql:// URL but psycopg is not installed:"
            ' pip install "screening[postgresql]" (psycopg and psycopg-pool)'
        ) from error
    return psycopg


# Quoted text and identifiers pass through; ``?`` and ``:name`` become psycopg's
# placeholders and a literal ``%`` is doubled.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|(?<![:\w]):([A-Za-z_]\w*)|%")


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """An SQLite-style statement with ``?``/``:name`` parameters in psycopg's ``%s``/``%(name)s`` form."""

    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        if match.group(1):
            return f"%({match.group(1)})s"
        return text

    return _TOKENS.sub(replace, sql)


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Parameters and results in the types the storage layer uses with SQLite."""
    from psycopg.adapt import Dumper, Loader

    class UntypedIntDumper(Dumper):
        # Sent untyped, as SQLite takes every parameter: an id compares with a
        # TEXT column (the audit target) and a flag fills an INTEGER one.
        oid = 0

        def dump(self, obj: Any) -> bytes:
            return str(int(obj)).encode()

    class NumberLoader(Loader):
        # sum() over integers is NUMERIC in PostgreSQL; SQLite gives an int.
        def load(self, data: Any) -> int | float:
            text = bytes(data).decode()
            return float(text) if "." in text or "e" in text.lower() else int(text)

    conn.adapters.register_dumper(int, UntypedIntDumper)
    conn.adapters.register_dumper(bool, UntypedIntDumper)
    conn.adapters.register_loader("numeric", NumberLoader)


def _sqlite_error(error: Exception) -> Exception:
    """psycopg's error as the sqlite3 class the storage layer's callers catch."""
    psycopg = _driver()
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if isinstance(error, psycopg.errors.IntegrityError):
        return sqlite3.IntegrityError(message)
    if isinstance(error, psycopg.errors.DiskFull | psycopg.errors.ReadOnlySqlTransaction):
        return sqlite3.OperationalError(f"disk is full or read-only: {message}")
    if isinstance(error, psycopg.OperationalError):
        return sqlite3.OperationalError(f"unable to open database: {message}")
    return sqlite3.DatabaseError(message)


class PgCursor:
    """A psycopg cursor with sqlite3's reading methods."""

    def __init__(self, cursor: psycopg.Cursor[Any], db: PgDatabase, sent: int) -> None:
        self._cursor = cursor
        self._db = db
        self._sent = sent  # the statement's number on its connection (``PgDatabase.sync``)

    @property
    def description(self) -> Any:
        """The result's columns; ``column[0]`` is the name, as in sqlite3."""
        self._db.sync(self._sent)
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        """Rows the statement changed."""
        self._db.sync(self._sent)
        return self._cursor.rowcount

    def fetchone(self) -> Any:
        """The next row, or None."""
        return self._cursor.fetchone() if self.description else None

    def fetchall(self) -> list[Any]:
        """Every remaining row."""
        return self._cursor.fetchall() if self.description else []

    def close(self) -> None:
        """Release the result."""
        self._cursor.close()

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())


class PgConnection:
    """What the storage layer asks of ``db.conn``: whether a transaction is open, and rollback."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn
        # Inside ``PgDatabase.pipelined`` the BEGIN may not have reached the server yet,
        # so the server's transaction status cannot tell.
        self.pipelined = False

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (sqlite3's ``in_transaction``)."""
        from psycopg.pq import TransactionStatus

        return self.pipelined or self.raw.info.transaction_status != TransactionStatus.IDLE

    def rollback(self) -> None:
        """End the open transaction without its changes."""
        if self.in_transaction:
            self.raw.execute("ROLLBACK")


class PgDatabase:
    """A PostgreSQL connection with the shape of the sqlite-utils ``Database`` the storage layer uses."""

    dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection[Any], pool: psycopg_pool.ConnectionPool[Any] | None = None) -> None:
        self.conn = PgConnection(conn)
        self._pool = pool
        self._savepoints = 0
        self._pipeline: psycopg.Pipeline | None = None
        self._leave: contextlib.ExitStack | None = None  # leaves the pipeline before its end
        # Statements sent, and how many of them have their results here: a result read waits
        # (a round trip) only if its statement was sent after the last wait.
        self._sent = self._answered = 0

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> PgCursor:
        """Run one statement (``?`` or ``:name`` parameters) and return its cursor."""
        if self._pipeline is not None and not params and ";" in sql.strip().rstrip(";"):
            self._leave_pipeline()  # a script (a migration): the pipeline takes one statement a call
        try:
            # Without parameters psycopg reads the statement as written (a "%" stays one).
            cursor = self.conn.raw.execute(translate(sql), params) if params else self.conn.raw.execute(sql)
        except _driver().Error as error:
            raise _sqlite_error(error) from error
        self._sent += 1
        if self._pipeline is None:
            self._answered = self._sent
        return PgCursor(cursor, self, self._sent)

    @contextlib.contextmanager
    def pipelined(self) -> Iterator[None]:
        """Send statements without waiting for their results (psycopg's pipeline mode): a round trip
        only where a result is read (``PgCursor``) and at the end, so a write transaction's
        BEGIN, savepoints and result-less writes travel with the next statement that answers."""
        try:
            with contextlib.ExitStack() as leave:
                self._pipeline = leave.enter_context(self.conn.raw.pipeline())
                self._leave, self.conn.pipelined = leave, True
                try:
                    yield
                finally:
                    self._pipeline, self._leave, self.conn.pipelined = None, None, False
                    self._answered = self._sent
        except _driver().Error as error:  # a statement's error arrives with the last results
            raise _sqlite_error(error) from error

    def _leave_pipeline(self) -> None:
        """The rest of the transaction without the pipeline (its statements' results awaited now)."""
        leave, self._pipeline, self._answered = self._leave, None, self._sent
        try:
            if leave is not None:
                leave.close()
        except _driver().Error as error:
            raise _sqlite_error(error) from error

    def sync(self, upto: int) -> None:
        """Wait for the results of the statements sent in the pipeline (one round trip), unless
        statement number ``upto`` has its result already."""
        if self._pipeline is None or upto <= self._answered:
            return
        self._answered = self._sent
        try:
            self._pipeline.sync()
        except _driver().Error as error:
            raise _sqlite_error(error) from error

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """The rows of a SELECT as dicts."""
        yield from self.send(sql, params)()

    def send(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> Callable[[], list[dict[str, Any]]]:
        """Send a statement now and read its rows (as dicts) when the returned function is called: in a
        pipeline, statements sent one after another are answered by one round trip, at the first read."""
        cursor = self.execute(sql, params)

        def rows() -> list[dict[str, Any]]:
            names = [column[0] for column in cursor.description or ()]
            found = cursor.fetchall()
            cursor.close()
            return [dict(zip(names, row, strict=True)) for row in found]

        return rows

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each parameter row (psycopg pipelines them: one round trip, not one per row)."""
        try:
            with self.conn.raw.cursor() as cursor:
                cursor.executemany(translate(sql), rows)
        except _driver().Error as error:
            raise _sqlite_error(error) from error

    def stream(self, sql: str, batch: int) -> Iterator[list[Any]]:
        """The rows of a SELECT, ``batch`` at a time, from a server-side cursor (never all in memory)."""
        # DECLARE and FETCH by hand: psycopg's named cursor sends the batch size as a
        # parameter, which the untyped int dumper (``_configure``) leaves unknown to FETCH.
        with self.conn.raw.transaction():
            self.conn.raw.execute(f"DECLARE stream NO SCROLL CURSOR FOR {sql}")
            while rows := self.conn.raw.execute(f"FETCH FORWARD {int(batch)} FROM stream").fetchall():
                yield rows
            self.conn.raw.execute("CLOSE stream")

    def begin(self) -> None:
        """Open a write transaction, queued behind every other writer (see ``WRITE_LOCK``)."""
        if self._pipeline is not None:
            # The pipeline takes one statement a call; both travel with the next result read.
            self.execute("BEGIN")
            self.execute(f"SELECT pg_advisory_xact_lock({int(WRITE_LOCK)})")
            return
        # One round trip for both (the simple protocol takes two statements without parameters).
        self.execute(f"BEGIN; SELECT pg_advisory_xact_lock({int(WRITE_LOCK)})")

    def commit(self) -> None:
        """Commit the open transaction."""
        self.execute("COMMIT")

    def savepoint(self) -> str:
        """Open a savepoint inside the transaction; return its name."""
        self._savepoints += 1
        name = f"sp_{self._savepoints}"
        self.execute(f"SAVEPOINT {name}")
        return name

    def close(self) -> None:
        """Give the connection back to its pool, or close it."""
        self.conn.rollback()
        if self._pool is not None:
            self._pool.putconn(self.conn.raw)
        else:
            self.conn.raw.close()


def _connect_kwargs() -> dict[str, Any]:
    # autocommit: a statement outside write_transaction is its own transaction,
    # so no read leaves one open; write_transaction says BEGIN itself.
    return {"autocommit": True, "connect_timeout": 10}


def connect_postgres(url: str) -> PgDatabase:
    """One connection to the PostgreSQL database at ``url`` (commands, migrations)."""
    psycopg = _driver()
    try:
        conn = psycopg.connect(url, **_connect_kwargs())
    except psycopg.Error as error:
        raise PostgresUnavailable(
            f"cannot connect to PostgreSQL at {describe_url(url)}: {_first_line(error)}"
        ) from error
    _configure(conn)
    return PgDatabase(conn)


def open_pool(url: str, size: int) -> psycopg_pool.ConnectionPool[Any]:
    """A pool of up to ``size`` connections for one app process; a connection found
    broken (after a failover, say) is replaced rather than handed out."""
    _driver()
    try:
        from psycopg_pool import ConnectionPool
    except ImportError as error:
        raise PostgresUnavailable("psycopg-pool is not installed: pip install psycopg-pool") from error
    return ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs=_connect_kwargs(),
        configure=_configure,
        check=check_connection,
        open=True,
        timeout=10,
    )


def check_connection(conn: psycopg.Connection[Any]) -> None:
    """The pool's check of a connection it is about to hand out, without a round trip while it is
    sound: a connection the server ended (a restart, a failover, ``pg_terminate_backend``) has the
    server's last message or the socket's end waiting to be read, and only then is it pinged
    (failing, the pool replaces it). An idle connection of ours has nothing else to read: it
    listens for no notifications."""
    from psycopg_pool import ConnectionPool

    if conn.closed or conn.broken:
        raise _driver().OperationalError("the connection is closed")
    # poll, not select: select refuses a descriptor numbered past 1023, which a busy worker holding
    # many client connections reaches.
    waiting = select.poll()
    waiting.register(conn.fileno(), select.POLLIN)
    if waiting.poll(0):
        ConnectionPool.check_connection(conn)


def pooled_database(pool: psycopg_pool.ConnectionPool[Any]) -> PgDatabase:
    """A connection from ``pool``, given back by ``PgDatabase.close``."""
    try:
        conn = pool.getconn()
    except Exception as error:  # the pool's timeout or a refused connection: a storage fault
        raise sqlite3.OperationalError(f"unable to open database: {_first_line(error)}") from error
    return PgDatabase(conn, pool)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
