"""The config template, the config reference, the generated rule pages and every list of codes in the README and
the docs stay in sync with the code."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from rnndoctor import docgen
from rnndoctor.core.catalogue import Rule, all_rules, get_rule
from rnndoctor.docgen import INDEX_NAME, main, write_rule_pages
from rnndoctor.setup.config import SCRIPT_KEYS, VALID_KEYS, load_config, load_defaults, read_yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "configs" / "template.yaml"
RULES_DIR = ROOT / "docs" / "rules"
CONFIG_DOC = ROOT / "docs" / "config.md"

# A commented-out key in the template: "# key:" or "#   key:" (nested) at any indentation. Removing the
# "# " gives the key its indentation back. Prose comments never start with a lower-case word and a colon.
COMMENTED_KEY = re.compile(r"^(?P<indent>\s*)# (?P<key>\s*[a-z_]+):")


def _template_text() -> str:
    return TEMPLATE.read_text(encoding="utf-8")


def _uncommented(text: str) -> str:
    """The template with every commented-out key switched on (its "# " removed, indentation kept)."""
    return "\n".join(COMMENTED_KEY.sub(r"\g<indent>\g<key>:", line) for line in text.splitlines()) + "\n"


def _top_level_keys(text: str) -> tuple[set[str], set[str]]:
    """(active, commented) top-level keys of a YAML text."""
    active = {m.group(1) for m in re.finditer(r"(?m)^([a-z_]+):", text)}
    commented = {m.group(1) for m in re.finditer(r"(?m)^# ([a-z_]+):", text)}
    return active, commented


# --- (a) the template loads and lists every key -------------------------------------------------------


def test_template_loads_as_is() -> None:
    config = load_config(TEMPLATE)
    assert config.model.target == "models.py:build_model"
    assert config.train_data.target == "data.py:train_loader"
    assert config.loss.target == "CrossEntropyLoss"
    # The active values are the defaults: the template changes nothing by being copied.
    defaults = load_defaults()
    assert config.checks == {name: dict(options or {}) for name, options in defaults["checks"].items()}
    assert config.max_batches == defaults["sampling"]["max_batches"]
    # The suite raises the packaged safety net (tests/conftest.py): compare with the file itself.
    packaged = read_yaml(Path(__file__).parents[1] / "rnndoctor" / "defaults.yaml", "defaults.yaml")
    assert config.check_timeout == packaged["sampling"]["check_timeout"]
    assert (config.device, config.seed, config.fail_on.value) == ("auto", 0, "error")
    assert config.ignore == () and config.select == ()
    assert config.optimizer.target == "Adam" and config.optimizer.args == {"lr": 1e-3}
    assert config.forward is None and config.train_step is None and config.val_data is None


def test_template_lists_every_valid_key() -> None:
    active, commented = _top_level_keys(_template_text())
    missing = [key for key in VALID_KEYS if key not in active | commented]
    assert not missing, f"configs/template.yaml does not mention {missing}"
    assert not (active | commented) - set(VALID_KEYS), "the template shows keys the code does not accept"
    assert not active & commented, "a key is both active and commented out"


def test_template_is_valid_with_every_key_uncommented(tmp_path: Path) -> None:
    """Uncommenting an example must give a valid config, and the commented check options are the defaults."""
    path = tmp_path / "template.yaml"
    script_lines = re.compile(rf"^# ({'|'.join(SCRIPT_KEYS)}):", re.M)
    path.write_text(_uncommented(script_lines.sub(r"## \1:", _template_text())), encoding="utf-8")
    active, commented = _top_level_keys(path.read_text(encoding="utf-8"))
    assert active == set(VALID_KEYS) - set(SCRIPT_KEYS) and not commented
    config = load_config(path)
    assert config.forward is not None and config.train_step is not None and config.val_data is not None
    data = read_yaml(path, str(path))
    assert data["checks"] == load_defaults()["checks"]


def test_the_templates_script_section_is_valid_alone(tmp_path: Path) -> None:
    """Script mode's keys, uncommented in place of the reference keys, give a valid config."""
    (tmp_path / "train.py").write_text("print('training')\n", encoding="utf-8")
    lines = []
    for line in _template_text().split("\n# --- How a batch goes")[0].splitlines():
        key = re.match(r"^(# )?(\w+):", line)
        if key and key.group(2) in SCRIPT_KEYS:
            lines.append(line.removeprefix("# "))
    (tmp_path / "data").mkdir()
    path = tmp_path / "script.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert load_config(path).script is not None


def test_template_explains_every_key() -> None:
    """Each key is preceded by a comment line that states its default."""
    lines = _template_text().splitlines()
    for key in VALID_KEYS:
        index = next(i for i, line in enumerate(lines) if re.match(rf"^(# )?{key}:", line))
        assert lines[index - 1].startswith("# Default:") or lines[index - 1].startswith("# Required."), key


# --- (b) the checks section covers defaults.yaml ---------------------------------------------------------


def _checks_section() -> str:
    text = _template_text()
    start = text.index("\nchecks:")
    return text[start:]


@pytest.mark.parametrize("check", sorted(load_defaults()["checks"]))
def test_template_checks_section_lists_check_and_options(check: str) -> None:
    section = _checks_section()
    assert re.search(rf"(?m)^  # {check}:", section), f"check {check} missing from the template"
    options: dict[str, Any] = load_defaults()["checks"][check] or {}
    for option in options:
        assert re.search(rf"(?m)^  #   {option}:", section), f"option {check}.{option} missing from the template"


def test_template_says_false_disables_a_check() -> None:
    assert "`false`" in _checks_section()


def test_config_doc_covers_every_key_and_option() -> None:
    text = CONFIG_DOC.read_text(encoding="utf-8")
    for key in VALID_KEYS:
        assert f"`{key}`" in text, key
    for check, options in load_defaults()["checks"].items():
        assert f"`{check}`" in text, check
        for option in options or {}:
            assert f"`{option}`" in text, f"{check}.{option}"


# --- (c) docs/rules is generated from the catalogue ------------------------------------------------------


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def test_rule_pages_in_sync(tmp_path: Path) -> None:
    written = write_rule_pages(tmp_path)
    assert {p.name for p in written} == {f"{r.code}.md" for r in all_rules()} | {INDEX_NAME}
    generated, committed = _files(tmp_path), _files(RULES_DIR)
    hint = "docs/rules is stale: run `python -m rnndoctor.docgen docs/rules`"
    assert sorted(generated) == sorted(committed), hint
    for name, content in generated.items():
        assert committed[name] == content, f"{name}: {hint}"


def test_index_links_every_rule(tmp_path: Path) -> None:
    write_rule_pages(tmp_path)
    index = (tmp_path / INDEX_NAME).read_text(encoding="utf-8")
    for rule in all_rules():
        assert f"| [{rule.code}]({rule.code}.md) | {rule.severity.label} | {rule.title} |" in index


def test_stale_pages_are_removed_and_main_writes(tmp_path: Path) -> None:
    (tmp_path / "RD999.md").write_text("old", encoding="utf-8")
    (tmp_path / "notes.md").write_text("keep", encoding="utf-8")
    assert main([str(tmp_path)]) == 0
    assert not (tmp_path / "RD999.md").exists()
    assert (tmp_path / "notes.md").read_text(encoding="utf-8") == "keep"
    assert (tmp_path / "RD101.md").read_text(encoding="utf-8") == get_rule("RD101").to_markdown()


# --- (d) every list of codes is generated from the rules ----------------------------------------------------


def test_every_generated_code_list_is_current() -> None:
    assert docgen.stale() == [], "run: python -m rnndoctor.docgen"


def _docs_copy(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    for name in ("config.md", "verification.md"):
        shutil.copy(ROOT / "docs" / name, tmp_path / "docs" / name)
    shutil.copytree(RULES_DIR, tmp_path / "docs" / "rules")
    return tmp_path


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        ("README.md", "| RD101–RD111 |", "| RD101–RD110 |"),
        ("docs/config.md", "Reports RD101–RD104 and RD110.", "Reports RD101–RD104."),
        ("docs/verification.md", "| RD102 |", "| RD103 |"),
        ("docs/rules/README.md", "RD101", "RD1O1"),
    ],
)
def test_a_hand_edited_code_list_is_stale(tmp_path: Path, path: str, old: str, new: str) -> None:
    root = _docs_copy(tmp_path)
    target = root / path
    text = target.read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    assert docgen.stale(root) == [target.parent if path.startswith("docs/rules") else target]


def test_code_lists_read_as_sentences() -> None:
    assert docgen.code_list(["RD101", "RD102", "RD103", "RD104", "RD110"]) == "RD101–RD104 and RD110"
    assert docgen.code_list(["RD201", "RD202", "RD208"]) == "RD201, RD202 and RD208"
    assert docgen.code_list(["RD111"]) == "RD111"


# --- (e) every rule is fully documented --------------------------------------------------------------


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_rule_documentation_complete(rule: Rule) -> None:
    for name in ("title", "what", "why", "symptoms", "fix", "before", "after"):
        assert getattr(rule, name).strip(), f"{rule.code}.{name} is empty"
    for name in ("before", "after"):
        try:
            ast.parse(getattr(rule, name))
        except SyntaxError as exc:
            pytest.fail(f"{rule.code}.{name} does not parse: line {exc.lineno}: {exc.msg}")
    assert rule.before.strip() != rule.after.strip(), f"{rule.code}: before and after are the same"


def test_rule_codes_unique_and_ordered() -> None:
    codes = [r.code for r in all_rules()]
    assert len(codes) == len(set(codes))
    assert codes == sorted(codes)
