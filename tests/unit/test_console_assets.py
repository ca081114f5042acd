"""The console's files as the ConsoleService serves them: only files of the folder, with the
content type browsers need (a module script must be served as JavaScript: HTML Living Standard,
"fetch a single module script")."""

from __future__ import annotations

from server.console.assets import ConsoleAssets


def test_the_page_is_the_index_and_files_are_found_by_their_path() -> None:
    assets = ConsoleAssets({"index.html": b"<html>", "views/jobs.js": b"export {}", "console.css": b"a{}"})
    for path in ("", "/", "index.html"):
        found = assets.find(path)
        assert found is not None and found.data == b"<html>"
        assert found.content_type == "text/html; charset=utf-8"
    script = assets.find("views/jobs.js")
    assert script is not None and script.content_type == "text/javascript; charset=utf-8"
    style = assets.find("console.css")
    assert style is not None and style.content_type == "text/css; charset=utf-8"


def test_paths_outside_the_folder_or_of_unknown_kinds_are_not_served() -> None:
    assets = ConsoleAssets({"index.html": b"<html>", "notes.md": b"#", "views/jobs.js": b""})
    for path in (
        "../pyproject.toml",
        "/etc/passwd",
        "views",
        "views/",
        "notes.md",
        "VIEWS/JOBS.JS",
        "views/../index.html",
    ):
        assert assets.find(path) is None, path


def test_a_changed_file_gets_another_etag() -> None:
    first = ConsoleAssets({"app.js": b"1"}).find("app.js")
    second = ConsoleAssets({"app.js": b"2"}).find("app.js")
    assert first is not None and second is not None
    assert first.etag != second.etag


def test_the_packaged_console_has_its_page_and_every_module_it_imports() -> None:
    assets = ConsoleAssets.packaged()
    index = assets.find("")
    assert index is not None and b'src="/console/app.js"' in index.data
    for path in (
        "app.js",
        "api.js",
        "dom.js",
        "chart.js",
        "console.css",
        *(f"views/{name}.js" for name in ("dashboard", "apps", "jobs", "runs", "output")),
    ):
        assert assets.find(path) is not None, path
