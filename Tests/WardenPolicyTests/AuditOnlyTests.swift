import Synchronization
import Testing
import WardenCore
import WardenPolicy

/// An audit-only version decides beside the enforced one: nothing is refused for it, and what it would refuse
/// is recorded once per requestor, action and resource however often it is asked.
struct AuditOnlyTests {
    @Test func whatATriedVersionWouldRefuseIsRecordedOncePerResource() throws {
        let document = try PolicyDocument(
            json: Array(
                #"""
                {"tolerance": "audit-only", "statements": [
                  {"id": "quiet", "effect": "deny", "principals": {"devices": ["*"]}, "actions": ["publish"],
                   "resources": ["devices/${device.id}/messages/events/#"]}]}
                """#.utf8))
        let bus = EventBus()
        let recorded = Mutex<[AuthorizationDenial]>([])
        bus.observe { event in
            if case .authorizationDenied(let denial) = event { recorded.withLock { $0.append(denial) } }
        }
        let authorizer = PolicyAuthorizer(FixedPolicyFacts(document), events: bus)
        let device = try DeviceID("d")
        for _ in 0..<5 {
            #expect(
                authorizer.decide(.device(device, in: .defaultTenant, .topic("devices/d/messages/events/"))).isAllowed)
        }
        #expect(
            authorizer.decide(.device(device, in: .defaultTenant, .topic("devices/d/messages/events/a=1"))).isAllowed)
        let denials = recorded.withLock { $0 }
        #expect(denials.map(\.topic) == ["devices/d/messages/events/", "devices/d/messages/events/a=1"])
        #expect(denials.allSatisfy { !$0.isEnforced && $0.statementID == "quiet" && $0.policyVersion == 1 })
    }
}
