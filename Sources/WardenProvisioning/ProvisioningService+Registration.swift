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
    static let maximumBodyBytes = 16_384

    enum Outcome {
        /// `certificates`: the certificate issued for the registration's CSR and its CA's, base64 DER.
        case assigned(
            deviceID: DeviceID, hub: String, substatus: String, created: Date, updated: Date, certificates: [String]?)
        case failed(errorCode: Int, message: String, at: Date)
    }

    func register(_ identity: RegistrationIdentity, body: [UInt8], peer: IPAddress, now: Date) async -> Outcome {
        let reference = ReferenceID.make()
        var deviceID: DeviceID?
        do {
            let csr = try Self.checkBody(body, registrationID: identity.registrationID)
            let enrollment = state.withLock { $0.enrollments[identity.tenantID]?[identity.enrollment] }
            guard let enrollment, enrollment.isEnabled else {
                throw WardenError(
                    .enrollmentDisabled, "Enrollment \(identity.enrollment.reference) is disabled or gone.")
            }
            let id = enrollment.deviceID ?? identity.registrationID
            deviceID = id
            // A device that sends a CSR gets a certificate from the tenant's CA and connects with it (x509-ca).
            let certificates = try await csr.asyncMap { try await issue($0, for: id, enrollment, identity) }
            let substatus = try await provision(
                id, in: identity.tenantID,
                as: csr == nil
                    ? Self.device(id, enrollment, identity.registrationID) : .init(id: id, authenticationType: .x509CA),
                desired: enrollment.initialDesired)
            let created = try await store.recordRegistration(
                identity.tenantID, registrationID: identity.registrationID, enrollment: enrollment.kind.reference,
                deviceID: id, at: now)
            let hub = try await registry.tenant(identity.tenantID).hostName.rawValue
            record(identity, deviceID: id, failure: nil, peer: peer, reference: reference, now: now)
            return .assigned(
                deviceID: id, hub: hub, substatus: substatus, created: created, updated: now, certificates: certificates
            )
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
            return .failed(errorCode: code, message: "\(failure.reason) (reference \(reference))", at: now)
        }
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

    /// Creates the device, enabled, its twin's desired properties set from the enrollment; or, for a device that
    /// exists (it registers again), keeps it and its twin, bringing a SAS device's keys in line with the
    /// enrollment's. A disabled device stays so.
    private func provision(
        _ id: DeviceID, in tenantID: TenantID, as new: RegistryService.NewDevice, desired: JSONValue?
    )
        async throws -> String
    {
        do {
            _ = try await registry.createDevice(tenantID, new)
            if case .object(let properties) = desired, !properties.isEmpty {
                _ = try await twins.patchDesired(tenantID, id, properties, ifMatch: nil)
            }
            return "initialAssignment"
        } catch let error as WardenError where error.code == .deviceAlreadyExists {
            let existing = try await registry.device(tenantID, id)
            guard existing.status == .enabled else {
                throw WardenError(.authForbidden, "Device '\(id)' exists and is disabled.")
            }
            if let keys = new.keys, !Self.same(existing.authentication, keys) {
                _ = try await registry.setSASKeys(tenantID, id, keys)
            }
            return "deviceDataMigrated"
        }
    }

    private static func same(_ authentication: Device.Authentication, _ keys: SASKeyPair) -> Bool {
        guard case .sas(let current) = authentication else { return false }
        return ConstantTime.equal(current.primary.bytes, keys.primary.bytes)
            && ConstantTime.equal(current.secondary.bytes, keys.secondary.bytes)
    }

    /// The register body: empty (C#), a space (Python's poll), or a JSON object whose `registrationId`, when
    /// present, is the one the connection proved; its `csr` (DPS's base64 DER PKCS #10), if any.
    static func checkBody(_ body: [UInt8], registrationID: DeviceID) throws(WardenError) -> String? {
        guard body.count <= maximumBodyBytes else {
            throw WardenError(.requestBodyTooLarge, "The registration body is over \(maximumBodyBytes) bytes.")
        }
        guard body.contains(where: { !$0.isASCIIWhitespace }) else { return nil }
        guard (try? JSONStructure.check(body, .requestBody)) != nil,
            let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        else { throw WardenError(.requestMalformedJSON, "The registration body is not a JSON object.") }
        if let claimed = object["registrationId"], (claimed as? String) != registrationID.rawValue {
            throw WardenError(.requestInvalidField, "The body's registrationId is not the connection's.")
        }
        guard let csr = object["csr"], !(csr is NSNull) else { return nil }
        guard let text = csr as? String, let der = Data(base64Encoded: text), !der.isEmpty else {
            throw WardenError(.certificateInvalidRequest, "The body's csr is not base64 DER.")
        }
        return der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
    }

    /// Issues a certificate for `csrBase64` from the enrollment's CA when it is an issuing one, else from the
    /// tenant's one issuing CA: the certificate and the CA's, base64 DER (DPS's `issuedCertificateChain`).
    private func issue(
        _ csrBase64: String, for deviceID: DeviceID, _ enrollment: Enrollment, _ identity: RegistrationIdentity
    ) async throws -> [String] {
        guard let certificates else {
            throw WardenError(.caNotIssuing, "This hub issues no certificates to registrations.")
        }
        let issuing = try await store.certificateAuthorities(identity.tenantID).filter(\.isIssuing)
        let authority: CertificateAuthority
        if case .certificateAuthority(let name) = enrollment.attestation,
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
            identity.tenantID, authority: authority.name, csrPEM: pem, deviceID: deviceID, days: nil,
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
        case .assigned(let deviceID, let hub, let substatus, let created, let updated, let certificates):
            var state: [String: JSONValue] = [
                "deviceId": .string(deviceID.rawValue), "assignedHub": .string(hub), "status": "assigned",
                "substatus": .string(substatus), "createdDateTimeUtc": .string(time(created)),
                "lastUpdatedDateTimeUtc": .string(time(updated)), "etag": .string(operationID),
            ]
            if let certificates { state["issuedCertificateChain"] = .array(certificates.map { .string($0) }) }
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
