"""Calories the page shows only as text, read when its structured data has none.

A page's text holds many numbers that are not the recipe's calories: "based on
a 2,000 calorie diet", search sliders, related-recipe cards, ads, comments. So
this reader:

- searches the recipe's own part of the page when it can tell which (its
  microdata item, its recipe-card plugin, the element holding both its title
  and its ingredients), plus nutrition blocks (a class or id naming nutrition
  or calories, a NutritionInformation item);
- skips navigation, forms, asides, footers, hidden elements, and whatever a
  class, id or heading calls related, comments, ads, filters, search...;
- reads a calorie label with its value ("Calories: 454", <dt>Kalorien</dt>
  <dd>272 kcal</dd>, a table row, a plugin's calories element); a figure
  without a label ("454 kcal") only inside a nutrition block;
- drops per-100 g and whole-recipe figures when a per-serving one is there,
  and returns None unless what is left agrees on one value: a wrong number is
  worse than none.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from lxml import etree

from . import fields
from .numbers import ENERGY_UNIT, NUMBER, RANGE_TAIL, as_kcal, number, preferred_kcal, unit_factor
from .tree import INGREDIENT_CLASSES, RECIPE_CARD_CLASSES, text_content

# Raw-byte hints that a page without structured calories may show some: worth building a tree.
_TREE_HINTS = (b"alor", b"ALOR", b"kcal", b"Kcal", b"KCAL", b"nerg", b"NERG", b"utri", b"kJ", b"rennwert")

_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "select",
                   "option", "button", "input", "textarea", "head", "title"})
_EXCLUDED_TAGS = _SKIP | {"nav", "aside", "footer", "form", "dialog", "menu"}
_EXCLUDED_ROLES = {"navigation", "search", "complementary", "contentinfo", "banner", "dialog"}
_BLOCKS = frozenset({"address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details", "div",
                     "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
                     "h6", "header", "hr", "html", "li", "main", "nav", "ol", "p", "pre", "section", "summary",
                     "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"})
_HEADING_RANK = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_CELLS = ("td", "th")

# Calorie labels in the common recipe languages, and energy labels, which need a unit.
_CAL_WORD = (r"calor[ií]as?|calories|calorie(?:ën)?|kalorien|kalorier|kalorie|kalorii|kalorit|kaloryczno[śs][ćc]"
             r"|kcal|kilocalories")
_ENERGY_WORD = (r"[ée]nergie|energ[ií]a|energy|energi|brennwert|energiewert|valeur [ée]nerg[ée]tique"
                r"|valor energ[ée]tico|valore energetico|warto[śs][ćc] energetyczna")
_CAL_LABEL = re.compile(_CAL_WORD, re.I)
_LABEL = rf"(?<![^\W\d_])(?P<label>{_CAL_WORD}|{_ENERGY_WORD})(?![^\W\d_])"
_LABEL_UNIT = r"(?:\s*[(\[]\s*(?:in\s+)?(?P<lunit>kcal|kj|cal)\s*[)\]])?"
_SERVING_WORD = (r"servings?|portions?|porci[oó]n|raci[oó]n|por[cç][aã]o|porzione|portie|porsjon|porcj[aęi]"
                 r"|personne|persoon|person")
_BASIS = rf"\(?\s*(?:per|pro|je|par|pour|por|para|för|pr\.|na|w|a|à|i)\s+(?:{_SERVING_WORD}|100\s?(?:g|ml))\s*\)?"
_OTHER_UNIT = r"(?!\s*(?:%|(?:g|gr|grams?|mg|µg|mcg|ml|oz|lbs?)(?![^\W\d_])))"
_VALUE = (rf"(?:ca\.|approx\.|~|≈)?\s*(?P<num>{NUMBER}){RANGE_TAIL}\s*(?P<unit>{ENERGY_UNIT})?"
          rf"(?:\s*[/(|]\s*(?P<num2>{NUMBER})\s*(?P<unit2>{ENERGY_UNIT})\)?)?{_OTHER_UNIT}")
# "Calories: 454", "Énergie (kcal) 272", "Energie 1139 kJ / 272 kcal", "Calories per serving: 454".
_LABELLED = re.compile(rf"{_LABEL}{_LABEL_UNIT}\s*(?:{_BASIS})?\s*[:=\-\u2013\u2014]?\s*{_VALUE}", re.I)
_LABEL_ONLY = re.compile(rf"\s*{_LABEL}{_LABEL_UNIT}\s*(?:{_BASIS})?\s*(?P<colon>[:=])?\s*", re.I)
_VALUE_ONLY = re.compile(rf"[\s*]*{_VALUE}\s*(?:{_BASIS})?[\s*.]*", re.I)
# "454 kcal", "2 467 kJ", "454 calories".
_FIGURE = re.compile(rf"(?P<num>{NUMBER}){RANGE_TAIL}\s*(?P<unit>{ENERGY_UNIT})", re.I)
_ANCHOR_WORD = re.compile(rf"(?<![^\W\d_])(?:{_CAL_WORD}|{_ENERGY_WORD}|cals?|kj|kilojoules?)(?![^\W\d_])", re.I)
# Text nodes that may hold a label or a unit (XPath contains() is C-level and case-sensitive).
_ANCHORS = etree.XPath(".//text()[contains(., 'alor') or contains(., 'ALOR') or contains(., 'cal') or "
                       "contains(., 'CAL') or contains(., 'nerg') or contains(., 'NERG') or contains(., 'rennwert')]")

_SEGMENT_LEAD = re.compile(r"(?:nutrition(?:al)?(?: facts| information| info)?|n[äa]hrwerte|per serving"
                           r"|pro portion|per portion)\s*$", re.I)
_NUTRITION_HEADING = re.compile(r"nutri|n[äa]hrwert|naehrwert|voedingswaarde|n[äa]ringsv[äa]rde|n[æa]ringsinn?hold"
                                r"|ravintoarvo|warto[śs]ci od[żz]ywcze", re.I)
_RELATED_HEADING = re.compile(
    r"you (?:may|might|will|'ll) (?:also )?(?:like|love|enjoy)|related|similar|more (?:recipes|from|like)"
    r"|popular|trending|recommended|readers also|others also|(?<!\w)comments?(?!\w)|(?<!\w)reviews?(?!\w)"
    r"|leave a (?:reply|comment)|das könnte|ähnliche|weitere rezepte|passende rezepte|vous aimerez"
    r"|recettes similaires|à découvrir|te puede|recetas relacionadas|también te|voc[êe] também"
    r"|receitas relacionadas|ti potrebbe|ricette correlate|interessarti|misschien ook|gerelateerde"
    r"|du kanske|liknande|relaterte|lignende|podobne|zobacz (?:też|także)|polecane", re.I)
_EXCLUDED_PART = re.compile(
    r"related\w*|similar\w*|recommend\w*|comments?|commentlist|sidebar|widgets?|newsletter|popup|modal"
    r"|breadcrumbs?|carousel|sponsor\w*|advert\w*|promo\w*|ads?|adslot|adunit|gpt|nav|navbar|navigation|menu"
    r"|footer|filters?|search\w*|slider|facets?|reviews?|also|teasers?")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden")
_PER_100 = re.compile(r"(?:(?<![^\W\d_])(?:per|pro|je|pour|par|por|para|för|pr|na|w|à|a|in|i)\.?\s*|/\s*|^\s*)"
                      r"100\s?(?:g|gr|grams?|gramm|grammes?|gramos|gramas|grammi|gram|ml)(?![^\W\d_])", re.I)
_WHOLE_RECIPE = re.compile(r"whole recipe|per recipe|entire recipe|in total|pro rezept|par recette|por receta"
                           r"|por receita|per ricetta|per recept", re.I)
_PER_SERVING = re.compile(rf"(?<![^\W\d_])(?:{_SERVING_WORD})(?![^\W\d_])", re.I)
_BASES = (("100g", _PER_100), ("total", _WHOLE_RECIPE), ("serving", _PER_SERVING))
_SEPARATORS = "\x1f|;•·"
_DIGIT = re.compile(r"\d")
_MAX_ANCHORS, _MAX_CELLS = 300, 6  # bound the work on listings and pathological pages
_WS = re.compile(r"[^\S\x1f]+")
_BOUNDARIES = re.compile(r" ?\x1f[ \x1f]*")


class _Candidate(NamedTuple):
    kcal: float
    kj: bool  # read from a kJ figure
    basis: str | None  # "serving", "100g", "total" or None
    el: object  # where it was read: its ancestors and headings decide the rest
    labelled: bool  # a figure without a label ("410 kcal") only counts in a nutrition block


def worth_a_tree(raw: bytes) -> bool:
    """Whether a page whose JSON-LD has no calories might show some (a tree costs ~10 ms per MB)."""
    return any(hint in raw for hint in _TREE_HINTS)


def calories(marks, record: dict) -> int | float | None:
    """kcal per serving from the page's visible text, or None when there is no clear value."""
    if marks is None or marks.tree is None:
        return None
    scope = _recipe_scope(marks, record)
    found: list[tuple[_Candidate, bool]] = []  # (candidate, inside the scope)
    read: set = set()
    # Nutrition blocks and calorie elements, named by class, id or itemtype, anywhere on the page.
    # Outer blocks come first (document order), so a block's own parts are not read twice.
    hinted = marks.hinted + [el for el in marks.items if fields.has_type(
        (el.get("itemtype") or "").split(), "nutritioninformation")]
    for el in hinted:
        if el.tag in ("body", "html") or any(a in read for a in el.iterancestors()):
            continue
        inside = scope is None or el is scope or any(a is scope for a in el.iterancestors())
        names = f"{el.get('class', '')} {el.get('id', '')}".lower()
        if "utri" in names or "hrwert" in names or el.get("itemtype") is not None:
            lines = _lines(el, max_chars=4000)
            if lines is None:
                continue  # far too much text for a nutrition block
            found += [(c, inside) for c in _read(lines, range(len(lines)))]
        else:
            lines, own = _neighbourhood(el)
            found += [(c, inside) for c in _read(lines, own, calorie_element=True)]
        read.add(el)
    # Labels and units in the text of the recipe's part of the page.
    root = scope if scope is not None else marks.tree.find("body")
    anchors = 0
    for node in _ANCHORS(root if root is not None else marks.tree):
        el = node.getparent()
        if node.is_tail:
            el = el.getparent() if el is not None else None
        if el is None or el.tag in _SKIP:
            continue
        block = el
        while block.tag not in _BLOCKS and block.getparent() is not None:
            block = block.getparent()
        if block in read or not _ANCHOR_WORD.search(node):
            continue
        # Whitespace collapsed first: runs of it make the label patterns backtrack without end.
        if not _DIGIT.search(node) and not _LABEL_ONLY.fullmatch(" ".join(node.split())):
            continue  # "calories" in a card title, not a label: most hits on real pages
        if any(a in read for a in block.iterancestors()):
            continue
        anchors += 1
        if anchors > _MAX_ANCHORS:
            break  # a listing of hundreds of foods is not one recipe's nutrition
        read.add(block)
        lines, own = _neighbourhood(block)
        if not own:  # a block with far too much text: just the label's own element and its siblings
            lines, own = _neighbourhood(el)
        found += [(c, True) for c in _read(lines, own)]
    return _choose(found, fields.normal(record.get("title")))


def _choose(found, title: str | None) -> int | float | None:
    kept = []
    for candidate, inside in found:
        context = _context(candidate.el, title)
        if context is None:
            continue  # navigation, a related card, an ad, a comment...
        nutrition, basis = context
        if not (candidate.labelled or nutrition):
            continue
        kept.append((candidate._replace(basis=candidate.basis or basis), 2 * inside + nutrition))
    # Per-100 g and whole-recipe figures only count when there is nothing else.
    per_serving = [(c, tier) for c, tier in kept if c.basis not in ("100g", "total")]
    if not per_serving:
        return None
    top = max(tier for _, tier in per_serving)
    best = [c for c, tier in per_serving if tier == top]
    best = [c for c in best if not c.kj] or best  # both kcal and kJ given: the kcal one
    best = [c for c in best if c.basis == "serving"] or best
    values = {as_kcal(c.kcal) for c in best}
    values.discard(None)
    return values.pop() if len(values) == 1 else None


# ------------------------------------------------------------ where to look


def _recipe_scope(marks, record: dict):
    """The element holding the recipe, or None when the page does not tell."""
    item = marks.item("recipe")
    if item is not None:
        return item
    cards = [el for name in RECIPE_CARD_CLASSES for el in marks.classes[name]]
    outer = [c for c in cards if not any(a in cards for a in c.iterancestors())]
    if len(outer) == 1:
        return outer[0]
    title = fields.normal(record.get("title"))
    heading = next((h for h in marks.h1s if fields.normal(text_content(h)) == title), None)
    ingredients = next((marks.classes[name] for name in INGREDIENT_CLASSES if marks.classes[name]), None)
    if heading is None or not ingredients:
        return None
    common = _common_ancestor([heading, ingredients[0], ingredients[-1]])
    return None if common is None or common.tag in ("body", "html") else common


def _common_ancestor(elements):
    chains = [[el, *el.iterancestors()] for el in elements]
    others = [set(chain) for chain in chains[1:]]
    return next((a for a in chains[0] if all(a in chain for chain in others)), None)


def _context(el, title: str | None) -> tuple[bool, str | None] | None:
    """(in a nutrition block, basis) from ``el``'s ancestors and the headings before them; None if excluded."""
    nutrition, basis = False, None
    node = el
    while node is not None and node.tag not in ("body", "html"):
        if _other_dish_card(node, title):
            return None
        if not isinstance(node.tag, str) or node.tag in _EXCLUDED_TAGS or node.get("hidden") is not None:
            return None
        if node.get("aria-hidden") == "true" or node.get("role") in _EXCLUDED_ROLES:
            return None
        if _HIDDEN_STYLE.search(node.get("style") or ""):
            return None
        names = f"{node.get('class') or ''} {node.get('id') or ''}"
        if names.strip():
            if _excluded_names(names):
                return None
            low = names.lower()
            nutrition = nutrition or any(hint in low for hint in ("utri", "hrwert", "alor", "kcal"))
        if node.get("itemtype") and fields.has_type(node.get("itemtype").split(), "nutritioninformation"):
            nutrition = True
        rank_limit = 8
        for i, sibling in enumerate(node.itersiblings(preceding=True)):
            if i >= 40 or rank_limit == 1:
                break
            heading = _heading(sibling, rank_limit)
            if heading is None:
                continue
            rank_limit, heading_text = heading
            if _RELATED_HEADING.search(heading_text):
                return None
            nutrition = nutrition or bool(_NUTRITION_HEADING.search(heading_text))
            basis = basis or _basis(heading_text)
        node = node.getparent()
    return nutrition, basis


def _other_dish_card(el, title: str | None) -> bool:
    """One of a row of look-alike containers (same tag and class) headed by another dish's name: a teaser."""
    twin = next((t for t in (el.getprevious(), el.getnext()) if t is not None and t.tag == el.tag
                 and t.get("class") == el.get("class")), None)
    if twin is None:
        return False
    heading = next(el.iter("h2", "h3", "h4", "h5", "h6"), None)
    if heading is None:
        return False
    name = fields.normal(text_content(heading))
    return name != title and not _NUTRITION_HEADING.search(name or "") and not _basis(name or "")


def _heading(el, below: int) -> tuple[int, str] | None:
    """(rank, text) if ``el`` heads what follows it: h1-h6, or a short line saying nutrition, related or per what."""
    if not isinstance(el.tag, str):
        return None
    rank = _HEADING_RANK.get(el.tag, 7)
    if rank >= below or (rank == 7 and (el.tag in _SKIP or len(el) > 3)):
        return None
    heading = " ".join(text_content(el).split())
    if rank == 7:  # a short line without figures that names nutrition, related recipes or per what
        if len(heading) > 60 or _DIGIT.search(_PER_100.sub("", heading)):
            return None
        if not (_NUTRITION_HEADING.search(heading) or _RELATED_HEADING.match(heading) or _basis(heading)):
            return None
    return rank, heading


def _excluded_names(names: str) -> bool:
    for token in names.lower().split():
        if token.startswith(("has-", "is-", "with-", "no-")):
            continue  # layout flags such as has-sidebar
        if any(_EXCLUDED_PART.fullmatch(part) for part in re.split(r"[-_]+", token)):
            return True
    return False


def _basis(text: str) -> str | None:
    """What a figure is per: "100g", "total" (the whole recipe), "serving", or None when unsaid."""
    return next((kind for kind, pattern in _BASES if pattern.search(text)), None)


# ------------------------------------------------------------ text as lines


def _lines(root, limit: int | None = None, max_chars: int | None = None) -> list[tuple[str, object]] | None:
    """The text of ``root`` as lines, each with the block element it is in.

    Blocks and <br> end a line; inline element boundaries become \\x1f, so
    <span>Calories</span><span>454</span> reads "Calories\\x1f454" and a
    label is told from a word inside a sentence. None past ``max_chars``.
    """
    lines, buf, owners, size = [], [], [root], 0

    def flush():
        line = _BOUNDARIES.sub("\x1f", _WS.sub(" ", "".join(buf))).strip(" \x1f")
        buf.clear()
        if line:
            lines.append((line, owners[-1]))

    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        tag = el.tag
        skipped = not isinstance(tag, str) or tag in _SKIP
        if event == "start":
            if skipped:
                walker.skip_subtree()
                continue
            if tag in _BLOCKS:
                flush()
                owners.append(el)
            else:
                buf.append("\x1f")
            if el.text:
                buf.append(el.text)
                size += len(el.text)
        else:
            if not skipped:
                if tag in _BLOCKS:
                    flush()
                    owners.pop()
                else:
                    buf.append("\x1f")
            if el is root:
                break
            if el.tail:
                buf.append(el.tail)
                size += len(el.tail)
        if max_chars is not None and size > max_chars:
            return None
        if limit is not None and len(lines) >= limit:
            return lines[:limit]
    flush()
    return lines


def _neighbourhood(el) -> tuple[list[tuple[str, object]], range]:
    """The lines of ``el`` (its own) with a line or two before and after it, for values beside a label."""
    parent = el.getparent()
    lines = []
    prev = el.getprevious()
    if prev is not None and len(prev) <= 3 and all(len(child) <= 2 for child in prev):
        lines += (_lines(prev) or [])[-2:]
    before = prev.tail if prev is not None else (parent.text if parent is not None else None)
    if before and before.strip():
        lines.append((" ".join(before.split()), parent))
    start = len(lines)
    lines += _lines(el, max_chars=4000) or []
    own = range(start, len(lines))
    if el.tail and el.tail.strip():
        lines.append((" ".join(el.tail.split()), parent))
    nxt = el.getnext()
    if nxt is not None:
        lines += _lines(nxt, limit=2) or []
    return lines, own


# ------------------------------------------------------------ reading values


def _read(lines, own, *, calorie_element: bool = False) -> list[_Candidate]:
    """Calorie candidates in ``lines[i]`` for i in ``own``; the other lines only give values to a label."""
    found = []
    for i in own:
        text, el = lines[i]
        # A label starts its part of the line and its value follows it: never "a 2,000 calorie diet".
        labelled = [m for m in _LABELLED.finditer(text) if _starts_segment(text, m.start())]
        for m in labelled:
            kcal = _figure(m, m.group("label"), m.group("lunit"))
            if kcal is not None:
                found.append(_Candidate(*kcal, _line_basis(text, m.start(), m.end()), el, True))
        if labelled:
            continue
        label = _LABEL_ONLY.fullmatch(text)
        if label is not None:
            found += _values_beside(lines, i, label)
            continue
        for m in _FIGURE.finditer(text):
            if _starts_segment(text, m.start()) and _ends_segment(text, m.end()):
                kcal = _figure(m, None)
                if kcal is not None:
                    basis = _line_basis(text, m.start(), m.end()) or (_cell_basis(el) if el.tag in _CELLS else None)
                    found.append(_Candidate(*kcal, basis, el, False))
        if calorie_element and (value := _VALUE_ONLY.fullmatch(text)) is not None:
            kcal = _figure(value, "kcal")  # the element's class says calories
            if kcal is not None:
                found.append(_Candidate(*kcal, _line_basis(text, 0, len(text)), el, True))
    return found


def _values_beside(lines, i: int, label) -> list[_Candidate]:
    """The value of a label standing alone: the next table cell, or the line after (or before) it."""
    text, el = lines[i]
    if el.tag in _CELLS:
        return _row_values(el, label)
    after = _value_line(lines, i + 1, el)
    before = _value_line(lines, i - 1, el)
    if after is not None and before is not None:  # <div>454</div><div>Calories</div><div>4</div>: which one?
        with_unit = [v for v in (after, before) if v[0].group("unit")]
        if len(with_unit) == 1:
            after, before = with_unit[0], None
        elif label.group("colon"):
            before = None
        else:
            return []
    value = after or before
    if value is None:
        return []
    kcal = _figure(value[0], label.group("label"), label.group("lunit"))
    if kcal is None:
        return []
    basis = _basis(text) or _basis(value[0].string)
    return [_Candidate(*kcal, basis, value[1], True)]


def _value_line(lines, j: int, label_el):
    if not 0 <= j < len(lines):
        return None
    text, el = lines[j]
    near = el is label_el or el.getparent() is label_el or label_el.getparent() is el \
        or el.getparent() is label_el.getparent()
    match = _VALUE_ONLY.fullmatch(text) if near else None
    return (match, el) if match is not None else None


def _row_values(cell, label) -> list[_Candidate]:
    """A label cell's value in its row; with several, the per-serving column by the table's header."""
    row = cell.getparent()
    cells = [c for c in row if c.tag in _CELLS]
    first_value = cells.index(cell) + 1
    after = cells[first_value:first_value + _MAX_CELLS]
    values = [(j, _VALUE_ONLY.fullmatch(" ".join(text_content(c).split())), c) for j, c in enumerate(after)]
    values = [(j, m, c) for j, m, c in values if m is not None]
    if not values:
        return []
    bases = _column_bases(row, first_value)
    if len(values) > 1 and not any(bases.get(j) for j, _, _ in values):
        return []  # several unlabelled columns: no clear per-serving value
    found = []
    for j, m, c in values:
        kcal = _figure(m, label.group("label"), label.group("lunit"))
        if kcal is not None:
            found.append(_Candidate(*kcal, bases.get(j) or _basis(label.string), c, True))
    return found


def _cell_basis(cell) -> str | None:
    row = cell.getparent()
    cells = [c for c in row if c.tag in _CELLS]
    return _column_bases(row, 0).get(cells.index(cell))


def _column_bases(row, first_value: int) -> dict[int, str | None]:
    """Basis of each value column (0 = the first after the label) from the table's first row."""
    table = next((a for a in row.iterancestors() if a.tag == "table"), None)
    header = next(table.iter("tr"), None) if table is not None else None
    if header is None or header is row:
        return {}
    cells = [" ".join(text_content(c).split()) for c in header if c.tag in _CELLS]
    if len(cells) == 1:  # one cell over all columns: "Amount per serving"
        return {j: _basis(cells[0]) for j in range(_MAX_CELLS)}
    return {j - first_value: _basis(t) for j, t in enumerate(cells) if j >= first_value}


def _figure(m, label: str | None, label_unit: str | None = None) -> tuple[float, bool] | None:
    """(kcal, read from kJ) of a value match; a bare number needs a calorie label, not an energy one."""
    unit = m.group("unit") or label_unit
    factor = unit_factor(unit)
    if factor is None and label is not None and _CAL_LABEL.fullmatch(label):
        factor = 1.0
    figures = [(number(m.group("num")), factor)]
    if "num2" in m.re.groupindex and m.group("num2"):
        figures.append((number(m.group("num2")), unit_factor(m.group("unit2"))))
    figures = [(n, f) for n, f in figures if n is not None and f is not None]
    kcal = preferred_kcal(figures)
    if kcal is None:
        return None
    return kcal, all(f != 1.0 for _, f in figures)


def _starts_segment(text: str, at: int) -> bool:
    before = text[:at].rstrip(" ")
    return not before or before[-1] in "\x1f|;,.:•·(/*)\u2013\u2014-" or _SEGMENT_LEAD.search(before) is not None


def _ends_segment(text: str, at: int) -> bool:
    after = text[at:].lstrip(" ")  # "454 kcal 20 g fat": the next figure starts a new part
    return not after or after[0] in "\x1f|;,.)/•·(*0123456789" or re.match(_BASIS, after, re.I) is not None


def _line_basis(text: str, start: int, end: int) -> str | None:
    """The per-what marker nearest a figure in its part of the line, after it first."""
    end = start + len(text[start:end].rstrip(" \x1f"))
    seg_end = min((i for i in (text.find(s, end) for s in _SEPARATORS) if i >= 0), default=len(text))
    seg_start = max(text.rfind(s, 0, start) for s in _SEPARATORS) + 1
    after = [(m.start(), kind) for kind, pattern in _BASES for m in pattern.finditer(text, end, seg_end)]
    before = [(m.end(), kind) for kind, pattern in _BASES for m in pattern.finditer(text, seg_start, end)]
    return min(after)[1] if after else max(before)[1] if before else None
