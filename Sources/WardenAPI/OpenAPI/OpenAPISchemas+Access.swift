import WardenCore

extension OpenAPISchemas {
    private static let roleMap: JSONValue = [
        "type": "object", "additionalProperties": ["enum": ["owner", "admin", "operator", "monitor", "auditor"]],
    ]
    private static let integer: JSONValue = ["type": "integer"]
    private static let boolean: JSONValue = ["type": "boolean"]

    /// People, service principals, keys, tokens and the audit log.
    static let access: [String: JSONValue] = [
        "SignIn": object(
            ["username": string, "password": string, "totp": string], required: ["username", "password"]),
        "SignOut": object(["refresh_token": string], required: ["refresh_token"]),
        "Token": object(
            [
                "access_token": string, "refresh_token": string, "token_type": ["enum": ["Bearer"]],
                "expires_in": integer, "must_change_password": boolean,
            ],
            required: ["access_token", "token_type", "expires_in"]),
        "OAuthTokenForm": [
            "type": "object",
            "description": .string(
                "application/x-www-form-urlencoded: grant_type=client_credentials (client_id and "
                    + "client_secret, or HTTP Basic) or grant_type=refresh_token with refresh_token."),
        ],
        "Principal": object(
            [
                "id": string, "name": string, "kind": ["enum": ["user", "service", "api_key"]],
                "platformAdmin": boolean, "roles": stringMap, "totpEnabled": boolean,
            ],
            required: ["id", "name", "kind", "platformAdmin", "roles"]),
        "ChangePassword": object(
            ["currentPassword": string, "newPassword": string], required: ["currentPassword", "newPassword"]),
        "TOTPEnrollment": object(["secret": string, "uri": string], required: ["secret", "uri"]),
        "TOTPCode": object(["code": string], required: ["code"]),
        "SigningKey": object(["kid": string], required: ["kid"]),
        "Ban": object(
            [
                "id": string, "kind": ["enum": ["address", "client-id", "device"]], "value": string, "reason": string,
                "createdAt": dateTime, "expiresAt": dateTime, "createdBy": string, "alertId": string,
            ],
            required: ["id", "kind", "value", "reason", "createdAt", "createdBy"]),
        "BanList": list(of: "Ban"),
        "CreateBan": object(
            [
                "kind": ["enum": ["address", "client-id", "device"]], "value": ["type": "string", "maxLength": 300],
                "reason": ["type": "string", "minLength": 1, "maxLength": 1024],
                "ttlSeconds": ["type": "integer", "minimum": 1, "maximum": 31_536_000],
            ],
            required: ["kind", "value"]),
        "Alert": object(
            [
                "id": string, "tenantId": string, "rule": string,
                "severity": ["enum": ["low", "medium", "high", "critical"]],
                "status": ["enum": ["open", "acknowledged", "resolved"]], "subject": string, "summary": string,
                "count": integer, "firstSeen": dateTime, "lastSeen": dateTime, "changedBy": string,
                "changedAt": dateTime,
            ],
            required: ["id", "rule", "severity", "status", "subject", "summary", "count", "firstSeen", "lastSeen"]),
        "AlertList": list(of: "Alert"),
        "QuarantinedDevice": object(
            [
                "deviceId": string, "level": ["enum": ["elevated", "high", "critical"]], "reason": string,
                "createdAt": dateTime, "createdBy": string, "alertId": string,
            ],
            required: ["deviceId", "level", "reason", "createdAt", "createdBy"]),
        "QuarantineList": list(of: "QuarantinedDevice"),
        "AlertWebhook": object(
            [
                "configured": boolean, "url": string, "delivered": integer, "failed": integer, "dropped": integer,
                "pending": integer, "lastDeliveredAt": dateTime, "lastError": string,
            ],
            required: ["configured", "delivered", "failed", "dropped", "pending"]),
        "Quarantine": object([
            "level": ["enum": ["elevated", "high", "critical"]],
            "reason": ["type": "string", "minLength": 1, "maxLength": 1024],
        ]),
        "AuditReport": object(
            [
                "id": string, "startedAt": dateTime, "finishedAt": dateTime,
                "checks": ["type": "array", "items": string],
                "findings": [
                    "type": "array",
                    "items": object(
                        [
                            "check": string, "severity": ["enum": ["low", "medium", "high", "critical"]],
                            "tenantId": string, "resource": string, "detail": string, "why": string, "fix": string,
                        ], required: ["check", "severity", "resource", "detail", "why", "fix"]),
                ],
                "omitted": ["type": "object", "additionalProperties": integer],
            ],
            required: ["id", "startedAt", "finishedAt", "checks", "findings", "omitted"]),
        "PostureReport": object(
            [
                "tenantId": string, "generatedAt": dateTime, "openAlerts": integer,
                "findings": ["type": "object", "additionalProperties": integer],
                "functions": [
                    "type": "array",
                    "items": object(
                        [
                            "id": ["enum": ["GV", "ID", "PR", "DE", "RS", "RC"]], "name": string,
                            "tier": ["type": "integer", "minimum": 1, "maximum": 4],
                            "target": ["type": "integer", "minimum": 1, "maximum": 4],
                            "categories": [
                                "type": "array",
                                "items": object(
                                    [
                                        "id": string, "name": string,
                                        "state": ["enum": ["met", "partial", "not-met"]], "evidence": string,
                                    ], required: ["id", "name", "state", "evidence"]),
                            ],
                        ], required: ["id", "name", "tier", "target", "categories"]),
                ],
                "activity": [
                    "type": "array",
                    "items": object(
                        [
                            "start": dateTime, "connections": integer, "authenticationFailures": integer,
                            "denials": integer, "alerts": integer,
                        ], required: ["start", "connections", "authenticationFailures", "denials", "alerts"]),
                ],
            ],
            required: ["generatedAt", "functions", "activity", "openAlerts", "findings"]),
        "InventoryEntry": object(
            [
                "deviceId": string, "status": ["enum": ["enabled", "disabled"]],
                "authentication": ["enum": ["sas", "x509-thumbprint", "x509-ca"]],
                "lastConnectedAt": dateTime, "address": string, "protocol": string, "tlsVersion": string,
                "cipherSuite": string, "clientLibrary": string, "certificateExpiresAt": dateTime,
                "quarantine": ["enum": ["elevated", "high", "critical"]],
                "flows": object(
                    [
                        "topics": ["type": "array", "items": string], "messagesPerSecond": ["type": "number"],
                        "averagePayloadBytes": ["type": "number"],
                    ], required: ["topics"]),
            ],
            required: ["deviceId", "status", "authentication", "flows"]),
        "InventoryList": list(of: "InventoryEntry"),
        "DefenderRules": [
            "type": "object",
            "description":
                "Rule sections (auth-failures, tenant-auth-failures, flapping, abnormal-disconnects, policy-denials, new-network, unusual-hours, behaviour), each an object of the settings it changes (docs/defender.md)",
            "additionalProperties": ["type": "object"],
        ],
        "DefenderRulesState": object(
            [
                "document": ["type": ["object", "null"]],
                "rules": ["type": "object", "additionalProperties": ["type": "object"]],
            ],
            required: ["document", "rules"]),
        "CreateTenantBan": object(
            [
                "deviceId": ["type": "string", "minLength": 1, "maxLength": 128],
                "reason": ["type": "string", "minLength": 1, "maxLength": 1024],
                "ttlSeconds": ["type": "integer", "minimum": 1, "maximum": 31_536_000],
            ], required: ["deviceId"]),
        "CreateBackup": object([
            "passphrase": ["type": "string", "minLength": 12, "maxLength": 1024]
        ]),
        "MasterKey": object(
            ["keyID": string, "source": ["enum": ["file", "hsm", "environment"]], "rotating": boolean],
            required: ["keyID", "source", "rotating"]),
        "MasterKeyRotation": object(
            [
                "keyID": string, "previousKeyID": string,
                "resealed": ["type": "object", "additionalProperties": integer], "startedAt": dateTime,
                "finishedAt": dateTime,
            ],
            required: ["keyID", "previousKeyID", "resealed", "startedAt", "finishedAt"]),
        "User": object(
            [
                "id": string, "username": string, "enabled": boolean, "platformAdmin": boolean, "roles": roleMap,
                "totpEnabled": boolean, "mustChangePassword": boolean, "createdAt": dateTime, "password": string,
            ],
            required: ["id", "username", "enabled", "platformAdmin", "roles", "totpEnabled", "createdAt"]),
        "UserList": list(of: "User"),
        "CreateUser": object(
            [
                "username": identifier(Username.rules),
                "password": ["type": "string", "minLength": 12, "maxLength": 1024],
                "platformAdmin": boolean, "roles": roleMap,
            ],
            required: ["username"]),
        "UpdateUser": object(["enabled": boolean], required: ["enabled"]),
        "Role": object(["role": ["enum": ["owner", "admin", "operator", "monitor", "auditor"]]], required: ["role"]),
        "RoleBinding": object(
            ["subject": string, "name": string, "kind": string, "role": string],
            required: ["subject", "name", "kind", "role"]),
        "RoleBindingList": list(of: "RoleBinding"),
        "ServicePrincipal": object(
            [
                "clientId": string, "name": string, "enabled": boolean, "roles": roleMap, "createdAt": dateTime,
                "clientSecret": string,
            ],
            required: ["clientId", "name", "enabled", "roles", "createdAt"]),
        "ServicePrincipalList": list(of: "ServicePrincipal"),
        "CreateServicePrincipal": object(["name": string, "roles": roleMap], required: ["name", "roles"]),
        "APIKey": object(
            [
                "id": string, "name": string, "tenant": string, "permissions": stringArray,
                "deviceGroup": nullableString, "expiresAt": dateTime, "revokedAt": dateTime, "lastUsedAt": dateTime,
                "createdBy": string, "createdAt": dateTime, "key": string,
            ],
            required: ["id", "name", "tenant", "permissions", "createdBy", "createdAt"]),
        "APIKeyList": list(of: "APIKey"),
        "CreateAPIKey": object(
            [
                "name": string,
                "permissions": [
                    "type": "array", "items": ["enum": .array(Permission.allCases.map { .string($0.rawValue) })],
                ],
                "deviceGroup": identifier(GroupName.rules), "expiresAt": dateTime,
            ],
            required: ["name", "permissions"]),
        "AuditRecord": object(
            [
                "sequence": integer, "at": dateTime, "tenant": nullableString, "actorKind": string, "actor": string,
                "sourceIP": string, "action": string, "target": string,
                "outcome": ["enum": ["success", "denied", "failure"]], "reason": nullableString,
                "referenceId": nullableString, "details": stringMap,
            ],
            required: ["sequence", "at", "actorKind", "actor", "sourceIP", "action", "target", "outcome", "details"]),
        "AuditRecordList": list(of: "AuditRecord"),
        "AuditVerification": object(
            [
                "intact": boolean, "checked": integer, "lastSequence": integer, "problem": string,
                "sequence": integer,
            ],
            required: ["intact", "checked", "lastSequence"]),
    ]
}
