"""ConsoleService through the real Envoy: the console's page and files on the API's origin, without
a token, with their content types; an unknown file is a 404."""

from __future__ import annotations

from testkit.harness import Stack


def test_the_console_page_is_served_at_the_root_without_a_token(stack: Stack) -> None:
    with stack.rest() as client:
        for path in ("/", "/console/", "/console/index.html"):
            response = client.get(path)
            assert response.status_code == 200, (path, response.text)
            assert response.headers["content-type"].startswith("text/html")
            assert response.headers["cache-control"] == "no-cache"
            assert "grpc-status" not in response.headers
            assert b"<html" in response.content.lower()


def test_scripts_and_styles_have_their_content_types(stack: Stack) -> None:
    """Browsers refuse a module script served with a non-JavaScript MIME type (HTML Living
    Standard, "fetch a single module script"), so the type is part of the contract."""
    with stack.rest() as client:
        script = client.get("/console/app.js")
        style = client.get("/console/console.css")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")


def test_unknown_or_escaping_paths_are_404(stack: Stack) -> None:
    with stack.rest() as client:
        for path in ("/console/nothing.js", "/console/../pyproject.toml", "/console/%2e%2e/wiring.py"):
            response = client.get(path)
            assert response.status_code == 404, (path, response.text)
