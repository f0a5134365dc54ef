import Foundation
import Testing
import WardenCore

/// The pattern the OpenAPI document publishes for each identifier accepts exactly what its validation accepts:
/// checked on edge cases and on random strings over the characters that matter.
struct IdentifierRulesTests {
    static let identifiers: [(name: String, rules: IdentifierRules, validates: @Sendable (String) -> Bool)] = [
        ("device id", DeviceID.rules, { (try? DeviceID($0)) != nil }),
        ("tenant id", TenantID.rules, { (try? TenantID($0)) != nil }),
        ("group name", GroupName.rules, { (try? GroupName($0)) != nil }),
        ("policy name", PolicyName.rules, { (try? PolicyName($0)) != nil }),
        ("CA name", CAName.rules, { (try? CAName($0)) != nil }),
        ("username", Username.rules, { (try? Username($0)) != nil }),
    ]

    /// Letters, digits, every ASCII mark, a space, a control character and a non-ASCII letter.
    static let alphabet = Array("aZ09-.+%_#*?!(),=@$'/\\[]^{}|&;:\"<>`~ \u{1}é")

    @Test func patternsAgreeWithValidation() throws {
        var generator = SystemRandomNumberGenerator()
        for identifier in Self.identifiers {
            let pattern = try NSRegularExpression(pattern: identifier.rules.pattern)
            let edges = [
                "", "a", "-a", "a-", "a-b", String(repeating: "a", count: identifier.rules.maximumLength),
                String(repeating: "a", count: identifier.rules.maximumLength + 1),
            ]
            let random = (0..<2000).map { _ in
                String(
                    (0..<Int.random(in: 1...6, using: &generator)).map { _ in
                        Self.alphabet.randomElement(using: &generator) ?? "a"
                    })
            }
            for candidate in edges + random {
                let range = NSRange(candidate.startIndex..., in: candidate)
                let matches = pattern.firstMatch(in: candidate, range: range) != nil
                #expect(
                    matches == identifier.validates(candidate),
                    "\(identifier.name) '\(candidate)': pattern \(matches), validation \(!matches)")
            }
        }
    }
}
