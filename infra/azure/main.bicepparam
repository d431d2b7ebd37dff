// Parameters for infra/azure/main.bicep. Values come from the deploying shell's environment, so
// no secret is ever written into the repository. The names are the ones Beacon itself reads, so a
// local .env can be exported as it is (set -a; . ./.env; set +a), plus the deployment-only
// BEACON_IMAGE and POSTGRES_ADMIN_PASSWORD:
//
//   export BEACON_IMAGE=myregistry.azurecr.io/beacon:1.0.0
//   export POSTGRES_ADMIN_PASSWORD='<a strong password>'
//   export REPORT_LINK_SECRET=… ACK_LINK_SECRET=… STATUS_LINK_SECRET=…   # each: python -c "import secrets; print(secrets.token_urlsafe(32))"
//   export MicrosoftAppId=<bot app id> MicrosoftAppPassword='<its client secret>'
//   az deployment group create -g <resource group> --parameters infra/azure/main.bicepparam
//
// Override any value on the command line, e.g. --parameters infra/azure/main.bicepparam maxReplicas=5
using './main.bicep'

param namePrefix = readEnvironmentVariable('BEACON_NAME_PREFIX', 'beacon')
param containerImage = readEnvironmentVariable('BEACON_IMAGE')
param containerRegistryServer = readEnvironmentVariable('BEACON_REGISTRY', '')

// Replicas: several are supported on PostgreSQL (work is claimed with FOR UPDATE SKIP LOCKED).
param minReplicas = 1
param maxReplicas = 3

// The public host; empty = the container app's own azurecontainerapps.io name.
param publicHost = readEnvironmentVariable('BOT_HOST', '')

// The Azure Bot registration.
param botAppType = readEnvironmentVariable('MicrosoftAppType', 'SingleTenant')
param microsoftAppId = readEnvironmentVariable('MicrosoftAppId', '')
param microsoftAppPassword = readEnvironmentVariable('MicrosoftAppPassword', '')

// Microsoft Graph (meetings, mail, channels, calls). Empty: Graph signs in as the bot's app registration.
param graphClientId = readEnvironmentVariable('AZURE_CLIENT_ID', '')
param azureClientSecret = readEnvironmentVariable('AZURE_CLIENT_SECRET', '')
param graphBaseUrl = readEnvironmentVariable('GRAPH_BASE_URL', 'https://graph.microsoft.com/v1.0')
param graphOrganizerUserId = readEnvironmentVariable('GRAPH_ORGANIZER_USER_ID', '')
param mailSender = readEnvironmentVariable('MAIL_SENDER', '')

// Freshdesk, monitoring webhooks and SMS.
param freshdeskUrl = readEnvironmentVariable('FRESHDESK_URL', '')
param freshdeskApiKey = readEnvironmentVariable('FRESHDESK_API_KEY', '')
param freshdeskWebhookSecret = readEnvironmentVariable('FRESHDESK_WEBHOOK_SECRET', '')
param alertsWebhookToken = readEnvironmentVariable('ALERTS_WEBHOOK_TOKEN', '')
param smsProvider = readEnvironmentVariable('SMS_PROVIDER', '')
param smsFrom = readEnvironmentVariable('SMS_FROM', '')
param acsConnectionString = readEnvironmentVariable('ACS_CONNECTION_STRING', '')
param twilioAccountSid = readEnvironmentVariable('TWILIO_ACCOUNT_SID', '')
param twilioAuthToken = readEnvironmentVariable('TWILIO_AUTH_TOKEN', '')
param twilioMessagingServiceSid = readEnvironmentVariable('TWILIO_MESSAGING_SERVICE_SID', '')

// The signed links' secrets (required: every replica checks the links the others signed).
param reportLinkSecret = readEnvironmentVariable('REPORT_LINK_SECRET')
param ackLinkSecret = readEnvironmentVariable('ACK_LINK_SECRET')
param statusLinkSecret = readEnvironmentVariable('STATUS_LINK_SECRET')

// PostgreSQL.
param postgresAdminPassword = readEnvironmentVariable('POSTGRES_ADMIN_PASSWORD')
