"""Every interaction id a card or dialog can send: one enum, so routing and cards agree."""

from enum import StrEnum


class Verb(StrEnum):
    DECLARE_FORM = "declare.form"  # open the declare form (dialog or card)
    DECLARE_SUBMIT = "declare.submit"
    DECLARE_JOIN = "declare.join"  # join the similar open incident the form offered instead
    ACKNOWLEDGE = "incident.ack"
    TAKE_COMMAND = "incident.take_command"
    REASSESS = "incident.reassess"
    ASSIGN = "incident.assign"
    STATUS = "incident.status"
    NOTE = "incident.note"
    POST_UPDATE = "incident.post_update"
    RESOLVE = "incident.resolve"
    REOPEN = "incident.reopen"
    CLOSE = "incident.close"
    REFRESH = "incident.refresh"
    # bridge calls
    BRIDGE_FORM = "bridge.form"  # show who can be invited
    BRIDGE_START = "bridge.start"
    BRIDGE_INVITE = "bridge.invite"
    BRIDGE_RING = "bridge.ring"
    # reported issues (Freshdesk intake)
    REPORT_DECLARE = "report.declare"
    REPORT_MERGE = "report.merge"
    REPORT_DISMISS = "report.dismiss"
    REPORT_LINK = "report.link"  # link a customer's report to the open incident it matches
    REPORT_UNLINK = "report.unlink"  # take a link (automatic or not) back
    # after the incident (post-incident report, review, follow-up actions)
    REVIEW_REPORT_FORM = "review.report_form"  # open the report form in a dialog
    REVIEW_REPORT_ADD_ROW = "review.report_add_row"  # the form again with one more corrective action
    REVIEW_REPORT_SUBMIT = "review.report_submit"
    REVIEW_SCHEDULE = "review.schedule"
    REVIEW_HELD = "review.held"
    REVIEW_ACTION_COMPLETE = "review.action_complete"
    REVIEW_CLIENT_APPROVE = "review.client_approve"  # send the customer summary the approver read
    REVIEW_CLIENT_EDIT = "review.client_edit"  # open the customer summary in a dialog to change it
    REVIEW_CLIENT_SAVE = "review.client_save"  # the changed wording, from that dialog
    # on call (`@Beacon oncall`, its card and its override dialog) and paging by hand
    ONCALL_SHOW = "oncall.show"  # the on-call card again, as it stands now
    ONCALL_OVERRIDE_FORM = "oncall.override_form"  # open the override form (dialog or card)
    ONCALL_OVERRIDE = "oncall.override"  # make someone on call for a schedule until a time
    ONCALL_OVERRIDE_CLEAR = "oncall.override_clear"  # remove an override
    PAGE = "page.person"  # `@Beacon page @person|team <text>`: page by hand for an incident


INCIDENT_VERBS = frozenset(v for v in Verb if v.value.startswith("incident."))
# Each verb by the id a card or dialog sends back: a lookup, not a walk over the enum.
VERB_OF: dict[str, Verb] = {verb.value: verb for verb in Verb}
