import Testing
import WardenCore
import WardenPolicy

/// Whether a tenant's decisions stand while its facts do, so that a connection may keep its PUBLISH allows:
/// only while nothing a statement reads moves from one PUBLISH, or one moment, to the next, and no audit-only
/// version counts each request.
struct StandingDecisionTests {
    /// Whether decisions stand under one allow statement with `conditions`, tried beside nothing or, under
    /// `audit-only`, as a trial.
    private func stand(_ conditions: String?, tolerance: String = "balanced") throws -> Bool {
        let written = conditions.map { #", "conditions": \#($0)"# } ?? ""
        let document = try PolicyDocument(
            json: Array(
                """
                {"tolerance": "\(tolerance)", "statements": [
                  {"id": "s", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["publish"],
                   "resources": ["t/#"]\(written)}]}
                """.utf8))
        return PolicyAuthorizer(FixedPolicyFacts(document)).decisionsStand(in: .defaultTenant)
    }

    @Test func theShippedPolicyAndConditionsOnTheConnectionStand() throws {
        #expect(PolicyAuthorizer(FixedPolicyFacts()).decisionsStand(in: .defaultTenant))
        #expect(try stand(nil))
        #expect(try stand(#"{"source-addresses": ["10.0.0.0/8"], "protocols": ["mqtt"], "tls-versions": ["1.3"]}"#))
        #expect(try stand(#"{"risk-levels": ["normal"], "certificate": {"issuers": ["Fleet CA"]}}"#))
    }

    @Test(arguments: [
        #"{"time": {"within": "22:00-06:00"}}"#, #"{"connection-age": {"at-least": "1m"}}"#,
        #"{"certificate": {"days-to-expiry": {"at-least": 30}}}"#, #"{"payload-size": {"at-most": 1024}}"#,
        #"{"message-rate": {"at-most": 10}}"#, #"{"reported": {"battery": {"at-least": 20}}}"#,
    ])
    func conditionsThatMoveBetweenRequestsDoNot(conditions: String) throws {
        #expect(try !stand(conditions))
    }

    @Test func anAuditOnlyVersionBesideTheEnforcedOneDoesNot() throws {
        #expect(try !stand(nil, tolerance: "audit-only"))
    }

}
