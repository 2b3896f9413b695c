"""Labelling a whole log again: `arena label` over the SQL log or a JSONL export.

Each battle is labelled by a labeller (a function BattleRecord -> BattleRecord with a
`version`: the heuristic `arena.labels.label_record`, or the LLM labeller). A battle whose
`labeller_version` already equals the labeller's is left alone unless `force`: running the
command twice changes nothing the second time, and after a labeller upgrade only the battles
labelled by the old one are read again.

In SQL only `battle.labels`, `battle.language` and `battle.labeller_version` are updated, in
batches of `batch_size` battles, one short write transaction each, so a running arena keeps
recording votes; an interrupted run is finished by running it again. A JSONL file is
rewritten whole (a temporary file beside it replaces it at the end, or goes to `out`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import bindparam

from arena.labels import LABELLER_VERSION, label_record
from arena.record import BattleRecord
from arena.store import BattleLog
from arena.store.tables import BattleRow
from arena.transfer.importer import ImportFailed, read_entries


class Labeller(Protocol):
    """Labels one battle; `version` is what the battle's labeller_version becomes."""

    version: str

    def __call__(self, record: BattleRecord) -> BattleRecord: ...


@dataclass
class HeuristicLabeller:
    """arena.labels.label_record as a Labeller."""

    version: str = LABELLER_VERSION

    def __call__(self, record: BattleRecord) -> BattleRecord:
        return label_record(record)


@dataclass
class RelabelReport:
    """Counts of one run: every battle read is either current or labelled; `changed` counts
    the labelled ones whose labels or language differ from what they had."""

    read: int = 0
    current: int = 0
    labelled: int = 0
    changed: int = 0
    label_counts: dict[str, int] = field(default_factory=dict)

    def note(self, before: BattleRecord, after: BattleRecord) -> None:
        self.labelled += 1
        if (before.labels, before.language) != (after.labels, after.language):
            self.changed += 1

    def summary(self, version: str) -> str:
        return (f"read {self.read}, labelled {self.labelled} ({self.changed} changed), "
                f"{self.current} already labelled by {version}")


def _labelled(records: Iterable[BattleRecord], labeller: Labeller, force: bool,
              report: RelabelReport, tick: Callable[[], None]
              ) -> Iterator[tuple[BattleRecord, bool]]:
    """(record as it should be stored, whether it was labelled now) for each record."""
    for record in records:
        report.read += 1
        tick()
        if record.labeller_version == labeller.version and not force:
            report.current += 1
            yield record, False
            continue
        after = labeller(record)
        report.note(record, after)
        yield after, True


def relabel_log(log: BattleLog, labeller: Labeller, *, force: bool = False,
                batch_size: int = 500, progress: bool | None = None) -> RelabelReport:
    """Label every battle of `log` not yet labelled by `labeller` (all with `force`)."""
    report = RelabelReport()
    battle = BattleRow.__table__
    update = (battle.update().where(battle.c.battle_id == bindparam("key"))
              .values(labels=bindparam("labels", type_=battle.c.labels.type),
                      language=bindparam("language"),
                      labeller_version=bindparam("labeller_version")))
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if pending:
            with log.connections.write() as connection:
                connection.execute(update, pending)
            pending.clear()

    with _progress_bar(log.count_battles(), progress) as bar:
        for record, changed in _labelled(log.iter_battles(batch_size=batch_size), labeller,
                                         force, report, lambda: bar.update(1)):
            if changed:
                pending.append({"key": record.battle_id, "labels": record.labels,
                                "language": record.language,
                                "labeller_version": record.labeller_version})
            if len(pending) >= batch_size:
                flush()
        flush()
    return report


def relabel_file(path: Path, labeller: Labeller, *, out: Path | None = None,
                 force: bool = False, progress: bool | None = None) -> RelabelReport:
    """Label the battles of JSONL export `path` (FastChat records are read too and written
    as ours), writing every record to `out` (default: `path` itself, replaced at the end).

    Raises ImportFailed, naming the line, on a record that is not a valid battle.
    """
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file")
    target = out or path
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                         dir=target.parent)
    os.close(handle)
    os.chmod(temporary, 0o644)
    report = RelabelReport()
    try:
        with open(temporary, "w", encoding="utf-8") as stream, \
                _progress_bar(None, progress) as bar:
            for record, _ in _labelled(_records(path), labeller, force, report,
                                       lambda: bar.update(1)):
                stream.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return report


def _records(path: Path) -> Iterator[BattleRecord]:
    for entry in read_entries(path):
        if entry.record is None:
            raise ImportFailed(f"{entry.where}: {entry.problem}")
        yield entry.record


def _progress_bar(total: int | None, show: bool | None):
    from tqdm import tqdm

    visible = sys.stderr.isatty() if show is None else show
    return tqdm(total=total, unit="battle", disable=not visible, file=sys.stderr, leave=False)
