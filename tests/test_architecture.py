"""The dependency arrow: gateway -> domain <- connectors.

Parsed from the source rather than imported, so that a lazy import inside a
function is caught as well as one at the top of a module.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

FORBIDDEN = {
    "domain": {
        "fastapi",
        "starlette",
        "sqlalchemy",
        "asyncpg",
        "httpx",
        "aiokafka",
        "uvicorn",
        "alembic",
        "gateway",
        "connectors",
    },
    "connectors": {"gateway", "fastapi", "starlette", "sqlalchemy"},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def violations(package: str, root: Path = SRC) -> list[str]:
    found = []
    for path in sorted((root / package).rglob("*.py")):
        bad = imported_roots(path) & FORBIDDEN[package]
        if bad:
            found.append(f"{path.relative_to(root)} imports {sorted(bad)}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_inner_packages_do_not_import_outward(package: str) -> None:
    assert violations(package) == []


def test_the_check_catches_a_violation(tmp_path: Path) -> None:
    (tmp_path / "domain").mkdir()
    (tmp_path / "domain" / "bad.py").write_text(
        "def f():\n    from gateway.settings import Settings\n    return Settings\n"
    )

    assert violations("domain", tmp_path) == ["domain/bad.py imports ['gateway']"]
