import Testing
import WardenCore
import WardenMQTT
import WardenPolicy

/// The engine: explicit deny wins, then allow, nothing applying is deny; every decision names its statement.
struct PolicyEngineTests {
    let document: PolicyDocument
    let engine: PolicyEngine

    init() throws {
        document = try PolicyDocument(
            json: Array(
                #"""
                {
                  "statements": [
                    {"id": "floor-share", "effect": "allow", "principals": {"attributes": {"role": "sensor"}},
                     "actions": ["publish", "subscribe", "receive"], "resources": ["floors/${device.attr.floor}/#"]},
                    {"id": "crew", "effect": "allow", "principals": {"groups": ["crew"]},
                     "actions": ["publish"], "resources": ["crews/${device.group}/#"]},
                    {"id": "lost-units", "effect": "deny", "principals": {"devices": ["unit-17", "unit-2*"]},
                     "actions": ["publish"]},
                    {"id": "lab-only", "effect": "allow", "principals": {"devices": ["lab-*"]},
                     "actions": ["publish"], "resources": ["lab/#"],
                     "conditions": {"source-addresses": ["10.0.0.0/8"], "protocols": ["mqtt"]}},
                    {"id": "no-secrets", "effect": "deny", "principals": {"attributes": {"role": "sensor"}},
                     "actions": ["publish"], "resources": ["floors/${device.attr.floor}/secret"]}
                  ]
                }
                """#.utf8))
        engine = PolicyEngine(document)
    }

    private func device(
        _ id: String, groups: [String] = [], attributes: [String: String] = [:]
    ) throws -> PolicyRequestor {
        PolicyRequestor(
            tenantID: .defaultTenant,
            kind: .device(
                .init(id: try DeviceID(id), groups: Set(try groups.map(GroupName.init)), attributes: attributes)))
    }

    private func publish(_ requestor: PolicyRequestor, _ topic: String, from address: String? = nil) throws
        -> PolicyDecision
    {
        let context = PolicyContext(peerAddress: try address.map { try #require(IPAddress($0)) })
        return engine.decide(requestor, .publish, .topic(topic), in: context)
    }

    @Test func attributesAndGroupsBindTheirValues() throws {
        let sensor = try device("s-1", attributes: ["role": "sensor", "floor": "3"])
        #expect(try publish(sensor, "floors/3/temp").statementID == "floor-share")
        #expect(try !publish(sensor, "floors/4/temp").isAllowed)
        let crew = try device("c-1", groups: ["crew", "night"])
        #expect(try publish(crew, "crews/night/x").isAllowed && publish(crew, "crews/day/x").isAllowed == false)
        // A device without the attribute gets nothing from the statement that needs it.
        #expect(try !publish(device("s-2", attributes: ["role": "sensor"]), "floors//temp").isAllowed)
    }

    @Test func denyWinsAndSaysWhich() throws {
        let sensor = try device("s-1", attributes: ["role": "sensor", "floor": "3"])
        let secret = try publish(sensor, "floors/3/secret")
        #expect(!secret.isAllowed && secret.statementID == "no-secrets")
        let lost = try publish(device("unit-23"), "devices/unit-23/messages/events/")
        #expect(!lost.isAllowed && lost.statementID == "lost-units")
        #expect(
            try publish(device("unit-3"), "devices/unit-3/messages/events/").statementID
                == "default.device-namespace")
    }

    /// A deny whose resource needs a value the device lacks applies: missing context fails closed.
    @Test func aDenyMissingItsValueApplies() throws {
        let unplaced = try device("s-9", attributes: ["role": "sensor"])
        #expect(try publish(unplaced, "devices/s-9/messages/events/").statementID == "no-secrets")
    }

    @Test func conditionsMustHoldAndAreExplained() throws {
        let lab = try device("lab-1")
        #expect(try publish(lab, "lab/x", from: "10.1.2.3").statementID == "lab-only")
        let outside = try publish(lab, "lab/x", from: "192.0.2.1")
        #expect(!outside.isAllowed && outside.statementID == nil)
        #expect(outside.reasons.first == "no statement allows publish on 'lab/x'")
        #expect(outside.reasons.contains { $0.contains("'lab-only'") && $0.contains("192.0.2.1") })
        #expect(try !publish(lab, "lab/x").isAllowed)
    }

    @Test(arguments: [
        ("*", "anything", true), ("unit-2*", "unit-23", true), ("unit-2*", "unit-2", true),
        ("unit-2*", "unit-3", false),
        ("*-7", "unit-7", true), ("*-7", "unit-77", false), ("a*b*c", "aXbYc", true), ("a*b*c", "aXcYb", false),
        ("a*a", "a", false), ("a*a", "aa", true), ("**", "x", true), ("exact", "exact", true),
        ("exact", "exactly", false),
        ("u*n*t", "unnnnt", true),
    ])
    func devicePatterns(_ pattern: String, _ id: String, _ matches: Bool) throws {
        let statement = PolicyStatement(
            id: "p", effect: .allow, principals: PolicyPrincipals(devices: [pattern]), actions: [.publish],
            resources: [try TopicTemplate("x")])
        let decision = PolicyEngine(PolicyDocument(includeDefault: false, statements: [statement])).decide(
            try device(id), .publish, .topic("x"), in: PolicyContext())
        #expect(decision.isAllowed == matches)
    }

    /// A denial lists a bounded number of unmet conditions, however many statements failed theirs.
    @Test func aDenialsReasonsAreBounded() throws {
        let labs = (0..<50).map { index in
            PolicyStatement(
                id: "lab-\(index)", effect: .allow, principals: PolicyPrincipals(devices: ["*"]), actions: [.publish],
                conditions: PolicyConditions(protocols: ["https"]))
        }
        let decision = PolicyEngine(PolicyDocument(includeDefault: false, statements: labs)).decide(
            try device("d"), .publish, .topic("x"), in: PolicyContext())
        #expect(!decision.isAllowed && decision.reasons.count == 11)
    }

    @Test func withoutTheDefaultOnlyTheDocumentSpeaks() throws {
        var bare = document
        bare.includeDefault = false
        let decision = PolicyEngine(bare).decide(
            try device("d"), .publish, .topic("devices/d/messages/events/"), in: PolicyContext())
        #expect(!decision.isAllowed && decision.statementID == nil)
    }
}

/// Documents from outside: every refusal names the field.
struct PolicyDocumentTests {
    private func refusal(_ json: String) -> String? {
        do {
            _ = try PolicyDocument(json: Array(json.utf8))
            return nil
        } catch {
            #expect(error.code == .policyInvalidDocument)
            return error.reason
        }
    }

    @Test(arguments: [
        (
            #"{"statements": [{"id": "a", "effect": "allow", "principals": {}, "actions": ["publish"]}]}"#,
            "statements[0].principals"
        ),
        (
            #"{"statements": [{"id": "a", "effect": "maybe", "principals": {"devices": ["*"]}, "actions": ["x"]}]}"#,
            "statements[0].effect"
        ),
        (
            #"{"statements": [{"id": "a", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["fly"]}]}"#,
            "statements[0].actions[0]"
        ),
        (
            #"{"statements": [{"id": "a", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["publish"], "resources": ["a/#/b"]}]}"#,
            "statements[0].resources[0]"
        ),
        (
            #"{"statements": [{"id": "a", "effect": "allow", "principals": {"groups": ["no spaces"]}, "actions": ["publish"]}]}"#,
            "statements[0].principals.groups[0]"
        ),
        (
            #"{"statements": [{"id": "a", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["publish"], "conditions": {"source-addresses": ["10.0.0.1/99"]}}]}"#,
            "statements[0].conditions.source-addresses[0]"
        ),
        (
            #"{"statements": [{"id": "a", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["publish"], "conditions": {"weather": {}}}]}"#,
            "statements[0].conditions"
        ),
        (#"{"statments": []}"#, "document"),
        (#"{"tolerance": "lenient"}"#, "tolerance"),
        (
            #"{"statements": [{"id": "default.x", "effect": "allow", "principals": {"devices": ["*"]}, "actions": ["publish"]}]}"#,
            "statements[0].id"
        ),
        (
            #"{"statements": [{"id": "a", "effect": "deny", "principals": {"devices": ["*"]}, "actions": ["connect"]}, {"id": "a", "effect": "deny", "principals": {"devices": ["*"]}, "actions": ["connect"]}]}"#,
            "statements[1].id"
        ),
        (#"[1, 2]"#, "document"),
    ])
    func refusalsNameTheField(_ json: String, _ field: String) {
        let reason = refusal(json)
        #expect(reason?.hasPrefix(field + ":") == true, "\(reason ?? "accepted")")
    }

    @Test func hugeAndDeepDocumentsAreRefusedBeforeParsing() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(refusal(deep) != nil)
        let huge = "{\"statements\": [" + String(repeating: " ", count: PolicyDocument.maximumBytes) + "]}"
        #expect(refusal(huge)?.contains("at most") == true)
    }

    /// Every list is bounded, so that no document makes a decision look at more than it must.
    @Test func listsAndPatternsAreBounded() {
        func statement(_ body: String) -> String {
            #"{"statements": [{"id": "a", "effect": "allow", "actions": ["publish"], "# + body + "}]}"
        }
        func list(_ count: Int, _ item: String) -> String {
            Array(repeating: item, count: count).joined(separator: ",")
        }
        let manyStatements =
            #"{"statements": ["#
            + (0...PolicyDocument.maximumStatements).map {
                #"{"id": "s\#($0)", "effect": "deny", "principals": {"devices": ["*"]}, "actions": ["connect"]}"#
            }.joined(separator: ",") + "]}"
        let cases = [
            (manyStatements, "statements: at most 10000 entries"),
            (
                statement(#""principals": {"devices": ["*"]}, "resources": [\#(list(101, #""a/#""#))]"#),
                "statements[0].resources: at most 100 entries"
            ),
            (
                statement(#""principals": {"devices": [\#(list(1001, #""d""#))]}"#),
                "statements[0].principals.devices: at most 1000 entries"
            ),
            (
                statement(#""principals": {"devices": ["\#(String(repeating: "*", count: 161))"]}"#),
                "statements[0].principals.devices[0]: 1 to 160 bytes"
            ),
            (statement(#""principals": {"services": [""]}"#), "statements[0].principals.services[0]: 1 to 160 bytes"),
            (
                statement(
                    #""principals": {"attributes": {\#((0...1000).map { #""k\#($0)": "v""# }.joined(separator: ","))}}"#
                ),
                "statements[0].principals.attributes: at most 1000 entries"
            ),
        ]
        for (json, reason) in cases {
            #expect(refusal(json) == reason)
        }
    }

    @Test func theIssuesExampleReads() throws {
        let document = try PolicyDocument(
            json: Array(
                #"""
                {"tolerance": "audit-only", "include-default": false, "statements": [
                  {"id": "floor-share", "effect": "allow", "principals": {"attributes": {"role": "sensor"}},
                   "actions": ["publish", "subscribe", "receive"], "resources": ["floors/${device.attr.floor}/#"]},
                  {"id": "lost-units", "effect": "deny", "principals": {"devices": ["unit-17", "unit-2*"]},
                   "actions": ["connect"]},
                  {"id": "backend", "effect": "allow", "principals": {"services": ["*"], "permissions": ["serviceConnect"]},
                   "actions": ["subscribe"], "resources": ["$share/+/floors/#"]}
                ]}
                """#.utf8))
        #expect(document.tolerance == .auditOnly && !document.includeDefault && document.statements.count == 3)
        #expect(document.statements[1].actions == [.connect] && document.statements[1].resources.isEmpty)
    }
}
