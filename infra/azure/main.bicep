// Beacon on Azure: Azure Bot (Teams channel with calling) → Container Apps → PostgreSQL Flexible Server,
// secrets in Key Vault (RBAC), telemetry in Application Insights. Deploy into a resource group:
//   az deployment group create -g <group> --parameters infra/azure/main.bicepparam
// Every environment variable the container gets uses the setting names Beacon reads (README).

targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

@description('Prefix of every resource name: 3-12 lowercase letters or digits, starting with a letter.')
@minLength(3)
@maxLength(12)
param namePrefix string = 'beacon'

@description('Azure region for everything except the Azure Bot, which is global.')
param location string = resourceGroup().location

@description('Tags put on every resource.')
param tags object = {
  app: 'beacon'
}

@description('Container image built from the repository Dockerfile, e.g. myregistry.azurecr.io/beacon:1.0.0.')
param containerImage string

@description('Registry to pull the image from with the app\'s managed identity (e.g. myregistry.azurecr.io; grant that identity AcrPull on it). Empty for a public image.')
param containerRegistryServer string = ''

@description('CPU cores per replica (0.25 to 2 on the Consumption plan).')
param containerCpu string = '0.5'

@description('Memory per replica; Container Apps needs 2 GiB per CPU core, e.g. 1Gi for 0.5 cores.')
param containerMemory string = '1Gi'

// Several replicas are supported: the scheduler and the outbox claim due work with
// SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL, so whichever replica claims a timer or a message
// delivers it exactly once, and no state is kept in memory between requests. Set the count here
// (or with --parameters minReplicas=2 maxReplicas=5). Keep minReplicas at 1 or more: the scheduler
// runs inside the app, so scaling to zero would stop timed status updates and reminders.
@description('Fewest replicas that always run (at least 1, so timed updates and reminders keep running).')
@minValue(1)
@maxValue(30)
param minReplicas int = 1

@description('Most replicas under load. Each holds up to 20 database connections; keep maxReplicas × 20 under the PostgreSQL SKU\'s connection limit.')
@minValue(1)
@maxValue(30)
param maxReplicas int = 3

@description('Concurrent HTTP requests per replica before Container Apps adds a replica.')
param concurrentRequestsPerReplica int = 50

@description('Public host name Teams and Graph reach Beacon at, when you bind a custom domain to the container app (e.g. beacon.contoso.com). Empty: the app\'s own <name>.<environment>.azurecontainerapps.io name.')
param publicHost string = ''

@description('How the bot signs in to Bot Framework: SingleTenant (an Entra app registration and its client secret) or UserAssignedMSI (the container app\'s managed identity; no secret).')
@allowed([
  'SingleTenant'
  'UserAssignedMSI'
])
param botAppType string = 'SingleTenant'

@description('Application (client) id of the bot\'s Entra app registration (SingleTenant). Ignored for UserAssignedMSI, where the managed identity\'s client id is used.')
param microsoftAppId string = ''

@description('Client secret of that app registration (SingleTenant); kept in Key Vault and given to the app as MicrosoftAppPassword.')
@secure()
param microsoftAppPassword string = ''

@description('Azure Bot pricing tier: F0 (free) or S1 (standard).')
@allowed([
  'F0'
  'S1'
])
param botSku string = 'F0'

@description('Name of the bot shown in the Azure portal.')
param botDisplayName string = 'Beacon'

@description('Application (client) id of a separate app registration for Microsoft Graph, used with azureClientSecret. Empty: Graph signs in as the bot\'s own app registration, which ringing responders (Graph calls) requires.')
param graphClientId string = ''

@description('Client secret of graphClientId (AZURE_CLIENT_SECRET), kept in Key Vault. Empty: the bot\'s MicrosoftAppPassword is used; with no secret at all (UserAssignedMSI), Graph uses the managed identity, which then needs Beacon\'s Graph application permissions (infra/graph-permissions.md).')
@secure()
param azureClientSecret string = ''

@description('Microsoft Graph root; change it only for a sovereign cloud.')
param graphBaseUrl string = 'https://graph.microsoft.com/v1.0'

@description('User id (object id or UPN) on whose behalf bridge meetings and invitations are created. Empty: no bridge meetings.')
param graphOrganizerUserId string = ''

@description('Mailbox that sends Beacon\'s email through Graph. Empty: no email.')
param mailSender string = ''

@description('Freshdesk helpdesk URL, e.g. https://yourcompany.freshdesk.com. Empty: no Freshdesk tickets.')
param freshdeskUrl string = ''

@description('Freshdesk API key, kept in Key Vault.')
@secure()
param freshdeskApiKey string = ''

@description('Shared secret Freshdesk\'s automation webhook sends to /api/freshdesk, kept in Key Vault.')
@secure()
param freshdeskWebhookSecret string = ''

@description('Shared secret monitoring webhooks must present on /api/alerts/*, kept in Key Vault.')
@secure()
param alertsWebhookToken string = ''

@description('SMS provider: acs (Azure Communication Services), twilio, or empty for no SMS.')
@allowed([
  ''
  'acs'
  'twilio'
])
param smsProvider string = ''

@description('Number or alphanumeric sender id SMS are sent from (SMS_FROM).')
param smsFrom string = ''

@description('Azure Communication Services connection string (endpoint=…;accesskey=…) when smsProvider is acs; kept in Key Vault.')
@secure()
param acsConnectionString string = ''

@description('Twilio account SID when smsProvider is twilio.')
param twilioAccountSid string = ''

@description('Twilio auth token when smsProvider is twilio; kept in Key Vault.')
@secure()
param twilioAuthToken string = ''

@description('Twilio messaging service SID, instead of smsFrom (optional).')
param twilioMessagingServiceSid string = ''

// Signed links (report links, acknowledge links in pages, clients' status pages) must verify on
// every replica and after every restart, and Container Apps replaces replicas on each new revision,
// scale event or host move, even with maxReplicas = 1. So these are always required here: Beacon's
// random per-process secret is only for a single local process.
@description('Secret that signs report links (REPORT_LINK_SECRET), kept in Key Vault: 32 or more random characters, e.g. python -c "import secrets; print(secrets.token_urlsafe(32))".')
@secure()
@minLength(32)
param reportLinkSecret string

@description('Secret that signs the acknowledge links in SMS and email pages (ACK_LINK_SECRET), kept in Key Vault: 32 or more random characters.')
@secure()
@minLength(32)
param ackLinkSecret string

@description('Secret that signs links to clients\' status pages (STATUS_LINK_SECRET), kept in Key Vault: 32 or more random characters.')
@secure()
@minLength(32)
param statusLinkSecret string

@description('Path of the process configuration inside the image.')
param beaconConfig string = 'config/beacon.yaml'

@description('PostgreSQL administrator login; Beacon connects as this user and applies migrations on start.')
param postgresAdminLogin string = 'beacon'

@description('PostgreSQL administrator password, kept in Key Vault (8-128 characters from three of: upper case, lower case, digits, symbols).')
@secure()
@minLength(8)
@maxLength(128)
param postgresAdminPassword string

@description('PostgreSQL compute SKU. Standard_B2s allows about 400 connections; Standard_B1ms only 50.')
param postgresSkuName string = 'Standard_B2s'

@description('PostgreSQL compute tier matching postgresSkuName.')
@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = 'Burstable'

@description('PostgreSQL major version.')
param postgresVersion string = '16'

@description('PostgreSQL storage in GiB.')
param postgresStorageGB int = 32

@description('Days Log Analytics keeps logs and traces.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

// ---------------------------------------------------------------------------------------------
// Names and derived values
// ---------------------------------------------------------------------------------------------

var suffix = take(uniqueString(resourceGroup().id), 8)
var appName = '${namePrefix}-app'
var keyVaultName = 'kv-${namePrefix}-${suffix}'
var postgresServerName = '${namePrefix}-pg-${suffix}'
var botName = '${namePrefix}-bot-${suffix}'
var databaseName = 'beacon'
var appPort = 3978
var useManagedIdentityForBot = botAppType == 'UserAssignedMSI'
// SingleTenant needs the app registration and its secret: without an app id the container would get an
// empty MicrosoftAppId and accept unauthenticated requests, so the deployment stops here instead.
var botAppId = useManagedIdentityForBot ? identity.properties.clientId : (empty(microsoftAppId) ? fail('botAppType SingleTenant needs microsoftAppId: export MicrosoftAppId=<the client id of the bot\'s app registration>, or deploy with botAppType UserAssignedMSI') : microsoftAppId)
var botAppPassword = (useManagedIdentityForBot || !empty(microsoftAppPassword)) ? microsoftAppPassword : fail('botAppType SingleTenant needs microsoftAppPassword: export MicrosoftAppPassword=<a client secret of the bot\'s app registration>')
var appHost = empty(publicHost) ? '${appName}.${containerEnvironment.properties.defaultDomain}' : publicHost
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6' // built-in role: read secret values

// Secrets Beacon can run without: each goes to Key Vault (and to the app) only when it was given.
var hasAppPassword = !useManagedIdentityForBot && !empty(botAppPassword)
// Graph signs in with a client secret: its own, or else the bot's (same app registration).
var hasGraphSecret = !empty(azureClientSecret) || (empty(graphClientId) && hasAppPassword)
var hasAcsConnectionString = !empty(acsConnectionString)
var hasTwilioAuthToken = !empty(twilioAuthToken)
var hasFreshdeskApiKey = !empty(freshdeskApiKey)
var hasFreshdeskWebhookSecret = !empty(freshdeskWebhookSecret)
var hasAlertsWebhookToken = !empty(alertsWebhookToken)

// ---------------------------------------------------------------------------------------------
// Identity, Key Vault and secrets
// ---------------------------------------------------------------------------------------------

// The app's identity: reads Key Vault secrets, pulls the image, and (optionally) is the bot and
// the Graph caller. User-assigned, so its Key Vault role exists before the first revision starts.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-identity'
  location: location
  tags: tags
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    publicNetworkAccess: 'Enabled'
  }
}

resource secretsUserRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, identity.id, keyVaultSecretsUser)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource databasePasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'database-password'
  properties: {
    value: postgresAdminPassword
  }
}

// DATABASE_URL carries the password, so the whole URL is a secret too.
resource databaseUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'database-url'
  properties: {
    value: 'postgresql+asyncpg://${postgresAdminLogin}:${uriComponent(postgresAdminPassword)}@${postgres.properties.fullyQualifiedDomainName}:5432/${databaseName}?ssl=require'
  }
}

resource reportLinkSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'report-link-secret'
  properties: {
    value: reportLinkSecret
  }
}

resource ackLinkSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'ack-link-secret'
  properties: {
    value: ackLinkSecret
  }
}

resource statusLinkSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'status-link-secret'
  properties: {
    value: statusLinkSecret
  }
}

resource appPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (hasAppPassword) {
  parent: keyVault
  name: 'microsoft-app-password'
  properties: {
    value: botAppPassword
  }
}

resource graphSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (hasGraphSecret) {
  parent: keyVault
  name: 'azure-client-secret'
  properties: {
    value: empty(azureClientSecret) ? microsoftAppPassword : azureClientSecret
  }
}

resource freshdeskApiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (hasFreshdeskApiKey) {
  parent: keyVault
  name: 'freshdesk-api-key'
  properties: {
    value: freshdeskApiKey
  }
}

resource freshdeskWebhookSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (hasFreshdeskWebhookSecret) {
  parent: keyVault
  name: 'freshdesk-webhook-secret'
  properties: {
    value: freshdeskWebhookSecret
  }
}

resource alertsWebhookTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (hasAlertsWebhookToken) {
  parent: keyVault
  name: 'alerts-webhook-token'
  properties: {
    value: alertsWebhookToken
  }
}

resource acsConnectionStringSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (hasAcsConnectionString) {
  parent: keyVault
  name: 'acs-connection-string'
  properties: {
    value: acsConnectionString
  }
}

resource twilioAuthTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (hasTwilioAuthToken) {
  parent: keyVault
  name: 'twilio-auth-token'
  properties: {
    value: twilioAuthToken
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL Flexible Server
// ---------------------------------------------------------------------------------------------

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: postgresServerName
  location: location
  tags: tags
  sku: {
    name: postgresSkuName
    tier: postgresSkuTier
  }
  properties: {
    version: postgresVersion
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    storage: {
      storageSizeGB: postgresStorageGB
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
    authConfig: {
      passwordAuth: 'Enabled'
      activeDirectoryAuth: 'Disabled'
    }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// 0.0.0.0–0.0.0.0 is Azure's "allow public access from Azure services", which lets the
// Consumption-plan container apps (no fixed outbound address) reach the server.
resource allowAzureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: postgres
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

// ---------------------------------------------------------------------------------------------
// Monitoring
// ---------------------------------------------------------------------------------------------

resource logs 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: '${namePrefix}-logs'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${namePrefix}-insights'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
  }
}

// ---------------------------------------------------------------------------------------------
// Container Apps
// ---------------------------------------------------------------------------------------------

resource containerEnvironment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${namePrefix}-env'
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logs.properties.customerId
        sharedKey: logs.listKeys().primarySharedKey
      }
    }
  }
}

// Built from names, not from the vault's properties, so ARM can evaluate the secrets list before
// deployment: Container Apps rejects a concat() of arrays that still holds reference() values
// (Azure/bicep#8405). For the same reason the env list below is a literal array.
var vaultSecretsUri = 'https://${keyVaultName}${environment().suffixes.keyvaultDns}/secrets'

// Container app secrets are references to Key Vault, read with the app's identity; optional ones
// exist only when their parameter was given.
var databaseUrlRef = [
  {
    name: 'database-url'
    keyVaultUrl: '${vaultSecretsUri}/database-url'
    identity: identity.id
  }
]
// Every replica signs and checks links with the same secrets, read from Key Vault.
var linkSecretsRef = [
  {
    name: 'report-link-secret'
    keyVaultUrl: '${vaultSecretsUri}/report-link-secret'
    identity: identity.id
  }
  {
    name: 'ack-link-secret'
    keyVaultUrl: '${vaultSecretsUri}/ack-link-secret'
    identity: identity.id
  }
  {
    name: 'status-link-secret'
    keyVaultUrl: '${vaultSecretsUri}/status-link-secret'
    identity: identity.id
  }
]
var appPasswordRef = hasAppPassword ? [
  {
    name: 'microsoft-app-password'
    keyVaultUrl: '${vaultSecretsUri}/microsoft-app-password'
    identity: identity.id
  }
] : []
var graphSecretRef = hasGraphSecret ? [
  {
    name: 'azure-client-secret'
    keyVaultUrl: '${vaultSecretsUri}/azure-client-secret'
    identity: identity.id
  }
] : []
var freshdeskApiKeyRef = hasFreshdeskApiKey ? [
  {
    name: 'freshdesk-api-key'
    keyVaultUrl: '${vaultSecretsUri}/freshdesk-api-key'
    identity: identity.id
  }
] : []
var freshdeskWebhookSecretRef = hasFreshdeskWebhookSecret ? [
  {
    name: 'freshdesk-webhook-secret'
    keyVaultUrl: '${vaultSecretsUri}/freshdesk-webhook-secret'
    identity: identity.id
  }
] : []
var alertsWebhookTokenRef = hasAlertsWebhookToken ? [
  {
    name: 'alerts-webhook-token'
    keyVaultUrl: '${vaultSecretsUri}/alerts-webhook-token'
    identity: identity.id
  }
] : []
var acsConnectionStringRef = hasAcsConnectionString ? [
  {
    name: 'acs-connection-string'
    keyVaultUrl: '${vaultSecretsUri}/acs-connection-string'
    identity: identity.id
  }
] : []
var twilioAuthTokenRef = hasTwilioAuthToken ? [
  {
    name: 'twilio-auth-token'
    keyVaultUrl: '${vaultSecretsUri}/twilio-auth-token'
    identity: identity.id
  }
] : []
var appSecrets = concat(databaseUrlRef, linkSecretsRef, appPasswordRef, graphSecretRef, freshdeskApiKeyRef, freshdeskWebhookSecretRef, alertsWebhookTokenRef, acsConnectionStringRef, twilioAuthTokenRef)

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: appName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    managedEnvironmentId: containerEnvironment.id
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: appPort
        transport: 'auto'
        allowInsecure: false
        traffic: [
          {
            latestRevision: true
            weight: 100
          }
        ]
      }
      registries: empty(containerRegistryServer) ? [] : [
        {
          server: containerRegistryServer
          identity: identity.id
        }
      ]
      secrets: appSecrets
    }
    template: {
      containers: [
        {
          name: 'beacon'
          image: containerImage
          resources: {
            cpu: json(containerCpu)
            memory: containerMemory
          }
          // The setting names Beacon reads (README, Configuration). An optional secret that was not
          // given is an empty value instead of a secretRef, which Beacon reads as "not configured".
          env: [
            {
              name: 'PORT'
              value: string(appPort)
            }
            {
              name: 'MicrosoftAppId'
              value: botAppId
            }
            {
              name: 'MicrosoftAppPassword'
              secretRef: hasAppPassword ? 'microsoft-app-password' : null
              value: hasAppPassword ? null : ''
            }
            {
              name: 'MicrosoftAppType'
              value: botAppType
            }
            {
              name: 'MicrosoftAppTenantId'
              value: tenant().tenantId
            }
            {
              name: 'DATABASE_URL'
              secretRef: 'database-url'
            }
            {
              name: 'BEACON_CONFIG'
              value: beaconConfig
            }
            {
              name: 'BEACON_PUBLIC_URL'
              value: 'https://${appHost}'
            }
            {
              name: 'REPORT_LINK_SECRET'
              secretRef: 'report-link-secret'
            }
            {
              name: 'ACK_LINK_SECRET'
              secretRef: 'ack-link-secret'
            }
            {
              name: 'STATUS_LINK_SECRET'
              secretRef: 'status-link-secret'
            }
            {
              name: 'GRAPH_BASE_URL'
              value: graphBaseUrl
            }
            // Graph: client credentials when there is a secret; otherwise the managed identity, which
            // Beacon picks when AZURE_CLIENT_ID comes without tenant and secret (azure-identity's rule).
            {
              name: 'AZURE_TENANT_ID'
              value: hasGraphSecret ? tenant().tenantId : ''
            }
            {
              name: 'AZURE_CLIENT_ID'
              value: hasGraphSecret ? (empty(graphClientId) ? botAppId : graphClientId) : identity.properties.clientId
            }
            {
              name: 'AZURE_CLIENT_SECRET'
              secretRef: hasGraphSecret ? 'azure-client-secret' : null
              value: hasGraphSecret ? null : ''
            }
            {
              name: 'GRAPH_ORGANIZER_USER_ID'
              value: graphOrganizerUserId
            }
            {
              name: 'MAIL_SENDER'
              value: mailSender
            }
            {
              name: 'FRESHDESK_URL'
              value: freshdeskUrl
            }
            {
              name: 'FRESHDESK_API_KEY'
              secretRef: hasFreshdeskApiKey ? 'freshdesk-api-key' : null
              value: hasFreshdeskApiKey ? null : ''
            }
            {
              name: 'FRESHDESK_WEBHOOK_SECRET'
              secretRef: hasFreshdeskWebhookSecret ? 'freshdesk-webhook-secret' : null
              value: hasFreshdeskWebhookSecret ? null : ''
            }
            {
              name: 'ALERTS_WEBHOOK_TOKEN'
              secretRef: hasAlertsWebhookToken ? 'alerts-webhook-token' : null
              value: hasAlertsWebhookToken ? null : ''
            }
            {
              name: 'SMS_PROVIDER'
              value: smsProvider
            }
            {
              name: 'SMS_FROM'
              value: smsFrom
            }
            {
              name: 'ACS_CONNECTION_STRING'
              secretRef: hasAcsConnectionString ? 'acs-connection-string' : null
              value: hasAcsConnectionString ? null : ''
            }
            {
              name: 'TWILIO_ACCOUNT_SID'
              value: twilioAccountSid
            }
            {
              name: 'TWILIO_AUTH_TOKEN'
              secretRef: hasTwilioAuthToken ? 'twilio-auth-token' : null
              value: hasTwilioAuthToken ? null : ''
            }
            {
              name: 'TWILIO_MESSAGING_SERVICE_SID'
              value: twilioMessagingServiceSid
            }
            {
              name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
              value: appInsights.properties.ConnectionString
            }
          ]
          probes: [
            {
              // The first start applies migrations; give it up to ~2 minutes.
              type: 'Startup'
              httpGet: {
                path: '/healthz'
                port: appPort
              }
              initialDelaySeconds: 5
              periodSeconds: 10
              timeoutSeconds: 5
              failureThreshold: 10
            }
            {
              type: 'Liveness'
              httpGet: {
                path: '/healthz'
                port: appPort
              }
              periodSeconds: 15
              timeoutSeconds: 5
              failureThreshold: 3
            }
            {
              // Ready only when the database is reachable and migrated.
              type: 'Readiness'
              httpGet: {
                path: '/readyz'
                port: appPort
              }
              periodSeconds: 10
              timeoutSeconds: 5
              failureThreshold: 3
            }
          ]
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'http-requests'
            http: {
              metadata: {
                concurrentRequests: string(concurrentRequestsPerReplica)
              }
            }
          }
        ]
      }
    }
  }
  dependsOn: [
    secretsUserRole
    databaseUrlSecret
    reportLinkSecretSecret
    ackLinkSecretSecret
    statusLinkSecretSecret
    appPasswordSecret
    graphSecret
    freshdeskApiKeySecret
    freshdeskWebhookSecretSecret
    alertsWebhookTokenSecret
    acsConnectionStringSecret
    twilioAuthTokenSecret
    database
    allowAzureServices
  ]
}

// ---------------------------------------------------------------------------------------------
// Azure Bot with the Microsoft Teams channel
// ---------------------------------------------------------------------------------------------

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: botName
  location: 'global'
  tags: tags
  sku: {
    name: botSku
  }
  kind: 'azurebot'
  properties: {
    displayName: botDisplayName
    endpoint: 'https://${appHost}/api/messages'
    msaAppId: botAppId
    msaAppType: botAppType
    msaAppTenantId: tenant().tenantId
    msaAppMSIResourceId: useManagedIdentityForBot ? identity.id : null
    schemaTransformationVersion: '1.3'
  }
}

// Calling is enabled so Beacon can ring responders (Graph calls); call notifications go to /api/calls.
resource teamsChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
      enableCalling: true
      callingWebhook: 'https://${appHost}/api/calls'
      deploymentEnvironment: 'CommercialDeployment'
      acceptedTerms: true
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Outputs (no secrets)
// ---------------------------------------------------------------------------------------------

@description('Messaging endpoint of the Azure Bot.')
output botEndpoint string = bot.properties.endpoint

@description('The container app\'s own host name (point a custom domain\'s CNAME here).')
output appFqdn string = app.properties.configuration.ingress.fqdn

@description('BEACON_PUBLIC_URL; also what python -m infra.teams.package needs as BOT_HOST / BEACON_PUBLIC_URL.')
output publicUrl string = 'https://${appHost}'

@description('MicrosoftAppId of the bot, for python -m infra.teams.package.')
output microsoftAppId string = botAppId

@description('Client id of the app\'s managed identity (grant it Graph permissions when no client secret is used).')
output managedIdentityClientId string = identity.properties.clientId

@description('Key Vault holding Beacon\'s secrets.')
output keyVaultName string = keyVault.name

@description('PostgreSQL server host name.')
output postgresHost string = postgres.properties.fullyQualifiedDomainName
