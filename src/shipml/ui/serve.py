"""The UI process: Streamlit's own command line (``python -m shipml.ui.serve run src/shipml/ui/main.py …``), with
what the pages import loaded first.

A page is a script Streamlit runs on each visit; what it imports (altair, pandas' Styler and matplotlib behind it,
the app's charts and schemas) was imported by the first visit after the UI started, which then took 0.9–1.5 s more
than the next (benchmarks/page_load, issue 20). The modules the pages name are imported before the server starts
(about 1.2 s on a quiet machine), not beside it: two threads importing one package that imports itself in a circle
meet Python's import deadlock (``_DeadlockError``, seen with Streamlit's navigation modules).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

HOME = Path(__file__).with_name("home.py")
ALSO = ("pandas.io.formats.style",)  # loaded on a page's first `DataFrame.style` (matplotlib comes with it)


def imported_by(script: Path) -> list[str]:
    """The modules a script imports, at any depth of it, in order (relative imports left out); ``from a import b``
    names ``a`` and, when ``b`` is a module of package ``a``, ``a.b``."""
    names: list[str] = []
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names if _is_module(node.module, alias.name)]
    return list(dict.fromkeys(names))


def _is_module(package: str, name: str) -> bool:
    try:
        return importlib.util.find_spec(f"{package}.{name}") is not None
    except (ImportError, ValueError):  # ``package`` is a module, not a package (or not installed)
        return False


def preload() -> list[str]:
    """Import what the installed apps' pages and Home import; the names that could not be imported (a page that
    fails to import says so itself when it is visited)."""
    from shipml.apps import installed

    scripts = [HOME, *(app.page for app in installed() if app.page is not None and app.page.exists())]
    failed = []
    for name in [*dict.fromkeys(n for script in scripts for n in imported_by(script)), *ALSO]:
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name)
    if failed:
        log.info("could not preload %s", ", ".join(failed))
    return failed


def main() -> None:
    preload()
    from streamlit.web.cli import main as streamlit

    sys.exit(streamlit(prog_name="streamlit"))


if __name__ == "__main__":
    main()
