"""The README's commands run after the installs it names: each tool it calls is in a requirements file."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Console commands whose package has another name; python and pip come before any requirements file.
PACKAGE_OF = {"jupyter": "jupyterlab"}
NOT_TOOLS = {"python", "pip"}


def required_packages() -> set[str]:
    """Lower-cased package names listed in every requirements*.txt of the repo."""
    names = set()
    for path in REPO.glob("requirements*.txt"):
        for line in path.read_text().splitlines():
            m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9_.-]*)", line)
            if m and not line.lstrip().startswith(("#", "-")):
                names.add(m.group(1).lower())
    return names


def readme_tools() -> set[str]:
    """The first word of each command the README shows in backticks: a span (or a part of one
    between &&) that names a file by its path, once any VAR=value before it is dropped."""
    tools = set()
    for span in re.findall(r"`([^`\n]+)`", (REPO / "README.md").read_text()):
        for command in span.split("&&"):
            words = [w for w in command.split() if not re.fullmatch(r"[A-Z_]+=\S*", w)]
            is_command = len(words) >= 2 and any("/" in w for w in words[1:])
            if is_command and re.fullmatch(r"[a-z][a-z0-9_-]*", words[0]) and words[0] not in NOT_TOOLS:
                tools.add(words[0])
    return tools


def test_every_tool_the_readme_runs_is_installed_by_a_requirements_file() -> None:
    tools = readme_tools()
    assert {"streamlit", "jupyter", "papermill"} <= tools  # the parser sees the README's commands
    missing = {t for t in tools if PACKAGE_OF.get(t, t) not in required_packages()}
    assert not missing, f"the README runs {sorted(missing)}, which no requirements file installs"


def test_pyproject_dependencies_are_requirements_txt():
    """pyproject.toml mirrors requirements.txt (the README's install path): the two lists agree."""
    import tomllib

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    listed = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    assert sorted(declared) == sorted(line for line in listed if line)
