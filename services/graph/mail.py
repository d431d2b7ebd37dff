"""The Mailer port through Graph: POST /users/{MAIL_SENDER}/sendMail (facts §9).

Graph's sendMail takes one body, so the HTML goes out and EmailMessage.text is used only when
there is no HTML. Copies are not kept in Sent Items: the incident timeline is the record.
"""

from __future__ import annotations

from msgraph import GraphServiceClient
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.message import Message
from msgraph.generated.models.recipient import Recipient as GraphRecipient
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import SendMailPostRequestBody

from services.delivery import PermanentDeliveryError
from services.graph.errors import graph_errors, mailbox_access_fix
from services.graph.meetings import unique_recipients
from services.ports import EmailMessage, Recipient


def graph_recipients(recipients: tuple[Recipient, ...]) -> list[GraphRecipient]:
    return [GraphRecipient(email_address=EmailAddress(address=r.email.strip(), name=r.name or None))
            for r in unique_recipients(recipients)]


def send_mail_body(message: EmailMessage) -> SendMailPostRequestBody:
    if message.html:
        body = ItemBody(content_type=BodyType.Html, content=message.html)
    else:
        body = ItemBody(content_type=BodyType.Text, content=message.text)
    cc = graph_recipients(message.cc)
    graph_message = Message(subject=message.subject, body=body, to_recipients=graph_recipients(message.to),
                            cc_recipients=cc or None)
    return SendMailPostRequestBody(message=graph_message, save_to_sent_items=False)


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
        with graph_errors(f"sendMail as {self._sender}", access_denied_fix=self._denied_fix):
            await self._send_mail.post(send_mail_body(message))
