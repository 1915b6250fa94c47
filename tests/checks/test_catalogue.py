"""The catalogue holds exactly the checklist's boxes (157), each automated or signed off; it fails loudly
when a box has no entry or an entry's text drifted. Phase selection and the automated share."""

from __future__ import annotations

import pytest
import yaml

from checks import registry
from checks.catalogue import CATALOGUE, PHASES, CatalogueInvalid, for_phase, load, mismatches, parse, share
from checks.checklist import load as load_checklist
from checks.checklist import parse as parse_checklist

CHECKLIST = """# Checklist
## Part One
### 1. Things ✅
```bash
- [ ] not a box: inside a code block
```
- [ ] First box
#### Group
- [ ] Second box
**First Week:**
- [ ] Third box
"""


@pytest.fixture(scope="module")
def items():
    return load(known_checks=set(registry.load()))


def test_every_box_of_the_checklist_has_exactly_one_entry(items):
    boxes = load_checklist()
    assert len(boxes) == 157
    assert mismatches(boxes, items) == []
    assert len(items) == len(boxes)


def test_a_box_without_an_entry_or_a_drifted_text_is_reported(items):
    boxes = load_checklist()
    drifted = [item for item in items if item.id != "pre-1-1"]
    assert any("no catalogue entry for box 'All unit tests passing" in p for p in mismatches(boxes, drifted))
    renamed = parse(
        [
            {**raw, "text": raw["text"] + "!"} if raw["id"] == "sc-1-1" else raw
            for raw in yaml.safe_load(CATALOGUE.read_text())
        ]
    )
    problems = mismatches(boxes, renamed)
    assert any("Payment success rate > 95%" in p and "no catalogue entry" in p for p in problems)
    assert any(p.startswith("sc-1-1:") and "is not a box" in p for p in problems)


def test_checklist_parsing_skips_code_and_keeps_headings():
    boxes = parse_checklist(CHECKLIST)
    assert [b.text for b in boxes] == ["First box", "Second box", "Third box"]
    assert boxes[1].where == "Part One / 1. Things / Group"
    assert boxes[2].group == "First Week"


def test_entries_are_automated_manual_or_not_applicable_and_name_real_checks(items):
    checks = registry.load()
    for item in items:
        assert item.kind in ("automated", "manual", "not applicable")
        if item.check:
            assert item.check in checks
        if item.kind == "manual":
            assert item.signoff and item.why
    assert {item.phase for item in items} == set(PHASES)


def test_invalid_entries_are_refused_with_the_reason():
    base = {"id": "x-1", "section": "s", "text": "t", "phase": "pre-deploy"}
    with pytest.raises(CatalogueInvalid, match="exactly one of check, signoff"):
        parse([base])
    with pytest.raises(CatalogueInvalid, match="says why"):
        parse([{**base, "signoff": "QA Lead"}])
    with pytest.raises(CatalogueInvalid, match="phase 'later'"):
        parse([{**base, "phase": "later", "check": "tls.certificate"}])
    with pytest.raises(CatalogueInvalid, match="no check named"):
        parse([{**base, "check": "tls.nope"}], known_checks={"tls.certificate"})
    with pytest.raises(CatalogueInvalid, match="used twice"):
        parse([{**base, "check": "a"}, {**base, "check": "a"}])


def test_phase_selection(items):
    pre = for_phase(items, "pre-deploy")
    assert pre and all(item.phase == "pre-deploy" for item in pre)
    assert [i.id for i in pre][:2] == ["pre-1-1", "pre-1-2"]
    assert len(for_phase(items, "all")) == 157
    with pytest.raises(CatalogueInvalid, match="unknown phase"):
        for_phase(items, "someday")


def test_at_least_85_percent_of_machine_checkable_boxes_are_automated(items):
    counted = share(items)
    assert counted.automated + counted.machine_manual + counted.person + counted.not_applicable == 157
    assert counted.ratio >= 0.85, counted.describe()


def test_the_repositorys_copy_of_the_checklist_is_the_shared_original():
    from checks.checklist import VENDORED, shared_original  # noqa: PLC0415

    original = shared_original()
    if original is None:
        pytest.skip("no shared/deployment-checklist.md beside this clone: the copy is all there is")
    assert VENDORED.read_text() == original.read_text(), f"{VENDORED} differs from {original}: copy it again"


def test_the_readme_states_the_share_the_catalogue_has(items):
    counted = share(items)
    stated = (
        f"Today: **{counted.automated} of {counted.machine_checkable} machine-checkable boxes automated "
        f"({counted.ratio * 100:.1f} %)**; {counted.person} boxes need a person, "
        f"{counted.not_applicable} does not apply"
    )
    readme = " ".join((CATALOGUE.parent / "README.md").read_text(encoding="utf-8").split())
    assert stated in readme
