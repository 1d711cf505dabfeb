"""What the connector sends: text splitting, reply buttons and list messages within WhatsApp's
limits (the sandbox refuses what Meta refuses), and retries against Graph API errors."""

from __future__ import annotations

import logging

from channels.whatsapp_outbound import choice_messages, split_text, truncate
from sandbox import payloads
from sandbox.server import check_message
from tests.support.connector import ConnectorHarness, isolated_system, scripted_bot


def attempts(harness: ConnectorHarness) -> list[int]:
    return [r["status"] for r in harness.graph_requests("messages")]


def test_long_text_is_split_at_4096_characters(harness):
    harness.say("919800001001", payloads.text("long 10000"))
    bodies = [m["text"]["body"] for m in harness.sent("919800001001")]
    assert len(bodies) == 3
    assert all(len(body) <= 4096 for body in bodies)
    assert " ".join(bodies).split() == ("word " * 2000).split()


def test_split_prefers_paragraphs_and_never_loses_text():
    text = "पहला अनुच्छेद। " * 200 + "\n\n" + "second paragraph " * 300
    pieces = split_text(text, 4096)
    assert pieces[0].endswith("।") and all(len(p) <= 4096 for p in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    assert split_text("x" * 5000) == ["x" * 4096, "x" * 904]


def test_a_long_message_without_line_breaks_is_split_after_a_sentence():
    text = ("Sentence number one is here. " * 60) + "मैं समझा कि यह अवैध शराब है। " * 60
    pieces = split_text(text, 1024)
    assert all(p.endswith((".", "।")) for p in pieces[:-1])
    assert " ".join(pieces).split() == text.split()


def test_list_labels_follow_the_language_of_the_message():
    options = [(f"id{i}", f"श्रेणी {i}") for i in range(13)]
    hindi = choice_messages("कृपया श्रेणी चुनें:", options)
    english = choice_messages("Please choose a category:", options)
    assert [m["interactive"]["action"]["button"] for m in hindi] == ["चुनें", "चुनें"]
    assert hindi[1]["interactive"]["body"]["text"] == "और विकल्प (2/2)"
    assert [m["interactive"]["action"]["button"] for m in english] == ["Choose", "Choose"]
    assert english[1]["interactive"]["body"]["text"] == "More options (2/2)"


def test_up_to_three_buttons_are_reply_buttons_with_short_titles(harness):
    harness.say("919800001002", payloads.text("menu 3"))
    [message] = harness.sent("919800001002")
    interactive = message["interactive"]
    assert interactive["type"] == "button"
    titles = [b["reply"]["title"] for b in interactive["action"]["buttons"]]
    assert len(titles) == 3 and all(len(t) <= 20 for t in titles)
    assert titles[0].startswith("Option 0") and titles[0].endswith("…")
    assert len(set(titles)) == 3


def test_more_than_three_buttons_become_a_list_with_full_titles_in_descriptions(harness):
    harness.say("919800001003", payloads.text("menu 5"))
    [message] = harness.sent("919800001003")
    interactive = message["interactive"]
    assert interactive["type"] == "list"
    rows = interactive["action"]["sections"][0]["rows"]
    assert len(rows) == 5
    assert all(len(r["title"]) <= 24 and len(r.get("description", "")) <= 72 for r in rows)
    assert rows[0]["description"] == "Option 0 — a title longer than twenty characters"


def test_more_than_ten_options_are_paged(harness):
    harness.say("919800001004", payloads.text("menu 13"))
    pages = harness.sent("919800001004")
    assert [len(p["interactive"]["action"]["sections"][0]["rows"]) for p in pages] == [10, 3]
    assert "2/2" in pages[1]["interactive"]["body"]["text"]
    ids = [r["id"] for p in pages for r in p["interactive"]["action"]["sections"][0]["rows"]]
    assert len(set(ids)) == 13
    # A row on the second page is as valid as one on the first.
    row = pages[1]["interactive"]["action"]["sections"][0]["rows"][2]
    harness.say("919800001004", payloads.list_reply(row["id"], row["title"]))
    assert harness.received_from("919800001004")[-1].text == '/choose_category{"category":"c12"}'


def test_body_too_long_for_an_interactive_message_goes_first_as_text():
    options = [(f"id{i}", f"Choice {i}") for i in range(2)]
    messages = choice_messages("घटना का विवरण " * 200, options)
    assert [m["type"] for m in messages][-1] == "interactive"
    assert all(check_message({"messaging_product": "whatsapp", "to": "1", **m}) is None for m in messages)
    assert len(messages[-1]["interactive"]["body"]["text"]) <= 1024


def test_titles_that_truncate_alike_stay_unique():
    options = [(f"id{i}", "Same long prefix for every option " + str(i)) for i in range(3)]
    [message] = choice_messages("Pick", options)
    titles = [b["reply"]["title"] for b in message["interactive"]["action"]["buttons"]]
    assert len(set(titles)) == 3 and all(len(t) <= 20 for t in titles)
    assert truncate("short", 20) == "short"


def test_rate_limit_and_server_errors_are_retried(harness):
    harness.reset_graph()
    harness.faults(messages=[429, 500, 503])
    harness.say("919800001005", payloads.text("retry me"))
    assert attempts(harness) == [429, 500, 503, 200]
    assert [m["text"]["body"] for m in harness.sent("919800001005")] == ["got: retry me"]


def test_giving_up_after_the_last_attempt_is_logged(harness, caplog):
    harness.reset_graph()
    harness.faults(messages=[500] * 5)
    with caplog.at_level(logging.WARNING, logger="channels"):
        harness.say("919800001006", payloads.text("lost"))
    assert attempts(harness) == [500] * 5
    assert "failed after 5 attempts" in caplog.text
    assert "9800001006" not in caplog.text


def test_client_errors_are_logged_clearly_and_not_retried(harness, caplog):
    harness.reset_graph()
    harness.faults(messages=[400])
    with caplog.at_level(logging.ERROR, logger="channels"):
        harness.say("919800001007", payloads.text("refused"))
    assert attempts(harness) == [400]
    assert "WhatsApp API refused sending a text message" in caplog.text
    assert "HTTP 400" in caplog.text
    assert "9800001007" not in caplog.text


def test_wrong_access_token_is_a_clear_error(tmp_path, caplog):
    with isolated_system(tmp_path):
        harness = ConnectorHarness(bot=scripted_bot, access_token="expired-token").start()
        try:
            with caplog.at_level(logging.ERROR, logger="channels"):
                harness.say("919800001008", payloads.text("hello"))
        finally:
            harness.stop()
    assert "HTTP 401, code 190" in caplog.text


def test_every_message_shape_the_connector_sends_is_valid_for_meta(harness):
    harness.reset_graph()
    for text in ("menu 1", "menu 3", "menu 4", "menu 10", "menu 11", "long 9000", "plain"):
        harness.say("919800001009", payloads.text(text))
    recorded = harness.graph_requests("messages")
    assert recorded and all(r["status"] == 200 for r in recorded)
