"""The Calling port: POST /communications/calls rings responders from Beacon's calling bot.

A new group call with service-hosted media reaches at most 5 VoIP users, all in Beacon's tenant
or its B2B guests; users of another tenant fail with Graph error 7505 (facts §1a), so the
invitation email/meeting is how they join.
"""

from __future__ import annotations

from msgraph import GraphServiceClient
from msgraph.generated.communications.calls.item.participants.invite.invite_post_request_body import (
    InvitePostRequestBody,
)
from msgraph.generated.models.call import Call
from msgraph.generated.models.call_direction import CallDirection
from msgraph.generated.models.identity import Identity
from msgraph.generated.models.identity_set import IdentitySet
from msgraph.generated.models.invitation_participant_info import InvitationParticipantInfo
from msgraph.generated.models.modality import Modality
from msgraph.generated.models.participant_info import ParticipantInfo
from msgraph.generated.models.service_hosted_media_config import ServiceHostedMediaConfig

from services.dedupe import unique_by
from services.delivery import PermanentDeliveryError, TransientDeliveryError
from services.graph.errors import graph_errors
from services.ports import CallTarget

MAX_GROUP_CALL_TARGETS = 5  # "This supports up to 5 VoIP users" (application-post-calls)


def unique_targets(targets: tuple[CallTarget, ...]) -> list[CallTarget]:
    return unique_by(targets, lambda target: target.aad_object_id)


def check_call(targets: list[CallTarget], callback_uri: str, tenant_id: str) -> None:
    """Refuse what Graph would refuse, before any request is sent."""
    if not targets:
        raise PermanentDeliveryError("a call needs at least one person to ring")
    if len(targets) > MAX_GROUP_CALL_TARGETS:
        raise PermanentDeliveryError(
            f"a Graph group call rings at most {MAX_GROUP_CALL_TARGETS} people; {len(targets)} were asked "
            "for. Ring the first responders and invite the others to the meeting instead")
    if not callback_uri.startswith("https://"):
        raise PermanentDeliveryError("Graph needs a public https callbackUri for calls, got "
                                     f"{callback_uri!r} (set BEACON_PUBLIC_URL)")
    if not tenant_id:
        raise PermanentDeliveryError("a call needs the tenant id of the people to ring")


def invitation_targets(targets: list[CallTarget]) -> list[InvitationParticipantInfo]:
    return [InvitationParticipantInfo(identity=IdentitySet(user=Identity(id=t.aad_object_id,
                                                                         display_name=t.name or None)))
            for t in targets]


class GraphCalling:
    def __init__(self, client: GraphServiceClient, app_id: str, display_name: str = "Beacon") -> None:
        self._calls = client.communications.calls
        self._source = ParticipantInfo(identity=IdentitySet(application=Identity(id=app_id,
                                                                                 display_name=display_name)))

    async def ring(self, *, subject: str, targets: tuple[CallTarget, ...], callback_uri: str,
                   tenant_id: str) -> str:
        people = unique_targets(targets)
        check_call(people, callback_uri, tenant_id)
        call = Call(odata_type="#microsoft.graph.call", direction=CallDirection.Outgoing, subject=subject,
                    callback_uri=callback_uri, source=self._source, targets=invitation_targets(people),
                    requested_modalities=[Modality.Audio], media_config=ServiceHostedMediaConfig(),
                    tenant_id=tenant_id)
        with graph_errors("start group call"):
            created = await self._calls.post(call)
        if created is None or not created.id:
            raise TransientDeliveryError("Graph accepted the call but returned no call id")
        return created.id

    async def add_participants(self, call_id: str, targets: tuple[CallTarget, ...], *,
                               client_context: str | None = None) -> None:
        """Rings more people into a running group call (participants/invite)."""
        people = unique_targets(targets)
        if not people:
            return
        body = InvitePostRequestBody(participants=invitation_targets(people), client_context=client_context)
        with graph_errors("invite into call"):
            await self._calls.by_call_id(call_id).participants.invite.post(body)
