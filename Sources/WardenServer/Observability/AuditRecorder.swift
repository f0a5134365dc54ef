import Foundation
import WardenAudit
import WardenCore

/// Turns device authentication outcomes and authorization denials on the bus into audit records, without
/// waiting (the device path only appends to the log's buffer).
struct AuditRecorder {
    let log: AuditLog

    func follow(_ bus: EventBus) {
        _ = bus.observeThisNode { event in
            switch event {
            case .authentication(let record): log.record(Self.audit(record))
            case .authorizationDenied(let denial): log.record(Self.audit(denial))
            case .registration(let registration): log.record(Self.audit(registration))
            // What the Defender does by itself; what people do through the API is recorded there.
            case .alertChanged(let alert) where alert.count == 1 && alert.status == .open:
                log.record(Self.audit(alert))
            case .defenderActed(let action):
                log.record(Self.audit(action))
            case .backupMade(let at, let withPassphrase):
                log.record(
                    AuditRecord(
                        at: at.unixMilliseconds, tenant: nil, actorKind: "server", actor: "backup", sourceIP: "",
                        action: "backup.made", target: "data directory", outcome: .success, reason: nil,
                        referenceID: nil, details: ["key": withPassphrase ? "passphrase" : "master-key"]))
            default: break
            }
        }
    }

    /// A refusal is `denied`/`not_authorized`; what an audit-only version would have refused was allowed, so it
    /// is `success`/`audit_only_denied`, with the version that would have refused.
    static func audit(_ denial: AuthorizationDenial) -> AuditRecord {
        var details = ["unmet": denial.unmetConditions.joined(separator: "; "), "protocol": denial.protocolName]
        if let version = denial.policyVersion { details["policy.version"] = "\(version)" }
        if let statement = denial.statementID { details["policy.statement"] = statement }
        return AuditRecord(
            at: denial.at.unixMilliseconds, tenant: denial.tenantID,
            actorKind: denial.principal.hasPrefix("$service/") ? "service" : "device", actor: denial.principal,
            sourceIP: denial.peerAddress.description, action: "device." + denial.action, target: denial.topic,
            outcome: denial.isEnforced ? .denied : .success,
            reason: denial.isEnforced ? "not_authorized" : "audit_only_denied", referenceID: denial.referenceID,
            details: details)
    }

    /// A DPS registration, assigned or refused (with why), under the registration id.
    static func audit(_ registration: RegistrationRecord) -> AuditRecord {
        var details = ["id_scope": registration.idScope, "protocol": "mqtt-dps"]
        details["enrollment"] = registration.enrollment
        details["device.id"] = registration.deviceID?.rawValue
        details["why"] = registration.reason
        return AuditRecord(
            at: registration.at.unixMilliseconds, tenant: registration.tenantID, actorKind: "device",
            actor: registration.registrationID, sourceIP: registration.peerAddress.description,
            action: "provisioning.register", target: registration.deviceID?.rawValue ?? registration.registrationID,
            outcome: registration.failure == nil ? .success : .denied, reason: registration.failure?.name,
            referenceID: registration.referenceID, details: details)
    }

    /// A new alert, under the rule that raised it.
    static func audit(_ alert: Alert) -> AuditRecord {
        AuditRecord(
            at: alert.firstSeen.unixMilliseconds, tenant: alert.tenantID, actorKind: "defender", actor: alert.rule,
            sourceIP: "", action: "defender.alert", target: alert.subject, outcome: .success, reason: nil,
            referenceID: nil,
            details: ["alert.id": alert.id, "severity": alert.severity.rawValue, "summary": alert.summary])
    }

    /// What the Defender did by itself (`defender.ban`, `defender.quarantine`, …), with the alert that caused it.
    static func audit(_ action: DefenderAction) -> AuditRecord {
        var details = action.details
        details["alert.id"] = action.alertID
        return AuditRecord(
            at: action.at.unixMilliseconds, tenant: action.tenantID, actorKind: "defender", actor: action.rule,
            sourceIP: "", action: "defender.\(action.kind.rawValue)", target: action.target, outcome: .success,
            reason: nil, referenceID: nil, details: details)
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
