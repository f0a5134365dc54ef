import Foundation
import Synchronization
public import WardenCore
public import WardenSecurity
import WardenStore

extension AccessService {
    /// Creates a service principal for a backend application; returns it and its client secret (shown once).
    public func createServicePrincipal(name: String, roles: [TenantID: Role], by actor: Principal)
        async throws(WardenError) -> (ServicePrincipal, SecretBytes)
    {
        guard (1...128).contains(name.count), !roles.isEmpty else {
            throw WardenError(
                .requestInvalidField, "A service principal needs a name (1–128 characters) and a role in a tenant.")
        }
        for (tenant, role) in roles { try Self.check(actor, mayGrant: role, in: tenant) }
        let secret = BearerCredential.generate(prefix: "wsp_")
        let service = ServicePrincipal(
            id: "sp_" + Self.randomID(), name: name, secretHash: BearerCredential.hash(secret), roles: roles,
            createdAt: clock.now())
        try await writes.runCoded {
            try await self.store.createServicePrincipal(service)
            self.state.withLock { $0.services[service.id] = service }
            self.announce(.principals)
        }
        return (service, secret)
    }

    /// The service principals `actor` may see (those with a role where it manages users).
    public func servicePrincipals(visibleTo actor: Principal) -> [ServicePrincipal] {
        servicePrincipals().filter { Self.canSee($0, actor) }
    }

    /// One service principal, if `actor` may see it.
    public func servicePrincipal(id: String, visibleTo actor: Principal) throws(WardenError) -> ServicePrincipal {
        guard let service = servicePrincipal(id: id), Self.canSee(service, actor) else {
            throw WardenError(.servicePrincipalNotFound, "There is no service principal '\(id)'.")
        }
        return service
    }

    /// A new client secret; the old one stops working at once.
    public func rotateSecret(of id: String, by actor: Principal) async throws(WardenError) -> SecretBytes {
        let service = try manageableService(id, by: actor)
        let secret = BearerCredential.generate(prefix: "wsp_")
        let hash = BearerCredential.hash(secret)
        _ = try await changeService(service.id) { $0.secretHash = hash }
        return secret
    }

    /// Deletes a service principal; its access tokens stop at once.
    public func deleteServicePrincipal(_ id: String, by actor: Principal) async throws(WardenError) {
        let service = try manageableService(id, by: actor)
        try await writes.runCoded {
            try await self.store.deleteServicePrincipal(service.id)
            self.state.withLock { $0.services[service.id] = nil }
            self.announce(.principals)
        }
    }

    static func canSee(_ service: ServicePrincipal, _ actor: Principal) -> Bool {
        actor.isPlatformAdmin || service.roles.keys.contains { actor.may(.usersManage, in: $0) }
    }

    private func manageableService(_ id: String, by actor: Principal) throws(WardenError) -> ServicePrincipal {
        let service = try servicePrincipal(id: id, visibleTo: actor)
        for (tenant, role) in service.roles { try Self.check(actor, mayGrant: role, in: tenant) }
        return service
    }
}
