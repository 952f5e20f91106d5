"""Passages cut into what can be quoted: rows with their header, items with their lead-in, sentences."""

from __future__ import annotations

from knowledge.units import UnitKind, render_row, units_of

ERROR_TABLE = """## Error code reference

| Code | Meaning | What to try |
|---|---|---|
| E117 | Mesh network error | Add a mains-powered device |
| E118 | Time sync failed | Check the router allows NTP (UDP 123); the device keeps working but schedules may drift |
| E119 | Storage full | — |
"""


def test_a_table_row_keeps_its_header_and_leaves_empty_cells_out() -> None:
    rows = [unit for unit in units_of(ERROR_TABLE) if unit.kind is UnitKind.ROW]
    assert [row.facts[0] for row in rows] == [("Code", "E117"), ("Code", "E118"), ("Code", "E119")]
    e118 = rows[1]
    assert e118.text == (
        "Code E118 · Meaning: Time sync failed · What to try: Check the router allows NTP (UDP 123); "
        "the device keeps working but schedules may drift"
    )
    assert e118.context == "Code · Meaning · What to try"
    assert rows[2].facts == (("Code", "E119"), ("Meaning", "Storage full"))  # "—" says nothing
    assert "|" not in "".join(unit.text for unit in units_of(ERROR_TABLE))


def test_a_row_is_named_by_its_first_cell_only_when_that_header_is_one_word() -> None:
    assert render_row((("Code", "E118"), ("Meaning", "Time sync failed"))) == "Code E118 · Meaning: Time sync failed"
    assert render_row((("Payment method", "PayPal"), ("Typical time", "1–3 days"))) == (
        "Payment method: PayPal · Typical time: 1–3 days"
    )


def test_html_tables_without_a_separator_take_their_first_row_as_header() -> None:
    passage = "| Plan | Price |\n\n| Annual | $79 |\n\n| Monthly | $7.99 |"
    assert [unit.facts for unit in units_of(passage)] == [
        (("Plan", "Annual"), ("Price", "$79")),
        (("Plan", "Monthly"), ("Price", "$7.99")),
    ]


def test_list_items_carry_the_sentence_that_introduces_them() -> None:
    passage = (
        "Opened products are fine. To get a full refund, the item must:\n\n"
        "- be complete, with all accessories;\n"
        "- be in its original retail box\n  (a shipping box around it is recommended);\n"
    )
    units = units_of(passage)
    assert [(u.kind, u.text) for u in units] == [
        (UnitKind.SENTENCE, "Opened products are fine."),
        (UnitKind.SENTENCE, "To get a full refund, the item must:"),
        (UnitKind.ITEM, "be complete, with all accessories;"),
        (UnitKind.ITEM, "be in its original retail box (a shipping box around it is recommended);"),
    ]
    assert units[2].context == "To get a full refund, the item must:"
    assert units[2].group == units[3].group == units[1].group + 1


def test_numbered_steps_know_their_number() -> None:
    passage = "1. Open **Account → Orders**.\n2. Click **Return items**.\n3. Pick a reason."
    assert [(u.step, u.text) for u in units_of(passage)] == [
        (1, "Open **Account → Orders**."),
        (2, "Click **Return items**."),
        (3, "Pick a reason."),
    ]


def test_plain_text_headings_and_titles_are_context_not_quotes() -> None:
    passage = (
        "Factory resetting the Acme Hub 2\n\n"
        "A factory reset erases everything.\n\n"
        "HOW TO RESET\n\n"
        "  1. Keep the hub plugged in.\n"
        "  2. Press and hold for 15 seconds.\n"
    )
    units = units_of(passage)
    assert [u.text for u in units] == [
        "A factory reset erases everything.",
        "Keep the hub plugged in.",
        "Press and hold for 15 seconds.",
    ]
    assert units[0].context == "Factory resetting the Acme Hub 2" and units[1].context.startswith("How To Reset")


def test_a_question_stays_with_its_answer_and_code_is_never_quoted() -> None:
    passage = "Checked out as a guest? Go to **acme.example/track**.\n\n```http\nGET /v2/orders\n```\n\nDone."
    assert [u.text for u in units_of(passage)] == ["Checked out as a guest? Go to **acme.example/track**.", "Done."]


def test_a_wrapped_first_line_is_not_taken_for_a_title() -> None:
    passage = "Returns are created online\nin a couple of minutes."
    assert [u.text for u in units_of(passage)] == ["Returns are created online in a couple of minutes."]


def test_odd_passages_give_odd_units_but_never_fail() -> None:
    assert units_of("") == () and units_of("```\nonly code\n```") == ()
    assert [u.text for u in units_of("Use a | b for pipes.")] == ["Use a | b for pipes."]  # prose, not a table
    ragged = units_of("| A | B |\n|---|---|\n| 1 | 2 | 3 |\n| x |")
    assert [u.facts for u in ragged] == [(("A", "1"), ("B", "2"), ("", "3")), (("A", "x"),)]
    assert ragged[0].text == "A 1 · B: 2 · 3"
    assert len(units_of("1. " + "step " * 2000)[0].text) == len("step " * 2000) - 1
