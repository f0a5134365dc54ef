import Testing

@testable import WardenCore

struct IPFilterTests {
    private func rule(_ name: String, _ action: IPFilter.Action, _ cidr: String) throws -> IPFilter.Rule {
        IPFilter.Rule(name: name, action: action, cidr: try CIDR(cidr))
    }

    @Test func firstMatchWins() throws {
        let filter = try IPFilter(
            defaultAction: .reject,
            rules: [rule("one-host", .reject, "10.1.2.3"), rule("office", .accept, "10.0.0.0/8")], etag: "e")
        #expect(filter.evaluate(try #require(IPAddress("10.1.2.3"))) == .init(action: .reject, ruleName: "one-host"))
        #expect(filter.evaluate(try #require(IPAddress("10.9.9.9"))) == .init(action: .accept, ruleName: "office"))
        #expect(filter.evaluate(try #require(IPAddress("192.0.2.1"))) == .init(action: .reject, ruleName: nil))
    }

    @Test func orderMatters() throws {
        let reversed = try IPFilter(
            defaultAction: .reject,
            rules: [rule("office", .accept, "10.0.0.0/8"), rule("one-host", .reject, "10.1.2.3")], etag: "e")
        #expect(reversed.evaluate(try #require(IPAddress("10.1.2.3"))).action == .accept)
    }

    @Test func limitsRuleCount() throws {
        let rules = try (0...IPFilter.maximumRules).map { try rule("r\($0)", .accept, "10.0.0.\($0 % 256)") }
        #expect(throws: WardenError(.ipFilterTooManyRules, "")) {
            try IPFilter(defaultAction: .accept, rules: rules, etag: "e")
        }
    }

    @Test func requiresRuleNames() throws {
        #expect(throws: WardenError(.ipFilterInvalidRule, "")) {
            try IPFilter(defaultAction: .accept, rules: [rule("", .accept, "10.0.0.0/8")], etag: "e")
        }
    }
}
