"""The totals view in a database: versioned tables beside the library's tracking table.

One class per store, sharing their SQL: the SQLite view subclasses the library's
``SQLiteTrackingRecorder`` and the PostgreSQL one its ``PostgresTrackingRecorder``,
so rows and the tracked position are written in one transaction, and each event is
applied exactly once, also after a crash.

Every build of the view is a *version* with its own tables (``totals_v3_years``…).
``rebuild`` fills a new version beside the current one and then switches readers in
one UPDATE; a reader always asks which version is current first, inside its own
read, so it never sees a half-built view. Hours are stored as canonical decimal
text: the view never sums in SQL, where SQLite would round through floats.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any

from eventsourcing.persistence import Tracking

from ce_ledger.domain.values import canonical
from ce_ledger.storage import sqlite as sqlite_store
from ce_ledger.domain.values import canonical_code
from projections.rows import ActivityRow, Changes, PersonRow, ProgrammeRow, YearRow

APPLICATION = "ledger"  # the application whose log the view follows
# The shape of a version's tables. A version built to another shape is rebuilt at start-up,
# as is one built under another rule-set (``TotalsProjection.ensure_current``).
# 2: activity rows say where their events are (recorded/decision/void versions);
# 3: a certificate's provider_code in one spelling (reading 16).
SCHEMA = 7


def build_digest(rule_set_digest: str) -> str:
    """What a version records of how it was built: the rule-set's digest and the table shape."""
    return f"{rule_set_digest}/schema-{SCHEMA}"

PEOPLE_COLUMNS = (
    "professional_id", "masked_id", "name", "series_name", "requires_foreign_language_exam",
    "requires_computer_exam", "own_ce_regulation", "employer_unit", "registered_on",
)
ACTIVITY_COLUMNS = (
    "activity_id", "professional_id", "kind", "year", "credited_as", "credited", "pending",
    "recorded_topic", "recorded_state", "decision_topic", "decision_state", "void_state",
    "provider_code", "programme_code", "occurred_on", "status", "recorded_version", "decision_version",
    "void_version",
)
PROGRAMME_COLUMNS = (
    "code", "title", "kind", "year", "planned_classes", "planned_trainees", "provider_code",
)
UNIT_COLUMNS = ("code", "name")
PLACE_COLUMNS = ("professional_id", "position", "unit", "series_name")
VERDICT_COLUMNS = ("verdict_id", "professional_id", "evaluation_year", "level", "issued_by", "passed", "position",
                   "weight")
YEAR_COLUMNS = (
    "professional_id", "year", "public_course", "specialty", "study_tour", "teaching",
    "pending_count", "pending_hours",
)
DECIMALS = {"credited", "pending", "public_course", "specialty", "study_tour", "teaching", "pending_hours"}


def tracking_name(version: int) -> str:
    """Each version tracks its own position in the ledger's log."""
    return f"{APPLICATION}@v{version}"


class NoView(LookupError):
    """No version of the view has been built yet."""



# Every table of a view version: its name, its columns, its key (the order a digest reads it in).
VERSION_TABLES = (
    ("people", PEOPLE_COLUMNS, "professional_id"), ("activities", ACTIVITY_COLUMNS, "activity_id"),
    ("years", YEAR_COLUMNS, "professional_id, year"), ("programmes", PROGRAMME_COLUMNS, "code"),
    ("units", UNIT_COLUMNS, "code"), ("places", PLACE_COLUMNS, "professional_id, position"),
    ("verdicts", VERDICT_COLUMNS, "verdict_id"),
)

class TotalsView:
    """Shared SQL; subclasses say how to name a table, write a parameter, and lock."""

    placeholder = "%s"

    # -- dialect -----------------------------------------------------------------------

    def table(self, name: str) -> str:
        raise NotImplementedError

    def transaction(self, *, commit: bool) -> Any:
        return self.datastore.transaction(commit=commit)  # type: ignore[attr-defined]

    def lock(self, cursor: Any, version: int) -> None:
        """Serialise batch writers of one version (see ``Postgres``); SQLite has one writer."""

    def bulk_settings(self, cursor: Any) -> None:
        """Transaction settings for writing view rows (see ``Postgres``)."""

    def sql(self, text: str) -> str:
        return text.replace("%s", self.placeholder)

    def in_list(self, values: Sequence[Any]) -> str:
        return "(" + ",".join([self.placeholder] * len(values)) + ")"

    # -- versions ----------------------------------------------------------------------

    def create_table(self) -> None:
        super().create_table()  # type: ignore[misc]  # the library's tracking table
        self.ensure_versions_table()

    def ensure_versions_table(self) -> None:
        with self.transaction(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table('totals_versions')} ("
                "version INTEGER PRIMARY KEY, rule_set TEXT NOT NULL, digest TEXT NOT NULL, "
                "state TEXT NOT NULL, created_at TEXT NOT NULL)"
            )

    def create_version(self, rule_set_id: str, digest: str) -> int:
        """A new, empty version in state 'building'."""
        with self.transaction(commit=True) as c:
            c.execute(f"SELECT MAX(version) AS v FROM {self.table('totals_versions')}")
            version = (c.fetchone()["v"] or 0) + 1
            p = f"totals_v{version}"
            c.execute(
                f"CREATE TABLE {self.table(p + '_people')} ("
                "professional_id TEXT PRIMARY KEY, masked_id TEXT, name TEXT, series_name TEXT, "
                "requires_foreign_language_exam INTEGER, requires_computer_exam INTEGER, "
                "own_ce_regulation INTEGER, employer_unit TEXT, registered_on TEXT)"
            )
            c.execute(f"CREATE INDEX {p}_people_unit ON {self.table(p + '_people')} (employer_unit)")
            c.execute(
                f"CREATE TABLE {self.table(p + '_activities')} ("
                "activity_id TEXT PRIMARY KEY, professional_id TEXT NOT NULL, kind TEXT NOT NULL, "
                "year INTEGER NOT NULL, credited_as TEXT, credited TEXT NOT NULL, pending TEXT NOT NULL, "
                "recorded_topic TEXT, recorded_state TEXT, decision_topic TEXT, decision_state TEXT, "
                "void_state TEXT, provider_code TEXT, programme_code TEXT, occurred_on TEXT, status TEXT, "
                "recorded_version INTEGER, decision_version INTEGER, void_version INTEGER)"
            )
            c.execute(
                f"CREATE INDEX {p}_activities_programme ON {self.table(p + '_activities')} (programme_code)"
            )
            c.execute(
                f"CREATE TABLE {self.table(p + '_programmes')} ("
                "code TEXT PRIMARY KEY, title TEXT NOT NULL, kind TEXT NOT NULL, year INTEGER NOT NULL, "
                "planned_classes INTEGER, planned_trainees INTEGER NOT NULL, provider_code TEXT NOT NULL)"
            )
            c.execute(f"CREATE TABLE {self.table(p + '_units')} (code TEXT PRIMARY KEY, name TEXT NOT NULL)")
            # The spot check's population (audit/sampling.py): issued verdicts, and where each person
            # stood (unit, series) from which place in the log on.
            c.execute(
                f"CREATE TABLE {self.table(p + '_places')} (professional_id TEXT NOT NULL, position INTEGER NOT NULL, "
                "unit TEXT NOT NULL, series_name TEXT NOT NULL, PRIMARY KEY (professional_id, position))"
            )
            c.execute(
                f"CREATE TABLE {self.table(p + '_verdicts')} (verdict_id TEXT PRIMARY KEY, professional_id TEXT NOT NULL, "
                "evaluation_year INTEGER NOT NULL, level TEXT NOT NULL, issued_by TEXT NOT NULL, passed INTEGER NOT NULL, "
                "position INTEGER NOT NULL, weight INTEGER NOT NULL)"
            )
            c.execute(f"CREATE INDEX {p}_verdicts_year ON {self.table(p + '_verdicts')} (evaluation_year, position)")
            c.execute(f"CREATE INDEX {p}_verdicts_person ON {self.table(p + '_verdicts')} "
                      "(professional_id, evaluation_year, level, position)")
            c.execute(
                f"CREATE INDEX {p}_activities_provider ON {self.table(p + '_activities')} (provider_code)"
            )
            c.execute(
                f"CREATE INDEX {p}_activities_person ON {self.table(p + '_activities')} "
                "(professional_id, kind)"
            )
            # The claims queue: only pending claims are indexed (few, beside millions decided).
            c.execute(
                f"CREATE INDEX {p}_activities_pending ON {self.table(p + '_activities')} "
                "(occurred_on, activity_id) WHERE status = 'pending'"
            )
            c.execute(
                f"CREATE TABLE {self.table(p + '_years')} ("
                "professional_id TEXT NOT NULL, year INTEGER NOT NULL, public_course TEXT NOT NULL, "
                "specialty TEXT NOT NULL, study_tour TEXT NOT NULL, teaching TEXT NOT NULL, "
                "pending_count INTEGER NOT NULL, pending_hours TEXT NOT NULL, "
                "PRIMARY KEY (professional_id, year))"
            )
            c.execute(
                self.sql(
                    f"INSERT INTO {self.table('totals_versions')} VALUES (%s, %s, %s, 'building', %s)"
                ),
                (version, rule_set_id, digest, datetime.now(UTC).isoformat()),
            )
        return version

    def switch_to(self, version: int) -> None:
        """Make ``version`` the one readers see: one statement, so one step."""
        with self.transaction(commit=True) as c:
            c.execute(
                self.sql(
                    f"UPDATE {self.table('totals_versions')} SET state = CASE "
                    "WHEN version = %s THEN 'current' WHEN state = 'current' THEN 'retired' "
                    "ELSE state END"
                ),
                (version,),
            )

    def drop_retired(self, keep: int = 0) -> list[int]:
        """Drop the tables of retired versions, all but the ``keep`` newest (a rollback asked for);
        their rows in ``totals_versions`` stay, marked 'dropped', as the view's history."""
        with self.transaction(commit=True) as c:
            c.execute(f"SELECT version FROM {self.table('totals_versions')} WHERE state = 'retired' ORDER BY version DESC")
            retired = [row["version"] for row in c.fetchall()][keep:]
            for version in retired:
                for part, _, _ in VERSION_TABLES:
                    c.execute(f"DROP TABLE IF EXISTS {self.table(f'totals_v{version}_{part}')}")
                c.execute(self.sql(f"UPDATE {self.table('totals_versions')} SET state = 'dropped' WHERE version = %s"),
                          (version,))
        return retired

    def built_with(self) -> str:
        """How the current version was built (``build_digest``)."""
        with self.transaction(commit=False) as c:
            c.execute(f"SELECT digest FROM {self.table('totals_versions')} WHERE state = 'current'")
            row = c.fetchone()
        return row["digest"] if row else ""

    def current(self, cursor: Any = None) -> tuple[int, str]:
        """The version readers use, and its rule-set id."""
        with self._cursor(cursor) as c:
            c.execute(f"SELECT version, rule_set FROM {self.table('totals_versions')} WHERE state = 'current'")
            row = c.fetchone()
        if row is None:
            raise NoView("the totals view has not been built: run `ce-ledger rebuild`")
        return row["version"], row["rule_set"]

    @contextmanager
    def _cursor(self, cursor: Any) -> Iterator[Any]:
        if cursor is not None:
            yield cursor
        else:
            with self.transaction(commit=False) as c:
                yield c

    def position(self, version: int) -> int:
        return self.max_tracking_id(tracking_name(version)) or 0  # type: ignore[attr-defined]

    def wait_for(self, position: int, timeout: float) -> None:
        """Block until the current version has applied ``position`` (read-your-writes)."""
        version, _ = self.current()
        self.wait(tracking_name(version), position, timeout=timeout)  # type: ignore[attr-defined]

    # -- one batch, in one transaction ----------------------------------------------------

    def prefetch(self, c: Any, version: int, changes: Changes, pids: set[str], aids: set[str]) -> None:
        p = f"totals_v{version}"
        if pids:
            for row in self._select_in(c, p + "_people", "professional_id", list(pids)):
                changes.people.setdefault(row["professional_id"], PersonRow(**row))
            for row in self._select_in(c, p + "_years", "professional_id", list(pids)):
                key = (row["professional_id"], row["year"])
                changes.years.setdefault(key, YearRow(**self._decimals(row)))
        if aids:
            for row in self._select_in(c, p + "_activities", "activity_id", list(aids)):
                changes.activities.setdefault(row["activity_id"], ActivityRow(**self._decimals(row)))

    def teaching_of(self, c: Any, version: int, pids: set[str]) -> list[ActivityRow]:
        """These people's teaching rows: what a corrected series credits again."""
        rows = self._select_in(c, f"totals_v{version}_activities", "professional_id", sorted(pids))
        return [ActivityRow(**self._decimals(row)) for row in rows if row["kind"] == "teaching"]

    def provider_activities(self, c: Any, version: int, codes: set[str]) -> list[ActivityRow]:
        """The certificates of these providers: what a decision on a provider re-credits."""
        rows = self._select_in(c, f"totals_v{version}_activities", "provider_code", sorted(codes))
        return [ActivityRow(**self._decimals(row)) for row in rows]

    def write(self, c: Any, version: int, changes: Changes, tracking: Tracking) -> None:
        p = f"totals_v{version}"
        self._upsert(c, p + "_people", PEOPLE_COLUMNS, ("professional_id",),
                     (changes.people[k] for k in changes.dirty_people))
        self._upsert(c, p + "_activities", ACTIVITY_COLUMNS, ("activity_id",),
                     (changes.activities[k] for k in changes.dirty_activities))
        self._upsert(c, p + "_years", YEAR_COLUMNS, ("professional_id", "year"),
                     (changes.years[k] for k in changes.dirty_years))
        self._upsert(c, p + "_programmes", PROGRAMME_COLUMNS, ("code",), changes.programmes.values())
        self._upsert(c, p + "_units", UNIT_COLUMNS, ("code",), changes.units.values())
        self._insert(c, p + "_places", PLACE_COLUMNS, changes.places)
        self._insert(c, p + "_verdicts", VERDICT_COLUMNS, changes.verdicts)
        self.track(c, tracking)  # type: ignore[attr-defined]

    def insert_all(self, version: int, changes: Changes) -> None:
        """Add rows to a version being built (see ``TotalsProjection.rebuild``)."""
        p = f"totals_v{version}"
        with self.transaction(commit=True) as c:
            self.bulk_settings(c)
            self._insert(c, p + "_people", PEOPLE_COLUMNS, changes.people.values())
            self._insert(c, p + "_activities", ACTIVITY_COLUMNS, changes.activities.values())
            self._insert(c, p + "_years", YEAR_COLUMNS, changes.years.values())
            self._insert(c, p + "_programmes", PROGRAMME_COLUMNS, changes.programmes.values())
            self._upsert(c, p + "_units", UNIT_COLUMNS, ("code",), changes.units.values())
            self._insert(c, p + "_places", PLACE_COLUMNS, changes.places)
            self._insert(c, p + "_verdicts", VERDICT_COLUMNS, changes.verdicts)

    def set_position(self, tracking: Tracking) -> None:
        with self.transaction(commit=True) as c:
            self.track(c, tracking)  # type: ignore[attr-defined]

    def _insert(self, c: Any, table: str, columns: Sequence[str], rows: Iterable[Any]) -> None:
        values = self._values(columns, rows)
        if values:
            c.executemany(
                f"INSERT INTO {self.table(table)} ({', '.join(columns)}) "
                f"VALUES ({', '.join([self.placeholder] * len(columns))})",
                values,
            )

    def _upsert(self, c: Any, table: str, columns: Sequence[str], key: Sequence[str], rows: Iterable[Any]) -> None:
        values = self._values(columns, rows)
        if values:
            self._upsert_values(c, table, columns, key, values)

    def _upsert_values(self, c: Any, table: str, columns: Sequence[str], key: Sequence[str], values: list[tuple]) -> None:
        updates = ", ".join(f"{col} = excluded.{col}" for col in columns if col not in key)
        c.executemany(
            f"INSERT INTO {self.table(table)} ({', '.join(columns)}) "
            f"VALUES ({', '.join([self.placeholder] * len(columns))}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}",
            values,
        )

    @staticmethod
    def _values(columns: Sequence[str], rows: Iterable[Any]) -> list[tuple]:
        get = attrgetter(*columns)
        positions = [i for i, col in enumerate(columns) if col in DECIMALS]
        values = []
        for row in rows:
            value = list(get(row))
            for i in positions:
                value[i] = canonical(value[i])
            values.append(tuple(value))
        return values

    @staticmethod
    def _decimals(row: Any) -> dict[str, Any]:
        return {k: Decimal(v) if k in DECIMALS else v for k, v in dict(row).items()}

    def _select_in(self, c: Any, table: str, column: str, values: list[Any]) -> list[Any]:
        rows: list[Any] = []
        for i in range(0, len(values), 900):  # stay under SQLite's variable limit
            chunk = values[i : i + 900]
            c.execute(f"SELECT * FROM {self.table(table)} WHERE {column} IN {self.in_list(chunk)}", chunk)
            rows.extend(c.fetchall())
        return rows

    # -- reading ---------------------------------------------------------------------------

    def read(self, pids: list[str], from_year: int, to_year: int) -> tuple[str, dict[str, Any]]:
        """Everything a window query needs for some people, read in one transaction:
        the rule-set id, and per person their row, year rows and window-wide activities."""
        with self.transaction(commit=False) as c:
            version, rule_set = self.current(c)
            p = f"totals_v{version}"
            out: dict[str, Any] = {pid: {"person": None, "years": [], "window_kinds": []} for pid in pids}
            for row in self._select_in(c, p + "_people", "professional_id", pids):
                out[row["professional_id"]]["person"] = PersonRow(**row)
            for i in range(0, len(pids), 900):
                chunk = pids[i : i + 900]
                c.execute(
                    self.sql(
                        f"SELECT * FROM {self.table(p + '_years')} WHERE professional_id IN "
                        f"{self.in_list(chunk)} AND year BETWEEN %s AND %s"
                    ),
                    [*chunk, from_year, to_year],
                )
                for row in c.fetchall():
                    out[row["professional_id"]]["years"].append(YearRow(**self._decimals(row)))
                c.execute(
                    f"SELECT * FROM {self.table(p + '_activities')} WHERE professional_id IN "
                    f"{self.in_list(chunk)} AND kind IN ('exam_pass', 'degree')",
                    chunk,
                )
                for row in c.fetchall():
                    out[row["professional_id"]]["window_kinds"].append(ActivityRow(**self._decimals(row)))
        return rule_set, out

    def certificates_by_provider(self) -> list[tuple[str, int, int]]:
        """Each CE base code the view's certificates name (one spelling), with how many
        certificates and people: what the list of bases without a record starts from."""
        with self.transaction(commit=False) as c:
            version, _ = self.current(c)
            c.execute(
                f"SELECT provider_code AS code, COUNT(*) AS certificates, COUNT(DISTINCT professional_id) AS people "
                f"FROM {self.table(f'totals_v{version}_activities')} WHERE provider_code IS NOT NULL "
                "AND status <> 'voided' GROUP BY provider_code ORDER BY provider_code"
            )
            return [(row["code"], row["certificates"], row["people"]) for row in c.fetchall()]

    def programme_report(self, year: int) -> tuple[list[ProgrammeRow], dict[str, tuple[int, int]], dict[str, int]]:
        """A year's programmes; per programme, the classes held and distinct trainees; per
        kind, the distinct trainees. Voided certificates (fraud) attended nothing."""
        with self.transaction(commit=False) as c:
            version, _ = self.current(c)
            p = f"totals_v{version}"
            c.execute(self.sql(f"SELECT * FROM {self.table(p + '_programmes')} WHERE year = %s ORDER BY kind, code"), (year,))
            programmes = [ProgrammeRow(**row) for row in c.fetchall()]
            held = (
                f"FROM {self.table(p + '_activities')} a JOIN {self.table(p + '_programmes')} g "
                "ON a.programme_code = g.code WHERE g.year = %s AND a.status <> 'voided'"
            )
            c.execute(
                self.sql(
                    "SELECT g.code AS code, COUNT(DISTINCT a.occurred_on) AS classes, "
                    f"COUNT(DISTINCT a.professional_id) AS trainees {held} GROUP BY g.code"
                ),
                (year,),
            )
            by_programme = {row["code"]: (row["classes"], row["trainees"]) for row in c.fetchall()}
            c.execute(
                self.sql(f"SELECT g.kind AS kind, COUNT(DISTINCT a.professional_id) AS trainees {held} GROUP BY g.kind"),
                (year,),
            )
            by_kind = {row["kind"]: row["trainees"] for row in c.fetchall()}
        return programmes, by_programme, by_kind

    async def read_async(self, pids: list[str], from_year: int, to_year: int) -> tuple[str, dict[str, Any]]:
        """``read`` from async code: SQLite's driver blocks, so on a worker thread."""
        from anyio.to_thread import run_sync

        return await run_sync(self.read, pids, from_year, to_year)

    async def aclose(self) -> None:
        """Close what ``read_async`` opened (nothing, here)."""

    def pending_claims(self, unit: str | None, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """A page of claims awaiting a decision (oldest first), in one unit or everywhere, with the
        person each is for; and how many there are in all."""
        with self.transaction(commit=False) as c:
            version, _ = self.current(c)
            a, p = self.table(f"totals_v{version}_activities"), self.table(f"totals_v{version}_people")
            where = "a.status = 'pending'" + (" AND p.employer_unit = %s" if unit is not None else "")
            args: list[Any] = [unit] if unit is not None else []
            c.execute(self.sql(f"SELECT COUNT(*) AS n FROM {a} a JOIN {p} p ON p.professional_id = a.professional_id "
                               f"WHERE {where}"), args)
            total = c.fetchone()["n"]
            c.execute(
                self.sql(
                    "SELECT a.activity_id AS activity_id, a.professional_id AS professional_id, a.occurred_on AS "
                    "occurred_on, a.pending AS hours, a.provider_code AS provider_code, p.name AS name, "
                    f"p.masked_id AS masked_id, p.employer_unit AS employer_unit FROM {a} a JOIN {p} p "
                    f"ON p.professional_id = a.professional_id WHERE {where} "
                    "ORDER BY a.occurred_on, a.activity_id LIMIT %s OFFSET %s"
                ),
                [*args, limit, offset],
            )
            return [dict(row) for row in c.fetchall()], total

    def search_people(self, text: str, unit: str | None, limit: int) -> list[dict[str, Any]]:
        """People whose name contains ``text`` (in one unit, or everywhere): at most ``limit``.
        A scan of the people table (one row a person, not a row an activity), bounded by the limit."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self.transaction(commit=False) as c:
            version, _ = self.current(c)
            people = self.table(f"totals_v{version}_people")
            where = "name LIKE %s ESCAPE '\\'" + (" AND employer_unit = %s" if unit is not None else "")
            c.execute(
                self.sql(f"SELECT professional_id, name, masked_id, employer_unit, series_name FROM {people} "
                         f"WHERE {where} ORDER BY name, professional_id LIMIT %s"),
                [pattern, *([unit] if unit is not None else []), limit],
            )
            return [dict(row) for row in c.fetchall()]

    def unit_names(self, codes: Sequence[str]) -> dict[str, str]:
        """The registered names of these units, by canonical code (units never named are absent)."""
        wanted = sorted({canonical_code(code) for code in codes})
        if not wanted:
            return {}
        with self.transaction(commit=False) as c:
            version, _ = self.current(c)
            rows = self._select_in(c, f"totals_v{version}_units", "code", wanted)
            return {row["code"]: row["name"] for row in rows}

    def units(self) -> list[dict[str, Any]]:
        """Every unit with staff, or a name: its code, name (or None) and how many people it
        employs. One row a unit (thousands in a region), grouped from the people table's index."""
        with self.transaction(commit=False) as c:
            version, _ = self.current(c)
            c.execute(
                f"SELECT employer_unit, COUNT(*) AS staff FROM {self.table(f'totals_v{version}_people')} "
                "GROUP BY employer_unit"
            )
            staff: dict[str, int] = {}
            for row in c.fetchall():
                code = canonical_code(row["employer_unit"])
                staff[code] = staff.get(code, 0) + row["staff"]
            c.execute(f"SELECT code, name FROM {self.table(f'totals_v{version}_units')}")
            names = {row["code"]: row["name"] for row in c.fetchall()}
        return [
            {"code": code, "name": names.get(code), "staff": staff.get(code, 0)}
            for code in sorted(staff.keys() | names.keys())
        ]

    # -- a spot check's population (audit/sampling.py) ------------------------------------------

    def _population(self, version: int, population: Any, position: int) -> tuple[str, list[Any]]:
        """The verdicts in force as of ``position`` (the last issued for each person, level and year),
        each with the unit and series where the person stood at the verdict's place in the log."""
        v, pl = self.table(f"totals_v{version}_verdicts"), self.table(f"totals_v{version}_places")
        where = ["v.evaluation_year = %s", "v.position <= %s"]
        args: list[Any] = [population.evaluation_year, position]
        if population.level is not None:
            where.append("v.level = %s")
            args.append(population.level.value)
        if population.committee is not None:
            where.append("v.issued_by = %s")
            args.append(population.committee)
        outer, outer_args = [], []
        if population.unit is not None:
            outer.append("unit = %s")
            outer_args.append(canonical_code(population.unit))
        if population.series is not None:
            outer.append("series_name = %s")
            outer_args.append(population.series)
        inner = (
            f"SELECT v.verdict_id AS verdict_id, pl.unit AS unit, pl.series_name AS series_name, v.weight AS weight "
            f"FROM {v} v "
            f"JOIN {pl} pl ON pl.professional_id = v.professional_id AND pl.position = "
            f"(SELECT MAX(p2.position) FROM {pl} p2 WHERE p2.professional_id = v.professional_id "
            "AND p2.position < v.position) "
            f"WHERE {' AND '.join(where)} AND v.position = (SELECT MAX(v2.position) FROM {v} v2 "
            "WHERE v2.professional_id = v.professional_id AND v2.evaluation_year = v.evaluation_year "
            "AND v2.level = v.level AND v2.position <= %s)"
        )
        args.append(position)
        text = f"SELECT verdict_id, unit, series_name, weight FROM ({inner}) population"
        if outer:
            text += " WHERE " + " AND ".join(outer)
        return self.sql(text), [*args, *outer_args]

    def reached(self) -> int:
        """The log position the current version has applied."""
        return self.position(self.current()[0])

    def unit_known(self, code: str) -> bool:
        """A unit with staff (now) or a name in the register."""
        key = canonical_code(code)
        if self.unit_names([key]):
            return True
        return any(canonical_code(u["code"]) == key for u in self.units() if u["staff"])

    @contextmanager
    def population(self, population: Any, position: int) -> Iterator[tuple[dict[tuple[str, str], int], Iterator[tuple[str, str, str]]]]:
        """The population's strata (unit, series → how many verdicts), and its rows (verdict id, unit,
        series) streamed, never all held at once. The look-ups that find each verdict in force and
        its person's place run once, into a temporary table (on disk, dropped with the transaction),
        which the counting and the streaming then read."""
        with self.transaction(commit=False) as c:
            version, _ = self.current(c)
            text, args = self._population(version, population, position)
            self._temporary(c, "spot_population", text, args)
            c.execute("SELECT unit, series_name, COUNT(*) AS n FROM spot_population GROUP BY unit, series_name")
            strata = {(row["unit"], row["series_name"]): row["n"] for row in c.fetchall()}
            rows = (
                (row["verdict_id"], row["unit"], row["series_name"], row["weight"])
                for row in self._stream(c, "SELECT verdict_id, unit, series_name, weight FROM spot_population", [])
            )
            yield strata, rows

    def _temporary(self, c: Any, name: str, text: str, args: list[Any]) -> None:
        c.execute(f"DROP TABLE IF EXISTS temp.{name}")
        c.execute(f"CREATE TEMP TABLE {name} AS {text}", args)

    def _stream(self, c: Any, text: str, args: list[Any]) -> Iterator[Any]:
        raw = getattr(c, "sqlite_cursor", c)  # the library's wrapper has no fetchmany; its cursor has
        raw.execute(text, args)  # SQLite's cursor steps through the result as it is fetched
        while rows := raw.fetchmany(2000):
            yield from rows

    def unit_members(self, unit: str) -> list[str]:
        with self.transaction(commit=False) as c:
            version, _ = self.current(c)
            c.execute(
                self.sql(f"SELECT professional_id FROM {self.table(f'totals_v{version}_people')} WHERE employer_unit = %s"),
                (unit,),
            )
            return sorted(r["professional_id"] for r in c.fetchall())

    def digest(self, version: int) -> dict[str, tuple[int, str]]:
        """Per table of a version, its row count and a SHA-256 over its rows in key order: what
        ``ce-ledger rebuild`` compares, reading the rows a page at a time (a whole-store job in
        flat memory; ``dump`` is for tests)."""
        out = {}
        with self.transaction(commit=False) as c:
            for name, columns, key in VERSION_TABLES:
                h, n = hashlib.sha256(), 0
                query = f"SELECT {', '.join(columns)} FROM {self.table(f'totals_v{version}_{name}')} ORDER BY {key}"
                for row in self._stream(c, query, []):
                    h.update(repr(tuple(str(row[col]) for col in columns)).encode())
                    n += 1
                out[name] = (n, h.hexdigest())
        return out

    def dump(self, version: int) -> dict[str, list[tuple]]:
        """Every row of a version, sorted: for comparing two builds."""
        out = {}
        with self.transaction(commit=False) as c:
            for name, columns, _ in VERSION_TABLES:
                c.execute(f"SELECT {', '.join(columns)} FROM {self.table(f'totals_v{version}_{name}')}")
                out[name] = sorted(tuple(r[col] for col in columns) for r in c.fetchall())
        return out


class SQLiteTotalsView(TotalsView, sqlite_store.TrackingRecorder):
    placeholder = "?"

    def table(self, name: str) -> str:
        return name
