"""Every ```python block in the README and docs/simulation.md runs as written.

Blocks of one page run in order in one namespace (later blocks use names the
earlier ones made), from the repository root, as a reader would paste them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
PAGES = ["README.md", "docs/simulation.md"]


def blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(), flags=re.S)


@pytest.mark.parametrize("page", PAGES)
def test_python_blocks_run(page, monkeypatch):
    code = blocks(page)
    assert code, f"{page} has no python block"
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    for block in code:
        exec(compile(block, page, "exec"), namespace)
