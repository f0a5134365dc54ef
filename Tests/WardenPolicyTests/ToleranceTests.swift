import Foundation
import Testing
import WardenCore
import WardenPolicy

/// Tolerance for context the request cannot show: `strict` fails closed (a deny that needs it applies),
/// `balanced` lets a condition that cannot be checked not hold, for allows and denies alike.
struct ToleranceTests {
    private func engine(_ tolerance: String) throws -> PolicyEngine {
        PolicyEngine(
            try PolicyDocument(
                json: Array(
                    """
                    {"tolerance": "\(tolerance)", "statements": [
                      {"id": "outside-lab", "effect": "deny", "principals": {"devices": ["*"]},
                       "actions": ["publish"], "resources": ["lab/#"],
                       "conditions": {"source-addresses": ["0.0.0.0/0", "::/0"], "protocols": ["mqtt"]}},
                      {"id": "lab", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["publish"],
                       "resources": ["lab/#"]}
                    ]}
                    """.utf8)))
    }

    let device: PolicyRequestor

    init() throws {
        device = PolicyRequestor(tenantID: .defaultTenant, kind: .device(.init(id: try DeviceID("d"))))
    }

    @Test func strictDeniesWhenTheContextIsUnknown() throws {
        let strict = try engine("strict")
        let unknown = strict.decide(device, .publish, .topic("lab/x"), in: PolicyContext())
        #expect(!unknown.isAllowed && unknown.statementID == "outside-lab")
        // A condition the context answers, and that fails, still keeps the deny from applying.
        let otherProtocol = strict.decide(device, .publish, .topic("lab/x"), in: PolicyContext(protocolName: "https"))
        #expect(otherProtocol.isAllowed && otherProtocol.statementID == "lab")
        let trace = strict.trace(device, .publish, .topic("lab/x"), in: PolicyContext())
        #expect(trace.first { $0.statementID == "outside-lab" }?.outcome == .applies)
    }

    @Test func balancedLetsAnUncheckableConditionNotHold() throws {
        let balanced = try engine("balanced")
        let unknown = balanced.decide(device, .publish, .topic("lab/x"), in: PolicyContext())
        #expect(unknown.isAllowed && unknown.statementID == "lab")
        let known = balanced.decide(
            device, .publish, .topic("lab/x"), in: PolicyContext(peerAddress: try #require(IPAddress("10.0.0.1"))))
        #expect(!known.isAllowed && known.statementID == "outside-lab")
    }
}
