import Foundation
import Testing
import WardenCore
import WardenPolicy
import WardenRegistry

/// The tenant's policy document: written through the registry, in force in the directory at once, decided by
/// the authorizer with the device's registry facts.
struct AuthorizationPolicyTests {
    static let floors = """
        {"statements": [
          {"id": "floor-share", "effect": "allow", "principals": {"attributes": {"role": "sensor"}},
           "actions": ["publish"], "resources": ["floors/${device.attr.floor}/#"]},
          {"id": "lost-units", "effect": "deny", "principals": {"devices": ["unit-2*"]}, "actions": ["connect"]}
        ]}
        """

    private func publish(_ device: String, _ topic: String) throws -> AuthorizationRequest {
        .device(try DeviceID(device), in: .defaultTenant, .topic(topic))
    }

    private func fixture() async throws -> RegistryFixture {
        let fixture = try await RegistryFixture()
        _ = try await fixture.registry.createDevice(
            .defaultTenant, .init(id: try DeviceID("unit-1"), attributes: ["role": "sensor", "floor": "3"]))
        _ = try await fixture.registry.createDevice(.defaultTenant, .init(id: try DeviceID("unit-20")))
        return fixture
    }

    @Test func aWrittenDocumentIsInForceAtOnce() async throws {
        let fixture = try await fixture()
        let authorizer = PolicyAuthorizer(fixture.directory)
        #expect(!authorizer.decide(try publish("unit-1", "floors/3/temp")).isAllowed)
        let written = try await fixture.registry.writeAuthorizationPolicy(
            .defaultTenant, document: Array(Self.floors.utf8), author: "user:ada")
        #expect(written.isNew && written.version.number == 1)
        #expect(authorizer.decide(try publish("unit-1", "floors/3/temp")).isAllowed)
        #expect(!authorizer.decide(try publish("unit-1", "floors/4/temp")).isAllowed)
        #expect(authorizer.explain(try publish("unit-1", "floors/3/temp")).enforced.statementID == "floor-share")
        let connect = AuthorizationRequest.connect(.device(try DeviceID("unit-20")), in: .defaultTenant)
        #expect(authorizer.explain(connect).enforced.statementID == "lost-units")
        // The shipped statements stay in force beside the document.
        #expect(authorizer.decide(try publish("unit-1", "devices/unit-1/messages/events/")).isAllowed)
    }

    @Test func writingTheSameDocumentTwiceMakesOneVersion() async throws {
        let fixture = try await fixture()
        let bytes = Array(Self.floors.utf8)
        _ = try await fixture.registry.writeAuthorizationPolicy(.defaultTenant, document: bytes, author: "user:ada")
        let again = try await fixture.registry.writeAuthorizationPolicy(
            .defaultTenant, document: bytes, author: "user:bob")
        #expect(!again.isNew && again.version.number == 1 && again.version.summary.author == "user:ada")
    }

    @Test func anInvalidDocumentChangesNothing() async throws {
        let fixture = try await fixture()
        for document in ["{\"statements\": [{\"id\": \"x\"}]}", "[", "{\"tolerance\": \"lax\"}"] {
            await #expect(throws: WardenError.self) {
                _ = try await fixture.registry.writeAuthorizationPolicy(
                    .defaultTenant, document: Array(document.utf8), author: "user:ada")
            }
        }
        #expect(try await fixture.registry.authorizationPolicyVersions(.defaultTenant).isEmpty)
        #expect(fixture.directory.authorizationPolicy(.defaultTenant).enforced.version == 0)
    }

    @Test func ifMatchGuardsAgainstLostUpdates() async throws {
        let fixture = try await fixture()
        let bytes = Array(Self.floors.utf8)
        _ = try await fixture.registry.writeAuthorizationPolicy(
            .defaultTenant, document: bytes, author: "user:ada", ifMatch: "0")
        await #expect(throws: WardenError.self) {
            _ = try await fixture.registry.writeAuthorizationPolicy(
                .defaultTenant, document: Array("{}".utf8), author: "user:bob", ifMatch: "0")
        }
        let second = try await fixture.registry.writeAuthorizationPolicy(
            .defaultTenant, document: Array("{}".utf8), author: "user:bob", ifMatch: "1")
        #expect(second.version.number == 2)
    }

    @Test func rollbackRestoresTheEarlierBehaviour() async throws {
        let fixture = try await fixture()
        let authorizer = PolicyAuthorizer(fixture.directory)
        _ = try await fixture.registry.writeAuthorizationPolicy(
            .defaultTenant, document: Array(Self.floors.utf8), author: "user:ada")
        _ = try await fixture.registry.writeAuthorizationPolicy(
            .defaultTenant, document: Array("{}".utf8), author: "user:ada")
        #expect(!authorizer.decide(try publish("unit-1", "floors/3/temp")).isAllowed)
        let restored = try await fixture.registry.rollBackAuthorizationPolicy(.defaultTenant, to: 1, author: "user:bob")
        #expect(restored.number == 3 && restored.summary.restoredFrom == 1 && restored.document == Self.floors)
        #expect(authorizer.decide(try publish("unit-1", "floors/3/temp")).isAllowed)
        await #expect(throws: WardenError.self) {
            _ = try await fixture.registry.rollBackAuthorizationPolicy(.defaultTenant, to: 9, author: "user:bob")
        }
    }

    @Test func anAuditOnlyVersionIsTriedBesideTheEnforcedOne() async throws {
        let fixture = try await fixture()
        let authorizer = PolicyAuthorizer(fixture.directory)
        _ = try await fixture.registry.writeAuthorizationPolicy(
            .defaultTenant, document: Array(Self.floors.utf8), author: "user:ada")
        let trial = Self.floors.replacingOccurrences(
            of: "{\"statements\"", with: "{\"tolerance\": \"audit-only\", \"statements\""
        )
        .replacingOccurrences(of: "\"effect\": \"allow\"", with: "\"effect\": \"deny\"")
        _ = try await fixture.registry.writeAuthorizationPolicy(
            .defaultTenant, document: Array(trial.utf8), author: "user:ada")
        let explanation = authorizer.explain(try publish("unit-1", "floors/3/temp"))
        #expect(explanation.enforced.isAllowed && explanation.policy.enforced.version == 1)
        #expect(explanation.tried?.isAllowed == false && explanation.policy.trial?.version == 2)
        // A fresh directory loads both from the store.
        let fresh = DeviceDirectory()
        try await fresh.load(
            tenants: fixture.database, devices: fixture.database, groups: fixture.database,
            admission: fixture.database, policies: fixture.database, authorities: fixture.database,
            authorizationPolicies: fixture.database)
        #expect(fresh.authorizationPolicy(.defaultTenant).enforced.version == 1)
        #expect(fresh.authorizationPolicy(.defaultTenant).trial?.version == 2)
    }

    @Test func aDeviceNotRegisteredIsDenied() async throws {
        let fixture = try await fixture()
        let decision = PolicyAuthorizer(fixture.directory).explain(try publish("ghost", "devices/ghost/x"))
        #expect(!decision.enforced.isAllowed && decision.enforced.reasons == ["device 'ghost' is not registered"])
    }
}
