import Testing
import WardenCore
import WardenPolicy

/// Documents in YAML: the issue's example reads; refusals name the line and the field; hostile YAML (deep,
/// aliases that multiply a node, tags and odd scalars) is refused within the same bounds as JSON.
struct PolicyYAMLTests {
    private func read(_ text: String) throws(WardenError) -> PolicyDocument {
        try PolicyDocument(text: Array(text.utf8))
    }

    private func refusal(_ text: String) -> String? {
        do {
            _ = try read(text)
            return nil
        } catch {
            #expect(error.code == .policyInvalidDocument)
            return error.reason
        }
    }

    @Test func theIssuesExampleReads() throws {
        let document = try read(
            """
            tolerance: balanced            # strict | balanced | audit-only
            statements:
              - id: floor-share
                effect: allow
                principals: { attributes: { role: sensor } }
                actions: [publish, subscribe, receive]
                resources: ["floors/${device.attr.floor}/#"]
              - id: contractors-daytime
                effect: deny
                principals: { groups: [contractors] }
                actions: [connect]
                conditions: { time: { outside: "08:00-18:00", zone: "Europe/Berlin" } }
              - id: lost-units
                effect: deny
                principals: { devices: ["unit-17", "unit-2*"] }
                actions: [connect]
            """)
        #expect(document.statements.map(\.id) == ["floor-share", "contractors-daytime", "lost-units"])
        #expect(document.statements[1].conditions.time?.isWithin == false)
    }

    @Test func refusalsNameTheLineAndTheField() {
        let reason = refusal(
            """
            statements:
              - id: a
                effect: allow
                principals: {devices: ["*"]}
                actions: [fly]
            """)
        #expect(reason?.hasPrefix("line 5: statements[0].actions[0]: one of") == true, "\(reason ?? "")")
        #expect(
            refusal("statements:\n  - id: a\n    effect: sometimes\n")?.hasPrefix("line 3: statements[0].effect")
                == true)
        #expect(refusal("tolerance: [") != nil)
        #expect(refusal("include-default: yes please") != nil)
        #expect(refusal("statements: 7")?.contains("statements: a list") == true)
        #expect(refusal("tolerance: strict\ntolerance: balanced") != nil)  // a key given twice
    }

    @Test func hostileYAMLStopsAtTheBounds() {
        let deep = (0..<20).reduce("x") { inner, _ in "[\(inner)]" }
        #expect(refusal("statements: \(deep)")?.contains("nested deeper") == true)
        let blockDeep = (0..<20).map { String(repeating: " ", count: $0 * 2) + "a\($0):" }.joined(separator: "\n")
        #expect(refusal(blockDeep) != nil)
        // Ten levels of ten copies of the level below: a billion leaves if expanded; the member budget stops it.
        var laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1..<10 {
            laughs +=
                "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
                + "]\n"
        }
        #expect(refusal(laughs) != nil)
        #expect(refusal("!!binary aGVsbG8=") != nil)
        #expect(refusal("? [complex, key]\n: value") != nil)
        #expect(refusal("--- {}\n--- {}") != nil)
        #expect(refusal(String(repeating: "- ", count: 2_000) + "x") != nil)
        // Numbers Yams' own constructors trap on (PolicyDocumentFuzzer's finding): refused, never a crash.
        #expect(refusal("5555555555555554:23:9") != nil)
        #expect(refusal("tolerance: 5555555555555554:23:9")?.contains("tolerance") == true)
        #expect(refusal("include-default: 0x7fffffffffffffffffff") != nil)
        #expect(refusal("statements: [{id: 1e999999, effect: allow}]") != nil)
    }

    @Test func anEmptyYAMLDocumentIsTheEmptyPolicy() throws {
        #expect(try read("# nothing but a comment\n").statements.isEmpty)
    }
}
