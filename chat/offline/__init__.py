"""The default assistant: a deterministic English command interpreter that needs no network.

One command per message: greetings and help; "add buy milk tomorrow at 5pm #shop"; "what's
pending?"; "mark 3 done"; "reopen 3"; "delete task 4"; "rename 2 to buy bread"; "make 2 high
priority"; "move 2 to friday". A task is named by its id or by words of its title ("delete
the meeting task": list, then act; ask back when several tasks match).

grammar holds the English patterns, parser turns a message into a Command, replies turns the
tools' results into sentences, and assistant runs one turn with them.
"""

from chat.offline.assistant import OfflineAssistant

__all__ = ["OfflineAssistant"]
