"""The Mailer port through Graph: POST /users/{MAIL_SENDER}/sendMail (facts §9).

Every email goes in MIME format (services/graph/mime.py) so it carries plain text beside the
HTML: Graph's JSON format takes one body, text or HTML, never both. Graph keeps a copy of a MIME
message in the sender's Sent Items (the JSON format's saveToSentItems=false has no MIME
equivalent); the incident timeline remains the record of what was sent.
"""

from __future__ import annotations

from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from msgraph import GraphServiceClient
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.recipient import Recipient as GraphRecipient

from services.delivery import PermanentDeliveryError
from services.graph.errors import graph_errors, mailbox_access_fix
from services.graph.meetings import unique_recipients
from services.graph.mime import CONTENT_TYPE, send_mail_content
from services.ports import EmailMessage, Recipient


def graph_recipients(recipients: tuple[Recipient, ...]) -> list[GraphRecipient]:
    return [GraphRecipient(email_address=EmailAddress(address=r.email.strip(), name=r.name or None))
            for r in unique_recipients(recipients)]


class GraphMailer:
    def __init__(self, client: GraphServiceClient, sender: str) -> None:
        self._sender = sender
        self._send_mail = client.users.by_user_id(sender).send_mail
        self._denied_fix = mailbox_access_fix("Mail.Send", f"sender ({sender})")

    @property
    def sender(self) -> str:
        return self._sender

    async def send_mail(self, message: EmailMessage) -> None:
        if not unique_recipients(message.to + message.cc):
            raise PermanentDeliveryError(f"email {message.subject!r} has no recipients")
        # The SDK's post() serialises JSON only; the same request with the MIME body instead.
        builder = self._send_mail
        request = RequestInformation(Method.POST, builder.url_template, builder.path_parameters)
        request.headers.try_add("Accept", "application/json")
        request.set_stream_content(send_mail_content(message, self._sender), CONTENT_TYPE)
        with graph_errors(f"sendMail as {self._sender}", access_denied_fix=self._denied_fix):
            await builder.request_adapter.send_no_response_content_async(request, {"XXX": ODataError})
