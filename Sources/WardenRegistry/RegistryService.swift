import Foundation
import Logging
public import WardenCore
import WardenSecurity
public import WardenStore

/// The one write path for identities: every change is validated here, committed to the store, then published
/// on the event bus (DESIGN.md "one write path").
public struct RegistryService: Sendable {
    /// The stores the registry writes through.
    public struct Stores: Sendable {
        let tenants: any TenantStore
        let devices: any DeviceStore
        let groups: any GroupStore
        let admission: any AdmissionStore
        let policies: any PolicyStore
        let authorities: any CertificateAuthorityStore
        let authorizationPolicies: any AuthorizationPolicyStore

        /// Uses one database for every aggregate.
        public init(
            _ database: some TenantStore & DeviceStore & GroupStore & AdmissionStore & PolicyStore
                & CertificateAuthorityStore & AuthorizationPolicyStore
        ) {
            self.tenants = database
            self.devices = database
            self.groups = database
            self.admission = database
            self.policies = database
            self.authorities = database
            self.authorizationPolicies = database
        }
    }

    let stores: Stores
    let bus: EventBus
    let clock: any WardenClock
    /// The host name of the hub itself: the default tenant's, and the parent of other tenants' host names.
    public let hubHostName: HostName
    /// How many versions of a tenant's authorization policy are kept (`policy.versions-kept`); older ones are
    /// pruned as new ones are written.
    let policyVersionsKept: Int
    private let writes = SerialWrites()

    /// Makes the service.
    public init(
        stores: Stores, bus: EventBus, hubHostName: HostName, policyVersionsKept: Int = 100,
        clock: any WardenClock = SystemClock()
    ) {
        self.stores = stores
        self.bus = bus
        self.hubHostName = hubHostName
        self.policyVersionsKept = policyVersionsKept
        self.clock = clock
    }

    /// Commits `change` and publishes what it returns, one write at a time.
    func commit<T: Sendable>(_ change: @escaping @Sendable () async throws -> (T, [DomainEvent])) async throws -> T {
        try await writes.run {
            let (value, events) = try await change()
            for event in events { bus.publish(event) }
            return value
        }
    }

    /// A fresh opaque etag.
    static func makeETag() -> String {
        SecretBytes.random(count: 9).base64.replacingOccurrences(of: "/", with: "_").replacingOccurrences(
            of: "+", with: "-")
    }

    /// Throws `code` unless `ifMatch` is absent, `*`, or equals `etag`.
    static func check(_ ifMatch: String?, against etag: String, _ code: WardenError.Code, _ what: String) throws {
        guard let ifMatch, ifMatch != "*" else { return }
        guard ifMatch == etag else {
            throw WardenError(code, "The \(what) changed since you read it: If-Match does not equal the current etag.")
        }
    }
}
