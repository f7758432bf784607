"""A new reader finds the design and the conventions inside the repository (issue 19, item 14)."""
import re

from tests.support import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# `path/like.md` in backticks or [text](path) links, relative to the repository
MENTIONED = re.compile(r"`((?:\.\./|docs/|\./)[^`\s]+\.md)`|\]\(((?!https?:|#|mailto:)[^)\s]+)\)")


def test_no_document_points_outside_the_repository():
    for doc in DOCS:
        for found in MENTIONED.finditer(doc.read_text()):
            target = found.group(1) or found.group(2)
            base = ROOT if found.group(1) and not target.startswith("../") else doc.parent
            path = (base / target.split("#")[0]).resolve()
            assert path.is_relative_to(ROOT), f"{doc.name} points outside the repository: {target}"
            assert path.exists(), f"{doc.name} mentions {target}, which does not exist"


def test_the_readme_leads_to_the_conventions_and_the_design():
    readme = (ROOT / "README.md").read_text()
    assert "docs/conventions.md" in readme and "docs/design.md" in readme
    conventions = (ROOT / "docs" / "conventions.md").read_text()
    for words in ("Where things live", "Which way data flows", "Habits"):
        assert words in conventions
