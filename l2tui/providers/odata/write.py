"""Writing: upserts, updates and deletes sent as $batch change sets, a few batches in flight.

* create: ``PATCH set(<guid>)`` without If-Match, an upsert, so a retried create never duplicates
  (the GUID is the Change's key, made here when the change has none); when the select leaves
  records out ($filter, $top), with ``If-None-Match: *``, so that a record the read did not show
  is never written over (Dataverse answers 412 instead); a 412 for a GUID made for this write,
  when the record is there (read by its GUID), means an earlier try of it made the record (its
  answer was lost), which is success; when it is not, Dataverse refused the create for another
  reason (an alternate key another record holds), and the item fails with its message;
* update: ``PATCH set(<guid>)`` with ``If-Match: *`` and only the changed columns, so an update
  never brings back a row deleted meanwhile (it fails with "no longer exists" instead, when the
  record is gone: a 404 about a lookup to a missing record fails with the service's message);
  with the version the run read (``If-Match: <etag>``) when it may have been edited meanwhile: a
  412 then is an edit not written over, unless the record holds every value sent (an earlier try
  of this write whose answer was lost changed the ETag), which is success;
* delete: ``DELETE set(<guid>)``; 404 means already gone, which is success.

A change set is atomic: when one fails, its items are sent again one by one so the good ones land
and each bad one gets its own one-line error. When an item sent alone gets no answer at all (every
retry failed to connect, timed out or was dropped), or is refused a sign-in that cannot be renewed
(401), the write stops with that ConnectError. So it does when ``FAILING_IN_A_ROW`` items sent
alone in a row (across the change sets in flight) each failed with a 5xx after their retries: the
service fails every write, and sending the rest alone would take hours of retries. And so it
does once the run is asked to stop (``stop``): no change set or item goes out after that, not
even the items of a change set whose wait to be retried the stop ended.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from l2tui.errors import ConnectError
from l2tui.providers.base import (
    Change,
    ChangeOp,
    Column,
    ColumnType,
    Record,
    WriteOutcome,
    WriteStopped,
    shown_value,
)
from l2tui.providers.odata.batch import (
    BatchFormatError,
    BatchRequest,
    BatchResponse,
    decode_batch,
    encode_batch,
)
from l2tui.providers.odata.entity_schema import EntitySchema
from l2tui.providers.odata.http import HttpClient, HttpError, StopAsked, safe_url
from l2tui.providers.odata.values import dumps, loads, to_json

FAILING_IN_A_ROW = 3
"""Items sent alone that fail with a 5xx, one after another, before the write stops."""


class _Stopped(Exception):
    """A change set sent one by one stopped at ``error``; ``done`` are those sent before."""

    def __init__(self, error: ConnectError, done: list[tuple[int, WriteOutcome]]) -> None:
        super().__init__(str(error))
        self.error = error
        self.done = done


class ChangeRejected(ValueError):
    """A change that cannot be sent (unknown column, missing key)."""


@dataclass(frozen=True)
class Prepared:
    """A change ready to send: its position, the request, and the key it ends with."""

    index: int
    change: Change
    request: BatchRequest
    key: Record
    made_key: bool = False  # a create whose GUID was made for this write: no record had it before


def key_literal(key: Record, schema: EntitySchema) -> str:
    """The ``(…)`` key segment: a bare GUID, a quoted string, or ``name=value`` pairs."""
    names = schema.key or list(key)
    parts = []
    for name in names:
        if name not in key or key[name] is None:
            raise ChangeRejected(f"the key column '{name}' has no value")
        column = schema.column(name)
        parts.append(_literal(name, key[name], column))
    if len(parts) == 1:
        return parts[0]
    return ",".join(f"{name}={part}" for name, part in zip(names, parts, strict=True))


def _literal(name: str, value: Any, column: Column | None) -> str:
    kind = column.type if column else None
    if kind == ColumnType.GUID:
        return guid_text(name, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or kind in (ColumnType.INTEGER, ColumnType.DECIMAL):
        return str(value)
    return quote("'" + str(value).replace("'", "''") + "'", safe="'")


def guid_text(name: str, value: Any) -> str:
    """A GUID column's value as the GUID text Dataverse takes; ChangeRejected naming the column
    and the value when it is no GUID."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ChangeRejected(f"{name}: {shown_value(value)} cannot be written as a GUID") from None


class Writer:
    """Sends changes to one entity set."""

    def __init__(self, http: HttpClient, service_root: str, schema: EntitySchema, *,
                 batch_size: int, parallel: int, log: Callable[[str], None],
                 partial: bool = False, stop: threading.Event | None = None) -> None:
        self.http = http
        self.stop = stop  # set when the run is asked to stop: no change set or item goes out
        self.partial = partial  # the select leaves records out: creates never update
        self.root = service_root
        self.schema = schema
        self.batch_size = max(1, batch_size)
        self.parallel = max(1, parallel)
        self.log = log
        self._dropped: set[str] = set()
        self._lock = threading.Lock()
        self._failing = 0  # items sent alone that failed with a 5xx, in a row
        self._halt: ConnectError | None = None  # the write stops: no change set or item goes out

    def write(self, changes: Sequence[Change]) -> list[WriteOutcome]:
        """One outcome per change, in order."""
        outcomes: list[WriteOutcome | None] = [None] * len(changes)
        ready: list[Prepared] = []
        for index, change in enumerate(changes):
            try:
                prepared = self.prepare(index, change)
            except ValueError as exc:  # ChangeRejected (a value that is no GUID too)
                outcomes[index] = WriteOutcome(change, ok=False, error=str(exc), key=change.key)
                continue
            if prepared is None:  # an update with nothing to change
                outcomes[index] = WriteOutcome(change, ok=True, key=change.key)
            else:
                ready.append(prepared)
        chunks = [ready[i:i + self.batch_size] for i in range(0, len(ready), self.batch_size)]
        stopped: ConnectError | None = None
        if chunks:
            pool = ThreadPoolExecutor(max_workers=min(self.parallel, len(chunks)))
            try:
                futures = [pool.submit(self._send_changeset, chunk) for chunk in chunks]
                for future in futures:
                    try:
                        results = future.result()
                    except CancelledError:
                        continue
                    except _Stopped as exc:  # the change sets not yet sent are not sent
                        stopped, results = stopped or exc.error, exc.done
                        for other in futures:
                            other.cancel()
                    except ConnectError as exc:
                        stopped, results = stopped or exc, []
                        for other in futures:
                            other.cancel()
                    for index, outcome in results:
                        outcomes[index] = outcome
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        if stopped is not None:  # the written are kept: their state is saved before the run stops
            raise WriteStopped(str(stopped), [
                o if o is not None else WriteOutcome(c, ok=False, error=str(stopped), key=c.key)
                for c, o in zip(changes, outcomes, strict=True)]) from None
        return [o for o in outcomes if o is not None]

    def convert(self, changes: Sequence[Change]) -> list[WriteOutcome]:
        """``prepare`` of every change, nothing sent: the refusals ``write`` would report
        before sending (a value that is no GUID, a decimal no JSON number holds, …), the
        others a success."""
        outcomes = []
        for index, change in enumerate(changes):
            try:
                self.prepare(index, change)
            except ValueError as exc:  # (as ``write`` reports it)
                outcomes.append(WriteOutcome(change, ok=False, error=str(exc), key=change.key))
                continue
            outcomes.append(WriteOutcome(change, ok=True, key=change.key))
        return outcomes

    def _one_by_one(self, chunk: list[Prepared]) -> list[tuple[int, WriteOutcome]]:
        """Each change of a change set alone; _Stopped (with those done) when the service
        stops answering."""
        done: list[tuple[int, WriteOutcome]] = []
        for prepared in chunk:
            halted = self._halted()
            if halted is not None:
                raise _Stopped(halted, done)
            try:
                done.append(self._send_one(prepared))
            except ConnectError as exc:
                raise _Stopped(exc, done) from None
        return done

    def _halted(self) -> ConnectError | None:
        """Why no change set or item may go out any more (None: they may)."""
        if self._halt is None and self.stop is not None and self.stop.is_set():
            return StopAsked()
        return self._halt

    def _failed_alone(self, exc: HttpError | None) -> None:
        """Count an item sent alone: a 5xx (``exc``) in a row, or any other answer (None); stop
        the write once ``FAILING_IN_A_ROW`` failed so."""
        with self._lock:
            if exc is None or exc.status < 500:
                self._failing = 0
                return
            self._failing += 1
            if self._failing >= FAILING_IN_A_ROW and self._halt is None:
                said = exc.service_message.rstrip(".")
                why = f"{exc.status} ({said})" if said else str(exc.status)
                self._halt = ConnectError(
                    f"{safe_url(self.root)}: writes keep failing with {why}; stopped after "
                    f"{self._failing} items in a row failed, each retried: try again later")

    # -- building requests ----------------------------------------------------------------------

    def prepare(self, index: int, change: Change) -> Prepared | None:
        """The request for one change (None: nothing to send)."""
        key = dict(change.key)
        made_key = change.op == ChangeOp.CREATE and self._fill_new_key(key)
        url = f"{self.root}{self.schema.entity_set}({key_literal(key, self.schema)})"
        if change.op == ChangeOp.DELETE:
            return Prepared(index, change, BatchRequest("DELETE", url), key)
        body = self.body(change.values, key)
        headers = {"Content-Type": "application/json"}
        if change.op == ChangeOp.UPDATE:
            if not body:
                return None
            headers["If-Match"] = change.version or "*"
        elif self.partial:
            headers["If-None-Match"] = "*"
        return Prepared(index, change, BatchRequest("PATCH", url, headers, dumps(body)), key,
                        made_key)

    def _fill_new_key(self, key: Record) -> bool:
        """Give a create's missing GUID key columns a new GUID; whether any was made."""
        made = False
        for name in self.schema.key:
            if key.get(name) is None:
                column = self.schema.column(name)
                if column is None or column.type != ColumnType.GUID:
                    raise ChangeRejected(f"a create needs a value for the key column '{name}'")
                key[name] = str(uuid.uuid4())
                made = True
        return made

    def body(self, values: Record, key: Record) -> dict[str, Any]:
        """The JSON body: key and read-only columns left out, lookups as @odata.bind."""
        body: dict[str, Any] = {}
        for name, value in values.items():
            if name in key or name in self.schema.key:
                continue
            if name.endswith("@odata.bind"):
                body[name] = value
                continue
            column = self.schema.column(name)
            if column is None:
                raise ChangeRejected(f"{self.schema.entity_set} has no column '{name}'")
            if column.lookup_target and name in self.schema.navigation:
                nav = self.schema.navigation[name]
                body[f"{nav}@odata.bind"] = (
                    None if value is None
                    else f"/{column.lookup_target}({guid_text(name, value)})"
                )
                continue
            if column.read_only:
                if name not in self._dropped:
                    self._dropped.add(name)
                    self.log(f"{self.schema.entity_set}.{name} is read-only; not written")
                continue
            body[name] = (guid_text(name, value) if column.type == ColumnType.GUID
                          and value is not None else to_json(value))
        return body

    # -- sending ----------------------------------------------------------------------------------

    def _send_changeset(self, chunk: list[Prepared]) -> list[tuple[int, WriteOutcome]]:
        halted = self._halted()
        if halted is not None:
            raise _Stopped(halted, [])
        content_type, payload = encode_batch([[p.request for p in chunk]])
        url = self.root + "$batch"
        try:
            response = self.http.request(
                "POST", url, headers={"Content-Type": content_type}, data=payload,
                allow=range(400, 500),
            )
        except HttpError as exc:
            self.log(f"$batch of {len(chunk)} failed ({exc.status}); sending them one by one")
            return self._one_by_one(chunk)
        except StopAsked:  # (a wait to retry it ended by the stop: its items are not sent)
            raise
        except ConnectError as exc:
            self.log(f"$batch of {len(chunk)} failed ({exc}); sending them one by one")
            return self._one_by_one(chunk)
        if response.status_code == 401:  # refused, and renewing the sign-in failed: no item's
            raise self.http.error("POST", url, response)  # own failure; every one would meet it
        parts: list[BatchResponse] = []
        if response.status_code < 300:
            try:
                parts = decode_batch(response.headers.get("Content-Type", ""), response.content)
            except BatchFormatError as exc:
                self.log(f"unreadable $batch response ({exc}); sending them one by one")
        if len(parts) == len(chunk) and all(p.ok for p in parts):
            return [(p.index, WriteOutcome(p.change, ok=True, key=p.key)) for p in chunk]
        failed = next((p for p in parts if not p.ok), None)
        why = f"{failed.status}" if failed else str(response.status_code)
        self.log(f"a change set of {len(chunk)} was rolled back ({why}); sending them one by one")
        return self._one_by_one(chunk)

    def _send_one(self, prepared: Prepared) -> tuple[int, WriteOutcome]:
        request = prepared.request
        change = prepared.change
        try:
            response = self.http.request(
                request.method, request.url, headers=request.headers, data=request.body,
                allow=(404, 412) if "If-None-Match" in request.headers or change.version else
                (404,),
            )
        except HttpError as exc:  # the service answered: this item's own failure
            if exc.status == 401:  # (but a sign-in that cannot be renewed: every item's)
                raise
            self._failed_alone(exc)  # (and a 5xx for item after item: the service's)
            # a 5xx may come from a gateway after the service created the record
            unsure = exc.status >= 500 and change.op == ChangeOp.CREATE
            return prepared.index, WriteOutcome(change, ok=False, error=str(exc), key=prepared.key,
                                                unsure=unsure)
        # (any other ConnectError, no answer after every retry: the service is gone, stops the
        # write: the next item alone would wait through the same retries, and so on for each)
        self._failed_alone(None)
        if response.status_code in (404, 412) and change.op != ChangeOp.DELETE:
            return prepared.index, self._refused(prepared, response)
        return prepared.index, WriteOutcome(change, ok=True, key=prepared.key)

    def _refused(self, prepared: Prepared, response: requests.Response) -> WriteOutcome:
        """A create or update answered 412 or 404, told apart by whether the record it names is
        in Dataverse: a 412 to a create of a record that is (If-None-Match: *) was made by an
        earlier try of this write when its GUID was made for it (a change set whose answer was
        lost, a 5xx after the service made it), else the select hides it; a 404 to an update of
        a record that is not was deleted meanwhile. Any other (a duplicate alternate key, a
        lookup to a missing record) fails with the service's message."""
        change, key = prepared.change, prepared.key
        if response.status_code == 412 and change.op == ChangeOp.UPDATE and change.version:
            if self._holds(prepared):  # (an earlier try of this write did it: its answer lost)
                return WriteOutcome(change, ok=True, key=key)
            return WriteOutcome(change, ok=False, key=key, changed=True, error=(
                "changed in Dataverse since this run read it; not written over (the next run "
                "compares it again)"))
        try:
            found = self._exists(prepared)
        except HttpError as exc:  # (a 401 that cannot be renewed is every item's: the write's)
            if exc.status == 401:
                raise
            return WriteOutcome(change, ok=False, error=str(exc), key=key,
                                unsure=prepared.made_key)
        record = f"{self.schema.entity_set}({key_literal(key, self.schema)})"
        if response.status_code == 412 and found and prepared.made_key:
            return WriteOutcome(change, ok=True, key=key)
        if response.status_code == 412 and found:
            error = (f"{record} is in Dataverse but not in the select ($filter or $top leaves it "
                     "out); it is not written over")
        elif response.status_code == 404 and not found and change.op == ChangeOp.UPDATE:
            return WriteOutcome(change, ok=False, error=f"{record} no longer exists", key=key,
                                gone=True)
        else:
            error = str(self.http.error(prepared.request.method, prepared.request.url, response))
        return WriteOutcome(change, ok=False, error=error, key=key)

    def _holds(self, prepared: Prepared) -> bool:
        """Whether the record an update names holds every value the update sends: an earlier try
        of it wrote them (a change set Dataverse carried out whose answer was lost: a 5xx from a
        gateway, a dropped connection), which changed its ETag, so that this try met 412. False
        when a value differs or cannot be told (the record is then taken as changed by another)."""
        sent = loads(prepared.request.body or "{}")
        columns = {nav: name for name, nav in self.schema.navigation.items()}
        wanted: dict[str, Any] = {}
        for name, value in sent.items():
            if name.endswith("@odata.bind"):
                column = columns.get(name.removesuffix("@odata.bind"))
                if column is None or not (value is None or str(value).endswith(")")):
                    return False
                wanted[column] = None if value is None else \
                    str(value).rsplit("(", 1)[-1][:-1].lower()
            else:
                wanted[name] = value
        if not wanted:
            return False
        url = f"{prepared.request.url}?$select={','.join(wanted)}"
        try:
            record = self.http.get_json(url)
        except HttpError as exc:  # (a 401 that cannot be renewed is every item's: the write's)
            if exc.status == 401:
                raise
            return False

        def holds(name: str, value: Any) -> bool:
            if name not in record:
                return False
            got = record[name]
            if name in self.schema.navigation and isinstance(got, str) and isinstance(value, str):
                return got.lower() == value.lower()  # (a GUID, in whichever case)
            return bool(got == value)

        return isinstance(record, dict) and all(holds(n, v) for n, v in wanted.items())

    def _exists(self, prepared: Prepared) -> bool:
        """Whether the record a write names is in the entity set (read by its key)."""
        url = f"{prepared.request.url}?$select={','.join(self.schema.key)}"
        return self.http.request("GET", url, allow=(404,)).status_code != 404
