"""Every sentence Beacon shows a person, in one place so wording is reviewed together."""

PRODUCT = "Beacon"
WELCOME_TITLE = "Beacon is here to run your incidents"
WELCOME_TEXT = (
    "Declare an incident and Beacon opens a thread with a live incident card: priority from impact "
    "× urgency, a commander and responders, status from triage to resolved, and a timeline of "
    "every step. Mention me with **help** to see what I can do."
)
DECLARE = "Declare incident"
DECLARE_FORM_TITLE = "Declare an incident"
DECLARED = "{number} declared: {title}. The incident card is in the incidents thread."
DECLARED_AT = "{number} declared: {title}. Its card is in {where}, where responders follow it."
SIMILAR_OPEN = "{number} is open: {title}"
SIMILAR_QUESTION = ("Is this the same problem? Join {number} instead: you become one of its responders and what "
                    "you typed here is added to it as your note. Or declare a new incident.")
JOIN = "Join {number} instead"
DECLARE_ANYWAY = "Declare a new incident"
FORM_ALREADY_USED = "This form was already used: {text}."
OPEN_THREAD = "Open the thread"
OPEN_THREAD_OF = "Open {number}'s thread"
CARD_IN_THREAD = "The incident card is in the incidents thread."
MORE_OPEN = "… and {count} more open incidents."
HELP_TITLE = "What Beacon can do"
HELP_LINES = [
    ("declare [title]", "open the form to declare an incident"),
    ("drill [scenario]", "declare a training incident: flagged DRILL, nothing leaves Teams"),
    ("list", "show the open incidents"),
    ("show INC-7", "post the current card of an incident"),
    ("actions", "list open follow-up actions, with a Complete button"),
    ("metrics", "response metrics with a chart (drills excluded)"),
    ("oncall", "who is on call now and next, with overrides; “oncall override <schedule> @person until <date "
               "time>” covers a schedule, “oncall override <schedule> clear” removes it"),
    ("page @person|team <text>", "page someone by hand for the incident of this thread (or name INC-7 in the text)"),
    ("status <client>", "the link to the client's status page, for its account owner to share; "
                        "“status <client> revoke” makes every earlier link stop working"),
    ("help", "this list"),
]
UNKNOWN_COMMAND = "I did not understand “{text}”. Here is what I can do:"
NO_OPEN_INCIDENTS = "No open incidents. Calm seas."
OPEN_INCIDENTS = "Open incidents"
NOT_FOUND = "{number} does not exist."
ERROR_TITLE = "That did not work"
STALE = "Your card was out of date, so your action was not applied. Since then:"
APPLIED_ON_NEWER = "Applied on top of changes you had not seen:"
EARLIER_CHANGES = "…and {count:,} earlier changes"
EARLIER_CHANGES_AT_LEAST = "…and {count:,} or more earlier changes"
UPDATE_ROUTES = "Your stakeholder update is on its way (only you see this):"
REPLAYED = "That action was already applied."
NOT_AVAILABLE = "“{what}” is not available yet in this version of Beacon."
