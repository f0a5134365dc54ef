import Testing
import WardenCore

/// The one permission check that the API and the portal share.
struct PrincipalTests {
    let mine = TenantID.defaultTenant

    private func other() throws -> TenantID { try TenantID("other") }

    @Test func anotherTenantIsUnknownBeforeAnythingElseIsSaid() throws {
        let monitor = Principal(kind: .user, id: "u", name: "u", roles: [mine: .monitor], mustChangePassword: true)
        #expect(monitor.refusal(of: .registryWrite, in: try other()) == .unknownTenant)
        let key = Principal(
            kind: .apiKey, id: "k", name: "k",
            keyScope: .init(tenant: mine, permissions: [.registryRead], deviceGroup: nil))
        #expect(key.refusal(of: .registryRead, in: try other()) == .unknownTenant)
        #expect(key.refusal(of: .registryRead, in: mine) == nil)
        #expect(key.refusal(of: .registryWrite, in: mine) == .notPermitted)
    }

    @Test func aGeneratedPasswordReachesOnlyTheOwnAccount() {
        let user = Principal(kind: .user, id: "u", name: "u", isPlatformAdmin: true, mustChangePassword: true)
        #expect(user.refusal(of: .registryRead, in: mine) == .passwordChangeRequired)
        #expect(user.refusal(of: .ownAccount, in: nil) == nil)
    }

    @Test func aRoleReachesWhatItHoldsInItsTenant() {
        let monitor = Principal(kind: .user, id: "u", name: "u", roles: [mine: .monitor])
        #expect(monitor.refusal(of: .registryRead, in: mine) == nil)
        #expect(monitor.refusal(of: .registryWrite, in: mine) == .notPermitted)
        #expect(monitor.refusal(of: .tenantsManage, in: nil) == .notPermitted)
    }
}
