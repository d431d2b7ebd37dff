"""Who may post call notifications to /api/calls.

Graph signs them with a bearer JWT issued by the Bot Framework (iss https://api.botframework.com,
or https://graph.microsoft.com), for the bot's app id (aud), with keys published at
https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration (msteams-docs "call notifications";
microsoft-graph-comms-samples AuthenticationProvider.ValidateInboundRequestAsync).

The keys are fetched by botframework's JwtTokenExtractor and cached for a day (off the event loop
once bot/auth.py has patched the SDK, as for /api/messages).

Without a MicrosoftAppId Beacon runs in local mode, as for /api/messages: only requests without
a token are accepted, because no token could be checked.
"""

from __future__ import annotations

from botframework.connector.auth import JwtTokenExtractor, VerifyOptions

CALLS_OPENID_METADATA = "https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration"
ISSUERS = ["https://api.botframework.com", "https://graph.microsoft.com"]


class CallNotificationAuth:
    def __init__(self, app_id: str, metadata_url: str = CALLS_OPENID_METADATA) -> None:
        self.app_id = app_id
        self._metadata_url = metadata_url

    async def problem(self, authorization: str) -> str | None:
        """Why the request is not from Graph for this bot; None when it is acceptable."""
        if not self.app_id:
            if authorization:
                return ("this Beacon has no MicrosoftAppId, so it accepts only unauthenticated call "
                        "notifications (local mode); drop the token or configure MicrosoftAppId")
            return None
        if not authorization.startswith("Bearer "):
            return "call notifications need the bearer token Microsoft Graph sends"
        options = VerifyOptions(issuer=ISSUERS, audience=self.app_id, clock_tolerance=300,
                                ignore_expiration=False)
        extractor = JwtTokenExtractor(options, self._metadata_url, ["RS256"])
        try:
            # No channel id: calling tokens carry no Bot Framework channel endorsements.
            identity = await extractor.get_identity_from_auth_header(authorization, "")
        except Exception as error:  # PyJWT, key look-up and metadata errors all mean "not verified"
            return f"the token could not be verified: {type(error).__name__}: {str(error)[:200]}"
        if identity is None:
            return "the token was not issued by Microsoft's calling service"
        if identity.claims.get("aud") != self.app_id:
            return "the token is for another app, not this bot"
        return None
