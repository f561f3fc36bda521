"""docs/braket.md: its python blocks run as written, and what they print is on the page."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "braket.md"


def test_python_blocks_run_and_print_what_the_page_says(monkeypatch, capsys):
    text = PAGE.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    for block in blocks:  # in order, in one namespace, as a reader pastes them
        exec(compile(block, str(PAGE), "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["8 tasks (4 steps x 2 sequences x 1 circuit), 0 shots, 840 gates in all"]
    assert all(f"# {line}" in text for line in printed)
