"""Our own base instructions, after the MemGPT paper, and the fixed texts of system events."""

import json
from datetime import datetime

BASE_INSTRUCTIONS = """\
You are {name}, a MemGPT agent: a digital companion with a memory that lasts beyond one conversation.

Control flow.
You do not think continuously. You run in short bursts, each started by an event: a message from the \
user, a system alert, a login, or a heartbeat. A heartbeat is a chance to keep thinking: request one \
(request_heartbeat: true) whenever you call a tool and want to act again on its result, for example to \
search further or to answer after a memory edit. Without a heartbeat, control returns to the user and you \
wait for the next event. A failed tool call always gives you another step, so you can correct it.

Inner monologue and speech.
The text you write outside tool calls is your inner monologue: private thoughts the user never sees. Use \
it to plan and reflect, briefly (under 50 words). The only way to speak to the user is the send_message \
tool; everything else you write is unheard. Speak as your persona would, naturally, not like an assistant \
reading a manual.

Memory.
Your context window is small and fills up. Older messages are evicted from it and folded into a \
recursive summary, but nothing is lost: you manage three tiers of memory.
- Core memory is always in your context: the blocks below (for example your persona, and what you know \
about the human). Edit it with core_memory_append and core_memory_replace whenever you learn something \
worth keeping: facts, preferences, how you should behave. Each block has a character limit.
- Recall memory holds every message you ever exchanged, including those no longer in context. Search it \
with conversation_search (by words and meaning) and conversation_search_date (by dates).
- Archival memory is a store of unlimited size for reflections, insights, facts and documents the user \
gave you. Write with archival_memory_insert, read with archival_memory_search. Search results come in \
pages; ask for the next page when the answer is not on the first.

When a system alert warns of memory pressure, save what matters to core or archival memory: the \
messages in your context will soon be evicted.

From now on you are the persona in your core memory. Stay in character."""

SUMMARY_INSTRUCTIONS = """\
You maintain the long-term summary of a conversation between an AI agent and a user. You receive the \
previous summary (it may be empty) and the messages that are about to leave the agent's context window. \
Write one new summary that keeps what the agent needs later: who said what, facts, decisions, open \
questions, the agent's promises, and the tone. Write in the agent's first person ("I"), in plain prose, \
at most {words} words. Answer with the summary only."""

HEARTBEAT_REASON = "[This is an automated system message hidden from the user] Function called using request_heartbeat=true, returning control"
FAILED_REASON = "[This is an automated system message hidden from the user] Function call failed, returning control"
MANUAL_HEARTBEAT_REASON = "[This is an automated system message hidden from the user] A heartbeat was sent to wake you up"
MEMORY_WARNING = (
    "Warning: the conversation history will soon reach its maximum length and be trimmed. Make sure to "
    "save any important information from the conversation to your memory before it is removed."
)
SUMMARY_NOTE = (
    "Note: {hidden} previous messages have been hidden from view because the context window was full. "
    "Their content lives on in recall memory (search it with conversation_search). "
    "Summary of the conversation so far:\n{summary}"
)


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %I:%M:%S %p %Z%z").strip()


def packed(kind: str, moment: datetime, **fields) -> str:
    """An event packed as MemGPT sends it: a small JSON object with its type and time."""
    return json.dumps({"type": kind, **fields, "time": timestamp(moment)}, ensure_ascii=False)


def user_message(text: str, moment: datetime) -> str:
    return packed("user_message", moment, message=text)


def agent_message(text: str, sender: dict, moment: datetime) -> str:
    """A message from another agent: who sent it, and where an answer goes."""
    if sender["waits"]:
        reply = f"{sender['name']} waits for your answer: what you say with send_message goes back to it."
    else:
        reply = (f"{sender['name']} does not wait for an answer. To answer, call send_message_to_agent_async with "
                 f"other_agent_id {sender['id']!r}.")
    return packed("agent_message", moment, sender={"agent_id": sender["id"], "name": sender["name"]}, message=text,
                  reply=reply)


def group_message(said: list[dict], group: dict, moment: datetime) -> str:
    """What was said in a round-robin group since the agent last spoke there: [{"from", "text"}]."""
    return packed("group_message", moment, group=group["name"], messages=said,
                  reply="You are one of the agents of this group, each answering in turn. What you say with "
                        "send_message is what the group hears from you.")


SLEEPTIME_INSTRUCTIONS = (
    "You are the sleep-time agent of {name}: you do not talk to anyone. Below are the messages {name} exchanged "
    "since you last ran. Reorganise the memory blocks you share with {name} so that they hold what matters from "
    "them: add new facts, merge duplicates, correct what changed, drop what is stale, and keep each block within "
    "its limit (core_memory_append, core_memory_replace; archival_memory_insert for detail). Your turn ends "
    "when you stop asking for heartbeats; you need not call send_message.")


def sleeptime(transcript: str, primary: dict, moment: datetime) -> str:
    """A sleep-time agent's turn: its primary agent's new messages, and what to do with them."""
    return packed("sleeptime", moment, message=SLEEPTIME_INSTRUCTIONS.format(name=primary["name"]),
                  messages=transcript)


def heartbeat(reason: str, moment: datetime) -> str:
    return packed("heartbeat", moment, reason=reason)


def login(last_login: datetime | None, moment: datetime) -> str:
    return packed("login", moment, last_login=timestamp(last_login) if last_login else "Never (first login)")


def system_alert(message: str, moment: datetime) -> str:
    return packed("system_alert", moment, message=message)


def tool_result(status: str, message, moment: datetime) -> str:
    return json.dumps({"status": status, "message": message, "time": timestamp(moment)}, ensure_ascii=False)
