"""Resolving a bootstrap script inside the sandbox, and refusing every way out of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.executor.sandbox import ScriptRefused, resolve_bootstrap


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    root = tmp_path / "sandbox"
    (root / "app" / "bin").mkdir(parents=True)
    return root


def script(path: Path, text: str = "#!/bin/sh\necho hi\n", mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_an_executable_script_with_a_shebang_runs_directly_with_the_json_last(sandbox: Path) -> None:
    program = script(sandbox / "app" / "bin" / "start.sh")
    command = resolve_bootstrap(sandbox, "app/bin/start.sh --mode  fast")
    assert command.program == program.resolve()
    assert command.interpreter is None
    assert command.argv('{"a":1}') == [str(program.resolve()), "--mode", "fast", '{"a":1}']


@pytest.mark.parametrize(("text", "mode"), [("echo hi\n", 0o755), ("#!/bin/sh\necho hi\n", 0o644)])
def test_a_script_that_cannot_be_executed_directly_is_read_by_sh(sandbox: Path, text: str, mode: int) -> None:
    program = script(sandbox / "run.sh", text, mode)
    command = resolve_bootstrap(sandbox, "run.sh")
    assert command.argv("{}") == ["/bin/sh", str(program.resolve()), "{}"]


def test_a_symlink_that_stays_inside_the_sandbox_is_followed(sandbox: Path) -> None:
    target = script(sandbox / "app" / "bin" / "real.sh")
    (sandbox / "app" / "current.sh").symlink_to("bin/real.sh")
    assert resolve_bootstrap(sandbox, "app/current.sh").program == target.resolve()


def test_a_sandbox_reached_through_a_symlink_still_contains_its_scripts(
    sandbox: Path, tmp_path: Path
) -> None:
    script(sandbox / "run.sh")
    alias = tmp_path / "alias"
    alias.symlink_to(sandbox)
    assert resolve_bootstrap(alias, "run.sh").program == (sandbox / "run.sh").resolve()


@pytest.mark.parametrize(
    ("bootstrap", "reason"),
    [
        ("../outside.sh", "'..'"),
        ("app/../../outside.sh", "'..'"),
        ("app/../run.sh", "'..'"),
        ("app\\..\\run.sh", "'..'"),
        ("/bin/sh", "absolute path"),
        ("app/link-out.sh", "outside the sandbox"),
        ("app/dir-link/outside.sh", "outside the sandbox"),
        ("app/missing.sh", "does not exist"),
        ("app/bin", "not a regular file"),
        ("app/loop.sh", "cannot be resolved|does not exist"),
        ("   ", "empty"),
    ],
)
def test_escaping_or_unusable_scripts_are_refused(
    sandbox: Path, tmp_path: Path, bootstrap: str, reason: str
) -> None:
    outside = script(tmp_path / "outside.sh")
    script(sandbox / "run.sh")
    (sandbox / "app" / "link-out.sh").symlink_to(outside)
    (sandbox / "app" / "dir-link").symlink_to(tmp_path)
    (sandbox / "app" / "loop.sh").symlink_to("loop.sh")
    with pytest.raises(ScriptRefused, match=reason):
        resolve_bootstrap(sandbox, bootstrap)


def test_the_refusal_names_the_script(sandbox: Path) -> None:
    with pytest.raises(ScriptRefused) as refused:
        resolve_bootstrap(sandbox, "../x.sh --flag")
    assert "'../x.sh'" in str(refused.value)
