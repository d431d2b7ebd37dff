"""infra/azure/main.bicep, read as text: consistent with Beacon's settings and with itself.

There is no Bicep compiler on our machines, so these checks catch what a reader could miss: a
setting the app needs that the container never gets, a secretRef with no secret, an unused or
unset parameter, a secret with a default value.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

AZURE = Path(__file__).resolve().parents[2] / "infra" / "azure"
BICEP = (AZURE / "main.bicep").read_text(encoding="utf-8")
PARAMS = (AZURE / "main.bicepparam").read_text(encoding="utf-8")

# CONTRACT.md's settings that the deployed app needs, plus Application Insights.
CONTRACT_SETTINGS = {
    "PORT", "MicrosoftAppId", "MicrosoftAppPassword", "MicrosoftAppType", "MicrosoftAppTenantId",
    "DATABASE_URL", "BEACON_CONFIG", "GRAPH_BASE_URL", "AZURE_TENANT_ID", "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET", "GRAPH_ORGANIZER_USER_ID", "MAIL_SENDER", "FRESHDESK_URL", "FRESHDESK_API_KEY",
    "FRESHDESK_WEBHOOK_SECRET", "ALERTS_WEBHOOK_TOKEN", "SMS_PROVIDER",
}
# Settings Beacon reads beyond that table: its public URL (call callbacks), telemetry, and the
# SMS provider's own settings (services/notify/sms/settings.py).
# The signed links' secrets: CONTRACT.md's "REPORT_LINK_SECRET, and the acknowledge-link secret".
LINK_SECRETS = {"REPORT_LINK_SECRET": "reportLinkSecret", "ACK_LINK_SECRET": "ackLinkSecret",
                "STATUS_LINK_SECRET": "statusLinkSecret"}
ALSO_ALLOWED = {"APPLICATIONINSIGHTS_CONNECTION_STRING", "BEACON_PUBLIC_URL", "SMS_FROM",
                "ACS_CONNECTION_STRING", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
                "TWILIO_MESSAGING_SERVICE_SID", *LINK_SECRETS}
SECRET_SETTINGS = {"MicrosoftAppPassword", "AZURE_CLIENT_SECRET", "FRESHDESK_API_KEY",
                   "FRESHDESK_WEBHOOK_SECRET", "ALERTS_WEBHOOK_TOKEN", "DATABASE_URL",
                   "ACS_CONNECTION_STRING", "TWILIO_AUTH_TOKEN", *LINK_SECRETS}

ENV_ENTRY = re.compile(r"name:\s*'(?P<name>\w+)'\s*\n\s*(?P<kind>value|secretRef):\s*(?P<value>[^\n]+)")
PARAM = re.compile(r"^param\s+(\w+)\s+(\w+)(?:\s*=\s*(.+))?$", re.MULTILINE)


def code_only(text: str) -> str:
    """Bicep without // comments (quoted strings here never contain //, except URLs in quotes)."""
    return "\n".join(re.sub(r"(?<!:)//.*$", "", line) for line in text.splitlines())


def env_entries() -> dict[str, tuple[str, str]]:
    entries: dict[str, tuple[str, str]] = {}
    for match in ENV_ENTRY.finditer(BICEP):
        entries.setdefault(match["name"], (match["kind"], match["value"].strip()))
    return entries


def declared_params() -> dict[str, tuple[str, str | None]]:
    return {m[1]: (m[2], m[3]) for m in PARAM.finditer(BICEP)}


def test_container_gets_every_contract_setting() -> None:
    names = set(env_entries())
    assert CONTRACT_SETTINGS - names == set(), "settings the app needs that the container never gets"
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in names


def test_container_env_uses_only_known_names() -> None:
    unknown = set(env_entries()) - CONTRACT_SETTINGS - ALSO_ALLOWED
    assert unknown == set(), "an env var name the app does not read (typo?)"


def test_secrets_come_from_key_vault() -> None:
    entries = env_entries()
    for name in SECRET_SETTINGS:
        assert entries[name][0] == "secretRef", f"{name} must be a Key Vault secret reference"
    referenced = set(re.findall(r"secretRef:[^\n]*?'([\w-]+)'", BICEP))
    defined = set(re.findall(r"name:\s*'([\w-]+)'\s*\n\s*keyVaultUrl:", BICEP))
    vault_secret = (r"Microsoft\.KeyVault/vaults/secrets@[\w-]+' = (?:if \([^)]*\) )?\{\s*\n"
                    r"\s*parent: keyVault\s*\n\s*name:\s*'([\w-]+)'")
    vault = set(re.findall(vault_secret, BICEP))
    assert referenced <= defined, f"secretRef without a container app secret: {referenced - defined}"
    assert defined <= vault, f"container app secret without a Key Vault secret: {defined - vault}"
    assert "database-password" in vault
    assert "identity: identity.id" in BICEP and "enableRbacAuthorization: true" in BICEP


def test_optional_secrets_share_one_condition() -> None:
    """The Key Vault secret, the app's secret and the env secretRef exist under the same condition."""
    toggles = re.findall(r"secretRef: (\w+) \? '([\w-]+)' : null\s*\n\s*value: \1 \? null : ''", BICEP)
    assert len(toggles) >= 7
    for condition, secret in toggles:
        vault = rf"secrets@[\w-]+' = if \({condition}\) \{{\s*\n\s*parent: keyVault\s*\n\s*name: '{secret}'"
        assert re.search(vault, BICEP), f"Key Vault secret {secret} is not created if {condition}"
        app = rf"= {condition} \? \[\s*\n\s*\{{\s*\n\s*name: '{secret}'\s*\n\s*keyVaultUrl:"
        assert re.search(app, BICEP), f"container app secret {secret} is not defined if {condition}"


def test_link_secrets_are_required_and_shared_by_every_replica_through_key_vault() -> None:
    """Several replicas (and every new revision) must check the links the others signed: the three
    link secrets are required parameters, always stored in Key Vault and given to the container,
    never left to Beacon's random per-process default."""
    entries, params = env_entries(), declared_params()
    for setting, param in LINK_SECRETS.items():
        assert params.get(param) == ("string", None), f"{param} must be a required string parameter"
        declaration = re.search(rf"((?:@[^\n]*\n)+)param {param} string\n", BICEP)
        assert declaration and "@secure()" in declaration[1] and "@minLength(32)" in declaration[1], param
        secret = re.search(rf"resource \w+ 'Microsoft\.KeyVault/vaults/secrets@[\w-]+' = \{{\s*\n\s*parent: keyVault"
                           rf"\s*\n\s*name: '([\w-]+)'\s*\n\s*properties: \{{\s*\n\s*value: {param}\n", BICEP)
        assert secret, f"{param} is not stored in Key Vault unconditionally"
        assert entries[setting] == ("secretRef", f"'{secret[1]}'"), f"{setting} must come from {secret[1]}"
        from_environment = rf"^param {param} = readEnvironmentVariable\('{setting}'\)$"
        assert re.search(from_environment, PARAMS, re.MULTILINE), f"main.bicepparam must read {setting}, no default"
    assert re.search(r"var appSecrets = concat\([^)]*\blinkSecretsRef\b", BICEP)


def test_lists_arm_can_validate_before_deployment() -> None:
    """Container Apps rejects env/secrets built with concat() over reference() values (Azure/bicep#8405)."""
    assert "          env: [\n" in BICEP, "env must be a literal array"
    uri = re.search(r"^var vaultSecretsUri = (.+)$", BICEP, re.MULTILINE)
    assert uri and ".properties." not in uri[1], "the secrets list must not depend on reference()"
    secrets_vars = re.findall(r"^var \w+Ref = [^\n]*\n((?:[^\n]+\n)*?)(?:\] : \[\]|\])$", BICEP, re.MULTILINE)
    assert secrets_vars and all(".properties." not in block for block in secrets_vars)


def test_database_url_is_asyncpg_on_postgresql() -> None:
    assert re.search(r"value: 'postgresql\+asyncpg://\$\{postgresAdminLogin\}:\$\{uriComponent\("
                     r"postgresAdminPassword\)\}@\$\{postgres\.properties\.fullyQualifiedDomainName\}:5432/"
                     r"\$\{databaseName\}\?ssl=require'", BICEP)
    assert "var databaseName = 'beacon'" in BICEP
    assert "startIpAddress: '0.0.0.0'" in BICEP and "endIpAddress: '0.0.0.0'" in BICEP


def test_every_parameter_is_used_and_described() -> None:
    body = code_only(BICEP)
    for name in declared_params():
        uses = len(re.findall(rf"\b{name}\b", body))
        assert uses >= 2, f"param {name} is declared but never used"
        declaration = re.search(rf"^param {name}\b", BICEP, re.MULTILINE)
        assert declaration
        decorators = BICEP[:declaration.start()].rsplit("\n\n", 1)[-1]  # the block right above it
        assert "@description(" in decorators, f"param {name} has no @description"


def test_secure_params_have_no_secret_default() -> None:
    for match in re.finditer(r"@secure\(\)\n(?:@[^\n]*\n)*param (\w+) string(?: = (.+))?", BICEP):
        assert match[2] in (None, "''"), f"secure param {match[1]} has a default value"


def test_parameter_file_sets_only_declared_params_and_every_required_one() -> None:
    params = declared_params()
    assigned = set(re.findall(r"^param\s+(\w+)\s*=", PARAMS, re.MULTILINE))
    assert "using './main.bicep'" in PARAMS
    assert assigned - set(params) == set(), "main.bicepparam sets params main.bicep does not declare"
    required = {name for name, (_, default) in params.items() if default is None}
    assert required - assigned == set(), "required params main.bicepparam leaves unset"
    # Secrets are read from the environment, never written into the file.
    secure = set(re.findall(r"@secure\(\)\n(?:@[^\n]*\n)*param (\w+)", BICEP))
    for name in secure & assigned:
        from_environment = rf"^param {name} = readEnvironmentVariable\('\w+'(, '')?\)$"
        assert re.search(from_environment, PARAMS, re.MULTILINE), name


def test_bot_with_teams_channel_and_calling() -> None:
    assert "'Microsoft.BotService/botServices@" in BICEP and "kind: 'azurebot'" in BICEP
    assert "endpoint: 'https://${appHost}/api/messages'" in BICEP
    assert re.search(r"@allowed\(\[\s*'SingleTenant'\s*'UserAssignedMSI'\s*\]\)\s*param botAppType", BICEP)
    channel = BICEP[BICEP.index("'Microsoft.BotService/botServices/channels@"):]
    assert "channelName: 'MsTeamsChannel'" in channel
    assert "enableCalling: true" in channel
    assert "callingWebhook: 'https://${appHost}/api/calls'" in channel


def test_container_app_ingress_probes_identity_and_replicas() -> None:
    assert "var appPort = 3978" in BICEP and "targetPort: appPort" in BICEP
    for probe, path in (("Startup", "/healthz"), ("Liveness", "/healthz"), ("Readiness", "/readyz")):
        assert re.search(rf"type: '{probe}'\s*\n\s*httpGet: \{{\s*\n\s*path: '{path}'", BICEP), probe
    assert "type: 'UserAssigned'" in BICEP
    assert "minReplicas: minReplicas" in BICEP and "maxReplicas: maxReplicas" in BICEP
    assert "FOR UPDATE SKIP LOCKED" in BICEP  # the comment that says why several replicas are safe


@pytest.mark.parametrize("resource_type", [
    "Microsoft.App/managedEnvironments", "Microsoft.App/containerApps",
    "Microsoft.DBforPostgreSQL/flexibleServers", "Microsoft.DBforPostgreSQL/flexibleServers/databases",
    "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules", "Microsoft.KeyVault/vaults",
    "Microsoft.Insights/components", "Microsoft.OperationalInsights/workspaces",
    "Microsoft.ManagedIdentity/userAssignedIdentities", "Microsoft.Authorization/roleAssignments",
])
def test_declares(resource_type: str) -> None:
    assert f"'{resource_type}@" in BICEP


def test_outputs_bot_endpoint_and_app_fqdn() -> None:
    outputs = set(re.findall(r"^output (\w+) ", BICEP, re.MULTILINE))
    assert {"botEndpoint", "appFqdn"} <= outputs
    assert not re.search(r"^output \w+ string = .*(Password|Secret|Key|Token)\b", BICEP, re.MULTILINE)


def test_single_tenant_without_app_id_or_secret_stops_the_deployment() -> None:
    """An empty MicrosoftAppId would make Beacon accept unauthenticated requests: a SingleTenant
    deployment without the app registration's id or secret fails with the setting to export."""
    code = code_only(BICEP)
    app_id = re.search(r"^var botAppId = (.+)$", code, re.MULTILINE)
    assert app_id, "botAppId is not one expression"
    assert re.search(r"useManagedIdentityForBot \? identity\.properties\.clientId : \(empty\(microsoftAppId\) "
                     r"\? fail\('[^']*MicrosoftAppId=[^)]*\) : microsoftAppId\)", app_id[1]), app_id[1]
    password = re.search(r"^var botAppPassword = (.+)$", code, re.MULTILINE)
    assert password and re.search(r"fail\('[^']*MicrosoftAppPassword=", password[1]), "no stop without a secret"
    assert "microsoftAppPassword" not in code.split("var hasAppPassword = ")[1].splitlines()[0]
    entries = env_entries()
    assert entries["MicrosoftAppId"] == ("value", "botAppId")
    assert entries["MicrosoftAppTenantId"] == ("value", "tenant().tenantId")
    assert "msaAppId: botAppId" in code and "msaAppTenantId: tenant().tenantId" in code
