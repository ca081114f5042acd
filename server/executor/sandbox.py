"""Finding a job's bootstrap script inside the sandbox, and refusing anything outside it.

The agent fetches the app into the sandbox (an archive is extracted there, a single script is
made executable), so ``bootstrapScript`` names a file relative to the sandbox. It is read like
the app rules read it (``server/domain/rules.py``): whitespace separates words, the first word
is the program, the others are arguments passed before the sharding context JSON; there is no
shell quoting.

:func:`resolve_bootstrap` refuses, with :class:`ScriptRefused`, and before anything runs:

- an absolute program path, or a ``..`` component anywhere in it;
- a path whose real location (every symlink followed, the sandbox's own included) is not inside
  the sandbox's real location, such as a symlink shipped in the app that points elsewhere;
- a program that does not exist or is not a regular file.

A program with a ``#!`` line or an ELF header and the execute bit is run directly; anything else
is read by ``/bin/sh``.

The check is made when the task is launched and again right before every run (a DAEMON's app
files could change in between); a link swapped in between the check and the ``exec`` could still
win that race, which only the app's own files (already the user's code) can do.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BootstrapCommand", "ScriptRefused", "resolve_bootstrap"]

SHELL = "/bin/sh"
_DIRECT_MAGIC = (b"#!", b"\x7fELF")


class ScriptRefused(ValueError):
    """The bootstrap script cannot be run from this sandbox; the message says why."""


@dataclass(frozen=True, kw_only=True, slots=True)
class BootstrapCommand:
    """A resolved bootstrap script: the argv of a run, minus the trailing context JSON."""

    program: Path
    arguments: tuple[str, ...]
    #: ``/bin/sh`` when the program is not directly executable, else ``None``.
    interpreter: str | None

    def argv(self, context_json: str) -> list[str]:
        """The full command line of one run: the context JSON is always the last argument."""
        head = [self.interpreter] if self.interpreter else []
        return [*head, os.fspath(self.program), *self.arguments, context_json]


def _is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def resolve_bootstrap(sandbox: Path, bootstrap_script: str) -> BootstrapCommand:
    """Resolve ``bootstrap_script`` inside ``sandbox``; raises :class:`ScriptRefused`."""
    words = bootstrap_script.split()
    if not words:
        raise ScriptRefused("bootstrapScript is empty")
    program_text, arguments = words[0], tuple(words[1:])
    if program_text.startswith("/") or os.path.isabs(program_text):
        raise ScriptRefused(
            f"bootstrapScript {program_text!r} is an absolute path; it must be relative to the app in the sandbox"
        )
    if ".." in re.split(r"[/\\]", program_text):
        raise ScriptRefused(f"bootstrapScript {program_text!r} leaves the sandbox with '..'")
    root = sandbox.resolve()
    candidate = root / program_text
    try:
        real = candidate.resolve(strict=True)
    except FileNotFoundError:
        raise ScriptRefused(
            f"bootstrapScript {program_text!r} does not exist in the sandbox {root}"
        ) from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise ScriptRefused(f"bootstrapScript {program_text!r} cannot be resolved: {exc}") from None
    if not _is_within(real, root):
        raise ScriptRefused(
            f"bootstrapScript {program_text!r} resolves to {real}, outside the sandbox {root} (a symlink?)"
        )
    if not real.is_file():
        raise ScriptRefused(f"bootstrapScript {program_text!r} is not a regular file")
    interpreter: str | None = SHELL
    if os.access(real, os.X_OK):
        try:
            with real.open("rb") as handle:
                magic = handle.read(4)
        except OSError as exc:
            raise ScriptRefused(f"bootstrapScript {program_text!r} cannot be read: {exc}") from None
        if magic.startswith(_DIRECT_MAGIC):
            interpreter = None
    return BootstrapCommand(program=real, arguments=arguments, interpreter=interpreter)
