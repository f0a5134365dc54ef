import WardenCore

/// JSON Schemas of the API's bodies, named as the routes reference them.
enum OpenAPISchemas {
    static func object(_ properties: [String: JSONValue], required: [String] = []) -> JSONValue {
        [
            "type": "object", "properties": .object(properties), "required": .array(required.map { .string($0) }),
            "additionalProperties": false,
        ]
    }

    static func list(of item: String) -> JSONValue {
        object(
            [
                "items": ["type": "array", "items": ["$ref": .string("#/components/schemas/\(item)")]],
                "nextCursor": ["type": ["string", "null"]],
            ],
            required: ["items"])
    }

    static let string: JSONValue = ["type": "string"]

    /// A string that follows an identifier's rules (the same value validates it on the server).
    static func identifier(_ rules: IdentifierRules) -> JSONValue {
        [
            "type": "string", "minLength": 1, "maxLength": .number(rules.maximumLength),
            "pattern": .string(rules.pattern),
        ]
    }

    /// Path parameters that name a registered identifier; the others are plain strings (ids the server issued,
    /// lock tokens, method names).
    static let pathParameters: [String: JSONValue] = [
        "tenant": identifier(TenantID.rules), "device": identifier(DeviceID.rules),
        "group": identifier(GroupName.rules), "policy": identifier(PolicyName.rules), "ca": identifier(CAName.rules),
        "user": identifier(Username.rules), "registration": identifier(DeviceID.rules),
    ]
    static let nullableString: JSONValue = ["type": ["string", "null"]]
    static let dateTime: JSONValue = ["type": "string", "format": "date-time"]
    static let stringMap: JSONValue = ["type": "object", "additionalProperties": ["type": "string"]]
    static let stringArray: JSONValue = ["type": "array", "items": ["type": "string"]]
    private static let keys: JSONValue = object(
        ["primaryKey": string, "secondaryKey": string], required: ["primaryKey", "secondaryKey"])
    private static let entries: JSONValue = object(["devices": stringArray, "groups": stringArray])

    /// Every schema: the registry's and the hub's here, people's, the audit log's and the policy's beside them.
    static var all: [String: JSONValue] {
        registryAndHub.merging(access) { first, _ in first }.merging(policy) { first, _ in first }
            .merging(pki) { first, _ in first }
    }

    static let registryAndHub: [String: JSONValue] = [
        "Problem": object(
            [
                "type": string, "title": string, "status": ["type": "integer"], "detail": string, "code": string,
                "referenceId": string,
            ],
            required: ["type", "title", "status", "detail", "code", "referenceId"]),
        "Health": object(["status": string], required: ["status"]),
        "Metrics": string,
        "Tenant": object(
            ["tenantId": string, "hostName": string, "createdAt": dateTime],
            required: ["tenantId", "hostName", "createdAt"]),
        "TenantList": list(of: "Tenant"),
        "CreateTenant": object(
            ["tenantId": identifier(TenantID.rules), "hostName": ["type": "string", "maxLength": 253]],
            required: ["tenantId"]),
        "Device": object(
            [
                "tenantId": string, "deviceId": string, "generationId": string, "etag": string,
                "status": ["enum": ["enabled", "disabled"]], "statusReason": nullableString,
                "statusUpdatedAt": dateTime,
                "authentication": object(
                    [
                        "type": ["enum": ["sas", "x509-thumbprint", "x509-ca"]], "primaryThumbprint": nullableString,
                        "secondaryThumbprint": nullableString, "symmetricKey": keys,
                    ],
                    required: ["type"]),
                "attributes": stringMap, "createdAt": dateTime, "updatedAt": dateTime,
                "connectionState": ["enum": ["connected", "disconnected"]], "lastActivityAt": dateTime,
            ],
            required: ["tenantId", "deviceId", "generationId", "etag", "status", "authentication", "attributes"]),
        "DeviceList": list(of: "Device"),
        "CreateDevice": object(
            [
                "deviceId": identifier(DeviceID.rules),
                "authentication": ["enum": ["sas", "x509-thumbprint", "x509-ca"]],
                "primaryThumbprint": string, "secondaryThumbprint": string,
                "status": ["enum": ["enabled", "disabled"]],
                "statusReason": ["type": "string", "maxLength": 128], "attributes": stringMap,
            ],
            required: ["deviceId"]),
        "UpdateDevice": object(
            [
                "status": ["enum": ["enabled", "disabled"]], "statusReason": nullableString, "attributes": stringMap,
                "primaryThumbprint": string, "secondaryThumbprint": nullableString,
            ]),
        "RotateKey": object(["key": ["enum": ["primary", "secondary", "swap"]]], required: ["key"]),
        "IssueToken": object(
            ["ttlSeconds": ["type": "integer", "minimum": 1, "maximum": 31_536_000]], required: ["ttlSeconds"]),
        "Token": object(["token": string, "expiresAt": dateTime], required: ["token", "expiresAt"]),
        "ConnectionString": object(["connectionString": string], required: ["connectionString"]),
        "Group": object(
            ["name": string, "description": string, "members": stringArray, "createdAt": dateTime],
            required: ["name", "members"]),
        "GroupList": list(of: "Group"),
        "CreateGroup": object(
            [
                "name": identifier(GroupName.rules), "description": string,
                "members": ["type": "array", "items": identifier(DeviceID.rules)],
            ],
            required: ["name"]),
        "AccessList": object(
            ["allow": entries, "block": entries, "etag": string], required: ["allow", "block", "etag"]),
        "ReplaceAccessList": object(["allow": entries, "block": entries]),
        "IPFilter": object(
            [
                "defaultAction": ["enum": ["accept", "reject"]], "rules": ["type": "array", "items": ipRule],
                "etag": string,
            ],
            required: ["defaultAction", "rules", "etag"]),
        "ReplaceIPFilter": object(
            [
                "defaultAction": ["enum": ["accept", "reject"]],
                "rules": ["type": "array", "maxItems": 100, "items": ipRule],
            ],
            required: ["defaultAction", "rules"]),
        "Policy": object(
            ["name": string, "permissions": stringArray, "keys": keys], required: ["name", "permissions"]),
        "PolicyList": list(of: "Policy"),
        "CreatePolicy": object(
            [
                "name": identifier(PolicyName.rules),
                "permissions": [
                    "type": "array",
                    "items": ["enum": ["deviceConnect", "serviceConnect", "registryRead", "registryReadWrite"]],
                ],
            ],
            required: ["name", "permissions"]),
        "CertificateAuthority": object(
            [
                "name": string, "subject": string, "thumbprint": string,
                "notValidAfter": ["type": "string", "format": "date-time"], "verified": ["type": "boolean"],
                "issuing": ["type": "boolean"], "verificationCode": nullableString, "certificate": string,
                "revocation": revocationCheck,
            ],
            required: [
                "name", "subject", "thumbprint", "notValidAfter", "verified", "issuing", "revocation", "certificate",
            ]),
        "CertificateAuthorityList": list(of: "CertificateAuthority"),
        "CreateCertificateAuthority": object(
            [
                "name": identifier(CAName.rules), "certificate": string,
                "issuing": object([
                    "commonName": ["type": "string", "minLength": 1, "maxLength": 64],
                    "days": ["type": "integer", "minimum": 1, "maximum": 36_500],
                ]),
            ],
            required: ["name"]),
        "VerifyCertificateAuthority": object(["certificate": string], required: ["certificate"]),
        "Telemetry": object(
            [
                "sequenceNumber": ["type": "integer"], "enqueuedTime": ["type": "string", "format": "date-time"],
                "deviceId": string, "authMethod": ["enum": ["sas", "x509-thumbprint", "x509-ca"]],
                "systemProperties": ["type": "object", "additionalProperties": string],
                "properties": ["type": "object", "additionalProperties": nullableString],
                "body": string, "bodyEncoding": ["enum": ["utf-8", "base64"]],
            ],
            required: [
                "sequenceNumber", "enqueuedTime", "deviceId", "authMethod", "systemProperties", "properties", "body",
                "bodyEncoding",
            ]),
        "TelemetryList": list(of: "Telemetry"),
        "SendCloudToDevice": object(
            [
                "body": string, "bodyEncoding": ["enum": ["utf-8", "base64"]], "messageId": string,
                "correlationId": string, "properties": ["type": "object", "additionalProperties": string],
                "contentType": string, "contentEncoding": string,
                "ttlSeconds": ["type": "integer", "minimum": 1, "maximum": 31_536_000],
                "ack": ["enum": ["none", "positive", "negative", "full"]],
            ],
            required: ["body"]),
        "CloudToDevice": object(
            [
                "sequenceNumber": ["type": "integer"], "deviceId": string, "messageId": string,
                "correlationId": nullableString, "state": ["enum": ["enqueued", "invisible"]],
                "ack": ["enum": ["none", "positive", "negative", "full"]], "deliveryCount": ["type": "integer"],
                "enqueuedTime": ["type": "string", "format": "date-time"],
                "expiryTime": ["type": "string", "format": "date-time"],
                "properties": ["type": "object", "additionalProperties": nullableString],
                "contentType": nullableString, "contentEncoding": nullableString, "body": string,
                "bodyEncoding": ["enum": ["utf-8", "base64"]],
            ],
            required: [
                "sequenceNumber", "deviceId", "messageId", "state", "ack", "deliveryCount", "enqueuedTime",
                "expiryTime", "properties", "body", "bodyEncoding",
            ]),
        "CloudToDeviceList": list(of: "CloudToDevice"),
        "Purge": object(["purged": ["type": "integer"]], required: ["purged"]),
        "Feedback": object(
            [
                "sequenceNumber": ["type": "integer"], "originalMessageId": string, "deviceId": string,
                "statusCode": ["enum": ["Success", "Expired", "DeliveryCountExceeded", "Rejected", "Purged"]],
                "description": string, "enqueuedTimeUtc": ["type": "string", "format": "date-time"],
                "recordedTimeUtc": ["type": "string", "format": "date-time"],
            ],
            required: [
                "sequenceNumber", "originalMessageId", "deviceId", "statusCode", "description", "enqueuedTimeUtc",
                "recordedTimeUtc",
            ]),
        "FeedbackList": list(of: "Feedback"),
        "Twin": object(
            [
                "deviceId": string, "version": ["type": "integer"],
                "properties": object(
                    ["desired": ["type": "object"], "reported": ["type": "object"]], required: ["desired", "reported"]),
            ],
            required: ["deviceId", "version", "properties"]),
        "TwinPatch": ["type": "object", "description": "Desired properties to merge; null deletes a member."],
        "MethodInvocation": object(["payload": [:], "responseTimeoutInSeconds": ["type": "integer"]]),
        "MethodResult": object(["status": ["type": "integer"], "payload": [:]], required: ["status", "payload"]),
    ]

    private static let ipRule: JSONValue = object(
        ["name": string, "action": ["enum": ["accept", "reject"]], "cidr": string],
        required: ["name", "action", "cidr"])
}
