"""Running the same work on several threads at once, for the concurrency tests."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_in_threads(work: Callable[[int], None], count: int) -> list[BaseException]:
    """Call ``work(n)`` for n in range(count), each on its own thread, all at
    once; return what they raised (empty when every call succeeded)."""
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            work(n)
        except BaseException as error:  # noqa: BLE001 - collected for the caller's assertion
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
