import Foundation
import WardenAudit
import WardenCore

/// Turns device authentication outcomes and authorization denials on the bus into audit records, without
/// waiting (the device path only appends to the log's buffer).
struct AuditRecorder {
    let log: AuditLog

    func follow(_ bus: EventBus) {
        _ = bus.observe { event in
            switch event {
            case .authentication(let record): log.record(Self.audit(record))
            case .authorizationDenied(let denial): log.record(Self.audit(denial))
            default: break
            }
        }
    }

    static func audit(_ denial: AuthorizationDenial) -> AuditRecord {
        AuditRecord(
            at: denial.at.unixMilliseconds, tenant: denial.tenantID,
            actorKind: denial.principal.hasPrefix("$service/") ? "service" : "device", actor: denial.principal,
            sourceIP: denial.peerAddress.description, action: "device." + denial.action, target: denial.topic,
            outcome: .denied, reason: "not_authorized", referenceID: denial.referenceID,
            details: ["unmet": denial.unmetConditions.joined(separator: "; ")])
    }

    static func audit(_ record: AuthenticationRecord) -> AuditRecord {
        var details = ["protocol": record.protocolName, "method": record.method.rawValue]
        if let thumbprint = record.certificateThumbprint { details["certificate.thumbprint"] = thumbprint.rawValue }
        return AuditRecord(
            at: record.at.unixMilliseconds, tenant: record.tenantID,
            actorKind: record.principal.hasPrefix("$service/") ? "service" : "device", actor: record.principal,
            sourceIP: record.peerAddress.description,
            action: "device.authenticate", target: record.principal,
            outcome: record.isAccepted ? .success : .denied, reason: record.failure?.name,
            referenceID: record.referenceID, details: details)
    }
}
