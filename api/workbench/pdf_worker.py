"""A PDF renderer process (started by api/workbench/pdf.py; ``python -m api.workbench.pdf_worker MiB``).

It loads WeasyPrint and finds its fonts once, then renders forms one after another: the HTML comes
in on stdin and the PDF goes out on stdout, each as an 8-byte length and the bytes. Its address
space is capped at the given size, so a form that would need more fails alone (MemoryError) and the
process ends; its time is bounded by the server, which kills it past the deadline.
"""

from __future__ import annotations

import os
import resource
import struct
import sys

OK, FAILED = b"K", b"F"
LENGTH = struct.Struct(">Q")


def _read(stream, n: int) -> bytes:
    data = stream.read(n)
    if len(data) < n:
        raise EOFError
    return data


def serve(memory_mib: int) -> None:
    limit = memory_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.nice(10)  # a form may wait a little; the server's other readers should not
    from weasyprint import HTML

    HTML(string='<p style="font-family: \'Noto Sans CJK SC\', sans-serif">继续教育考核表 1</p>').write_pdf()  # fonts found once
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            (size,) = LENGTH.unpack(_read(stdin, LENGTH.size))
            html = _read(stdin, size).decode()
        except EOFError:
            return  # the server went away or is done with this renderer
        try:
            answer, done = OK + HTML(string=html).write_pdf(), False
        except Exception as e:  # MemoryError at the ceiling (sometimes surfacing as another error)
            answer, done = FAILED + type(e).__name__.encode(), True  # the rest of this process is not trusted
        stdout.write(LENGTH.pack(len(answer)) + answer)
        stdout.flush()
        if done:
            return


if __name__ == "__main__":
    serve(int(sys.argv[1]))
