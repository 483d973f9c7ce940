"""The English of the offline assistant's commands: the words and patterns a message is matched
against. chat.offline.parser decides what they mean."""

import re

_I = re.IGNORECASE
QUOTES = "\"'\u201c\u201d\u2018\u2019"  # straight and curly quotes, stripped around names

# Small talk.
GREETING = re.compile(
    r"^(?:hi|hello|hey|hiya|howdy|yo|good\s+(?:morning|afternoon|evening|day))(?:\s+there)?\W*$", _I
)
THANKS = re.compile(r"^(?:thanks|thank\s+you|thx|cheers|ta)(?:\s+(?:a\s+lot|so\s+much|very\s+much))?\W*$", _I)
HELP = re.compile(r"^(?:help|\?+|commands|what\s+can\s+you\s+do|how\s+does\s+(?:this|it)\s+work)\b", _I)

# A change to one task, named by `ref`; parser.parse tries them in this order.
_QUESTION = r"(?:what|which|who|how|anything|something)\b"
_DONE = r"(?:done|complete|completed|finished)"
_NOT_DONE = r"(?:not\s+done|undone|incomplete|not\s+complete|not\s+completed|unfinished|pending|open|to\s*do)"
REOPEN = [
    re.compile(rf"^(?:mark|set)\s+(?P<ref>.+?)\s+(?:as\s+)?{_NOT_DONE}$", _I),
    re.compile(r"^(?:reopen|re-open|uncomplete|unmark|uncheck|untick)\s+(?P<ref>.+)$", _I),
]
COMPLETE = [
    re.compile(rf"^(?:mark|set)\s+(?P<ref>.+?)\s+(?:as\s+)?{_DONE}$", _I),
    re.compile(r"^(?:check|tick)\s+off\s+(?P<ref>.+)$", _I),
    re.compile(r"^(?:check|tick)\s+(?P<ref>.+?)\s+off$", _I),
    re.compile(r"^(?:complete|finish|close|done\s+with)\s+(?P<ref>.+)$", _I),
    re.compile(r"^i(?:'ve|\s+have)?\s+(?:done|finished|completed)\s+(?P<ref>.+)$", _I),
    re.compile(rf"^(?!{_QUESTION})(?P<ref>.+?)\s+is\s+(?:now\s+)?{_DONE}$", _I),
]
CLEAR_DUE = re.compile(
    r"^(?:clear|remove|delete|drop)\s+(?:the\s+)?(?:due\s+date|deadline)\s+(?:of|from|on|for)\s+(?P<ref>.+)$",
    _I,
)
RENAME = [
    re.compile(r"^(?:rename|retitle)\s+(?P<ref>.+?)\s+(?:to|as|into)\s+(?P<title>.+)$", _I),
    re.compile(r"^(?:change|set)\s+(?:the\s+)?(?:title|name)\s+of\s+(?P<ref>.+?)\s+to\s+(?P<title>.+)$", _I),
    re.compile(r"^(?:change|set)\s+(?P<ref>.+?)(?:'s)?\s+(?:title|name)\s+to\s+(?P<title>.+)$", _I),
]
_PRIORITY_WORD = r"(?P<priority>high|medium|normal|low|urgent|important)"
PRIORITY = [
    re.compile(
        rf"^(?:set|change|make|mark)\s+(?:the\s+)?priority\s+(?:of|for|on)\s+(?P<ref>.+?)\s+(?:to|as)\s+"
        rf"{_PRIORITY_WORD}(?:\s+priority)?$",
        _I,
    ),
    re.compile(
        rf"^(?:set|change)\s+(?P<ref>.+?)(?:'s)?\s+priority\s+to\s+{_PRIORITY_WORD}(?:\s+priority)?$", _I
    ),
    re.compile(
        rf"^(?:make|mark|set)\s+(?P<ref>.+?)\s+(?:as\s+|to\s+)?(?:a\s+)?{_PRIORITY_WORD}(?:\s+priority)?$", _I
    ),
]
DUE = [
    re.compile(
        r"^(?:set|change|move)\s+(?:the\s+)?(?:due\s+date|deadline)\s+(?:of|for|on)\s+(?P<ref>.+?)\s+to\s+(?P<when>.+)$",
        _I,
    ),
    re.compile(
        r"^(?:move|reschedule|postpone|push|defer|change)\s+(?P<ref>.+?)\s+(?:back\s+)?(?:to|until|till)\s+(?P<when>.+)$",
        _I,
    ),
    re.compile(rf"^(?!{_QUESTION})(?P<ref>.+?)\s+is\s+(?:now\s+)?due\s+(?P<when>.+)$", _I),
]
CHANGE_TO = re.compile(r"^change\s+(?P<ref>.+?)\s+to\s+(?P<title>.+)$", _I)
DELETE = re.compile(
    r"^(?:please\s+)?(?:delete|remove|erase|drop|cancel|trash|get\s+rid\s+of|forget(?:\s+about)?)\s+(?P<ref>.+)$",
    _I,
)
# A question about the list: it starts like one and names a topic of it.
LIST_START = re.compile(
    r"^(?:please\s+)?(?:list|show|display|view|see|get|give|tell|what|what's|whats|which|how\s+many|do\s+i\s+have"
    r"|any|my|all|pending|completed|open)\b",
    _I,
)
LIST_TOPIC = re.compile(
    r"\b(?:tasks?|todos?|to-dos?|to\s+dos?|pending|completed|done|finished|open|outstanding|left|remaining"
    r"|to\s+do|list|agenda|due|overdue)\b",
    _I,
)
LIST_PENDING = re.compile(
    r"\b(?:pending|open|outstanding|left|remaining|to\s+do|incomplete|unfinished|not\s+(?:yet\s+)?(?:done|completed|finished))\b",
    _I,
)
LIST_COMPLETED = re.compile(r"\b(?:completed|done|finished)\b", _I)
LIST_DUE = re.compile(r"\bdue\s+(?P<when>.+)$", _I)
LIST_SEARCH = re.compile(r"\s+(?:about|matching|containing|mentioning|called|named)\s+(?P<search>.+)$", _I)
LIST_OVERDUE = re.compile(r"\boverdue\b", _I)
LIST_PRIORITY = re.compile(
    r"\b(?P<p>high|medium|normal|low)[- ]priority\b|\b(?P<urgent>urgent|important)\b", _I
)
# A new task: what follows the verb (`rest`) describes it.
ADD = re.compile(
    r"^(?:please\s+)?(?:(?:can|could|would)\s+you\s+)?(?:add|create|new|put|schedule|remember\s+to"
    r"|i\s+need\s+to|i\s+have\s+to|i\s+must|todo:?|task:)(?:\s+|$)(?P<rest>.*)$",
    _I,
)

# Reminders; parser.parse tries them before anything else. "remind me ..." (`rest`): a new task
# ("to call mum tomorrow at 9", "tomorrow at 9 to call mum") or an existing one ("about the
# meeting at 6pm", "tomorrow about the meeting").
REMIND = re.compile(
    r"^(?:please\s+)?(?:(?:can|could|would)\s+you\s+)?(?:remind\s+me|(?:add|create|set)\s+(?:a\s+)?reminder)"
    r"\s+(?P<rest>.+)$",
    _I,
)
# "set a reminder for the meeting at 6pm": an existing task, then when.
SET_REMINDER = re.compile(
    r"^(?:please\s+)?(?:set|put|add|create)\s+(?:a\s+|the\s+)?reminder\s+(?:for|on)\s+(?P<rest>.+)$", _I
)
CLEAR_REMINDER = re.compile(
    r"^(?:clear|remove|delete|drop|cancel)\s+(?:the\s+)?reminder\s+(?:of|from|on|for)\s+(?P<ref>.+)$", _I
)
# The task of "remind me ...": after "to" or "that" a new one, after "about" or "of" one the user has.
REMIND_NEW = re.compile(r"^(?:to|that)\s+", _I)
REMIND_ABOUT = re.compile(r"^(?:about|of)\s+(?P<rest>.+)$", _I)
# "tomorrow at 9 to call mum", "tomorrow about the meeting": when first, then this word, then the task.
WHEN_THEN_TASK = re.compile(r" (?P<link>to|about|of) ", _I)
# A reminder at the end of an "add" message: "add buy milk, remind me tomorrow at 8".
REMINDER_CLAUSE = re.compile(
    r"[\s,;]+(?:and\s+)?(?:remind\s+me(?:\s+(?:about|of)\s+it)?|with\s+a\s+reminder|reminder:?)\s+"
    r"(?P<when>.+)$",
    _I,
)

# Words of an "add" message that describe the task rather than name it.
PRIORITY_PHRASES = [
    (re.compile(r"\b(?:with\s+|at\s+|as\s+)?(?:a\s+)?(?P<p>high|medium|normal|low)[- ]priority\b", _I), None),
    (re.compile(r"\bpriority[:\s]+(?P<p>high|medium|normal|low)\b", _I), None),
    (re.compile(r"\b(?:urgent(?:ly)?|asap|important)\b", _I), "high"),
]
RECURRENCE_PHRASES = [
    (re.compile(r"\b(?:every\s*day|daily|each\s+day)\b", _I), "daily"),
    (re.compile(r"\b(?:every\s*week|weekly|each\s+week)\b", _I), "weekly"),
    (re.compile(r"\b(?:every\s*month|monthly|each\s+month)\b", _I), "monthly"),
]
EVERY_WEEKDAY = re.compile(
    r"\bevery\s+(?P<day>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", _I
)
QUOTED_CATEGORY_PHRASES = [
    re.compile(
        r"\b(?:(?:in|under|to|for)\s+(?:the\s+|my\s+)?)?category[:\s]+[\"“](?P<name>[^\"”]+)[\"”]", _I
    ),
    re.compile(r"\b(?:in|under|to|for)\s+(?:the\s+|my\s+)?[\"“](?P<name>[^\"”]+)[\"”]\s+category\b", _I),
]
CATEGORY_PHRASES = [
    re.compile(r"\b(?:(?:in|under|to|for)\s+(?:the\s+|my\s+)?)?category[:\s]+(?P<name>[\w-]+)", _I),
    re.compile(r"\b(?:in|under|to|for)\s+(?:the\s+|my\s+)?(?P<name>[\w-]+)\s+category\b", _I),
]
QUOTED_TITLE = re.compile(r"[\"“](?P<title>[^\"”]+)[\"”]")
TAG = re.compile(r"(?<![\w&])#(?P<tag>[A-Za-z][\w-]*)")
DESCRIPTION = re.compile(
    r"\s+(?:with\s+(?:a\s+)?(?:note|description)|note:|description:)\s+(?P<text>.+)$", _I
)
LEADING_FILLER = re.compile(
    r"^(?:(?:(?:a|an|the)\s+)?(?:new\s+)?(?:task|todo|to-do|item|reminder)\b)?\s*(?:to\b|called\b|named\b|titled\b|:|-)?\s*",
    _I,
)
TRAILING_FILLER = re.compile(
    r"(?:\s+(?:to|on|in)\s+(?:my\s+|the\s+)?(?:list|tasks|todos|to-dos|todo\s+list|to-do\s+list))?[\s,;:.-]*$",
    _I,
)
# A task named by its id: "3", "task #3", "number 3".
ID_REFERENCE = re.compile(r"^(?:the\s+)?(?:task|todo|item)?\s*(?:number|no\.?)?\s*#?(?P<id>\d+)$", _I)
# A task named by its title: "the meeting task", "the task called groceries" -> "meeting", "groceries".
TITLE_ARTICLE = re.compile(r"^(?:the|my|a|an|that|this)\s+", _I)
TITLE_CALLED = re.compile(r"^(?:task|todo|to-do|item|one)\s+(?:called|named|titled|about)\s+", _I)
TITLE_NOUN = re.compile(r"\s+(?:task|todo|to-do|item|one)$", _I)

# Priority words the tools do not take, as the priority they mean.
PRIORITY_WORDS = {"urgent": "high", "important": "high", "normal": "medium"}
