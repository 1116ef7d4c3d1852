"""The assessment form as PDF, off the request path.

WeasyPrint costs about 10 ms of CPU per form line, under the GIL: rendered in a server thread,
forty parallel requests stalled every other reader of the process. So a render never runs in the
server process. It runs in a renderer process of its own (api/workbench/pdf_worker.py), started
once and kept warm (WeasyPrint's import and font search cost 1.5 s), with its address space
capped and at a lower CPU priority (nice 10); past the deadline the server kills it and starts another. At most ``workers`` renderers
run, at most ``queue`` requests wait for one, and beyond that the answer is 503 with
Retry-After. The request thread only waits on a pipe, so it holds no CPU and no GIL.

A form's PDF is a function of its HTML, and a verdict never changes: the bytes are kept on disk
(0600) under the SHA-256 of the HTML, so each form is rendered once however often it is asked
for, by however many server processes; a correction of the person's name makes new HTML and so a
new PDF. Requests for the same form arriving together share one render.
"""

from __future__ import annotations

import hashlib
import os
import queue as queues
import selectors
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import anyio
from fastapi import HTTPException

from api.workbench.pdf_worker import LENGTH, OK


class Renderer:
    """One renderer process, used by one request at a time."""

    RENDERS = 200  # then a fresh process: whatever WeasyPrint keeps between documents is let go

    def __init__(self, memory_mib: int):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.workbench.pdf_worker", str(memory_mib)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
        )
        self._limiter: anyio.CapacityLimiter | None = None
        self.renders = 0

    def render(self, html: str, seconds: float) -> bytes | None:
        """The PDF, or None if the renderer failed or ran out of time (it is then gone)."""
        deadline = time.monotonic() + seconds
        try:
            data = html.encode()
            self.process.stdin.write(LENGTH.pack(len(data)) + data)
            self.process.stdin.flush()
            (size,) = LENGTH.unpack(self._read(LENGTH.size, deadline))
            answer = self._read(size, deadline)
        except (OSError, EOFError, TimeoutError):
            self.close()
            return None
        self.renders += 1
        if not answer.startswith(OK):
            self.close()
            return None
        return answer[1:]

    def _read(self, n: int, deadline: float) -> bytes:
        out = self.process.stdout
        chunks, got = [], 0
        with selectors.DefaultSelector() as sel:
            sel.register(out, selectors.EVENT_READ)
            while got < n:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise TimeoutError
                chunk = os.read(out.fileno(), min(n - got, 1 << 20))
                if not chunk:
                    raise EOFError
                chunks.append(chunk)
                got += len(chunk)
        return b"".join(chunks)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and self.renders < self.RENDERS

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


class PdfForms:
    # Forms kept on disk at most; past it, the oldest go (a form is cheap to make again once).
    KEEP = 20_000

    def __init__(self, cache_dir: Path, *, workers: int = 1, queue: int = 32, seconds: int = 60,
                 memory_mib: int = 2048):
        self.cache_dir = cache_dir
        self.seconds, self.memory_mib = seconds, memory_mib
        self.queue = queue
        self._idle: queues.LifoQueue[Renderer | None] = queues.LifoQueue()
        for _ in range(workers):
            self._idle.put(None)  # a slot; its renderer is started on first use
        self._lock = threading.Lock()
        self._waiting = 0
        self._inflight: dict[str, Future] = {}
        self._written = 0
        self._limiter: anyio.CapacityLimiter | None = None
        self.renders = 0  # how many times this process rendered (tests read it)

    async def pdf_async(self, html: str, fill: dict[str, str] | None = None) -> bytes:
        """``pdf`` for an async handler: the wait runs in threads of its own (a limiter apart from the
        server's thread pool), so waiting forms never take the threads other requests need."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.queue + 8)
        if self._waiting >= self.queue and not self._path(html).exists():
            raise self._busy()
        return await anyio.to_thread.run_sync(self.pdf, html, fill, limiter=self._limiter)

    def _path(self, html: str) -> Path:
        return self.cache_dir / f"{hashlib.sha256(html.encode()).hexdigest()}.pdf"

    def _busy(self) -> HTTPException:
        return HTTPException(503, "表格生成繁忙，请稍后再试（PDF 生成队列已满）",
                             headers={"Retry-After": str(max(1, self.seconds // 4))})

    def pdf(self, html: str, fill: dict[str, str] | None = None) -> bytes:
        """The PDF of ``html``: from the cache, or rendered once in a renderer process. ``fill``:
        placeholders filled only when it is rendered (the print date), so that they do not make
        another PDF of the same form."""
        path = self._path(html)
        key = path.stem
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        with self._lock:
            shared = self._inflight.get(key)
            if shared is None:
                if self._waiting >= self.queue:
                    raise self._busy()
                self._waiting += 1
                mine = self._inflight[key] = Future()
        if shared is not None:
            return shared.result()
        try:
            for placeholder, value in (fill or {}).items():
                html = html.replace(placeholder, value)
            data = self._render(html)
            self._keep(path, data)
            mine.set_result(data)
            return data
        except BaseException as e:
            mine.set_exception(e)
            raise
        finally:
            with self._lock:
                self._waiting -= 1
                del self._inflight[key]

    def _render(self, html: str) -> bytes:
        renderer = self._idle.get()  # waits for a free slot (the queue above bounds the waiting)
        try:
            if renderer is None or not renderer.alive:
                if renderer is not None:
                    renderer.close()
                renderer = Renderer(self.memory_mib)
            data = renderer.render(html, self.seconds)
        finally:
            self._idle.put(renderer)
        self.renders += 1
        if data is None:
            raise HTTPException(
                503, f"表格过长或过于复杂，未能在限定的 {self.seconds} 秒、{self.memory_mib} MiB 内生成 PDF；"
                     "请按部分（part）分别打印", headers={"Retry-After": "60"})
        return data

    def close(self) -> None:
        while True:
            try:
                renderer = self._idle.get_nowait()
            except queues.Empty:
                return
            if renderer is not None:
                renderer.close()

    def _keep(self, path: Path, data: bytes) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        draft = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(draft, path)  # whole or absent, for a reader in another process
        self._written += 1
        if self._written % 500 == 0:
            self._trim()

    def _trim(self) -> None:
        files = sorted(self.cache_dir.glob("*.pdf"), key=lambda p: p.stat().st_mtime)
        for old in files[: max(0, len(files) - self.KEEP)]:
            old.unlink(missing_ok=True)
