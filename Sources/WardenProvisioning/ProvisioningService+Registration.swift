import Foundation
import Synchronization
import WardenAzure
import WardenBroker
import WardenCore
import WardenHub
import WardenPKI
import WardenRegistry
import WardenSecurity
import WardenStore

/// A registration: the device created (or its keys brought in line with its enrollment's), its twin started
/// from the enrollment, the outcome recorded and kept for the client's polls in DPS's shapes (protocols.md §1.4).
extension ProvisioningService {
    /// The largest register body read (DPS's `DeviceRegistration`, its custom `payload` included).
    public static let maximumBodyBytes = 16_384

    enum Outcome {
        /// `certificates`: the certificate issued for the registration's CSR and its CA's, base64 DER.
        case assigned(
            deviceID: DeviceID, hub: String, substatus: String, created: Date, updated: Date, certificates: [String]?,
            payload: JSONValue?)
        case failed(errorCode: Int, message: String, at: Date)
    }

    func register(_ identity: RegistrationIdentity, body: [UInt8], peer: IPAddress, now: Date) async -> Outcome {
        let reference = ReferenceID.make()
        var deviceID: DeviceID?
        do {
            let request = try Self.checkBody(body, registrationID: identity.registrationID)
            let enrollment = state.withLock { $0.enrollments[identity.tenantID]?[identity.enrollment] }
            guard let enrollment, enrollment.isEnabled else {
                throw WardenError(
                    .enrollmentDisabled, "Enrollment \(identity.enrollment.reference) is disabled or gone.")
            }
            // The previous assignment is followed even to a tenant the enrollment no longer names (it moves out of
            // it): only someone allowed in that tenant too could have taken it off the list.
            let previous = try await store.registration(identity.tenantID, registrationID: identity.registrationID)
            let assignment = try await allocate(enrollment, identity, previous: previous, payload: request.payload)
            let target = assignment.tenantID
            let id =
                enrollment.reprovisioning == .never
                ? previous?.deviceID ?? Self.deviceID(enrollment, identity)
                : Self.deviceID(enrollment, identity)
            deviceID = id
            // A device that sends a CSR gets a certificate from the tenant's CA and connects with it (x509-ca).
            let certificates = try await request.csr.asyncMap {
                try await issue($0, for: id, in: target, enrollment, identity)
            }
            let substatus = try await provision(
                id, in: target,
                as: request.csr == nil
                    ? Self.device(id, enrollment, identity.registrationID) : .init(id: id, authenticationType: .x509CA),
                initialDesired: assignment.initialDesired ?? enrollment.initialDesired, previous: previous,
                reprovisioning: enrollment.reprovisioning)
            let created = try await store.recordRegistration(
                identity.tenantID, registrationID: identity.registrationID, enrollment: enrollment.kind.reference,
                assignedTenant: target, deviceID: id, at: now)
            let hub = try await registry.tenant(target).hostName.rawValue
            record(identity, deviceID: id, failure: nil, peer: peer, reference: reference, now: now)
            return .assigned(
                deviceID: id, hub: hub, substatus: substatus, created: created, updated: now,
                certificates: certificates,
                payload: assignment.payload)
        } catch {
            let failure = (error as? WardenError) ?? WardenError(.internalError, "The registration failed.")
            record(identity, deviceID: deviceID, failure: failure, peer: peer, reference: reference, now: now)
            // DPS's codes: 400 for a bad request, 401 for a refused one, 500 otherwise.
            let code =
                switch failure.code.kind {
                case .invalidInput: 400_004
                case .forbidden, .unauthenticated: 401_002
                default: 500_000
                }
            // A webhook's failure is the operator's to read (the audit record has it); the device hears only that
            // allocation failed, so that the hub's answers map no internal service.
            let reason =
                failure.code == .enrollmentAllocationFailed
                ? "The registration could not be allocated." : failure.reason
            return .failed(errorCode: code, message: "\(reason) (reference \(reference))", at: now)
        }
    }

    /// The device id a registration is assigned: an individual enrollment's own, else the registration id.
    private static func deviceID(_ enrollment: Enrollment, _ identity: RegistrationIdentity) -> DeviceID {
        enrollment.deviceID ?? identity.registrationID
    }

    /// The device an enrollment provisions: SAS with the individual's keys or the group's derived ones, or X.509
    /// through the group's CA or with the individual's thumbprints.
    static func device(_ id: DeviceID, _ enrollment: Enrollment, _ registrationID: DeviceID)
        -> RegistryService.NewDevice
    {
        switch enrollment.attestation {
        case .symmetricKey(let keys):
            let isGroup = if case .group = enrollment.kind { true } else { false }
            return .init(id: id, keys: isGroup ? keys.derived(for: registrationID.rawValue) : keys)
        case .certificateAuthority:
            return .init(id: id, authenticationType: .x509CA)
        case .thumbprints(let primary, let secondary):
            return .init(
                id: id, authenticationType: .x509Thumbprint, primaryThumbprint: primary, secondaryThumbprint: secondary)
        }
    }

    /// Creates the device in `tenantID`, enabled, its twin's desired properties set from `initialDesired`; or, for
    /// a device that exists there (it registers again), keeps it, bringing a SAS device's keys in line with the
    /// enrollment's. A disabled device stays so. A device that registered before follows the reprovision policy:
    /// `migrate` takes the desired properties of the device it was along when it moves tenant, `reset` sets
    /// them back to the initial ones; a device left behind in another tenant is disabled.
    private func provision(
        _ id: DeviceID, in tenantID: TenantID, as new: RegistryService.NewDevice, initialDesired: JSONValue?,
        previous: Registration?, reprovisioning: Enrollment.Reprovisioning
    ) async throws -> String {
        let moved = previous.map { $0.tenantID != tenantID || $0.deviceID != id } ?? false
        var desired: [String: JSONValue] = [:]
        if case .object(let properties) = initialDesired { desired = properties }
        if moved, reprovisioning == .migrate, let previous {
            desired = twins.twin(previous.tenantID, previous.deviceID).desired.properties
        }
        let substatus: String
        do {
            _ = try await registry.createDevice(tenantID, new)
            if !desired.isEmpty { _ = try await twins.patchDesired(tenantID, id, desired, ifMatch: nil) }
            substatus =
                previous == nil
                ? "initialAssignment" : reprovisioning == .reset ? "deviceDataReset" : "deviceDataMigrated"
        } catch let error as WardenError where error.code == .deviceAlreadyExists {
            // Only a device this registration id made is taken over again: another device of that id (made by an
            // operator, or by another enrollment) keeps its credentials.
            guard let previous, previous.tenantID == tenantID, previous.deviceID == id else {
                throw WardenError(
                    .deviceAlreadyExists,
                    "Device '\(id)' exists in '\(tenantID)' and was not provisioned by this registration.")
            }
            let existing = try await registry.device(tenantID, id)
            guard existing.status == .enabled else {
                throw WardenError(.authForbidden, "Device '\(id)' exists and is disabled.")
            }
            if let keys = new.keys, !Self.same(existing.authentication, keys) {
                _ = try await registry.setSASKeys(tenantID, id, keys)
            }
            switch reprovisioning {
            case .never:
                substatus = "initialAssignment"
            case .reset:
                try await replaceDesired(tenantID, id, with: desired)
                substatus = "deviceDataReset"
            case .migrate:
                substatus = "deviceDataMigrated"
            }
        }
        if moved, let previous {
            do {
                _ = try await registry.updateDevice(
                    previous.tenantID, previous.deviceID,
                    .init(status: .disabled, statusReason: "reprovisioned to \(tenantID)/\(id)"), ifMatch: nil)
            } catch let error as WardenError where error.code == .deviceNotFound {
                // Deleted meanwhile: nothing is left to close.
            }
        }
        return substatus
    }

    /// Sets a twin's desired properties to exactly `desired` (members not in it are deleted).
    private func replaceDesired(_ tenantID: TenantID, _ id: DeviceID, with desired: [String: JSONValue]) async throws {
        var patch = desired
        for key in twins.twin(tenantID, id).desired.properties.keys where desired[key] == nil { patch[key] = .null }
        if !patch.isEmpty { _ = try await twins.patchDesired(tenantID, id, patch, ifMatch: nil) }
    }

    private static func same(_ authentication: Device.Authentication, _ keys: SASKeyPair) -> Bool {
        guard case .sas(let current) = authentication else { return false }
        return ConstantTime.equal(current.primary.bytes, keys.primary.bytes)
            && ConstantTime.equal(current.secondary.bytes, keys.secondary.bytes)
    }

    /// What a register body asks beyond the registration: a certificate for its CSR, a payload for a webhook.
    struct RegistrationBody {
        /// DPS's `csr`, base64 DER PKCS #10, as PEM base64 lines.
        var csr: String?
        /// DPS's custom `payload`, relayed to a custom allocation webhook.
        var payload: JSONValue?
    }

    /// The register body: empty (C#), a space (Python's poll), or a JSON object whose `registrationId`, when
    /// present, is the one the connection proved; its `csr` (DPS's base64 DER PKCS #10) and `payload`, if any.
    static func checkBody(_ body: [UInt8], registrationID: DeviceID) throws(WardenError) -> RegistrationBody {
        guard body.count <= maximumBodyBytes else {
            throw WardenError(.requestBodyTooLarge, "The registration body is over \(maximumBodyBytes) bytes.")
        }
        guard body.contains(where: { !$0.isASCIIWhitespace }) else { return RegistrationBody() }
        guard case .object(let object)? = try? JSONValue.parse(body, limits: .requestBody) else {
            throw WardenError(.requestMalformedJSON, "The registration body is not a JSON object.")
        }
        if let claimed = object["registrationId"], claimed != .null, claimed != .string(registrationID.rawValue) {
            throw WardenError(.requestInvalidField, "The body's registrationId is not the connection's.")
        }
        var request = RegistrationBody(payload: object["payload"].flatMap { $0 == .null ? nil : $0 })
        guard let csr = object["csr"], csr != .null else { return request }
        guard case .string(let text) = csr, let der = Data(base64Encoded: text), !der.isEmpty else {
            throw WardenError(.certificateInvalidRequest, "The body's csr is not base64 DER.")
        }
        request.csr = der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return request
    }

    /// Issues a certificate for `csrBase64` from the enrollment's CA when it is an issuing one, else from the
    /// tenant's one issuing CA: the certificate and the CA's, base64 DER (DPS's `issuedCertificateChain`).
    private func issue(
        _ csrBase64: String, for deviceID: DeviceID, in tenantID: TenantID, _ enrollment: Enrollment,
        _ identity: RegistrationIdentity
    ) async throws -> [String] {
        guard let certificates else {
            throw WardenError(.caNotIssuing, "This hub issues no certificates to registrations.")
        }
        let issuing = try await store.certificateAuthorities(tenantID).filter(\.isIssuing)
        let authority: CertificateAuthority
        // The enrollment's CA is its own tenant's: in another tenant, a CA of the same name is another CA.
        if case .certificateAuthority(let name) = enrollment.attestation, tenantID == enrollment.tenantID,
            let named = issuing.first(where: { $0.name == name })
        {
            authority = named
        } else if issuing.count == 1, let only = issuing.first {
            authority = only
        } else {
            throw WardenError(
                .caNotIssuing,
                "A CSR needs the enrollment's CA to be one Warden runs, or exactly one such CA in the tenant.")
        }
        let pem = "-----BEGIN CERTIFICATE REQUEST-----\n\(csrBase64)\n-----END CERTIFICATE REQUEST-----\n"
        let issued = try await certificates.issue(
            tenantID, authority: authority.name, csrPEM: pem, deviceID: deviceID, days: nil,
            by: "dps:\(identity.registrationID)")
        return try [issued.certificatePEM, authority.certificatePEM].map(Self.base64DER)
    }

    /// A PEM certificate's body: base64 DER on one line.
    private static func base64DER(_ pem: String) throws -> String {
        pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
    }

    private func record(
        _ identity: RegistrationIdentity, deviceID: DeviceID?, failure: WardenError?, peer: IPAddress,
        reference: String, now: Date
    ) {
        bus.publish(
            .registration(
                RegistrationRecord(
                    tenantID: identity.tenantID, idScope: identity.idScope,
                    registrationID: identity.registrationID.rawValue, enrollment: identity.enrollment.reference,
                    deviceID: deviceID, peerAddress: peer, failure: failure?.code, reason: failure?.reason,
                    referenceID: reference, at: now)))
    }

    /// `RegistrationOperationStatus` for a finished operation.
    static func status(_ operationID: String, _ outcome: Outcome) -> [UInt8] {
        switch outcome {
        case .assigned(let deviceID, let hub, let substatus, let created, let updated, let certificates, let payload):
            var state: [String: JSONValue] = [
                "deviceId": .string(deviceID.rawValue), "assignedHub": .string(hub), "status": "assigned",
                "substatus": .string(substatus), "createdDateTimeUtc": .string(time(created)),
                "lastUpdatedDateTimeUtc": .string(time(updated)), "etag": .string(operationID),
            ]
            if let certificates { state["issuedCertificateChain"] = .array(certificates.map { .string($0) }) }
            if let payload { state["payload"] = payload }
            return json([
                "operationId": .string(operationID), "status": "assigned", "registrationState": .object(state),
            ])
        case .failed(let code, let message, let at):
            return json([
                "operationId": .string(operationID), "status": "failed",
                "registrationState": [
                    "status": "failed", "errorCode": .number(code), "errorMessage": .string(message),
                    "lastUpdatedDateTimeUtc": .string(time(at)),
                ],
            ])
        }
    }

    /// `ProvisioningServiceErrorDetails`.
    static func error(_ code: Int, _ message: String, now: Date) -> [UInt8] {
        json(["errorCode": .number(code), "message": .string(message), "timestampUtc": .string(time(now))])
    }

    static func json(_ value: JSONValue) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(value)) ?? Data("{}".utf8))
    }

    private static func time(_ date: Date) -> String {
        UTCTimestamp.string(milliseconds: date.unixMilliseconds)
    }
}

extension UInt8 {
    fileprivate var isASCIIWhitespace: Bool { self == 0x20 || self == 0x09 || self == 0x0A || self == 0x0D }
}

extension Optional {
    /// `map` with an async transform.
    fileprivate func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
