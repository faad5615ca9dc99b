"""The pure conversation rules: what is sent, in what order, and what a trim leaves out."""

from bot.conversation import Budget, ContextTurn, build, drop_count, to_message
from bot.domain import InputImage

IMG = InputImage(b"\x89PNG-fake", "image/png")


def test_drop_count_keeps_budgets_and_never_opens_on_an_answer():
    turns = [("user", 0), ("assistant", 10), ("user", 0), ("assistant", 10), ("user", 5)]
    assert drop_count(turns, Budget(max_turns=10, max_image_bytes=100)) == 0
    assert (
        drop_count(turns, Budget(max_turns=4, max_image_bytes=100)) == 2
    )  # not 1: no answer first
    assert drop_count(turns, Budget(max_turns=10, max_image_bytes=15)) == 2  # 15 bytes fit
    assert drop_count(turns, Budget(max_turns=10, max_image_bytes=10)) == 4  # images budget
    assert drop_count([("user", 999)], Budget(max_turns=1, max_image_bytes=1)) == 0  # newest stays


def test_build_replays_assistant_images_and_reasoning_and_counts_earlier_drops():
    history = [
        ContextTurn("user", "a barn", (IMG,)),
        ContextTurn("assistant", "here", (IMG,), [{"type": "reasoning.encrypted"}]),
    ]
    context = build(history, "snow", (), Budget(), dropped_before=2)
    assert [m["role"] for m in context.messages] == ["user", "assistant", "user"]
    assert context.messages[1]["reasoning_details"] == [{"type": "reasoning.encrypted"}]
    assert context.messages[1]["images"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert context.warnings == ("⚠️ Only using the last 2 turns of this conversation.",)
    assert to_message(ContextTurn("user", "plain", ())) == {"role": "user", "content": "plain"}
