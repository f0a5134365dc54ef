import Foundation
import Hummingbird
import Testing

@testable import WardenAPI

/// `escapesNull` against the JSON parser: for documents an encoder wrote from random strings of backslashes,
/// quotes, the text `u0000` and U+0000 itself, it finds `\u0000` exactly when a decoded string holds U+0000.
struct NullEscapeTests {
    @Test func agreesWithTheParserOnRandomStrings() throws {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["\u{0}", "\\", "u0000", "0", "a", "\"", "/"]
        for _ in 0..<2_000 {
            let text = (0..<Int.random(in: 0...12, using: &generator)).map { _ in
                pieces.randomElement(using: &generator) ?? "a"
            }.joined()
            let document = try JSONSerialization.data(withJSONObject: ["k": text, "v\(text)": [text]])
            #expect(Request.escapesNull(document) == text.contains("\u{0}"), "\(text.unicodeScalars.map(\.value))")
        }
    }
}
