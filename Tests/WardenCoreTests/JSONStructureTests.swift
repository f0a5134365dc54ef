import Testing
import WardenCore

/// Depth and member counts are measured on the bytes, exactly for valid JSON, before any parser runs.
struct JSONStructureTests {
    private let limits = JSONLimits(maximumDepth: 3, maximumMembers: 5)

    private func code(_ text: String) -> String? {
        do {
            try JSONStructure.check(Array(text.utf8), limits)
            return nil
        } catch {
            return error.code.name
        }
    }

    @Test(arguments: [
        "{}", "[]", "1", "\"[[[[[[\"", #"{"a": [1, [2]]}"#, #"{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}"#,
        "[1, 2, 3, 4, 5]", #"["{[,:", "\"[[[["]"#, "[[], [], []]",
    ])
    func documentsWithinTheLimitsPass(_ text: String) {
        #expect(code(text) == nil)
    }

    @Test(arguments: [
        "[[[[]]]]", #"{"a": {"b": {"c": {}}}}"#, #"[{"a": [[]]}]"#,
        #"{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}"#, "[1, 2, 3, 4, 5, 6]", "[[1, 2], [3, 4], [5, 6]]",
        String(repeating: "[", count: 100_000),
    ])
    func deeperOrLargerDocumentsAreRefused(_ text: String) {
        #expect(code(text) == "json.too_complex")
    }

    @Test func stringsHideBracketsAndEscapedQuotes() {
        #expect(code(#"["\"]]]]]]\\", "[[[[[["]"#) == nil)
        #expect(code(#"["\\"]"# + "]]]") == nil)  // closing brackets never fail the scan
        #expect(code(#"["\\", [[[]]]]"#) == "json.too_complex")
    }

    @Test func twinLimitsAllowTenLevelsOfProperties() throws {
        let ten = String(repeating: #"{"a":"#, count: 11) + "1" + String(repeating: "}", count: 11)
        try JSONStructure.check(Array(ten.utf8), .twinPatch)
        let eleven = String(repeating: #"{"a":"#, count: 12) + "1" + String(repeating: "}", count: 12)
        #expect(throws: WardenError(.jsonTooComplex, "")) { try JSONStructure.check(Array(eleven.utf8), .twinPatch) }
    }

    @Test func parsingChecksTheStructureFirst() throws {
        #expect(
            try JSONValue.parse(Array(#"{"a": [1, 2.5, null]}"#.utf8), limits: limits)
                == ["a": [1, .double(2.5), .null]])
        #expect(throws: WardenError(.jsonTooComplex, "")) {
            try JSONValue.parse(Array("[[[[1]]]]".utf8), limits: limits)
        }
        #expect(throws: WardenError(.requestMalformedJSON, "")) {
            try JSONValue.parse(Array("{".utf8), limits: limits)
        }
    }
}
