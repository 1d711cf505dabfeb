"""A category is data: `config/categories.yml` and its NLU file. This checks that everything the
dialogue needs agrees with that file, and says what to add when a category is added or removed."""

from __future__ import annotations

import yaml

from satark.settings import PROJECT_ROOT
from satark.taxonomy import INTENT_PREFIX, load_categories


def yaml_file(*parts: str) -> dict:
    return yaml.safe_load(PROJECT_ROOT.joinpath(*parts).read_text(encoding="utf-8"))


def test_categories_intents_rules_and_nlu_files_agree(runtime):
    wanted = {category.intent for category in load_categories()}
    domain = {i for i in yaml_file("domain.yml")["intents"] if str(i).startswith(INTENT_PREFIX)}
    nlu_files = {p.stem for p in (PROJECT_ROOT / "data" / "nlu").glob(f"{INTENT_PREFIX}*.yml")}
    trained = {item["intent"] for p in (PROJECT_ROOT / "data" / "nlu").glob("*.yml")
               for item in yaml_file("data", "nlu", p.name).get("nlu") or [] if "intent" in item}
    [complaint_rule] = [r for r in yaml_file("data", "rules", "report.yml")["rules"]
                        if r["rule"].startswith("A complaint typed straight away")]
    in_rule = {step["intent"] for step in complaint_rule["steps"][0]["or"]} - {"choose_category"}
    assert domain == wanted, "domain.yml intents: add/remove " + ", ".join(sorted(domain ^ wanted))
    assert nlu_files == wanted, "data/nlu/<intent>.yml files: add/remove " + ", ".join(sorted(nlu_files ^ wanted))
    assert wanted <= trained, "NLU files without examples for: " + ", ".join(sorted(wanted - trained))
    assert in_rule == wanted, "the complaint rule in data/rules/report.yml: add/remove " + ", ".join(
        sorted(in_rule ^ wanted))


def test_category_names_fit_a_whatsapp_list_row(runtime):
    for category in load_categories():
        assert all(len(name) <= 24 for name in category.name.values()), category.key
        assert all(len(text) <= 72 for text in category.description.values()), category.key
