public import Foundation

/// A device whose risk level the Defender (or an operator) raised, so that the policy engine confines it: the
/// shipped statements refuse its telemetry at `high` and `critical`, while its twin, methods and
/// cloud-to-device messages still work; tenants' statements may read the level too (`risk-levels`).
public struct Quarantine: Sendable, Hashable {
    public let tenantID: TenantID
    public let deviceID: DeviceID
    /// `elevated`, `high` or `critical` (the policy engine's `RiskLevel` names).
    public let level: String
    public let reason: String
    public let createdAt: Date
    public let createdBy: String
    /// The alert that caused an automatic one.
    public let alertID: String?

    /// The levels a quarantine may set (the policy engine's, above `normal`).
    public static let levels = ["elevated", "high", "critical"]

    public init(
        tenantID: TenantID, deviceID: DeviceID, level: String, reason: String, createdAt: Date, createdBy: String,
        alertID: String? = nil
    ) {
        self.tenantID = tenantID
        self.deviceID = deviceID
        self.level = level
        self.reason = reason
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.alertID = alertID
    }
}
