import Foundation
import WardenAudit
import WardenCore

/// Turns device authentication outcomes on the bus into audit records, without waiting (the device path
/// only appends to the log's buffer).
struct AuditRecorder {
    let log: AuditLog

    func follow(_ bus: EventBus) {
        _ = bus.observe { event in
            guard case .authentication(let record) = event else { return }
            var details = ["protocol": record.protocolName, "method": record.method.rawValue]
            if let thumbprint = record.certificateThumbprint { details["certificate.thumbprint"] = thumbprint.rawValue }
            log.record(
                AuditRecord(
                    at: Int64((record.at.timeIntervalSince1970 * 1000).rounded(.down)), tenant: record.tenantID,
                    actorKind: "device", actor: record.principal, sourceIP: record.peerAddress.description,
                    action: "device.authenticate", target: record.principal,
                    outcome: record.isAccepted ? .success : .denied, reason: record.failure?.name,
                    referenceID: record.referenceID, details: details))
        }
    }
}
