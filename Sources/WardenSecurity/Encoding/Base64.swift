/// Strict decoders for the text forms inside tokens, written for the connect path (no Foundation).
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        // total: widens bytes; the alphabet has 64 entries.
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// Standard base64 with `=` padding (RFC 4648 §4); nil for anything else, including non-zero pad bits.
    static func decode(_ text: [UInt8]) -> [UInt8]? {
        guard !text.isEmpty, text.count % 4 == 0 else { return nil }
        let padding = text.last == UInt8(ascii: "=") ? (text[text.count - 2] == UInt8(ascii: "=") ? 2 : 1) : 0
        var output: [UInt8] = []
        output.reserveCapacity(text.count / 4 * 3)
        var index = 0
        while index < text.count {
            let isLast = index + 4 == text.count
            var quad: UInt32 = 0
            for offset in 0..<4 {
                let byte = text[index + offset]
                let value: UInt8
                if isLast, offset >= 4 - padding {
                    guard byte == UInt8(ascii: "=") else { return nil }
                    value = 0
                } else {
                    // total: widens bytes; the alphabet has 64 entries.
                    value = values[Int(byte)]
                    guard value != 0xFF else { return nil }
                }
                // total: widens bytes; the alphabet has 64 entries.
                quad = quad << 6 | UInt32(value)
            }
            let kept = isLast ? 3 - padding : 3
            // Canonical form only: the bits under the padding must be zero.
            guard quad & (UInt32(1) << (8 * (3 - kept)) - 1) == 0 else { return nil }
            for shift in [16, 8, 0].prefix(kept) {
                output.append(UInt8(truncatingIfNeeded: quad >> shift))
            }
            index += 4
        }
        return output
    }
}
