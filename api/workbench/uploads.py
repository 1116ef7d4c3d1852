"""Spreadsheets uploaded in the workbench, kept between the dry run and the confirmation.

An upload is checked first (a dry run records nothing) and imported only when the person confirms,
so the file waits on disk (0600, in a directory of the owner's only: `CE_LEDGER_UPLOAD_DIR`), under a random id bound to the
token that uploaded it, for at most an hour.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

KEEP_SECONDS = 3600
SUFFIXES = (".csv", ".xlsx")


class Uploads:
    def __init__(self, folder: Path):
        self.folder = folder  # shared by the server's worker processes: a confirmation may reach another
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def keep(self, data: bytes, filename: str, owner: str) -> str:
        self._forget_old()
        suffix = Path(filename).suffix.lower()
        upload_id = secrets.token_urlsafe(12)
        path = self.folder / f"{upload_id}{suffix}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        (self.folder / f"{upload_id}.json").write_text(json.dumps({"owner": owner, "name": filename, "suffix": suffix}))
        return upload_id

    def find(self, upload_id: str, owner: str) -> tuple[Path, str] | None:
        """The file and its name, if this owner uploaded it within the hour."""
        if not upload_id.replace("-", "").replace("_", "").isalnum():
            return None
        meta = self.folder / f"{upload_id}.json"
        try:
            info = json.loads(meta.read_text())
        except (FileNotFoundError, ValueError):
            return None
        if info["owner"] != owner or time.time() - meta.stat().st_mtime > KEEP_SECONDS:
            return None
        return self.folder / f"{upload_id}{info['suffix']}", info["name"]

    def remember_kind(self, upload_id: str, kind: str) -> None:
        meta = self.folder / f"{upload_id}.json"
        meta.write_text(json.dumps({**json.loads(meta.read_text()), "kind": kind}))

    def kind_of(self, upload_id: str) -> str:
        return json.loads((self.folder / f"{upload_id}.json").read_text()).get("kind", "")

    def forget(self, upload_id: str) -> None:
        for path in self.folder.glob(f"{upload_id}.*"):
            path.unlink(missing_ok=True)

    def _forget_old(self) -> None:
        for meta in self.folder.glob("*.json"):
            if time.time() - meta.stat().st_mtime > KEEP_SECONDS:
                self.forget(meta.stem)
