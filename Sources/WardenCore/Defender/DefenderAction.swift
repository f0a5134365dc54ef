public import Foundation

/// What the Defender did by itself in answer to one of its alerts (issue 16), published for the audit log;
/// each is undone the usual way (`warden ban remove`, `defender release`, `device enable`), but a rotated key
/// or a revoked certificate is replaced, not restored: the device gets its new key or a new certificate.
public struct DefenderAction: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case ban, disconnect, quarantine, disable
        case rotateKey = "rotate-key"
        case revokeCertificates = "revoke-certificates"
    }

    public let kind: Kind
    /// The rule that fired, and the alert it raised or counted on.
    public let rule: String
    public let alertID: String
    public let tenantID: TenantID?
    /// `device default/meter-1`, `address 192.0.2.7/32`.
    public let target: String
    /// The ban's id, the quarantine's level.
    public let details: [String: String]
    public let at: Date

    public init(
        kind: Kind, rule: String, alertID: String, tenantID: TenantID?, target: String, details: [String: String] = [:],
        at: Date
    ) {
        self.kind = kind
        self.rule = rule
        self.alertID = alertID
        self.tenantID = tenantID
        self.target = target
        self.details = details
        self.at = at
    }
}
