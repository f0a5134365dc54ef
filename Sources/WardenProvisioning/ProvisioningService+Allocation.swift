import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import WardenBroker
import WardenCore
import WardenPKI
import WardenRegistry

/// Which tenant a registration is assigned to: DPS's allocation policies over an enrollment's tenants (its
/// "linked hubs"), and its reprovision policy for a device that registered before (protocols.md §1.7).
extension ProvisioningService {
    /// Where a registration goes, and what a custom allocation webhook added.
    struct Assignment {
        let tenantID: TenantID
        /// Desired properties that replace the enrollment's initial ones (a webhook's `initialTwin`).
        var initialDesired: JSONValue?
        /// What a webhook returns for the device (`registrationState.payload`).
        var payload: JSONValue?
    }

    /// The largest answer read from an allocation webhook, and how long one may take.
    static let maximumWebhookAnswerBytes = 65_536
    static let webhookTimeout: TimeAmount = .seconds(10)

    func allocate(
        _ enrollment: Enrollment, _ identity: RegistrationIdentity, previous: Registration?, payload: JSONValue?
    ) async throws -> Assignment {
        if let previous, enrollment.reprovisioning == .never { return Assignment(tenantID: previous.tenantID) }
        let tenants = enrollment.assignableTenants
        switch enrollment.allocation {
        case .static:
            return Assignment(tenantID: tenants[0])
        case .hashed:
            return Assignment(tenantID: tenants[Self.bucket(identity.registrationID.rawValue, of: tenants.count)])
        case .custom(let webhook):
            return try await ask(webhook, enrollment, identity, previous: previous, payload: payload)
        }
    }

    /// An index below `count` from SHA-256 of the registration id: stable, and even across the tenants.
    static func bucket(_ registrationID: String, of count: Int) -> Int {
        let digest = Array(SHA256.hash(data: Data(registrationID.utf8)))
        // total: a byte widened.
        let value = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        // total: count is at least 1 (an enrollment has a tenant), and the remainder is below it.
        return Int(truncatingIfNeeded: value % UInt64(count))
    }

    /// DPS's custom allocation: an `AllocationRequest` POSTed to the webhook, whose `AllocationResponse` names
    /// one of the linked hubs by host name, and may add an initial twin and a payload for the device.
    private func ask(
        _ webhook: String, _ enrollment: Enrollment, _ identity: RegistrationIdentity, previous: Registration?,
        payload: JSONValue?
    ) async throws -> Assignment {
        var hosts: [String: TenantID] = [:]
        for tenantID in enrollment.assignableTenants {
            hosts[try await registry.tenant(tenantID).hostName.rawValue.lowercased()] = tenantID
        }
        var context: [String: JSONValue] = [
            "registrationId": .string(identity.registrationID.rawValue),
            enrollment.attestation.keys == nil ? "x509" : "symmetricKey": [:],
        ]
        if let payload { context["payload"] = payload }
        if let previous {
            context["currentIotHubHostName"] = .string(try await registry.tenant(previous.tenantID).hostName.rawValue)
            context["currentDeviceId"] = .string(previous.deviceID.rawValue)
        }
        let described: JSONValue =
            switch enrollment.kind {
            case .group(let name):
                ["enrollmentGroup": ["enrollmentGroupId": .string(name.rawValue), "allocationPolicy": "custom"]]
            case .individual(let id):
                ["individualEnrollment": ["registrationId": .string(id.rawValue), "allocationPolicy": "custom"]]
            }
        guard case .object(var request) = described else { return Assignment(tenantID: enrollment.tenantID) }
        request["deviceRuntimeContext"] = .object(context)
        request["linkedHubs"] = .array(hosts.keys.sorted().map { .string($0) })

        var call = HTTPClientRequest(url: webhook)
        call.method = .POST
        call.headers.add(name: "Content-Type", value: "application/json")
        call.body = .bytes(ByteBuffer(bytes: Self.json(.object(request))))
        let answer: JSONValue
        do {
            let response = try await OutboundHTTP.client.execute(call, timeout: Self.webhookTimeout)
            guard (200..<300).contains(response.status.code) else {
                throw WardenError(
                    .enrollmentAllocationFailed, "The allocation webhook answered HTTP \(response.status.code).")
            }
            let body = try await response.body.collect(upTo: Self.maximumWebhookAnswerBytes)
            answer = try JSONValue.parse(body.readableBytesView, limits: .requestBody)
        } catch let error as WardenError {
            throw error.code == .enrollmentAllocationFailed
                ? error : WardenError(.enrollmentAllocationFailed, "The allocation webhook's answer is not JSON.")
        } catch {
            throw WardenError(.enrollmentAllocationFailed, "The allocation webhook could not be reached or read.")
        }
        guard case .object(let fields) = answer, case .string(let host)? = fields["iotHubHostName"],
            let tenantID = hosts[host.lowercased()]
        else {
            throw WardenError(
                .enrollmentAllocationFailed, "The allocation webhook named no hub among the enrollment's tenants.")
        }
        var desired: JSONValue?
        if case .object(let twin)? = fields["initialTwin"], case .object(let properties)? = twin["properties"] {
            desired = properties["desired"]
        }
        return Assignment(tenantID: tenantID, initialDesired: desired, payload: fields["payload"])
    }
}
