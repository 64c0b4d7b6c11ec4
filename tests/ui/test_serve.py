"""The UI process loads what the pages import before it serves (the first visit after a start then pays no imports)."""

import subprocess
import sys
from pathlib import Path

from shipml.apps import installed
from shipml.ui import serve


def test_every_module_the_pages_import_is_preloaded():
    names = serve.imported_by(serve.HOME)
    assert "streamlit" in names and "shipml.ui.client" in names
    for app in installed():
        if app.page is not None:
            assert f"shipml.apps.{app.name}.schemas" in serve.imported_by(app.page)
    code = ("import sys; from shipml.ui import serve; failed = serve.preload(); "
            "print(failed, 'altair' in sys.modules, 'pandas.io.formats.style' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "True", "True"]


def test_a_script_s_imports_are_read_at_every_depth(tmp_path: Path):
    script = tmp_path / "page.py"
    script.write_text("import os\nfrom json import dumps\n\ndef draw():\n    import altair as alt\n"
                      "    from . import sibling\n")
    assert serve.imported_by(script) == ["os", "json", "altair"]


def test_no_page_writes_by_magic_so_the_ui_runs_without_it():
    """The UI runs with Streamlit's magic off (``launcher.ui_command``): a bare expression in a page script would
    silently show nothing. Calls, awaits and docstring-like strings are not magic."""
    import ast

    from shipml.launcher import UI_MAIN, ui_command

    assert ui_command(8501)[-2:] == ["--runner.magicEnabled", "false"]
    scripts = [UI_MAIN, serve.HOME, *(app.page for app in installed() if app.page is not None)]
    assert len(scripts) >= 7
    for script in scripts:
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Call | ast.Await | ast.Yield):
                is_text = isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                assert is_text, f"{script}:{node.lineno} relies on Streamlit's magic: write it with st.write"
