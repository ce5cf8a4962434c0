"""Prompt files from prompts/: loaded once, placeholders validated when loaded."""

from __future__ import annotations

import functools
import string
from pathlib import Path

from .errors import ConfigError

# Each prompt and the placeholders it must use (no more, no fewer).
PROMPTS: dict[str, frozenset[str]] = {
    "system": frozenset({"decline_token", "question_language"}),
    "answer": frozenset({"sources", "question", "question_language", "decline_token"}),
    "condense": frozenset({"chat_history", "question"}),
    "source": frozenset({"n", "title", "source", "text"}),
}


def default_prompts_dir() -> Path:
    """The prompts shipped in the package (assistant/prompts/ in the wheel), else the repo's
    top-level prompts/ (an editable install or a source checkout)."""
    from importlib.resources import files

    shipped = Path(str(files("assistant").joinpath("prompts")))
    if (shipped / "system.txt").is_file():
        return shipped
    return Path(__file__).resolve().parent.parent / "prompts"


@functools.lru_cache(maxsize=32)
def load_prompt(name: str, folder: Path | None = None) -> str:
    """The text of prompt `name`, checked against its expected placeholders."""
    folder = folder or default_prompts_dir()
    path = folder / f"{name}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"prompt file {path} cannot be read: {exc.strerror or exc}") from None
    expected = PROMPTS.get(name)
    if expected is not None:
        try:
            found = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        except ValueError as exc:
            raise ConfigError(f"prompt {path} is not a valid template: {exc}") from None
        if found != expected:
            missing, extra = sorted(expected - found), sorted(found - expected)
            raise ConfigError(
                f"prompt {path} has the wrong placeholders"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {extra}" if extra else "")
            )
    return text


def render(name: str, folder: Path | None = None, **values: object) -> str:
    """Fill a prompt's placeholders."""
    return load_prompt(name, folder).format(**values)
