import Testing
import WardenCore
import WardenPolicy

/// The engine's index looks only at statements that could include the requestor, and still decides as a walk
/// over every statement in document order would: the first applying deny, else the first applying allow.
struct PolicyIndexTests {
    private func device(_ id: String, groups: [String] = [], attributes: [String: String] = [:]) throws
        -> PolicyRequestor
    {
        PolicyRequestor(
            tenantID: .defaultTenant,
            kind: .device(
                .init(id: try DeviceID(id), groups: Set(try groups.map(GroupName.init)), attributes: attributes)))
    }

    private func statement(
        _ id: String, _ principals: PolicyPrincipals, _ effect: PolicyStatement.Effect = .allow
    ) throws -> PolicyStatement {
        PolicyStatement(
            id: id, effect: effect, principals: principals, actions: [.publish], resources: [try TopicTemplate("x/#")])
    }

    private func decide(_ statements: [PolicyStatement], _ requestor: PolicyRequestor) -> PolicyDecision {
        PolicyEngine(PolicyDocument(includeDefault: false, statements: statements)).decide(
            requestor, .publish, .topic("x/1"), in: PolicyContext())
    }

    @Test func theFirstApplyingStatementDecidesWhicheverKeyIndexedIt() throws {
        let statements = [
            try statement("by-pattern", .init(devices: ["unit-*"])),
            try statement("by-group", .init(groups: [try GroupName("crew")])),
            try statement("by-id", .init(devices: ["unit-1"])),
            try statement("by-attribute", .init(attributes: ["role": "sensor"])),
            try statement("by-method", .init(authentication: [.sas])),
        ]
        // Every statement but `by-method` applies (the device's authentication is not known here).
        let unit = try device("unit-1", groups: ["crew"], attributes: ["role": "sensor"])
        for first in statements.indices {
            let rotated = Array(statements[first...] + statements[..<first])
            let expected = rotated.first { $0.id != "by-method" }?.id
            #expect(decide(rotated, unit).statementID == expected)
        }
        // The first deny wins over every allow, wherever each is indexed.
        let denied =
            statements + [try statement("deny-group", .init(groups: [try GroupName("crew")]), .deny)]
            + [try statement("deny-id", .init(devices: ["unit-1"]), .deny)]
        #expect(decide(denied, unit).statementID == "deny-group")
    }

    @Test func patternsAreIndexedByTheirLiteralStart() throws {
        let statements = [
            try statement("lost", .init(devices: ["unit-2*", "unit-17"]), .deny),
            try statement("everyone", .init(devices: ["*"])),
            try statement("suffix", .init(devices: ["*-lab"])),
        ]
        #expect(decide(statements, try device("unit-20")).statementID == "lost")
        #expect(decide(statements, try device("unit-2")).statementID == "lost")
        #expect(decide(statements, try device("unit-17")).statementID == "lost")
        #expect(decide(statements, try device("unit-170")).statementID == "everyone")
        #expect(decide(statements, try device("unit-3")).statementID == "everyone")
        #expect(decide(statements, try device("unit")).statementID == "everyone")
        #expect(decide([statements[2]], try device("x-lab")).statementID == "suffix")
        #expect(!decide([statements[2]], try device("x-lab-2")).isAllowed)
    }

    @Test func attributeStatementsNeedEveryPair() throws {
        let statements = [try statement("both", .init(attributes: ["role": "sensor", "floor": "3"]))]
        #expect(decide(statements, try device("a", attributes: ["role": "sensor", "floor": "3"])).isAllowed)
        #expect(!decide(statements, try device("b", attributes: ["floor": "3"])).isAllowed)
        #expect(!decide(statements, try device("c", attributes: ["role": "sensor", "floor": "4"])).isAllowed)
    }
}
