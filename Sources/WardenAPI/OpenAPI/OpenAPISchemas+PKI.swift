import WardenCore

/// The certificates the tenants' issuing CAs sign, and what relying parties fetch (docs/pki.md).
extension OpenAPISchemas {
    private static let binary: JSONValue = ["type": "string", "format": "binary"]
    private static let days: JSONValue = ["type": "integer", "minimum": 1, "maximum": 36_500]

    static let revocationCheck: JSONValue = object(
        [
            "mode": ["enum": .array(RevocationCheck.Mode.allCases.map { .string($0.rawValue) })],
            "crlUrl": nullableString, "refreshSeconds": ["type": "integer", "minimum": 10, "maximum": 604_800],
            "ocsp": ["type": "boolean"],
        ],
        required: ["mode", "refreshSeconds", "ocsp"])

    /// Bodies that are not JSON, by schema name.
    static let mediaTypes: [String: String] = [
        "Metrics": "text/plain", "CRL": "application/pkix-crl", "OCSPRequest": "application/ocsp-request",
        "OCSPResponse": "application/ocsp-response",
    ]

    static let pki: [String: JSONValue] = [
        "IssuedCertificate": object(
            [
                "serial": string, "certificateAuthority": string, "deviceId": string, "thumbprint": string,
                "status": ["enum": .array(IssuedCertificate.Status.allCases.map { .string($0.rawValue) })],
                "notValidBefore": dateTime, "notValidAfter": dateTime, "issuedAt": dateTime, "issuedBy": string,
                "renewedFrom": nullableString,
                "revocation": [
                    "type": ["object", "null"],
                    "properties": ["at": dateTime, "reason": string],
                    "required": ["at", "reason"],
                ],
                "certificate": string,
            ],
            required: [
                "serial", "certificateAuthority", "deviceId", "thumbprint", "status", "notValidBefore",
                "notValidAfter", "issuedAt", "issuedBy", "certificate",
            ]),
        "IssuedCertificateList": list(of: "IssuedCertificate"),
        "IssueCertificate": object(
            [
                "certificateAuthority": identifier(CAName.rules), "deviceId": identifier(DeviceID.rules),
                "csr": string, "days": days,
            ],
            required: ["certificateAuthority", "deviceId", "csr"]),
        "RenewCertificate": object(["csr": string, "days": days], required: ["csr"]),
        "RevokeCertificate": object(
            ["reason": ["enum": .array(RevocationReason.allCases.map { .string($0.rawValue) })]],
            required: ["reason"]),
        "SetRevocationCheck": object(
            [
                "mode": ["enum": .array(RevocationCheck.Mode.allCases.map { .string($0.rawValue) })],
                "crlUrl": ["type": "string", "maxLength": 2_048],
                "refreshSeconds": ["type": "integer", "minimum": 10, "maximum": 604_800],
                "ocsp": ["type": "boolean"],
            ],
            required: ["mode"]),
        "RevocationListStatus": object(
            [
                "current": ["type": "boolean"], "revokedCount": ["type": "integer"], "thisUpdate": dateTime,
                "nextUpdate": dateTime, "number": string, "source": string, "updatedAt": dateTime, "fetchError": string,
            ],
            required: ["current", "revokedCount"]),
        "Provisioning": object(["idScope": string, "endpoint": string], required: ["idScope", "endpoint"]),
        "Enrollment": object(
            [
                "name": string, "registrationId": string, "deviceId": string,
                "attestation": ["enum": ["symmetric-key", "x509"]], "certificateAuthority": string,
                "thumbprints": object(["primary": string, "secondary": string], required: ["primary"]),
                "provisioningStatus": ["enum": ["enabled", "disabled"]],
                "initialTwin": object(["desired": ["type": "object"]], required: ["desired"]),
                "createdAt": dateTime, "updatedAt": dateTime,
                "symmetricKey": object(
                    ["primaryKey": string, "secondaryKey": string], required: ["primaryKey", "secondaryKey"]),
            ].merging(assignmentFields) { first, _ in first },
            required: [
                "attestation", "provisioningStatus", "createdAt", "updatedAt", "allocationPolicy", "reprovisionPolicy",
            ]),
        "EnrollmentList": list(of: "Enrollment"),
        "CreateEnrollment": object(
            [
                "name": identifier(EnrollmentGroupName.rules), "registrationId": identifier(DeviceID.rules),
                "deviceId": identifier(DeviceID.rules), "attestation": ["enum": ["symmetric-key", "x509"]],
                "certificateAuthority": identifier(CAName.rules),
                "thumbprints": object(["primary": string, "secondary": string], required: ["primary"]),
                "provisioningStatus": ["enum": ["enabled", "disabled"]],
                "initialTwin": object(["desired": ["type": "object"]], required: ["desired"]),
            ].merging(assignmentFields) { first, _ in first }),
        "UpdateEnrollment": object(
            [
                "provisioningStatus": ["enum": ["enabled", "disabled"]],
                "initialTwin": object(["desired": ["type": "object"]], required: ["desired"]),
            ].merging(assignmentFields) { first, _ in first }),
        "CRL": binary,
        "OCSPRequest": binary,
        "OCSPResponse": binary,
    ]

    /// Where an enrollment's registrations go (create, change and show alike).
    private static let assignmentFields: [String: JSONValue] = [
        "tenants": ["type": "array", "items": identifier(TenantID.rules), "maxItems": 16],
        "allocationPolicy": ["enum": ["static", "hashed", "custom"]],
        "customAllocationDefinition": object(
            ["webhookUrl": ["type": "string", "maxLength": 2048]], required: ["webhookUrl"]),
        "reprovisionPolicy": ["enum": ["migrate", "reset", "never"]],
    ]
}
