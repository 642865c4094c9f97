"""How a ``hotro`` command ends: exit codes, refusals with a way out, quiet broken pipes.

Exit codes (every command):

===  ===========================================================================
0    done
1    done, and it found something: findings (``audit verify``), differences (``replay``)
2    the request is wrong: usage, an unknown reference
3    something the command needs is unavailable: NATS, the data keys, credentials, a
     permission, a store — the message names it and how to fix it; nothing was printed
     as if it were the answer
130  interrupted (Ctrl-C)
141  the reader of the output went away (``hotro export … | head``): the output was cut,
     quietly — no traceback; 141 is what a shell reports for a program ended by SIGPIPE,
     so ``set -o pipefail`` scripts see the cut as they would with ``cat … | head``
===  ===========================================================================
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


class ToolError(Exception):
    """A command that cannot do what was asked says why and how to fix it."""

    def __init__(self, message: str, hints: str | Iterable[str] = (), *,
                 code: int = EXIT_UNAVAILABLE) -> None:
        super().__init__(message)
        self.message = message
        self.hints = [hints] if isinstance(hints, str) else list(hints)
        self.code = code

    def with_context(self, message: str, hints: Iterable[str] = ()) -> ToolError:
        """The same error under a higher-level message (the cause stays in the text)."""
        return ToolError(f"{message}: {self.message}", [*self.hints, *hints], code=self.code)

    def render(self, command: str) -> str:
        lines = [f"hotro {command}: {self.message}".rstrip()]
        lines += [f"  {hint}" for hint in self.hints]
        return "\n".join(lines)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush has nowhere to fail."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def run(command: str, body: Callable[[], int]) -> int:
    """Run a command's body; its ending becomes an exit code, never a traceback for a
    refusal, an interrupt or a closed pipe. Bugs still show their traceback."""
    try:
        code = body()
        sys.stdout.flush()  # inside: a closed pipe is seen here, not at exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except ToolError as exc:
        _say(exc.render(command))
        return exc.code
    except KeyboardInterrupt:
        _say(f"hotro {command}: interrupted")
        return EXIT_INTERRUPTED


def _say(text: str) -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except (OSError, ValueError):
        pass
    with contextlib.suppress(OSError, ValueError):  # stderr gone too: nothing to tell
        print(text, file=sys.stderr)
