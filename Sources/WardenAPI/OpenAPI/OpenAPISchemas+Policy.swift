import WardenCore
import WardenPolicy

/// The authorization policy's bodies (docs/policy.md).
extension OpenAPISchemas {
    private static let integer: JSONValue = ["type": "integer"]
    private static let boolean: JSONValue = ["type": "boolean"]

    private static func choices(_ values: [String]) -> JSONValue {
        ["type": "array", "items": ["enum": .array(values.map { .string($0) })]]
    }

    /// `{at-least, at-most}` of numbers.
    private static let range: JSONValue = object(["at-least": ["type": "number"], "at-most": ["type": "number"]])
    private static let numberOrDuration: JSONValue = ["type": ["number", "string"]]
    /// A value a reported property is compared with.
    private static let scalar: JSONValue = ["type": ["string", "number", "boolean"]]

    private static let principals: JSONValue = object([
        "devices": stringArray, "groups": stringArray, "attributes": stringMap,
        "authentication": choices(Device.AuthenticationType.allCases.map(\.rawValue)), "services": stringArray,
        "permissions": choices(SharedAccessPolicy.Permission.allCases.map(\.rawValue)), "anonymous": boolean,
    ])

    private static let statement: JSONValue = object(
        [
            "id": ["type": "string", "minLength": 1, "maxLength": 128], "effect": ["enum": ["allow", "deny"]],
            "principals": principals, "actions": choices(PolicyAction.allCases.map(\.rawValue)),
            "resources": stringArray,
            "conditions": object([
                "source-addresses": ["oneOf": [stringArray, object(["within": stringArray, "outside": stringArray])]],
                "protocols": choices(PolicyContext.protocolNames.sorted()),
                "time": object([
                    "within": string, "outside": string, "zone": string, "weekdays": choices(TimeWindow.weekdayNames),
                ]),
                "risk-levels": choices(RiskLevel.allCases.map(\.rawValue)),
                "tls-versions": choices(PolicyConditions.tlsVersionNames.sorted()),
                "certificate": object(["issuers": stringArray, "days-to-expiry": range]),
                "connection-age": object(["at-least": numberOrDuration, "at-most": numberOrDuration]),
                "payload-size": range, "message-rate": range,
                "reported": [
                    "type": "object",
                    "additionalProperties": [
                        "oneOf": [
                            scalar, object(["one-of": ["type": "array", "items": scalar]]),
                            object(["none-of": ["type": "array", "items": scalar]]), range,
                        ]
                    ],
                ],
            ]),
        ],
        required: ["id", "effect", "principals", "actions"])

    private static let outcome: JSONValue = object(
        [
            "decision": ["enum": ["allow", "deny"]], "statement": nullableString, "reasons": stringArray,
            "policyVersion": integer,
        ],
        required: ["decision", "statement", "reasons", "policyVersion"])

    private static let actionChoice: JSONValue = ["enum": .array(PolicyAction.allCases.map { .string($0.rawValue) })]

    private static let considered: JSONValue = [
        "type": "array",
        "items": object(
            [
                "statement": string, "effect": ["enum": ["allow", "deny"]],
                "outcome": ["enum": ["applies", "principals-exclude", "resource-outside", "conditions-unmet"]],
                "reasons": stringArray,
            ],
            required: ["statement", "effect", "outcome", "reasons"]),
    ]

    static let policy: [String: JSONValue] = [
        "PolicyDocument": object(
            [
                "tolerance": ["enum": .array(PolicyDocument.Tolerance.allCases.map { .string($0.rawValue) })],
                "include-default": boolean,
                "statements": [
                    "type": "array", "maxItems": .number(PolicyDocument.maximumStatements), "items": statement,
                ],
            ]),
        "PolicyVersion": object(
            [
                "version": integer, "author": string, "createdAt": dateTime,
                "restoredFrom": ["type": ["integer", "null"]],
                "auditOnly": boolean, "bytes": integer, "document": nullableString,
            ],
            required: ["version", "author", "createdAt", "auditOnly", "bytes"]),
        "PolicyVersionList": list(of: "PolicyVersion"),
        "PolicyInForce": object(
            [
                "version": integer, "tolerance": string, "triedVersion": ["type": ["integer", "null"]],
                "unreadable": nullableString,
                "statements": [
                    "type": "array",
                    "items": object(
                        [
                            "id": string, "effect": string, "actions": stringArray, "resources": stringArray,
                            "source": ["enum": ["default", "document"]],
                        ],
                        required: ["id", "effect", "actions", "resources", "source"]),
                ],
            ],
            required: ["version", "tolerance", "statements"]),
        "RollbackPolicy": object(["version": ["type": "integer", "minimum": 1]], required: ["version"]),
        "SimulatePolicy": object(
            [
                "device": identifier(DeviceID.rules), "service": identifier(PolicyName.rules),
                "action": actionChoice, "topic": string,
                "context": object([
                    "sourceAddress": string,
                    "protocol": ["enum": .array(PolicyContext.protocolNames.sorted().map { .string($0) })],
                    "time": string, "risk": ["enum": .array(RiskLevel.allCases.map { .string($0.rawValue) })],
                    "tlsVersion": ["enum": .array(PolicyConditions.tlsVersionNames.sorted().map { .string($0) })],
                    "payloadSize": ["type": "integer", "minimum": 0], "messageRate": ["type": "number", "minimum": 0],
                    "connectionAge": string,
                ]),
            ],
            required: ["action"]),
        "PolicySimulation": object(
            [
                "decision": ["enum": ["allow", "deny"]], "statement": nullableString, "reasons": stringArray,
                "policyVersion": integer,
                "action": actionChoice,
                "requestor": object(
                    ["groups": stringArray, "attributes": stringMap, "authentication": nullableString],
                    required: ["groups", "attributes"]),
                "tried": outcome, "considered": considered,
            ],
            required: ["decision", "statement", "reasons", "policyVersion", "action", "considered"]),
        "PolicyStory": object(
            [
                "record": ["$ref": "#/components/schemas/AuditRecord"], "policyVersion": ["type": ["integer", "null"]],
                "statement": nullableString,
                "replay": object(
                    ["decision": ["enum": ["allow", "deny"]], "statement": nullableString, "considered": considered],
                    required: ["decision", "considered"]),
                "replayUnavailable": nullableString,
            ],
            required: ["record"]),
    ]
}
